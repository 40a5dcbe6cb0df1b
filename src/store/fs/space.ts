/**
 * The free-space floor of the fs backend: new object data is refused with 507
 * InsufficientStorage once the data dir's filesystem would drop below `minFreeBytes`, so a full
 * disk refuses uploads cleanly instead of failing them halfway, and deletes (which free space)
 * keep working. A disk that fills anyway (ENOSPC from a write, SQLITE_FULL from a commit) gives
 * the same answer. Space the store holds only for reuse (spare blobs, blobs.ts) is handed back
 * before a write is refused, and a reserve file keeps room for the commits that free space when
 * the disk fills from outside s3d (SpaceReserve).
 */
import { closeSync, openSync, statfsSync, statSync, truncateSync, writeSync } from "node:fs";
import { enospc, fallocate, LibcError } from "../../../ffi/libc.ts";
import { S3Error } from "../../errors.ts";

/** How long a statfs reading is trusted: one per PUT was a tenth of a small PUT's cost. */
const readingTtlMs = 250;

export class SpaceGuard {
  private reading = { atMs: -Infinity, availableBytes: 0 };

  constructor(
    private readonly dir: string,
    readonly minFreeBytes: number,
    /** Frees space held for reuse; resolves to the bytes it freed. */
    private readonly reclaim: () => Promise<number> = async () => 0,
    /** Taken again by a reading that finds room for it above the floor, once it was given back. */
    private readonly reserve?: SpaceReserve,
  ) {}

  /** Free bytes for unprivileged writers, as of at most `readingTtlMs` ago (`fresh`: now). */
  availableBytes(fresh = false): number {
    const nowMs = performance.now();
    if (fresh || nowMs - this.reading.atMs > readingTtlMs) {
      const fs = statfsSync(this.dir);
      let availableBytes = fs.bavail * fs.bsize;
      if (this.reserve && !this.reserve.held && availableBytes >= this.minFreeBytes + 2 * reserveBytes && this.reserve.hold()) availableBytes -= reserveBytes;
      this.reading = { atMs: nowMs, availableBytes };
    }
    return this.reading.availableBytes;
  }

  /**
   * Runs `write` of up to `incomingBytes` (when known) if it fits above the floor. Writes
   * admitted between two readings are counted against the last one, so a burst cannot overshoot
   * the floor by more than what was already in flight.
   */
  async admit<T>(incomingBytes: number | undefined, write: () => Promise<T>): Promise<T> {
    const fits = (available: number) => available - (incomingBytes ?? 0) >= this.minFreeBytes;
    let available = this.availableBytes();
    if (!fits(available) && (await this.reclaim()) > 0) available = this.availableBytes(true);
    if (!fits(available)) throw insufficientStorage();
    this.reading.availableBytes = available - (incomingBytes ?? 0);
    try {
      return await write();
    } catch (error) {
      if (!isDiskFull(error) && !(error instanceof S3Error && error.code === "InsufficientStorage")) throw error;
      await this.reclaim();
      throw insufficientStorage();
    }
  }
}

/** Bytes the reserve file holds: room for the metadata log to grow by 2,048 pages of 4 KiB. */
export const reserveBytes = 8 * 1024 * 1024;

/**
 * Room kept back for the commits that free space. A disk filled from outside s3d leaves SQLite no
 * room to grow its log, and then even a delete fails, so nothing can be freed through S3. The data
 * dir holds a file of `reserveBytes`; a commit that frees space and finds the disk full gives its
 * bytes back and tries again (committer.ts), and so does start-up on a full disk. A SpaceGuard
 * reading that finds room again takes them back.
 */
export class SpaceReserve {
  held: boolean;

  constructor(private readonly path: string) {
    this.held = statSync(path, { throwIfNoEntry: false })?.size === reserveBytes;
  }

  /** Takes the reserve's bytes; false when the disk has no room for them now. */
  hold(): boolean {
    if (this.held) return true;
    const fd = openSync(this.path, "w", 0o600);
    try {
      // where the filesystem cannot allocate without writing, zeros are written
      if (!fallocate(fd, 0, reserveBytes)) {
        const zeros = new Uint8Array(1024 * 1024);
        for (let at = 0; at < reserveBytes; at += zeros.length) {
          if (writeSync(fd, zeros, 0, zeros.length, at) < zeros.length) throw Object.assign(new Error("short write"), { code: "ENOSPC" });
        }
      }
      this.held = true;
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      truncateSync(this.path, 0);
    } finally {
      closeSync(fd);
    }
    return this.held;
  }

  /** Gives the reserve's bytes back to the filesystem; false when it held none. */
  release(): boolean {
    if (!this.held) return false;
    truncateSync(this.path, 0);
    this.held = false;
    return true;
  }
}

export function insufficientStorage(): S3Error {
  return new S3Error("InsufficientStorage", "The server does not have enough free disk space to store this data.");
}

/** ENOSPC from a write, SQLITE_FULL from a commit, or the first from fallocate. */
export function isDiskFull(error: unknown): boolean {
  if (error instanceof LibcError) return error.errno === enospc;
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "SQLITE_FULL";
}

