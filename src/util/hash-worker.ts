/**
 * MD5 and SHA-256 of streaming bodies, computed on worker threads. Hashing is most of an
 * upload's CPU (MD5 ≈ 760 MiB/s a core natively): on the workers it runs beside the main thread's
 * network and file I/O instead of after it. Memory stays bounded: a job holds at most
 * `inFlightBytesMax` of copied chunks before `update` asks its caller to wait.
 *
 * Concurrent bodies on one worker share MD5 lanes (src/checksum/md5-lanes.ts): the worker's
 * queued batches of up to eight jobs are hashed in lockstep by a WASM SIMD kernel, ≈2.5× native
 * MD5 a core when eight have data. The worker hashes in slices and yields between them, so the
 * batches of every job arrive while it works, and a lane with data waits (up to `laneHoldBytes`)
 * for the other lanes of its group to have some too: uploads arrive at network pace, and hashed
 * as each batch came, most blocks went through the kernel alone. A job that has ended is never
 * held: its remaining bytes are hashed at once, with whatever the other lanes have. SHA-256 stays
 * native (SHA-NI: 1,800 MiB/s), per job, as each batch arrives, on another thread than the
 * job's MD5 when the pool has two: both read the same batch, in memory shared with the threads.
 */
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { type LaneStats, md5LanesModule, md5LanesWorkerSource } from "../checksum/md5-lanes.ts";
import { assert } from "./assert.ts";

export type HashAlgorithm = "md5" | "sha256";

/** Bytes posted to the workers and not yet hashed by all of them, per job, before the producer must wait. */
export const inFlightBytesMax = 8 * 1024 * 1024;
/**
 * Chunks are gathered into batches of this size: one message (and one copy) per batch. Small
 * enough that hashing starts while the rest of a 1 MiB body still arrives, and that a body's
 * buffers hold no more than its bytes (1 MiB buffers with 256 KiB first batches took 4 MiB for
 * a 1 MiB body: at c=32 the spare buffers ran out and fresh ones, a page fault every 4 KiB,
 * doubled the main thread's time a PUT). Since a buffer's memory is sent to a thread only once,
 * a batch costs a message of a few µs.
 */
export const batchBytes = 256 * 1024;
/**
 * A body hashes its MD5 in lanes when it begins with at least this many bodies hashing MD5 in
 * the pool (itself included); fewer, and native MD5 is faster: lanes beat it from three busy streams on
 * (md5x4 ≈ 1,160 MiB/s for four, md5x1 ≈ 660 for one or two, native ≈ 765). The choice is for
 * the job's life: an MD5 state cannot move between node:crypto and the lanes.
 */
export const lanesJobsMin = 3;
/** Bytes a worker hashes in lanes before it yields to take in the batches that arrived meanwhile. */
export const laneSliceBytes = 1024 * 1024;
/**
 * How far a lane may run ahead of an empty one in its group before it is hashed anyway. Eight
 * lanes in one call cost a third of what they cost one after the other; eight 64 MiB uploads at
 * network pace, hashed as each batch came, put 25 % of their blocks through the eight-lane kernel
 * (75 % with their worker behind), and 92-100 % held. Small enough that a held lane never keeps
 * its producer waiting: a held job has under `laneHoldBytes` queued plus part of one batch in
 * flight, below the `inFlightBytesMax / 2` at which a waiting producer resumes.
 */
export const laneHoldBytes = inFlightBytesMax / 2 - batchBytes;
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
/** Batch buffers by number: each arrives once with its memory, later batches name it by number. */
const buffers = new Map();

// Batches are shared memory: the main thread reuses one once every thread hashing it said so.
const hashed = (id) => postMessage({ t: "hashed", id });

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
  for (const g of groups) g.run(${laneSliceBytes}, ${laneHoldBytes}, endingLanes(g));
  for (const [id, job] of jobs) if (job.ending && job.group.pending(job.lane) < 64) finish(id, job);
  if (groups.some((g) => g.hashable(${laneHoldBytes}, endingLanes(g)))) schedulePump();
}

