/**
 * @aws-sdk/client-s3 v3, in process. Checksums are limited to WHEN_REQUIRED: the default
 * (aws-chunked streaming with CRC trailers) is not served yet.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import type * as S3Sdk from "@aws-sdk/client-s3";
import type { S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { accessKey, region, secretKey, startS3d, type TestServer } from "../support/server.ts";
import { requireModule } from "./helpers.ts";

const bucket = "sdk-v3-bucket";
const listBucket = "sdk-v3-list";
const mpuBucket = "sdk-v3-mpu";

let server: TestServer;
let sdk: typeof S3Sdk;
let s3: S3Client;

function client(credentials = { accessKeyId: accessKey, secretAccessKey: secretKey }): S3Client {
  return new sdk.S3Client({
    endpoint: server.endpoint,
    region,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 1,
  });
}

/** Runs fn, expects an S3 service error with this name/code and HTTP status; returns it. */
async function expectS3Error(fn: () => Promise<unknown>, name: string, status: number): Promise<S3ServiceException> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  if (caught === undefined) throw new Error(`expected ${name}, the call succeeded`);
  if (!(caught instanceof sdk.S3ServiceException)) throw caught;
  const detail = `${caught.name}: ${caught.message} (${caught.$metadata.httpStatusCode})`;
  expect(caught.name, detail).toBe(name);
  expect(caught.$metadata.httpStatusCode, detail).toBe(status);
  return caught;
}

