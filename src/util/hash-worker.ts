/**
 * MD5 and SHA-256 of streaming bodies, computed on worker threads. Hashing is most of an
 * upload's CPU (MD5 ≈ 700 MiB/s a core): on the workers it runs beside the main thread's
 * network and file I/O instead of after it, and concurrent uploads hash on separate cores. Memory stays bounded: a job holds at most
 * `inFlightBytesMax` of copied chunks before `update` asks its caller to wait.
 */
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { assert } from "./assert.ts";

export type HashAlgorithm = "md5" | "sha256";

/** Bytes posted to the worker and not yet hashed, per job, before the producer must wait. */
export const inFlightBytesMax = 8 * 1024 * 1024;
/** Chunks are gathered into batches of this size: one message (and one copy) per batch. */
export const batchBytes = 1024 * 1024;

const workerSource = `
const { createHash } = require("node:crypto");
const jobs = new Map();
self.onmessage = (event) => {
  const m = event.data;
  if (m.t === "begin") jobs.set(m.id, m.algorithms.map((a) => createHash(a)));
  else if (m.t === "chunk") {
    const hashes = jobs.get(m.id);
    if (hashes) for (const h of hashes) h.update(m.chunk);
    // The batch buffer goes back to the main thread for reuse (fresh memory costs page faults).
    postMessage({ t: "hashed", id: m.id, bytes: m.chunk.length, buffer: m.chunk.buffer }, [m.chunk.buffer]);
  } else if (m.t === "end") {
    const hashes = jobs.get(m.id);
    jobs.delete(m.id);
    postMessage({ t: "digests", id: m.id, digests: hashes.map((h) => h.digest()) });
  } else if (m.t === "abort") jobs.delete(m.id);
};`;

interface JobState {
  inFlightBytes: number;
  drained?: () => void;
  digests?: (digests: Uint8Array[]) => void;
}

/** Hashes of one body, in the order of the algorithms it began with. */
export interface Hasher {
  /** Hashes `chunk`; a returned promise asks the producer to wait (too much in flight). */
  update(chunk: Uint8Array): Promise<void> | undefined;
  digests(): Promise<Buffer[]>;
  /** Drops a body that will not be read to its end. */
  abort(): void;
}

/** Bodies shorter than this are hashed on the calling thread: a worker round trip costs more. */
export const offloadBytesMin = 1024 * 1024;

/** Hashing on the calling thread, for small bodies. */
export function localHasher(algorithms: HashAlgorithm[]): Hasher {
  const hashes = algorithms.map((a) => createHash(a));
  return {
    update: (chunk) => {
      for (const h of hashes) h.update(chunk);
      return undefined;
    },
    digests: async () => hashes.map((h) => h.digest()),
    abort: () => {},
  };
}

export class HashJob implements Hasher {
  private ended = false;
  /** The batch being filled; taken when the first byte arrives, so an ended job holds none. */
  private batch: Uint8Array | undefined;
  private batched = 0;
  constructor(
    private readonly pool: HashPool,
    readonly id: number,
    private readonly state: JobState,
  ) {}

  /** Hashes a copy of `chunk`; returns a promise to await when too much is still in flight. */
  update(chunk: Uint8Array): Promise<void> | undefined {
    assert(!this.ended, "hash job updated after its end");
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, batchBytes - this.batched);
      this.batch ??= newBatch();
      this.batch.set(chunk.subarray(offset, offset + n), this.batched);
      this.batched += n;
      offset += n;
      if (this.batched === batchBytes) this.send();
    }
    if (this.state.inFlightBytes <= inFlightBytesMax) return undefined;
    return new Promise((resolve) => (this.state.drained = resolve));
  }

  /** The digests, in the order of the algorithms the job began with. */
  digests(): Promise<Buffer[]> {
    assert(!this.ended, "hash job ended twice");
    this.ended = true;
    if (this.batched > 0) this.send();
    return new Promise((resolve) => {
      this.state.digests = (d) => resolve(d.map((x) => Buffer.from(x)));
      this.pool.post(this.id, { t: "end", id: this.id });
    });
  }

  /** Hands the batch to the worker (transferred, not copied). */
  private send(): void {
    const batch = this.batch!;
    const chunk = this.batched === batchBytes ? batch : batch.subarray(0, this.batched);
    this.state.inFlightBytes += chunk.length;
    this.pool.post(this.id, { t: "chunk", id: this.id, chunk }, [batch.buffer as ArrayBuffer]);
    this.batch = undefined;
    this.batched = 0;
  }

  abort(): void {
    if (this.ended) return;
    this.ended = true;
    this.pool.forget(this.id);
  }
}

