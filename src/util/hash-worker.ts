/**
 * MD5 and SHA-256 of streaming bodies, computed on a worker thread. Hashing is most of an
 * upload's CPU (MD5 ≈ 700 MiB/s a core): on the worker it runs beside the main thread's
 * network and file I/O instead of after it. Memory stays bounded: a job holds at most
 * `inFlightBytesMax` of copied chunks before `update` asks its caller to wait.
 */
import { createHash } from "node:crypto";
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
    postMessage({ t: "hashed", id: m.id, bytes: m.chunk.length });
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
  private batch = newBatch();
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
      this.pool.post({ t: "end", id: this.id });
    });
  }

  /** Hands the full batch to the worker (transferred, not copied) and starts a new one. */
  private send(): void {
    const chunk = this.batched === batchBytes ? this.batch : this.batch.subarray(0, this.batched);
    this.state.inFlightBytes += chunk.length;
    this.pool.post({ t: "chunk", id: this.id, chunk }, [this.batch.buffer as ArrayBuffer]);
    this.batch = newBatch();
    this.batched = 0;
  }

  abort(): void {
    if (this.ended) return;
    this.ended = true;
    this.pool.forget(this.id);
  }
}

/** A batch buffer of its own (transferable), not zero-filled: every byte sent is written first. */
function newBatch(): Uint8Array {
  return new Uint8Array(Buffer.allocUnsafeSlow(batchBytes).buffer, 0, batchBytes);
}

export class HashPool {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, JobState>();
  private nextId = 1;

  begin(algorithms: HashAlgorithm[]): HashJob {
    const id = this.nextId++;
    const state: JobState = { inFlightBytes: 0 };
    this.jobs.set(id, state);
    this.post({ t: "begin", id, algorithms });
    return new HashJob(this, id, state);
  }

  post(message: unknown, transfer: ArrayBuffer[] = []): void {
    this.started().postMessage(message, transfer);
  }

  forget(id: number): void {
    this.jobs.delete(id);
    this.post({ t: "abort", id });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(URL.createObjectURL(new Blob([workerSource], { type: "application/javascript" })));
    worker.unref();
    worker.onmessage = (event: MessageEvent) => {
      const m = event.data as { t: string; id: number; bytes?: number; digests?: Uint8Array[] };
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
        this.jobs.delete(m.id);
        job.digests?.(m.digests!);
      }
    };
    this.worker = worker;
    return worker;
  }
}

/** The process's hashing worker. */
export const hashPool = new HashPool();
