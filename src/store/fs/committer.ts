/**
 * Group commit over bun:sqlite: every write submitted within one turn of the event loop goes
 * into one transaction, so many concurrent writers share one WAL fsync. Each write runs in its
 * own savepoint: one that throws (a failed precondition) is rolled back alone.
 */
import type { Database } from "bun:sqlite";

interface Pending {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Upper bound on writes folded into one transaction, so one flush cannot stall the loop long. */
const batchWritesMax = 512;

export class Committer {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(private readonly db: Database) {}

  /** Runs `write` inside a durable transaction; resolves once it is committed. */
  commit<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: write, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.queue.splice(0, batchWritesMax);
    this.scheduled = false;
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.db.run("BEGIN IMMEDIATE");
      for (const p of batch) {
        this.db.run("SAVEPOINT w");
        try {
          outcomes.push({ ok: true, value: p.run() });
          this.db.run("RELEASE w");
        } catch (error) {
          this.db.run("ROLLBACK TO w");
          this.db.run("RELEASE w");
          outcomes.push({ ok: false, error });
        }
      }
      this.db.run("COMMIT");
    } catch (error) {
      if (this.db.inTransaction) this.db.run("ROLLBACK");
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => {
      const o = outcomes[i];
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
  }
}
