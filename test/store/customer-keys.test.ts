/**
 * SSE-C (customer-provided keys) in the fs backend, on a plain data dir and on one encrypted at
 * rest with a master key: keyed objects read back exactly with their key at every storage path
 * (inline, page-cache blob, O_DIRECT blob, multipart) and in ranges across 8 KiB fragments; their
 * ETags are random, not the MD5; without the key only metadata reads (InvalidRequest), another key
 * is AccessDenied; neither the plaintext nor the key ever reaches the disk; multipart parts must
 * come with the upload's key; all of it survives a restart; noncurrent versions keep their own
 * keys; tags need no key.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Error, type S3ErrorCode } from "../../src/errors.ts";
import type { ByteRange } from "../../src/s3/range.ts";
import { partBytesMin, type CustomerKey, type IncomingBody, type ObjectAttributes } from "../../src/store/backend.ts";
import { directBlobBytesMin } from "../../src/store/fs/blob-sinks.ts";
import { FsBackend, inlineObjectBytesMax } from "../../src/store/fs/backend.ts";
import { fragmentPlainBytes, sealedBytes } from "../../src/store/fs/sealing.ts";
import { bodyOf, randomBytesSeeded } from "./contract.ts";

const noAttrs: ObjectAttributes = { headers: {}, userMeta: {}, tags: {} };
const t0 = 1_700_000_000_000;
const P = fragmentPlainBytes;
const MiB = 1024 * 1024;

const masterKey = new Uint8Array(randomBytes(32));
const keyA: CustomerKey = { key: new Uint8Array(randomBytes(32)) };
const keyB: CustomerKey = { key: new Uint8Array(randomBytes(32)) };

/** One object per storage path: inline (empty, tiny, one fragment, several), page-cache blob, O_DIRECT blob. */
const sizes = { empty: 0, one: 1, small: 3000, inlineFrags: 20_000, blob: 1.5 * MiB + 3, direct: 9 * MiB + 7 } as const;
type SizeName = keyof typeof sizes;
const data = Object.fromEntries(Object.entries(sizes).map(([name, n], i) => [name, randomBytesSeeded(n, 100 + i)])) as Record<SizeName, Uint8Array>;
const isBlob = (name: SizeName) => sizes[name] > inlineObjectBytesMax;

const dirs: string[] = [];
const open: FsBackend[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close().catch(() => {});
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "s3d-ssec-"));
  dirs.push(dir);
  return dir;
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

function blobPaths(dir: string): string[] {
  return allFiles(join(dir, "blobs"));
}

const md5Hex = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");
const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** The S3Error an action throws, synchronously or by rejecting. */
async function s3ErrorOf(action: () => unknown): Promise<S3Error> {
  try {
    await action();
  } catch (e) {
    expect(e).toBeInstanceOf(S3Error);
    return e as S3Error;
  }
  throw new Error("expected an S3Error, but the action succeeded");
}

async function expectRefused(action: () => unknown, code: S3ErrorCode, status: number): Promise<void> {
  const e = await s3ErrorOf(action);
  expect([e.code, e.httpStatus]).toEqual([code, status]);
}

/** A body made of a recognisable marker, so that any plaintext copy on disk can be found. */
function markedBytes(marker: Buffer, n: number): Uint8Array {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += marker.length) marker.copy(out, i, 0, Math.min(marker.length, n - i));
  return out;
}

function filesHolding(dir: string, needle: Uint8Array): string[] {
  return allFiles(dir).filter((f) => readFileSync(f).includes(needle));
}

const modes = [
  { name: "plain data dir", encryptionKey: undefined },
  { name: "data dir encrypted at rest", encryptionKey: masterKey },
] as const;

