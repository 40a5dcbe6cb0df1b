/**
 * Group commit over bun:sqlite that never holds the event loop for a disk flush.
 *
 * Writes gather into one transaction, each in its own savepoint (one that throws, such as a
 * failed precondition, is rolled back alone). The transaction commits without waiting for the
 * disk (WAL, synchronous=NORMAL); durability comes from `sync`, an fdatasync of the WAL file on
 * Bun's worker pool, which covers every transaction committed before it started. A write is
 * answered only once that sync has finished. While a sync is in flight the event loop keeps
 * serving, and the writes that arrive meanwhile gather for the next transaction, committed as
 * soon as the sync ends: one transaction and one sync per batch, as with synchronous=FULL, but
 * the flush no longer blocks the loop.
 *
 * A failed sync leaves the log in an unknown state (the kernel may have dropped the pages it
 * could not write, and a later sync can report success without them): every write after it is
 * refused with a `NotDurableError` until the process restarts and recovers from the disk.
 */
import type { Database } from "bun:sqlite";
import { Counter, Histogram, latencyBucketsSeconds } from "../../util/metrics.ts";
import { insufficientStorage, isDiskFull } from "./space.ts";

/** A write that may have committed in memory but is not known to be on disk. */
export class NotDurableError extends Error {
  override readonly name = "NotDurableError";
}

interface Pending {
  run: () => unknown;
  /** a write that frees space (a delete): a full disk makes room for its transaction */
  freesSpace: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A write whose transaction has committed, waiting for the sync that makes it durable. */
interface Unsynced {
  answer: () => void;
  reject: (error: unknown) => void;
}

/** Upper bound on writes folded into one transaction, so one transaction cannot stall the loop long. */
const batchWritesMax = 512;

export class Committer {
  private queue: Pending[] = [];
  private scheduled = false;
  private syncing = false;
  private failure: NotDurableError | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** what /_s3d/metrics shows of the group commit */
  readonly metrics = {
    transactions: new Counter("s3d_metadata_transactions_total", "Metadata transactions committed, each a batch of up to 512 writes; one sync makes every transaction before it durable."),
    writes: new Counter("s3d_metadata_writes_total", "Writes run in committed metadata transactions (refused ones included: they wait for the sync too)."),
    syncSeconds: new Histogram("s3d_metadata_sync_seconds", "How long each fdatasync of the metadata log took; every write waits for one before it is answered.", latencyBucketsSeconds),
    syncFailures: new Counter("s3d_metadata_sync_failures_total", "Syncs of the metadata log that failed: after one, every write is refused until s3d restarts."),
  };

  constructor(
    private readonly db: Database,
    private readonly sync: () => Promise<void>,
    private readonly hooks: {
      /** Gives back space held in reserve; false when there was none to give. */
      makeRoom?: () => boolean;
      /** After a transaction rolled back: state kept beside the database is read from it again. */
      rolledBack?: () => void;
      /** Why the database must take no more writes (asked before each transaction); undefined: it may. */
      unusable?: () => string | undefined;
    } = {},
  ) {}

  /**
   * Runs `write` inside a transaction; resolves once that transaction is on disk. A disk too full
   * for the transaction refuses it with InsufficientStorage, unless `freesSpace` and there is a
   * reserve to give back: then the transaction runs once more (its writes run again from the start).
   */
  commit<T>(write: () => T, freesSpace = false): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const answer = new Promise<T>((resolve, reject) => {
      this.queue.push({ run: write, freesSpace, resolve: resolve as (v: unknown) => void, reject });
      // While a sync is in flight, writes gather for the transaction that follows it.
      if (!this.scheduled && !this.syncing) {
        this.scheduled = true;
        setImmediate(() => this.commitQueued());
      }
    });
    this.inFlight.add(answer);
    const forget = () => void this.inFlight.delete(answer);
    answer.then(forget, forget);
    return answer;
  }

