/**
 * Bucket policies against the built binary: what unsigned requests may do when a policy allows
 * everyone, what a Deny takes from signed ones, and the policy API itself.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { errorCode, md5Base64, rawRequest, s3 } from "../support/client.ts";
import { startS3d, type TestServer } from "../support/server.ts";

const bucket = "public-site";
let server: TestServer;

beforeAll(async () => {
  server = await startS3d({ args: ["--domain", "s3.policy.test"] });
  expect((await s3(server.endpoint, { method: "PUT", path: `/${bucket}` })).status).toBe(200);
  for (const [key, body] of [["index.html", "<h1>hi</h1>"], ["keep/a.txt", "kept"], ["secret/s.txt", "secret"], ["tmp/x", "x"]]) {
    expect((await s3(server.endpoint, { method: "PUT", path: `/${bucket}/${key}`, body })).status).toBe(200);
  }
});

afterAll(async () => {
  await server?.stop();
});

const signed = (r: Parameters<typeof s3>[1]) => s3(server.endpoint, r);
/** An unsigned request, as a browser or `curl` without credentials sends it. */
const unsigned = (method: string, path: string, init: RequestInit = {}) => fetch(`${server.endpoint}${path}`, { method, ...init });

function putPolicy(document: unknown) {
  const body = typeof document === "string" ? document : JSON.stringify(document);
  return signed({ method: "PUT", path: `/${bucket}`, query: [["policy", ""]], body, headers: { "content-md5": md5Base64(body) } });
}
const deletePolicy = () => signed({ method: "DELETE", path: `/${bucket}`, query: [["policy", ""]] });
const statement = (effect: string, action: unknown, resource: unknown) => ({ Effect: effect, Principal: "*", Action: action, Resource: resource });

