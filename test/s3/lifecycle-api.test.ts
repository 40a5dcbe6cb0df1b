/**
 * Bucket lifecycle over HTTP against the binary: the configuration API as S3 answers it, the
 * x-amz-expiration and x-amz-abort-* headers, and the binary's own scan (every second here)
 * removing what a past Date expires.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { errorCode, md5Base64, s3 } from "../support/client.ts";
import { startS3d, type TestServer } from "../support/server.ts";

let server: TestServer;
const bucket = "lifecycle-api";
beforeAll(async () => {
  server = await startS3d({ args: ["--lifecycle-interval", "1"] });
  await s3(server.endpoint, { method: "PUT", path: `/${bucket}` });
});
afterAll(async () => {
  await server.stop();
});

const req = (r: Parameters<typeof s3>[1]) => s3(server.endpoint, r);
const lifecycle = (method: string, body?: string, headers: Record<string, string> = {}, path = `/${bucket}`) =>
  req({ method, path, query: [["lifecycle", ""]], body, headers: body === undefined ? headers : { "content-md5": md5Base64(body), ...headers } });
const config = (...rules: string[]) => `<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${rules.join("")}</LifecycleConfiguration>`;
const daysRule = (id: string, prefix: string, days: number) =>
  `<Rule><ID>${id}</ID><Filter><Prefix>${prefix}</Prefix></Filter><Status>Enabled</Status><Expiration><Days>${days}</Days></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>${days}</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>`;

/** The next midnight UTC after `days` from `ms`, as an HTTP date. */
const expiryDate = (ms: number, days: number) => new Date(Math.floor((ms + days * 86_400_000) / 86_400_000) * 86_400_000 + 86_400_000).toUTCString();

