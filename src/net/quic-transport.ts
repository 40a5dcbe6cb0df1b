/**
 * The experimental QUIC transport: Bun's HTTP/3 (Bun.serve `http3`, fetch `protocol: "http3"`).
 * Bun 1.4.5's HTTP/3 client cannot present a certificate nor check one against the cluster CA
 * (only the process-wide NODE_EXTRA_CA_CERTS), so both directions are authenticated by the
 * cluster secret instead (quic-auth.ts): signed request heads, signed response heads bound to
 * the request nonce, and a MAC after every body. TLS still encrypts; without the CA check an
 * active man-in-the-middle could read traffic, but it cannot forge a request or a response.
 * Deadlines, idle cut-offs and cancellation are enforced here, not by the protocol below.
 */
import { randomUUID } from "node:crypto";
import { abortable, readAll } from "./body.ts";
import { waitToRetry } from "./backoff.ts";
import { callPathPrefix, hBody, hDeadline, hError, hErrorCode, hHeader, messagePathPrefix } from "./h2-wire.ts";
import type { PeerAddress } from "./h2-transport.ts";
import { macEqual, ReplayGuard, secretKey, signReply, signRequest, type SignedHead } from "./quic-auth.ts";
import { hFrom, hNonce, hSig, hTime, hTo, sealedBody, verifiedBody } from "./quic-wire.ts";
import {
  bodyBytesMax, bodyIdleTimeoutMs, CallGuard, type CallOptions, type CallReply, type CallRequest, callDeadlineMs, checkMessage,
  checkMethod, decodeHeader, encodeHeader, failureCode, type Header, messageBytesMax, methodPattern, type NodeId,
  replyErrorCode, sendBounded, type Transport, TransportError, type TransportErrorCode, type TransportHandlers,
} from "./transport.ts";

export interface QuicTransportOptions {
  self: NodeId;
  /** The address book (UDP ports), looked up on every call. */
  peers: Map<NodeId, PeerAddress>;
  /** The cluster secret (≥ 16 bytes; a hex string is decoded). */
  secret: string | Uint8Array;
  /** PEM certificate and key the server presents (encryption only: clients cannot check them). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  handlers?: TransportHandlers;
  listen?: PeerAddress;
  bodyIdleTimeoutMs?: number;
  /**
   * Check the server certificate against the system trust store. That holds the cluster CA only
   * if NODE_EXTRA_CA_CERTS named it when the process started (Bun reads it then, not later), so
   * this is off unless the operator arranged that. Replies are signed either way.
   */
  verifyServerCertificate?: boolean;
  /** Wall clock (ms since the epoch) for request timestamps. */
  nowMs?: () => number;
  random?: () => number;
  /** Overrides probeTimeoutMs. */
  probeTimeoutMs?: number;
}

interface Peer {
  calls: number;
  messages: number;
  /** This peer's own connection pool in Bun's fetch, replaced when its connection is suspect. */
  session: Bun.FetchSession;
  /** The probe of `session`: calls wait for it before using a fresh session. */
  ready?: Promise<void>;
}

/** A signed ping on a fresh connection must be answered within this. */
export const probeTimeoutMs = 1_000;
const pingPath = "/s3d/v1/ping";

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

type Reply = { status: number; header: Header; body?: ReadableStream<Uint8Array>; errorCode?: string; error?: string };

export class QuicTransport implements Transport {
  readonly self: NodeId;
  private server?: ReturnType<typeof Bun.serve>;
  private readonly key: Buffer;
  private readonly idleMs: number;
  private readonly replay = new ReplayGuard();
  private readonly pool = new Map<NodeId, Peer>();
  private readonly live = new Set<AbortController>();
  private readonly tlsOption: { rejectUnauthorized: false } | undefined;
  private closed = false;
  messagesDropped = 0;

  private constructor(private readonly o: QuicTransportOptions) {
    this.self = o.self;
    this.key = secretKey(o.secret);
    this.idleMs = o.bodyIdleTimeoutMs ?? bodyIdleTimeoutMs;
    this.tlsOption = o.verifyServerCertificate ? undefined : { rejectUnauthorized: false };
  }

