/**
 * SSE-C (server-side encryption with customer-provided keys) over HTTP, against the built binary
 * and the signed test client (the tests' client is on loopback, so plain HTTP may carry keys):
 *
 * - PutObject / GetObject / HeadObject round trips, small (inline) and large (blob), with the
 *   algorithm and key-MD5 echoed, the plaintext read back exactly, Range GETs, and the ETag (a
 *   random one, not the plaintext's MD5) as PUT, HEAD, GetObjectAttributes and ListObjectsV2 show it;
 * - every refusal S3 makes of the headers (status and <Code>), and that a refused write stores nothing;
 * - reads of a keyed object without its key, with another, and with a key for a plain object;
 * - CopyObject (a keyed source needs the x-amz-copy-source-…-customer-* trio; keyed to plain, to
 *   another key, onto itself with a new key) and UploadPartCopy from a keyed source into a keyed upload;
 * - multipart uploads with a key (every part needs it; CompleteMultipartUpload does not);
 * - GetObjectAttributes (needs the key) and object tagging (does not);
 * - a server with an encryption key at rest: keyed objects' answers carry the customer headers and
 *   not `x-amz-server-side-encryption: AES256`, plain objects' carry AES256, and keyed objects
 *   still open with their key (and only with it) after a restart.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { s3, type SignedRequest } from "../support/client.ts";
import { startS3d, type TestServer } from "../support/server.ts";
import { customerKeyHeaders as sse, keyOf, md5b64 } from "../support/sse-c.ts";

const MiB = 1024 * 1024;
const algorithmHeader = "x-amz-server-side-encryption-customer-algorithm";
const md5Header = "x-amz-server-side-encryption-customer-key-md5";

const md5hex = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");
const keyA = keyOf("sse-c key A");
const keyB = keyOf("sse-c key B");
const keyC = keyOf("sse-c key C");

/** Bytes that differ from object to object and place to place (a misplaced range shows). */
function bytesOf(n: number, salt: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + salt + (i >> 8)) & 0xff;
  return out;
}

const field = (xml: string, element: string) => new RegExp(`<${element}>([^<]*)</${element}>`).exec(xml)?.[1];

/** The status and S3 error code of an answer, or of a read GET (a HEAD has no body: its status alone). */
async function expectError(answer: Response | { res: Response; body: Buffer }, status: number, code: string | undefined): Promise<void> {
  const res = answer instanceof Response ? answer : answer.res;
  const text = answer instanceof Response ? await answer.text() : answer.body.toString();
  expect({ status: res.status, code: code === undefined ? undefined : field(text, "Code") }).toEqual({ status, code });
}

/** The answer's SSE-C headers and its x-amz-server-side-encryption, as one value to compare. */
const encryptionOf = (res: Response) => ({ algorithm: res.headers.get(algorithmHeader), keyMd5: res.headers.get(md5Header), sse: res.headers.get("x-amz-server-side-encryption") });
const keyed = (key: Uint8Array) => ({ algorithm: "AES256", keyMd5: md5b64(key), sse: null });
const plain = (atRest = false) => ({ algorithm: null, keyMd5: null, sse: atRest ? "AES256" : null });

