/** Payload modes and checksums end to end: the AWS SDK's defaults and hand-built aws-chunked bodies. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { checksumBase64, type ChecksumAlgorithm } from "../../src/checksum/index.ts";
import { credentialScope, signHeaders, signingKey, streamingSignedPayloadTrailer, streamingUnsignedPayloadTrailer, streamingSignedPayload } from "../../src/sigv4/index.ts";
import { encodeAwsChunked } from "../support/chunked.ts";
import { errorCode, rawRequest, s3 } from "../support/client.ts";
import { accessKey, region, secretKey, startS3d, type TestServer } from "../support/server.ts";

let server: TestServer;
let client: S3Client;
const bucket = "payload-tests";
beforeAll(async () => {
  server = await startS3d();
  // Uploads use the SDK's defaults. Downloads skip the SDK's own response validation: under
  // Bun's http client its ChecksumStream re-emits "aborted" when the socket closes at server
  // shutdown, after the body was read whole. The returned checksums are checked below instead.
  client = new S3Client({
    endpoint: server.endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(async () => {
  client.destroy();
  await server.stop();
});

const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) & 0xff));
const algorithms: ChecksumAlgorithm[] = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"];

describe("@aws-sdk/client-s3 with its default settings", () => {
  for (const algorithm of [undefined, ...algorithms]) {
    test(`stream body (aws-chunked with trailer), checksum ${algorithm ?? "default"}: stored byte-identical, checksum returned`, async () => {
      const key = `sdk-${algorithm ?? "default"}`;
      const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), ContentLength: data.length, ChecksumAlgorithm: algorithm }));
      const expectedAlg = algorithm ?? "CRC32";
      const field = `Checksum${expectedAlg}` as "ChecksumCRC32";
      expect(put[field]).toBe(checksumBase64(expectedAlg, data));
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(Buffer.compare(Buffer.from(await got.Body!.transformToByteArray()), data)).toBe(0);
      expect(got.ContentEncoding).toBeUndefined();
      const head = await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/${key}`, headers: { "x-amz-checksum-mode": "ENABLED" } });
      expect(head.headers.get(`x-amz-checksum-${expectedAlg.toLowerCase()}`)).toBe(checksumBase64(expectedAlg, data));
    });
  }
  test("a Buffer body sends the checksum as a header", async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: "buffer", Body: data, ChecksumAlgorithm: "CRC64NVME" }));
    const got = await s3(server.endpoint, { method: "GET", path: `/${bucket}/buffer`, headers: { "x-amz-checksum-mode": "ENABLED" } });
    expect(got.headers.get("x-amz-checksum-crc64nvme")).toBe(checksumBase64("CRC64NVME", data));
    expect(Buffer.compare(Buffer.from(await got.arrayBuffer()), data)).toBe(0);
  });
});

function chunkedPut(key: string, body: Uint8Array, mode: string, headers: Record<string, string>, nowMs = Date.now()) {
  const url = new URL(server.endpoint);
  const all = { host: url.host, "content-encoding": "aws-chunked", "content-length": String(body.length), ...headers };
  const signed = signHeaders({ method: "PUT", decodedPath: `/${bucket}/${key}`, query: [], headers: all, accessKeyId: accessKey, secretKey, region, nowMs, payloadHash: mode });
  return { send: () => rawRequest(server.endpoint, "PUT", `/${bucket}/${key}`, { ...all, ...signed }, body), signed };
}

function signingFor(seed: string, nowMs: number) {
  const amzDate = new Date(nowMs).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  return { signingKey: signingKey(secretKey, amzDate.slice(0, 8), region, "s3"), amzDate, scope: credentialScope(amzDate.slice(0, 8), region, "s3"), seedSignature: seed };
}

/** Signs the request first (the seed signature), then frames the body with chunk signatures. */
function signedChunkedPut(key: string, payload: Uint8Array, opts: { trailers?: Array<[string, string]>; decodedLength?: number; mutate?: (b: Uint8Array) => Uint8Array }) {
  const nowMs = Date.now();
  const trailerNames = (opts.trailers ?? []).map(([n]) => n).join(",");
  const headers: Record<string, string> = { "x-amz-decoded-content-length": String(opts.decodedLength ?? payload.length) };
  if (trailerNames) headers["x-amz-trailer"] = trailerNames;
  const mode = trailerNames ? streamingSignedPayloadTrailer : streamingSignedPayload;
  // The content length depends on the framing, which depends on the seed: frame once to size it.
  const probe = encodeAwsChunked(payload, { chunkBytes: 64 * 1024, signing: signingFor("0".repeat(64), nowMs), trailers: opts.trailers });
  const first = chunkedPut(key, probe, mode, headers, nowMs);
  const seed = /Signature=([0-9a-f]{64})/.exec(first.signed.authorization)![1];
  let body: Uint8Array = encodeAwsChunked(payload, { chunkBytes: 64 * 1024, signing: signingFor(seed, nowMs), trailers: opts.trailers });
  if (opts.mutate) body = opts.mutate(body);
  const url = new URL(server.endpoint);
  const all = { host: url.host, "content-encoding": "aws-chunked", "content-length": String(probe.length), ...headers, ...first.signed };
  return rawRequest(server.endpoint, "PUT", `/${bucket}/${key}`, all, body);
}