  static async start(o: QuicTransportOptions): Promise<QuicTransport> {
    const t = new QuicTransport(o);
    if (o.handlers && o.listen) {
      if (!o.tls) throw new TransportError("refused", "a serving node needs a certificate and key");
      t.server = Bun.serve({
        hostname: o.listen.host,
        port: o.listen.port,
        http3: true,
        http1: false,
        tls: { cert: String(o.tls.cert), key: String(o.tls.key) },
        idleTimeout: 0, // bodies have their own idle cut-off
        maxRequestBodySize: bodyBytesMax + 48, // framing trailer and MAC included
        fetch: (req) => t.serve(req, o.handlers!),
        error: () => new Response(null, { status: 500 }),
      });
    }
    return t;
  }

  get address(): PeerAddress | undefined {
    return this.server ? { host: this.o.listen!.host, port: this.server.port! } : undefined;
  }

  private now(): number {
    return (this.o.nowMs ?? Date.now)();
  }

  // ---- serving ----------------------------------------------------------------------------------

  private reply(nonce: string, r: Reply): Response {
    const header = r.status === 200 ? encodeHeader(r.header) : "";
    const errorCode = r.errorCode ?? "", error = encodeURIComponent(r.error ?? "");
    const sig = signReply(this.key, { nonce, from: this.self, status: r.status, header, hasBody: !!r.body, errorCode, error });
    const headers: Record<string, string> = { [hSig]: sig, [hFrom]: this.self, [hBody]: r.body ? "1" : "0" };
    if (header) headers[hHeader] = header;
    if (errorCode) { headers[hErrorCode] = errorCode; headers[hError] = error; }
    return new Response(r.body ?? null, { status: r.status, headers });
  }

  private async serve(req: Request, handlers: TransportHandlers): Promise<Response> {
    const url = new URL(req.url);
    const hd = req.headers;
    const nonce = hd.get(hNonce) ?? "";
    const head: SignedHead = {
      from: hd.get(hFrom) ?? "", to: hd.get(hTo) ?? "", path: url.pathname, timeMs: Number(hd.get(hTime)), nonce,
      deadlineMs: Number(hd.get(hDeadline) ?? 0), header: hd.get(hHeader) ?? "", hasBody: hd.get(hBody) === "1",
    };
    // Refusals are not signed: the server would otherwise sign a reply for any nonce an outsider
    // sends it. The caller treats an unsigned reply as "refused" and shows the reason as unverified.
    const refuse = (why: string) => new Response(null, {
      status: 403, headers: { [hErrorCode]: "refused", [hError]: encodeURIComponent(why), [hBody]: "0" },
    });
    if (!nonce || !macEqual(hd.get(hSig), signRequest(this.key, head))) return refuse("request not signed with the cluster secret");
    if (head.to !== this.self) return refuse(`request meant for ${head.to}, this is ${this.self}`);
    if (head.from !== this.self && !this.o.peers.has(head.from)) return refuse(`${head.from} is not a cluster member`);
    const fresh = this.replay.check(nonce, head.timeMs, this.now());
    if (fresh === "stale") return refuse("request time outside the allowed clock skew");
    if (fresh === "replay") return refuse("request replayed");
    if (fresh === "full") return this.reply(nonce, { status: 503, header: {}, errorCode: "overloaded", error: "replay cache full" });

    const path = url.pathname;
    if (path === pingPath) return this.reply(nonce, { status: 204, header: {} });
    const isMessage = path.startsWith(messagePathPrefix);
    const method = path.slice(isMessage ? messagePathPrefix.length : callPathPrefix.length);
    if ((!isMessage && !path.startsWith(callPathPrefix)) || !methodPattern.test(method)) {
      return this.reply(nonce, { status: 404, header: {}, errorCode: "remote", error: `no such path ${path}` });
    }
    let header: Header;
    try { header = decodeHeader(head.header); } catch (e) {
      return this.reply(nonce, { status: 400, header: {}, errorCode: "remote", error: (e as Error).message });
    }
    const body = head.hasBody && req.body ? verifiedBody(req.body, this.key, nonce, "req", this.idleMs) : undefined;

    if (isMessage) {
      try {
        const payload = body ? await readAll(body, messageBytesMax) : undefined;
        handlers.message?.({ from: head.from, method, header, payload });
      } catch { /* a message is lost, as it may be */ }
      return this.reply(nonce, { status: 204, header: {} });
    }

    const ac = new AbortController();
    this.live.add(ac);
    const deadlineMs = Math.min(head.deadlineMs > 0 ? head.deadlineMs : callDeadlineMs, callDeadlineMs * 100);
    const timer = setTimeout(() => ac.abort(new TransportError("deadline", "call deadline passed")), deadlineMs);
    const onGone = () => { if (!ac.signal.aborted) ac.abort(new TransportError("cancelled", "caller went away")); };
    req.signal.addEventListener("abort", onGone, { once: true });
    const end = () => {
      clearTimeout(timer);
      req.signal.removeEventListener("abort", onGone);
      this.live.delete(ac);
    };
    try {
      const r = await handlers.call({ from: head.from, method, header, body, signal: ac.signal });
      if (ac.signal.aborted) {
        r.body?.cancel().catch(() => {});
        end();
        return this.reply(nonce, { status: 499, header: {}, errorCode: "cancelled", error: "call aborted" });
      }
      if (!r.body) {
        end();
        return this.reply(nonce, { status: 200, header: r.header ?? {} });
      }
      const sealed = sealedBody(r.body, this.key, nonce, "res", this.idleMs);
      // Ends (and frees the call's timer) when the body is sent, fails or the call is aborted.
      const out = abortable(sealed, ac.signal, { onEnd: end });
      return this.reply(nonce, { status: 200, header: r.header ?? {}, body: out });
    } catch (e) {
      end();
      return this.reply(nonce, { status: 500, header: {}, errorCode: failureCode(ac.signal), error: e instanceof Error ? e.message : String(e) });
    }
  }