describe("lifecycle configuration over HTTP", () => {
  test("put, get, delete as S3 answers them", async () => {
    const none = await lifecycle("GET");
    expect([none.status, await errorCode(none)]).toEqual([404, "NoSuchLifecycleConfiguration"]);
    const body = config(daysRule("logs week", "logs/", 7));
    const noIntegrity = await req({ method: "PUT", path: `/${bucket}`, query: [["lifecycle", ""]], body });
    expect([noIntegrity.status, await errorCode(noIntegrity)]).toEqual([400, "InvalidRequest"]);
    const badDigest = await lifecycle("PUT", body, { "content-md5": md5Base64("other") });
    expect([badDigest.status, await errorCode(badDigest)]).toEqual([400, "BadDigest"]);
    const put = await lifecycle("PUT", body);
    expect(put.status).toBe(200);
    expect(put.headers.get("x-amz-transition-default-minimum-object-size")).toBe("all_storage_classes_128K");
    const got = await lifecycle("GET");
    expect(got.status).toBe(200);
    expect(await got.text()).toContain("<Rule><ID>logs week</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>7</Days></Expiration>");
    const sized = await lifecycle("PUT", body, { "x-amz-transition-default-minimum-object-size": "varies_by_storage_class" });
    expect(sized.headers.get("x-amz-transition-default-minimum-object-size")).toBe("varies_by_storage_class");
    expect((await lifecycle("GET")).headers.get("x-amz-transition-default-minimum-object-size")).toBe("varies_by_storage_class");
    const badSize = await lifecycle("PUT", body, { "x-amz-transition-default-minimum-object-size": "1K" });
    expect([badSize.status, await errorCode(badSize)]).toEqual([400, "InvalidArgument"]);
    expect((await lifecycle("DELETE")).status).toBe(204);
    expect((await lifecycle("DELETE")).status).toBe(204);
    expect(await errorCode(await lifecycle("GET"))).toBe("NoSuchLifecycleConfiguration");
  });

  test("refusals: a malformed or invalid document changes nothing; other methods and missing buckets", async () => {
    const good = config(daysRule("kept", "k/", 3));
    expect((await lifecycle("PUT", good)).status).toBe(200);
    for (const [body, code] of [
      ["<LifecycleConfiguration><Rule>", "MalformedXML"],
      [config("<Rule><Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule>"), "InvalidArgument"],
      [config("<Rule><Filter/><Status>Enabled</Status></Rule>"), "InvalidRequest"],
      [config("<Rule><Filter/><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>"), "NotImplemented"],
    ]) {
      const refused = await lifecycle("PUT", body);
      expect([refused.status >= 400, await errorCode(refused)]).toEqual([true, code]);
    }
    expect(await (await lifecycle("GET")).text()).toContain("<ID>kept</ID>");
    expect((await lifecycle("POST")).status).toBe(405);
    expect(await errorCode(await lifecycle("GET", undefined, {}, "/no-such-lifecycle-bucket"))).toBe("NoSuchBucket");
    expect(await errorCode(await lifecycle("PUT", good, {}, "/no-such-lifecycle-bucket"))).toBe("NoSuchBucket");
    expect((await lifecycle("DELETE")).status).toBe(204);
  });

  test("x-amz-expiration on PUT, GET, HEAD, copies and completions; x-amz-abort-* on uploads", async () => {
    expect((await lifecycle("PUT", config(daysRule("tmp/ 2 days", "tmp/", 2)))).status).toBe(200);
    const put = await req({ method: "PUT", path: `/${bucket}/tmp/a`, body: "a" });
    const madeMs = Date.parse(put.headers.get("date") ?? new Date().toUTCString());
    const header = `expiry-date="${expiryDate(madeMs, 2)}", rule-id="tmp%2F%202%20days"`;
    expect(put.headers.get("x-amz-expiration")).toBe(header);
    expect((await req({ method: "GET", path: `/${bucket}/tmp/a` })).headers.get("x-amz-expiration")).toBe(header);
    expect((await req({ method: "HEAD", path: `/${bucket}/tmp/a` })).headers.get("x-amz-expiration")).toBe(header);
    const copy = await req({ method: "PUT", path: `/${bucket}/tmp/b`, headers: { "x-amz-copy-source": `/${bucket}/tmp/a` } });
    expect(copy.headers.get("x-amz-expiration")).toBe(header);
    const elsewhere = await req({ method: "PUT", path: `/${bucket}/kept/a`, body: "a" });
    expect(elsewhere.headers.get("x-amz-expiration")).toBeNull();

    const created = await req({ method: "POST", path: `/${bucket}/tmp/mp`, query: [["uploads", ""]] });
    expect(created.headers.get("x-amz-abort-date")).toBe(expiryDate(Date.parse(created.headers.get("date")!), 2));
    expect(created.headers.get("x-amz-abort-rule-id")).toBe("tmp%2F%202%20days");
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await created.text())![1];
    const part = await req({ method: "PUT", path: `/${bucket}/tmp/mp`, query: [["partNumber", "1"], ["uploadId", uploadId]], body: "part" });
    const listed = await req({ method: "GET", path: `/${bucket}/tmp/mp`, query: [["uploadId", uploadId]] });
    expect(listed.headers.get("x-amz-abort-rule-id")).toBe("tmp%2F%202%20days");
    const completion = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${part.headers.get("etag")}</ETag></Part></CompleteMultipartUpload>`;
    const completed = await req({ method: "POST", path: `/${bucket}/tmp/mp`, query: [["uploadId", uploadId]], body: completion });
    expect(completed.status).toBe(200);
    expect(completed.headers.get("x-amz-expiration")).toBe(`expiry-date="${expiryDate(Date.parse(completed.headers.get("date")!), 2)}", rule-id="tmp%2F%202%20days"`);
    expect((await lifecycle("DELETE")).status).toBe(204);
    expect((await req({ method: "HEAD", path: `/${bucket}/tmp/a` })).headers.get("x-amz-expiration")).toBeNull();
  });

  test("the server's own scan deletes what a past Date expires, and only that", async () => {
    for (const key of ["old/1", "old/2", "new/1"]) expect((await req({ method: "PUT", path: `/${bucket}/${key}`, body: key })).status).toBe(200);
    const rule = "<Rule><ID>past</ID><Filter><Prefix>old/</Prefix></Filter><Status>Enabled</Status><Expiration><Date>2020-01-01T00:00:00Z</Date></Expiration></Rule>";
    expect((await lifecycle("PUT", config(rule))).status).toBe(200);
    const deadline = Date.now() + 10_000;
    let keys: string[] = [];
    while (Date.now() < deadline) {
      const listing = await (await req({ method: "GET", path: `/${bucket}`, query: [["list-type", "2"], ["prefix", "old/"]] })).text();
      keys = [...listing.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]);
      if (keys.length === 0) break;
      await Bun.sleep(200);
    }
    expect(keys).toEqual([]);
    expect(await (await req({ method: "GET", path: `/${bucket}/new/1` })).text()).toBe("new/1");
    expect(server.logs()).not.toContain('"level":"error"');
    expect((await lifecycle("DELETE")).status).toBe(204);
  });
});
