/**
 * Content files ("blobs"), named by a random internal id in a 256-way fan-out tree, never by
 * key. A blob is durable (data and directory entry fsynced) before its metadata is committed;
 * a blob is removed only when no reader holds it, so an open reader never loses its bytes.
 * With a master key, every blob is sealed in fragments as it streams in (sealing.ts). Large
 * blobs bypass the page cache (blob-sinks.ts).
 *
 * A blob of 1 MiB or more that no object needs any more is kept for a while as a spare, and the
 * next such blob is written over it in place instead of into a new file. A new file's blocks are
 * allocated as it is written, and an unlinked one's freed; on this project's VMs (ext4 mounted
 * with `discard`) unlinking a written 64 MiB file takes 28-32 ms of the disk's time, and eight
 * 64 MiB PUTs at once that overwrite their keys ran 10-23 % faster writing over spares; through
 * the page cache, a 1 MiB blob's write and fdatasync took 15-20 % less time (bench/RESULTS.md).
 * A spare is unreferenced like any orphan: it is unlinked once spares go unused for a few seconds,
 * when space runs short (space.ts), when the store closes, or by the orphan sweep at start after a
 * crash.
 */
import { randomBytes } from "node:crypto";
import { accessSync, closeSync, constants, fsyncSync, mkdirSync, openSync, readdirSync, unlinkSync } from "node:fs";
import { open, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { assert } from "../../util/assert.ts";
import { type BlobSink, DirectSink, directBlobBytesMin, directCreateFlags, directWritesWork, PageCacheSink, settledLater, unwritableBlobs } from "./blob-sinks.ts";
import { plainSegmentReader, type SegmentReader } from "./read.ts";
import { sealedSegmentReader } from "./sealed-read.ts";
import type { Sealing } from "./sealing.ts";

const blobIdPattern = /^[0-9a-f]{32}$/;

/** A blob no object needs any more, kept for a new blob of 1 MiB or more to be written over. */
interface SpareBlob {
  id: string;
  sizeBytes: number;
}

/** Blobs from this size on are kept as spares. */
const spareBlobBytesMin = 1024 * 1024;
/** At most this many spares, of at most this many bytes together; a blob past either is unlinked. */
const spareBlobsMax = 16;
const spareBytesMax = 1024 * 1024 * 1024;
/**
 * How much longer than a new blob a spare written over it may be (the tail cut off at its end):
 * this much, or the blob's own size if that is less.
 */
const spareSlackBytes = 8 * 1024 * 1024;
/** Spares unused this long are unlinked, so that deleting objects frees their space soon. */
export const spareIdleMs = 5_000;
/** Open a spare for writing over: no O_CREAT, and no O_TRUNC, which would free its blocks. */
const spareDirectFlags = directCreateFlags & ~constants.O_CREAT & ~constants.O_EXCL;
const sparePageCacheFlags = "r+";

export class BlobStore {
  private readers = new Map<string, number>();
  private removeWhenFree = new Set<string>();
  private spares: SpareBlob[] = [];
  private sparesExpiry: ReturnType<typeof setTimeout> | undefined;
  /** Blobs being kept as spares or unlinked. */
  private retiring = new Set<Promise<void>>();

  private readonly pathOf = (id: string) => this.path(id);

  /** Whether large blobs are written with O_DIRECT (blob-sinks.ts); false where the filesystem refuses it. */
  readonly directWrites: boolean;

  constructor(
    readonly root: string,
    /** the data dir's, when it is encrypted */
    readonly sealing?: Sealing,
    directWrites = true,
  ) {
    mkdirSync(root, { recursive: true });
    for (let i = 0; i < 256; i++) {
      const dir = join(root, fanOut(i));
      mkdirSync(dir, { recursive: true });
      // each of them: one s3d cannot write would fail one upload in 256, found only by the first
      try {
        accessSync(dir, constants.W_OK | constants.X_OK);
      } catch (error) {
        throw unwritableBlobs(dir, error);
      }
    }
    fsyncDirectory(root);
    this.directWrites = directWrites && directWritesWork(root);
  }

  /** Reads plaintext ranges of blobs sealed with `sealing` (a client's key: SSE-C), or plain ones. */
  segmentReader(sealing: Sealing | undefined): SegmentReader {
    return sealing ? sealedSegmentReader(sealing, this.pathOf) : plainSegmentReader(this.pathOf);
  }

  newId(): string {
    return randomBytes(16).toString("hex");
  }

  path(id: string): string {
    assert(blobIdPattern.test(id), "blob ids are 32 hex digits");
    return join(this.root, id.slice(0, 2), id);
  }

  /**
   * Streams `body` into a new blob and makes it durable; returns its plaintext size. On any
   * error (including the body stream failing verification, or running past `declaredBytes`)
   * the partial file is removed and the error rethrown. Sealed blobs go through the same sinks:
   * the sealer hands back ciphertext and tag pieces that are written like plain chunks.
   * `chunksOwned`: the body's chunks are this writer's alone (IncomingBody.chunksOwned), so each
   * is handed back to the allocator once written or copied (by the sink) or sealed (by the sealer).
   * `sealing`: the data dir's, unless the blob is sealed with a client's key (SSE-C).
   */
  async write(id: string, body: ReadableStream<Uint8Array>, declaredBytes?: number, chunksOwned = false, sealing = this.sealing): Promise<number> {
    const path = this.path(id);
    const direct = this.directWrites && declaredBytes !== undefined && declaredBytes >= directBlobBytesMin;
    const overwriting = declaredBytes !== undefined && declaredBytes >= spareBlobBytesMin && (await this.renameSpare(declaredBytes, path));
    const flags = overwriting ? (direct ? spareDirectFlags : sparePageCacheFlags) : direct ? directCreateFlags : "wx";
    const file = await open(path, flags, 0o600);
    // The new directory entry is flushed while the body arrives: it need only be durable by the commit.
    const directoryFlush = settledLater(fsyncDirectoryAsync(join(this.root, id.slice(0, 2))));
    // Sealed, the sealer releases the body's chunks once it has sealed them, and the sink writes the
    // sealer's ciphertext pieces, which are left to the collector (releasing them too gained nothing).
    const sealer = sealing?.streamSealer(Buffer.from(id, "hex"), chunksOwned);
    const releaseChunks = chunksOwned && sealer === undefined;
    const sink: BlobSink = direct ? new DirectSink(file, releaseChunks, overwriting) : new PageCacheSink(file, releaseChunks, overwriting);
    let sizeBytes = 0;
    let durable: Promise<void> | undefined;
    try {
      for await (const chunk of body) {
        if (chunk.length === 0) continue;
        sizeBytes += chunk.length;
        if (sizeBytes > (declaredBytes ?? Infinity)) throw new Error("the body is longer than its declared length");
        if (sealer === undefined) await sink.add(chunk);
        else for (const piece of sealer.push(chunk)) await sink.add(piece);
        // The body's end waits for its hashes to be checked: the last write and flush run meanwhile.
        if (sealer === undefined && sizeBytes === declaredBytes) durable = settledLater(sink.finish());
      }
      for (const piece of sealer?.finish() ?? []) await sink.add(piece);
      // The file's data and its directory entry: both on disk before the commit, in either order.
      await Promise.all([durable ?? sink.finish(), directoryFlush]);
    } catch (error) {
      await Promise.allSettled([durable, sink.abandon()]);
      await file.close().catch(() => {});
      await unlink(path).catch(() => {});
      throw error;
    }
    await file.close();
    return sizeBytes;
  }

  /** Marks blobs as being read; each acquire needs one release. */
  acquire(ids: readonly string[]): void {
    for (const id of ids) this.readers.set(id, (this.readers.get(id) ?? 0) + 1);
  }

  release(ids: readonly string[]): void {
    for (const id of ids) {
      const n = (this.readers.get(id) ?? 0) - 1;
      assert(n >= 0, "blob released more often than acquired");
      if (n > 0) {
        this.readers.set(id, n);
        continue;
      }
      this.readers.delete(id);
      if (this.removeWhenFree.delete(id)) this.retireLater(id);
    }
  }

  /** Removes blobs no longer referenced by metadata, now or when their last reader is done. */
  remove(ids: readonly string[]): void {
    for (const id of ids) {
      if (this.readers.has(id)) this.removeWhenFree.add(id);
      else this.retireLater(id);
    }
  }

  /** Spares kept now. */
  get spareCount(): number {
    return this.spares.length;
  }

  /** For a store about to close: waits for the blobs being removed and unlinks the spares. */
  async close(): Promise<void> {
    await Promise.all(this.retiring);
    await this.dropSpares();
  }

  /** Unlinks the spares (to free their space, or when they go unused); resolves to their bytes. */
  async dropSpares(): Promise<number> {
    clearTimeout(this.sparesExpiry);
    const spares = this.spares.splice(0);
    await Promise.all(spares.map((spare) => this.unlinkQuietly(spare.id)));
    return bytesOf(spares);
  }

  private retireLater(id: string): void {
    const retired = this.retire(id);
    this.retiring.add(retired);
    void retired.finally(() => this.retiring.delete(retired));
  }

  /** Keeps an unreferenced blob as a spare when it is large enough and there is room, else unlinks it. */
  private async retire(id: string): Promise<void> {
    const sizeBytes = await stat(this.path(id)).then((s) => s.size, () => 0);
    const room = this.spares.length < spareBlobsMax && bytesOf(this.spares) + sizeBytes <= spareBytesMax;
    if (sizeBytes < spareBlobBytesMin || !room) return this.unlinkQuietly(id);
    this.spares.push({ id, sizeBytes });
    this.expireSparesLater();
  }

  /**
   * Renames a spare to `path` for a blob of `sizeBytes` to be written over it; false when there is
   * none (or it could not be renamed: then it is unlinked, and the blob goes into a new file).
   */
  private async renameSpare(sizeBytes: number, path: string): Promise<boolean> {
    const spare = this.takeSpare(sizeBytes);
    if (spare === undefined) return false;
    return rename(this.path(spare.id), path).then(
      () => true,
      () => this.unlinkQuietly(spare.id).then(() => false),
    );
  }

  /**
   * The spare to write `sizeBytes` over, taken out of the spares: the one closest in size, of those
   * at most `spareSlackBytes` (or `sizeBytes`) longer. A shorter one grows; a longer one's tail is
   * cut off before the blob is acknowledged, and freeing a long tail would cost that request what
   * an unlink costs.
   */
  private takeSpare(sizeBytes: number): SpareBlob | undefined {
    const distance = (spare: SpareBlob) => Math.abs(spare.sizeBytes - sizeBytes);
    const longestBytes = sizeBytes + Math.min(spareSlackBytes, sizeBytes);
    let best: SpareBlob | undefined;
    for (const spare of this.spares) {
      if (spare.sizeBytes <= longestBytes && !(best && distance(best) <= distance(spare))) best = spare;
    }
    if (best === undefined) return undefined;
    this.spares.splice(this.spares.indexOf(best), 1);
    this.expireSparesLater();
    return best;
  }

  /** Unlinks every spare once none has been kept or taken for `spareIdleMs`. */
  private expireSparesLater(): void {
    clearTimeout(this.sparesExpiry);
    if (this.spares.length === 0) return;
    this.sparesExpiry = setTimeout(() => void this.dropSpares(), spareIdleMs);
    this.sparesExpiry.unref();
  }

  /** Deletes every blob not in `referenced` (start-up garbage collection); returns the count. */
  sweepOrphans(referenced: (id: string) => boolean): number {
    let removed = 0;
    for (let i = 0; i < 256; i++) {
      const dir = join(this.root, fanOut(i));
      for (const name of readdirSync(dir)) {
        if (blobIdPattern.test(name) && referenced(name)) continue;
        unlinkSync(join(dir, name));
        removed++;
      }
    }
    return removed;
  }

  private async unlinkQuietly(id: string): Promise<void> {
    // A blob that fails to go away is an orphan: the next start-up sweep collects it.
    await unlink(this.path(id)).catch(() => {});
  }
}

function bytesOf(spares: readonly SpareBlob[]): number {
  return spares.reduce((sum, spare) => sum + spare.sizeBytes, 0);
}

function fanOut(i: number): string {
  return i.toString(16).padStart(2, "0");
}

export function fsyncDirectory(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function fsyncDirectoryAsync(path: string): Promise<void> {
  const dir = await open(path, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