describe("bucket policies", () => {
  test("without a policy nothing unsigned is served; the policy API answers as S3 does", async () => {
    expect(await errorCode(await unsigned("GET", `/${bucket}/index.html`))).toBe("AccessDenied");
    // an empty Authorization header is none: unsigned, AccessDenied (not an unsupported scheme)
    const blank = await rawRequest(server.endpoint, "PUT", `/${bucket}/blank`, { host: new URL(server.endpoint).host, authorization: "" }, Buffer.from("x"));
    expect([blank.status, await errorCode(blank)]).toEqual([403, "AccessDenied"]);
    expect(await errorCode(await signed({ method: "GET", path: `/${bucket}`, query: [["policy", ""]] }))).toBe("NoSuchBucketPolicy");
    expect(await errorCode(await signed({ method: "GET", path: `/${bucket}`, query: [["policyStatus", ""]] }))).toBe("NoSuchBucketPolicy");
    expect((await deletePolicy()).status).toBe(204);
    // the policy API is the owner's: unsigned, it is refused like anything else
    expect(await errorCode(await unsigned("GET", `/${bucket}?policy`))).toBe("AccessDenied");
  });

  test("a public-read policy serves GET, HEAD and ranges unsigned, and nothing else", async () => {
    const document = { Version: "2012-10-17", Statement: [{ Sid: "PublicRead", ...statement("Allow", "s3:GetObject", `arn:aws:s3:::${bucket}/*`) }] };
    expect((await putPolicy(document)).status).toBe(204);
    const stored = await signed({ method: "GET", path: `/${bucket}`, query: [["policy", ""]] });
    expect([stored.status, stored.headers.get("content-type"), await stored.text()]).toEqual([200, "application/json", JSON.stringify(document)]);
    expect(await (await signed({ method: "GET", path: `/${bucket}`, query: [["policyStatus", ""]] })).text()).toContain("<IsPublic>true</IsPublic>");

    const page = await unsigned("GET", `/${bucket}/index.html`);
    expect([page.status, await page.text()]).toEqual([200, "<h1>hi</h1>"]);
    expect((await unsigned("HEAD", `/${bucket}/index.html`)).status).toBe(200);
    const part = await unsigned("GET", `/${bucket}/index.html`, { headers: { range: "bytes=1-2" } });
    expect([part.status, await part.text()]).toEqual([206, "h1"]);
    // a missing key is not told to those who may not list the bucket
    expect(await errorCode(await unsigned("GET", `/${bucket}/no-such-page`))).toBe("AccessDenied");
    // not granted: listing, writing, deleting, tagging
    expect(await errorCode(await unsigned("GET", `/${bucket}?list-type=2`))).toBe("AccessDenied");
    expect(await errorCode(await unsigned("PUT", `/${bucket}/defaced.html`, { body: "x" }))).toBe("AccessDenied");
    expect(await errorCode(await unsigned("DELETE", `/${bucket}/index.html`))).toBe("AccessDenied");
    expect(await errorCode(await unsigned("GET", `/${bucket}/index.html?tagging`))).toBe("AccessDenied");
    expect(await errorCode(await unsigned("GET", `/`))).toBe("AccessDenied");
    expect((await signed({ method: "HEAD", path: `/${bucket}/defaced.html` })).status).toBe(404);
    // a bad signature is still refused as one, not served as anonymous
    expect(await errorCode(await signed({ method: "GET", path: `/${bucket}/index.html`, secret: "wrong-secret-key" }))).toBe("SignatureDoesNotMatch");
  });

  test("mc's download policy (principal {AWS: [*]}, listing and location too): unsigned lists, and a missing key is 404", async () => {
    const document = `{"Version":"2012-10-17","Statement":[{"Action":["s3:GetBucketLocation","s3:ListBucket"],"Effect":"Allow","Principal":{"AWS":["*"]},"Resource":["arn:aws:s3:::${bucket}"],"Sid":""},{"Action":["s3:GetObject"],"Effect":"Allow","Principal":{"AWS":["*"]},"Resource":["arn:aws:s3:::${bucket}/*"],"Sid":""}]}`;
    expect((await putPolicy(document)).status).toBe(204);
    const list = await unsigned("GET", `/${bucket}?list-type=2&prefix=keep/`);
    expect(list.status).toBe(200);
    expect(await list.text()).toContain("<Key>keep/a.txt</Key>");
    expect(await errorCode(await unsigned("GET", `/${bucket}/no-such-page`))).toBe("NoSuchKey");
    expect((await unsigned("HEAD", `/${bucket}`)).status).toBe(200);
    expect((await unsigned("GET", `/${bucket}?location`)).status).toBe(200);
  });

  test("a Deny binds signed requests too: deletes, a copy's source, each key of DeleteObjects; the owner still manages the policy", async () => {
    const document = {
      Version: "2012-10-17",
      Statement: [statement("Deny", "s3:DeleteObject", `arn:aws:s3:::${bucket}/keep/*`), statement("Deny", ["s3:GetObject"], `arn:aws:s3:::${bucket}/secret/*`)],
    };
    expect((await putPolicy(document)).status).toBe(204);
    expect(await (await signed({ method: "GET", path: `/${bucket}`, query: [["policyStatus", ""]] })).text()).toContain("<IsPublic>false</IsPublic>");
    expect(await errorCode(await signed({ method: "DELETE", path: `/${bucket}/keep/a.txt` }))).toBe("AccessDenied");
    expect(await errorCode(await signed({ method: "GET", path: `/${bucket}/secret/s.txt` }))).toBe("AccessDenied");
    const copy = await signed({ method: "PUT", path: `/${bucket}/leaked.txt`, headers: { "x-amz-copy-source": `/${bucket}/secret/s.txt` } });
    expect(await errorCode(copy)).toBe("AccessDenied");
    const body = `<Delete><Object><Key>keep/a.txt</Key></Object><Object><Key>tmp/x</Key></Object></Delete>`;
    const result = await (await signed({ method: "POST", path: `/${bucket}`, query: [["delete", ""]], body, headers: { "content-md5": md5Base64(body) } })).text();
    expect(result).toContain("<Error><Key>keep/a.txt</Key><Code>AccessDenied</Code>");
    expect(result).toContain("<Deleted><Key>tmp/x</Key></Deleted>");
    expect(await (await signed({ method: "GET", path: `/${bucket}/keep/a.txt` })).text()).toBe("kept");
    expect((await signed({ method: "HEAD", path: `/${bucket}/leaked.txt` })).status).toBe(404);
    // what is not denied still works, and unsigned requests get nothing (no Allow)
    expect((await signed({ method: "GET", path: `/${bucket}/index.html` })).status).toBe(200);
    expect(await errorCode(await unsigned("GET", `/${bucket}/index.html`))).toBe("AccessDenied");
    expect((await deletePolicy()).status).toBe(204);
    expect((await signed({ method: "GET", path: `/${bucket}/secret/s.txt` })).status).toBe(200);
  });

  test("an unsigned request needs every action its operation asks: versions, tags set with the object, DeleteObjects' deletes, a copy's source", async () => {
    const document = {
      Statement: [
        statement("Allow", ["s3:GetObject", "s3:PutObject"], `arn:aws:s3:::${bucket}/*`),
        statement("Deny", "s3:GetObject", `arn:aws:s3:::${bucket}/emoji/?`),
      ],
    };
    expect((await putPolicy(document)).status).toBe(204);
    expect((await unsigned("GET", `/${bucket}/index.html`)).status).toBe(200);
    // versionId asks for s3:GetObjectVersion, which is not allowed
    expect(await errorCode(await unsigned("GET", `/${bucket}/index.html?versionId=null`))).toBe("AccessDenied");
    // tags with the object ask for s3:PutObjectTagging too
    expect(await errorCode(await unsigned("PUT", `/${bucket}/up/tagged`, { body: "x", headers: { "x-amz-tagging": "a=b" } }))).toBe("AccessDenied");
    expect((await unsigned("PUT", `/${bucket}/up/plain`, { body: "x" })).status).toBe(200);
    // an unsigned body is what its own x-amz-content-sha256 says: checked, or aws-chunked decoded; a signed stream is refused
    const sha = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");
    expect((await unsigned("PUT", `/${bucket}/up/hashed`, { body: "x", headers: { "x-amz-content-sha256": sha("x") } })).status).toBe(200);
    expect(await errorCode(await unsigned("PUT", `/${bucket}/up/hashed`, { body: "y", headers: { "x-amz-content-sha256": sha("x") } }))).toBe("XAmzContentSHA256Mismatch");
    const chunked = "3\r\nabc\r\n0\r\n\r\n";
    const streamed = await unsigned("PUT", `/${bucket}/up/chunked`, { body: chunked, headers: { "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "content-encoding": "aws-chunked", "x-amz-decoded-content-length": "3" } });
    expect(streamed.status).toBe(200);
    expect(await (await signed({ method: "GET", path: `/${bucket}/up/chunked` })).text()).toBe("abc");
    expect(await errorCode(await unsigned("PUT", `/${bucket}/up/signed-stream`, { body: chunked, headers: { "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "x-amz-decoded-content-length": "3" } }))).toBe("InvalidRequest");
    // DeleteObjects: no delete is allowed anywhere, so the request is refused whole
    const body = `<Delete><Object><Key>up/plain</Key></Object></Delete>`;
    expect(await errorCode(await unsigned("POST", `/${bucket}?delete`, { body, headers: { "content-md5": md5Base64(body) } }))).toBe("AccessDenied");
    expect(await errorCode(await unsigned("POST", `/no-such-bucket-at-all?delete`, { body, headers: { "content-md5": md5Base64(body) } }))).toBe("AccessDenied");
    // a copy from a missing source does not say so to one who may not list the source's bucket
    expect(await errorCode(await unsigned("PUT", `/${bucket}/up/copy`, { headers: { "x-amz-copy-source": `/${bucket}/no-such-source` } }))).toBe("AccessDenied");
    expect((await unsigned("PUT", `/${bucket}/up/copy`, { headers: { "x-amz-copy-source": `/${bucket}/index.html` } })).status).toBe(200);
    // ? is one character, even outside the Basic Multilingual Plane
    expect((await signed({ method: "PUT", path: `/${bucket}/emoji/😀`, body: "e" })).status).toBe(200);
    expect(await errorCode(await unsigned("GET", `/${bucket}/emoji/${encodeURIComponent("😀")}`))).toBe("AccessDenied");
    // the tag count is not told to one who may not read the tags
    expect((await signed({ method: "PUT", path: `/${bucket}/up/counted`, body: "c", headers: { "x-amz-tagging": "k=v" } })).status).toBe(200);
    const counted = await unsigned("GET", `/${bucket}/up/counted`);
    expect([counted.status, counted.headers.get("x-amz-tagging-count")]).toEqual([200, null]);
    expect((await signed({ method: "GET", path: `/${bucket}/up/counted` })).headers.get("x-amz-tagging-count")).toBe("1");
    // virtual-host style: the same policy, the bucket named by the host
    const vhost = await rawRequest(server.endpoint, "GET", "/index.html", { host: `${bucket}.s3.policy.test:${server.port}` });
    expect([vhost.status, await vhost.text()]).toEqual([200, "<h1>hi</h1>"]);
    expect((await deletePolicy()).status).toBe(204);
  });

  test("a POST form without a policy is anonymous: stored where the bucket's policy allows everyone to write", async () => {
    const anonymousForm = (key: string) => {
      const form = new FormData();
      form.append("key", key);
      form.append("file", new Blob(["dropped"]), "f.txt");
      return fetch(`${server.endpoint}/${bucket}`, { method: "POST", body: form });
    };
    expect(await errorCode(await anonymousForm("dropbox/a.txt"))).toBe("AccessDenied");
    expect((await putPolicy({ Statement: [statement("Allow", "s3:PutObject", `arn:aws:s3:::${bucket}/dropbox/*`)] })).status).toBe(204);
    expect((await anonymousForm("dropbox/a.txt")).status).toBe(204);
    expect(await (await signed({ method: "GET", path: `/${bucket}/dropbox/a.txt` })).text()).toBe("dropped");
    expect(await errorCode(await anonymousForm("elsewhere.txt"))).toBe("AccessDenied");
    expect((await signed({ method: "HEAD", path: `/${bucket}/elsewhere.txt` })).status).toBe(404);
    expect((await deletePolicy()).status).toBe(204);
  });

  test("unsigned readers cannot have a public object served with other headers, nor name an expected owner", async () => {
    expect((await putPolicy({ Statement: [statement("Allow", "s3:GetObject", `arn:aws:s3:::${bucket}/*`)] })).status).toBe(204);
    const overridden = await unsigned("GET", `/${bucket}/index.html?response-content-type=text%2Fhtml%3B%20charset%3Dutf-7`);
    expect([overridden.status, await errorCode(overridden)]).toEqual([400, "InvalidRequest"]);
    expect((await signed({ method: "GET", path: `/${bucket}/index.html`, query: [["response-content-type", "text/plain"]] })).headers.get("content-type")).toBe("text/plain");
    expect(await errorCode(await unsigned("GET", `/${bucket}/index.html`, { headers: { "x-amz-expected-bucket-owner": "123456789012" } }))).toBe("AccessDenied");
    expect((await deletePolicy()).status).toBe(204);
  });

  test("PutBucketPolicy without Content-MD5, as s3cmd and mc send it; the size limit counts no whitespace", async () => {
    const compact = JSON.stringify({ Statement: [{ Sid: "x".repeat(15 * 1024), ...statement("Allow", "s3:GetObject", `arn:aws:s3:::${bucket}/*`) }] });
    const indented = `{\n${" ".repeat(8 * 1024)}${compact.slice(1)}`;
    expect(indented.length).toBeGreaterThan(20 * 1024);
    const res = await signed({ method: "PUT", path: `/${bucket}`, query: [["policy", ""]], body: indented });
    expect(res.status).toBe(204);
    expect((await deletePolicy()).status).toBe(204);
  });

  test("a Deny on reading tags hides the tag count from signed readers too, and keeps a copy from carrying the tags", async () => {
    expect((await signed({ method: "PUT", path: `/${bucket}/tags/t`, body: "t", headers: { "x-amz-tagging": "secret=1" } })).status).toBe(200);
    expect((await putPolicy({ Statement: [statement("Deny", "s3:GetObjectTagging", `arn:aws:s3:::${bucket}/tags/*`)] })).status).toBe(204);
    const got = await signed({ method: "GET", path: `/${bucket}/tags/t` });
    expect([got.status, got.headers.get("x-amz-tagging-count")]).toEqual([200, null]);
    expect(await errorCode(await signed({ method: "PUT", path: `/${bucket}/copied-tags`, headers: { "x-amz-copy-source": `/${bucket}/tags/t` } }))).toBe("AccessDenied");
    // replacing the tags reads none of the source's
    const replaced = await signed({ method: "PUT", path: `/${bucket}/copied-tags`, headers: { "x-amz-copy-source": `/${bucket}/tags/t`, "x-amz-tagging-directive": "REPLACE" } });
    expect(replaced.status).toBe(200);
    expect((await deletePolicy()).status).toBe(204);
  });

  test("a Deny binds signed requests asking its actions: tags set with the object, a version", async () => {
    const document = { Statement: [statement("Deny", ["s3:PutObjectTagging", "s3:GetObjectVersion"], `arn:aws:s3:::${bucket}/*`)] };
    expect((await putPolicy(document)).status).toBe(204);
    expect(await errorCode(await signed({ method: "PUT", path: `/${bucket}/tagged-by-owner`, body: "t", headers: { "x-amz-tagging": "a=b" } }))).toBe("AccessDenied");
    expect((await signed({ method: "PUT", path: `/${bucket}/tagged-by-owner`, body: "t" })).status).toBe(200);
    expect(await errorCode(await signed({ method: "GET", path: `/${bucket}/index.html`, query: [["versionId", "null"]] }))).toBe("AccessDenied");
    expect((await signed({ method: "GET", path: `/${bucket}/index.html` })).status).toBe(200);
    expect((await deletePolicy()).status).toBe(204);
  });

  test("conditions: a source address range, TLS required by a Deny, listing only under a prefix", async () => {
    const objects = `arn:aws:s3:::${bucket}/*`;
    const fromLoopback = { ...statement("Allow", "s3:GetObject", objects), Condition: { IpAddress: { "aws:SourceIp": ["127.0.0.0/8", "::1/128"] } } };
    expect((await putPolicy({ Statement: [fromLoopback] })).status).toBe(204);
    expect((await unsigned("GET", `/${bucket}/index.html`)).status).toBe(200);
    // kept to some addresses, the policy is not public
    expect(await (await signed({ method: "GET", path: `/${bucket}`, query: [["policyStatus", ""]] })).text()).toContain("<IsPublic>false</IsPublic>");
    const fromLan = { ...statement("Allow", "s3:GetObject", objects), Condition: { IpAddress: { "aws:SourceIp": "10.0.0.0/8" } } };
    expect((await putPolicy({ Statement: [fromLan] })).status).toBe(204);
    expect(await errorCode(await unsigned("GET", `/${bucket}/index.html`))).toBe("AccessDenied");

    // the usual "require TLS" policy: this server speaks plain HTTP, so even the owner's signed reads are refused
    const tlsOnly = { ...statement("Deny", "s3:*", [`arn:aws:s3:::${bucket}`, objects]), Condition: { Bool: { "aws:SecureTransport": "false" } } };
    expect((await putPolicy({ Statement: [tlsOnly] })).status).toBe(204);
    expect(await errorCode(await signed({ method: "GET", path: `/${bucket}/index.html` }))).toBe("AccessDenied");
    expect(await errorCode(await signed({ method: "GET", path: `/${bucket}`, query: [["list-type", "2"]] }))).toBe("AccessDenied");
    expect((await deletePolicy()).status).toBe(204);

    const listKeep = { ...statement("Allow", "s3:ListBucket", `arn:aws:s3:::${bucket}`), Condition: { StringLike: { "s3:prefix": "keep/*" } } };
    expect((await putPolicy({ Statement: [listKeep] })).status).toBe(204);
    const listed = await unsigned("GET", `/${bucket}?list-type=2&prefix=keep/`);
    expect(listed.status).toBe(200);
    expect(await listed.text()).toContain("<Key>keep/a.txt</Key>");
    expect(await errorCode(await unsigned("GET", `/${bucket}?list-type=2`))).toBe("AccessDenied");
    expect(await errorCode(await unsigned("GET", `/${bucket}?list-type=2&prefix=secret/`))).toBe("AccessDenied");
    // a copy's source is named "bucket/key", decoded, however the header spells it
    const noCopyOfSecrets = { ...statement("Deny", "s3:PutObject", objects), Condition: { StringLike: { "s3:x-amz-copy-source": `${bucket}/secret/*` } } };
    expect((await putPolicy({ Statement: [noCopyOfSecrets] })).status).toBe(204);
    for (const source of [`${bucket}/secret/s.txt`, `/${bucket}/secret/s.txt`, `${bucket}/secre%74/s.txt`, `${bucket}%2Fsecret%2Fs.txt`]) {
      const copy = await signed({ method: "PUT", path: `/${bucket}/copied`, headers: { "x-amz-copy-source": source } });
      expect([source, await errorCode(copy)]).toEqual([source, "AccessDenied"]);
    }
    expect((await signed({ method: "PUT", path: `/${bucket}/copied`, headers: { "x-amz-copy-source": `/${bucket}/keep/a.txt` } })).status).toBe(200);
    // s3:prefix belongs to listings: a read with a prefix parameter gains nothing by it
    const readKeep = { ...statement("Allow", "s3:GetObject", objects), Condition: { StringLike: { "s3:prefix": "keep/*" } } };
    expect((await putPolicy({ Statement: [readKeep] })).status).toBe(204);
    expect(await errorCode(await unsigned("GET", `/${bucket}/keep/a.txt?prefix=keep/`))).toBe("AccessDenied");
    expect((await deletePolicy()).status).toBe(204);
  });

  test("a policy can require every upload to be sealed with the client's key (SSE-C), by s3:x-amz-server-side-encryption-customer-algorithm", async () => {
    const objects = `arn:aws:s3:::${bucket}/*`;
    const sealedOnly = { ...statement("Deny", "s3:PutObject", objects), Condition: { Null: { "s3:x-amz-server-side-encryption-customer-algorithm": "true" } } };
    expect((await putPolicy({ Statement: [sealedOnly] })).status).toBe(204);
    expect(await errorCode(await signed({ method: "PUT", path: `/${bucket}/plain.txt`, body: "plain" }))).toBe("AccessDenied");
    const key = Buffer.alloc(32, 7);
    const sealing = {
      "x-amz-server-side-encryption-customer-algorithm": "AES256",
      "x-amz-server-side-encryption-customer-key": key.toString("base64"),
      "x-amz-server-side-encryption-customer-key-md5": md5Base64(key),
    };
    expect((await signed({ method: "PUT", path: `/${bucket}/sealed.txt`, body: "sealed", headers: sealing })).status).toBe(200);
    const read = await signed({ method: "GET", path: `/${bucket}/sealed.txt`, headers: sealing });
    expect([read.status, await read.text()]).toEqual([200, "sealed"]);
    expect((await signed({ method: "GET", path: `/${bucket}/plain.txt` })).status).toBe(404);
    expect((await deletePolicy()).status).toBe(204);
  });

  test("a signed caller a policy denies listing is not told that a key is missing, as S3 answers", async () => {
    expect(await errorCode(await signed({ method: "GET", path: `/${bucket}/no-such-page` }))).toBe("NoSuchKey");
    expect((await putPolicy({ Statement: [statement("Deny", "s3:ListBucket", `arn:aws:s3:::${bucket}`)] })).status).toBe(204);
    expect(await errorCode(await signed({ method: "GET", path: `/${bucket}/no-such-page` }))).toBe("AccessDenied");
    expect((await signed({ method: "GET", path: `/${bucket}/index.html` })).status).toBe(200);
    expect((await deletePolicy()).status).toBe(204);
    expect(await errorCode(await signed({ method: "GET", path: `/${bucket}/no-such-page` }))).toBe("NoSuchKey");
  });

  test("malformed and unsupported policies are refused and change nothing", async () => {
    expect((await putPolicy({ Statement: [statement("Allow", "s3:GetObject", `arn:aws:s3:::${bucket}/*`)] })).status).toBe(204);
    const refusals: Array<[unknown, number, string]> = [
      ["not json", 400, "MalformedPolicy"],
      [{ Statement: [statement("Allow", "s3:GetObject", "arn:aws:s3:::another-bucket/*")] }, 400, "MalformedPolicy"],
      [{ Statement: [{ ...statement("Allow", "s3:GetObject", `arn:aws:s3:::${bucket}/*`), Condition: { StringEquals: { "aws:SourceVpc": "vpc-1" } } }] }, 501, "NotImplemented"],
      // valid but for its size: over 20 KiB
      [{ Statement: [{ Sid: "x".repeat(21 * 1024), ...statement("Allow", "s3:GetObject", `arn:aws:s3:::${bucket}/*`) }] }, 400, "MalformedPolicy"],
    ];
    for (const [document, status, code] of refusals) {
      const res = await putPolicy(document);
      expect([res.status, await errorCode(res)]).toEqual([status, code]);
    }
    // Content-MD5 is checked when sent, not required (s3cmd, minio-js and mc send none)
    const badChecksum = await signed({ method: "PUT", path: `/${bucket}`, query: [["policy", ""]], body: "{}", headers: { "content-md5": md5Base64("other") } });
    expect(await errorCode(badChecksum)).toBe("BadDigest");
    // the policy put before is still the one in force
    expect((await unsigned("GET", `/${bucket}/index.html`)).status).toBe(200);
    expect((await deletePolicy()).status).toBe(204);
    expect(await errorCode(await unsigned("GET", `/${bucket}/index.html`))).toBe("AccessDenied");
  });

  test("a bucket deleted and made again has no policy", async () => {
    const other = "short-lived";
    expect((await signed({ method: "PUT", path: `/${other}` })).status).toBe(200);
    expect((await signed({ method: "PUT", path: `/${other}/f`, body: "f" })).status).toBe(200);
    const body = JSON.stringify({ Statement: [statement("Allow", "s3:GetObject", `arn:aws:s3:::${other}/*`)] });
    expect((await signed({ method: "PUT", path: `/${other}`, query: [["policy", ""]], body, headers: { "content-md5": md5Base64(body) } })).status).toBe(204);
    expect((await unsigned("GET", `/${other}/f`)).status).toBe(200);
    expect((await signed({ method: "DELETE", path: `/${other}/f` })).status).toBe(204);
    expect((await signed({ method: "DELETE", path: `/${other}` })).status).toBe(204);
    expect((await signed({ method: "PUT", path: `/${other}` })).status).toBe(200);
    expect((await signed({ method: "PUT", path: `/${other}/f`, body: "f" })).status).toBe(200);
    expect(await errorCode(await unsigned("GET", `/${other}/f`))).toBe("AccessDenied");
  });

  test("versions: reading one needs s3:GetObjectVersion, and that one is missing is told only to those who may list", async () => {
    const versioned = "public-versions";
    expect((await signed({ method: "PUT", path: `/${versioned}` })).status).toBe(200);
    const enable = `<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`;
    expect((await signed({ method: "PUT", path: `/${versioned}`, query: [["versioning", ""]], body: enable })).status).toBe(200);
    const first = (await signed({ method: "PUT", path: `/${versioned}/f`, body: "one" })).headers.get("x-amz-version-id")!;
    expect((await signed({ method: "PUT", path: `/${versioned}/f`, body: "two" })).status).toBe(200);
    const policy = (actions: string[]) => {
      const body = JSON.stringify({ Statement: [statement("Allow", actions, [`arn:aws:s3:::${versioned}`, `arn:aws:s3:::${versioned}/*`])] });
      return signed({ method: "PUT", path: `/${versioned}`, query: [["policy", ""]], body, headers: { "content-md5": md5Base64(body) } });
    };
    const missing = "A".repeat(32);
    expect((await policy(["s3:GetObject"])).status).toBe(204);
    expect(await (await unsigned("GET", `/${versioned}/f`)).text()).toBe("two");
    expect(await errorCode(await unsigned("GET", `/${versioned}/f?versionId=${first}`))).toBe("AccessDenied");
    expect((await policy(["s3:GetObject", "s3:GetObjectVersion"])).status).toBe(204);
    expect(await (await unsigned("GET", `/${versioned}/f?versionId=${first}`)).text()).toBe("one");
    expect(await errorCode(await unsigned("GET", `/${versioned}/f?versionId=${missing}`))).toBe("AccessDenied");
    expect((await policy(["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"])).status).toBe(204);
    expect(await errorCode(await unsigned("GET", `/${versioned}/f?versionId=${missing}`))).toBe("NoSuchVersion");
    // listing versions is its own action
    expect(await errorCode(await unsigned("GET", `/${versioned}?versions`))).toBe("AccessDenied");
  });

  test("Object Lock's headers are shown only to readers who may read the retention and the legal hold", async () => {
    const locked = "public-locked";
    expect((await signed({ method: "PUT", path: `/${locked}`, headers: { "x-amz-bucket-object-lock-enabled": "true" } })).status).toBe(200);
    const lockHeaders = { "x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "2099-01-01T00:00:00Z", "x-amz-object-lock-legal-hold": "ON" };
    expect((await signed({ method: "PUT", path: `/${locked}/f`, body: "f", headers: { ...lockHeaders, "content-md5": md5Base64("f") } })).status).toBe(200);
    const shown = async () => {
      const res = await unsigned("HEAD", `/${locked}/f`);
      return [res.status, res.headers.get("x-amz-object-lock-mode"), res.headers.get("x-amz-object-lock-retain-until-date"), res.headers.get("x-amz-object-lock-legal-hold")];
    };
    const policy = (actions: string[]) => {
      const body = JSON.stringify({ Statement: [statement("Allow", actions, `arn:aws:s3:::${locked}/*`)] });
      return signed({ method: "PUT", path: `/${locked}`, query: [["policy", ""]], body, headers: { "content-md5": md5Base64(body) } });
    };
    expect((await policy(["s3:GetObject"])).status).toBe(204);
    expect(await shown()).toEqual([200, null, null, null]);
    expect((await policy(["s3:GetObject", "s3:GetObjectRetention"])).status).toBe(204);
    expect(await shown()).toEqual([200, "GOVERNANCE", "2099-01-01T00:00:00.000Z", null]);
    expect((await policy(["s3:GetObject", "s3:GetObjectLegalHold"])).status).toBe(204);
    expect(await shown()).toEqual([200, null, null, "ON"]);
    // the owner sees them all
    expect((await signed({ method: "HEAD", path: `/${locked}/f` })).headers.get("x-amz-object-lock-legal-hold")).toBe("ON");
  });

  test("a write that locks its version needs s3:PutObjectRetention or s3:PutObjectLegalHold besides s3:PutObject, as in S3", async () => {
    const locked = "public-drop-locked";
    expect((await signed({ method: "PUT", path: `/${locked}`, headers: { "x-amz-bucket-object-lock-enabled": "true" } })).status).toBe(200);
    const policy = (actions: string[]) => {
      const body = JSON.stringify({ Statement: [statement("Allow", actions, `arn:aws:s3:::${locked}/*`)] });
      return signed({ method: "PUT", path: `/${locked}`, query: [["policy", ""]], body, headers: { "content-md5": md5Base64(body) } });
    };
    const put = (headers: Record<string, string>) => unsigned("PUT", `/${locked}/f`, { body: "f", headers: { "content-md5": md5Base64("f"), ...headers } });
    const retention = { "x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": "2999-01-01T00:00:00Z" };
    const hold = { "x-amz-object-lock-legal-hold": "ON" };
    expect((await policy(["s3:PutObject"])).status).toBe(204);
    expect((await put({})).status).toBe(200);
    expect(await errorCode(await put(retention))).toBe("AccessDenied");
    expect(await errorCode(await put(hold))).toBe("AccessDenied");
    expect((await policy(["s3:PutObject", "s3:PutObjectLegalHold"])).status).toBe(204);
    expect((await put(hold)).status).toBe(200);
    expect(await errorCode(await put(retention))).toBe("AccessDenied");
  });

  test("Object Lock's condition keys, from PutObject's headers and from PutObjectRetention's and PutObjectLegalHold's documents", async () => {
    const locked = "lock-conditions";
    expect((await signed({ method: "PUT", path: `/${locked}`, headers: { "x-amz-bucket-object-lock-enabled": "true" } })).status).toBe(200);
    const deny = (action: string, condition: unknown) => ({ ...statement("Deny", action, `arn:aws:s3:::${locked}/*`), Condition: condition });
    const body = JSON.stringify({
      Statement: [
        // at most 30 days of retention, GOVERNANCE only, and no legal hold taken off
        deny("s3:PutObjectRetention", { NumericGreaterThan: { "s3:object-lock-remaining-retention-days": "30" } }),
        deny("s3:PutObjectRetention", { StringNotEquals: { "s3:object-lock-mode": "GOVERNANCE" } }),
        deny("s3:PutObject", { StringEquals: { "s3:object-lock-mode": "COMPLIANCE" } }),
        deny("s3:PutObjectLegalHold", { StringEquals: { "s3:object-lock-legal-hold": "OFF" } }),
      ],
    });
    expect((await signed({ method: "PUT", path: `/${locked}`, query: [["policy", ""]], body, headers: { "content-md5": md5Base64(body) } })).status).toBe(204);
    const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
    const put = (mode: string) =>
      signed({ method: "PUT", path: `/${locked}/f`, body: "f", headers: { "content-md5": md5Base64("f"), "x-amz-object-lock-mode": mode, "x-amz-object-lock-retain-until-date": inDays(5) } });
    expect(await errorCode(await put("COMPLIANCE"))).toBe("AccessDenied");
    expect((await put("GOVERNANCE")).status).toBe(200);
    const document = (method: string, sub: string, xml: string) => signed({ method, path: `/${locked}/f`, query: [[sub, ""]], body: xml, headers: { "content-md5": md5Base64(xml) } });
    const retention = (mode: string, days: number) => document("PUT", "retention", `<Retention><Mode>${mode}</Mode><RetainUntilDate>${inDays(days)}</RetainUntilDate></Retention>`);
    const hold = (status: string) => document("PUT", "legal-hold", `<LegalHold><Status>${status}</Status></LegalHold>`);
    // (the Deny with StringNotEquals holds for what the document asks: the check waits for it)
    expect((await retention("GOVERNANCE", 10)).status).toBe(200);
    expect(await errorCode(await retention("GOVERNANCE", 60))).toBe("AccessDenied");
    expect(await errorCode(await retention("COMPLIANCE", 20))).toBe("AccessDenied");
    // a document that cannot be read asks no mode: the Deny of every mode but GOVERNANCE holds, as IAM reads a missing key
    expect(await errorCode(await document("PUT", "retention", "<Retention><Mode>GOVERNANCE</Retention>"))).toBe("AccessDenied");
    expect(await errorCode(await document("PUT", "legal-hold", "<LegalHold><Status>ON</LegalHold>"))).toBe("MalformedXML");
    // a document that asks nothing is not given the headers' values (x-amz-object-lock-* name a new version's lock, not this)
    const cleared = await signed({ method: "PUT", path: `/${locked}/f`, query: [["retention", ""]], body: "<Retention/>", headers: { "content-md5": md5Base64("<Retention/>"), "x-amz-bypass-governance-retention": "true", "x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": inDays(10) } });
    expect(await errorCode(cleared)).toBe("AccessDenied");
    expect((await hold("ON")).status).toBe(200);
    expect(await errorCode(await hold("OFF"))).toBe("AccessDenied");
    const kept = await signed({ method: "HEAD", path: `/${locked}/f` });
    expect([kept.headers.get("x-amz-object-lock-mode"), kept.headers.get("x-amz-object-lock-legal-hold")]).toEqual(["GOVERNANCE", "ON"]);
    expect(Date.parse(kept.headers.get("x-amz-object-lock-retain-until-date")!)).toBeGreaterThan(Date.now() + 9 * 86_400_000);
  });
});
