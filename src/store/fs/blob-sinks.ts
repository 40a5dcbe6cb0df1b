/**
 * How a blob's bytes reach its file. Large blobs go straight to the device (O_DIRECT) from
 * aligned blocks that s3d fills: on this project's machines the page cache's copy and writeback
 * cost the kernel several times what the bytes cost s3d (see bench/RESULTS.md). Smaller blobs,
 * and filesystems that refuse O_DIRECT, are written through the page cache in batches.
 * Either way nothing is acknowledged before `finish` has made the data durable (fdatasync).
 */
import { closeSync, constants, openSync, rmSync, writeSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { alignedBytes } from "../../../ffi/aligned.ts";
import { releaseChunk } from "../../util/chunks.ts";

export interface BlobSink {
  /**
   * Takes `chunk` and may keep it until written: the caller must not change it afterwards. A sink
   * made to release chunks detaches it once written or copied (`releaseChunk`).
   */
  add(chunk: Uint8Array): Promise<void>;
  /** Every byte is in: writes what is left and makes the file's data durable. */
  finish(): Promise<void>;
  /** Waits for the writes in flight, so that the file can be closed and removed. */
  abandon(): Promise<void>;
}

/**
 * `promise`, marked as handled: work started ahead is awaited only if the write gets that far,
 * and its failure must not become an unhandled rejection when the write fails first.
 */
export function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** While a large body arrives, what is written of it is flushed in the background every this many bytes. */
const earlyFlushBytes = 8 * 1024 * 1024;

/**
 * Flushes a file while it is still being written, so that the flush before the acknowledgement
 * has little left to do. Through the page cache that is the dirty pages' writeback; written
 * directly, the bytes have reached the device, but a device with a volatile write cache (this
 * project's VM disks) still has to empty it on the flush: 47 ms after 64 MiB of direct writes,
 * against 5 ms with a flush every 8 MiB. While a body arrives more slowly than the disk writes,
 * that time is hidden.
 */
class EarlyFlush {
  private unflushedBytes = 0;
  private flushing: Promise<void> | undefined;

  constructor(private readonly file: FileHandle) {}

  /** `bytes` more are written: starts a flush once enough are, unless one is still running. */
  written(bytes: number): void {
    this.unflushedBytes += bytes;
    if (this.unflushedBytes < earlyFlushBytes || this.flushing !== undefined) return;
    this.unflushedBytes = 0;
    this.flushing = settledLater(this.file.datasync().finally(() => (this.flushing = undefined)));
  }

  /** Waits for the flush in flight; rejects if it failed. */
  async done(): Promise<void> {
    await this.flushing;
  }

  /** Waits for the flush in flight, whatever its outcome. */
  async settled(): Promise<void> {
    await this.flushing?.catch(() => {});
  }
}

/** Chunks are written to the page cache in batches of at least this size. */
const writeBufferBytes = 1024 * 1024;

/**
 * Gathers chunks (without copying them) and writes each batch with one writev. A file written
 * over (`overwriting`, a spare that may have been longer) is cut to its new length at the end.
 */
export class PageCacheSink implements BlobSink {
  private batch: Uint8Array[] = [];
  private batchedBytes = 0;
  private lengthBytes = 0;
  private readonly earlyFlush: EarlyFlush;

  constructor(
    private readonly file: FileHandle,
    private readonly releaseChunks = false,
    private readonly overwriting = false,
  ) {
    this.earlyFlush = new EarlyFlush(file);
  }

  async add(chunk: Uint8Array): Promise<void> {
    this.lengthBytes += chunk.length;
    this.batch.push(chunk);
    this.batchedBytes += chunk.length;
    if (this.batchedBytes >= writeBufferBytes) await this.writeBatch();
  }

  async finish(): Promise<void> {
    if (this.batchedBytes > 0) await this.writeBatch();
    if (this.overwriting) await this.file.truncate(this.lengthBytes);
    await this.earlyFlush.done();
    await this.file.datasync();
  }

  async abandon(): Promise<void> {
    await this.earlyFlush.settled();
  }

  private async writeBatch(): Promise<void> {
    const { batch, batchedBytes } = this;
    this.batch = [];
    this.batchedBytes = 0;
    await writeAll(this.file, batch, batchedBytes);
    if (this.releaseChunks) for (const chunk of batch) releaseChunk(chunk);
    this.earlyFlush.written(batchedBytes);
  }
}

/** Writes every chunk, in order, with as few system calls as the kernel allows. */
async function writeAll(file: FileHandle, chunks: Uint8Array[], totalBytes: number): Promise<void> {
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

/**
 * The alignment O_DIRECT asks of buffer addresses, file offsets and lengths: a multiple of every
 * logical block size in use (512 or 4096 bytes).
 */
export const directAlignmentBytes = 4096;
/** Direct writes go in blocks of this size. */
export const directBlockBytes = 1024 * 1024;
/**
 * Blobs declared at least this long are written directly; shorter ones go through the page cache,
 * which keeps them for the reads that often follow (a direct write leaves nothing cached). 1 MiB
 * PUTs at c=8 gained nothing from direct writes, 64 MiB PUTs 40-80 %.
 */
export const directBlobBytesMin = 8 * 1024 * 1024;
/** Open flags of a new blob written directly (O_DIRECT is undefined where the platform has none). */
export const directCreateFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_DIRECT ?? 0);

/** Aligned blocks whose writes have finished, kept for reuse (fresh memory costs a page fault every 4 KiB). */
const spareBlocksMax = 32;
const spareBlocks: Uint8Array[] = [];
const takeBlock = () => spareBlocks.pop() ?? alignedBytes(directBlockBytes, directAlignmentBytes);
const giveBack = (block: Uint8Array) => {
  if (spareBlocks.length < spareBlocksMax) spareBlocks.push(block);
};

/**
 * Direct writes of one blob in flight at once. One at a time, a 64 MiB PUT at c=1 spent 75-85 % of
 * its time waiting for the write before (a 1 MiB direct write took ≈2.7 ms, against the ≈1.4 of
 * the disk ceiling's back-to-back writes); with four, c=1 went from 294-400 to 435-448 MiB/s in
 * alternating runs and the wait moved to MD5. c=8, bound by the CPU, was the same either way.
 */
const directWritesInFlightMax = 4;

/**
 * Copies chunks into aligned blocks and writes each full block with O_DIRECT, up to
 * `directWritesInFlightMax` writes in flight while the next block fills. The last block is
 * written padded with zeros to the alignment and the file then truncated to its real length (as
 * is a file written over, `overwriting`, which may have been longer); fdatasync makes data and
 * length durable together.
 */
export class DirectSink implements BlobSink {
  private block = takeBlock();
  private filledBytes = 0;
  private offsetBytes = 0;
  /** the writes in flight, oldest first */
  private writes: Promise<void>[] = [];
  private readonly earlyFlush: EarlyFlush;

  constructor(
    private readonly file: FileHandle,
    private readonly releaseChunks = false,
    private readonly overwriting = false,
  ) {
    this.earlyFlush = new EarlyFlush(file);
  }

  async add(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length; ) {
      const n = Math.min(chunk.length - at, directBlockBytes - this.filledBytes);
      this.block.set(chunk.subarray(at, at + n), this.filledBytes);
      this.filledBytes += n;
      at += n;
      if (this.filledBytes === directBlockBytes) await this.writeBlock();
    }
    if (this.releaseChunks) releaseChunk(chunk);
  }

  async finish(): Promise<void> {
    await Promise.all(this.writes);
    const lengthBytes = this.offsetBytes + this.filledBytes;
    const paddedBytes = Math.ceil(this.filledBytes / directAlignmentBytes) * directAlignmentBytes;
    if (paddedBytes > 0) {
      this.block.fill(0, this.filledBytes, paddedBytes);
      await writeFully(this.file, this.block.subarray(0, paddedBytes), this.offsetBytes);
    }
    if (paddedBytes > this.filledBytes || this.overwriting) await this.file.truncate(lengthBytes);
    giveBack(this.block);
    await this.earlyFlush.done();
    await this.file.datasync();
  }

  async abandon(): Promise<void> {
    await Promise.allSettled(this.writes);
    await this.earlyFlush.settled();
  }

  /** Starts writing the full block, once fewer than the most writes are in flight. */
  private async writeBlock(): Promise<void> {
    // The oldest write is awaited first; a failed one fails the blob here or in `finish`.
    while (this.writes.length >= directWritesInFlightMax) await this.writes.shift();
    const block = this.block;
    const written = writeFully(this.file, block, this.offsetBytes).then(() => {
      giveBack(block);
      this.earlyFlush.written(directBlockBytes);
    });
    this.writes.push(settledLater(written));
    this.block = takeBlock();
    this.offsetBytes += directBlockBytes;
    this.filledBytes = 0;
  }
}