// The lanes of a group's jobs that have ended: nothing more comes for them, so they are not held
// (and, while they have blocks left, neither are the others).
function endingLanes(group) {
  const lanes = [];
  for (const job of jobs.values()) if (job.group === group && job.ending) lanes.push(job.lane);
  return lanes;
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
    if (m.memory) buffers.set(m.buffer, new Uint8Array(m.memory));
    const job = jobs.get(m.id);
    if (!job) return hashed(m.id);
    const chunk = buffers.get(m.buffer).subarray(0, m.bytes);
    for (const h of job.native.values()) h.update(chunk);
    if (!job.group) return hashed(m.id);
    job.group.push(job.lane, chunk, () => hashed(m.id));
    schedulePump();
  } else if (m.t === "forget") {
    buffers.delete(m.buffer);
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
    postMessage({ t: "stats", id: 0, stats: { lanes: stats, heldBuffers: buffers.size } });
  }
};`;

/**
 * Memory for batches, shared with the hashing threads. A thread is sent the memory once and keeps
 * it under its number; later batches in it name only the number. (Bun counts every received
 * SharedArrayBuffer as a fresh allocation of its whole size: sent with each batch, they cost the
 * receiving thread ≈40-80 µs a message in garbage collection.)
 */
interface BatchBuffer {
  readonly id: number;
  readonly memory: SharedArrayBuffer;
  readonly bytes: Uint8Array;
  /** Threads that hold it under its number. */
  readonly sentTo: Set<PoolWorker>;
}

/** One batch of a body: reusable once every part hashing it is done with it. */
interface Batch {
  buffer: BatchBuffer;
  bytes: number;
  /** Parts that have not hashed it yet. */
  remaining: number;
}

/** The algorithms of a job that one thread computes. */
interface Part {
  worker: PoolWorker;
  algorithms: HashAlgorithm[];
  lanes: boolean;
  /** Its share of the worker's load (`loadOf`). */
  load: number;
  /** Batches sent to it and not hashed yet, oldest first (a thread hashes a job's batches in order). */
  queue: Batch[];
  digests?: Uint8Array[];
}

interface JobState {
  algorithms: HashAlgorithm[];
  parts: Part[];
  inFlightBytes: number;
  drained?: () => void;
  done?: (digests: Buffer[]) => void;
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
  private batch: BatchBuffer | undefined;
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
      this.batch ??= takeBatchBuffer();
      this.batch.bytes.set(chunk.subarray(offset, offset + n), this.batched);
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
      this.state.done = resolve;
      for (const part of this.state.parts) part.worker.thread.postMessage({ t: "end", id: this.id });
    });
  }

  /** Hands the batch to every part's thread (shared, not copied). */
  private send(): void {
    const buffer = this.batch!;
    const batch: Batch = { buffer, bytes: this.batched, remaining: this.state.parts.length };
    this.state.inFlightBytes += batch.bytes;
    for (const part of this.state.parts) {
      part.queue.push(batch);
      const known = buffer.sentTo.has(part.worker);
      buffer.sentTo.add(part.worker);
      part.worker.thread.postMessage({ t: "chunk", id: this.id, buffer: buffer.id, bytes: batch.bytes, memory: known ? undefined : buffer.memory });
    }
    this.batch = undefined;
    this.batched = 0;
  }

  abort(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.batch) giveBackBatchBuffer(this.batch);
    this.batch = undefined;
    this.pool.forget(this.id);
  }
}

/** Batch buffers every part has hashed, kept for reuse: up to 64 MiB, eight uploads' in-flight batches. */
export const spareBatchesMax = (64 * 1024 * 1024) / batchBytes;
const spareBatches: BatchBuffer[] = [];
let lastBatchBufferId = 0;

/**
 * A batch buffer, not zero-filled: every byte sent is written first. Reused when one is spare:
 * writing into fresh memory costs a page fault every 4 KiB, which made this copy half of a large
 * upload's main-thread time.
 */
function takeBatchBuffer(): BatchBuffer {
  const spare = spareBatches.pop();
  if (spare) return spare;
  const memory = new SharedArrayBuffer(batchBytes);
  return { id: ++lastBatchBufferId, memory, bytes: new Uint8Array(memory), sentTo: new Set() };
}

/** Keeps a buffer no batch uses for reuse, or lets it go. */
function giveBackBatchBuffer(buffer: BatchBuffer): void {
  if (spareBatches.length < spareBatchesMax) spareBatches.push(buffer);
  else dropBatchBuffer(buffer);
}

/** Lets a buffer go: the threads that hold it are told to drop it (after the batches sent before). */
function dropBatchBuffer(buffer: BatchBuffer): void {
  for (const worker of buffer.sentTo) worker.thread.postMessage({ t: "forget", buffer: buffer.id });
}

/** What the pool's threads report (`HashPool.stats`). */
export interface ThreadStats {
  /** Lane-blocks hashed by each MD5 kernel so far: how well lanes filled. */
  lanes: LaneStats;
  /** Batch buffers the threads hold. */
  heldBuffers: number;
}

/** One hashing thread and the jobs it holds. */
interface PoolWorker {
  thread: Worker;
  /** The summed `load` of the parts on it. */
  load: number;
  /** Jobs on this thread hashing MD5 in lanes. */
  laneJobs: number;
  /** Callers of stats() waiting for this thread's answer, in order. */
  statsWaiters: ((stats: ThreadStats) => void)[];
}

/**
 * What a part costs its thread, in nanoseconds a byte on this project's machines: native MD5
 * ≈1.26, MD5 in full lanes ≈0.5, SHA-256 (SHA-NI) ≈0.56. Parts go to the least loaded thread.
 */
function loadOf(algorithms: HashAlgorithm[], lanes: boolean): number {
  return algorithms.reduce((sum, a) => sum + (a === "sha256" ? 0.56 : lanes ? 0.5 : 1.26), 0);
}

/** Hashing threads: one a core, at least one, at most four. */
export const defaultWorkersMax = Math.max(1, Math.min(4, availableParallelism()));

/**
 * Hashing threads, started as concurrent bodies need them, up to `workersMax`. A body's MD5 and
 * SHA-256 are parts that run on two threads when there are two, each hashing the same shared
 * batches, so one upload is bounded by its slower hash rather than by their sum. A part stays on
 * the thread it began on (its hash state lives there). An MD5 part below the lanes threshold, and
 * every SHA-256 part, goes to the least loaded thread (a SHA-256 part to one other than its MD5's).
 * A lanes part goes to the thread already holding the most lane jobs in a group not yet full, so
 * lanes fill: on 2 cores, eight uploads' MD5 share one thread's eight lanes (2.6× native MD5 on
 * that core) while their SHA-256 runs on the other.
 */
export class HashPool {
  private readonly workers: PoolWorker[] = [];
  private readonly jobs = new Map<number, JobState>();
  private nextId = 1;

  constructor(
    private readonly workersMax = defaultWorkersMax,
    /** Jobs hashing MD5 (the new one included) from which a new job's MD5 goes in lanes. */
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
    const sha256 = algorithms.includes("sha256");
    const lanes = md5 && this.md5Jobs + 1 >= this.lanesFrom;
    const split = md5 && sha256 && this.workersMax > 1;
    const parts: Part[] = [];
    if (md5) parts.push(this.place(id, sha256 && !split ? ["md5", "sha256"] : ["md5"], lanes ? this.lanesWorker() : this.leastBusy(), lanes));
    if (sha256 && (split || !md5)) parts.push(this.place(id, ["sha256"], this.leastBusy(parts[0]?.worker), false));
    if (md5) this.md5Jobs++;
    const state: JobState = { algorithms, parts, inFlightBytes: 0 };
    this.jobs.set(id, state);
    return new HashJob(this, id, state);
  }

  private place(id: number, algorithms: HashAlgorithm[], worker: PoolWorker, lanes: boolean): Part {
    const part: Part = { worker, algorithms, lanes, load: loadOf(algorithms, lanes), queue: [] };
    worker.load += part.load;
    if (lanes) worker.laneJobs++;
    worker.thread.postMessage({ t: "begin", id, algorithms, lanes });
    return part;
  }

  /** Drops a job: its threads let go of its state and of the batches still on their way (not reused). */
  forget(id: number): void {
    const parts = this.jobs.get(id)?.parts ?? [];
    const inFlight = new Set(parts.flatMap((part) => part.queue.map((batch) => batch.buffer)));
    for (const part of parts) part.worker.thread.postMessage({ t: "abort", id });
    for (const buffer of inFlight) dropBatchBuffer(buffer);
    this.finish(id);
  }

  private finish(id: number): void {
    const job = this.jobs.get(id);
    if (!job) return;
    for (const part of job.parts) {
      part.worker.load -= part.load;
      if (part.lanes) part.worker.laneJobs--;
    }
    if (job.algorithms.includes("md5")) this.md5Jobs--;
    this.jobs.delete(id);
  }

  /** The threads' figures, summed: answered after every message sent to them before. */
  async stats(): Promise<ThreadStats> {
    const all = await Promise.all(this.workers.map((w) => new Promise<ThreadStats>((resolve) => {
      w.statsWaiters.push(resolve);
      w.thread.postMessage({ t: "stats" });
    })));
    return all.reduce(
      (sum, { lanes, heldBuffers }) => ({
        lanes: { x1: sum.lanes.x1 + lanes.x1, x4: sum.lanes.x4 + lanes.x4, x8: sum.lanes.x8 + lanes.x8 },
        heldBuffers: sum.heldBuffers + heldBuffers,
      }),
      { lanes: { x1: 0, x4: 0, x8: 0 }, heldBuffers: 0 },
    );
  }

  /** The least loaded thread other than `besides`; a new one while an idle one is missing and the pool may grow. */
  private leastBusy(besides?: PoolWorker): PoolWorker {
    const best = this.workers.reduce<PoolWorker | undefined>((b, w) => (w !== besides && (b === undefined || w.load < b.load) ? w : b), undefined);
    if (best !== undefined && (best.load === 0 || this.workers.length === this.workersMax)) return best;
    return this.newWorker();
  }

  /**
   * Starts every thread the pool may have. A server does so at start: a thread started later, when
   * the process may have run out of file descriptors (clients holding connections open), ends it
   * (Bun cannot start a thread without a descriptor, and dies instead of throwing).
   */
  startAll(): void {
    while (this.workers.length < this.workersMax) this.newWorker();
  }

  private newWorker(): PoolWorker {
    const worker: PoolWorker = { thread: undefined!, load: 0, laneJobs: 0, statsWaiters: [] };
    worker.thread = this.startThread(worker);
    this.workers.push(worker);
    return worker;
  }

  /** The thread with the most lane jobs short of a full group; else the least busy. */
  private lanesWorker(): PoolWorker {
    const filling = this.workers.filter((w) => w.laneJobs % lanesPerGroup !== 0);
    if (filling.length === 0) return this.leastBusy();
    return filling.reduce((best, w) => (w.laneJobs > best.laneJobs ? w : best));
  }

  private startThread(worker: PoolWorker): Worker {
    const thread = new Worker(URL.createObjectURL(new Blob([workerSource], { type: "application/javascript" })));
    thread.unref();
    thread.postMessage({ t: "init", module: md5LanesModule() });
    thread.onmessage = (event: MessageEvent) => {
      const m = event.data as { t: string; id: number; digests?: Uint8Array[]; stats?: ThreadStats };
      if (m.t === "stats") return worker.statsWaiters.shift()?.(m.stats!);
      const job = this.jobs.get(m.id);
      const part = job?.parts.find((p) => p.worker === worker);
      if (!job || !part) return;
      if (m.t === "hashed") this.hashed(job, part.queue.shift()!);
      else if (m.t === "digests") {
        part.digests = m.digests;
        if (job.parts.some((p) => p.digests === undefined)) return;
        this.finish(m.id);
        job.done?.(job.algorithms.map((a) => {
          const from = job.parts.find((p) => p.algorithms.includes(a))!;
          return Buffer.from(from.digests![from.algorithms.indexOf(a)]);
        }));
      }
    };
    return thread;
  }

  /** One part is done with `batch`; once all are, its memory is reused and its bytes leave the job's in-flight count. */
  private hashed(job: JobState, batch: Batch): void {
    if (--batch.remaining > 0) return;
    giveBackBatchBuffer(batch.buffer);
    job.inFlightBytes -= batch.bytes;
    if (job.drained && job.inFlightBytes <= inFlightBytesMax / 2) {
      const resume = job.drained;
      job.drained = undefined;
      resume();
    }
  }
}

/** The process's hashing threads. */
export const hashPool = new HashPool();

/**
 * The hasher for a body of `declaredBytes` (undefined: not known, so perhaps large): on the pool
 * from offloadBytesMin, on the calling thread below.
 */
export function hasherFor(algorithms: HashAlgorithm[], declaredBytes: number | undefined): Hasher {
  return declaredBytes === undefined || declaredBytes >= offloadBytesMin ? hashPool.begin(algorithms) : localHasher(algorithms);
}
