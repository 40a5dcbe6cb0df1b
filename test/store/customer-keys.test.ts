/**
 * SSE-C (customer-provided keys) in the fs backend, beyond the contract every Backend passes
 * (customer-keys-contract.ts), on a plain data dir and on one encrypted at rest with a master key:
 * keyed objects read back exactly at every storage path (inline, page-cache blob, O_DIRECT blob)
 * and in ranges across fragments, read batches and direct-write blocks, their blobs sealed; neither
 * the plaintext, nor its checksums, nor the key ever reaches the disk; all of it survives a restart.
 */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ByteRange } from "../../src/s3/range.ts";
import { partBytesMin, type CustomerKey, type ObjectAttributes } from "../../src/store/backend.ts";
import { directBlobBytesMin } from "../../src/store/fs/blob-sinks.ts";
import { FsBackend, inlineObjectBytesMax } from "../../src/store/fs/backend.ts";
import { fragmentPlainBytes, sealedBytes } from "../../src/store/fs/sealing.ts";
import { allFiles, scratch } from "./scratch.ts";
import { bodyOf, randomBytesSeeded } from "./contract.ts";
import { checksummed, expectRefused, expectWithheld, keyA, keyB, read, same, sha } from "./customer-keys-contract.ts";

const noAttrs: ObjectAttributes = { headers: {}, userMeta: {}, tags: {} };
const t0 = 1_700_000_000_000;
const P = fragmentPlainBytes;
const MiB = 1024 * 1024;

const masterKey = new Uint8Array(randomBytes(32));

/** One object per storage path: inline (empty, tiny, one fragment, several), page-cache blob, O_DIRECT blob. */
const sizes = { empty: 0, one: 1, small: 3000, inlineFrags: 20_000, blob: 1.5 * MiB + 3, direct: 9 * MiB + 7 } as const;
type SizeName = keyof typeof sizes;
const data = Object.fromEntries(Object.entries(sizes).map(([name, n], i) => [name, randomBytesSeeded(n, 100 + i)])) as Record<SizeName, Uint8Array>;
const isBlob = (name: SizeName) => sizes[name] > inlineObjectBytesMax;

const { tempDir, kept, closeAll } = scratch("s3d-ssec-");

function blobPaths(dir: string): string[] {
  return allFiles(join(dir, "blobs"));
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
    const backendAt = (dir: string): FsBackend => kept(new FsBackend(dir, { encryptionKey: mode.encryptionKey }));

    async function fresh(): Promise<{ dir: string; b: FsBackend }> {
      const dir = tempDir();
      const b = backendAt(dir);
      await b.createBucket("bkt", t0);
      return { dir, b };
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

    test("additional checksums of keyed objects and parts are never on disk in clear", async () => {
      const { dir, b } = await fresh();
      const small = randomBytesSeeded(2000, 71);
      const parts = [randomBytesSeeded(partBytesMin, 72), randomBytesSeeded(1000, 73)];
      await b.putObject("bkt", "ck", checksummed(small), noAttrs, t0, undefined, keyA);
      const uploadId = await b.createMultipartUpload("bkt", "mp", noAttrs, t0, { algorithm: "SHA256", type: "COMPOSITE" }, keyA);
      const infos = [];
      for (const [i, part] of parts.entries()) infos.push(await b.uploadPart("bkt", "mp", uploadId, i + 1, checksummed(part), t0, keyA));
      const completed = infos.map((p) => ({ partNumber: p.partNumber, etag: p.etag, checksum: p.checksum }));
      const meta = await b.completeMultipartUpload("bkt", "mp", uploadId, completed, t0, undefined, keyA);
      const pending = await b.createMultipartUpload("bkt", "pending", noAttrs, t0, { algorithm: "SHA256", type: "COMPOSITE" }, keyA);
      await b.uploadPart("bkt", "pending", pending, 1, checksummed(parts[1]), t0, keyA);
      // (base64 as kept, and the raw digest)
      const values = [sha(small), ...parts.map(sha), meta.checksum!.value];
      const scan = () => values.flatMap((v) => [...filesHolding(dir, Buffer.from(v)), ...filesHolding(dir, Buffer.from(v, "base64"))]);
      expect(scan()).toEqual([]);
      // the scan can fail: a plain object's checksum is kept as it is
      await b.putObject("bkt", "plain", checksummed(small), noAttrs, t0);
      expect(filesHolding(dir, Buffer.from(sha(small))).length).toBeGreaterThan(0);
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

  });
}
