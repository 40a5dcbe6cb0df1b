/**
 * The segment files of one store: `seg-<id>.dat` in one directory, opened once, written at
 * explicit offsets (never O_APPEND: concurrent writers own disjoint extents), preallocated
 * ahead of the write position with fallocate so appends do not fragment or hit ENOSPC late.
 */
import {
  closeSync,
  constants,
  fdatasync as fdatasyncAsync,
  fsyncSync,
  openSync,
  read as readAsync,
  readdirSync,
  unlinkSync,
  write as writeAsync,
} from "node:fs";
import { join } from "node:path";
import { enospc, fallocate, fdatasync, LibcError } from "../../ffi/libc.ts";
import { assert } from "../util/assert.ts";

/** Preallocation runs this far ahead of the highest reserved byte. */
export const preallocateStepBytes = 64 * 1024 * 1024;

const namePattern = /^seg-(\d{8})\.dat$/;

export function segmentFileName(id: number): string {
  return `seg-${String(id).padStart(8, "0")}.dat`;
}

export class SegmentFiles {
  private readonly fds = new Map<number, number>();
  private readonly allocatedBytes = new Map<number, number>();

  constructor(
    readonly dir: string,
    private readonly segmentBytesMax: number,
  ) {}

  /** Ids of the segment files present on disk. */
  listOnDisk(): number[] {
    return readdirSync(this.dir)
      .map((n) => namePattern.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  /** Creates (or truncates a leftover of) segment `id` and makes its directory entry durable. */
  create(id: number): void {
    assert(!this.fds.has(id), `segment ${id} is already open`);
    const fd = openSync(join(this.dir, segmentFileName(id)), constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o600);
    this.fds.set(id, fd);
    this.allocatedBytes.set(id, 0);
    this.syncDir();
  }

  open(id: number): void {
    if (this.fds.has(id)) return;
    let fd: number;
    try {
      fd = openSync(join(this.dir, segmentFileName(id)), constants.O_RDWR);
    } catch (e) {
      throw new Error(
        `shard store: segment file ${segmentFileName(id)} in ${this.dir} is missing or unreadable (${(e as NodeJS.ErrnoException).code}); the index points at it`,
      );
    }
    this.fds.set(id, fd);
    this.allocatedBytes.set(id, 0);
  }

  remove(id: number): void {
    const fd = this.fds.get(id);
    if (fd !== undefined) closeSync(fd);
    this.fds.delete(id);
    this.allocatedBytes.delete(id);
    try {
      unlinkSync(join(this.dir, segmentFileName(id)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    this.syncDir();
  }

  /** Makes sure [0, endBytes) is allocated, preallocating a step ahead (capped at the segment size). */
  ensureAllocated(id: number, endBytes: number): void {
    const have = this.allocatedBytes.get(id) ?? 0;
    if (endBytes <= have) return;
    let target = Math.min(this.segmentBytesMax, Math.max(endBytes, have + preallocateStepBytes));
    try {
      fallocate(this.fd(id), have, target - have);
    } catch (e) {
      if (!(e instanceof LibcError && e.errno === enospc) || target === endBytes) throw e;
      target = endBytes; // nearly full: the step ahead does not fit, the write itself may
      fallocate(this.fd(id), have, target - have);
    }
    this.allocatedBytes.set(id, target);
  }

  /**
   * Positional write on Bun's worker pool: a slow disk (or page-cache writeback pressure) stalls
   * this writer only, never the event loop.
   */
  async write(id: number, offsetBytes: number, bytes: Uint8Array): Promise<void> {
    const fd = this.fd(id);
    let done = 0;
    while (done < bytes.length) {
      done += await new Promise<number>((resolve, reject) =>
        writeAsync(fd, bytes, done, bytes.length - done, offsetBytes + done, (err, n) =>
          err ? reject(new Error(`shard store: write to segment ${id} at ${offsetBytes + done} failed: ${err.message}`)) : resolve(n),
        ),
      );
    }
  }

  /** Reads exactly into `into` (worker pool); a short read (file shorter than the index says) throws. */
  async read(id: number, offsetBytes: number, into: Uint8Array): Promise<void> {
    const fd = this.fd(id);
    let done = 0;
    while (done < into.length) {
      const n = await new Promise<number>((resolve, reject) =>
        readAsync(fd, into, done, into.length - done, offsetBytes + done, (err, got) =>
          err ? reject(new Error(`shard store: read of segment ${id} at ${offsetBytes + done} failed: ${err.message}`)) : resolve(got),
        ),
      );
      if (n === 0) throw new Error(`shard store: segment ${id} ends before offset ${offsetBytes + into.length}`);
      done += n;
    }
  }

  /** fdatasync through bun:ffi: blocks the event loop for the whole flush. */
  datasync(id: number): void {
    fdatasync(this.fd(id));
  }

  /**
   * fdatasync on Bun's worker pool (node:fs): the event loop keeps serving, and writers keep
   * writing, while the disk flushes. A bun:ffi call cannot do this: it runs on the calling thread.
   */
  datasyncOffLoop(id: number): Promise<void> {
    const fd = this.fd(id);
    return new Promise((resolve, reject) =>
      fdatasyncAsync(fd, (err) => (err ? reject(new Error(`shard store: fdatasync of segment ${id} failed: ${err.message}`)) : resolve())),
    );
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }

  private fd(id: number): number {
    const fd = this.fds.get(id);
    assert(fd !== undefined, `segment ${id} is not open`);
    return fd;
  }

  private syncDir(): void {
    const fd = openSync(this.dir, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
