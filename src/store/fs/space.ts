/**
 * The free-space floor of the fs backend: new object data is refused with 507
 * InsufficientStorage once the data dir's filesystem would drop below `minFreeBytes`, so a full
 * disk refuses uploads cleanly instead of failing them halfway, and deletes (which free space)
 * keep working. A disk that fills anyway (ENOSPC from a write, SQLITE_FULL from a commit) gives
 * the same answer.
 */
import { statfsSync } from "node:fs";
import { S3Error } from "../../errors.ts";

export class SpaceGuard {
  constructor(
    private readonly dir: string,
    private readonly minFreeBytes: number,
  ) {}

  availableBytes(): number {
    const fs = statfsSync(this.dir);
    return fs.bavail * fs.bsize;
  }

  /** Runs `write` of up to `incomingBytes` (when known) if it fits above the floor. */
  async admit<T>(incomingBytes: number | undefined, write: () => Promise<T>): Promise<T> {
    if (this.availableBytes() - (incomingBytes ?? 0) < this.minFreeBytes) throw insufficientStorage();
    try {
      return await write();
    } catch (error) {
      throw isDiskFull(error) ? insufficientStorage() : error;
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