async function exists(key: string): Promise<boolean> {
  return (await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/${key}` })).status === 200;
}

describe("hand-built aws-chunked uploads", () => {
  const payload = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i & 0xff));
  const crc = checksumBase64("CRC32C", payload);

  test("signed chunks with a signed trailer: stored exactly", async () => {
    const res = await signedChunkedPut("signed-ok", payload, { trailers: [["x-amz-checksum-crc32c", crc]] });
    expect(res.status).toBe(200);
    const got = await s3(server.endpoint, { method: "GET", path: `/${bucket}/signed-ok`, headers: { "x-amz-checksum-mode": "ENABLED" } });
    expect(Buffer.compare(Buffer.from(await got.arrayBuffer()), payload)).toBe(0);
    expect(got.headers.get("x-amz-checksum-crc32c")).toBe(crc);
  });

  test("a wrong chunk signature: SignatureDoesNotMatch, nothing stored", async () => {
    const res = await signedChunkedPut("bad-sig", payload, {
      mutate: (b) => {
        const out = Uint8Array.from(b);
        out[100] ^= 1; // a data byte of the first chunk: its signature no longer matches
        return out;
      },
    });
    expect(await errorCode(res)).toBe("SignatureDoesNotMatch");
    expect(await exists("bad-sig")).toBe(false);
  });

  test("a wrong trailer checksum: BadDigest, nothing stored", async () => {
    const res = await signedChunkedPut("bad-crc", payload, { trailers: [["x-amz-checksum-crc32c", checksumBase64("CRC32C", Buffer.from("other"))]] });
    expect(await errorCode(res)).toBe("BadDigest");
    expect(await exists("bad-crc")).toBe(false);
  });

  test("a decoded length that lies, a truncated final chunk: refused, nothing stored", async () => {
    expect(await errorCode(await signedChunkedPut("lying", payload, { decodedLength: payload.length + 10 }))).toBe("IncompleteBody");
    const unsigned = encodeAwsChunked(payload, { chunkBytes: 8192, trailers: [["x-amz-checksum-crc32c", crc]] });
    const cut = chunkedPut("truncated", unsigned.subarray(0, unsigned.length - 40), streamingUnsignedPayloadTrailer, {
      "x-amz-decoded-content-length": String(payload.length),
      "x-amz-trailer": "x-amz-checksum-crc32c",
    });
    expect(await errorCode(await cut.send())).toBe("IncompleteBody");
    const huge = Buffer.from(`${"f".repeat(5000)}\r\n`);
    const oversized = chunkedPut("oversized", huge, streamingUnsignedPayloadTrailer, { "x-amz-decoded-content-length": "1", "x-amz-trailer": "x-amz-checksum-crc32c" });
    expect(await errorCode(await oversized.send())).toBe("InvalidRequest");
    for (const key of ["lying", "truncated", "oversized"]) expect(await exists(key)).toBe(false);
    expect((await fetch(`${server.endpoint}/_s3d/health`)).status).toBe(200);
  });

  test("unsigned trailer mode without x-amz-decoded-content-length: 411 MissingContentLength", async () => {
    const body = encodeAwsChunked(payload, { chunkBytes: 8192 });
    const res = await chunkedPut("no-length", body, streamingUnsignedPayloadTrailer, {}).send();
    expect(res.status).toBe(411);
    expect(await errorCode(res)).toBe("MissingContentLength");
  });

  test("a body in plain HTTP chunks, of no declared length: 501 naming Transfer-Encoding, as S3 answers; nothing stored", async () => {
    const { request } = await import("node:http");
    const url = new URL(server.endpoint);
    const headers = { host: url.host };
    const signed = signHeaders({ method: "PUT", decodedPath: `/${bucket}/te-chunked`, query: [], headers, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), payloadHash: "UNSIGNED-PAYLOAD" });
    // no Content-Length: node:http sends the body in HTTP chunks
    const [status, text] = await new Promise<[number, string]>((done, fail) => {
      const req = request({ host: url.hostname, port: url.port, method: "PUT", path: `/${bucket}/te-chunked`, headers: { ...headers, ...signed } }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => done([res.statusCode ?? 0, body]));
      });
      req.on("error", fail);
      req.write("hello");
      req.end();
    });
    expect([status, /<Code>([^<]*)<\/Code>/.exec(text)?.[1], /<Header>([^<]*)<\/Header>/.exec(text)?.[1]]).toEqual([501, "NotImplemented", "Transfer-Encoding"]);
    expect(await exists("te-chunked")).toBe(false);
  });
});

describe("checksum headers on plain uploads", () => {
  test("a matching header is stored; a wrong or malformed one is refused", async () => {
    const body = Buffer.from("checksummed");
    const ok = await s3(server.endpoint, { method: "PUT", path: `/${bucket}/ck`, body, headers: { "x-amz-checksum-sha256": checksumBase64("SHA256", body) } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-amz-checksum-sha256")).toBe(createHash("sha256").update(body).digest("base64"));
    const wrong = await s3(server.endpoint, { method: "PUT", path: `/${bucket}/ck`, body: "tampered", headers: { "x-amz-checksum-crc32": checksumBase64("CRC32", body) } });
    expect(await errorCode(wrong)).toBe("BadDigest");
    expect(await errorCode(await s3(server.endpoint, { method: "PUT", path: `/${bucket}/ck`, body, headers: { "x-amz-checksum-crc32": "nope" } }))).toBe("InvalidRequest");
    const two = { "x-amz-checksum-crc32": checksumBase64("CRC32", body), "x-amz-checksum-sha1": checksumBase64("SHA1", body) };
    expect(await errorCode(await s3(server.endpoint, { method: "PUT", path: `/${bucket}/ck`, body, headers: two }))).toBe("InvalidRequest");
    expect(await (await s3(server.endpoint, { method: "GET", path: `/${bucket}/ck` })).text()).toBe("checksummed");
  });
});

describe("multipart checksums", () => {
  for (const [algorithm, type] of [["CRC32", "COMPOSITE"], ["SHA256", "COMPOSITE"], ["CRC64NVME", "FULL_OBJECT"], ["CRC32C", "FULL_OBJECT"]] as const) {
    test(`${algorithm} ${type}: part checksums, ListParts, the object checksum, GetObjectAttributes`, async () => {
      const { CreateMultipartUploadCommand, UploadPartCommand, ListPartsCommand, CompleteMultipartUploadCommand, GetObjectAttributesCommand } = await import("@aws-sdk/client-s3");
      const key = `mp-${algorithm}-${type}`;
      const part1 = Buffer.alloc(5 * 1024 * 1024, 1);
      const part2 = Buffer.from("the last part");
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: algorithm, ChecksumType: type }));
      const uploaded = [];
      for (const [i, body] of [part1, part2].entries()) {
        const r = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: body, ChecksumAlgorithm: algorithm }));
        const field = `Checksum${algorithm}` as "ChecksumCRC32";
        expect(r[field]).toBe(checksumBase64(algorithm, body));
        uploaded.push({ PartNumber: i + 1, ETag: r.ETag, [field]: r[field] });
      }
      const listed = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }));
      expect(listed.ChecksumAlgorithm).toBe(algorithm);
      expect(listed.Parts!.map((p) => p[`Checksum${algorithm}` as "ChecksumCRC32"])).toEqual([checksumBase64(algorithm, part1), checksumBase64(algorithm, part2)]);
      const { checksumDigest, compositeChecksum, digestBase64 } = await import("../../src/checksum/index.ts");
      const expected =
        type === "COMPOSITE"
          ? `${digestBase64(compositeChecksum(algorithm, [checksumDigest(algorithm, part1), checksumDigest(algorithm, part2)]))}-2`
          : checksumBase64(algorithm, Buffer.concat([part1, part2]));
      // the completion carries the whole object's checksum, as transfer managers send it (the
      // header names the object, not the XML body it comes with)
      const done = await client.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: uploaded }, [`Checksum${algorithm}`]: expected, ChecksumType: type }),
      );
      expect(done[`Checksum${algorithm}` as "ChecksumCRC32"]).toBe(expected);
      const got = await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/${key}`, headers: { "x-amz-checksum-mode": "ENABLED" } });
      expect(got.headers.get(`x-amz-checksum-${algorithm.toLowerCase()}`)).toBe(expected);
      expect(got.headers.get("x-amz-checksum-type")).toBe(type);
      const attrs = await client.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: key, ObjectAttributes: ["ETag", "Checksum", "ObjectParts", "ObjectSize"] }));
      expect(attrs.ObjectSize).toBe(part1.length + part2.length);
      expect(attrs.ObjectParts?.TotalPartsCount).toBe(2);
      expect(attrs.Checksum?.[`Checksum${algorithm}` as "ChecksumCRC32"]).toBe(expected);
      expect(attrs.Checksum?.ChecksumType).toBe(type);
      // each part's checksum and size, a page at a time
      const field = `Checksum${algorithm}` as "ChecksumCRC32";
      const pages = [];
      for (const marker of ["0", "1"]) {
        pages.push((await client.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: key, ObjectAttributes: ["ObjectParts"], MaxParts: 1, PartNumberMarker: marker }))).ObjectParts);
      }
      expect(pages.map((p) => [p?.IsTruncated, p?.NextPartNumberMarker, p?.Parts?.map((q) => [q.PartNumber, q.Size, q[field]])])).toEqual([
        [true, "1", [[1, part1.length, checksumBase64(algorithm, part1)]]],
        [false, undefined, [[2, part2.length, checksumBase64(algorithm, part2)]]],
      ]);
    });
  }

  test("what a completion says of the object is checked: its size, its checksum type, each part's checksum of a composite one", async () => {
    const { CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, ListMultipartUploadsCommand } = await import("@aws-sdk/client-s3");
    const key = "mp-claims";
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: "CRC32C" }));
    const listedUpload = (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }))).Uploads?.[0];
    expect([listedUpload?.UploadId, listedUpload?.ChecksumAlgorithm, listedUpload?.ChecksumType]).toEqual([UploadId, "CRC32C", "COMPOSITE"]);
    const body = Buffer.from("B".repeat(2000));
    const r = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: body, ChecksumAlgorithm: "CRC32C" }));
    const complete = (part: { ChecksumCRC32C?: string }, extra: { MpuObjectSize?: number; ChecksumType?: "FULL_OBJECT" | "COMPOSITE" } = {}) =>
      client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r.ETag, ...part }] }, ...extra })).catch((e) => e);
    const missing = await complete({});
    expect([missing.name, missing.message]).toEqual(["InvalidRequest", "The upload was created using a crc32c checksum. The complete request must include the checksum for each part. It was missing for part 1 in the request."]);
    const withChecksum = { ChecksumCRC32C: r.ChecksumCRC32C };
    expect((await complete(withChecksum, { MpuObjectSize: 1999 })).name).toBe("InvalidRequest");
    expect((await complete(withChecksum, { ChecksumType: "FULL_OBJECT" })).name).toBe("BadDigest");
    // the whole object's checksum: one that is no CRC32C at all is InvalidRequest, a wrong one BadDigest
    const claiming = (value: string) => s3(server.endpoint, { method: "POST", path: `/${bucket}/${key}`, query: [["uploadId", UploadId!]], headers: { "x-amz-checksum-crc32c": value }, body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${r.ETag}</ETag><ChecksumCRC32C>${r.ChecksumCRC32C}</ChecksumCRC32C></Part></CompleteMultipartUpload>` });
    for (const [value, code] of [["bad", "InvalidRequest"], ["AAAAAAA=-1", "InvalidRequest"], ["AAAAAA==-1", "BadDigest"], ["AAAAAA==", "BadDigest"]]) {
      expect(`${value}: ${await errorCode(await claiming(value))}`).toBe(`${value}: ${code}`);
    }
    const bad = await s3(server.endpoint, { method: "POST", path: `/${bucket}/${key}`, query: [["uploadId", UploadId!]], headers: { "x-amz-mp-object-size": "2k" }, body: "<CompleteMultipartUpload/>" });
    expect(await errorCode(bad)).toBe("InvalidArgument");
    expect((await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/${key}` })).status).toBe(404);
    const done = await complete(withChecksum, { MpuObjectSize: 2000, ChecksumType: "COMPOSITE" });
    expect(done.ChecksumCRC32C).toMatch(/-1$/);
    // the object's URL, as this request named it
    expect(done.Location).toBe(`${server.endpoint}/${bucket}/${key}`);
  });

  test("copies keep checksums: the source's algorithm or the one asked for, and UploadPartCopy into an upload that needs one", async () => {
    const { CopyObjectCommand, HeadObjectCommand, CreateMultipartUploadCommand, UploadPartCopyCommand, CompleteMultipartUploadCommand } = await import("@aws-sdk/client-s3");
    const body = Buffer.from("copied with its checksum ".repeat(300));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: "ck-src", Body: body, ChecksumAlgorithm: "CRC32C" }));
    await s3(server.endpoint, { method: "PUT", path: `/${bucket}/plain-src`, body });
    const head = (key: string) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));

    const kept = await client.send(new CopyObjectCommand({ Bucket: bucket, Key: "ck-kept", CopySource: `${bucket}/ck-src` }));
    expect(kept.CopyObjectResult?.ChecksumCRC32C).toBe(checksumBase64("CRC32C", body));
    expect((await head("ck-kept")).ChecksumCRC32C).toBe(checksumBase64("CRC32C", body));
    const asked = await client.send(new CopyObjectCommand({ Bucket: bucket, Key: "ck-sha", CopySource: `${bucket}/plain-src`, ChecksumAlgorithm: "SHA256" }));
    expect(asked.CopyObjectResult?.ChecksumSHA256).toBe(checksumBase64("SHA256", body));
    expect((await head("ck-sha")).ChecksumSHA256).toBe(checksumBase64("SHA256", body));
    await client.send(new CopyObjectCommand({ Bucket: bucket, Key: "ck-none", CopySource: `${bucket}/plain-src` }));
    const none = await head("ck-none");
    expect([none.ChecksumCRC32, none.ChecksumCRC32C, none.ChecksumSHA256]).toEqual([undefined, undefined, undefined]);

    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "ck-parts", ChecksumAlgorithm: "CRC32" }));
    const copied = await client.send(new UploadPartCopyCommand({ Bucket: bucket, Key: "ck-parts", UploadId, PartNumber: 1, CopySource: `${bucket}/plain-src`, CopySourceRange: "bytes=0-99" }));
    expect(copied.CopyPartResult?.ChecksumCRC32).toBe(checksumBase64("CRC32", body.subarray(0, 100)));
    const done = await client.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: "ck-parts", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: copied.CopyPartResult?.ETag, ChecksumCRC32: copied.CopyPartResult?.ChecksumCRC32 }] } }),
    );
    expect(done.ChecksumCRC32).toMatch(/-1$/);
  });

  test("a part whose listed checksum differs is InvalidPart; an impossible checksum type is refused", async () => {
    const { CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand } = await import("@aws-sdk/client-s3");
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "mp-bad", ChecksumAlgorithm: "CRC32" }));
    const r = await client.send(new UploadPartCommand({ Bucket: bucket, Key: "mp-bad", UploadId, PartNumber: 1, Body: Buffer.from("x"), ChecksumAlgorithm: "CRC32" }));
    const err = await client
      .send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: "mp-bad", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r.ETag, ChecksumCRC32: checksumBase64("CRC32", Buffer.from("y")) }] } }))
      .catch((e) => e);
    expect(err.name).toBe("InvalidPart");
    const wholeWrong = await client
      .send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: "mp-bad", UploadId, ChecksumCRC32: checksumBase64("CRC32", Buffer.from("y")), MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 }] } }))
      .catch((e) => e);
    expect(wholeWrong.name).toBe("BadDigest");
    expect((await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/mp-bad` })).status).toBe(404);
    const bad = await s3(server.endpoint, { method: "POST", path: `/${bucket}/mp-bad2`, query: [["uploads", ""]], headers: { "x-amz-checksum-algorithm": "SHA1", "x-amz-checksum-type": "FULL_OBJECT" } });
    expect(await errorCode(bad)).toBe("InvalidRequest");
  });
});