/** Requests to one server and one bucket. */
function clientOf(server: () => TestServer, bucket: string) {
  const req = (r: SignedRequest) => s3(server().endpoint, r);
  const path = (key: string) => `/${bucket}/${key}`;
  return {
    req,
    path,
    put: (key: string, body: Uint8Array | string, headers: Record<string, string> = {}) => req({ method: "PUT", path: path(key), body, headers }),
    get: async (key: string, headers: Record<string, string> = {}, query: [string, string][] = []) => {
      const res = await req({ method: "GET", path: path(key), headers, query });
      return { res, body: Buffer.from(await res.arrayBuffer()) };
    },
    head: (key: string, headers: Record<string, string> = {}) => req({ method: "HEAD", path: path(key), headers }),
    copy: (key: string, from: string, headers: Record<string, string> = {}) =>
      req({ method: "PUT", path: path(key), headers: { "x-amz-copy-source": `/${bucket}/${from}`, ...headers } }),
    createUpload: async (key: string, headers: Record<string, string> = {}) => {
      const res = await req({ method: "POST", path: path(key), query: [["uploads", ""]], headers });
      const text = await res.text();
      return { res, uploadId: field(text, "UploadId")! };
    },
    uploadPart: (key: string, uploadId: string, partNumber: number, body: Uint8Array, headers: Record<string, string> = {}) =>
      req({ method: "PUT", path: path(key), query: [["partNumber", String(partNumber)], ["uploadId", uploadId]], body, headers }),
    complete: (key: string, uploadId: string, etags: string[], headers: Record<string, string> = {}) =>
      req({
        method: "POST",
        path: path(key),
        query: [["uploadId", uploadId]],
        headers,
        body: `<CompleteMultipartUpload>${etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`).join("")}</CompleteMultipartUpload>`,
      }),
  };
}

/**
 * Expects every write given SSE-C and x-amz-server-side-encryption: AES256 at once to be refused
 * with InvalidArgument, storing nothing (`source`: an object to copy from).
 */
async function expectConflictRefused(client: ReturnType<typeof clientOf>, source: string, body: Uint8Array): Promise<void> {
  const both = { ...sse(keyA), "x-amz-server-side-encryption": "AES256" };
  const { uploadId } = await client.createUpload("both-upload", sse(keyA));
  const writes: Array<[string, () => Promise<Response>]> = [
    ["PutObject", () => client.put("both", body, both)],
    ["CopyObject", () => client.copy("both", source, both)],
    ["CreateMultipartUpload", () => client.req({ method: "POST", path: client.path("both"), query: [["uploads", ""]], headers: both })],
    ["UploadPart", () => client.uploadPart("both-upload", uploadId, 1, body, both)],
  ];
  const got = [];
  for (const [name, write] of writes) {
    const res = await write();
    got.push({ name, status: res.status, code: field(await res.text(), "Code") });
  }
  expect(got).toEqual(writes.map(([name]) => ({ name, status: 400, code: "InvalidArgument" })));
  expect((await client.get("both")).res.status).toBe(404);
}

/** Expects a 200 GET whose body is `expected` and whose answer says it is sealed with `key`. */
async function expectRead(read: { res: Response; body: Buffer }, expected: Buffer, encryption: ReturnType<typeof encryptionOf>): Promise<void> {
  expect(read.res.status).toBe(200);
  expect(encryptionOf(read.res)).toEqual(encryption);
  expect(read.res.headers.get("content-length")).toBe(String(expected.length));
  expect(read.body.length).toBe(expected.length);
  expect(Buffer.compare(read.body, expected)).toBe(0);
}

let server: TestServer;
const bucket = "sse-c";
const c = clientOf(() => server, bucket);

beforeAll(async () => {
  server = await startS3d();
  expect((await c.req({ method: "PUT", path: `/${bucket}` })).status).toBe(200);
});
afterAll(() => server?.stop());

describe("round trips", () => {
  const small = bytesOf(1000, 1); // inline in the row
  const large = bytesOf(1.5 * MiB + 3, 2); // a blob file
  const etags = new Map<string, string>();

  test("PUT, GET and HEAD with a key: headers echoed, bytes back exactly, an ETag that is not the plaintext's MD5", async () => {
    for (const [key, body] of [["small", small], ["large", large]] as const) {
      const put = await c.put(key, body, sse(keyA));
      expect(put.status).toBe(200);
      expect(encryptionOf(put)).toEqual(keyed(keyA));
      const etag = put.headers.get("etag")!;
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect(etag).not.toBe(`"${md5hex(body)}"`);
      etags.set(key, etag);

      await expectRead(await c.get(key, sse(keyA)), body, keyed(keyA));
      // a read may leave the key's MD5 out
      await expectRead(await c.get(key, sse(keyA, "object", { md5: null })), body, keyed(keyA));
      const head = await c.head(key, sse(keyA));
      expect(head.status).toBe(200);
      expect(encryptionOf(head)).toEqual(keyed(keyA));
      expect(head.headers.get("content-length")).toBe(String(body.length));
      expect(head.headers.get("etag")).toBe(etag);
    }
  });

  test("the same bytes under the same key get another ETag each time", async () => {
    const one = (await c.put("again", small, sse(keyA))).headers.get("etag");
    const two = (await c.put("again", small, sse(keyA))).headers.get("etag");
    expect(one).not.toBe(two);
  });

  test("Range GETs of keyed objects", async () => {
    const cases: Array<[string, Buffer, string, number, number]> = [
      ["small", small, "bytes=0-0", 0, 0],
      ["small", small, "bytes=100-599", 100, 599],
      ["small", small, "bytes=-10", small.length - 10, small.length - 1],
      ["large", large, "bytes=0-99", 0, 99],
      ["large", large, "bytes=65530-1048600", 65530, 1048600],
      ["large", large, "bytes=1048576-", 1048576, large.length - 1],
      ["large", large, "bytes=-5", large.length - 5, large.length - 1],
    ];
    for (const [key, body, range, first, last] of cases) {
      const { res, body: got } = await c.get(key, { ...sse(keyA), range });
      expect({ range, status: res.status, contentRange: res.headers.get("content-range") }).toEqual({ range, status: 206, contentRange: `bytes ${first}-${last}/${body.length}` });
      expect(encryptionOf(res)).toEqual(keyed(keyA));
      expect(Buffer.compare(got, body.subarray(first, last + 1))).toBe(0);
    }
    // a range still needs the key
    await expectError(await c.get("large", { range: "bytes=0-9" }), 400, "InvalidRequest");
  });

  test("ListObjectsV2 lists keyed objects with their own ETags and plaintext sizes", async () => {
    const res = await c.req({ method: "GET", path: `/${bucket}`, query: [["list-type", "2"], ["prefix", "l"]] });
    expect(res.status).toBe(200);
    const xml = await res.text();
    const listed = /<Contents><Key>large<\/Key>.*?<ETag>&#34;([0-9a-f]+)&#34;<\/ETag><Size>(\d+)<\/Size>/.exec(xml);
    expect(listed).not.toBeNull();
    expect(`"${listed![1]}"`).toBe(etags.get("large")!);
    expect(listed![1]).not.toBe(md5hex(large));
    expect(Number(listed![2])).toBe(large.length);
    // the plaintext's MD5 shows nowhere in the listing
    const all = await (await c.req({ method: "GET", path: `/${bucket}`, query: [["list-type", "2"]] })).text();
    expect(all).toContain(etags.get("small")!.slice(1, -1));
    expect(all).not.toContain(md5hex(small));
    expect(all).not.toContain(md5hex(large));
  });
});

describe("refusals", () => {
  const body = bytesOf(300, 3);
  let fresh = 0;

  test("malformed SSE-C headers on PutObject: status and code, and nothing stored", async () => {
    const cases: Array<[string, Record<string, string>, number, string]> = [
      ["no algorithm", sse(keyA, "object", { algorithm: null }), 400, "InvalidArgument"],
      ["algorithm AES128", sse(keyA, "object", { algorithm: "AES128" }), 400, "InvalidEncryptionAlgorithmError"],
      ["algorithm aes256", sse(keyA, "object", { algorithm: "aes256" }), 400, "InvalidEncryptionAlgorithmError"],
      ["no key", sse(keyA, "object", { key: null }), 400, "InvalidArgument"],
      ["algorithm alone", sse(keyA, "object", { key: null, md5: null }), 400, "InvalidArgument"],
      ["key MD5 alone", sse(keyA, "object", { algorithm: null, key: null }), 400, "InvalidArgument"],
      ["a 31-byte key", sse(keyA, "object", { key: Buffer.alloc(31, 1).toString("base64"), md5: md5b64(Buffer.alloc(31, 1)) }), 400, "InvalidArgument"],
      ["a 33-byte key", sse(keyA, "object", { key: Buffer.alloc(33, 1).toString("base64"), md5: md5b64(Buffer.alloc(33, 1)) }), 400, "InvalidArgument"],
      ["a key not base64", sse(keyA, "object", { key: "not*base64*at*all!!" }), 400, "InvalidArgument"],
      ["a hex key", sse(keyA, "object", { key: keyA.toString("hex") }), 400, "InvalidArgument"],
      ["no key MD5", sse(keyA, "object", { md5: null }), 400, "InvalidArgument"],
      ["another key's MD5", sse(keyA, "object", { md5: md5b64(keyB) }), 400, "InvalidArgument"],
      ["an MD5 in hex", sse(keyA, "object", { md5: md5hex(keyA) }), 400, "InvalidArgument"],
    ];
    for (const [name, headers, status, code] of cases) {
      const key = `refused-${++fresh}`;
      const res = await c.put(key, body, headers);
      const text = await res.text();
      expect({ name, status: res.status, code: field(text, "Code") }).toEqual({ name, status, code });
      // nothing was stored
      const after = await c.get(key);
      expect({ name, after: after.res.status }).toEqual({ name, after: 404 });
    }
  });

  test("SSE-C parameters in the query string (as some SDKs presign them) are refused, never taken for a plain write", async () => {
    const query = Object.entries(sse(keyA)).map(([name, value]): [string, string] => [name, value]);
    for (const [name] of query) {
      const res = await c.req({ method: "PUT", path: c.path("in-query"), query: [[name, query.find(([n]) => n === name)![1]]], body });
      expect({ name, status: res.status, code: field(await res.text(), "Code") }).toEqual({ name, status: 400, code: "InvalidArgument" });
    }
    const copySource = await c.req({ method: "PUT", path: c.path("in-query"), query: [["x-amz-copy-source-server-side-encryption-customer-key", "a2V5"]], headers: { "x-amz-copy-source": c.path("src-for-query") } });
    expect([copySource.status, field(await copySource.text(), "Code")]).toEqual([400, "InvalidArgument"]);
    expect((await c.get("in-query")).res.status).toBe(404);
  });

  test("SSE-C with x-amz-server-side-encryption: AES256 (no key at rest): InvalidArgument on every write", async () => {
    expect((await c.put("src-for-both", body)).status).toBe(200);
    await expectConflictRefused(c, "src-for-both", body);
  });

  test("a refused keyed overwrite leaves the object as it was", async () => {
    const before = bytesOf(500, 4);
    expect((await c.put("kept", before)).status).toBe(200);
    await expectError(await c.put("kept", bytesOf(500, 5), sse(keyA, "object", { md5: md5b64(keyB) })), 400, "InvalidArgument");
    await expectRead(await c.get("kept"), before, plain());
    expect((await c.put("kept-keyed", before, sse(keyA))).status).toBe(200);
    await expectError(await c.put("kept-keyed", bytesOf(500, 5), sse(keyB, "object", { algorithm: "AES128" })), 400, "InvalidEncryptionAlgorithmError");
    await expectRead(await c.get("kept-keyed", sse(keyA)), before, keyed(keyA));
  });

  test("reading a keyed object: without its key InvalidRequest, with another AccessDenied, malformed headers refused", async () => {
    const stored = bytesOf(2000, 6);
    expect((await c.put("locked", stored, sse(keyA))).status).toBe(200);
    await expectError(await c.get("locked"), 400, "InvalidRequest");
    await expectError(await c.head("locked"), 400, undefined);
    await expectError(await c.get("locked", sse(keyB)), 403, "AccessDenied");
    await expectError(await c.head("locked", sse(keyB)), 403, undefined);
    await expectError(await c.get("locked", sse(keyB, "object", { md5: null })), 403, "AccessDenied");
    await expectError(await c.get("locked", sse(keyA, "object", { md5: md5b64(keyB) })), 400, "InvalidArgument");
    await expectError(await c.get("locked", sse(keyA, "object", { algorithm: "AES512" })), 400, "InvalidEncryptionAlgorithmError");
    await expectError(await c.get("locked", sse(keyA, "object", { key: null })), 400, "InvalidArgument");
    await expectError(await c.get("locked", { ...sse(keyA), "x-amz-server-side-encryption": "AES256" }), 400, "InvalidArgument");
    // the copy-source trio is not the object's key
    await expectError(await c.get("locked", sse(keyA, "source")), 400, "InvalidRequest");
    // and the object is intact
    await expectRead(await c.get("locked", sse(keyA)), stored, keyed(keyA));
  });

  test("a key given for a plain object: InvalidRequest (GET and HEAD)", async () => {
    const stored = bytesOf(700, 7);
    expect((await c.put("unkeyed", stored)).status).toBe(200);
    await expectError(await c.get("unkeyed", sse(keyA)), 400, "InvalidRequest");
    await expectError(await c.head("unkeyed", sse(keyA)), 400, undefined);
    await expectRead(await c.get("unkeyed"), stored, plain());
  });
});

describe("CopyObject", () => {
  const small = bytesOf(4000, 8);
  const large = bytesOf(MiB + 17, 9);

  beforeAll(async () => {
    expect((await c.put("src-small", small, sse(keyA))).status).toBe(200);
    expect((await c.put("src-large", large, sse(keyA))).status).toBe(200);
    expect((await c.put("src-plain", small)).status).toBe(200);
  });

  test("a keyed source needs its key in the copy-source trio", async () => {
    await expectError(await c.copy("copy-refused", "src-small"), 400, "InvalidRequest");
    // the object's trio is the destination's, not the source's
    await expectError(await c.copy("copy-refused", "src-small", sse(keyA)), 400, "InvalidRequest");
    await expectError(await c.copy("copy-refused", "src-small", sse(keyB, "source")), 403, "AccessDenied");
    await expectError(await c.copy("copy-refused", "src-small", sse(keyA, "source", { algorithm: "AES128" })), 400, "InvalidEncryptionAlgorithmError");
    await expectError(await c.copy("copy-refused", "src-small", sse(keyA, "source", { md5: md5b64(keyB) })), 400, "InvalidArgument");
    // a key for a plain source
    await expectError(await c.copy("copy-refused", "src-plain", sse(keyA, "source")), 400, "InvalidRequest");
    // a malformed destination trio
    await expectError(await c.copy("copy-refused", "src-small", { ...sse(keyA, "source"), ...sse(keyB, "object", { md5: null }) }), 400, "InvalidArgument");
    expect((await c.get("copy-refused")).res.status).toBe(404);
  });

  test("keyed source to a plain destination: readable without a key", async () => {
    for (const [from, bytes] of [["src-small", small], ["src-large", large]] as const) {
      const to = `plain-from-${from}`;
      const res = await c.copy(to, from, sse(keyA, "source"));
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(encryptionOf(res)).toEqual(plain());
      // a plain copy's ETag is its MD5 again
      expect(field(text, "ETag")).toBe(`&#34;${md5hex(bytes)}&#34;`);
      await expectRead(await c.get(to), bytes, plain());
      await expectError(await c.get(to, sse(keyA)), 400, "InvalidRequest");
    }
  });

  test("keyed source to a destination with another key", async () => {
    for (const [from, bytes] of [["src-small", small], ["src-large", large]] as const) {
      const to = `rekeyed-from-${from}`;
      const res = await c.copy(to, from, { ...sse(keyA, "source"), ...sse(keyB) });
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(encryptionOf(res)).toEqual(keyed(keyB));
      expect(field(text, "ETag")).not.toBe(`&#34;${md5hex(bytes)}&#34;`);
      await expectRead(await c.get(to, sse(keyB)), bytes, keyed(keyB));
      await expectError(await c.get(to, sse(keyA)), 403, "AccessDenied");
      await expectError(await c.get(to), 400, "InvalidRequest");
    }
  });

  test("a plain source to a keyed destination", async () => {
    const res = await c.copy("keyed-from-plain", "src-plain", sse(keyC));
    expect(res.status).toBe(200);
    expect(encryptionOf(res)).toEqual(keyed(keyC));
    await expectRead(await c.get("keyed-from-plain", sse(keyC)), small, keyed(keyC));
    await expectError(await c.get("keyed-from-plain"), 400, "InvalidRequest");
  });

  test("onto itself with a new key: allowed; afterwards only the new key opens it", async () => {
    for (const [name, bytes] of [["self-small", small], ["self-large", large]] as const) {
      expect((await c.put(name, bytes, sse(keyA))).status).toBe(200);
      const res = await c.copy(name, name, { ...sse(keyA, "source"), ...sse(keyB) });
      expect(res.status).toBe(200);
      expect(encryptionOf(res)).toEqual(keyed(keyB));
      await expectRead(await c.get(name, sse(keyB)), bytes, keyed(keyB));
      await expectError(await c.get(name, sse(keyA)), 403, "AccessDenied");
      await expectError(await c.get(name), 400, "InvalidRequest");
    }
    // and a plain object encrypted in place with a key
    expect((await c.put("self-plain", small)).status).toBe(200);
    expect((await c.copy("self-plain", "self-plain", sse(keyC))).status).toBe(200);
    await expectRead(await c.get("self-plain", sse(keyC)), small, keyed(keyC));
    await expectError(await c.get("self-plain"), 400, "InvalidRequest");
    // and decrypted in place: the source's key alone changes the encryption too
    expect((await c.copy("self-plain", "self-plain", sse(keyC, "source"))).status).toBe(200);
    await expectRead(await c.get("self-plain"), small, plain());
    // while a plain object copied onto itself unchanged is still refused
    await expectError(await c.copy("self-plain", "self-plain"), 400, "InvalidRequest");
  });
});

