/**
 * Content files ("blobs"), named by a random internal id in a 256-way fan-out tree, never by
 * key. A blob is durable (data and directory entry fsynced) before its metadata is committed;
 * a blob is removed only when no reader holds it, so an open reader never loses its bytes.
 * With a master key, every blob is sealed in fragments as it streams in (sealing.ts).
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, unlinkSync } from "node:fs";
import { open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { assert } from "../../util/assert.ts";
import { plainSegmentReader, type SegmentReader } from "./read.ts";
import { sealedSegmentReader } from "./sealed-read.ts";
import type { Sealing } from "./sealing.ts";

/**
 * `promise`, marked as handled: a flush started ahead is awaited only if the write gets that far,
 * and its failure must not become an unhandled rejection when the write fails first.
 */
function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** Chunks are written to the file in batches of at least this size. */
const writeBufferBytes = 1024 * 1024;
/** While a large body arrives, its file is flushed in the background every this many bytes. */
const earlyFlushBytes = 8 * 1024 * 1024;
const blobIdPattern = /^[0-9a-f]{32}$/;

export class BlobStore {
  private readers = new Map<string, number>();
  private removeWhenFree = new Set<string>();

  /** Reads plaintext ranges of blobs, opening sealed fragments when there is a key. */
  readonly readSegment: SegmentReader;

  constructor(
    readonly root: string,
    private readonly sealing?: Sealing,
  ) {
    mkdirSync(root, { recursive: true });
    for (let i = 0; i < 256; i++) mkdirSync(join(root, fanOut(i)), { recursive: true });
    fsyncDirectory(root);
    const pathOf = (id: string) => this.path(id);
    this.readSegment = sealing ? sealedSegmentReader(sealing, pathOf) : plainSegmentReader(pathOf);
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
   * error (including the body stream failing verification) the partial file is removed and
   * the error rethrown. Sealed blobs go through the same batching: the sealer hands back
   * ciphertext and tag pieces that are gathered like plain chunks.
   */
  async write(id: string, body: ReadableStream<Uint8Array>, declaredBytes?: number): Promise<number> {
    const path = this.path(id);
    const file = await open(path, "wx", 0o600);
    // The new directory entry is flushed while the body arrives: it need only be durable by the commit.
    const directoryFlush = settledLater(fsyncDirectoryAsync(join(this.root, id.slice(0, 2))));
    const sealer = this.sealing?.streamSealer(Buffer.from(id, "hex"));
    let sizeBytes = 0;
    try {
      // Chunks are gathered, not copied, and written together once a batch is large enough.
      let batch: Uint8Array[] = [];
      let batchedBytes = 0;
      // Dirty pages are flushed while the body still arrives, so the last flush is short.
      let earlyFlush: Promise<void> | undefined;
      let unflushedBytes = 0;
      // Once the declared length is written, the last flush starts: the body's end waits for its
      // hashes to be checked, and the flush runs meanwhile instead of after.
      let finalFlush: { atBytes: number; done: Promise<void> } | undefined;
      for await (const chunk of body) {
        sizeBytes += chunk.length;
        if (sealer === undefined) {
          batch.push(chunk);
          batchedBytes += chunk.length;
        } else {
          for (const piece of sealer.push(chunk)) {
            batch.push(piece);
            batchedBytes += piece.length;
          }
        }
        const complete = sealer === undefined && sizeBytes === declaredBytes;
        if (batchedBytes >= writeBufferBytes || complete) {
          await writeAll(file, batch, batchedBytes);
          unflushedBytes += batchedBytes;
          batch = [];
          batchedBytes = 0;
          if (complete) {
            await earlyFlush;
            finalFlush = { atBytes: sizeBytes, done: settledLater(file.datasync()) };
          } else if (unflushedBytes >= earlyFlushBytes && earlyFlush === undefined) {
            unflushedBytes = 0;
            earlyFlush = file.datasync().finally(() => (earlyFlush = undefined));
          }
        }
      }
      for (const piece of sealer?.finish() ?? []) {
        batch.push(piece);
        batchedBytes += piece.length;
      }
      if (batchedBytes > 0) await writeAll(file, batch, batchedBytes);
      await earlyFlush;
      await finalFlush?.done;
      // The file's data and its directory entry: both on disk before the commit, in either order.
      await Promise.all([finalFlush?.atBytes === sizeBytes ? undefined : file.datasync(), directoryFlush]);
    } catch (error) {
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
      if (this.removeWhenFree.delete(id)) void this.unlinkQuietly(id);
    }
  }

  /** Removes blobs no longer referenced by metadata, now or when their last reader is done. */
  remove(ids: readonly string[]): void {
    for (const id of ids) {
      if (this.readers.has(id)) this.removeWhenFree.add(id);
      else void this.unlinkQuietly(id);
    }
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

function fanOut(i: number): string {
  return i.toString(16).padStart(2, "0");
}

/** Writes every chunk, in order, with as few system calls as the kernel allows. */
async function writeAll(file: import("node:fs/promises").FileHandle, chunks: Uint8Array[], totalBytes: number) {
  let { bytesWritten } = await file.writev(chunks);
  while (bytesWritten < totalBytes) {
    // a short write: continue from where the kernel stopped
    let skip = bytesWritten;
    const rest: Uint8Array[] = [];
    for (const c of chunks) {
      if (skip >= c.length) skip -= c.length;
      else {
        rest.push(skip > 0 ? c.subarray(skip) : c);
        skip = 0;
      }
    }
    chunks = rest;
    bytesWritten += (await file.writev(chunks)).bytesWritten;
  }
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
