/**
 * The node-to-node transport contract. Nodes are known by id (the address book comes from the
 * cluster config). Two paths:
 *  - call: request/response with a small JSON header and an optional streamed body either way
 *    (shard PUT streams up, shard GET streams down), under a deadline, cancellable;
 *  - send: one-way, fire-and-forget messages (Raft): never throws, may be lost.
 * Every body travels with a length+CRC-32 trailer (framing.ts) that the receiver checks, so a
 * body cut short is an error on the reading side, never a short success.
 */

import { armDeadline, type Deadline, disarmDeadline } from "./deadlines.ts";

export type NodeId = string;

/** Where a node listens (for "quic" the port is UDP). */
export interface PeerAddress { host: string; port: number }

/** A small typed header: flat JSON values only. Serialized size is bounded by headerBytesMax. */
export type Header = Record<string, string | number | boolean | null>;

/** Serialized JSON bytes of one header. */
export const headerBytesMax = 8 * 1024;
/** Default deadline of a call, covering the response head and the whole response body. */
export const callDeadlineMs = 30_000;
/** A body (either direction) that delivers no bytes for this long is cut off. */
export const bodyIdleTimeoutMs = 10_000;
/** Calls in flight to one peer at most; more fail at once with "overloaded" (no hidden queue). */
export const inFlightCallsMax = 4096;
/** One-way messages in flight to one peer at most; more are dropped (Raft tolerates loss). */
export const inFlightMessagesMax = 1024;
/** One body at most (length field of the trailer is checked against it). */
export const bodyBytesMax = 64 * 2 ** 30;
/** One-way message payload at most (held in memory whole). */
export const messageBytesMax = 64 * 2 ** 20;
/** Method names: short ASCII tokens (they travel in a URL path). */
export const methodPattern = /^[A-Za-z0-9._-]{1,64}$/;
/** A pooled connection with no streams for this long is closed. */
export const connectionIdleTimeoutMs = 60_000;

export type TransportErrorCode =
  | "unreachable" // no connection could be made (refused, partitioned, retries exhausted)
  | "refused" // the peer rejected our credentials or is not the node we expected
  | "deadline" // the call's deadline passed
  | "cancelled" // the caller aborted
  | "reset" // the connection or stream died mid-call
  | "idle" // a body stalled longer than bodyIdleTimeoutMs
  | "corrupt" // a body's length or checksum trailer did not match
  | "overloaded" // too many calls in flight
  | "remote" // the peer's handler failed
  | "closed"; // this transport was closed

export class TransportError extends Error {
  override name = "TransportError";
  constructor(readonly code: TransportErrorCode, message: string) {
    super(`${code}: ${message}`);
  }
}

export interface CallRequest {
  header?: Header;
  body?: ReadableStream<Uint8Array>;
}

export interface CallOptions {
  /** Relative deadline for the whole call, response body included. */
  deadlineMs?: number;
  signal?: AbortSignal;
}

export interface CallReply {
  header: Header;
  /** Verified as it streams: ends only if the trailer matched, errors otherwise. */
  body?: ReadableStream<Uint8Array>;
}

export interface IncomingCall {
  /** The authenticated caller (certificate CN for HTTP/2, signed id for QUIC). */
  from: NodeId;
  method: string;
  header: Header;
  body?: ReadableStream<Uint8Array>;
  /**
   * Aborted when the caller cancels, its deadline passes or the connection dies. A transport may
   * make it on first access, so read it where it is needed, not by habit.
   */
  readonly signal: AbortSignal;
}

export interface IncomingMessage {
  from: NodeId;
  method: string;
  header: Header;
  payload?: Uint8Array;
}

/** How a node on a mutual-TLS transport ("tls", "h2") starts. */
export interface MtlsTransportOptions {
  self: NodeId;
  /** The address book: looked up on every connect, so it may change (a restarted peer). */
  peers: Map<NodeId, PeerAddress>;
  /** PEM. cert/key may be absent only for a client that must be refused (tests). */
  tls: { ca: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  handlers?: TransportHandlers;
  listen?: PeerAddress;
  bodyIdleTimeoutMs?: number;
  connectionIdleTimeoutMs?: number;
  /** Randomness for backoff jitter, in [0, 1). */
  random?: () => number;
}

export interface TransportHandlers {
  /** Throwing (or rejecting) answers the caller with a "remote" error carrying the message. */
  call(call: IncomingCall): Promise<CallReply> | CallReply;
  message?(message: IncomingMessage): void;
}

export interface Transport {
  readonly self: NodeId;
  call(to: NodeId, method: string, request?: CallRequest, options?: CallOptions): Promise<CallReply>;
  send(to: NodeId, method: string, header?: Header, payload?: Uint8Array): void;
  /** Stops serving and drops pooled connections; calls in flight fail with "closed" or "reset". */
  close(): Promise<void>;
}

export function encodeHeader(h: Header): string {
  const s = JSON.stringify(h);
  if (Buffer.byteLength(s) > headerBytesMax) throw new TransportError("overloaded", `header over ${headerBytesMax} bytes`);
  return s;
}

export function decodeHeader(s: string | undefined): Header {
  if (s === undefined || s === "") return {};
  if (s.length > headerBytesMax) throw new TransportError("corrupt", "header too large");
  const v: unknown = JSON.parse(s);
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new TransportError("corrupt", "header is not an object");
  return v as Header;
}

export function checkMethod(method: string): void {
  if (!methodPattern.test(method)) throw new TransportError("remote", `bad method name ${JSON.stringify(method)}`);
}

/**
 * An abort reason, with an AbortController made only when someone asks for its signal (to hand it
 * to a body, a dial or a handler that reads it). A small call on a live connection needs none and
 * hears of an abort through onAbort: a controller and a listener per call on each end were 20 % of
 * a small call's CPU on "tls".
 */
export class LazyAbort {
  /** Why it was aborted, once it is. */
  reason: TransportError | undefined;
  /** Runs once on abort, before the signal's listeners. */
  onAbort: ((why: TransportError) => void) | undefined;
  private controller: AbortController | undefined;

