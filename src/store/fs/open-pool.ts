/**
 * Threads that open sealed fragments for large reads. On the main thread a sealed GET is bound by
 * the opening (a decipher a fragment: a 64 MiB GET at 40 % of a plain one, with the main thread at
 * a whole core); here batches of fragments open on other cores while the main thread reads the
 * next batch from disk and writes the last one out. The threads run the same fragment code as the
 * main thread (sealing.ts `fragmentsSource`).
 *
 * A batch's sealed bytes are handed to a thread (transferred, not copied) and its plaintext comes
 * back the same way. The threads start with the server (`startAll`): a Bun thread started later,
 * once the process may have used up its file descriptors, ends the process instead of failing.
 */
import { availableParallelism } from "node:os";
import { assert } from "../../util/assert.ts";
import { fragmentError, fragmentSealedBytes, fragmentsSource, tagBytes } from "./sealing.ts";

/** One batch to open: fragments [first, last] of a sealed blob, `sealed` holding exactly their bytes. */
export interface OpenRequest {
  /** the blob's data key (raw) and id, which its fragments' nonces and AAD are made of */
  dataKey: Uint8Array;
  sealId: Uint8Array;
  plainBytes: number;
  count: number;
  first: number;
  last: number;
  /** its sealed bytes: the first `sealedBytes` of a buffer from `sealedBuffer()`, handed over to the thread and back */
  sealed: Uint8Array;
  sealedBytes: number;
  /** what the blob is, for the error of a fragment that does not open */
  what: string;
}

const workerSource = `
const { createDecipheriv } = require("node:crypto");
${fragmentsSource()}
self.onmessage = (event) => {
  const m = event.data;
  const sealed = new Uint8Array(m.sealed, 0, m.sealedBytes);
  let plainTotal = 0;
  for (let n = m.first; n <= m.last; n++) plainTotal += fragments.plainLength(m.plainBytes, n);
  const out = new Uint8Array(plainTotal);
  let at = 0;
  let offset = 0;
  for (let n = m.first; n <= m.last; n++) {
    const length = fragments.plainLength(m.plainBytes, n) + ${tagBytes};
    const opened = fragments.open(createDecipheriv, m.dataKey, m.sealId, m.plainBytes, m.count, n, sealed.subarray(offset, offset + length));
    if (typeof opened === "string") return postMessage({ id: m.id, failed: n, why: opened, sealed: m.sealed }, [m.sealed]);
    out.set(opened, at);
    at += opened.length;
    offset += length;
  }
  postMessage({ id: m.id, plain: out.buffer, sealed: m.sealed }, [out.buffer, m.sealed]);
};`;

interface Thread {
  worker: Worker;
  /** batches sent and not answered */
  inFlight: number;
}

interface Waiting {
  thread: Thread;
  request: OpenRequest;
  resolve(plain: Uint8Array): void;
  reject(error: Error): void;
}

export const openThreadsDefault = Math.max(1, Math.min(2, availableParallelism()));
/** Sealed buffers kept for the next batches (each `batchBytesMax`): fresh memory costs a page fault every 4 KiB. */
const spareBuffersMax = 16;

export class OpenPool {
  private readonly threads: Thread[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private readonly spares: ArrayBuffer[] = [];

  /** `batchBytesMax`: the most sealed bytes a batch holds. */
  constructor(readonly batchBytesMax: number, private readonly threadsMax = openThreadsDefault) {}

  /** A buffer of `batchBytesMax` for a batch's sealed bytes, used before if one is spare. */
  sealedBuffer(): Uint8Array {
    return new Uint8Array(this.spares.pop() ?? new ArrayBuffer(this.batchBytesMax));
  }

  /** Starts every thread the pool may have (a server does so at start). */
  startAll(): void {
    while (this.threads.length < this.threadsMax) this.startThread();
  }

  /** Opens a batch on the least busy thread: the plaintext of its fragments, in order. */
  open(request: OpenRequest): Promise<Uint8Array> {
    const { sealed } = request;
    assert(sealed.byteOffset === 0 && sealed.byteLength === this.batchBytesMax && request.sealedBytes <= this.batchBytesMax, "a batch's sealed bytes are in a buffer of sealedBuffer()'s");
    const idle = this.threads.find((t) => t.inFlight === 0);
    const thread = idle ?? (this.threads.length < this.threadsMax ? this.startThread() : this.threads.reduce((a, b) => (b.inFlight < a.inFlight ? b : a)));
    const id = this.nextId++;
    thread.inFlight++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { thread, request, resolve, reject });
      const { dataKey, sealId, plainBytes, count, first, last, sealedBytes } = request;
      thread.worker.postMessage({ id, dataKey, sealId, plainBytes, count, first, last, sealed: sealed.buffer, sealedBytes }, [sealed.buffer as ArrayBuffer]);
    });
  }

  private startThread(): Thread {
    const worker = new Worker(URL.createObjectURL(new Blob([workerSource], { type: "application/javascript" })));
    worker.unref();
    const thread: Thread = { worker, inFlight: 0 };
    worker.onmessage = (event: MessageEvent) => {
      const m = event.data as { id: number; plain?: ArrayBuffer; failed?: number; why?: string; sealed: ArrayBuffer };
      if (this.spares.length < spareBuffersMax) this.spares.push(m.sealed);
      const waiting = this.waiting.get(m.id);
      if (waiting === undefined) return;
      this.waiting.delete(m.id);
      thread.inFlight--;
      const { request } = waiting;
      if (m.plain !== undefined) waiting.resolve(new Uint8Array(m.plain));
      else waiting.reject(fragmentError(request.what, m.failed!, request.count, m.why!));
    };
    // A thread that dies fails its batches (their reads end with an error) and is replaced on demand.
    worker.onerror = (event: ErrorEvent) => {
      this.threads.splice(this.threads.indexOf(thread), 1);
      for (const [id, waiting] of this.waiting) {
        if (waiting.thread !== thread) continue;
        this.waiting.delete(id);
        waiting.reject(new Error(`a fragment-opening thread failed: ${event.message}`));
      }
    };
    this.threads.push(thread);
    return thread;
  }
}

/** The process's threads for opening sealed reads, in batches of up to `fragmentsPerBatch`. */
export const fragmentsPerBatch = 64;
export const openPool = new OpenPool(fragmentsPerBatch * fragmentSealedBytes);