/** Batch buffers the worker has handed back, kept for reuse up to this many. */
const spareBatchesMax = 32;
const spareBatches: ArrayBuffer[] = [];

/**
 * A batch buffer of its own (transferable), not zero-filled: every byte sent is written first.
 * Reused when one is spare: writing into fresh memory costs a page fault every 4 KiB, which made
 * this copy half of a large upload's main-thread time.
 */
function newBatch(): Uint8Array {
  const buffer = spareBatches.pop() ?? Buffer.allocUnsafeSlow(batchBytes).buffer;
  return new Uint8Array(buffer as ArrayBuffer, 0, batchBytes);
}

/** One hashing thread and the jobs it holds. */
interface PoolWorker {
  thread: Worker;
  activeJobs: number;
}

/**
 * Hashing threads, started as concurrent bodies need them, up to `workersMax`. A job stays on
 * the thread it began on (its hash state lives there); a new job goes to the least busy thread.
 */
export class HashPool {
  private readonly workers: PoolWorker[] = [];
  private readonly jobs = new Map<number, JobState & { worker: PoolWorker }>();
  private nextId = 1;

  constructor(private readonly workersMax = Math.max(1, Math.min(4, availableParallelism()))) {}

  /** Threads started so far. */
  get threads(): number {
    return this.workers.length;
  }

  begin(algorithms: HashAlgorithm[]): HashJob {
    const id = this.nextId++;
    const worker = this.leastBusy();
    worker.activeJobs++;
    const state = { inFlightBytes: 0, worker };
    this.jobs.set(id, state);
    this.post(id, { t: "begin", id, algorithms });
    return new HashJob(this, id, state);
  }

  post(id: number, message: unknown, transfer: ArrayBuffer[] = []): void {
    this.jobs.get(id)?.worker.thread.postMessage(message, transfer);
  }

  forget(id: number): void {
    this.post(id, { t: "abort", id });
    this.finish(id);
  }

  private finish(id: number): void {
    const job = this.jobs.get(id);
    if (!job) return;
    job.worker.activeJobs--;
    this.jobs.delete(id);
  }

  private leastBusy(): PoolWorker {
    const idle = this.workers.reduce<PoolWorker | undefined>((best, w) => (best === undefined || w.activeJobs < best.activeJobs ? w : best), undefined);
    if (idle !== undefined && (idle.activeJobs === 0 || this.workers.length === this.workersMax)) return idle;
    const worker = { thread: this.startThread(), activeJobs: 0 };
    this.workers.push(worker);
    return worker;
  }

  private startThread(): Worker {
    const thread = new Worker(URL.createObjectURL(new Blob([workerSource], { type: "application/javascript" })));
    thread.unref();
    thread.onmessage = (event: MessageEvent) => {
      const m = event.data as { t: string; id: number; bytes?: number; buffer?: ArrayBuffer; digests?: Uint8Array[] };
      if (m.buffer?.byteLength === batchBytes && spareBatches.length < spareBatchesMax) spareBatches.push(m.buffer);
      const job = this.jobs.get(m.id);
      if (!job) return;
      if (m.t === "hashed") {
        job.inFlightBytes -= m.bytes!;
        if (job.drained && job.inFlightBytes <= inFlightBytesMax / 2) {
          const resume = job.drained;
          job.drained = undefined;
          resume();
        }
      } else if (m.t === "digests") {
        this.finish(m.id);
        job.digests?.(m.digests!);
      }
    };
    return thread;
  }
}

/** The process's hashing threads. */
export const hashPool = new HashPool();
