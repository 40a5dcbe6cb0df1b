/**
 * Block Public Access: the document (pure), the API against the built binary, what the settings
 * take from public policies, and the server-wide setting.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { parseStoredBlock, publicAccessBlockFromXml, publicAccessBlockXml, type PublicAccessBlock } from "../../src/s3/public-access-block.ts";
import { xmlDocument } from "../../src/s3/xml.ts";
import { refusalCode } from "../support/refusal.ts";
import { errorCode, md5Base64, s3 } from "../support/client.ts";
import { fuzzIterations, fuzzRandom, mutated } from "../support/fuzz.ts";
import { startS3d, type TestServer } from "../support/server.ts";

const settings = (acls: boolean, ignore: boolean, policy: boolean, restrict: boolean): PublicAccessBlock => ({
  blockPublicAcls: acls,
  ignorePublicAcls: ignore,
  blockPublicPolicy: policy,
  restrictPublicBuckets: restrict,
});

function document(elements: Record<string, string>): string {
  const inner = Object.entries(elements).map(([name, value]) => `<${name}>${value}</${name}>`).join("");
  return `<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</PublicAccessBlockConfiguration>`;
}

const refusal = (text: string) => refusalCode(() => publicAccessBlockFromXml(text));

describe("the PublicAccessBlockConfiguration document", () => {
  test("settings left out are off; values are true or false, indentation allowed; written back in S3's order", () => {
    expect(publicAccessBlockFromXml(document({ BlockPublicPolicy: "true" }))).toEqual(settings(false, false, true, false));
    expect(publicAccessBlockFromXml(document({ RestrictPublicBuckets: "true", BlockPublicAcls: "false", IgnorePublicAcls: " true " }))).toEqual(settings(false, true, false, true));
    expect(publicAccessBlockFromXml("<PublicAccessBlockConfiguration>\n  <BlockPublicAcls>true</BlockPublicAcls>\n</PublicAccessBlockConfiguration>")).toEqual(settings(true, false, false, false));
    expect(publicAccessBlockFromXml(document({ BlockPublicAcls: "false" }))).toEqual(settings(false, false, false, false));
    const all = settings(true, false, true, false);
    const written = xmlDocument(publicAccessBlockXml(all));
    expect(written).toContain("<BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets>");
    expect(publicAccessBlockFromXml(written)).toEqual(all);
    expect(parseStoredBlock(JSON.stringify(all))).toEqual(all);
  });

  test("no setting at all is InvalidRequest, as S3 answers; anything else is MalformedXML", () => {
    expect(refusal("<PublicAccessBlockConfiguration/>")).toBe("InvalidRequest");
    expect(refusal("<PublicAccessBlockConfiguration>\n</PublicAccessBlockConfiguration>")).toBe("InvalidRequest");
    for (const text of [
      document({ BlockPublicAcls: "yes" }),
      document({ BlockPublicAcls: "TRUE" }),
      document({ BlockPublicAcls: "1" }),
      document({ BlockPublicAcls: "" }),
      document({ BlockPublicAcl: "true" }),
      document({ BlockPublicAcls: "<True/>" }),
      "<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>",
      "<PublicAccessBlockConfiguration>text<BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>",
      "<PublicAccessBlock><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlock>",
      "<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>",
      "",
    ]) {
      expect([text, refusal(text)]).toEqual([text, "MalformedXML"]);
    }
  });

  test("property: any mutation of a document parses to four booleans or is refused with MalformedXML or InvalidRequest, never another failure", () => {
    const rand = fuzzRandom(45);
    const valid = document({ BlockPublicAcls: "true", IgnorePublicAcls: "false", BlockPublicPolicy: "true", RestrictPublicBuckets: "false" });
    const pieces = ["<", ">", "/", "true", "false", "<BlockPublicAcls>", "</BlockPublicAcls>", "&amp;", "&#0;", " ", "\n", "<![CDATA[true]]>", "<!--x-->", '"'];
    for (let i = 0; i < fuzzIterations(3000); i++) {
      const text = mutated(valid, rand, pieces);
      try {
        const block = publicAccessBlockFromXml(text);
        expect(Object.values(block).every((v) => typeof v === "boolean")).toBe(true);
        expect(Object.keys(block).sort()).toEqual(["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]);
      } catch (error) {
        expect(error).toBeInstanceOf(S3Error);
        expect(["MalformedXML", "InvalidRequest"]).toContain((error as S3Error).code);
      }
    }
  });
});

const bucket = "blocked-site";
const objects = `arn:aws:s3:::${bucket}/*`;
const publicRead = { Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: objects }] };
const loopbackRead = { Statement: [{ ...publicRead.Statement[0], Condition: { IpAddress: { "aws:SourceIp": ["127.0.0.0/8", "::1/128"] } } }] };

/** Helpers against one server (each describe below starts its own). */
function api(server: () => TestServer, name: string) {
  const signed = (r: Parameters<typeof s3>[1]) => s3(server().endpoint, r);
  const unsigned = (method: string, path: string, init: RequestInit = {}) => fetch(`${server().endpoint}${path}`, { method, ...init });
  return {
    signed,
    unsigned,
    putBlock: (body: string, headers: Record<string, string> = { "content-md5": md5Base64(body) }) =>
      signed({ method: "PUT", path: `/${name}`, query: [["publicAccessBlock", ""]], body, headers }),
    getBlock: () => signed({ method: "GET", path: `/${name}`, query: [["publicAccessBlock", ""]] }),
    deleteBlock: () => signed({ method: "DELETE", path: `/${name}`, query: [["publicAccessBlock", ""]] }),
    putPolicy: (policy: unknown) => {
      const body = JSON.stringify(policy);
      return signed({ method: "PUT", path: `/${name}`, query: [["policy", ""]], body, headers: { "content-md5": md5Base64(body) } });
    },
    getPolicy: () => signed({ method: "GET", path: `/${name}`, query: [["policy", ""]] }),
    deletePolicy: () => signed({ method: "DELETE", path: `/${name}`, query: [["policy", ""]] }),
  };
}

