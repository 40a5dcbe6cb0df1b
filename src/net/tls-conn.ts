/**
 * One connection of the "tls" transport: frames in and out of a Bun TLS socket, the stream
 * table, per-stream flow control, and the adapters between a stream and web streams.
 *
 * Writes are batched: frames queue up and go to the socket in one write per microtask turn (a
 * TLS write per small frame would mean a TLS record and a syscall each). Body senders wait for
 * stream credit and, when the socket is backed up, for 'drain'; control frames are small and
 * bounded by the streams that exist, so they never wait.
 */
import type { Socket } from "bun";
import { IdleWatch, pumpFramed } from "./body.ts";
import { BodyVerifier } from "./framing.ts";
import {
  dataFrameBytesMax, decodeCredit, decodeReason, encodeCredit, Frame, frame, frameHead, FrameParser,
  type FrameSink, sendBufferBytes, streamWindowBytes,
} from "./tls-wire.ts";
import { TransportError, type TransportErrorCode } from "./transport.ts";

/** Frames under this size are joined with their neighbours into one socket write. */
const joinBytesMax = 16 * 1024;

const errorCodes = new Set<string>(["unreachable", "refused", "deadline", "cancelled", "reset", "idle", "corrupt", "overloaded", "remote", "closed"]);

/** The "<code>:<message>" reason that GoAway and Reset carry for `why`. */
function reasonOf(why: TransportError): string {
  return `${why.code}:${why.message.replace(/^\w+: /, "")}`;
}

/** A TransportError from a "<code>:<message>" reason; unknown codes become "reset". */
export function reasonError(code: string, message: string): TransportError {
  return new TransportError(errorCodes.has(code) ? (code as TransportErrorCode) : "reset", message);
}

export interface ConnOwner {
  /** A control frame not about an open stream (Hello, GoAway, Call, Reply...). */
  control(conn: Conn, type: number, flags: number, stream: number, payload: Uint8Array): void;
  /** The connection is gone (after every stream has been failed). */
  closed(conn: Conn, why: TransportError): void;
}

export class Conn {
  readonly streams = new Map<number, Stream>();
  private nextStreamId = 1;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  /** Bytes the socket did not take on the last write; nothing else goes out before them. */
  private unwritten: Uint8Array | undefined;
  private flushScheduled = false;
  private drainWaiters: (() => void)[] = [];
  private readonly parser: FrameParser;
  isClosed = false;
  /** The node at the other end, once authenticated (certificate CN, checked against Hello). */
  peerId: string | undefined;

  constructor(readonly socket: Socket<Conn>, private readonly owner: ConnOwner) {
    const sink: FrameSink = {
      control: (type, flags, stream, payload) => this.control(type, flags, stream, payload),
      data: (stream, piece) => this.streams.get(stream)?.body?.push(piece),
      violation: (why) => this.fail(new TransportError("corrupt", `protocol violation: ${why}`)),
    };
    this.parser = new FrameParser(sink);
  }

  onData(chunk: Uint8Array): void {
    if (!this.isClosed) this.parser.push(chunk);
  }

  private control(type: number, flags: number, id: number, payload: Uint8Array): void {
    const s = id === 0 ? undefined : this.streams.get(id);
    if (s && type === Frame.End) return s.body?.end(payload);
    if (s && type === Frame.Credit) return s.addCredit(decodeCredit(payload) ?? 0);
    if (s && type === Frame.Reset) {
      const r = decodeReason(payload);
      return s.fail(reasonError(r.code, r.message), false);
    }
    if (type === Frame.End || type === Frame.Credit || type === Frame.Reset) return; // a stream already gone
    this.owner.control(this, type, flags, id, payload);
  }

  /** Registers a stream; `id` is the peer's for a stream it opened, else a new one of ours. */
  open(id = this.nextStreamId++): Stream {
    const s = new Stream(this, id);
    this.streams.set(id, s);
    return s;
  }

