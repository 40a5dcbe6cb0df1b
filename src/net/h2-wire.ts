/**
 * What HTTP/2 carries for the transport: paths, header names, and the adapters between an
 * Http2Stream and web streams (verified reading with flow control and an idle cut-off, framed
 * writing that waits for 'drain').
 */
import http2 from "node:http2";
import { IdleWatch, pumpFramed } from "./body.ts";
import { BodyVerifier } from "./framing.ts";
import { TransportError } from "./transport.ts";

export const callPathPrefix = "/s3d/v1/call/";
export const messagePathPrefix = "/s3d/v1/msg/";
export const hHeader = "x-s3d-header";
export const hBody = "x-s3d-body";
export const hDeadline = "x-s3d-deadline-ms";
export const hError = "x-s3d-error";
/**
 * HTTP/2 packs a call's head into one header: "<deadline ms> <body 0|1> <header JSON>" on a
 * request, "<body 0|1> <header JSON>" on a reply. Each extra literal header cost ≈4 % of a small
 * call in Bun's node:http2 (measured on bare node:http2: 3+2 headers, -10 to -15 % calls/s).
 */
export const hCall = "x-s3d-call";
export const hErrorCode = "x-s3d-error-code";
/** Per-stream receive window: big enough for ≈1 GiB/s on loopback, small enough × streams. */
export const streamWindowBytes = 1 << 20;
/*
 * The connection-level window stays at the protocol default: Bun 1.4.5's
 * Http2Session.setLocalWindowSize() stalls uploads (measured), so it is not used.
 */
/** Received bytes buffered for a slow reader before the stream is paused. */
export const readBufferBytes = 1 << 20;
/** Concurrent streams a peer may open on one connection. */
export const streamsPerConnectionMax = 4096;

export function packHead(deadlineMs: number | undefined, hasBody: boolean, headerJson: string): string {
  return deadlineMs === undefined ? `${hasBody ? 1 : 0} ${headerJson}` : `${deadlineMs} ${hasBody ? 1 : 0} ${headerJson}`;
}

/** Inverse of packHead; `withDeadline` says which form. Undefined if malformed. */
export function unpackHead(v: unknown, withDeadline: boolean): { deadlineMs: number; hasBody: boolean; header: string } | undefined {
  if (typeof v !== "string") return undefined;
  let rest = v, deadlineMs = 0;
  if (withDeadline) {
    const sp = rest.indexOf(" ");
    if (sp < 0) return undefined;
    deadlineMs = Number(rest.slice(0, sp));
    rest = rest.slice(sp + 1);
  }
  if (rest.length < 2 || rest[1] !== " " || (rest[0] !== "0" && rest[0] !== "1")) return undefined;
  return { deadlineMs, hasBody: rest[0] === "1", header: rest.slice(2) };
}

export const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;

/** Reads a framed body off an Http2Stream: verified, paused while the reader is slow, cut off when idle. */
export function readFramed(s: http2.Http2Stream, idleMs: number): ReadableStream<Uint8Array> {
  const v = new BodyVerifier();
  let done = false;
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  const fail = (e: TransportError) => {
    if (done) return;
    done = true;
    watch.stop();
    try { ctrl.error(e); } catch { /* closed */ }
    if (!s.destroyed) s.close(NGHTTP2_CANCEL);
  };
  const watch = new IdleWatch(idleMs, () => fail(new TransportError("idle", `no body bytes for ${idleMs} ms`)));
  return new ReadableStream<Uint8Array>({
    start(c) {
      ctrl = c;
      watch.resume();
      s.on("data", (chunk: Buffer) => {
        if (done) return;
        watch.touch();
        try {
          for (const b of v.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) c.enqueue(b);
        } catch (e) {
          fail(new TransportError("corrupt", (e as Error).message));
          return;
        }
        if ((c.desiredSize ?? 1) <= 0) {
          s.pause();
          watch.pause(); // a slow reader is not a stalled peer
        }
      });
      s.on("end", () => {
        if (done) return;
        const why = v.end();
        if (why) return fail(new TransportError("corrupt", why));
        done = true;
        watch.stop();
        c.close();
      });
      s.on("error", (e: Error) => fail(new TransportError("reset", e.message)));
      s.on("aborted", () => fail(new TransportError("reset", "stream aborted by the peer")));
      s.on("close", () => {
        // 'end' comes first on a whole stream; a close without it is a cut.
        if (!s.readableEnded) fail(new TransportError("reset", `stream closed (code ${s.rstCode})`));
      });
    },
    pull() {
      if (done || !s.isPaused()) return;
      watch.resume();
      s.resume();
    },
    cancel() {
      if (done) return;
      done = true;
      watch.stop();
      if (!s.destroyed) s.close(NGHTTP2_CANCEL);
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: readBufferBytes }));
}

/** Writes `body` framed to `s` and ends it, honouring backpressure. */
export async function writeFramed(
  s: http2.Http2Stream,
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal,
  idleMs: number,
): Promise<void> {
  const closed = () => new TransportError("reset", "stream closed while writing");
  await pumpFramed(body, (chunk) => {
    if (s.destroyed || s.closed) throw closed();
    if (s.write(chunk)) return;
    return new Promise<void>((resolve, reject) => {
      const off = () => { s.off("drain", onDrain); s.off("close", onClose); };
      const onDrain = () => { off(); resolve(); };
      const onClose = () => { off(); reject(closed()); };
      s.on("drain", onDrain);
      s.on("close", onClose);
    });
  }, signal, idleMs);
  s.end();
}

/** TLS failures are credential problems, not reachability ones: no retry, "refused". */
export function classifyConnectError(e: Error & { code?: string }): TransportError {
  const text = `${e.code ?? ""} ${e.message}`;
  if (/ALERT|CERT|SSL|TLS|VERIFY|identity|self.signed|unable to get/i.test(text)) return new TransportError("refused", e.message);
  return new TransportError("unreachable", e.message);
}
