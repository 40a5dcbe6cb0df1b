/**
 * Authentication of the QUIC transport by a cluster secret. Bun 1.4.5's HTTP/3 fetch cannot
 * present a client certificate nor verify a private CA (docs/transport.md), so TLS alone proves
 * nothing about either end. Instead every request head is signed with HMAC-SHA256 under the
 * cluster secret (caller, callee, method, path, time, nonce, deadline, header), every response
 * head is signed bound to the request's nonce, and every body carries, after its length+CRC-32
 * trailer, an HMAC-SHA256 of its bytes bound to the same nonce and its direction. The server
 * refuses a request whose time is off by more than `clockSkewMs` or whose nonce it has seen.
 * Pure apart from node:crypto: time comes in as an argument.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { BodyVerifier } from "./framing.ts";

/** A request whose timestamp is further than this from the server's clock is refused. */
export const clockSkewMs = 30_000;
/** Nonces remembered at most (each ≈100 bytes): a full cache refuses calls as "overloaded". */
export const replayNoncesMax = 1 << 20;
/** Shortest cluster secret accepted. */
export const secretBytesMin = 16;
/** Bytes of the body MAC that follows the framing trailer. */
export const bodyMacBytes = 32;

export interface SignedHead {
  from: string;
  to: string;
  /** Path of the request (carries the method name). */
  path: string;
  timeMs: number;
  nonce: string;
  deadlineMs: number;
  /** The serialized call header, exactly as sent. */
  header: string;
  hasBody: boolean;
}

export interface SignedReply {
  /** The request's nonce: a reply is only good for the request it answers. */
  nonce: string;
  from: string;
  status: number;
  header: string;
  hasBody: boolean;
  errorCode: string;
  error: string;
}

const sep = "\n";

export function secretKey(secret: string | Uint8Array): Buffer {
  const key = typeof secret === "string" ? Buffer.from(secret.trim(), /^[0-9a-f]+$/i.test(secret.trim()) ? "hex" : "utf8") : Buffer.from(secret);
  if (key.length < secretBytesMin) throw new RangeError(`cluster secret shorter than ${secretBytesMin} bytes`);
  return key;
}

function mac(key: Buffer, parts: (string | number)[]): string {
  return createHmac("sha256", key).update(parts.join(sep)).digest("base64url");
}

export function signRequest(key: Buffer, h: SignedHead): string {
  return mac(key, ["s3d-quic-req-v1", "POST", h.path, h.from, h.to, h.timeMs, h.nonce, h.deadlineMs, h.hasBody ? 1 : 0, h.header]);
}

export function signReply(key: Buffer, r: SignedReply): string {
  return mac(key, ["s3d-quic-res-v1", r.nonce, r.from, r.status, r.hasBody ? 1 : 0, r.errorCode, r.error, r.header]);
}

/** Timing-safe comparison of two base64url MACs. */
export function macEqual(a: string | null | undefined, b: string): boolean {
  if (typeof a !== "string") return false;
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Remembers the nonces of accepted requests for as long as their timestamps are inside the skew
 * window, so a replayed request is refused. Only requests with a valid signature are recorded,
 * so only holders of the secret can fill it.
 */
export class ReplayGuard {
  private seen = new Map<string, number>();
  constructor(private readonly windowMs = clockSkewMs, private readonly max = replayNoncesMax) {}

  /** "ok", "stale" (time outside the window), "replay" or "full". */
  check(nonce: string, timeMs: number, nowMs: number): "ok" | "stale" | "replay" | "full" {
    if (!Number.isFinite(timeMs) || Math.abs(nowMs - timeMs) > this.windowMs) return "stale";
    // Entries are in arrival order; drop those whose time has left the window.
    for (const [n, t] of this.seen) {
      if (nowMs - t <= this.windowMs) break;
      this.seen.delete(n);
    }
    if (this.seen.has(nonce)) return "replay";
    if (this.seen.size >= this.max) return "full";
    this.seen.set(nonce, timeMs);
    return "ok";
  }

  get size(): number { return this.seen.size; }
}

type Hmac = ReturnType<typeof createHmac>;

function bodyMac(key: Buffer, nonce: string, direction: "req" | "res"): Hmac {
  return createHmac("sha256", key).update(`s3d-quic-body-v1${sep}${direction}${sep}${nonce}${sep}`);
}

function lengthBytes(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Math.floor(n / 2 ** 32), 0);
  b.writeUInt32BE(n >>> 0, 4);
  return b;
}

/** Sender side: MACs the body bytes; `seal()` gives the 32 bytes that follow the framing trailer. */
export class BodySealer {
  private readonly h: Hmac;
  private n = 0;
  constructor(key: Buffer, nonce: string, direction: "req" | "res") {
    this.h = bodyMac(key, nonce, direction);
  }
  push(chunk: Uint8Array): void {
    this.n += chunk.length;
    this.h.update(chunk);
  }
  seal(): Uint8Array {
    return this.h.update(lengthBytes(this.n)).digest();
  }
}

/**
 * Receiver side: holds back the MAC (last 32 bytes), passes the rest to a BodyVerifier (which
 * holds back and checks the framing trailer), and MACs the body bytes it releases.
 */
export class SealedBodyVerifier {
  private readonly inner = new BodyVerifier();
  private readonly h: Hmac;
  private tail: Uint8Array = new Uint8Array(0);
  private n = 0;
  constructor(key: Buffer, nonce: string, direction: "req" | "res") {
    this.h = bodyMac(key, nonce, direction);
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length === 0) return [];
    let pass: Uint8Array;
    if (chunk.length >= bodyMacBytes) {
      const head = chunk.subarray(0, chunk.length - bodyMacBytes);
      pass = this.tail.length ? Buffer.concat([this.tail, head]) : head;
      this.tail = chunk.slice(chunk.length - bodyMacBytes);
    } else {
      const joined = Buffer.concat([this.tail, chunk]);
      const cut = Math.max(0, joined.length - bodyMacBytes);
      pass = joined.subarray(0, cut);
      this.tail = joined.slice(cut);
    }
    const out = this.inner.push(pass);
    for (const b of out) {
      this.n += b.length;
      this.h.update(b);
    }
    return out;
  }

  /** At end of stream: undefined if the body is whole and authentic, else why not. */
  end(): string | undefined {
    if (this.tail.length < bodyMacBytes) return `body truncated (no MAC)`;
    const why = this.inner.end();
    if (why) return why;
    const want = this.h.update(lengthBytes(this.n)).digest();
    return timingSafeEqual(want, this.tail) ? undefined : "body MAC mismatch (not signed with the cluster secret)";
  }
}
