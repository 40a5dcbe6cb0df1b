/**
 * Group commit: writers whose data is written by the time a flush starts share one data sync per
 * touched segment and one sqlite transaction; a writer is acknowledged only after both. One flush
 * runs at a time; while its data sync is in flight (off the event loop when `sync` is async),
 * later writers keep writing and queue for the next flush.
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
  private running = false;
  private commitCount = 0;

  constructor(
    private readonly sync: (segment: number) => void | Promise<void>,
    private readonly apply: (ops: IndexOp[]) => void,
  ) {}

  /** Resolves once the ops are durable: segments synced, then the index committed. */
  submit(ops: readonly IndexOp[], segments: readonly number[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ ops, segments, resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.run());
      }
    });
  }

  /** Commits so far: with many concurrent writers this grows slower than the number of writes. */
  get commits(): number {
    return this.commitCount;
  }

  private async run(): Promise<void> {
    while (this.pending.length > 0) {
      const batch: Waiter[] = [];
      let opCount = 0;
      while (this.pending.length > 0 && (batch.length === 0 || opCount + this.pending[0].ops.length <= groupCommitOpsMax)) {
        const w = this.pending.shift()!;
        batch.push(w);
        opCount += w.ops.length;
      }
      try {
        await Promise.all([...new Set(batch.flatMap((w) => w.segments))].map((s) => this.sync(s)));
        this.apply(batch.flatMap((w) => w.ops));
        this.commitCount++;
      } catch (e) {
        for (const w of batch) w.reject(e);
        continue;
      }
      for (const w of batch) w.resolve();
    }
    this.running = false;
  }
}