  // ---- calling ----------------------------------------------------------------------------------

  private peer(id: NodeId): Peer {
    let p = this.pool.get(id);
    if (!p) this.pool.set(id, (p = { calls: 0, messages: 0, session: this.newSession() }));
    return p;
  }

  private newSession(): Bun.FetchSession {
    return new Bun.FetchSession({ tls: this.tlsOption });
  }

  /**
   * After a failure below the call (no signed reply, a body cut or stalled), the connection is
   * presumed dead: Bun's HTTP/3 would keep using it and stall ≈30 s. The next call gets a fresh
   * session (a new QUIC connection) and probes it first. Calls still running on the old one go on.
   */
  private suspect(p: Peer, session: Bun.FetchSession): void {
    if (p.session !== session) return;
    p.session = this.newSession();
    p.ready = undefined;
    session.close();
  }

  /**
   * A fresh session is probed with a signed ping before calls use it: Bun's HTTP/3 client does not
   * fail fast on a dead or absent peer (it waits for the handshake to time out), so the probe's
   * own timeout is what turns "nobody there" into "unreachable" in `probeTimeoutMs`.
   */
  private async ready(to: NodeId, p: Peer, deadlineAt: number, signal: AbortSignal): Promise<Bun.FetchSession> {
    for (let attempt = 1; ; attempt++) {
      const session = p.session;
      if (!p.ready) {
        const probe = this.probe(to, session);
        p.ready = probe;
        probe.catch(() => this.suspect(p, session));
      }
      try {
        await raceAbort(p.ready, signal);
        return session;
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        const err = classifyFetchError(e);
        if (err.code !== "unreachable" || (e as { timedOut?: boolean }).timedOut) throw err;
        await waitToRetry(attempt, this.o.random ?? Math.random, deadlineAt, err);
      }
    }
  }

