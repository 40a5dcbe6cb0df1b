/**
 * Users limited to some buckets (a `buckets` table in their [[users]] entry), against the binary:
 * a reader, a write-only backup agent, a team that owns buckets by pattern, and root beside them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorCode, md5Base64, postPolicyFields, s3 } from "../support/client.ts";
import { startS3d, type TestServer } from "../support/server.ts";

let server: TestServer;
let dir: string;
const users = {
  reader: { accessKeyId: "READERKEY", secret: "reader-secret-1", buckets: `{ shared = "read" }` },
  agent: { accessKeyId: "AGENTKEY", secret: "agent-secret-1", buckets: `{ drop = "write", vault = "write" }` },
  team: { accessKeyId: "TEAMKEY", secret: "team-secret-1", buckets: `{ "team-*" = ["owner", "read", "write"], shared = "read", drop = "write" }` },
  admin: { accessKeyId: "ADMINKEY", secret: "admin-secret-1", buckets: `{ "team-*" = "owner" }` },
  outsider: { accessKeyId: "OUTSIDERKEY", secret: "outsider-secret-1", buckets: `{ elsewhere = "read" }` },
};
type Who = keyof typeof users | "root";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "s3d-grants-"));
  const toml = Object.entries(users)
    .map(([name, u]) => `[[users]]\nname = "${name}"\naccess_key = "${u.accessKeyId}"\nsecret_key = "${u.secret}"\nbuckets = ${u.buckets}\n`)
    .join("\n");
  writeFileSync(join(dir, "s3d.toml"), toml);
  server = await startS3d({ args: ["--config", join(dir, "s3d.toml")] });
  for (const bucket of ["shared", "drop", "private"]) expect((await as("root", "PUT", `/${bucket}`)).status).toBe(200);
  expect((await as("root", "PUT", "/shared/a.txt", { body: "shared text" })).status).toBe(200);
  expect((await as("root", "PUT", "/private/p.txt", { body: "private text" })).status).toBe(200);
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function as(who: Who, method: string, path: string, r: Partial<Parameters<typeof s3>[1]> = {}) {
  const creds = who === "root" ? {} : { accessKeyId: users[who].accessKeyId, secret: users[who].secret };
  return s3(server.endpoint, { method, path, ...creds, ...r });
}
const code = async (res: Promise<Response>) => {
  const answered = await res;
  return answered.status < 300 ? answered.status : await errorCode(answered);
};
const bucketsSeenBy = async (who: Who) => [...(await (await as(who, "GET", "/")).text()).matchAll(/<Name>([^<]+)<\/Name>/g)].map((m) => m[1]);

describe("users limited to some buckets", () => {
  test("a reader reads and lists its bucket, writes nothing, and sees no other bucket", async () => {
    expect(await (await as("reader", "GET", "/shared/a.txt")).text()).toBe("shared text");
    expect(await code(as("reader", "HEAD", "/shared"))).toBe(200);
    expect(await code(as("reader", "GET", "/shared", { query: [["list-type", "2"]] }))).toBe(200);
    expect(await code(as("reader", "PUT", "/shared/b.txt", { body: "x" }))).toBe("AccessDenied");
    expect(await code(as("reader", "DELETE", "/shared/a.txt"))).toBe("AccessDenied");
    expect(await code(as("reader", "GET", "/private/p.txt"))).toBe("AccessDenied");
    expect(await code(as("reader", "PUT", "/readers-own"))).toBe("AccessDenied");
    expect(await bucketsSeenBy("reader")).toEqual(["shared"]);
    // DeleteObjects: each key refused on its own, as S3 reports it
    const body = "<Delete><Object><Key>a.txt</Key></Object></Delete>";
    const deleted = await (await as("reader", "POST", "/shared", { query: [["delete", ""]], body, headers: { "content-md5": md5Base64(body) } })).text();
    expect(deleted).toContain("<Code>AccessDenied</Code>");
    expect(await (await as("root", "GET", "/shared/a.txt")).text()).toBe("shared text");
  });

  test("a write-only agent stores and deletes but cannot read back, list, or change the bucket", async () => {
    expect(await code(as("agent", "PUT", "/drop/backup-1.tar", { body: "backup bytes" }))).toBe(200);
    expect(await code(as("agent", "GET", "/drop/backup-1.tar"))).toBe("AccessDenied");
    expect(await code(as("agent", "GET", "/drop", { query: [["list-type", "2"]] }))).toBe("AccessDenied");
    const created = await as("agent", "POST", "/drop/big.tar", { query: [["uploads", ""]] });
    expect(created.status).toBe(200);
    const uploadId = /<UploadId>([^<]+)</.exec(await created.text())![1];
    // it may list its uploads and their parts, to resume or clean them up
    expect(await code(as("agent", "GET", "/drop/big.tar", { query: [["uploadId", uploadId]] }))).toBe(200);
    expect(await (await as("agent", "GET", "/drop", { query: [["uploads", ""]] })).text()).toContain(`<UploadId>${uploadId}</UploadId>`);
    expect(await code(as("agent", "DELETE", "/drop/big.tar", { query: [["uploadId", uploadId]] }))).toBe(204);
    expect(await code(as("agent", "DELETE", "/drop"))).toBe("AccessDenied");
    expect(await code(as("agent", "PUT", "/drop", { query: [["policy", ""]], body: "{}" }))).toBe("AccessDenied");
    expect(await code(as("agent", "GET", "/drop", { query: [["policy", ""]] }))).toBe("AccessDenied");
    const block = "<PublicAccessBlockConfiguration><BlockPublicPolicy>true</BlockPublicPolicy></PublicAccessBlockConfiguration>";
    expect(await code(as("agent", "PUT", "/drop", { query: [["publicAccessBlock", ""]], body: block, headers: { "content-md5": md5Base64(block) } }))).toBe("AccessDenied");
    expect(await code(as("agent", "DELETE", "/drop", { query: [["publicAccessBlock", ""]] }))).toBe("AccessDenied");
    const lifecycle = "<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>";
    expect(await code(as("agent", "PUT", "/drop", { query: [["lifecycle", ""]], body: lifecycle, headers: { "content-md5": md5Base64(lifecycle) } }))).toBe("AccessDenied");
    // copying needs read on the source: the agent has none anywhere
    expect(await code(as("agent", "PUT", "/drop/copy.txt", { headers: { "x-amz-copy-source": "/shared/a.txt" } }))).toBe("AccessDenied");
    expect(await (await as("root", "GET", "/drop/backup-1.tar")).text()).toBe("backup bytes");
    expect(await code(as("agent", "DELETE", "/drop/backup-1.tar"))).toBe(204);
  });

  test("a write-only agent cannot destroy what versioning and Object Lock keep: no version removed, no hold lifted, no bypass", async () => {
    expect((await as("root", "PUT", "/vault", { headers: { "x-amz-bucket-object-lock-enabled": "true" } })).status).toBe(200);
    // a lock is the owner's to set, as it is the owner's to lift: a writer may not plant one beyond its reach
    const locked = { "content-md5": md5Base64("backup"), "x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": "2999-01-01T00:00:00Z" };
    expect(await code(as("agent", "PUT", "/vault/planted.tar", { body: "backup", headers: locked }))).toBe("AccessDenied");
    expect(await code(as("agent", "PUT", "/vault/planted.tar", { body: "backup", headers: { "content-md5": md5Base64("backup"), "x-amz-object-lock-legal-hold": "ON" } }))).toBe("AccessDenied");
    const stored = await as("agent", "PUT", "/vault/backup.tar", { body: "backup", headers: { "content-md5": md5Base64("backup") } });
    expect(stored.status).toBe(200);
    const version = stored.headers.get("x-amz-version-id")!;
    const versioned: [string, string][] = [["versionId", version]];
    const on = "<LegalHold><Status>ON</Status></LegalHold>";
    expect(await code(as("root", "PUT", "/vault/backup.tar", { query: [["legal-hold", ""], ...versioned], body: on, headers: { "content-md5": md5Base64(on) } }))).toBe(200);
    const off = "<LegalHold><Status>OFF</Status></LegalHold>";
    expect(await code(as("agent", "PUT", "/vault/backup.tar", { query: [["legal-hold", ""], ...versioned], body: off, headers: { "content-md5": md5Base64(off) } }))).toBe("AccessDenied");
    const retention = "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2099-01-01T00:00:00Z</RetainUntilDate></Retention>";
    expect(await code(as("agent", "PUT", "/vault/backup.tar", { query: [["retention", ""], ...versioned], body: retention, headers: { "content-md5": md5Base64(retention) } }))).toBe("AccessDenied");
    expect(await code(as("agent", "DELETE", "/vault/backup.tar", { query: versioned }))).toBe("AccessDenied");
    expect(await code(as("agent", "DELETE", "/vault/backup.tar", { headers: { "x-amz-bypass-governance-retention": "true" } }))).toBe("AccessDenied");
    // a delete marker hides the version and destroys nothing
    expect(await code(as("agent", "DELETE", "/vault/backup.tar"))).toBe(204);
    expect(await (await as("root", "GET", "/vault/backup.tar", { query: versioned })).text()).toBe("backup");
  });

  test("a team owns the buckets its pattern names: creates, configures and deletes them, and copies from what it may read", async () => {
    expect(await code(as("team", "PUT", "/team-alpha"))).toBe(200);
    expect(await code(as("team", "PUT", "/alpha-team"))).toBe("AccessDenied");
    const cors = "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>";
    expect(await code(as("team", "PUT", "/team-alpha", { query: [["cors", ""]], body: cors }))).toBe(200);
    const policy = JSON.stringify({ Statement: [{ Effect: "Deny", Principal: "*", Action: "s3:DeleteObject", Resource: "arn:aws:s3:::team-alpha/keep/*" }] });
    expect(await code(as("team", "PUT", "/team-alpha", { query: [["policy", ""]], body: policy }))).toBe(204);
    expect(await code(as("team", "PUT", "/team-alpha/keep/copied.txt", { headers: { "x-amz-copy-source": "/shared/a.txt" } }))).toBe(200);
    expect(await code(as("team", "PUT", "/team-alpha/stolen.txt", { headers: { "x-amz-copy-source": "/private/p.txt" } }))).toBe("AccessDenied");
    expect(await code(as("team", "DELETE", "/team-alpha/keep/copied.txt"))).toBe("AccessDenied");
    expect((await bucketsSeenBy("team")).sort()).toEqual(["drop", "shared", "team-alpha"]);
    expect(await code(as("team", "DELETE", "/team-alpha", { query: [["policy", ""]] }))).toBe(204);
    expect(await code(as("team", "DELETE", "/team-alpha/keep/copied.txt"))).toBe(204);
    expect(await code(as("team", "DELETE", "/team-alpha"))).toBe(204);
  });

  test("an owner alone configures a bucket and reads its settings back, but not its objects", async () => {
    expect(await code(as("admin", "PUT", "/team-ops"))).toBe(200);
    const cors = "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>";
    expect(await code(as("admin", "PUT", "/team-ops", { query: [["cors", ""]], body: cors }))).toBe(200);
    expect(await code(as("admin", "GET", "/team-ops", { query: [["cors", ""]] }))).toBe(200);
    expect(await code(as("admin", "GET", "/team-ops", { query: [["location", ""]] }))).toBe(200);
    expect(await code(as("admin", "PUT", "/team-ops/x.txt", { body: "x" }))).toBe("AccessDenied");
    expect(await code(as("admin", "GET", "/team-ops", { query: [["list-type", "2"]] }))).toBe("AccessDenied");
    expect(await code(as("admin", "DELETE", "/team-ops"))).toBe(204);
  });

  test("a user without grants on a bucket learns neither whether it exists nor which keys it holds", async () => {
    const body = "<Delete><Object><Key>a.txt</Key></Object></Delete>";
    const deleteObjects = (bucket: string) => as("outsider", "POST", `/${bucket}`, { query: [["delete", ""]], body, headers: { "content-md5": md5Base64(body) } });
    expect(await code(deleteObjects("shared"))).toBe("AccessDenied");
    expect(await code(deleteObjects("no-such-bucket-here"))).toBe("AccessDenied");
    expect((await as("outsider", "HEAD", "/no-such-bucket-here")).status).toBe(403);
    // a bucket readable by everyone: its objects, yes; whether a key is missing, no (it may not list)
    const publicRead = JSON.stringify({ Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::shared/*" }] });
    expect(await code(as("root", "PUT", "/shared", { query: [["policy", ""]], body: publicRead }))).toBe(204);
    expect(await code(as("outsider", "GET", "/shared/a.txt"))).toBe(200);
    expect(await code(as("outsider", "GET", "/shared/missing.txt"))).toBe("AccessDenied");
    expect(await code(as("reader", "GET", "/shared/missing.txt"))).toBe("NoSuchKey");
    expect(await code(as("root", "DELETE", "/shared", { query: [["policy", ""]] }))).toBe(204);
  });

  test("a bucket policy may name users: an Allow reaches past their grants, a Deny binds them alone; unsigned requests gain nothing", async () => {
    const policy = JSON.stringify({
      Statement: [{ Effect: "Allow", Principal: { AWS: "arn:aws:iam:::user/reader" }, Action: ["s3:GetObject", "s3:PutObject"], Resource: "arn:aws:s3:::private/reader/*" }],
    });
    expect(await code(as("root", "PUT", "/private", { query: [["policy", ""]], body: policy }))).toBe(204);
    expect(await (await as("root", "GET", "/private", { query: [["policyStatus", ""]] })).text()).toContain("<IsPublic>false</IsPublic>");
    expect(await code(as("reader", "PUT", "/private/reader/notes.txt", { body: "mine" }))).toBe(200);
    expect(await (await as("reader", "GET", "/private/reader/notes.txt")).text()).toBe("mine");
    expect(await code(as("reader", "GET", "/private/p.txt"))).toBe("AccessDenied");
    expect(await code(as("outsider", "GET", "/private/reader/notes.txt"))).toBe("AccessDenied");
    expect((await fetch(`${server.endpoint}/private/reader/notes.txt`)).status).toBe(403);
    expect(await code(as("root", "DELETE", "/private", { query: [["policy", ""]] }))).toBe(204);
    expect(await code(as("reader", "GET", "/private/reader/notes.txt"))).toBe("AccessDenied");
    // a Deny of everything binds the settings writes too: ACLs, ownership, encryption, websites
    const denyAll = JSON.stringify({ Statement: [{ Effect: "Deny", Principal: { AWS: "arn:aws:iam:::user/team" }, Action: "s3:*", Resource: ["arn:aws:s3:::team-beta", "arn:aws:s3:::team-beta/*"] }] });
    expect(await code(as("team", "PUT", "/team-beta"))).toBe(200);
    expect(await code(as("team", "PUT", "/team-beta/x.txt", { body: "x" }))).toBe(200);
    expect(await code(as("root", "PUT", "/team-beta", { query: [["policy", ""]], body: denyAll }))).toBe(204);
    const ownership = "<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>";
    expect(await code(as("team", "PUT", "/team-beta", { query: [["acl", ""]], headers: { "x-amz-acl": "private" } }))).toBe("AccessDenied");
    expect(await code(as("team", "PUT", "/team-beta/x.txt", { query: [["acl", ""]], headers: { "x-amz-acl": "private" } }))).toBe("AccessDenied");
    expect(await code(as("team", "PUT", "/team-beta/missing.txt", { query: [["acl", ""]], headers: { "x-amz-acl": "private" } }))).toBe("AccessDenied");
    expect(await code(as("team", "PUT", "/team-beta", { query: [["ownershipControls", ""]], body: ownership, headers: { "content-md5": md5Base64(ownership) } }))).toBe("AccessDenied");
    expect(await code(as("team", "DELETE", "/team-beta", { query: [["encryption", ""]] }))).toBe("AccessDenied");
    expect(await code(as("team", "DELETE", "/team-beta", { query: [["website", ""]] }))).toBe("AccessDenied");
    expect(await code(as("root", "DELETE", "/team-beta", { query: [["policy", ""]] }))).toBe(204);
    expect(await code(as("team", "PUT", "/team-beta/x.txt", { query: [["acl", ""]], headers: { "x-amz-acl": "private" } }))).toBe(200);
    expect(await code(as("team", "DELETE", "/team-beta/x.txt"))).toBe(204);
    expect(await code(as("team", "DELETE", "/team-beta"))).toBe(204);
    const denyTeam = JSON.stringify({ Statement: [{ Effect: "Deny", Principal: { AWS: "arn:aws:iam:::user/team" }, Action: "s3:GetObject", Resource: "arn:aws:s3:::shared/*" }] });
    expect(await code(as("root", "PUT", "/shared", { query: [["policy", ""]], body: denyTeam }))).toBe(204);
    expect(await code(as("team", "GET", "/shared/a.txt"))).toBe("AccessDenied");
    expect(await code(as("reader", "GET", "/shared/a.txt"))).toBe(200);
    expect(await code(as("root", "GET", "/shared/a.txt"))).toBe(200);
    expect(await code(as("root", "DELETE", "/shared", { query: [["policy", ""]] }))).toBe(204);
    expect(await code(as("root", "DELETE", "/private/reader/notes.txt"))).toBe(204);
  });

  test("a bucket policy that allows everyone lets limited users in too; root is not limited", async () => {
    expect(await code(as("reader", "GET", "/private/p.txt"))).toBe("AccessDenied");
    const publicRead = JSON.stringify({ Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::private/*" }] });
    expect(await code(as("root", "PUT", "/private", { query: [["policy", ""]], body: publicRead }))).toBe(204);
    expect(await (await as("reader", "GET", "/private/p.txt")).text()).toBe("private text");
    expect(await code(as("reader", "PUT", "/private/x.txt", { body: "x" }))).toBe("AccessDenied");
    // RestrictPublicBuckets takes the policy from unsigned requests only: s3d's users are the owner's account
    const restrict = "<PublicAccessBlockConfiguration><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>";
    expect(await code(as("root", "PUT", "/private", { query: [["publicAccessBlock", ""]], body: restrict, headers: { "content-md5": md5Base64(restrict) } }))).toBe(200);
    expect(await (await as("reader", "GET", "/private/p.txt")).text()).toBe("private text");
    expect((await fetch(`${server.endpoint}/private/p.txt`)).status).toBe(403);
    expect(await code(as("root", "DELETE", "/private", { query: [["publicAccessBlock", ""]] }))).toBe(204);
    expect(await code(as("root", "DELETE", "/private", { query: [["policy", ""]] }))).toBe(204);
    expect((await bucketsSeenBy("root")).sort()).toEqual(["drop", "private", "shared", "vault"]);
  });

  test("a POST form signed by a limited user is held to the same grants", async () => {
    const post = async (bucket: string, key: string) => {
      const form = new FormData();
      const fields = postPolicyFields(bucket, [{ key }], { accessKeyId: users.reader.accessKeyId, secret: users.reader.secret });
      for (const [name, value] of Object.entries({ key, ...fields })) form.append(name, value);
      form.append("file", new Blob(["form bytes"]), "f.txt");
      return fetch(`${server.endpoint}/${bucket}`, { method: "POST", body: form });
    };
    const refused = await post("shared", "from-form.txt");
    expect([refused.status, await errorCode(refused)]).toEqual([403, "AccessDenied"]);
    expect((await as("root", "HEAD", "/shared/from-form.txt")).status).toBe(404);
  });
});