function md5Hex(data: Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

beforeAll(async () => {
  sdk = await requireModule<typeof S3Sdk>("@aws-sdk/client-s3");
  server = await startS3d();
  s3 = client();
});

afterAll(async () => {
  s3?.destroy();
  await server?.stop();
});

describe("@aws-sdk/client-s3 v3", () => {
  test("CreateBucket, PutObject with headers, GetObject, Range, HeadObject", async () => {
    const created = await s3.send(new sdk.CreateBucketCommand({ Bucket: bucket }));
    expect(created.$metadata.httpStatusCode).toBe(200);
    expect((await s3.send(new sdk.HeadBucketCommand({ Bucket: bucket }))).$metadata.httpStatusCode).toBe(200);
    const buckets = await s3.send(new sdk.ListBucketsCommand({}));
    expect(buckets.Buckets?.map((b) => b.Name)).toContain(bucket);

    const body = randomBytes(64 * 1024 + 7);
    const put = await s3.send(
      new sdk.PutObjectCommand({
        Bucket: bucket,
        Key: "obj/with headers.bin",
        Body: body,
        ContentType: "application/x-test",
        CacheControl: "max-age=60, public",
        Metadata: { purpose: "sdk-test", "mixed-case": "Value With Spaces" },
      }),
    );
    expect(put.ETag).toBe(`"${md5Hex(body)}"`);

    const got = await s3.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: "obj/with headers.bin" }));
    expect(got.$metadata.httpStatusCode).toBe(200);
    const bytes = await got.Body!.transformToByteArray();
    expect(Buffer.from(bytes).equals(body)).toBe(true);
    expect(got.ContentType).toBe("application/x-test");
    expect(got.CacheControl).toBe("max-age=60, public");
    expect(got.Metadata).toEqual({ purpose: "sdk-test", "mixed-case": "Value With Spaces" });
    expect(got.ContentLength).toBe(body.length);
    expect(got.ETag).toBe(put.ETag);

    const tail = await s3.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: "obj/with headers.bin", Range: "bytes=-5" }));
    expect(tail.$metadata.httpStatusCode).toBe(206);
    expect(tail.ContentRange).toBe(`bytes ${body.length - 5}-${body.length - 1}/${body.length}`);
    expect(tail.ContentLength).toBe(5);
    expect(Buffer.from(await tail.Body!.transformToByteArray()).equals(body.subarray(body.length - 5))).toBe(true);

    const mid = await s3.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: "obj/with headers.bin", Range: "bytes=100-199" }));
    expect(mid.$metadata.httpStatusCode).toBe(206);
    expect(mid.ContentRange).toBe(`bytes 100-199/${body.length}`);
    expect(Buffer.from(await mid.Body!.transformToByteArray()).equals(body.subarray(100, 200))).toBe(true);

    const head = await s3.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: "obj/with headers.bin" }));
    expect(head.ContentLength).toBe(body.length);
    expect(head.ETag).toBe(put.ETag);
    expect(head.ContentType).toBe("application/x-test");
    expect(head.CacheControl).toBe("max-age=60, public");
    expect(head.Metadata).toEqual({ purpose: "sdk-test", "mixed-case": "Value With Spaces" });
    expect(head.LastModified).toBeInstanceOf(Date);
    expect(Math.abs(head.LastModified!.getTime() - Date.now())).toBeLessThan(120_000);
  });

  test("ListObjectsV2 pagination (MaxKeys 3 over 10 keys) and ListObjects v1 Delimiter/Marker", async () => {
    await s3.send(new sdk.CreateBucketCommand({ Bucket: listBucket }));
    const keys = Array.from({ length: 10 }, (_, i) => `k/${String(i).padStart(2, "0")}${i % 3 === 0 ? " sp+=é" : ""}`);
    for (const key of keys) await s3.send(new sdk.PutObjectCommand({ Bucket: listBucket, Key: key, Body: Buffer.from(key) }));

    const seen: string[] = [];
    const tokens = new Set<string>();
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(new sdk.ListObjectsV2Command({ Bucket: listBucket, MaxKeys: 3, ContinuationToken: token }));
      pages++;
      expect(pages).toBeLessThanOrEqual(4);
      expect(page.MaxKeys).toBe(3);
      expect(page.KeyCount).toBe(page.Contents?.length ?? 0);
      expect(page.Contents!.length).toBeLessThanOrEqual(3);
      seen.push(...page.Contents!.map((o) => o.Key!));
      if (token) expect(page.ContinuationToken).toBe(token);
      token = page.NextContinuationToken;
      if (page.IsTruncated) {
        expect(token, `page ${pages} is truncated but has no NextContinuationToken`).toBeTruthy();
        expect(tokens.has(token!), `token repeated: ${token}`).toBe(false);
        tokens.add(token!);
      } else {
        expect(token).toBeUndefined();
      }
    } while (token);
    expect(pages).toBe(4);
    const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(seen).toEqual(sorted);

    // StartAfter
    const after = await s3.send(new sdk.ListObjectsV2Command({ Bucket: listBucket, StartAfter: sorted[7] }));
    expect(after.Contents?.map((o) => o.Key)).toEqual(sorted.slice(8));

    // v1 with Delimiter: keys under top/ plus groups
    for (const key of ["top/a", "top/b/1", "top/b/2", "top/c", "top/d/1", "top/e"]) {
      await s3.send(new sdk.PutObjectCommand({ Bucket: listBucket, Key: key, Body: Buffer.from("x") }));
    }
    const d = await s3.send(new sdk.ListObjectsCommand({ Bucket: listBucket, Prefix: "top/", Delimiter: "/" }));
    expect(d.Contents?.map((o) => o.Key)).toEqual(["top/a", "top/c", "top/e"]);
    expect(d.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["top/b/", "top/d/"]);
    expect(d.IsTruncated).toBe(false);

    // v1 pagination with a delimiter: NextMarker is returned and Marker resumes after it
    const v1seen: string[] = [];
    let marker: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await s3.send(new sdk.ListObjectsCommand({ Bucket: listBucket, Prefix: "top/", Delimiter: "/", MaxKeys: 2, Marker: marker }));
      if (marker !== undefined) expect(page.Marker).toBe(marker);
      v1seen.push(...(page.Contents ?? []).map((o) => o.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
      expect((page.Contents?.length ?? 0) + (page.CommonPrefixes?.length ?? 0)).toBeLessThanOrEqual(2);
      if (!page.IsTruncated) break;
      expect(page.NextMarker, "v1 with a Delimiter must return NextMarker when truncated").toBeTruthy();
      expect(page.NextMarker).not.toBe(marker);
      marker = page.NextMarker;
    }
    expect(v1seen.sort()).toEqual(["top/a", "top/b/", "top/c", "top/d/", "top/e"]);

    // v1 without delimiter: Marker from the last key
    const first = await s3.send(new sdk.ListObjectsCommand({ Bucket: listBucket, MaxKeys: 4 }));
    expect(first.IsTruncated).toBe(true);
    expect(first.Contents?.map((o) => o.Key)).toEqual(sorted.slice(0, 4));
    const second = await s3.send(new sdk.ListObjectsCommand({ Bucket: listBucket, MaxKeys: 4, Marker: first.Contents!.at(-1)!.Key }));
    expect(second.Contents?.map((o) => o.Key)).toEqual(sorted.slice(4, 8));
  });

  test("MaxKeys 0 on a non-empty bucket: an empty page that is not truncated (as AWS answers)", async () => {
    // IsTruncated=true without a NextContinuationToken/NextMarker leaves `while (IsTruncated)` loops spinning
    const v2 = await s3.send(new sdk.ListObjectsV2Command({ Bucket: listBucket, MaxKeys: 0 }));
    expect(v2.Contents ?? []).toEqual([]);
    expect(v2.KeyCount).toBe(0);
    expect(v2.NextContinuationToken).toBeUndefined();
    expect(v2.IsTruncated).toBe(false);

    const v1 = await s3.send(new sdk.ListObjectsCommand({ Bucket: listBucket, MaxKeys: 0 }));
    expect(v1.Contents ?? []).toEqual([]);
    expect(v1.NextMarker).toBeUndefined();
    expect(v1.IsTruncated).toBe(false);
  });

  test(
    "multipart: create, upload 5 MiB + 1 MiB parts, list parts/uploads, complete, abort",
    async () => {
      await s3.send(new sdk.CreateBucketCommand({ Bucket: mpuBucket }));
      const key = "mpu/object.bin";
      const part1 = randomBytes(5 * 1024 * 1024);
      const part2 = randomBytes(1024 * 1024);
      const created = await s3.send(new sdk.CreateMultipartUploadCommand({ Bucket: mpuBucket, Key: key, ContentType: "application/x-mpu" }));
      const uploadId = created.UploadId!;
      expect(uploadId).toBeTruthy();
      expect(created.Key).toBe(key);

      const p1 = await s3.send(new sdk.UploadPartCommand({ Bucket: mpuBucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: part1 }));
      const p2 = await s3.send(new sdk.UploadPartCommand({ Bucket: mpuBucket, Key: key, UploadId: uploadId, PartNumber: 2, Body: part2 }));
      expect(p1.ETag).toBe(`"${md5Hex(part1)}"`);
      expect(p2.ETag).toBe(`"${md5Hex(part2)}"`);

      const parts = await s3.send(new sdk.ListPartsCommand({ Bucket: mpuBucket, Key: key, UploadId: uploadId }));
      expect(parts.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
        [1, part1.length, p1.ETag],
        [2, part2.length, p2.ETag],
      ]);
      expect(parts.UploadId).toBe(uploadId);

      const uploads = await s3.send(new sdk.ListMultipartUploadsCommand({ Bucket: mpuBucket }));
      expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([[key, uploadId]]);

      const done = await s3.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket: mpuBucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] },
        }),
      );
      const expectedEtag = `"${createHash("md5").update(createHash("md5").update(part1).digest()).update(createHash("md5").update(part2).digest()).digest("hex")}-2"`;
      expect(done.ETag).toBe(expectedEtag);
      expect(done.Key).toBe(key);
      expect(done.Bucket).toBe(mpuBucket);

      const got = await s3.send(new sdk.GetObjectCommand({ Bucket: mpuBucket, Key: key }));
      expect(got.ContentLength).toBe(part1.length + part2.length);
      expect(got.ETag).toBe(expectedEtag);
      expect(got.ContentType).toBe("application/x-mpu");
      const bytes = await got.Body!.transformToByteArray();
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(createHash("sha256").update(part1).update(part2).digest("hex"));

      // a range across the part boundary
      const across = await s3.send(new sdk.GetObjectCommand({ Bucket: mpuBucket, Key: key, Range: `bytes=${part1.length - 3}-${part1.length + 2}` }));
      expect(across.$metadata.httpStatusCode).toBe(206);
      expect(Buffer.from(await across.Body!.transformToByteArray()).equals(Buffer.concat([part1.subarray(-3), part2.subarray(0, 3)]))).toBe(true);

      const noneLeft = await s3.send(new sdk.ListMultipartUploadsCommand({ Bucket: mpuBucket }));
      expect(noneLeft.Uploads ?? []).toEqual([]);

      // abort
      const second = await s3.send(new sdk.CreateMultipartUploadCommand({ Bucket: mpuBucket, Key: "mpu/aborted.bin" }));
      await s3.send(new sdk.UploadPartCommand({ Bucket: mpuBucket, Key: "mpu/aborted.bin", UploadId: second.UploadId!, PartNumber: 1, Body: Buffer.from("tiny") }));
      const aborted = await s3.send(new sdk.AbortMultipartUploadCommand({ Bucket: mpuBucket, Key: "mpu/aborted.bin", UploadId: second.UploadId! }));
      expect(aborted.$metadata.httpStatusCode).toBe(204);
      await expectS3Error(() => s3.send(new sdk.ListPartsCommand({ Bucket: mpuBucket, Key: "mpu/aborted.bin", UploadId: second.UploadId! })), "NoSuchUpload", 404);
      await expectS3Error(() => s3.send(new sdk.HeadObjectCommand({ Bucket: mpuBucket, Key: "mpu/aborted.bin" })), "NotFound", 404);

      await s3.send(new sdk.DeleteObjectCommand({ Bucket: mpuBucket, Key: key }));
      await s3.send(new sdk.DeleteBucketCommand({ Bucket: mpuBucket }));
    },
    60_000,
  );

  test("DeleteObjects", async () => {
    const keys = ["del/a", "del/b c", "del/d+e", "del/é"];
    for (const key of keys) await s3.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from(key) }));
    const res = await s3.send(
      new sdk.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [...keys, "del/missing"].map((Key) => ({ Key })) } }),
    );
    expect(res.Errors ?? []).toEqual([]);
    expect(res.Deleted?.map((d) => d.Key).sort()).toEqual([...keys, "del/missing"].sort());
    const left = await s3.send(new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: "del/" }));
    expect(left.KeyCount).toBe(0);
    expect(left.Contents ?? []).toEqual([]);

    // Quiet mode reports nothing on success
    await s3.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: "del/q", Body: Buffer.from("q") }));
    const quiet = await s3.send(new sdk.DeleteObjectsCommand({ Bucket: bucket, Delete: { Quiet: true, Objects: [{ Key: "del/q" }] } }));
    expect(quiet.Deleted ?? []).toEqual([]);
    expect(quiet.Errors ?? []).toEqual([]);
    await expectS3Error(() => s3.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: "del/q" })), "NotFound", 404);
  });

  test("bucket tagging: PutBucketTagging (its required checksum), GetBucketTagging, DeleteBucketTagging", async () => {
    await expectS3Error(() => s3.send(new sdk.GetBucketTaggingCommand({ Bucket: bucket })), "NoSuchTagSet", 404);
    const TagSet = [{ Key: "env", Value: "prod" }, { Key: "owner", Value: "team s3d" }];
    expect((await s3.send(new sdk.PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet } }))).$metadata.httpStatusCode).toBe(204);
    expect((await s3.send(new sdk.GetBucketTaggingCommand({ Bucket: bucket }))).TagSet).toEqual(TagSet);
    await s3.send(new sdk.DeleteBucketTaggingCommand({ Bucket: bucket }));
    await expectS3Error(() => s3.send(new sdk.GetBucketTaggingCommand({ Bucket: bucket })), "NoSuchTagSet", 404);
  });

  test("errors: NoSuchKey, NoSuchBucket, BucketNotEmpty, bad credentials; creating an owned bucket again in us-east-1 succeeds", async () => {
    await expectS3Error(() => s3.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: "no/such/key" })), "NoSuchKey", 404);
    await expectS3Error(() => s3.send(new sdk.GetObjectCommand({ Bucket: "sdk-v3-no-such-bucket", Key: "k" })), "NoSuchBucket", 404);
    // S3's legacy rule for us-east-1 (BucketAlreadyOwnedByYou everywhere else)
    expect((await s3.send(new sdk.CreateBucketCommand({ Bucket: bucket }))).$metadata.httpStatusCode).toBe(200);
    await expectS3Error(() => s3.send(new sdk.DeleteBucketCommand({ Bucket: bucket })), "BucketNotEmpty", 409);

    const wrongSecret = client({ accessKeyId: accessKey, secretAccessKey: "not-the-secret-key" });
    await expectS3Error(() => wrongSecret.send(new sdk.ListObjectsV2Command({ Bucket: bucket })), "SignatureDoesNotMatch", 403);
    await expectS3Error(() => wrongSecret.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: "nope", Body: Buffer.from("x") })), "SignatureDoesNotMatch", 403);
    wrongSecret.destroy();

    const unknownKey = client({ accessKeyId: "AKIDUNKNOWN0000000000", secretAccessKey: secretKey });
    await expectS3Error(() => unknownKey.send(new sdk.ListBucketsCommand({})), "InvalidAccessKeyId", 403);
    unknownKey.destroy();

    // nothing was written by the rejected PUT
    await expectS3Error(() => s3.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: "nope" })), "NotFound", 404);
  });

  test("cleanup: empty and delete the buckets", async () => {
    for (const b of [bucket, listBucket]) {
      const all = await s3.send(new sdk.ListObjectsV2Command({ Bucket: b }));
      if (all.Contents?.length) {
        const res = await s3.send(new sdk.DeleteObjectsCommand({ Bucket: b, Delete: { Objects: all.Contents.map((o) => ({ Key: o.Key! })) } }));
        expect(res.Errors ?? []).toEqual([]);
      }
      expect((await s3.send(new sdk.DeleteBucketCommand({ Bucket: b }))).$metadata.httpStatusCode).toBe(204);
      await expectS3Error(() => s3.send(new sdk.HeadBucketCommand({ Bucket: b })), "NotFound", 404);
    }
  });
});