  send(bytes: Uint8Array): void {
    if (this.isClosed) return;
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** Resolves when the socket has room for more body bytes. */
  writable(): Promise<void> | undefined {
    if (this.queuedBytes + (this.unwritten?.length ?? 0) < sendBufferBytes) return undefined;
    if (this.isClosed) return Promise.reject(new TransportError("reset", "connection closed"));
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private flush = (): void => {
    this.flushScheduled = false;
    let i = 0;
    while (!this.isClosed && !this.unwritten && i < this.queue.length) {
      // Small frames are joined into one write (one TLS record and syscall, not one per frame);
      // a big DATA payload goes alone, as it is: joining it would copy every body byte once more
      // (that copy was 14 % of an upload's CPU).
      let j = i + 1;
      let bytes = this.queue[i]!.length;
      if (bytes < joinBytesMax) {
        while (j < this.queue.length && this.queue[j]!.length < joinBytesMax && bytes < joinBytesMax) bytes += this.queue[j++]!.length;
      }
      const batch = j === i + 1 ? this.queue[i]! : Buffer.concat(this.queue.slice(i, j), bytes);
      i = j;
      this.queuedBytes -= bytes;
      this.write(batch);
    }
    this.queue = i === this.queue.length ? [] : this.queue.slice(i);
  };

  private write(bytes: Uint8Array): void {
    const n = this.socket.write(bytes);
    this.unwritten = n >= bytes.length ? undefined : bytes.subarray(Math.max(0, n));
    if (!this.unwritten) this.wakeWriters();
  }

  onDrain(): void {
    if (this.isClosed) return;
    if (this.unwritten) this.write(this.unwritten);
    if (!this.unwritten) this.flush();
  }

  private wakeWriters(): void {
    if (this.drainWaiters.length === 0 || this.queuedBytes >= sendBufferBytes) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /** Sends GoAway with `why`, then closes. */
  goAway(why: TransportError): void {
    this.send(frame(Frame.GoAway, 0, reasonOf(why)));
    this.flush();
    this.socket.end();
    this.fail(why);
  }

  /** The connection is dead: every stream fails with `why`, writers waiting are released. */
  fail(why: TransportError): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.queue = [];
    this.unwritten = undefined;
    for (const s of [...this.streams.values()]) s.fail(why, false);
    for (const w of this.drainWaiters.splice(0)) w(); // they will find the stream failed
    this.socket.end();
    this.owner.closed(this, why);
  }
}

/**
 * One stream: an optional body coming in, an optional body going out under the peer's credit,
 * and a failure hook for the role (caller or server) that owns it.
 */
export class Stream {
  body: InBody | undefined;
  private credit = streamWindowBytes;
  private creditWaiter: { resolve(): void; reject(e: unknown): void } | undefined;
  failed: TransportError | undefined;
  /** Called once when the stream fails (peer reset, local reset, connection lost). */
  onFail: ((e: TransportError) => void) | undefined;
  /** The caller's side: called with the Reply frame's payload, synchronously (DATA may follow in the same read). */
  onReply: ((payload: Uint8Array) => void) | undefined;
  private localDone = false;
  private remoteDone = false;

  constructor(readonly conn: Conn, readonly id: number) {}

  /** Expects a body from the peer (an abort reaches it through fail()). */
  receiveBody(idleMs: number, hooks: InBodyHooks = {}): InBody {
    this.body = new InBody(this, idleMs, hooks);
    return this.body;
  }

  addCredit(n: number): void {
    this.credit += n;
    const w = this.creditWaiter;
    if (w && this.credit > 0) {
      this.creditWaiter = undefined;
      w.resolve();
    }
  }

  /**
   * Sends `src` in DATA frames within credit, then End carrying the body's length+CRC trailer
   * (apart from the body, so the reader need not hold back its last bytes). An abort stops it
   * through fail(): the next frame finds the stream failed.
   */
  async sendBody(src: ReadableStream<Uint8Array>, idleMs: number): Promise<void> {
    let trailer: Uint8Array | undefined;
    await pumpFramed(src, (chunk) => this.sendChunk(chunk), undefined, idleMs, (t) => { trailer = t; });
    if (this.failed) throw this.failed;
    this.conn.send(frame(Frame.End, this.id, trailer));
  }

  private async sendChunk(chunk: Uint8Array): Promise<void> {
    for (let off = 0; off < chunk.length;) {
      if (this.failed) throw this.failed;
      if (this.credit <= 0) {
        await new Promise<void>((resolve, reject) => { this.creditWaiter = { resolve, reject }; });
        continue;
      }
      const n = Math.min(chunk.length - off, this.credit, dataFrameBytesMax);
      this.credit -= n;
      this.conn.send(frameHead(Frame.Data, this.id, n));
      this.conn.send(chunk.subarray(off, off + n));
      off += n;
      const room = this.conn.writable();
      if (room) await room;
    }
  }

  /** Frees the stream's slot once both directions are complete. */
  done(side: "local" | "remote"): void {
    if (side === "local") this.localDone = true;
    else this.remoteDone = true;
    if (this.localDone && this.remoteDone) this.conn.streams.delete(this.id);
  }

  get isLocalDone(): boolean {
    return this.localDone;
  }

  /** Abandons the stream, telling the peer why (unless `tell` is false: it already knows). */
  fail(why: TransportError, tell = true): void {
    if (this.failed) return;
    this.failed = why;
    this.conn.streams.delete(this.id);
    if (tell) this.conn.send(frame(Frame.Reset, this.id, reasonOf(why)));
    this.creditWaiter?.reject(why);
    this.creditWaiter = undefined;
    this.body?.fail(why);
    this.onFail?.(why);
  }

  /** The reader consumed `n` body bytes: give the peer that much more room. */
  grant(n: number): void {
    if (!this.failed) this.conn.send(frame(Frame.Credit, this.id, encodeCredit(n)));
  }
}

export interface InBodyHooks {
  /** The reader cancelled the body. */
  onCancel?(reason: unknown): void;
  /** The body is over: whole (no argument), failed or cancelled. */
  onEnd?(error?: unknown): void;
}

/**
 * A body arriving on a stream, as a web stream: verified against the trailer its End frame
 * carries, credit returned as the reader takes bytes (so at most one window is ever queued here),
 * cut off when no bytes come for `idleMs` while the reader waits, errored at once when the stream
 * fails (a reset, the call's deadline or cancellation, the connection lost).
 */
export class InBody {
  readonly stream: ReadableStream<Uint8Array>;
  private readonly verifier = new BodyVerifier();
  private queue: Uint8Array[] = [];
  /** Raw bytes received and not yet given back as credit. */
  private outstanding = 0;
  private consumed = 0;
  private ended = false;
  private finished = false;
  /** hooks.onEnd has run: the call is over for its owner (slot and deadline released). */
  private released = false;
  private error: unknown;
  private wake: (() => void) | undefined;
  private readonly watch: IdleWatch;

  constructor(private readonly s: Stream, idleMs: number, private readonly hooks: InBodyHooks) {
    this.watch = new IdleWatch(idleMs, () => s.fail(new TransportError("idle", `no body bytes for ${idleMs} ms`)));
    this.stream = new ReadableStream<Uint8Array>({
      pull: (c) => this.pull(c),
      cancel: (reason) => {
        if (this.finished) return;
        hooks.onCancel?.(reason);
        s.fail(new TransportError("cancelled", "body cancelled by its reader"));
        this.settle();
      },
    }, { highWaterMark: 0 });
  }

  push(piece: Uint8Array): void {
    if (this.finished || this.ended) return;
    this.outstanding += piece.length;
    if (this.outstanding > streamWindowBytes) {
      return this.s.fail(new TransportError("corrupt", `peer sent ${this.outstanding} bytes over a ${streamWindowBytes}-byte window`));
    }
    this.watch.touch();
    try {
      this.verifier.pushBody(piece);
    } catch (e) {
      return this.s.fail(new TransportError("corrupt", (e as Error).message));
    }
    this.queue.push(piece);
    this.wakeUp();
  }

  /** The End frame arrived, with the body's trailer. */
  end(trailer: Uint8Array): void {
    if (this.finished || this.ended) return;
    const why = this.verifier.end(trailer);
    if (why) return this.s.fail(new TransportError("corrupt", why));
    this.ended = true;
    this.s.done("remote");
    this.wakeUp();
  }

  fail(e: unknown): void {
    if (this.finished) return;
    // A body whose trailer already matched is whole: a reset after it (the server stopping a
    // request body nobody reads, a deadline while the reader drains) takes nothing from it. But
    // the call is over: released now, or a reader that never finishes would hold it for good.
    if (this.ended) return this.release();
    this.error = e;
    this.wakeUp();
    this.settle(); // a reader gets the error on its next read
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private settle(): void {
    if (this.finished) return;
    this.finished = true;
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.watch.stop();
    this.hooks.onEnd?.(this.error);
  }

  private async pull(c: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      if (this.finished && this.error === undefined) return;
      const chunk = this.queue.shift();
      if (chunk) {
        c.enqueue(chunk);
        this.consumed += chunk.length;
        // Credit back in quarter windows: one CREDIT frame per 256 KiB, not per chunk.
        if (this.consumed >= streamWindowBytes / 4) {
          this.outstanding -= this.consumed;
          this.s.grant(this.consumed);
          this.consumed = 0;
        }
        return;
      }
      if (this.error !== undefined) {
        c.error(this.error);
        this.settle();
        return;
      }
      if (this.ended) {
        c.close();
        this.settle();
        return;
      }
      // The reader waits for bytes: only now can the peer be stalling.
      this.watch.resume();
      await new Promise<void>((r) => { this.wake = r; });
      this.watch.pause();
    }
  }
}
