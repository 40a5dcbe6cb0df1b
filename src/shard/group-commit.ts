/**
 * Group commit: writers that finish in the same turn of the event loop share one fdatasync per
 * touched segment and one sqlite transaction. A writer is acknowledged only after both.
 */
import type { IndexOp } from "./shard-index.ts";

/** Ops per transaction: bounds the time one commit holds the event loop. */
export const groupCommitOpsMax = 4096;

interface Waiter {
  readonly ops: readonly IndexOp[];
  readonly segments: readonly number[];
  resolve(): void;
  reject(e: unknown): void;
}

export class GroupCommitter {
  private pending: Waiter[] = [];
  private scheduled = false;
  private commitCount = 0;

  constructor(
    private readonly sync: (segment: number) => void,
    private readonly apply: (ops: IndexOp[]) => void,
  ) {}

  /** Resolves once the ops are durable: segments synced, then the index committed. */
  submit(ops: readonly IndexOp[], segments: readonly number[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ ops, segments, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits so far: with many concurrent writers this grows slower than the number of writes. */
  get commits(): number {
    return this.commitCount;
  }

  private flush(): void {
    this.scheduled = false;
    while (this.pending.length > 0) {
      const batch: Waiter[] = [];
      let opCount = 0;
      while (this.pending.length > 0 && (batch.length === 0 || opCount + this.pending[0].ops.length <= groupCommitOpsMax)) {
        const w = this.pending.shift()!;
        batch.push(w);
        opCount += w.ops.length;
      }
      try {
        for (const s of new Set(batch.flatMap((w) => w.segments))) this.sync(s);
        this.apply(batch.flatMap((w) => w.ops));
        this.commitCount++;
      } catch (e) {
        for (const w of batch) w.reject(e);
        continue;
      }
      for (const w of batch) w.resolve();
    }
  }
}