  private async probe(to: NodeId, session: Bun.FetchSession): Promise<void> {
    const signal = AbortSignal.timeout(this.o.probeTimeoutMs ?? probeTimeoutMs);
    let res: Response, nonce: string;
    try {
      ({ res, nonce } = await this.fetchSigned(session, to, pingPath, "", undefined, performance.now() + probeTimeoutMs, signal, () => {}));
    } catch (e) {
      if (!signal.aborted) throw e;
      throw Object.assign(new TransportError("unreachable", `${to} did not answer within ${probeTimeoutMs} ms`), { timedOut: true });
    }
    await res.body?.cancel().catch(() => {});
    const want = signReply(this.key, { nonce, from: to, status: res.status, header: "", hasBody: false, errorCode: res.headers.get(hErrorCode) ?? "", error: res.headers.get(hError) ?? "" });
    if (!macEqual(res.headers.get(hSig), want)) throw unsignedReply(res, to);
    if (res.status !== 204) throw new TransportError(replyErrorCode(res.headers.get(hErrorCode)), decodeURIComponent(res.headers.get(hError) ?? `status ${res.status}`));
  }

  /** One signed HTTP/3 request on `session`. */
  private async fetchSigned(
    session: Bun.FetchSession, to: NodeId, path: string, header: string, body: ReadableStream<Uint8Array> | undefined,
    deadlineAt: number, signal: AbortSignal, onBodyError: (e: unknown) => void,
  ): Promise<{ res: Response; nonce: string }> {
    const nonce = randomUUID();
    const addr = this.o.peers.get(to);
    if (!addr) throw new TransportError("unreachable", `no address for node ${to}`);
    const head: SignedHead = {
      from: this.self, to, path, timeMs: this.now(), nonce, header, hasBody: !!body,
      deadlineMs: Math.max(1, Math.round(deadlineAt - performance.now())),
    };
    const headers: Record<string, string> = {
      [hFrom]: head.from, [hTo]: to, [hTime]: String(head.timeMs), [hNonce]: nonce,
      [hDeadline]: String(head.deadlineMs), [hBody]: body ? "1" : "0", [hSig]: signRequest(this.key, head),
    };
    if (header) headers[hHeader] = header;
    const host = addr.host.includes(":") ? `[${addr.host}]` : addr.host;
    const res = await session.fetch(`https://${host}:${addr.port}${path}`, {
      method: "POST",
      protocol: "http3",
      headers,
      body: body ? sealedBody(body, this.key, nonce, "req", this.idleMs, onBodyError) : undefined,
      signal,
      tls: this.tlsOption,
      redirect: "manual",
      decompress: false,
      duplex: "half",
    } as RequestInit);
    return { res, nonce };
  }

  async call(to: NodeId, method: string, request: CallRequest = {}, options: CallOptions = {}): Promise<CallReply> {
    if (this.closed) throw new TransportError("closed", `${this.self} is closed`);
    checkMethod(method);
    const p = this.peer(to);
    const guard = new CallGuard(p, to, method, options);
    const { ac, abort, deadlineAt } = guard;
    this.live.add(ac);
    let session: Bun.FetchSession | undefined;
    const done = (error?: unknown) => {
      if (!guard.release()) return;
      this.live.delete(ac);
      const code = error instanceof TransportError ? error.code : error ? "reset" : undefined;
      if (session && (code === "reset" || code === "idle" || code === "corrupt")) this.suspect(p, session);
    };
    try {
      if (ac.signal.aborted) throw ac.signal.reason;
      const header = encodeHeader(request.header ?? {});
      session = await this.ready(to, p, deadlineAt, ac.signal);
      let res: Response, nonce: string;
      try {
        ({ res, nonce } = await this.fetchSigned(session, to, callPathPrefix + method, header, request.body, deadlineAt, ac.signal,
          (e) => abort(e instanceof TransportError ? e.code : "reset", e instanceof Error ? e.message : String(e))));
      } catch (e) {
        // No reply head: whatever the reason (the deadline included), do not trust this connection.
        if (!ac.signal.aborted || (ac.signal.reason as TransportError).code === "deadline") this.suspect(p, session);
        throw e;
      }
      return await this.accept(res, nonce, to, ac, done, abort);
    } catch (e) {
      const err = ac.signal.aborted ? ac.signal.reason : classifyFetchError(e);
      done(err);
      throw err;
    }
  }