  /** Resolves once every write submitted so far has been answered. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.inFlight);
  }

  /** Commits every queued write, then syncs once for all of them. */
  private commitQueued(): void {
    this.scheduled = false;
    if (this.syncing) return;
    const committed: Unsynced[] = [];
    while (this.queue.length > 0) committed.push(...this.transaction(this.queue.splice(0, batchWritesMax)));
    if (committed.length > 0) this.syncThenAnswer(committed);
  }

  /** Runs one transaction; returns the answers of the writes in it (refusals included). */
  private transaction(batch: Pending[], retried = false): Unsynced[] {
    const unusable = this.failure ? undefined : this.hooks.unusable?.();
    if (unusable !== undefined) this.failure = new NotDurableError(`writes refused until restart: ${unusable}`);
    if (this.failure) {
      for (const p of batch) p.reject(this.failure);
      return [];
    }
    const committed: Unsynced[] = [];
    try {
      this.db.run("BEGIN IMMEDIATE");
      for (const p of batch) committed.push(this.write(p));
      this.db.run("COMMIT");
      this.metrics.transactions.inc();
      this.metrics.writes.inc([], committed.length);
    } catch (error) {
      try {
        // (a COMMIT that fails for want of space has rolled the transaction back already)
        if (this.db.inTransaction) this.db.run("ROLLBACK");
        this.hooks.rolledBack?.();
      } catch (cleanup) {
        // the database cannot even roll back: nothing more is trusted, as after a failed sync
        this.failure = new NotDurableError(`metadata rollback failed, writes refused until restart: ${String(cleanup)}`);
      }
      const freeing = batch.filter((p) => p.freesSpace);
      if (!this.failure && !retried && isDiskFull(error) && freeing.length > 0 && this.hooks.makeRoom?.()) {
        // the reserve is for the writes that free space: the others are refused, not run on it
        for (const p of batch) if (!p.freesSpace) p.reject(insufficientStorage());
        return this.transaction(freeing, true);
      }
      for (const p of batch) p.reject(this.failure ?? refusalOf(error));
      return [];
    }
    return committed;
  }

  /** Runs one write in its own savepoint: a write that throws is rolled back alone. */
  private write(p: Pending): Unsynced {
    this.db.run("SAVEPOINT w");
    try {
      const value = p.run();
      this.db.run("RELEASE w");
      return { answer: () => p.resolve(value), reject: p.reject };
    } catch (error) {
      // A full disk may have rolled the whole transaction back, not the statement alone: then
      // the batch fails (or, given room, runs again) as one. So does a write that frees space and
      // found no room, so that room is made for it.
      if (!this.db.inTransaction || (p.freesSpace && isDiskFull(error))) throw error;
      this.db.run("ROLLBACK TO w");
      this.db.run("RELEASE w");
      return { answer: () => p.reject(refusalOf(error)), reject: p.reject };
    }
  }

  /** Refusals wait for the sync as well: the state they were decided on must be durable. */
  private syncThenAnswer(committed: Unsynced[]): void {
    this.syncing = true;
    const startedMs = performance.now();
    // A sync that throws instead of rejecting (it could not even open the log) fails the same way.
    new Promise<void>((resolve) => resolve(this.sync())).then(
      () => {
        this.metrics.syncSeconds.observe((performance.now() - startedMs) / 1000);
        this.syncing = false;
        for (const w of committed) w.answer();
        this.commitQueued();
      },
      (error: unknown) => {
        this.metrics.syncSeconds.observe((performance.now() - startedMs) / 1000);
        this.metrics.syncFailures.inc();
        this.syncing = false;
        this.failure = new NotDurableError(`metadata log sync failed, writes refused until restart: ${String(error)}`);
        for (const w of committed) w.reject(this.failure);
        // Writes queued behind the failed sync are refused too: a later sync could report
        // success without the pages the failed one lost.
        this.commitQueued();
      },
    );
  }
}

/** A full disk is the client's 507 InsufficientStorage; anything else is passed on as it is. */
function refusalOf(error: unknown): unknown {
  return isDiskFull(error) ? insufficientStorage() : error;
}
