/**
 * MD5 and SHA-256 of streaming bodies, computed on worker threads. Hashing is most of an
 * upload's CPU (MD5 ≈ 760 MiB/s a core natively): on the workers it runs beside the main thread's
 * network and file I/O instead of after it. Memory stays bounded: a job holds at most
 * `inFlightBytesMax` of copied chunks before `update` asks its caller to wait.
 *
 * Concurrent bodies on one worker share MD5 lanes (src/checksum/md5-lanes.ts): the worker's
 * queued batches of up to eight jobs are hashed in lockstep by a WASM SIMD kernel, ≈2.5× native
 * MD5 a core when eight have data. The worker hashes in slices and yields between them, so the
 * batches of every job arrive while it works and the next slice finds the lanes full; a job with
 * data while the others have none is hashed alone (never held back for them). SHA-256 stays
 * native (SHA-NI: 1,800 MiB/s), per job, as each batch arrives.
 */
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { type LaneStats, md5LanesModule, md5LanesWorkerSource } from "../checksum/md5-lanes.ts";
import { assert } from "./assert.ts";

export type HashAlgorithm = "md5" | "sha256";

/** Bytes posted to the worker and not yet hashed, per job, before the producer must wait. */
export const inFlightBytesMax = 8 * 1024 * 1024;
/** Chunks are gathered into batches of this size: one message (and one copy) per batch. */
export const batchBytes = 1024 * 1024;
/**
 * The first MiB of a body goes in smaller batches, so that hashing starts while the rest of a
 * small body still arrives (1 MiB PUTs one at a time gained ≈3%); after it, full batches keep
 * the messages few (at 256 KiB, posting them was 9% of the main thread in 64 MiB uploads).
 */
export const firstBatchesBytes = 256 * 1024;
/**
 * A body hashes its MD5 in lanes when it begins with at least this many bodies hashing MD5 in
 * the pool (itself included); fewer, and native MD5 is faster: lanes beat it from three busy streams on
 * (md5x4 ≈ 1,160 MiB/s for four, md5x1 ≈ 660 for one or two, native ≈ 765). The choice is for
 * the job's life: an MD5 state cannot move between node:crypto and the lanes.
 */
export const lanesJobsMin = 3;
/** Bytes a worker hashes in lanes before it yields to take in the batches that arrived meanwhile. */
export const laneSliceBytes = 1024 * 1024;
/** Lanes of one Md5Lanes group (a worker starts another group when its groups are full). */
const lanesPerGroup = 8;