describe("multipart uploads", () => {
  const part1 = bytesOf(5 * MiB, 10);
  const part2 = bytesOf(12345, 11);

  test("create and upload with a key, complete without it, GET (whole and by part) with it", async () => {
    const create = await c.createUpload("mp", sse(keyA));
    expect(create.res.status).toBe(200);
    expect(encryptionOf(create.res)).toEqual(keyed(keyA));
    const etags: string[] = [];
    for (const [n, body] of [[1, part1], [2, part2]] as const) {
      const res = await c.uploadPart("mp", create.uploadId, n, body, sse(keyA));
      expect(res.status).toBe(200);
      expect(encryptionOf(res)).toEqual(keyed(keyA));
      const etag = res.headers.get("etag")!;
      expect(etag).not.toBe(`"${md5hex(body)}"`);
      etags.push(etag);
    }
    const done = await c.complete("mp", create.uploadId, etags);
    expect(done.status).toBe(200);
    const whole = Buffer.concat([part1, part2]);
    await expectRead(await c.get("mp", sse(keyA)), whole, keyed(keyA));
    await expectError(await c.get("mp"), 400, "InvalidRequest");
    await expectError(await c.get("mp", sse(keyB)), 403, "AccessDenied");
    const second = await c.get("mp", sse(keyA), [["partNumber", "2"]]);
    expect(second.res.status).toBe(206);
    expect(Buffer.compare(second.body, part2)).toBe(0);
    const range = await c.get("mp", { ...sse(keyA), range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` });
    expect(range.res.status).toBe(206);
    expect(Buffer.compare(range.body, whole.subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(0);
  });

  test("checksums of a keyed upload are answered with the key only: ListParts and Complete need it, as do HEAD's and GetObjectAttributes'", async () => {
    const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("base64");
    const create = await c.createUpload("mp-sums", { ...sse(keyA), "x-amz-checksum-algorithm": "SHA256" });
    expect(create.res.status).toBe(200);
    const etags: string[] = [];
    for (const [n, body] of [[1, part1], [2, part2]] as const) {
      const res = await c.uploadPart("mp-sums", create.uploadId, n, body, { ...sse(keyA), "x-amz-checksum-sha256": sha(body) });
      expect([res.status, res.headers.get("x-amz-checksum-sha256")]).toEqual([200, sha(body)]);
      etags.push(res.headers.get("etag")!);
    }
    const list = (headers: Record<string, string> = {}) => c.req({ method: "GET", path: c.path("mp-sums"), query: [["uploadId", create.uploadId]], headers });
    await expectError(await list(), 400, "InvalidRequest");
    await expectError(await list(sse(keyB)), 400, "InvalidRequest");
    const listed = await (await list(sse(keyA))).text();
    expect(listed).toContain(`<ChecksumSHA256>${sha(part1)}</ChecksumSHA256>`);
    const parts = etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag><ChecksumSHA256>${sha([part1, part2][i])}</ChecksumSHA256></Part>`).join("");
    const complete = (headers: Record<string, string> = {}) =>
      c.req({ method: "POST", path: c.path("mp-sums"), query: [["uploadId", create.uploadId]], headers, body: `<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>` });
    await expectError(await complete(), 400, "InvalidRequest");
    const done = await complete(sse(keyA));
    const doneXml = await done.text();
    expect(done.status).toBe(200);
    const objectSum = field(doneXml, "ChecksumSHA256")!;
    expect(objectSum).toMatch(/-2$/);
    const head = (headers: Record<string, string>) => c.head("mp-sums", { ...headers, "x-amz-checksum-mode": "ENABLED" });
    expect((await head(sse(keyA))).headers.get("x-amz-checksum-sha256")).toBe(objectSum);
    expect((await head({})).status).toBe(400);
    const attributes = await c.req({ method: "GET", path: c.path("mp-sums"), query: [["attributes", ""]], headers: { ...sse(keyA), "x-amz-object-attributes": "Checksum" } });
    expect(field(await attributes.text(), "ChecksumSHA256")).toBe(objectSum);
  });

  test("a part without the upload's key, with another, or with one for a plain upload: InvalidRequest", async () => {
    const body = bytesOf(1000, 12);
    const { uploadId } = await c.createUpload("mp-refused", sse(keyA));
    await expectError(await c.uploadPart("mp-refused", uploadId, 1, body), 400, "InvalidRequest");
    await expectError(await c.uploadPart("mp-refused", uploadId, 1, body, sse(keyB)), 400, "InvalidRequest");
    await expectError(await c.uploadPart("mp-refused", uploadId, 1, body, sse(keyA, "object", { md5: null })), 400, "InvalidArgument");
    await expectError(await c.uploadPart("mp-refused", uploadId, 1, body, sse(keyA, "object", { algorithm: "AES128" })), 400, "InvalidEncryptionAlgorithmError");
    const listed = await (await c.req({ method: "GET", path: c.path("mp-refused"), query: [["uploadId", uploadId]] })).text();
    expect(listed).not.toContain("<Part>");
    const plainUpload = await c.createUpload("mp-plain");
    await expectError(await c.uploadPart("mp-plain", plainUpload.uploadId, 1, body, sse(keyA)), 400, "InvalidRequest");
    // a malformed trio on create: no upload
    await expectError(await c.req({ method: "POST", path: c.path("mp-bad"), query: [["uploads", ""]], headers: sse(keyA, "object", { md5: null }) }), 400, "InvalidArgument");
  });

  test("UploadPartCopy from a keyed source into a keyed upload", async () => {
    const source = bytesOf(6 * MiB + 100, 13);
    expect((await c.put("copy-source", source, sse(keyA))).status).toBe(200);
    const { res, uploadId } = await c.createUpload("mp-copied", sse(keyB));
    expect(res.status).toBe(200);
    const copyPart = (n: number, range: string, headers: Record<string, string>) =>
      c.req({ method: "PUT", path: c.path("mp-copied"), query: [["partNumber", String(n)], ["uploadId", uploadId]], headers: { "x-amz-copy-source": `/${bucket}/copy-source`, "x-amz-copy-source-range": range, ...headers } });
    const first = `bytes=0-${5 * MiB - 1}`;
    await expectError(await copyPart(1, first, sse(keyB)), 400, "InvalidRequest");
    await expectError(await copyPart(1, first, sse(keyA, "source")), 400, "InvalidRequest");
    await expectError(await copyPart(1, first, { ...sse(keyC, "source"), ...sse(keyB) }), 403, "AccessDenied");
    await expectError(await copyPart(1, first, { ...sse(keyA, "source"), ...sse(keyC) }), 400, "InvalidRequest");
    const etags: string[] = [];
    for (const [n, range] of [[1, first], [2, `bytes=${5 * MiB}-${source.length - 1}`]] as const) {
      const part = await copyPart(n, range, { ...sse(keyA, "source"), ...sse(keyB) });
      const text = await part.text();
      expect({ n, status: part.status }).toEqual({ n, status: 200 });
      expect(encryptionOf(part)).toEqual(keyed(keyB));
      etags.push(field(text, "ETag")!.replaceAll("&#34;", '"'));
    }
    expect((await c.complete("mp-copied", uploadId, etags)).status).toBe(200);
    await expectRead(await c.get("mp-copied", sse(keyB)), source, keyed(keyB));
    await expectError(await c.get("mp-copied", sse(keyA)), 403, "AccessDenied");
  });
});

describe("attributes and tagging", () => {
  const stored = bytesOf(3000, 14);
  let etag: string;

  beforeAll(async () => {
    const put = await c.put("attrs", stored, sse(keyA));
    expect(put.status).toBe(200);
    etag = put.headers.get("etag")!.slice(1, -1);
  });

  test("GetObjectAttributes needs the key", async () => {
    const attributes = (headers: Record<string, string>) =>
      c.req({ method: "GET", path: c.path("attrs"), query: [["attributes", ""]], headers: { "x-amz-object-attributes": "ETag,ObjectSize,StorageClass", ...headers } });
    await expectError(await attributes({}), 400, "InvalidRequest");
    await expectError(await attributes(sse(keyB)), 403, "AccessDenied");
    const res = await attributes(sse(keyA));
    const xml = await res.text();
    expect(res.status).toBe(200);
    expect({ etag: field(xml, "ETag"), size: field(xml, "ObjectSize") }).toEqual({ etag, size: String(stored.length) });
    expect(etag).not.toBe(md5hex(stored));
  });

  test("PutObjectTagging and GetObjectTagging work without the key", async () => {
    const put = await c.req({
      method: "PUT",
      path: c.path("attrs"),
      query: [["tagging", ""]],
      body: "<Tagging><TagSet><Tag><Key>colour</Key><Value>blue</Value></Tag></TagSet></Tagging>",
    });
    expect(put.status).toBe(200);
    const got = await c.req({ method: "GET", path: c.path("attrs"), query: [["tagging", ""]] });
    const xml = await got.text();
    expect(got.status).toBe(200);
    expect({ key: field(xml, "Key"), value: field(xml, "Value") }).toEqual({ key: "colour", value: "blue" });
    // the object's bytes still need the key, and come back with its tag count
    const read = await c.get("attrs", sse(keyA));
    await expectRead(read, stored, keyed(keyA));
    expect(read.res.headers.get("x-amz-tagging-count")).toBe("1");
    await expectError(await c.get("attrs"), 400, "InvalidRequest");
  });
});

test("a server started with --sse-c-over-loopback false takes no key over plain HTTP, even from this machine", async () => {
  const strict = await startS3d({ args: ["--sse-c-over-loopback", "false"] });
  try {
    const s = clientOf(() => strict, "strict");
    expect((await s.req({ method: "PUT", path: "/strict" })).status).toBe(200);
    const refused = await s.put("keyed", bytesOf(100, 19), sse(keyA));
    expect([refused.status, field(await refused.text(), "Message")]).toEqual([400, "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection."]);
    expect((await s.get("keyed")).res.status).toBe(404);
    expect((await s.put("plain", bytesOf(100, 19))).status).toBe(200);
  } finally {
    await strict.stop();
  }
});

describe("a bucket that blocks SSE-C (BlockedEncryptionTypes)", () => {
  const b = clientOf(() => server, "sse-c-blocked");
  const body = bytesOf(2000, 18);
  const encryption = (xml: string) => b.req({ method: "PUT", path: "/sse-c-blocked", query: [["encryption", ""]], body: xml, headers: { "content-md5": md5b64(Buffer.from(xml)) } });
  const rule = (inner: string) => `<ServerSideEncryptionConfiguration><Rule>${inner}</Rule></ServerSideEncryptionConfiguration>`;
  const blocking = (...types: string[]) => rule(`<BlockedEncryptionTypes>${types.map((t) => `<EncryptionType>${t}</EncryptionType>`).join("")}</BlockedEncryptionTypes>`);
  const configuration = async () => {
    const res = await b.req({ method: "GET", path: "/sse-c-blocked", query: [["encryption", ""]] });
    return { status: res.status, body: await res.text() };
  };

  let uploadBefore = "";

  beforeAll(async () => {
    expect((await b.req({ method: "PUT", path: "/sse-c-blocked" })).status).toBe(200);
    expect((await b.put("keyed-before", body, sse(keyA))).status).toBe(200);
    uploadBefore = (await b.createUpload("upload-before", sse(keyA))).uploadId;
  });

  test("SSE-C writes are refused with 403 AccessDenied before the key is looked at, store nothing; reads, copies out and plain writes go on", async () => {
    expect((await encryption(blocking("SSE-C"))).status).toBe(200);
    // (no master key on this server: the configuration holds the blocked type alone)
    expect(await configuration()).toEqual({
      status: 200,
      body: expect.stringContaining("<Rule><BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes></Rule>"),
    });
    const writes: Array<[string, () => Promise<Response>]> = [
      ["PutObject", () => b.put("keyed-after", body, sse(keyA))],
      ["PutObject, a malformed key", () => b.put("keyed-after", body, sse(keyA, "object", { key: "not-a-key" }))],
      ["CopyObject to a keyed copy", () => b.copy("keyed-after", "keyed-before", { ...sse(keyA, "source"), ...sse(keyB) })],
      ["CreateMultipartUpload", () => b.req({ method: "POST", path: b.path("keyed-after"), query: [["uploads", ""]], headers: sse(keyA) })],
    ];
    const got = [];
    for (const [name, write] of writes) {
      const res = await write();
      got.push({ name, status: res.status, code: field(await res.text(), "Code") });
    }
    expect(got).toEqual(writes.map(([name]) => ({ name, status: 403, code: "AccessDenied" })));
    expect((await b.get("keyed-after", sse(keyA))).res.status).toBe(404);

    await expectRead(await b.get("keyed-before", sse(keyA)), body, keyed(keyA));
    expect((await b.copy("plain-copy", "keyed-before", sse(keyA, "source"))).status).toBe(200);
    await expectRead(await b.get("plain-copy"), body, plain());
    expect((await b.put("plain", body)).status).toBe(200);
    // every request of a multipart upload that carries a key is refused too, for an upload begun before the block as well
    await expectError(await b.uploadPart("upload-before", uploadBefore, 1, body, sse(keyA)), 403, "AccessDenied");
    const copyPart = b.req({ method: "PUT", path: b.path("upload-before"), query: [["partNumber", "1"], ["uploadId", uploadBefore]], headers: { "x-amz-copy-source": "/sse-c-blocked/plain", ...sse(keyA) } });
    await expectError(await copyPart, 403, "AccessDenied");
    await expectError(await b.complete("upload-before", uploadBefore, ["\"00\""], sse(keyA)), 403, "AccessDenied");
  });

  test("NONE unblocks, and so does deleting the configuration; bad configurations are refused", async () => {
    expect((await encryption(blocking("NONE"))).status).toBe(200);
    expect((await configuration()).body).toContain("<BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes>");
    expect(encryptionOf(await b.put("keyed-unblocked", body, sse(keyB)))).toEqual(keyed(keyB));

    expect((await encryption(blocking("SSE-C"))).status).toBe(200);
    expect((await b.put("keyed-unblocked", body, sse(keyB))).status).toBe(403);
    expect((await b.req({ method: "DELETE", path: "/sse-c-blocked", query: [["encryption", ""]] })).status).toBe(204);
    expect(await configuration()).toEqual({ status: 404, body: expect.stringContaining("<Code>ServerSideEncryptionConfigurationNotFoundError</Code>") });
    expect((await b.put("keyed-unblocked", body, sse(keyB))).status).toBe(200);

    for (const [xml, status, code] of [
      [blocking("SSE-KMS"), 400, "MalformedXML"],
      [blocking(), 400, "MalformedXML"],
      [blocking("NONE", "SSE-C"), 400, "InvalidArgument"],
      [rule(""), 400, "MalformedXML"],
      // a default of AES256 needs a master key, blocked types or not
      [rule(`<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>`), 501, "NotImplemented"],
    ] as const) {
      await expectError(await encryption(xml), status, code);
    }
    expect((await configuration()).status).toBe(404);
  });
});

describe("with an encryption key at rest", () => {
  let dir: string;
  let sealed: TestServer;
  const e = clientOf(() => sealed, "at-rest");
  const small = bytesOf(900, 15);
  const large = bytesOf(MiB + 5, 16);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "s3d-sse-c-"));
    const keyFile = join(dir, "master.key");
    writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
    sealed = await startS3d({ args: ["--encryption-key-file", keyFile] });
    expect((await e.req({ method: "PUT", path: "/at-rest" })).status).toBe(200);
  });
  afterAll(async () => {
    await sealed?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("keyed objects' answers carry the customer headers, not AES256; plain objects' carry AES256", async () => {
    for (const [key, body] of [["small", small], ["large", large]] as const) {
      expect(encryptionOf(await e.put(`keyed-${key}`, body, sse(keyA)))).toEqual(keyed(keyA));
      await expectRead(await e.get(`keyed-${key}`, sse(keyA)), body, keyed(keyA));
      expect(encryptionOf(await e.head(`keyed-${key}`, sse(keyA)))).toEqual(keyed(keyA));
      const range = await e.get(`keyed-${key}`, { ...sse(keyA), range: "bytes=10-19" });
      expect(range.res.status).toBe(206);
      expect(encryptionOf(range.res)).toEqual(keyed(keyA));
      expect(Buffer.compare(range.body, body.subarray(10, 20))).toBe(0);

      expect(encryptionOf(await e.put(`plain-${key}`, body))).toEqual(plain(true));
      await expectRead(await e.get(`plain-${key}`), body, plain(true));
      expect(encryptionOf(await e.head(`plain-${key}`))).toEqual(plain(true));
    }
    // copies: to a keyed destination, to a plain one
    const toKeyed = await e.copy("copy-keyed", "keyed-large", { ...sse(keyA, "source"), ...sse(keyB) });
    expect(toKeyed.status).toBe(200);
    expect(encryptionOf(toKeyed)).toEqual(keyed(keyB));
    await expectRead(await e.get("copy-keyed", sse(keyB)), large, keyed(keyB));
    const toPlain = await e.copy("copy-plain", "keyed-large", sse(keyA, "source"));
    expect(toPlain.status).toBe(200);
    expect(encryptionOf(toPlain)).toEqual(plain(true));
    await expectRead(await e.get("copy-plain"), large, plain(true));
    // multipart
    const create = await e.createUpload("mp", sse(keyC));
    expect(encryptionOf(create.res)).toEqual(keyed(keyC));
    const first = bytesOf(5 * MiB, 18);
    const part1 = await e.uploadPart("mp", create.uploadId, 1, first, sse(keyC));
    expect(part1.status).toBe(200);
    expect(encryptionOf(part1)).toEqual(keyed(keyC));
    const part2 = await e.req({
      method: "PUT",
      path: e.path("mp"),
      query: [["partNumber", "2"], ["uploadId", create.uploadId]],
      headers: { "x-amz-copy-source": "/at-rest/keyed-small", ...sse(keyA, "source"), ...sse(keyC) },
    });
    const part2Xml = await part2.text();
    expect(part2.status).toBe(200);
    expect(encryptionOf(part2)).toEqual(keyed(keyC));
    const done = await e.complete("mp", create.uploadId, [part1.headers.get("etag")!, field(part2Xml, "ETag")!.replaceAll("&#34;", '"')]);
    expect(done.status).toBe(200);
    // (its request carries no key to echo: the algorithm alone, and no AES256)
    expect(encryptionOf(done)).toEqual({ algorithm: "AES256", keyMd5: null, sse: null });
    await expectRead(await e.get("mp", sse(keyC)), Buffer.concat([first, small]), keyed(keyC));
  });

  test("SSE-C together with x-amz-server-side-encryption: AES256 is InvalidArgument on every write", async () => {
    await expectConflictRefused(e, "plain-small", small);
    // a keyed source copied into an SSE-S3 destination is no conflict: the trio is the source's
    const decrypted = await e.copy("sse-s3-copy", "keyed-small", { ...sse(keyA, "source"), "x-amz-server-side-encryption": "AES256" });
    expect(decrypted.status).toBe(200);
    expect(encryptionOf(decrypted)).toEqual(plain(true));
    await expectRead(await e.get("sse-s3-copy"), small, plain(true));
  });

  test("default encryption AES256 with SSE-C blocked: both given back, SSE-C writes refused, plain ones sealed as ever", async () => {
    const xml = `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled><BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes></Rule></ServerSideEncryptionConfiguration>`;
    const config = (method: string, body?: string) => e.req({ method, path: "/at-rest", query: [["encryption", ""]], body, headers: body === undefined ? {} : { "content-md5": md5b64(Buffer.from(body)) } });
    expect((await config("PUT", xml)).status).toBe(200);
    expect(await (await config("GET")).text()).toContain(
      "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled><BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes></Rule>",
    );
    await expectError(await e.put("blocked", small, sse(keyA)), 403, "AccessDenied");
    expect(encryptionOf(await e.put("blocked", small))).toEqual(plain(true));
    expect((await config("DELETE")).status).toBe(204);
  });

  test("after a restart a keyed object opens with its key and only with it", async () => {
    const body = bytesOf(70 * 1024, 17);
    expect((await e.put("durable", body, sse(keyB))).status).toBe(200);
    await sealed.crash();
    await sealed.restart();
    await expectRead(await e.get("durable", sse(keyB)), body, keyed(keyB));
    await expectRead(await e.get("keyed-small", sse(keyA)), small, keyed(keyA));
    await expectError(await e.get("durable", sse(keyA)), 403, "AccessDenied");
    await expectError(await e.get("durable"), 400, "InvalidRequest");
  });
});