for (const mode of modes) {
  describe(`SSE-C, fs backend, ${mode.name}`, () => {
    function backendAt(dir: string): FsBackend {
      const b = new FsBackend(dir, { encryptionKey: mode.encryptionKey });
      open.push(b);
      return b;
    }

    async function closeAll(): Promise<void> {
      for (const b of open.splice(0)) await b.close();
    }

    async function fresh(): Promise<{ dir: string; b: FsBackend }> {
      const dir = tempDir();
      const b = backendAt(dir);
      await b.createBucket("bkt", t0);
      return { dir, b };
    }

    /** The object's bytes (or a range) through stream(), checked to equal bytes()'s. */
    async function read(b: FsBackend, k: string, customerKey?: CustomerKey, range?: ByteRange, versionId?: string): Promise<Uint8Array> {
      const streamed = new Uint8Array(await new Response((await b.openObject("bkt", k, versionId, customerKey)).stream(range)).arrayBuffer());
      const whole = await (await b.openObject("bkt", k, versionId, customerKey)).bytes(range);
      expect(same(streamed, whole)).toBe(true);
      return streamed;
    }

    /** Opens without a key: the metadata is there, every way to the bytes is InvalidRequest. */
    async function expectWithheld(b: FsBackend, k: string, versionId?: string) {
      const reader = await b.openObject("bkt", k, versionId);
      expect(reader.meta.customerKeyCheck).toBeDefined();
      await expectRefused(() => reader.bytes(), "InvalidRequest", 400);
      await expectRefused(() => reader.bytes({ start: 0, end: 0 }), "InvalidRequest", 400);
      await expectRefused(() => reader.stream(), "InvalidRequest", 400);
      await expectRefused(() => reader.stream({ start: 0, end: 0 }), "InvalidRequest", 400);
      await expectRefused(() => reader.partRange(1), "InvalidRequest", 400);
      reader.close();
      return reader.meta;
    }

    async function putAll(b: FsBackend, customerKey: CustomerKey) {
      const metas = {} as Record<SizeName, Awaited<ReturnType<FsBackend["putObject"]>>>;
      for (const name of Object.keys(sizes) as SizeName[]) {
        metas[name] = await b.putObject("bkt", name, bodyOf(data[name], isBlob(name) ? MiB : 64 * 1024), noAttrs, t0, undefined, customerKey);
      }
      return metas;
    }

    test("a keyed object reads back exactly with its key at every storage path, whole and in ranges across fragments", async () => {
      const { dir, b } = await fresh();
      expect(sizes.direct).toBeGreaterThanOrEqual(directBlobBytesMin);
      expect(sizes.blob).toBeLessThan(directBlobBytesMin);
      if (process.env.CI) expect(b.directWrites).toBe(true);
      const metas = await putAll(b, keyA);
      for (const name of Object.keys(sizes) as SizeName[]) {
        const n = sizes[name];
        expect([name, metas[name].sizeBytes, metas[name].customerKeyCheck !== undefined]).toEqual([name, n, true]);
        expect([name, same(await read(b, name, keyA), data[name])]).toEqual([name, true]);
        const reader = await b.openObject("bkt", name, undefined, keyA);
        expect(reader.meta.sizeBytes).toBe(n);
        expect(reader.meta.etag).toBe(metas[name].etag);
        expect(reader.partRange(1)).toEqual({ start: 0, end: n - 1 });
        expect(reader.partRange(2)).toBeUndefined();
        reader.close();
      }
      // ranges: across the first fragment boundaries, one byte, the last byte, the read-batch and O_DIRECT block edges
      const ranges = (n: number): ByteRange[] =>
        [
          { start: P - 3, end: P + 2 },
          { start: 2 * P - 1, end: 2 * P },
          { start: P, end: P },
          { start: 3 * P - 5, end: 5 * P + 3 },
          { start: 64 * P - 2, end: 64 * P + 1 },
          { start: MiB - 3, end: MiB + P + 3 },
          { start: 1, end: n - 2 },
          { start: n - 1, end: n - 1 },
          { start: 0, end: 0 },
        ].filter((r) => r.start >= 0 && r.end < n && r.start <= r.end);
      for (const name of ["small", "inlineFrags", "blob", "direct"] as const) {
        for (const r of ranges(sizes[name])) {
          const got = await read(b, name, keyA, r);
          expect([name, r, same(got, data[name].subarray(r.start, r.end + 1))]).toEqual([name, r, true]);
        }
      }
      // the blobs are sealed under the client's key: plaintext size plus one tag per fragment
      const blobs = blobPaths(dir).map((p) => statSync(p).size).sort((x, y) => x - y);
      expect(blobs).toEqual([sealedBytes(sizes.blob), sealedBytes(sizes.direct)]);
    });

    test("the ETag is 32 random hex digits, not the MD5, and differs between PUTs of the same bytes and key", async () => {
      const { b } = await fresh();
      const first = await putAll(b, keyA);
      const second = await putAll(b, keyA);
      const listed = new Map((await b.listObjects("bkt", { prefix: "", delimiter: "", after: "", maxKeys: 100 })).objects.map((o) => [o.key, o.etag]));
      for (const name of Object.keys(sizes) as SizeName[]) {
        const etag = first[name].etag;
        expect(etag).toMatch(/^[0-9a-f]{32}$/);
        expect(etag).not.toBe(md5Hex(data[name]));
        expect(second[name].etag).toMatch(/^[0-9a-f]{32}$/);
        expect(second[name].etag).not.toBe(etag);
        expect(listed.get(name)).toBe(second[name].etag);
      }
      // and an object without a key keeps its MD5 ETag
      expect((await b.putObject("bkt", "plain", bodyOf(data.small), noAttrs, t0)).etag).toBe(md5Hex(data.small));
    });

    test("without the key only metadata reads; another key is AccessDenied; a key for an unkeyed object is InvalidRequest", async () => {
      const { b } = await fresh();
      const attrs: ObjectAttributes = { headers: { "content-type": "text/x-secret" }, userMeta: { owner: "me" }, tags: { team: "blue" } };
      for (const name of ["small", "blob", "direct"] as const) {
        await b.putObject("bkt", name, bodyOf(data[name], MiB), attrs, t0, undefined, keyA);
        const meta = await expectWithheld(b, name);
        expect([meta.sizeBytes, meta.headers, meta.userMeta, meta.tags, meta.partsCount]).toEqual([sizes[name], attrs.headers, attrs.userMeta, attrs.tags, 0]);
        await expectRefused(() => b.openObject("bkt", name, undefined, keyB), "AccessDenied", 403);
        // a key of the right length but one bit off
        const flipped = new Uint8Array(keyA.key);
        flipped[31] ^= 1;
        await expectRefused(() => b.openObject("bkt", name, undefined, { key: flipped }), "AccessDenied", 403);
        // the refusals changed nothing: the right key still reads it
        expect(same(await read(b, name, keyA), data[name])).toBe(true);
      }
      await b.putObject("bkt", "unkeyed-inline", bodyOf(data.small), noAttrs, t0);
      await b.putObject("bkt", "unkeyed-blob", bodyOf(data.blob, MiB), noAttrs, t0);
      for (const k of ["unkeyed-inline", "unkeyed-blob"]) {
        await expectRefused(() => b.openObject("bkt", k, undefined, keyA), "InvalidRequest", 400);
        const reader = await b.openObject("bkt", k);
        expect(reader.meta.customerKeyCheck).toBeUndefined();
        reader.close();
      }
      expect(same(await read(b, "unkeyed-blob"), data.blob)).toBe(true);
    });

    test("a customerKeyCheck passed in with the attributes is the store's to set: ignored on a PUT without a key", async () => {
      const { b } = await fresh();
      const keyed = await b.putObject("bkt", "keyed", bodyOf(data.small), noAttrs, t0, undefined, keyA);
      const copiedAttrs: ObjectAttributes = { ...noAttrs, customerKeyCheck: keyed.customerKeyCheck };
      const plain = await b.putObject("bkt", "copy", bodyOf(data.small), copiedAttrs, t0);
      expect(plain.customerKeyCheck).toBeUndefined();
      expect(same(await read(b, "copy"), data.small)).toBe(true);
      await expectRefused(() => b.openObject("bkt", "copy", undefined, keyA), "InvalidRequest", 400);
      // with a key, the check is a fresh one (salted): never the one passed in
      const rekeyed = await b.putObject("bkt", "rekeyed", bodyOf(data.small), copiedAttrs, t0, undefined, keyA);
      expect(rekeyed.customerKeyCheck).toBeDefined();
      expect(rekeyed.customerKeyCheck).not.toBe(keyed.customerKeyCheck);
      expect(same(await read(b, "rekeyed", keyA), data.small)).toBe(true);
    });

    test("neither the plaintext nor the key reaches the disk (blobs, meta.sqlite, its WAL)", async () => {
      const { dir, b } = await fresh();
      const marker = Buffer.from("SSE-C-PLAINTEXT-MARKER-7e1d93/");
      await b.putObject("bkt", "inline", bodyOf(markedBytes(marker, 5000)), noAttrs, t0, undefined, keyA);
      await b.putObject("bkt", "inline-max", bodyOf(markedBytes(marker, inlineObjectBytesMax)), noAttrs, t0, undefined, keyA);
      await b.putObject("bkt", "blob", bodyOf(markedBytes(marker, 300_000), 7000), noAttrs, t0, undefined, keyA);
      const upload = await b.createMultipartUpload("bkt", "multi", noAttrs, t0, undefined, keyA);
      const p1 = await b.uploadPart("bkt", "multi", upload, 1, bodyOf(markedBytes(marker, partBytesMin), MiB), t0, keyA);
      const p2 = await b.uploadPart("bkt", "multi", upload, 2, bodyOf(markedBytes(marker, 5000)), t0, keyA);
      await b.completeMultipartUpload("bkt", "multi", upload, [{ partNumber: 1, etag: p1.etag }, { partNumber: 2, etag: p2.etag }], t0);
      // an upload still open: its part is at rest too
      const pending = await b.createMultipartUpload("bkt", "pending", noAttrs, t0, undefined, keyA);
      await b.uploadPart("bkt", "pending", pending, 1, bodyOf(markedBytes(marker, 100_000)), t0, keyA);

      const key = Buffer.from(keyA.key);
      const secrets = [marker, key, Buffer.from(key.toString("base64")), Buffer.from(key.toString("hex")), Buffer.from(key.toString("base64url"))];
      const scan = () => secrets.map((s) => filesHolding(dir, s));
      expect(allFiles(dir).some((f) => f.endsWith("meta.sqlite-wal"))).toBe(true);
      expect(scan()).toEqual(secrets.map(() => [])); // while running: the WAL holds the recent rows
      await closeAll();
      expect(scan()).toEqual(secrets.map(() => [])); // after the checkpoint into meta.sqlite
      const again = backendAt(dir);
      expect(same(await read(again, "multi", keyA), Buffer.concat([markedBytes(marker, partBytesMin), markedBytes(marker, 5000)]))).toBe(true);
      expect(same(await read(again, "inline", keyA), markedBytes(marker, 5000))).toBe(true);

      // the scan can fail: an object without a customer key is found in a plain data dir
      await again.putObject("bkt", "control", bodyOf(markedBytes(marker, 5000)), noAttrs, t0);
      await again.putObject("bkt", "control-blob", bodyOf(markedBytes(marker, 200_000)), noAttrs, t0);
      const found = filesHolding(dir, marker);
      if (mode.encryptionKey === undefined) {
        expect(found.some((f) => f.includes("meta.sqlite"))).toBe(true);
        expect(found.filter((f) => f.includes("/blobs/")).length).toBe(1);
      } else {
        expect(found).toEqual([]);
      }
    });

    test("multipart: parts need the upload's key, the object is sealed with it, its ETag ends in -N", async () => {
      const { dir, b } = await fresh();
      const p1 = randomBytesSeeded(partBytesMin + 3, 21);
      const p2 = randomBytesSeeded(2 * P + 9, 22);
      const upload = await b.createMultipartUpload("bkt", "mp", { ...noAttrs, tags: { t: "1" } }, t0, undefined, keyA);
      const blobsBefore = blobPaths(dir).length;
      await expectRefused(() => b.uploadPart("bkt", "mp", upload, 1, bodyOf(p1, MiB), t0), "InvalidRequest", 400);
      await expectRefused(() => b.uploadPart("bkt", "mp", upload, 1, bodyOf(p1, MiB), t0, keyB), "InvalidRequest", 400);
      expect(blobPaths(dir).length).toBe(blobsBefore); // refused parts leave nothing behind
      const e1 = await b.uploadPart("bkt", "mp", upload, 1, bodyOf(p1, MiB), t0, keyA);
      const e2 = await b.uploadPart("bkt", "mp", upload, 2, bodyOf(p2), t0, keyA);
      for (const [part, info] of [[p1, e1], [p2, e2]] as const) {
        expect(info.etag).toMatch(/^[0-9a-f]{32}$/);
        expect(info.etag).not.toBe(md5Hex(part));
        expect(info.sizeBytes).toBe(part.length);
      }
      const listed = await b.listParts("bkt", "mp", upload, 0, 10);
      expect(listed.parts.map((p) => [p.partNumber, p.etag, p.sizeBytes])).toEqual([[1, e1.etag, p1.length], [2, e2.etag, p2.length]]);
      expect(listed.upload.customerKeyCheck).toBeDefined();
      const meta = await b.completeMultipartUpload("bkt", "mp", upload, [{ partNumber: 1, etag: e1.etag }, { partNumber: 2, etag: e2.etag }], t0);
      expect(meta.etag).toMatch(/^[0-9a-f]{32}-2$/);
      expect(meta.partsCount).toBe(2);
      expect(meta.customerKeyCheck).toBeDefined();
      const whole = Buffer.concat([p1, p2]);
      expect(same(await read(b, "mp", keyA), whole)).toBe(true);
      // a range across the part boundary, and the parts' ranges
      const across = { start: p1.length - P - 2, end: p1.length + P + 2 };
      expect(same(await read(b, "mp", keyA, across), whole.subarray(across.start, across.end + 1))).toBe(true);
      const reader = await b.openObject("bkt", "mp", undefined, keyA);
      expect([reader.partRange(1), reader.partRange(2), reader.partRange(3)]).toEqual([{ start: 0, end: p1.length - 1 }, { start: p1.length, end: whole.length - 1 }, undefined]);
      expect(same(await reader.bytes(reader.partRange(2)), p2)).toBe(true);
      // without the key: metadata (tags, parts count) only; another key: AccessDenied
      const withheld = await expectWithheld(b, "mp");
      expect([withheld.partsCount, withheld.tags, withheld.etag]).toEqual([2, { t: "1" }, meta.etag]);
      await expectRefused(() => b.openObject("bkt", "mp", undefined, keyB), "AccessDenied", 403);

      // an upload made without a key refuses a part that comes with one, and takes one without
      const plainUpload = await b.createMultipartUpload("bkt", "plain-mp", noAttrs, t0);
      await expectRefused(() => b.uploadPart("bkt", "plain-mp", plainUpload, 1, bodyOf(p2), t0, keyA), "InvalidRequest", 400);
      const plainPart = await b.uploadPart("bkt", "plain-mp", plainUpload, 1, bodyOf(p2), t0);
      expect(plainPart.etag).toBe(md5Hex(p2));
      await b.completeMultipartUpload("bkt", "plain-mp", plainUpload, [{ partNumber: 1, etag: plainPart.etag }], t0);
      expect(same(await read(b, "plain-mp"), p2)).toBe(true);
      await expectRefused(() => b.openObject("bkt", "plain-mp", undefined, keyA), "InvalidRequest", 400);
    });

    test("additional checksums of keyed objects and parts are sealed: read with the key only, never in clear on disk", async () => {
      const { dir, b } = await fresh();
      const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("base64");
      /** A body whose digest carries a SHA-256 checksum, as the S3 layer's does with x-amz-checksum-sha256. */
      const checksummed = (bytes: Uint8Array): IncomingBody => {
        const body = bodyOf(bytes);
        return { ...body, digest: () => ({ ...body.digest(), checksum: { algorithm: "SHA256", value: sha(bytes), type: "FULL_OBJECT" as const } }) };
      };
      const small = randomBytesSeeded(2000, 71);
      await b.putObject("bkt", "ck", checksummed(small), noAttrs, t0, undefined, keyA);
      expect((await b.openObject("bkt", "ck")).meta.checksum).toBeUndefined();
      expect((await b.openObject("bkt", "ck", undefined, keyA)).meta.checksum).toEqual({ algorithm: "SHA256", value: sha(small), type: "FULL_OBJECT" });
      // (the row cache keeps the metadata without it)
      expect((await b.openObject("bkt", "ck")).meta.checksum).toBeUndefined();

      const parts = [randomBytesSeeded(partBytesMin, 72), randomBytesSeeded(1000, 73)];
      const uploadId = await b.createMultipartUpload("bkt", "mp", noAttrs, t0, { algorithm: "SHA256", type: "COMPOSITE" }, keyA);
      const infos = [];
      for (const [i, part] of parts.entries()) infos.push(await b.uploadPart("bkt", "mp", uploadId, i + 1, checksummed(part), t0, keyA));
      expect(infos.map((p) => p.checksum)).toEqual(parts.map(sha));
      // listing the parts or completing the upload needs the key: the parts' checksums are sealed with it
      await expectRefused(() => b.listParts("bkt", "mp", uploadId, 0, 10), "InvalidRequest", 400);
      await expectRefused(() => b.listParts("bkt", "mp", uploadId, 0, 10, keyB), "InvalidRequest", 400);
      expect((await b.listParts("bkt", "mp", uploadId, 0, 10, keyA)).parts.map((p) => p.checksum)).toEqual(parts.map(sha));
      const completed = infos.map((p) => ({ partNumber: p.partNumber, etag: p.etag, checksum: p.checksum }));
      await expectRefused(() => b.completeMultipartUpload("bkt", "mp", uploadId, completed, t0), "InvalidRequest", 400);
      const meta = await b.completeMultipartUpload("bkt", "mp", uploadId, completed, t0, undefined, keyA);
      expect(meta.checksum?.algorithm).toBe("SHA256");
      expect((await b.openObject("bkt", "mp", undefined, keyA)).meta.checksum).toEqual(meta.checksum);
      expect((await b.openObject("bkt", "mp")).meta.checksum).toBeUndefined();

      // none of the checksums is on disk in clear (base64 as kept, nor the raw digest)
      for (const value of [sha(small), ...parts.map(sha), meta.checksum!.value]) {
        expect(filesHolding(dir, Buffer.from(value))).toEqual([]);
        expect(filesHolding(dir, Buffer.from(value, "base64"))).toEqual([]);
      }
      // an object without a key keeps its checksum as before
      await b.putObject("bkt", "plain", checksummed(small), noAttrs, t0);
      expect((await b.openObject("bkt", "plain")).meta.checksum?.value).toBe(sha(small));
    });

    test("keyed objects survive a restart: read with the key, AccessDenied with another, withheld without", async () => {
      const dir = tempDir();
      const b = backendAt(dir);
      await b.createBucket("bkt", t0);
      await putAll(b, keyA);
      const upload = await b.createMultipartUpload("bkt", "mp", noAttrs, t0, undefined, keyB);
      const p1 = randomBytesSeeded(partBytesMin, 31);
      const e1 = await b.uploadPart("bkt", "mp", upload, 1, bodyOf(p1, MiB), t0, keyB);
      const e2 = await b.uploadPart("bkt", "mp", upload, 2, bodyOf(data.small), t0, keyB);
      await b.completeMultipartUpload("bkt", "mp", upload, [{ partNumber: 1, etag: e1.etag }, { partNumber: 2, etag: e2.etag }], t0);
      const openUpload = await b.createMultipartUpload("bkt", "later", noAttrs, t0, undefined, keyA);
      await closeAll();

      const again = backendAt(dir);
      for (const name of Object.keys(sizes) as SizeName[]) {
        expect([name, same(await read(again, name, keyA), data[name])]).toEqual([name, true]);
        await expectRefused(() => again.openObject("bkt", name, undefined, keyB), "AccessDenied", 403);
        await expectWithheld(again, name);
      }
      expect(same(await read(again, "mp", keyB), Buffer.concat([p1, data.small]))).toBe(true);
      await expectRefused(() => again.openObject("bkt", "mp", undefined, keyA), "AccessDenied", 403);
      // an upload left open still wants its key
      await expectRefused(() => again.uploadPart("bkt", "later", openUpload, 1, bodyOf(data.small), t0), "InvalidRequest", 400);
      await expectRefused(() => again.uploadPart("bkt", "later", openUpload, 1, bodyOf(data.small), t0, keyB), "InvalidRequest", 400);
      const part = await again.uploadPart("bkt", "later", openUpload, 1, bodyOf(data.small), t0, keyA);
      await again.completeMultipartUpload("bkt", "later", openUpload, [{ partNumber: 1, etag: part.etag }], t0);
      expect(same(await read(again, "later", keyA), data.small)).toBe(true);
    });

    test("versioning: each version opens only with its own key, noncurrent or promoted back", async () => {
      const { b } = await fresh();
      await b.setBucketVersioning("bkt", "Enabled");
      const v1 = await b.putObject("bkt", "k", bodyOf(data.blob, MiB), noAttrs, t0, undefined, keyA);
      const v2 = await b.putObject("bkt", "k", bodyOf(data.small), noAttrs, t0 + 1, undefined, keyB);
      const v3 = await b.putObject("bkt", "k", bodyOf(data.one), noAttrs, t0 + 2);
      expect(new Set([v1.versionId, v2.versionId, v3.versionId]).size).toBe(3);
      // the current one has no key
      expect(same(await read(b, "k"), data.one)).toBe(true);
      await expectRefused(() => b.openObject("bkt", "k", undefined, keyA), "InvalidRequest", 400);
      // the noncurrent ones, by version id
      expect(same(await read(b, "k", keyA, undefined, v1.versionId), data.blob)).toBe(true);
      expect(same(await read(b, "k", keyA, { start: P - 1, end: 3 * P }, v1.versionId), data.blob.subarray(P - 1, 3 * P + 1))).toBe(true);
      expect(same(await read(b, "k", keyB, undefined, v2.versionId), data.small)).toBe(true);
      await expectRefused(() => b.openObject("bkt", "k", v1.versionId, keyB), "AccessDenied", 403);
      await expectRefused(() => b.openObject("bkt", "k", v2.versionId, keyA), "AccessDenied", 403);
      expect((await expectWithheld(b, "k", v1.versionId)).versionId).toBe(v1.versionId);
      expect((await expectWithheld(b, "k", v2.versionId)).sizeBytes).toBe(sizes.small);
      // v3 removed: v2 is current again, with its key
      await b.deleteObject("bkt", "k", t0 + 3, { versionId: v3.versionId });
      expect(same(await read(b, "k", keyB), data.small)).toBe(true);
      await expectRefused(() => b.openObject("bkt", "k", undefined, keyA), "AccessDenied", 403);
      await expectWithheld(b, "k");
      // a delete marker on top: the keyed versions are still there by id
      await b.deleteObject("bkt", "k", t0 + 4);
      await expectRefused(() => b.openObject("bkt", "k", undefined, keyB), "NoSuchKey", 404);
      expect(same(await read(b, "k", keyA, undefined, v1.versionId), data.blob)).toBe(true);
      expect(same(await read(b, "k", keyB, undefined, v2.versionId), data.small)).toBe(true);
    });

    test("unversioned overwrites switch between keyed and unkeyed; tags and deletes need no key", async () => {
      const { b } = await fresh();
      await b.putObject("bkt", "k", bodyOf(data.small), noAttrs, t0, undefined, keyA);
      expect(same(await read(b, "k", keyA), data.small)).toBe(true); // (now in the row cache)
      await b.putObject("bkt", "k", bodyOf(data.inlineFrags), noAttrs, t0);
      expect(same(await read(b, "k"), data.inlineFrags)).toBe(true);
      await expectRefused(() => b.openObject("bkt", "k", undefined, keyA), "InvalidRequest", 400);
      await b.putObject("bkt", "k", bodyOf(data.blob, MiB), noAttrs, t0, undefined, keyB);
      await expectRefused(() => b.openObject("bkt", "k", undefined, keyA), "AccessDenied", 403);
      expect(same(await read(b, "k", keyB), data.blob)).toBe(true);

      // tags: set and read without the key, on the current and on a noncurrent version
      expect(await b.setObjectTags("bkt", "k", { color: "red" })).toBeUndefined();
      expect((await expectWithheld(b, "k")).tags).toEqual({ color: "red" });
      expect(same(await read(b, "k", keyB), data.blob)).toBe(true);
      const reader = await b.openObject("bkt", "k", undefined, keyB);
      expect(reader.meta.tags).toEqual({ color: "red" });
      reader.close();

      await b.setBucketVersioning("bkt", "Enabled");
      const v1 = await b.putObject("bkt", "v", bodyOf(data.small), noAttrs, t0, undefined, keyA);
      await b.putObject("bkt", "v", bodyOf(data.small), noAttrs, t0 + 1, undefined, keyB);
      expect(await b.setObjectTags("bkt", "v", { old: "yes" }, v1.versionId)).toBe(v1.versionId);
      expect((await expectWithheld(b, "v", v1.versionId)).tags).toEqual({ old: "yes" });
      expect(same(await read(b, "v", keyA, undefined, v1.versionId), data.small)).toBe(true);

      // a delete needs no key either
      await b.deleteObject("bkt", "k", t0 + 2, { versionId: "null" });
      await expectRefused(() => b.openObject("bkt", "k", undefined, keyB), "NoSuchKey", 404);
    });
  });
}
