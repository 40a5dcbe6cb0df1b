/**
 * The Backend contract: one suite that every Backend implementation must pass.
 * Call backendContract() from a test file per implementation.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { S3Error } from "../../src/errors.ts";
import { partBytesMin, type Backend, type IncomingBody, type ObjectAttributes } from "../../src/store/backend.ts";
import { mulberry32 } from "../sigv4/prng.ts";

export interface BackendUnderTest {
  backend: Backend;
  cleanup(): Promise<void>;
}

const noAttrs: ObjectAttributes = { headers: {}, userMeta: {}, tags: {} };
const t0 = 1_700_000_000_000;

export function bodyOf(bytes: Uint8Array, chunkBytes = 64 * 1024, failAfterBytes?: number): IncomingBody {
  let offset = 0;
  const md5 = createHash("md5");
  let done = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (failAfterBytes !== undefined && offset >= failAfterBytes) {
        controller.error(new S3Error("BadDigest", "verification failed"));
        return;
      }
      if (offset >= bytes.length) {
        done = true;
        controller.close();
        return;
      }
      const chunk = bytes.subarray(offset, Math.min(bytes.length, offset + chunkBytes));
      offset += chunk.length;
      md5.update(chunk);
      controller.enqueue(chunk);
    },
  });
  return {
    stream,
    bytes: async () => new Uint8Array(await new Response(stream).arrayBuffer()),
    digest: () => {
      if (!done) throw new Error("digest before end");
      return { sizeBytes: bytes.length, md5Hex: md5.copy().digest("hex") };
    },
    declaredBytes: bytes.length,
  };
}

export function randomBytesSeeded(n: number, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 256) | 0;
  return out;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function expectS3Error(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(S3Error);
    expect((e as S3Error).code).toBe(code as S3Error["code"]);
    return;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

export function backendContract(name: string, make: () => Promise<BackendUnderTest>): void {
  describe(`Backend contract: ${name}`, () => {
    let sut: BackendUnderTest;
    let b: Backend;
    beforeEach(async () => {
      sut = await make();
      b = sut.backend;
    });
    afterEach(async () => {
      await sut.cleanup();
    });

    /** Reads through stream() and through bytes(), which must agree. */
    async function get(bucket: string, key: string, range?: { start: number; end: number }) {
      const streamed = await readAll((await b.openObject(bucket, key)).stream(range));
      const whole = await (await b.openObject(bucket, key)).bytes(range);
      expect(Buffer.compare(Buffer.from(whole), streamed)).toBe(0);
      return streamed;
    }

    test("buckets: create, head, list, delete, and their errors", async () => {
      await b.createBucket("zeta", t0);
      await b.createBucket("alpha", t0 + 1);
      await expectS3Error(b.createBucket("alpha", t0), "BucketAlreadyOwnedByYou");
      expect((await b.headBucket("alpha")).createdMs).toBe(t0 + 1);
      expect((await b.listBuckets()).map((x) => x.name)).toEqual(["alpha", "zeta"]);
      await expectS3Error(b.headBucket("nope"), "NoSuchBucket");
      await b.putObject("alpha", "k", bodyOf(new Uint8Array([1])), noAttrs, t0);
      await expectS3Error(b.deleteBucket("alpha"), "BucketNotEmpty");
      await b.deleteObject("alpha", "k", t0);
      // an upload still open does not keep the bucket: it ends with it, parts and all
      const upload = await b.createMultipartUpload("alpha", "m", noAttrs, t0);
      await b.uploadPart("alpha", "m", upload, 1, bodyOf(new Uint8Array([2])), t0);
      await b.setBucketConfig("alpha", "cors", "<doc/>");
      expect(await b.getBucketConfig("alpha", "cors")).toBe("<doc/>");
      expect(await b.getBucketConfig("alpha", "other")).toBeUndefined();
      await b.deleteBucket("alpha");
      await expectS3Error(b.deleteBucket("alpha"), "NoSuchBucket");
      await expectS3Error(b.getBucketConfig("alpha", "cors"), "NoSuchBucket");
      await b.createBucket("alpha", t0);
      expect(await b.getBucketConfig("alpha", "cors")).toBeUndefined(); // a new bucket starts bare
      const uploadsAfter = await b.listMultipartUploads("alpha", { prefix: "", delimiter: "", keyMarker: "", uploadIdMarker: "", maxUploads: 100 });
      expect(uploadsAfter.uploads).toEqual([]);
      await expectS3Error(b.uploadPart("alpha", "m", upload, 2, bodyOf(new Uint8Array([3])), t0), "NoSuchUpload");
      await b.setBucketConfig("alpha", "cors", "<doc/>");
      await b.setBucketConfig("alpha", "cors", undefined);
      expect(await b.getBucketConfig("alpha", "cors")).toBeUndefined();
      await b.deleteBucket("alpha");
      expect((await b.listBuckets()).map((x) => x.name)).toEqual(["zeta"]);
    });

    test("objects: put, read whole and ranges, overwrite, delete", async () => {
      await b.createBucket("bkt", t0);
      const data = randomBytesSeeded(300_000, 1);
      const attrs = { headers: { "content-type": "text/plain" }, userMeta: { color: "blue" }, tags: { project: "x" } };
      const meta = await b.putObject("bkt", "dir/a b", bodyOf(data, 7000), attrs, t0);
      expect(meta.etag).toBe(createHash("md5").update(data).digest("hex"));
      expect(meta.sizeBytes).toBe(data.length);
      const reader = await b.openObject("bkt", "dir/a b");
      expect(reader.meta).toMatchObject({ key: "dir/a b", sizeBytes: data.length, etag: meta.etag, lastModifiedMs: t0, ...attrs });
      reader.close();
      expect(Buffer.compare(await get("bkt", "dir/a b"), data)).toBe(0);
      expect(Buffer.compare(await get("bkt", "dir/a b", { start: 5, end: 9 }), data.subarray(5, 10))).toBe(0);
      expect(Buffer.compare(await get("bkt", "dir/a b", { start: 299_999, end: 299_999 }), data.subarray(299_999))).toBe(0);
      const next = randomBytesSeeded(10, 2);
      await b.putObject("bkt", "dir/a b", bodyOf(next), noAttrs, t0 + 5);
      expect(Buffer.compare(await get("bkt", "dir/a b"), next)).toBe(0);
      expect((await b.openObject("bkt", "dir/a b")).meta.userMeta).toEqual({});
      await b.deleteObject("bkt", "dir/a b", t0);
      await b.deleteObject("bkt", "dir/a b", t0); // deleting a missing key succeeds
      await expectS3Error(b.openObject("bkt", "dir/a b"), "NoSuchKey");
      await expectS3Error(b.putObject("none", "k", bodyOf(next), noAttrs, t0), "NoSuchBucket");
      await expectS3Error(b.openObject("none", "k"), "NoSuchBucket");
    });

    test("an empty object and keys that look like paths are just keys", async () => {
      await b.createBucket("bkt", t0);
      for (const key of ["../../etc/passwd", "a//b", "/leading", "ünï/cødé ✓", "%2F", "."]) {
        await b.putObject("bkt", key, bodyOf(Buffer.from(key)), noAttrs, t0);
      }
      await b.putObject("bkt", "empty", bodyOf(new Uint8Array()), noAttrs, t0);
      expect((await get("bkt", "empty")).length).toBe(0);
      for (const key of ["../../etc/passwd", "a//b", "/leading", "ünï/cødé ✓", "%2F", "."]) {
        expect(Buffer.from(await get("bkt", key)).toString()).toBe(key);
      }
    });

    test("a body that fails verification stores nothing and keeps the old version", async () => {
      await b.createBucket("bkt", t0);
      const old = randomBytesSeeded(1000, 3);
      await b.putObject("bkt", "k", bodyOf(old), noAttrs, t0);
      await expectS3Error(b.putObject("bkt", "k", bodyOf(randomBytesSeeded(500_000, 4), 65536, 200_000), noAttrs, t0), "BadDigest");
      await expectS3Error(b.putObject("bkt", "fresh", bodyOf(randomBytesSeeded(5000, 4), 1000, 3000), noAttrs, t0), "BadDigest");
      expect(Buffer.compare(await get("bkt", "k"), old)).toBe(0);
      await expectS3Error(b.openObject("bkt", "fresh"), "NoSuchKey");
    });

    test("tags and preconditions are checked and applied inside the commit", async () => {
      await b.createBucket("bkt", t0);
      await b.putObject("bkt", "k", bodyOf(Buffer.from("v1")), noAttrs, t0);
      await b.setObjectTags("bkt", "k", { a: "1" });
      expect((await b.openObject("bkt", "k")).meta.tags).toEqual({ a: "1" });
      await expectS3Error(b.setObjectTags("bkt", "missing", { a: "1" }), "NoSuchKey");
      const refuse = () => {
        throw new S3Error("PreconditionFailed", "exists");
      };
      await expectS3Error(b.putObject("bkt", "k", bodyOf(Buffer.from("v2")), noAttrs, t0, (current) => current && refuse()), "PreconditionFailed");
      expect(Buffer.from(await get("bkt", "k")).toString()).toBe("v1");
      // racing creators with "only if absent": exactly one wins
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => b.putObject("bkt", "race", bodyOf(Buffer.from(`w${i}`)), noAttrs, t0, (current) => current && refuse())),
      );
      expect(outcomes.filter((o) => o.status === "fulfilled").length).toBe(1);
    });

    test("an open reader keeps its bytes across overwrite and delete", async () => {
      await b.createBucket("bkt", t0);
      const first = randomBytesSeeded(200_000, 5);
      await b.putObject("bkt", "k", bodyOf(first), noAttrs, t0);
      const reader = await b.openObject("bkt", "k");
      await b.putObject("bkt", "k", bodyOf(randomBytesSeeded(10, 6)), noAttrs, t0);
      await b.deleteObject("bkt", "k", t0);
      expect(Buffer.compare(await readAll(reader.stream()), first)).toBe(0);
    });

    test("concurrent puts to one key: one of them wins whole", async () => {
      await b.createBucket("bkt", t0);
      const versions = Array.from({ length: 8 }, (_, i) => randomBytesSeeded(100_000 + i, 10 + i));
      await Promise.all(versions.map((v) => b.putObject("bkt", "hot", bodyOf(v, 4096), noAttrs, t0)));
      const final = await get("bkt", "hot");
      expect(versions.some((v) => Buffer.compare(v, final) === 0)).toBe(true);
    });

    test("listing follows prefix, delimiter and markers like a model of S3", async () => {
      await b.createBucket("bkt", t0);
      const rand = mulberry32(42);
      const alphabet = ["a", "b", "/", "é", "\u{1F600}", "\uE000", "-", "z"];
      const keys = new Set<string>();
      while (keys.size < 120) {
        let k = "";
        const len = 1 + Math.floor(rand() * 6);
        for (let i = 0; i < len; i++) k += alphabet[Math.floor(rand() * alphabet.length)];
        keys.add(k);
      }
      await Promise.all([...keys].map((k) => b.putObject("bkt", k, bodyOf(Buffer.from(k)), noAttrs, t0)));
      const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      for (const [prefix, delimiter] of [["", ""], ["", "/"], ["a", "/"], ["a/", "/"], ["b", "é"], ["zz", "/"]]) {
        // the model: every key with the prefix, rolled up at the delimiter
        const expected: string[] = [];
        for (const k of sorted) {
          if (!k.startsWith(prefix)) continue;
          const i = delimiter === "" ? -1 : k.indexOf(delimiter, prefix.length);
          const entry = i < 0 ? k : k.slice(0, i + delimiter.length);
          if (expected.at(-1) !== entry) expected.push(entry);
        }
        for (const maxKeys of [1, 3, 1000]) {
          const seen: string[] = [];
          let after = "";
          for (let page = 0; page < 500; page++) {
            const res = await b.listObjects("bkt", { prefix, delimiter, after, maxKeys });
            const entries = [...res.objects.map((o) => o.key), ...res.commonPrefixes].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
            expect(entries.length).toBeLessThanOrEqual(maxKeys);
            seen.push(...entries);
            if (!res.isTruncated) break;
            expect(res.lastEntry).toBe(entries.at(-1)!);
            expect(res.lastEntry! > after || Buffer.compare(Buffer.from(res.lastEntry!), Buffer.from(after)) > 0).toBe(true);
            after = res.lastEntry!;
          }
          expect(seen).toEqual(expected);
        }
        const empty = await b.listObjects("bkt", { prefix, delimiter, after: "", maxKeys: 0 });
        expect(empty).toEqual({ objects: [], commonPrefixes: [], isTruncated: false, lastEntry: undefined });
      }
    });

    test("multipart: parts, completion checks, etag, read across parts", async () => {
      await b.createBucket("bkt", t0);
      const attrs = { headers: { "content-type": "video/mp4" }, userMeta: { m: "1" }, tags: { t: "1" } };
      const id = await b.createMultipartUpload("bkt", "big", attrs, t0);
      const p1 = randomBytesSeeded(partBytesMin, 7);
      const p2 = randomBytesSeeded(1234, 8);
      const p3 = randomBytesSeeded(777, 9);
      const i1 = await b.uploadPart("bkt", "big", id, 1, bodyOf(p1, 1 << 20), t0);
      const i2 = await b.uploadPart("bkt", "big", id, 2, bodyOf(p2), t0);
      const i3 = await b.uploadPart("bkt", "big", id, 3, bodyOf(p3), t0);
      await expectS3Error(b.uploadPart("bkt", "big", "nope", 1, bodyOf(p2), t0), "NoSuchUpload");
      const listed = await b.listParts("bkt", "big", id, 0, 2);
      expect(listed.parts.map((p) => p.partNumber)).toEqual([1, 2]);
      expect(listed.isTruncated).toBe(true);
      expect((await b.listParts("bkt", "big", id, 2, 2)).parts.map((p) => p.partNumber)).toEqual([3]);
      await expectS3Error(b.completeMultipartUpload("bkt", "big", id, [{ partNumber: 2, etag: i2.etag }, { partNumber: 1, etag: i1.etag }], t0), "InvalidPartOrder");
      await expectS3Error(b.completeMultipartUpload("bkt", "big", id, [{ partNumber: 1, etag: "0".repeat(32) }], t0), "InvalidPart");
      await expectS3Error(b.completeMultipartUpload("bkt", "big", id, [{ partNumber: 2, etag: i2.etag }, { partNumber: 3, etag: i3.etag }], t0), "EntityTooSmall");
      const meta = await b.completeMultipartUpload("bkt", "big", id, [{ partNumber: 1, etag: i1.etag }, { partNumber: 2, etag: i2.etag }], t0 + 9);
      const partMd5s = Buffer.concat([Buffer.from(i1.etag, "hex"), Buffer.from(i2.etag, "hex")]);
      expect(meta.etag).toBe(`${createHash("md5").update(partMd5s).digest("hex")}-2`);
      expect(meta).toMatchObject({ sizeBytes: p1.length + p2.length, partsCount: 2, ...attrs });
      const whole = Buffer.concat([p1, p2]);
      expect(Buffer.compare(await get("bkt", "big"), whole)).toBe(0);
      const span = { start: partBytesMin - 10, end: partBytesMin + 9 };
      expect(Buffer.compare(await get("bkt", "big", span), whole.subarray(span.start, span.end + 1))).toBe(0);
      await expectS3Error(b.listParts("bkt", "big", id, 0, 10), "NoSuchUpload");
      await expectS3Error(b.abortMultipartUpload("bkt", "big", id), "NoSuchUpload");
    });

    test("a completion sent again with the same parts is answered as the first was, while the object it made stands", async () => {
      await b.createBucket("bkt", t0);
      const complete = async (key: string, body: Uint8Array, at: number) => {
        const id = await b.createMultipartUpload("bkt", key, noAttrs, t0);
        const part = await b.uploadPart("bkt", key, id, 1, bodyOf(body), t0);
        const parts = [{ partNumber: 1, etag: part.etag }];
        return { id, parts, meta: await b.completeMultipartUpload("bkt", key, id, parts, at) };
      };
      const first = await complete("k", new Uint8Array([1, 2, 3]), t0 + 5);
      const again = await b.completeMultipartUpload("bkt", "k", first.id, first.parts, t0 + 60_000);
      expect(again).toMatchObject({ etag: first.meta.etag, lastModifiedMs: t0 + 5, sizeBytes: 3, partsCount: 1 });
      expect(Buffer.compare(await get("bkt", "k"), Buffer.from([1, 2, 3]))).toBe(0);
      // a day on, it is forgotten
      await expectS3Error(b.completeMultipartUpload("bkt", "k", first.id, first.parts, t0 + 5 + 24 * 3600_000 + 1), "NoSuchUpload");
      // other parts, another key or another bucket's name: the upload is gone
      await expectS3Error(b.completeMultipartUpload("bkt", "k", first.id, [{ partNumber: 1, etag: "0".repeat(32) }], t0), "NoSuchUpload");
      await expectS3Error(b.completeMultipartUpload("bkt", "other", first.id, first.parts, t0), "NoSuchUpload");
      // the object it made replaced, or deleted: not told again
      await b.putObject("bkt", "k", bodyOf(new Uint8Array([9])), noAttrs, t0 + 10);
      await expectS3Error(b.completeMultipartUpload("bkt", "k", first.id, first.parts, t0), "NoSuchUpload");
      const second = await complete("gone", new Uint8Array([4]), t0 + 20);
      await b.deleteObject("bkt", "gone", t0 + 30);
      await expectS3Error(b.completeMultipartUpload("bkt", "gone", second.id, second.parts, t0), "NoSuchUpload");
      // an aborted upload was never completed
      const aborted = await b.createMultipartUpload("bkt", "k", noAttrs, t0);
      await b.abortMultipartUpload("bkt", "k", aborted);
      await expectS3Error(b.completeMultipartUpload("bkt", "k", aborted, first.parts, t0), "NoSuchUpload");
    });

    test("two completions of one upload at once: both answer the same object", async () => {
      await b.createBucket("bkt", t0);
      const id = await b.createMultipartUpload("bkt", "k", noAttrs, t0);
      const part = await b.uploadPart("bkt", "k", id, 1, bodyOf(new Uint8Array([7, 7])), t0);
      const parts = [{ partNumber: 1, etag: part.etag }];
      const [one, two] = await Promise.all([b.completeMultipartUpload("bkt", "k", id, parts, t0 + 1), b.completeMultipartUpload("bkt", "k", id, parts, t0 + 2)]);
      expect([two.etag, two.lastModifiedMs]).toEqual([one.etag, one.lastModifiedMs]);
    });

    test("multipart uploads list by key and upload id, with markers and prefixes", async () => {
      await b.createBucket("bkt", t0);
      const ids: Array<[string, string]> = [];
      for (const key of ["a/1", "a/2", "b", "b", "c"]) ids.push([key, await b.createMultipartUpload("bkt", key, noAttrs, t0)]);
      const expected = [...ids].sort((x, y) => (x[0] === y[0] ? (x[1] < y[1] ? -1 : 1) : x[0] < y[0] ? -1 : 1));
      const seen: Array<[string, string]> = [];
      let keyMarker = "";
      let uploadIdMarker = "";
      for (let i = 0; i < 10; i++) {
        const page = await b.listMultipartUploads("bkt", { prefix: "", delimiter: "", keyMarker, uploadIdMarker, maxUploads: 2 });
        seen.push(...page.uploads.map((u) => [u.key, u.uploadId] as [string, string]));
        if (!page.isTruncated) break;
        keyMarker = page.nextKeyMarker!;
        uploadIdMarker = page.nextUploadIdMarker!;
      }
      expect(seen).toEqual(expected);
      const rolled = await b.listMultipartUploads("bkt", { prefix: "", delimiter: "/", keyMarker: "", uploadIdMarker: "", maxUploads: 100 });
      expect(rolled.commonPrefixes).toEqual(["a/"]);
      expect(rolled.uploads.map((u) => u.key)).toEqual(["b", "b", "c"]);
    });

    test("uploads of one key list in the order they began (S3: by initiation time within a key)", async () => {
      await b.createBucket("bkt", t0);
      const begun: string[] = [];
      for (let i = 0; i < 12; i++) begun.push(await b.createMultipartUpload("bkt", "same", noAttrs, t0 + i * 1000));
      const page = await b.listMultipartUploads("bkt", { prefix: "", delimiter: "", keyMarker: "", uploadIdMarker: "", maxUploads: 100 });
      expect(page.uploads.map((u) => u.uploadId)).toEqual(begun);
      expect(page.uploads.map((u) => u.initiatedMs)).toEqual(begun.map((_, i) => t0 + i * 1000));
    });
  });
}
