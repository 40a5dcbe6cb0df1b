/**
 * The free-space floor of the fs backend: new object data is refused with 507
 * InsufficientStorage once the data dir's filesystem would drop below `minFreeBytes`, so a full
 * disk refuses uploads cleanly instead of failing them halfway, and deletes (which free space)
 * keep working. A disk that fills anyway (ENOSPC from a write, SQLITE_FULL from a commit) gives
 * the same answer. Space the store holds only for reuse (spare blobs, blobs.ts) is handed back
 * before a write is refused.
 */
import { statfsSync } from "node:fs";
import { S3Error } from "../../errors.ts";

/** How long a statfs reading is trusted: one per PUT was a tenth of a small PUT's cost. */
const readingTtlMs = 250;

export class SpaceGuard {
  private reading = { atMs: -Infinity, availableBytes: 0 };

  constructor(
    private readonly dir: string,
    private readonly minFreeBytes: number,
    /** Frees space held for reuse; resolves to the bytes it freed. */
    private readonly reclaim: () => Promise<number> = async () => 0,
  ) {}

  /** Free bytes for unprivileged writers, as of at most `readingTtlMs` ago (`fresh`: now). */
  availableBytes(fresh = false): number {
    const nowMs = performance.now();
    if (fresh || nowMs - this.reading.atMs > readingTtlMs) {
      const fs = statfsSync(this.dir);
      this.reading = { atMs: nowMs, availableBytes: fs.bavail * fs.bsize };
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
      if (!isDiskFull(error)) throw error;
      await this.reclaim();
      throw insufficientStorage();
    }
  }
}

function insufficientStorage(): S3Error {
  return new S3Error("InsufficientStorage", "The server does not have enough free disk space to store this data.");
}

function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "SQLITE_FULL";
}
