import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FsBackend, inlineObjectBytesMax } from "../../src/store/fs/backend.ts";
import type { BlobStore } from "../../src/store/fs/blobs.ts";
import { backendContract, bodyOf, randomBytesSeeded } from "./contract.ts";
import { versionsContract } from "./versions-contract.ts";
import { customerKeysContract } from "./customer-keys-contract.ts";

async function fsUnderTest() {
  const dir = mkdtempSync(join(tmpdir(), "s3d-fs-"));
  const backend = new FsBackend(dir);
  return {
    backend,
    cleanup: async () => {
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

backendContract("fs", fsUnderTest);
versionsContract("fs", fsUnderTest);
customerKeysContract("fs", fsUnderTest);

function blobFiles(dir: string): string[] {
  const root = join(dir, "blobs");
  return readdirSync(root).flatMap((fan) => readdirSync(join(root, fan)));
}

test("fs: start-up removes blob files no metadata points at, and keeps the rest", async () => {
  const dir = mkdtempSync(join(tmpdir(), "s3d-fs-"));
  try {
    const first = new FsBackend(dir);
    await first.createBucket("bkt", 0);
    await first.putObject("bkt", "kept", bodyOf(randomBytesSeeded(100_000, 1)), { headers: {}, userMeta: {}, tags: {} }, 0);
    const upload = await first.createMultipartUpload("bkt", "mp", { headers: {}, userMeta: {}, tags: {} }, 0);
    await first.uploadPart("bkt", "mp", upload, 1, bodyOf(randomBytesSeeded(100, 2)), 0);
    await first.close();
    // what a crash between "blob durable" and "metadata committed" leaves behind
    writeFileSync(join(dir, "blobs", "ab", "ab".padEnd(32, "0")), "orphan");
    writeFileSync(join(dir, "blobs", "cd", "not-a-blob"), "junk");
    expect(blobFiles(dir).length).toBe(4);
    const second = new FsBackend(dir);
    expect(second.collectOrphans()).toBe(2);
    expect(blobFiles(dir).length).toBe(2);
    expect((await second.listParts("bkt", "mp", upload, 0, 10)).parts.length).toBe(1);
    const reader = await second.openObject("bkt", "kept");
    expect((await new Response(reader.stream()).arrayBuffer()).byteLength).toBe(100_000);
    await second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fs: deleting a bucket with an upload still open removes the upload's part blobs too", async () => {
  const dir = mkdtempSync(join(tmpdir(), "s3d-fs-"));
  try {
    const backend = new FsBackend(dir);
    const attrs = { headers: {}, userMeta: {}, tags: {} };
    await backend.createBucket("bkt", 0);
    const upload = await backend.createMultipartUpload("bkt", "mp", attrs, 0);
    await backend.uploadPart("bkt", "mp", upload, 1, bodyOf(randomBytesSeeded(100_000, 3)), 0);
    await backend.uploadPart("bkt", "mp", upload, 2, bodyOf(randomBytesSeeded(100, 4)), 0);
    expect(blobFiles(dir).length).toBe(2);
    await backend.deleteBucket("bkt");
    await backend.close();
    expect(blobFiles(dir)).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fs: large objects overwritten and written anew reuse the superseded blobs, read back exactly, and leave only their own blobs at close", async () => {
  const { directBlobBytesMin } = await import("../../src/store/fs/blob-sinks.ts");
  const dir = mkdtempSync(join(tmpdir(), "s3d-fs-"));
  try {
    const backend = new FsBackend(dir);
    await backend.createBucket("bkt", 0);
    const meta = { headers: {}, userMeta: {}, tags: {} };
    const versions = [61, 62, 63, 64].map((seed, i) => randomBytesSeeded(directBlobBytesMin + i * 1_000_003, seed));
    const readBack = async (key: string) => {
      const reader = await backend.openObject("bkt", key);
      return Buffer.from(await new Response(reader.stream()).arrayBuffer());
    };
    await backend.putObject("bkt", "k", bodyOf(versions[0]!), meta, 0);
    await backend.putObject("bkt", "k", bodyOf(versions[1]!), meta, 0);
    await Bun.sleep(50); // the superseded blob becomes a spare
    expect(blobFiles(dir).length).toBe(2);
    await backend.putObject("bkt", "j", bodyOf(versions[2]!), meta, 0);
    expect(blobFiles(dir).length).toBe(2); // written over the spare, not into a third file
    await backend.putObject("bkt", "k", bodyOf(versions[3]!), meta, 0);
    expect((await readBack("j")).equals(versions[2]!)).toBe(true);
    expect((await readBack("k")).equals(versions[3]!)).toBe(true);
    await backend.close();
    expect(blobFiles(dir).length).toBe(2);
    const reopened = new FsBackend(dir);
    expect(reopened.collectOrphans()).toBe(0);
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fs space: below the floor, space held for reuse is handed back before a write is refused, and after a disk-full error", async () => {
  const { SpaceGuard } = await import("../../src/store/fs/space.ts");
  const dir = mkdtempSync(join(tmpdir(), "s3d-space-"));
  const MiB = 1024 * 1024;
  try {
    const hog = join(dir, "held-for-reuse");
    writeFileSync(hog, new Uint8Array(64 * MiB).fill(1));
    const reclaims: number[] = [];
    const reclaim = async () => {
      const freed = existsSync(hog) ? 64 * MiB : 0;
      rmSync(hog, { force: true });
      reclaims.push(freed);
      return freed;
    };
    const { bavail, bsize } = statfsSync(dir);
    const available = bavail * bsize;
    // 48 MiB would leave 16 MiB less than the floor, and the held 64 MiB more than make up for it
    const guard = new SpaceGuard(dir, available - 32 * MiB, reclaim);
    expect(await guard.admit(48 * MiB, async () => "stored")).toBe("stored");
    expect(reclaims).toEqual([64 * MiB]);
    expect(existsSync(hog)).toBe(false);
    // nothing left to hand back: refused
    const full = new SpaceGuard(dir, available + 1024 * 1024 * MiB, reclaim);
    await expect(full.admit(1, async () => "stored")).rejects.toMatchObject({ code: "InsufficientStorage" });
    expect(reclaims).toEqual([64 * MiB, 0]);
    // a disk that fills anyway: the write's ENOSPC becomes InsufficientStorage, and the space is handed back
    const roomy = new SpaceGuard(dir, 0, reclaim);
    const enospc = Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
    await expect(roomy.admit(1, async () => Promise.reject(enospc))).rejects.toMatchObject({ code: "InsufficientStorage" });
    expect(reclaims).toEqual([64 * MiB, 0, 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fs: a failed write leaves no file behind", async () => {
  const dir = mkdtempSync(join(tmpdir(), "s3d-fs-"));
  try {
    const backend = new FsBackend(dir);
    await backend.createBucket("bkt", 0);
    await expect(backend.putObject("bkt", "k", bodyOf(randomBytesSeeded(3_000_000, 1), 65536, 2_000_000), { headers: {}, userMeta: {}, tags: {} }, 0)).rejects.toThrow();
    await expect(backend.putObject("nobucket", "k", bodyOf(randomBytesSeeded(10, 1)), { headers: {}, userMeta: {}, tags: {} }, 0)).rejects.toThrow();
    await Bun.sleep(20);
    expect(blobFiles(dir)).toEqual([]);
    await backend.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fs: small objects live in their metadata row, large ones in blob files", async () => {
  const dir = mkdtempSync(join(tmpdir(), "s3d-fs-"));
  try {
    const backend = new FsBackend(dir);
    await backend.createBucket("bkt", 0);
    const small = randomBytesSeeded(inlineObjectBytesMax, 1);
    const large = randomBytesSeeded(inlineObjectBytesMax + 1, 2);
    await backend.putObject("bkt", "small", bodyOf(small), { headers: {}, userMeta: {}, tags: {} }, 0);
    expect(blobFiles(dir)).toEqual([]);
    await backend.putObject("bkt", "large", bodyOf(large), { headers: {}, userMeta: {}, tags: {} }, 0);
    expect(blobFiles(dir).length).toBe(1);
    const read = async (key: string, range?: { start: number; end: number }) =>
      new Uint8Array(await new Response((await backend.openObject("bkt", key)).stream(range)).arrayBuffer());
    expect(Buffer.compare(await read("small"), small)).toBe(0);
    expect(Buffer.compare(await read("small", { start: 10, end: 19 }), small.subarray(10, 20))).toBe(0);
    // overwriting a file-backed object with a small one removes its file
    await backend.putObject("bkt", "large", bodyOf(small), { headers: {}, userMeta: {}, tags: {} }, 0);
    await Bun.sleep(20);
    expect(blobFiles(dir)).toEqual([]);
    await backend.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fs: an overwrite (rewritten in place) replaces every field, inline and file-backed alike, and keeps one entry", async () => {
  const dir = mkdtempSync(join(tmpdir(), "s3d-fs-"));
  try {
    const backend = new FsBackend(dir);
    await backend.createBucket("bkt", 0);
    const read = async (key: string) => new Uint8Array(await new Response((await backend.openObject("bkt", key)).stream()).arrayBuffer());
    const first = randomBytesSeeded(4096, 3);
    await backend.putObject("bkt", "k", bodyOf(first), { headers: { "content-type": "a/b" }, userMeta: { m: "1" }, tags: { t: "1" } }, 1000);
    await backend.putObject("bkt", "other", bodyOf(first), { headers: {}, userMeta: {}, tags: {} }, 1000);
    const versions = [randomBytesSeeded(100, 4), randomBytesSeeded(inlineObjectBytesMax + 5, 5), randomBytesSeeded(7, 6)];
    for (const [i, bytes] of versions.entries()) {
      const meta = await backend.putObject("bkt", "k", bodyOf(bytes), { headers: {}, userMeta: { v: String(i) }, tags: {} }, 2000 + i);
      const reader = await backend.openObject("bkt", "k");
      reader.close();
      expect(reader.meta).toMatchObject({ key: "k", sizeBytes: bytes.length, etag: meta.etag, lastModifiedMs: 2000 + i, headers: {}, userMeta: { v: String(i) }, tags: {} });
      expect(Buffer.compare(await read("k"), bytes)).toBe(0);
      const listed = await backend.listObjects("bkt", { prefix: "", delimiter: "", after: "", maxKeys: 1000 });
      expect(listed.objects.map((o) => [o.key, o.sizeBytes])).toEqual([["k", bytes.length], ["other", 4096]]);
    }
    await Bun.sleep(20);
    expect(blobFiles(dir)).toEqual([]); // the file-backed version's blob went with the next overwrite
    expect(Buffer.compare(await read("other"), first)).toBe(0);
    await backend.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const streamOf = (pieces: Uint8Array[], failAtEnd = false) =>
  new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = pieces.shift();
      if (next) controller.enqueue(next);
      else if (failAtEnd) controller.error(new Error("verification failed at the end"));
      else controller.close();
    },
  });

/** `bytes` cut into pieces of the given sizes, the last piece taking the rest. */
function cut(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let at = 0;
  for (const n of sizes) {
    if (at >= bytes.length) break;
    pieces.push(bytes.subarray(at, Math.min(at + n, bytes.length)));
    at += n;
  }
  if (at < bytes.length) pieces.push(bytes.subarray(at));
  return pieces;
}

test("fs blobs: a directory where blob files cannot be written at all is an error, not a filesystem without direct writes", async () => {
  const { directWritesWork } = await import("../../src/store/fs/blob-sinks.ts");
  const dir = mkdtempSync(join(tmpdir(), "s3d-blobs-"));
  try {
    writeFileSync(join(dir, "file"), "not a directory");
    expect(() => directWritesWork(join(dir, "file"))).toThrow(/blob files cannot be written in .*ENOTDIR/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const directWrites of [true, false]) {
  const how = directWrites ? "direct writes" : "page cache";
  test(`fs blobs (${how}): every length around the block and alignment edges is stored exactly, declared or not`, async () => {
    const { BlobStore } = await import("../../src/store/fs/blobs.ts");
    const { directBlobBytesMin, directBlockBytes, directWritesWork } = await import("../../src/store/fs/blob-sinks.ts");
    const dir = mkdtempSync(join(tmpdir(), "s3d-blobs-"));
    try {
      const blobs = new BlobStore(join(dir, "blobs"), undefined, directWrites);
      expect(blobs.directWrites).toBe(directWrites && directWritesWork(dir));
      // CI runs on ext4, which takes O_DIRECT: the direct path must be the one tested there
      if (directWrites && process.env.CI) expect(blobs.directWrites).toBe(true);
      const block = directBlockBytes;
      const min = directBlobBytesMin; // shorter blobs go through the page cache either way
      const lengths = [min - 1, min, min + 1, min + 4095, min + 4096, min + block, min + 3 * block + 17];
      for (const [i, length] of lengths.entries()) {
        const bytes = randomBytesSeeded(length, 100 + i);
        for (const declared of [length, undefined]) {
          for (const sizes of [[length], [1, 4095, 70_000, block, 3], [65_536, 65_536, 65_536]]) {
            const id = blobs.newId();
            expect(await blobs.write(id, streamOf(cut(bytes, sizes)), declared)).toBe(length);
            expect(Buffer.from(await Bun.file(blobs.path(id)).arrayBuffer()).equals(bytes)).toBe(true);
          }
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`fs blobs (${how}): a body that runs past its declared length, or fails after it arrived, leaves no file`, async () => {
    const { BlobStore } = await import("../../src/store/fs/blobs.ts");
    const dir = mkdtempSync(join(tmpdir(), "s3d-blobs-"));
    try {
      const { directBlobBytesMin } = await import("../../src/store/fs/blob-sinks.ts");
      const blobs = new BlobStore(join(dir, "blobs"), undefined, directWrites);
      const bytes = randomBytesSeeded(directBlobBytesMin + 3 * 1024 * 1024 + 17, 9);
      const pieces = () => cut(bytes, [1_000_000, directBlobBytesMin]);
      const longer = blobs.newId();
      await expect(blobs.write(longer, streamOf(pieces()), directBlobBytesMin + 1_000)).rejects.toThrow("longer than its declared length");
      expect(await Bun.file(blobs.path(longer)).exists()).toBe(false);
      // the flush begun at the declared length is awaited before the file goes
      const failing = blobs.newId();
      await expect(blobs.write(failing, streamOf(pieces(), true), bytes.length)).rejects.toThrow("verification failed");
      expect(await Bun.file(blobs.path(failing)).exists()).toBe(false);
      const fine = blobs.newId();
      expect(await blobs.write(fine, streamOf(pieces()), bytes.length)).toBe(bytes.length);
      expect(Buffer.from(await Bun.file(blobs.path(fine)).arrayBuffer()).equals(bytes)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("fs blob sinks: a large blob is flushed while it is written, not only at the end", async () => {
  const { open } = await import("node:fs/promises");
  const { DirectSink, PageCacheSink, directCreateFlags, directWritesWork } = await import("../../src/store/fs/blob-sinks.ts");
  const dir = mkdtempSync(join(tmpdir(), "s3d-sinks-"));
  try {
    const kinds = directWritesWork(dir) ? (["direct", "page cache"] as const) : (["page cache"] as const);
    for (const kind of kinds) {
      const path = join(dir, kind);
      const file = await open(path, kind === "direct" ? directCreateFlags : "wx", 0o600);
      const flushedAt: number[] = [];
      let addedBytes = 0;
      const datasync = file.datasync.bind(file);
      file.datasync = () => {
        flushedAt.push(addedBytes);
        return datasync();
      };
      const sink = kind === "direct" ? new DirectSink(file) : new PageCacheSink(file);
      const bytes = randomBytesSeeded(24 * 1024 * 1024 + 5, 31);
      for (const piece of cut(bytes, [1024 * 1024])) {
        await sink.add(piece);
        addedBytes += piece.length;
      }
      await sink.finish();
      await file.close();
      // at least one flush began before the last byte was added, and the last one after it
      expect(flushedAt.length).toBeGreaterThanOrEqual(2);
      expect(flushedAt[0]).toBeLessThan(bytes.length);
      expect(flushedAt.at(-1)).toBe(bytes.length);
      expect(Buffer.from(await Bun.file(path).arrayBuffer()).equals(bytes)).toBe(true);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fs direct sink: several block writes in flight, all done before the last flush; a failed one fails the blob and abandon waits for the rest", async () => {
  const { open } = await import("node:fs/promises");
  const { DirectSink, directCreateFlags, directWritesWork, directBlockBytes } = await import("../../src/store/fs/blob-sinks.ts");
  const dir = mkdtempSync(join(tmpdir(), "s3d-sinks-"));
  try {
    if (!directWritesWork(dir)) {
      // CI runs on ext4, which takes O_DIRECT: this test must run there
      expect(process.env.CI).toBeUndefined();
      return;
    }
    /** A direct file whose writes are counted, slowed (so they overlap) and made to fail from write `failAt` on. */
    const watched = async (name: string, failAt = Infinity) => {
      const file = await open(join(dir, name), directCreateFlags, 0o600);
      const seen = { inFlight: 0, most: 0, writes: 0, inFlightAtSync: [] as number[] };
      const write = file.write.bind(file) as (...args: unknown[]) => Promise<unknown>;
      (file as { write: unknown }).write = async (...args: unknown[]) => {
        const n = ++seen.writes;
        seen.most = Math.max(seen.most, ++seen.inFlight);
        try {
          await Bun.sleep(5);
          if (n >= failAt) throw new Error(`write ${n} failed`);
          return await write(...args);
        } finally {
          seen.inFlight--;
        }
      };
      const datasync = file.datasync.bind(file);
      file.datasync = () => {
        seen.inFlightAtSync.push(seen.inFlight);
        return datasync();
      };
      return { file, seen };
    };

    const bytes = randomBytesSeeded(12 * directBlockBytes + 7, 53);
    const { file, seen } = await watched("whole");
    const sink = new DirectSink(file);
    for (const piece of cut(bytes, [300_000])) await sink.add(piece);
    await sink.finish();
    await file.close();
    expect(seen.most).toBeGreaterThan(1);
    expect(seen.most).toBeLessThanOrEqual(4);
    expect(seen.inFlightAtSync.at(-1)).toBe(0);
    expect(Buffer.from(await Bun.file(join(dir, "whole")).arrayBuffer()).equals(bytes)).toBe(true);

    const failing = await watched("failing", 3);
    const doomed = new DirectSink(failing.file);
    const error = await (async () => {
      for (const piece of cut(bytes, [300_000])) await doomed.add(piece);
      await doomed.finish();
    })().catch((e: Error) => e);
    expect(String(error)).toContain("write 3 failed");
    await doomed.abandon();
    expect(failing.seen.inFlight).toBe(0);
    await failing.file.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** `bytes` cut as by `cut`: even pieces copied into buffers of their own, odd ones views of `shared`, a copy of `bytes`. */
function ownedAndViewPieces(bytes: Uint8Array, sizes: number[]): { shared: Uint8Array; pieces: Uint8Array[] } {
  const shared = Uint8Array.from(bytes);
  return { shared, pieces: cut(shared, sizes).map((view, i) => (i % 2 === 0 ? Uint8Array.from(view) : view)) };
}

const detached = (chunk: Uint8Array) => (chunk.buffer as ArrayBuffer).detached;

for (const directWrites of [true, false]) {
  const how = directWrites ? "direct writes" : "page cache";
  test(`fs blobs (${how}): owned chunks are released once written, views of a larger buffer never, and the blob is exact`, async () => {
    const { BlobStore } = await import("../../src/store/fs/blobs.ts");
    const { directBlobBytesMin } = await import("../../src/store/fs/blob-sinks.ts");
    const dir = mkdtempSync(join(tmpdir(), "s3d-blobs-"));
    try {
      const blobs = new BlobStore(join(dir, "blobs"), undefined, directWrites);
      const bytes = randomBytesSeeded(directBlobBytesMin + 3 * 1024 * 1024 + 17, 41);
      for (const owned of [true, false]) {
        const { shared, pieces } = ownedAndViewPieces(bytes, [300_000, 524_288, 1]);
        const id = blobs.newId();
        expect(await blobs.write(id, streamOf([...pieces]), bytes.length, owned)).toBe(bytes.length);
        expect(Buffer.from(await Bun.file(blobs.path(id)).arrayBuffer()).equals(bytes)).toBe(true);
        for (const [i, piece] of pieces.entries()) expect(detached(piece)).toBe(owned && i % 2 === 0);
        expect(Buffer.from(shared).equals(bytes)).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("fs blobs: sealed blobs, written directly or not, read back exactly; owned chunks are released once sealed, views never", async () => {
  const { BlobStore } = await import("../../src/store/fs/blobs.ts");
  const { Sealing } = await import("../../src/store/fs/sealing.ts");
  const { directBlobBytesMin } = await import("../../src/store/fs/blob-sinks.ts");
  const dir = mkdtempSync(join(tmpdir(), "s3d-blobs-"));
  try {
    for (const directWrites of [true, false]) {
      const blobs = new BlobStore(join(dir, `blobs-${directWrites}`), new Sealing(new Uint8Array(32).fill(6)), directWrites);
      const bytes = randomBytesSeeded(directBlobBytesMin + 5_000, 43);
      for (const owned of [true, false]) {
        const { shared, pieces } = ownedAndViewPieces(bytes, [100_001, 8_191, 3]);
        const id = blobs.newId();
        expect(await blobs.write(id, streamOf([...pieces]), bytes.length, owned)).toBe(bytes.length);
        for (const [i, piece] of pieces.entries()) expect(detached(piece)).toBe(owned && i % 2 === 0);
        expect(Buffer.from(shared).equals(bytes)).toBe(true);
        expect((await readBlob(blobs, id, bytes.length)).equals(bytes)).toBe(true);
        // on disk: ciphertext, a tag per fragment, nothing of the plaintext's first bytes
        const onDisk = Buffer.from(await Bun.file(blobs.path(id)).arrayBuffer());
        expect(onDisk.length).toBeGreaterThan(bytes.length);
        expect(onDisk.subarray(0, 64).equals(bytes.subarray(0, 64))).toBe(false);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A blob's plaintext, read whole. */
async function readBlob(blobs: BlobStore, id: string, lengthBytes: number): Promise<Buffer> {
  const read: Uint8Array[] = [];
  for await (const chunk of blobs.segmentReader(blobs.sealing)(id, lengthBytes, 0, lengthBytes)) read.push(chunk);
  return Buffer.concat(read);
}

/** Writes `bytes` as a new blob in pieces cut at `sizes`; checks the length it reports and the bytes read back. */
async function writeChecked(blobs: BlobStore, bytes: Uint8Array, sizes: number[]): Promise<string> {
  const id = blobs.newId();
  expect(await blobs.write(id, streamOf(cut(bytes, sizes)), bytes.length)).toBe(bytes.length);
  expect((await readBlob(blobs, id, bytes.length)).equals(bytes)).toBe(true);
  return id;
}

/** Polls `condition` every 10 ms for up to 5 s. */
async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 5_000) throw new Error("condition not met within 5 s");
    await Bun.sleep(10);
  }
}

test("fs blobs: a large blob no object needs is kept as a spare and the next large blob is written over it in place, cut to its length", async () => {
  const { BlobStore } = await import("../../src/store/fs/blobs.ts");
  const { Sealing } = await import("../../src/store/fs/sealing.ts");
  const { directBlobBytesMin } = await import("../../src/store/fs/blob-sinks.ts");
  const dir = mkdtempSync(join(tmpdir(), "s3d-blobs-"));
  const inode = (path: string) => statSync(path).ino;
  const content = async (path: string) => Buffer.from(await Bun.file(path).arrayBuffer());
  try {
    for (const sealing of [undefined, new Sealing(new Uint8Array(32).fill(8))]) {
      const blobs = new BlobStore(join(dir, sealing ? "sealed" : "plain"), sealing);
      // CI runs on ext4, which takes O_DIRECT: spares are for directly written blobs
      if (process.env.CI) expect(blobs.directWrites).toBe(true);
      if (!blobs.directWrites) continue;
      const write = (bytes: Uint8Array) => writeChecked(blobs, bytes, [700_001, 1_048_576, 3]);
      const first = await write(randomBytesSeeded(directBlobBytesMin + 2 * 1024 * 1024 + 5, 50));
      const firstInode = inode(blobs.path(first));
      const small = await write(randomBytesSeeded(100_000, 51));
      blobs.remove([first, small]);
      await until(() => blobs.spareCount === 1 && !existsSync(blobs.path(small)));
      // shorter than the spare: written over it under its own name, the spare's tail cut off
      const shorterBytes = randomBytesSeeded(directBlobBytesMin + 3, 52);
      const shorter = await write(shorterBytes);
      expect(inode(blobs.path(shorter))).toBe(firstInode);
      expect(existsSync(blobs.path(first))).toBe(false);
      expect(blobs.spareCount).toBe(0);
      if (!sealing) expect((await content(blobs.path(shorter))).equals(shorterBytes)).toBe(true);
      // longer than the spare: the spare grows
      blobs.remove([shorter]);
      await until(() => blobs.spareCount === 1);
      const longer = await write(randomBytesSeeded(directBlobBytesMin + 5 * 1024 * 1024 + 1, 53));
      expect(inode(blobs.path(longer))).toBe(firstInode);
      // of several spares, the one closest in size; a length that needs no padding is cut to as well
      const larger = await write(randomBytesSeeded(directBlobBytesMin + 9 * 1024 * 1024, 54)); // 17 MiB
      const largerInode = inode(blobs.path(larger));
      blobs.remove([longer, larger]);
      await until(() => blobs.spareCount === 2);
      const alignedBytes = randomBytesSeeded(directBlobBytesMin + 8 * 1024 * 1024, 55); // 16 MiB
      const aligned = await write(alignedBytes);
      expect(inode(blobs.path(aligned))).toBe(largerInode);
      if (!sealing) expect((await content(blobs.path(aligned))).equals(alignedBytes)).toBe(true);
      blobs.remove([aligned]);
      await until(() => blobs.spareCount === 2);
      expect(inode(blobs.path(await write(randomBytesSeeded(directBlobBytesMin + 4 * 1024 * 1024, 56))))).toBe(firstInode); // 12 MiB: 13 beats 16
      // a spare more than spareSlackBytes longer than the blob is left for a longer one
      const twenty = await write(randomBytesSeeded(directBlobBytesMin + 12 * 1024 * 1024, 57)); // 20 MiB, over the 16 MiB spare
      expect(inode(blobs.path(twenty))).toBe(largerInode);
      blobs.remove([twenty]);
      await until(() => blobs.spareCount === 1);
      expect(inode(blobs.path(await write(randomBytesSeeded(directBlobBytesMin, 58))))).not.toBe(largerInode);
      expect(blobs.spareCount).toBe(1);
      expect(inode(blobs.path(await write(randomBytesSeeded(directBlobBytesMin + 11 * 1024 * 1024, 59))))).toBe(largerInode);
      expect(blobs.spareCount).toBe(0);
      // a blob still being read becomes a spare only when its reader is done
      const read = await write(randomBytesSeeded(directBlobBytesMin + 1, 57));
      blobs.acquire([read]);
      blobs.remove([read]);
      await Bun.sleep(50);
      expect(blobs.spareCount).toBe(0);
      blobs.release([read]);
      await until(() => blobs.spareCount === 1);
      // spares gone behind the store's back: the blobs go into new files
      const gone = [await write(randomBytesSeeded(directBlobBytesMin + 2, 58)), await write(randomBytesSeeded(directBlobBytesMin + 3, 58))];
      blobs.remove(gone);
      await until(() => blobs.spareCount === 2);
      for (const id of gone) rmSync(blobs.path(id));
      await write(randomBytesSeeded(directBlobBytesMin + 1, 59));
      expect(blobs.spareCount).toBe(1);
      const replacement = await write(randomBytesSeeded(directBlobBytesMin + 1, 59));
      expect(blobs.spareCount).toBe(0);
      const spareAgain = await write(randomBytesSeeded(directBlobBytesMin + 1, 59));
      blobs.remove([spareAgain]);
      await until(() => blobs.spareCount === 1);
      expect(existsSync(blobs.path(replacement))).toBe(true);
      // dropped (for their space, or unused), spares are unlinked and their bytes counted
      const spareBytes = statSync(blobs.path(spareAgain)).size;
      expect(await blobs.dropSpares()).toBe(spareBytes);
      expect(blobs.spareCount).toBe(0);
      expect(existsSync(blobs.path(spareAgain))).toBe(false);
      await blobs.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fs blobs: through the page cache, blobs of 1 MiB or more are written over spares as well, with a slack of their own size", async () => {
  const { BlobStore } = await import("../../src/store/fs/blobs.ts");
  const { Sealing } = await import("../../src/store/fs/sealing.ts");
  const dir = mkdtempSync(join(tmpdir(), "s3d-blobs-"));
  const MiB = 1024 * 1024;
  const inode = (path: string) => statSync(path).ino;
  try {
    for (const sealing of [undefined, new Sealing(new Uint8Array(32).fill(9))]) {
      const blobs = new BlobStore(join(dir, sealing ? "sealed" : "plain"), sealing, false);
      expect(blobs.directWrites).toBe(false);
      const write = async (bytes: Uint8Array) => {
        const id = await writeChecked(blobs, bytes, [300_001, 65_536, 3]);
        if (!sealing) expect(statSync(blobs.path(id)).size).toBe(bytes.length);
        return id;
      };
      const two = await write(randomBytesSeeded(2 * MiB + 7, 70));
      const twoInode = inode(blobs.path(two));
      const under = await write(randomBytesSeeded(1_000_000, 71)); // its file under 1 MiB, sealed too
      blobs.remove([two, under]);
      await until(() => blobs.spareCount === 1 && !existsSync(blobs.path(under))); // under 1 MiB: unlinked
      // a blob may take a spare up to its own size longer (plain: exactly; a sealed file is longer
      // than its plaintext): written over it, the tail cut off
      const one = await write(randomBytesSeeded(sealing ? MiB + 200_000 : MiB + 4, 72));
      expect(inode(blobs.path(one))).toBe(twoInode);
      expect(blobs.spareCount).toBe(0);
      // longer than that, the spare waits for a longer blob
      const three = await write(randomBytesSeeded(3 * MiB, 73));
      const threeInode = inode(blobs.path(three));
      blobs.remove([three]);
      await until(() => blobs.spareCount === 1);
      expect(inode(blobs.path(await write(randomBytesSeeded(MiB, 74))))).not.toBe(threeInode);
      expect(blobs.spareCount).toBe(1);
      expect(inode(blobs.path(await write(randomBytesSeeded(2 * MiB, 75))))).toBe(threeInode);
      // a spare grows for a longer blob
      blobs.remove([one]);
      await until(() => blobs.spareCount === 1);
      const grown = await write(randomBytesSeeded(5 * MiB + 1, 76));
      expect(inode(blobs.path(grown))).toBe(twoInode);
      await blobs.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fs blobs: spares unused for a few seconds are unlinked, written directly or through the page cache", async () => {
  const { BlobStore, spareIdleMs } = await import("../../src/store/fs/blobs.ts");
  const { directBlobBytesMin } = await import("../../src/store/fs/blob-sinks.ts");
  const dir = mkdtempSync(join(tmpdir(), "s3d-blobs-"));
  const expiry = async (directWrites: boolean) => {
    const blobs = new BlobStore(join(dir, `blobs-${directWrites}`), undefined, directWrites);
    if (directWrites && process.env.CI) expect(blobs.directWrites).toBe(true);
    const bytes = randomBytesSeeded(directBlobBytesMin + 1, 60);
    const id = blobs.newId();
    await blobs.write(id, streamOf([bytes]), bytes.length);
    const removedAt = performance.now();
    blobs.remove([id]);
    await until(() => blobs.spareCount === 1);
    await Bun.sleep(spareIdleMs - (performance.now() - removedAt) - 500);
    expect(existsSync(blobs.path(id))).toBe(true);
    await until(() => !existsSync(blobs.path(id)));
    expect(performance.now() - removedAt).toBeGreaterThanOrEqual(spareIdleMs);
    expect(blobs.spareCount).toBe(0);
  };
  try {
    await Promise.all([expiry(true), expiry(false)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sealer: a pushed chunk is released only once every byte of it is sealed", async () => {
  const { Sealing, fragmentPlainBytes } = await import("../../src/store/fs/sealing.ts");
  const sealer = new Sealing(new Uint8Array(32).fill(7)).streamSealer(new Uint8Array(16).fill(1), true);
  const a = new Uint8Array(fragmentPlainBytes + 2_000).fill(1);
  const b = new Uint8Array(fragmentPlainBytes - 1_000).fill(2);
  const c = new Uint8Array(10).fill(3);
  sealer.push(a); // one fragment sealed, 2,000 bytes of `a` still pending
  expect(detached(a)).toBe(false);
  sealer.push(b); // the second fragment takes the rest of `a` and most of `b`
  expect([detached(a), detached(b)]).toEqual([true, false]);
  sealer.push(c);
  expect([detached(b), detached(c)]).toEqual([false, false]);
  sealer.finish();
  expect([detached(b), detached(c)]).toEqual([true, true]);
});

test("fs: start-up recovery keeps the blobs of noncurrent versions, and removing a version frees its blob", async () => {
  const dir = mkdtempSync(join(tmpdir(), "s3d-fs-"));
  try {
    const attrs = { headers: {}, userMeta: {}, tags: {} };
    const old = randomBytesSeeded(150_000, 9);
    const first = new FsBackend(dir);
    await first.createBucket("bkt", 0);
    await first.setBucketVersioning("bkt", "Enabled");
    const v1 = await first.putObject("bkt", "k", bodyOf(old), attrs, 1);
    await first.putObject("bkt", "k", bodyOf(randomBytesSeeded(150_000, 10)), attrs, 2);
    await first.deleteObject("bkt", "k", 3);
    await first.close();
    const second = new FsBackend(dir);
    expect(second.collectOrphans()).toBe(0);
    expect(Buffer.from(await (await second.openObject("bkt", "k", v1.versionId)).bytes()).equals(Buffer.from(old))).toBe(true);
    const before = blobFiles(dir).length;
    await second.deleteObject("bkt", "k", 4, { versionId: v1.versionId });
    await second.close();
    expect(blobFiles(dir).length).toBe(before - 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