/** Writes all of `bytes` at `positionBytes`; a short direct write ends on a block boundary, so the rest stays aligned. */
async function writeFully(file: FileHandle, bytes: Uint8Array, positionBytes: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, positionBytes + done);
    if (bytesWritten === 0) throw new Error("the disk accepted no bytes");
    done += bytesWritten;
  }
}

/** What start-up says of a blob directory it cannot write in. */
export function unwritableBlobs(dir: string, error: unknown): Error {
  return new Error(`blob files cannot be written in ${dir}: ${error instanceof Error ? error.message : String(error)}`);
}

/**
 * Whether files under `dir` can be written with O_DIRECT (tmpfs before Linux 6.6, some network
 * and FUSE filesystems, and non-Linux hosts cannot): one aligned block is written to a probe file.
 */
export function directWritesWork(dir: string): boolean {
  if (constants.O_DIRECT === undefined) return false;
  const path = join(dir, ".direct-write-probe");
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DIRECT, 0o600);
    return writeSync(fd, alignedBytes(directAlignmentBytes, directAlignmentBytes), 0, directAlignmentBytes, 0) === directAlignmentBytes;
  } catch (error) {
    // EINVAL: this filesystem takes no direct writes. ENOSPC: the disk is full (the open, which
    // refuses O_DIRECT where it is not taken, said whether it is). Anything else (EACCES, EROFS)
    // means blobs cannot be written at all, which start-up must say rather than the first upload.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EINVAL") return false;
    if (code === "ENOSPC") return fd !== undefined;
    throw unwritableBlobs(dir, error);
  } finally {
    if (fd !== undefined) closeSync(fd);
    try {
      rmSync(path, { force: true });
    } catch {
      // the directory itself is unusable, which the error above says
    }
  }
}
