/**
 * Encryption at rest end to end: dist/s3d with --encryption-key-file, driven by the signed test
 * client. Objects read back exactly (whole, ranges, multipart, copies) with plaintext sizes,
 * nothing on disk holds their bytes, and tampered data is an error, never a complete answer.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorCode, md5Base64, postPolicyFields, s3 } from "../support/client.ts";
import { startS3d, type TestServer } from "../support/server.ts";

const P = 8192;
const bucket = "sealed";
const marker = Buffer.from("E2E-PLAINTEXT-MARKER-51c7/");
const md5 = (b: Uint8Array | string) => createHash("md5").update(b).digest("hex");

function marked(n: number, salt: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += marker.length) marker.copy(out, i, 0, Math.min(marker.length, n - i));
  // a few varying bytes so that objects differ and a misplaced range shows
  for (let i = 0; i < n; i += 997) out[i] = (i + salt) & 0xff;
  return out;
}

let dir: string;
let keyFile: string;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "s3d-enc-e2e-"));
  keyFile = join(dir, "master.key");
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  server = await startS3d({ args: ["--encryption-key-file", keyFile] });
  expect((await s3(server.endpoint, { method: "PUT", path: `/${bucket}` })).status).toBe(200);
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const req = (r: Parameters<typeof s3>[1]) => s3(server.endpoint, r);
const get = async (key: string, range?: string) => {
  const res = await req({ method: "GET", path: `/${bucket}/${key}`, headers: range ? { range } : {} });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
};

async function multipart(key: string, parts: Buffer[]): Promise<void> {
  const init = await (await req({ method: "POST", path: `/${bucket}/${key}`, query: [["uploads", ""]] })).text();
  const uploadId = /<UploadId>([^<]+)</.exec(init)![1];
  let xml = "<CompleteMultipartUpload>";
  for (const [i, part] of parts.entries()) {
    const res = await req({ method: "PUT", path: `/${bucket}/${key}`, query: [["partNumber", String(i + 1)], ["uploadId", uploadId]], body: part });
    expect(res.status).toBe(200);
    xml += `<Part><PartNumber>${i + 1}</PartNumber><ETag>${res.headers.get("etag")}</ETag></Part>`;
  }
  xml += "</CompleteMultipartUpload>";
  expect((await req({ method: "POST", path: `/${bucket}/${key}`, query: [["uploadId", uploadId]], body: xml })).status).toBe(200);
}

describe("an encrypted data dir through the S3 API", () => {
  const small = marked(3 * P + 5, 1);
  const large = marked(3 * 1024 * 1024 + 7, 2);
  const part1 = marked(5 * 1024 * 1024, 3);
  const part2 = marked(2 * P + 9, 4);

  test("PUT and GET: small (inline), large (blob), empty; plaintext sizes and ETags", async () => {
    for (const [key, body] of [["small", small], ["large", large], ["empty", Buffer.alloc(0)]] as const) {
      const put = await req({ method: "PUT", path: `/${bucket}/${key}`, body });
      expect(put.status).toBe(200);
      expect(put.headers.get("etag")).toBe(`"${md5(body)}"`);
      const got = await get(key);
      expect(got.status).toBe(200);
      expect(got.headers.get("content-length")).toBe(String(body.length));
      expect(Buffer.compare(got.body, body)).toBe(0);
      const head = await req({ method: "HEAD", path: `/${bucket}/${key}` });
      expect(head.headers.get("content-length")).toBe(String(body.length));
    }
    const list = await (await req({ method: "GET", path: `/${bucket}`, query: [["list-type", "2"]] })).text();
    expect(list).toContain(`<Key>large</Key>`);
    expect(list).toContain(`<Size>${large.length}</Size>`);
    expect(list).toContain(`<Size>${small.length}</Size>`);
  });

  test("a POST Object form is sealed like a PUT, and its answer says so", async () => {
    const content = marked(3 * P + 5, 9);
    const form = new FormData();
    for (const [name, value] of Object.entries({ key: "posted", ...postPolicyFields(bucket, [{ key: "posted" }]) })) form.append(name, value);
    form.append("file", new Blob([content]), "posted.bin");
    const res = await fetch(`${server.endpoint}/${bucket}`, { method: "POST", body: form });
    expect([res.status, res.headers.get("x-amz-server-side-encryption"), res.headers.get("etag")]).toEqual([204, "AES256", `"${md5(content)}"`]);
    expect(Buffer.compare((await get("posted")).body, content)).toBe(0);
  });

  test("SSE-S3 (x-amz-server-side-encryption: AES256) is what this server does anyway: accepted, and every object answer says so", async () => {
    const put = await req({ method: "PUT", path: `/${bucket}/sse-s3`, body: small, headers: { "x-amz-server-side-encryption": "AES256" } });
    expect(put.status).toBe(200);
    expect(put.headers.get("x-amz-server-side-encryption")).toBe("AES256");
    const got = await get("sse-s3");
    expect(Buffer.compare(got.body, small)).toBe(0);
    expect(got.headers.get("x-amz-server-side-encryption")).toBe("AES256");
    expect((await req({ method: "HEAD", path: `/${bucket}/sse-s3` })).headers.get("x-amz-server-side-encryption")).toBe("AES256");
    // copying an object onto itself naming the encryption is how S3 users encrypt in place: allowed
    const inPlace = await req({ method: "PUT", path: `/${bucket}/sse-s3`, headers: { "x-amz-copy-source": `/${bucket}/sse-s3`, "x-amz-server-side-encryption": "AES256" } });
    expect([inPlace.status, inPlace.headers.get("x-amz-server-side-encryption")]).toEqual([200, "AES256"]);
    expect(Buffer.compare((await get("sse-s3")).body, small)).toBe(0);
    // errors do not carry it
    expect((await req({ method: "GET", path: `/${bucket}/no-such-key` })).headers.get("x-amz-server-side-encryption")).toBeNull();
  });

  test("default encryption AES256, which this server gives every object, can be put (as Terraform puts it) and deleted; KMS cannot", async () => {
    const sse = (algorithm: string) =>
      `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>${algorithm}</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`;
    const put = (body: string) => req({ method: "PUT", path: `/${bucket}`, query: [["encryption", ""]], body, headers: { "content-md5": md5Base64(body) } });
    const get = async () => await (await req({ method: "GET", path: `/${bucket}`, query: [["encryption", ""]] })).text();
    expect(await get()).toContain("<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled>");
    expect((await put(sse("AES256"))).status).toBe(200);
    // the bucket key asked for is given back as set, so that tools see no change to make
    expect(await get()).toContain("<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>");
    expect(await errorCode(await put(sse("aws:kms")))).toBe("NotImplemented");
    expect(await errorCode(await put(sse("AES256").replace("</SSEAlgorithm>", "</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID>")))).toBe("InvalidArgument");
    expect((await req({ method: "DELETE", path: `/${bucket}`, query: [["encryption", ""]] })).status).toBe(204);
    expect(await get()).toContain("<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled>");
  });

  test("ranges across fragment boundaries", async () => {
    for (const [key, body] of [["small", small], ["large", large]] as const) {
      const n = body.length;
      for (const [s, e] of [[0, 0], [n - 1, n - 1], [P - 1, P], [P, P], [P + 1, 3 * P], [P - 1, 2 * P + 1], [0, n - 1], [5, n - 2]]) {
        const got = await get(key, `bytes=${s}-${e}`);
        expect(got.status).toBe(206);
        expect(got.headers.get("content-range")).toBe(`bytes ${s}-${e}/${n}`);
        expect([key, s, e, Buffer.compare(got.body, body.subarray(s, e + 1))]).toEqual([key, s, e, 0]);
      }
      const suffix = await get(key, "bytes=-8193");
      expect(Buffer.compare(suffix.body, body.subarray(n - 8193))).toBe(0);
    }
  });

  test("multipart, CopyObject and UploadPartCopy", async () => {
    await multipart("multi", [part1, part2]);
    const whole = Buffer.concat([part1, part2]);
    expect(Buffer.compare((await get("multi")).body, whole)).toBe(0);
    const across = await get("multi", `bytes=${part1.length - 3}-${part1.length + P + 2}`);
    expect(Buffer.compare(across.body, whole.subarray(part1.length - 3, part1.length + P + 3))).toBe(0);

    for (const [source, body] of [["large", large], ["small", small], ["multi", whole]] as const) {
      const copied = await req({ method: "PUT", path: `/${bucket}/copy-of-${source}`, headers: { "x-amz-copy-source": `/${bucket}/${source}` } });
      expect(copied.status).toBe(200);
      expect(Buffer.compare((await get(`copy-of-${source}`)).body, body)).toBe(0);
    }

    const init = await (await req({ method: "POST", path: `/${bucket}/assembled`, query: [["uploads", ""]] })).text();
    const uploadId = /<UploadId>([^<]+)</.exec(init)![1];
    const copyPart = async (n: number, range: string) => {
      const res = await req({ method: "PUT", path: `/${bucket}/assembled`, query: [["partNumber", String(n)], ["uploadId", uploadId]], headers: { "x-amz-copy-source": `/${bucket}/multi`, "x-amz-copy-source-range": range } });
      expect(res.status).toBe(200);
      return /<ETag>&#34;([0-9a-f]+)&#34;<\/ETag>/.exec(await res.text())![1];
    };
    const r1 = [P - 1, P - 1 + 5 * 1024 * 1024];
    const r2 = [part1.length - 1, part1.length + P];
    const e1 = await copyPart(1, `bytes=${r1[0]}-${r1[1]}`);
    const e2 = await copyPart(2, `bytes=${r2[0]}-${r2[1]}`);
    const expected = Buffer.concat([whole.subarray(r1[0], r1[1] + 1), whole.subarray(r2[0], r2[1] + 1)]);
    expect(e2).toBe(md5(whole.subarray(r2[0], r2[1] + 1)));
    const xml = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"${e1}"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"${e2}"</ETag></Part></CompleteMultipartUpload>`;
    expect((await req({ method: "POST", path: `/${bucket}/assembled`, query: [["uploadId", uploadId]], body: xml })).status).toBe(200);
    expect(Buffer.compare((await get("assembled")).body, expected)).toBe(0);
  });

  test("overwrite and delete, then nothing under the data dir holds the objects' bytes", async () => {
    const next = marked(200_000, 9);
    expect((await req({ method: "PUT", path: `/${bucket}/large`, body: next })).status).toBe(200);
    expect(Buffer.compare((await get("large")).body, next)).toBe(0);
    expect((await req({ method: "DELETE", path: `/${bucket}/copy-of-small` })).status).toBe(204);
    expect((await get("copy-of-small")).status).toBe(404);
    const files = readdirSync(server.dataDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    expect(files.some((f) => f.includes("/blobs/"))).toBe(true);
    // (a superseded blob is unlinked in the background: one gone since the listing holds nothing)
    const holds = (f: string) => {
      try {
        return readFileSync(f).includes(marker);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
        throw error;
      }
    };
    for (const f of files) expect([f, holds(f)]).toEqual([f, false]);
  });

  test("versions stay sealed and read back as their own bytes, inline and file-backed, after they stop being current", async () => {
    const versioned = "sealed-versions";
    expect((await req({ method: "PUT", path: `/${versioned}` })).status).toBe(200);
    const enable = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
    expect((await req({ method: "PUT", path: `/${versioned}`, query: [["versioning", ""]], body: enable })).status).toBe(200);
    const bodies = [marked(100, 21), marked(300_000, 22), marked(50, 23)];
    const ids: string[] = [];
    for (const body of bodies) ids.push((await req({ method: "PUT", path: `/${versioned}/k`, body })).headers.get("x-amz-version-id")!);
    expect((await req({ method: "DELETE", path: `/${versioned}/k` })).status).toBe(204);
    for (const [i, id] of ids.entries()) {
      const res = await req({ method: "GET", path: `/${versioned}/k`, query: [["versionId", id]] });
      expect([res.status, Buffer.compare(Buffer.from(await res.arrayBuffer()), bodies[i])]).toEqual([200, 0]);
    }
    const range = await req({ method: "GET", path: `/${versioned}/k`, query: [["versionId", ids[1]]], headers: { range: `bytes=${P - 2}-${P + 1}` } });
    expect(Buffer.compare(Buffer.from(await range.arrayBuffer()), bodies[1].subarray(P - 2, P + 2))).toBe(0);
  });
});

test("copies that fail before reading their source (no such bucket, no such upload) leave no file open and hold no blob", async () => {
  // Left unread, the source's stream kept its file open until garbage collection, which ended
  // the process (Bun refuses to close a FileHandle in the collector), and its blob held until restart.
  const blobFiles = () => readdirSync(join(server.dataDir, "blobs")).flatMap((d) => readdirSync(join(server.dataDir, "blobs", d)));
  const before = blobFiles().length;
  const source = marked(200 * 1024, 9);
  expect((await req({ method: "PUT", path: `/${bucket}/copy-source`, body: source })).status).toBe(200);
  for (let i = 0; i < 3; i++) {
    const copied = await req({ method: "PUT", path: "/no-such-bucket-for-copies/x", headers: { "x-amz-copy-source": `/${bucket}/copy-source` } });
    expect(await errorCode(copied)).toBe("NoSuchBucket");
    const part = await req({ method: "PUT", path: `/${bucket}/x`, query: [["partNumber", "1"], ["uploadId", "no-such-upload"]], headers: { "x-amz-copy-source": `/${bucket}/copy-source` } });
    expect(await errorCode(part)).toBe("NoSuchUpload");
  }
  // load that makes the collector run
  for (let i = 0; i < 150; i++) {
    await req({ method: "PUT", path: `/${bucket}/churn`, body: marked(70 * 1024, i) });
    expect((await get("churn")).status).toBe(200);
  }
  Bun.gc(true);
  await Bun.sleep(500);
  expect((await req({ method: "DELETE", path: `/${bucket}/copy-source` })).status).toBe(204);
  await Bun.sleep(300);
  expect((await fetch(`${server.endpoint}/_s3d/health`)).status).toBe(200);
  expect(server.logs()).not.toContain("FileHandle");
  // the source's file went with it: only the churn object's is left of what this test wrote
  expect(blobFiles().length).toBe(before + 1);
});

describe("tampered data through the S3 API", () => {
  test("a flipped byte: a small object answers 500 InternalError, a large one never completes", async () => {
    const tampered = await startS3d({ args: ["--encryption-key-file", keyFile] });
    try {
      const ep = tampered.endpoint;
      const big = marked(2 * 1024 * 1024, 5);
      expect((await s3(ep, { method: "PUT", path: "/tamper" })).status).toBe(200);
      expect((await s3(ep, { method: "PUT", path: "/tamper/small", body: "a small secret" })).status).toBe(200);
      expect((await s3(ep, { method: "PUT", path: "/tamper/big", body: big })).status).toBe(200);
      await tampered.crash();

      const blobRoot = join(tampered.dataDir, "blobs");
      const [blob] = readdirSync(blobRoot).flatMap((d) => readdirSync(join(blobRoot, d)).map((f) => join(blobRoot, d, f)));
      const bytes = readFileSync(blob);
      bytes[200 * (P + 16) + 100] ^= 0x10; // fragment 200: after the first read batch went out
      writeFileSync(blob, bytes);
      const db = new Database(join(tampered.dataDir, "meta.sqlite"));
      const row = db.query<{ inline: Uint8Array }, []>("SELECT inline FROM objects WHERE key = CAST('small' AS BLOB)").get()!;
      const inline = Buffer.from(row.inline);
      inline[inline.length - 20] ^= 0x01;
      db.query("UPDATE objects SET inline = ? WHERE key = CAST('small' AS BLOB)").run(inline);
      db.close();
      await tampered.restart();

      const small = await s3(ep, { method: "GET", path: "/tamper/small" });
      expect(small.status).toBe(500);
      expect(await errorCode(small)).toBe("InternalError");
      const outcome = await s3(ep, { method: "GET", path: "/tamper/big" }).then(
        async (res) => ({ status: res.status, length: (await res.arrayBuffer()).byteLength }),
        () => "connection failed",
      );
      expect(typeof outcome === "string" || outcome.status !== 200 || outcome.length !== big.length).toBe(true);
      // a range within intact fragments still reads
      const head = await s3(ep, { method: "GET", path: "/tamper/big", headers: { range: "bytes=0-99" } });
      expect(Buffer.compare(Buffer.from(await head.arrayBuffer()), big.subarray(0, 100))).toBe(0);
      expect((await s3(ep, { method: "GET", path: "/tamper/big", headers: { range: `bytes=${200 * P}-${200 * P + 9}` } })).status).toBe(500);
      expect(tampered.logs()).toContain("does not open");
    } finally {
      await tampered.stop();
    }
  }, 30_000);

  test("a first fragment that does not open: 500 InternalError for a whole, ranged or one-part GET, never a 200 that ends empty", async () => {
    const tampered = await startS3d({ args: ["--encryption-key-file", keyFile] });
    try {
      const ep = tampered.endpoint;
      expect((await s3(ep, { method: "PUT", path: "/tamper-first" })).status).toBe(200);
      expect((await s3(ep, { method: "PUT", path: "/tamper-first/obj", body: marked(1024 * 1024 + 100, 6) })).status).toBe(200);
      await tampered.crash();
      const blobRoot = join(tampered.dataDir, "blobs");
      const [blob] = readdirSync(blobRoot).flatMap((d) => readdirSync(join(blobRoot, d)).map((f) => join(blobRoot, d, f)));
      const bytes = readFileSync(blob);
      bytes[100] ^= 0x10; // fragment 0
      writeFileSync(blob, bytes);
      await tampered.restart();
      for (const headers of [{}, { range: "bytes=0-100000" }] as Record<string, string>[]) {
        const res = await s3(ep, { method: "GET", path: "/tamper-first/obj", headers });
        expect([res.status, await errorCode(res)]).toEqual([500, "InternalError"]);
      }
      const part = await s3(ep, { method: "GET", path: "/tamper-first/obj", query: [["partNumber", "1"]] });
      expect([part.status, await errorCode(part)]).toEqual([500, "InternalError"]);
    } finally {
      await tampered.stop();
    }
  }, 30_000);
});

test("downloads the client abandons after a few bytes close their files: the server keeps serving", async () => {
  const { connect } = await import("node:net");
  const { signHeaders } = await import("../../src/sigv4/index.ts");
  const { accessKey, region, secretKey } = await import("../support/server.ts");
  const big = marked(8 * 1024 * 1024, 7);
  expect((await req({ method: "PUT", path: `/${bucket}/abandoned`, body: big })).status).toBe(200);
  const url = new URL(server.endpoint);
  const headers = { host: url.host };
  for (let i = 0; i < 40; i++) {
    const signed = signHeaders({ method: "GET", decodedPath: `/${bucket}/abandoned`, query: [], headers, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), payloadHash: "UNSIGNED-PAYLOAD" });
    const head = `GET /${bucket}/abandoned HTTP/1.1\r\n${Object.entries({ ...headers, ...signed }).map(([k, v]) => `${k}: ${v}`).join("\r\n")}\r\n\r\n`;
    await new Promise<void>((done) => {
      const sock = connect(server.port, "127.0.0.1", () => sock.write(head));
      sock.once("data", () => sock.destroy()); // the first bytes, then gone
      sock.on("close", () => done());
      sock.on("error", () => {});
    });
    if (i % 10 === 9) Bun.gc(true); // where an abandoned open file would end the process
  }
  await Bun.sleep(200);
  const whole = await get("abandoned");
  expect(whole.status).toBe(200);
  expect(md5(whole.body)).toBe(md5(big));
  expect(server.logs()).not.toContain("FileHandle");
});
