/**
 * Stream adapters around framing.ts: frame a body for sending, verify one while receiving, and
 * cut off a body that stalls. Web streams in, web streams out.
 */
import { BodyFramer, BodyVerifier } from "./framing.ts";
import { bodyIdleTimeoutMs, TransportError } from "./transport.ts";

/** Appends the length+CRC-32 trailer. */
export function framingTransform(): TransformStream<Uint8Array, Uint8Array> {
  const f = new BodyFramer();
  return new TransformStream({
    transform(chunk, c) {
      f.push(chunk);
      c.enqueue(chunk);
    },
    flush(c) {
      c.enqueue(f.trailer());
    },
  });
}

/** Strips and checks the trailer: the readable side errors with "corrupt" if it does not match. */
export function verifyingTransform(): TransformStream<Uint8Array, Uint8Array> {
  const v = new BodyVerifier();
  return new TransformStream({
    transform(chunk, c) {
      for (const b of v.push(chunk)) c.enqueue(b);
    },
    flush(c) {
      const why = v.end();
      if (why) c.error(new TransportError("corrupt", why));
    },
  });
}

/**
 * Reads `src` to the end, passing body chunks then the trailer to `write` (which should resolve
 * when the sink has room: that is the backpressure), or the trailer to `trailer` if given (a
 * protocol that carries it apart from the body). Errors if a chunk takes longer than `idleMs` to
 * arrive from `src`.
 */
export async function pumpFramed(
  src: ReadableStream<Uint8Array>,
  write: (chunk: Uint8Array) => Promise<void> | void,
  signal?: AbortSignal,
  idleMs = bodyIdleTimeoutMs,
  trailer?: (t: Uint8Array) => void,
): Promise<void> {
  const f = new BodyFramer();
  const reader: BodyReader = src.getReader();
  let stalled: TransportError | undefined;
  // Only the reads are timed: a sink slow to drain is backpressure, not a stalled source.
  const watch = new IdleWatch(idleMs, () => {
    stalled = new TransportError("idle", `body source stalled over ${idleMs} ms`);
    reader.cancel(stalled).catch(() => {});
  });
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      watch.resume();
      const r = await reader.read();
      watch.pause();
      if (stalled) throw stalled;
      if (r.done || r.value === undefined) break;
      f.push(r.value);
      const w = write(r.value);
      if (w) await w;
    }
    if (trailer) {
      trailer(f.trailer());
    } else {
      const w = write(f.trailer());
      if (w) await w;
    }
  } catch (e) {
    reader.cancel(e).catch(() => {});
    throw e;
  } finally {
    watch.stop();
    reader.releaseLock();
  }
}

/**
 * An idle timer that is cheap to touch: `touch()` stores a time, and the one timer re-arms itself
 * when it fires early. (A clearTimeout + setTimeout per chunk cost ≈4 % of a 1 MiB transfer.)
 * While paused it never fires; `resume()` restarts the idle period.
 */
export class IdleWatch {
  private last = performance.now();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private paused = true;
  private stopped = false;
  constructor(private readonly idleMs: number, private readonly onIdle: () => void) {}

  touch(): void {
    this.last = performance.now();
  }

  resume(): void {
    this.last = performance.now();
    this.paused = false;
    if (!this.timer && !this.stopped) this.timer = setTimeout(this.check, this.idleMs);
  }

  pause(): void {
    this.paused = true;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private check = (): void => {
    this.timer = undefined;
    if (this.stopped || this.paused) return;
    const quietMs = performance.now() - this.last;
    if (quietMs >= this.idleMs) {
      this.stop();
      this.onIdle();
    } else {
      this.timer = setTimeout(this.check, this.idleMs - quietMs);
    }
  };
}

/** The default reader of a byte stream, as the code below uses it. */
export interface BodyReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
  releaseLock(): void;
}

export function readWithIdle(reader: BodyReader, idleMs: number): ReturnType<BodyReader["read"]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransportError("idle", `body source stalled over ${idleMs} ms`)), idleMs);
  });
  return Promise.race([reader.read(), idle]).finally(() => clearTimeout(timer));
}

/** Reads a whole (small) stream into memory, refusing more than `bytesMax`. */
export async function readAll(src: ReadableStream<Uint8Array>, bytesMax: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of src) {
    n += c.length;
    if (n > bytesMax) throw new TransportError("overloaded", `body over ${bytesMax} bytes`);
    parts.push(c);
  }
  return Buffer.concat(parts);
}

export interface AbortableHooks {
  /** Called once, when the stream closes, errors, is cancelled or aborted. */
  onEnd?(error?: unknown): void;
  /** Called when the reader cancels (before onEnd). */
  onCancel?(reason: unknown): void;
}

/**
 * Re-exposes `src` so that aborting `signal` errors it at once (even while no chunk flows) and
 * cancelling it is reported. Used for deadlines, crashes and cancellation.
 */
export function abortable(
  src: ReadableStream<Uint8Array>,
  signal: AbortSignal,
  hooks: AbortableHooks = {},
): ReadableStream<Uint8Array> {
  const reader = src.getReader();
  let finished = false;
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  const finish = (error?: unknown) => {
    if (finished) return;
    finished = true;
    signal.removeEventListener("abort", onAbort);
    hooks.onEnd?.(error);
  };
  const onAbort = () => {
    if (finished) return;
    try { ctrl.error(signal.reason); } catch { /* already closed */ }
    reader.cancel(signal.reason).catch(() => {});
    finish(signal.reason);
  };
  return new ReadableStream<Uint8Array>({
    start(c) {
      ctrl = c;
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    },
    async pull(c) {
      try {
        const r = await reader.read();
        if (finished) return;
        if (r.done) {
          c.close();
          finish();
        } else c.enqueue(r.value);
      } catch (e) {
        if (finished) return;
        c.error(e);
        finish(e);
      }
    },
    cancel(reason) {
      if (finished) return;
      hooks.onCancel?.(reason);
      reader.cancel(reason).catch(() => {});
      finish(reason);
    },
  });
}