describe("Put/Get/DeletePublicAccessBlock and what the settings do", () => {
  let server: TestServer;
  const { signed, unsigned, putBlock, getBlock, deleteBlock, putPolicy, getPolicy, deletePolicy } = api(() => server, bucket);

  beforeAll(async () => {
    server = await startS3d();
    expect((await signed({ method: "PUT", path: `/${bucket}` })).status).toBe(200);
    expect((await signed({ method: "PUT", path: `/${bucket}/index.html`, body: "<h1>hi</h1>" })).status).toBe(200);
  });
  afterAll(async () => {
    await server?.stop();
  });

  test("the API answers as S3 does: 404 until set, an integrity header required, 200, the settings back, 204", async () => {
    const none = await getBlock();
    expect([none.status, await errorCode(none)]).toEqual([404, "NoSuchPublicAccessBlockConfiguration"]);
    const body = document({ BlockPublicAcls: "true", RestrictPublicBuckets: "true" });
    expect(await errorCode(await putBlock(body, {}))).toBe("InvalidRequest");
    expect(await errorCode(await putBlock(body, { "content-md5": md5Base64("other") }))).toBe("BadDigest");
    expect(await errorCode(await putBlock("<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls></PublicAccessBlockConfiguration>"))).toBe("MalformedXML");
    expect((await getBlock()).status).toBe(404);
    const put = await putBlock(body);
    expect([put.status, await put.text()]).toEqual([200, ""]);
    const got = await getBlock();
    expect(got.status).toBe(200);
    expect(await got.text()).toContain(
      `<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>`,
    );
    // the settings are the owner's: unsigned, the API is refused like anything else
    expect(await errorCode(await unsigned("GET", `/${bucket}?publicAccessBlock`))).toBe("AccessDenied");
    expect(await errorCode(await unsigned("DELETE", `/${bucket}?publicAccessBlock`))).toBe("AccessDenied");
    expect((await deleteBlock()).status).toBe(204);
    expect((await getBlock()).status).toBe(404);
    expect((await deleteBlock()).status).toBe(204);
    expect(await errorCode(await signed({ method: "GET", path: "/no-such-blocked-bucket", query: [["publicAccessBlock", ""]] }))).toBe("NoSuchBucket");
    expect(await errorCode(await signed({ method: "POST", path: `/${bucket}`, query: [["publicAccessBlock", ""]] }))).toBe("MethodNotAllowed");
    expect(await errorCode(await signed({ method: "GET", path: `/${bucket}/index.html`, query: [["publicAccessBlock", ""]] }))).toBe("NotImplemented");
  });

  test("BlockPublicPolicy refuses a public policy and keeps the one before; a policy kept to some addresses is taken", async () => {
    expect((await putPolicy(loopbackRead)).status).toBe(204);
    expect((await putBlock(document({ BlockPublicPolicy: "true" }))).status).toBe(200);
    const refused = await putPolicy(publicRead);
    expect([refused.status, await errorCode(refused)]).toEqual([403, "AccessDenied"]);
    expect(JSON.parse(await (await getPolicy()).text())).toEqual(loopbackRead);
    expect((await putPolicy(loopbackRead)).status).toBe(204);
    // a Deny opens nothing: taken
    expect((await putPolicy({ Statement: [{ Effect: "Deny", Principal: "*", Action: "s3:DeleteObject", Resource: objects }] })).status).toBe(204);
    expect((await deleteBlock()).status).toBe(204);
    expect((await putPolicy(publicRead)).status).toBe(204);
    // a public policy already in place stays, and serves, under BlockPublicPolicy alone
    expect((await putBlock(document({ BlockPublicPolicy: "true" }))).status).toBe(200);
    expect((await unsigned("GET", `/${bucket}/index.html`)).status).toBe(200);
    expect((await deleteBlock()).status).toBe(204);
    expect((await deletePolicy()).status).toBe(204);
  });

  test("RestrictPublicBuckets takes a public policy from unsigned requests, and gives it back when lifted; signed ones keep their access", async () => {
    expect((await putPolicy({ Statement: [{ Effect: "Allow", Principal: "*", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"], Resource: [objects, `arn:aws:s3:::${bucket}`] }] })).status).toBe(204);
    const page = await unsigned("GET", `/${bucket}/index.html`);
    expect([page.status, await page.text()]).toEqual([200, "<h1>hi</h1>"]);
    expect((await putBlock(document({ RestrictPublicBuckets: "true" }))).status).toBe(200);
    expect(await errorCode(await unsigned("GET", `/${bucket}/index.html`))).toBe("AccessDenied");
    expect(await errorCode(await unsigned("GET", `/${bucket}/no-such-page`))).toBe("AccessDenied");
    expect(await errorCode(await unsigned("GET", `/${bucket}?list-type=2`))).toBe("AccessDenied");
    expect(await errorCode(await unsigned("PUT", `/${bucket}/dropped`, { body: "x" }))).toBe("AccessDenied");
    const body = `<Delete><Object><Key>index.html</Key></Object></Delete>`;
    expect(await errorCode(await unsigned("POST", `/${bucket}?delete`, { body, headers: { "content-md5": md5Base64(body) } }))).toBe("AccessDenied");
    const form = new FormData();
    form.append("key", "form-dropped");
    form.append("file", new Blob(["dropped"]), "f.txt");
    expect(await errorCode(await fetch(`${server.endpoint}/${bucket}`, { method: "POST", body: form }))).toBe("AccessDenied");
    for (const key of ["dropped", "form-dropped"]) expect((await signed({ method: "HEAD", path: `/${bucket}/${key}` })).status).toBe(404);
    expect(await (await signed({ method: "GET", path: `/${bucket}/index.html` })).text()).toBe("<h1>hi</h1>");
    // the policy is still public; it is the settings that keep it from everyone
    expect(await (await signed({ method: "GET", path: `/${bucket}`, query: [["policyStatus", ""]] })).text()).toContain("<IsPublic>true</IsPublic>");
    // a policy kept to some addresses is not public: RestrictPublicBuckets leaves it be
    expect((await putPolicy(loopbackRead)).status).toBe(204);
    expect((await unsigned("GET", `/${bucket}/index.html`)).status).toBe(200);
    expect((await putPolicy(publicRead)).status).toBe(204);
    expect(await errorCode(await unsigned("GET", `/${bucket}/index.html`))).toBe("AccessDenied");
    expect((await deleteBlock()).status).toBe(204);
    expect((await unsigned("GET", `/${bucket}/index.html`)).status).toBe(200);
    expect((await deletePolicy()).status).toBe(204);
  });

  test("a bucket deleted and made again has no settings", async () => {
    const other = "blocked-again";
    const again = api(() => server, other);
    expect((await signed({ method: "PUT", path: `/${other}` })).status).toBe(200);
    expect((await again.putBlock(document({ BlockPublicPolicy: "true" }))).status).toBe(200);
    expect((await again.getBlock()).status).toBe(200);
    expect((await signed({ method: "DELETE", path: `/${other}` })).status).toBe(204);
    expect((await signed({ method: "PUT", path: `/${other}` })).status).toBe(200);
    expect(await errorCode(await again.getBlock())).toBe("NoSuchPublicAccessBlockConfiguration");
    expect((await again.putPolicy({ Statement: [{ ...publicRead.Statement[0], Resource: `arn:aws:s3:::${other}/*` }] })).status).toBe(204);
  });
});

describe("--block-public-access true: every bucket blocked, as by S3's account-level settings", () => {
  let server: TestServer;
  const { signed, unsigned, getBlock, putPolicy } = api(() => server, bucket);

  afterAll(async () => {
    await server?.stop();
  });

  test("a public policy set before the restart no longer serves unsigned requests, and none can be set; one kept to some addresses can", async () => {
    server = await startS3d();
    expect((await signed({ method: "PUT", path: `/${bucket}` })).status).toBe(200);
    expect((await signed({ method: "PUT", path: `/${bucket}/index.html`, body: "<h1>hi</h1>" })).status).toBe(200);
    expect((await putPolicy(publicRead)).status).toBe(204);
    expect((await unsigned("GET", `/${bucket}/index.html`)).status).toBe(200);
    await server.crash();
    server = await startS3d({ dataDir: server.dataDir, args: ["--block-public-access", "true"] });
    expect(await errorCode(await unsigned("GET", `/${bucket}/index.html`))).toBe("AccessDenied");
    expect(await errorCode(await putPolicy(publicRead))).toBe("AccessDenied");
    // the bucket's own settings are what GetPublicAccessBlock shows: it has none
    expect(await errorCode(await getBlock())).toBe("NoSuchPublicAccessBlockConfiguration");
    expect((await putPolicy(loopbackRead)).status).toBe(204);
    expect((await unsigned("GET", `/${bucket}/index.html`)).status).toBe(200);
    expect((await signed({ method: "GET", path: `/${bucket}/index.html` })).status).toBe(200);
  });
});