  /** Checks the reply's signature and turns it into a CallReply (or the error it carries). */
  private async accept(
    res: Response, nonce: string, to: NodeId, ac: AbortController, done: (error?: unknown) => void,
    abort: (code: TransportErrorCode, why: string) => void,
  ): Promise<CallReply> {
    const hd = res.headers;
    const header = hd.get(hHeader) ?? "";
    const hasBody = hd.get(hBody) === "1";
    const errorCode = hd.get(hErrorCode) ?? "", error = hd.get(hError) ?? "";
    const want = signReply(this.key, { nonce, from: to, status: res.status, header, hasBody, errorCode, error });
    if (!macEqual(hd.get(hSig), want)) {
      res.body?.cancel().catch(() => {});
      throw unsignedReply(res, to);
    }
    if (res.status !== 200) {
      res.body?.cancel().catch(() => {});
      throw new TransportError(replyErrorCode(errorCode), decodeURIComponent(error) || `status ${res.status}`);
    }
    const h = decodeHeader(header);
    if (!hasBody || !res.body) {
      res.body?.cancel().catch(() => {});
      done();
      return { header: h };
    }
    const body = abortable(verifiedBody(res.body, this.key, nonce, "res", this.idleMs), ac.signal, {
      onCancel: () => abort("cancelled", "reply body cancelled"),
      onEnd: done,
    });
    return { header: h, body };
  }

  send(to: NodeId, method: string, header: Header = {}, payload?: Uint8Array): void {
    if (this.closed) return;
    checkMessage(method, payload);
    sendBounded(this.peer(to), () => this.sendOne(to, method, header, payload), () => {
      this.messagesDropped++;
    });
  }

  private async sendOne(to: NodeId, method: string, header: Header, payload?: Uint8Array): Promise<void> {
    const ac = new AbortController();
    this.live.add(ac);
    const deadlineAt = performance.now() + callDeadlineMs;
    const timer = setTimeout(() => ac.abort(new TransportError("deadline", "message not delivered in time")), callDeadlineMs);
    const p = this.peer(to);
    let session: Bun.FetchSession | undefined;
    try {
      session = await this.ready(to, p, deadlineAt, ac.signal);
      const { res } = await this.fetchSigned(session, to, messagePathPrefix + method, encodeHeader(header),
        payload ? new Blob([payload]).stream() : undefined, deadlineAt, ac.signal, () => {});
      await res.body?.cancel().catch(() => {});
      if (res.status !== 204) throw new Error(`status ${res.status}`);
    } catch (e) {
      if (session) this.suspect(p, session);
      throw e;
    } finally {
      clearTimeout(timer);
      this.live.delete(ac);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const ac of this.live) ac.abort(new TransportError("closed", `${this.self} is closed`));
    this.live.clear();
    for (const p of this.pool.values()) p.session.close();
    this.pool.clear();
    await this.server?.stop(true);
  }
}

/** A reply that does not verify: "refused", with the peer's stated reason marked as unverified. */
function unsignedReply(res: Response, to: NodeId): TransportError {
  const why = res.status === 403 ? res.headers.get(hError) : null;
  return new TransportError("refused", why
    ? `${to} refused the call (unverified reason: ${decodeURIComponent(why)})`
    : `reply from ${to} not signed with the cluster secret`);
}

/** Bun's fetch errors carry a code; connection-level ones mean the peer could not be reached. */
export function classifyFetchError(e: unknown): TransportError {
  if (e instanceof TransportError) return e;
  const err = e as { code?: string; message?: string; name?: string };
  const text = `${err.code ?? ""} ${err.message ?? String(e)}`;
  if (/Handshake|Certificate|TLS|SSL/i.test(text)) return new TransportError("refused", text.trim());
  if (/Refused|Unreachable|ConnectionClosed|Timeout|Timed ?out|HTTP3|ECONN|Closed/i.test(text)) return new TransportError("unreachable", text.trim());
  return new TransportError("reset", text.trim());
}