  /** The controller behind `signal`, made now if it was not yet. */
  get ac(): AbortController {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.reason) this.controller.abort(this.reason);
    }
    return this.controller;
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  /** Aborts with `why` unless already aborted (here or through the controller). */
  abortWith(why: TransportError): void {
    if (this.reason || this.controller?.signal.aborted) return;
    this.reason = why;
    this.onAbort?.(why);
    this.controller?.abort(why);
  }
}

/**
 * One call's guard rails: a slot taken from `peer` (refused past inFlightCallsMax), the call's
 * deadline, the caller's cancellation. What the network transports set up for every call.
 */
export class CallGuard extends LazyAbort {
  readonly deadlineAt: number;
  private readonly deadline: Deadline;
  private readonly onCallerAbort: (() => void) | undefined;
  private released = false;

  constructor(private readonly peer: { calls: number }, to: NodeId, method: string, private readonly options: CallOptions) {
    super();
    if (peer.calls >= inFlightCallsMax) throw new TransportError("overloaded", `${inFlightCallsMax} calls in flight to ${to}`);
    peer.calls++;
    const deadlineMs = options.deadlineMs ?? callDeadlineMs;
    this.deadlineAt = performance.now() + deadlineMs;
    this.deadline = armDeadline(deadlineMs, () => this.abort("deadline", `call ${method} to ${to} over ${deadlineMs} ms`));
    const callerSignal = options.signal;
    if (callerSignal) {
      this.onCallerAbort = () => this.abort("cancelled", `call ${method} cancelled`);
      if (callerSignal.aborted) this.onCallerAbort();
      else callerSignal.addEventListener("abort", this.onCallerAbort, { once: true });
    }
  }

  /** Aborts the call with `code` unless it is already aborted. */
  readonly abort = (code: TransportErrorCode, why: string): void => this.abortWith(new TransportError(code, why));

  /** Frees the slot, the deadline and the caller's listener; true the first time, false after. */
  release(): boolean {
    if (this.released) return false;
    this.released = true;
    this.peer.calls--;
    disarmDeadline(this.deadline);
    if (this.onCallerAbort) this.options.signal?.removeEventListener("abort", this.onCallerAbort);
    return true;
  }
}

/** Error codes a server may report in a reply; any other reported code reads as "remote". */
const replyCodes = new Set<string>(["refused", "overloaded", "cancelled", "deadline"]);

/** The code a caller raises for an error reply that names `code`. */
export function replyErrorCode(code: string | null | undefined): TransportErrorCode {
  return code && replyCodes.has(code) ? (code as TransportErrorCode) : "remote";
}

/**
 * The code a server reports for a handler that failed: the call's own abort (its deadline passed,
 * its caller went away) if it was aborted, so the caller sees why; "remote" for the handler's errors.
 */
export function failureCode(signal: AbortSignal): TransportErrorCode {
  return signal.aborted && signal.reason instanceof TransportError ? signal.reason.code : "remote";
}

/** Refuses a one-way message with a bad method name or a payload over messageBytesMax. */
export function checkMessage(method: string, payload: Uint8Array | undefined): void {
  checkMethod(method);
  if (payload && payload.length > messageBytesMax) throw new TransportError("overloaded", `message over ${messageBytesMax} bytes`);
}

/**
 * Starts one one-way delivery unless `peer` already has inFlightMessagesMax in flight; then the
 * message is dropped, as a lossy network would drop it (Raft resends). `dropped` runs for a
 * message refused here and for one whose delivery failed.
 */
export function sendBounded(peer: { messages: number }, deliver: () => Promise<void>, dropped: () => void): void {
  if (peer.messages >= inFlightMessagesMax) return dropped();
  peer.messages++;
  void deliver()
    .catch(dropped)
    .finally(() => {
      peer.messages--;
    });
}