const workerSource = `
const { createHash } = require("node:crypto");
${md5LanesWorkerSource()}
let md5Module;
/** Md5Lanes of eight lanes each; a lanes job takes a lane in the first with one free. */
const groups = [];
const jobs = new Map();
let pumpScheduled = false;

// The batch buffer goes back to the main thread for reuse (fresh memory costs page faults).
const hashed = (id, chunk) => postMessage({ t: "hashed", id, bytes: chunk.length, buffer: chunk.buffer }, [chunk.buffer]);

function begin(m) {
  const laned = m.lanes && m.algorithms.includes("md5");
  const job = { algorithms: m.algorithms, native: new Map(), group: undefined, lane: 0, ending: false };
  for (const a of m.algorithms) if (!(laned && a === "md5")) job.native.set(a, createHash(a));
  if (laned) {
    job.group = groups.find((g) => g.free > 0);
    if (!job.group) groups.push((job.group = new Md5Lanes(md5Module)));
    job.lane = job.group.open();
  }
  jobs.set(m.id, job);
}

function finish(id, job) {
  jobs.delete(id);
  const md5 = job.group?.digest(job.lane);
  postMessage({ t: "digests", id, digests: job.algorithms.map((a) => job.native.get(a)?.digest() ?? md5) });
}

// One slice of lane work, then back to the event loop: the messages queued meanwhile (other
// jobs' batches) are taken in before the next slice, which then has more lanes to fill.
function pump() {
  pumpScheduled = false;
  for (const g of groups) g.run(${laneSliceBytes});
  let more = false;
  for (const [id, job] of jobs) {
    if (!job.group) continue;
    if (job.group.pending(job.lane) >= 64) more = true;
    else if (job.ending) finish(id, job);
  }
  if (more) schedulePump();
}

function schedulePump() {
  if (pumpScheduled) return;
  pumpScheduled = true;
  setImmediate(pump);
}

self.onmessage = (event) => {
  const m = event.data;
  if (m.t === "init") md5Module = m.module;
  else if (m.t === "begin") begin(m);
  else if (m.t === "chunk") {
    const job = jobs.get(m.id);
    if (!job) return hashed(m.id, m.chunk);
    for (const h of job.native.values()) h.update(m.chunk);
    if (!job.group) return hashed(m.id, m.chunk);
    job.group.push(job.lane, m.chunk, () => hashed(m.id, m.chunk));
    schedulePump();
  } else if (m.t === "end") {
    const job = jobs.get(m.id);
    if (!job.group) return finish(m.id, job);
    job.ending = true;
    schedulePump();
  } else if (m.t === "abort") {
    const job = jobs.get(m.id);
    jobs.delete(m.id);
    job?.group?.close(job.lane);
  } else if (m.t === "stats") {
    const stats = { x1: 0, x4: 0, x8: 0 };
    for (const g of groups) for (const k in stats) stats[k] += g.stats[k];
    postMessage({ t: "stats", id: 0, stats });
  }
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
  private sentBytes = 0;
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
      const limit = this.sentBytes < batchBytes ? firstBatchesBytes : batchBytes;
      const n = Math.min(chunk.length - offset, limit - this.batched);
      this.batch ??= newBatch();
      this.batch.set(chunk.subarray(offset, offset + n), this.batched);
      this.batched += n;
      offset += n;
      if (this.batched === limit) this.send();
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
    this.sentBytes += chunk.length;
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

/** Batch buffers the worker has handed back, kept for reuse: up to 64 MiB, eight uploads' in-flight batches. */
const spareBatchesMax = (64 * 1024 * 1024) / batchBytes;
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
  /** Jobs on this thread hashing MD5 in lanes. */
  laneJobs: number;
  /** Callers of laneStats() waiting for this thread's answer, in order. */
  statsWaiters: ((stats: LaneStats) => void)[];
}

/** Hashing threads: one a core, at least one, at most four. */
export const defaultWorkersMax = Math.max(1, Math.min(4, availableParallelism()));

/**
 * Hashing threads, started as concurrent bodies need them, up to `workersMax`. A job stays on
 * the thread it began on (its hash state lives there). A job below the lanes threshold goes to
 * the least busy thread (one or two uploads hash on separate cores, natively). A lanes job goes
 * to the thread already holding the most lane jobs in a group not yet full, so lanes fill: on
 * 2 cores, eight uploads share one thread's eight lanes (2.6× native MD5 on that core) and the
 * main thread keeps the other core.
 */
export class HashPool {
  private readonly workers: PoolWorker[] = [];
  private readonly jobs = new Map<number, JobState & { worker: PoolWorker; lanes: boolean; md5: boolean }>();
  private nextId = 1;

  constructor(
    private readonly workersMax = defaultWorkersMax,
    /** Jobs on a worker (the new one included) from which a new job's MD5 goes in lanes. */
    private readonly lanesFrom = lanesJobsMin,
  ) {}

  /** Jobs hashing MD5 now, in lanes or not: whether a new one takes a lane. */
  private md5Jobs = 0;

  /** Threads started so far. */
  get threads(): number {
    return this.workers.length;
  }

  begin(algorithms: HashAlgorithm[]): HashJob {
    const id = this.nextId++;
    const md5 = algorithms.includes("md5");
    const lanes = md5 && this.md5Jobs + 1 >= this.lanesFrom;
    const worker = lanes ? this.lanesWorker() : this.leastBusy();
    worker.activeJobs++;
    if (lanes) worker.laneJobs++;
    if (md5) this.md5Jobs++;
    const state = { inFlightBytes: 0, worker, lanes, md5 };
    this.jobs.set(id, state);
    this.post(id, { t: "begin", id, algorithms, lanes });
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
    if (job.lanes) job.worker.laneJobs--;
    if (job.md5) this.md5Jobs--;
    this.jobs.delete(id);
  }

  /** Lane-blocks hashed by each MD5 kernel on all threads so far: how well lanes filled. */
  async laneStats(): Promise<LaneStats> {
    const all = await Promise.all(this.workers.map((w) => new Promise<LaneStats>((resolve) => {
      w.statsWaiters.push(resolve);
      w.thread.postMessage({ t: "stats" });
    })));
    return all.reduce((sum, s) => ({ x1: sum.x1 + s.x1, x4: sum.x4 + s.x4, x8: sum.x8 + s.x8 }), { x1: 0, x4: 0, x8: 0 });
  }

  private leastBusy(): PoolWorker {
    const idle = this.workers.reduce<PoolWorker | undefined>((best, w) => (best === undefined || w.activeJobs < best.activeJobs ? w : best), undefined);
    if (idle !== undefined && (idle.activeJobs === 0 || this.workers.length === this.workersMax)) return idle;
    const statsWaiters: PoolWorker["statsWaiters"] = [];
    const worker = { thread: this.startThread(statsWaiters), activeJobs: 0, laneJobs: 0, statsWaiters };
    this.workers.push(worker);
    return worker;
  }

  /** The thread with the most lane jobs short of a full group; else the least busy. */
  private lanesWorker(): PoolWorker {
    const filling = this.workers.filter((w) => w.laneJobs % lanesPerGroup !== 0);
    if (filling.length === 0) return this.leastBusy();
    return filling.reduce((best, w) => (w.laneJobs > best.laneJobs ? w : best));
  }

  private startThread(statsWaiters: PoolWorker["statsWaiters"]): Worker {
    const thread = new Worker(URL.createObjectURL(new Blob([workerSource], { type: "application/javascript" })));
    thread.unref();
    thread.postMessage({ t: "init", module: md5LanesModule() });
    thread.onmessage = (event: MessageEvent) => {
      const m = event.data as { t: string; id: number; bytes?: number; buffer?: ArrayBuffer; digests?: Uint8Array[]; stats?: LaneStats };
      if (m.buffer?.byteLength === batchBytes && spareBatches.length < spareBatchesMax) spareBatches.push(m.buffer);
      if (m.t === "stats") return statsWaiters.shift()?.(m.stats!);
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
