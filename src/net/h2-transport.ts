/**
 * HTTP/2 over mutual TLS ("h2"; the default is "tls", tls-transport.ts). One pooled connection per peer (many streams
 * each), the server's certificate must name the node we meant to reach, connections are made
 * again on demand with bounded retries and backoff, and idle ones are closed.
 */
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { abortable } from "./body.ts";
import { waitToRetry } from "./backoff.ts";
import { createH2Server } from "./h2-server.ts";
import {
  callPathPrefix, classifyConnectError, hCall, hError, hErrorCode, packHead, unpackHead,
  messagePathPrefix, NGHTTP2_CANCEL, readFramed, streamWindowBytes, writeFramed,
} from "./h2-wire.ts";
import {
  bodyIdleTimeoutMs, CallGuard, type CallOptions, type CallReply, type CallRequest, callDeadlineMs, checkMessage, checkMethod,
  connectionIdleTimeoutMs, decodeHeader, encodeHeader, type Header, type MtlsTransportOptions, type NodeId,
  type PeerAddress, replyErrorCode, sendBounded, type Transport, TransportError,
} from "./transport.ts";

export type { PeerAddress } from "./transport.ts";

export type H2TransportOptions = MtlsTransportOptions;

interface Peer { session?: Promise<http2.ClientHttp2Session>; calls: number; messages: number }

export class H2Transport implements Transport {
  readonly self: NodeId;
  private server?: http2.Http2SecureServer;
  private readonly serverSessions = new Set<http2.ServerHttp2Session>();
  private readonly pool = new Map<NodeId, Peer>();
  private closed = false;
  private readonly idleMs: number;
  messagesDropped = 0;

  private constructor(private readonly o: H2TransportOptions) {
    this.self = o.self;
    this.idleMs = o.bodyIdleTimeoutMs ?? bodyIdleTimeoutMs;
  }

  static async start(o: H2TransportOptions): Promise<H2Transport> {
    const t = new H2Transport(o);
    if (o.handlers && o.listen) {
      const { cert, key, ca } = o.tls;
      if (!cert || !key) throw new TransportError("refused", "a serving node needs a certificate and key");
      const server = createH2Server({
        tls: { ca, cert, key },
        isMember: (id) => id === o.self || o.peers.has(id),
        handlers: o.handlers,
        bodyIdleTimeoutMs: t.idleMs,
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(o.listen!.port, o.listen!.host, () => { server.off("error", reject); resolve(); });
      });
      t.server = server;
      server.on("session", (session) => {
        t.serverSessions.add(session);
        session.once("close", () => t.serverSessions.delete(session));
      });
    }
    return t;
  }

  /** The bound address (port 0 in the options means "any free port"). */
  get address(): PeerAddress | undefined {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : undefined;
  }

  private peer(id: NodeId): Peer {
    let p = this.pool.get(id);
    if (!p) this.pool.set(id, (p = { calls: 0, messages: 0 }));
    return p;
  }

  private connect(to: NodeId, timeoutMs: number): Promise<http2.ClientHttp2Session> {
    const addr = this.o.peers.get(to);
    if (!addr) return Promise.reject(new TransportError("unreachable", `no address for node ${to}`));
    const { ca, cert, key } = this.o.tls;
    return new Promise((resolve, reject) => {
      const session = http2.connect(`https://${addr.host}:${addr.port}`, {
        ca, cert, key,
        servername: addr.host === "127.0.0.1" ? undefined : addr.host,
        // The server must be the node we meant to reach, not just any cluster member.
        checkServerIdentity: (_host: string, c: { subject?: { CN?: string } }) =>
          c.subject?.CN === to ? undefined : new Error(`certificate names ${c.subject?.CN}, expected node ${to}`),
        settings: { initialWindowSize: streamWindowBytes },
      } as http2.SecureClientSessionOptions);
      const timer = setTimeout(() => {
        session.destroy();
        reject(new TransportError("unreachable", `connect to ${to} timed out`));
      }, timeoutMs);
      session.once("connect", () => {
        clearTimeout(timer);
        session.setTimeout(this.o.connectionIdleTimeoutMs ?? connectionIdleTimeoutMs, () => session.close());
        resolve(session);
      });
      session.once("error", (e: Error) => {
        clearTimeout(timer);
        reject(classifyConnectError(e));
      });
    });
  }

  /** The pooled session to `to`, connecting (with bounded retries) if there is none alive. */
  private async session(to: NodeId, deadlineAt: number, signal: AbortSignal): Promise<http2.ClientHttp2Session> {
    const p = this.peer(to);
    if (p.session) {
      const s = await p.session.catch(() => undefined);
      if (s && !s.closed && !s.destroyed) return s;
      if (p.session && (!s || s.closed || s.destroyed)) p.session = undefined;
    }
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw signal.reason;
      if (!p.session) {
        const pending = this.connect(to, Math.max(1, deadlineAt - performance.now()));
        p.session = pending;
        pending.then((s) => {
          const drop = () => { if (p.session === pending) p.session = undefined; };
          s.once("close", drop);
          s.once("error", drop);
          s.once("goaway", drop);
        }, () => { if (p.session === pending) p.session = undefined; });
      }
      try {
        return await p.session;
      } catch (e) {
        const err = e instanceof TransportError ? e : classifyConnectError(e as Error);
        if (err.code === "refused") throw err;
        await waitToRetry(attempt, this.o.random ?? Math.random, deadlineAt, err);
      }
    }
  }

  async call(to: NodeId, method: string, request: CallRequest = {}, options: CallOptions = {}): Promise<CallReply> {
    if (this.closed) throw new TransportError("closed", `${this.self} is closed`);
    checkMethod(method);
    const guard = new CallGuard(this.peer(to), to, method, options);
    const { ac, abort, deadlineAt } = guard;
    const done = () => void guard.release();
    try {
      const session = await this.session(to, deadlineAt, ac.signal);
      if (ac.signal.aborted) throw ac.signal.reason;
      const s = session.request({
        ":method": "POST",
        ":path": callPathPrefix + method,
        [hCall]: packHead(Math.max(1, Math.round(deadlineAt - performance.now())), !!request.body, encodeHeader(request.header ?? {})),
      }, { endStream: !request.body });
      // One listener per event for the whole call (each listener costs a small call ≈1 %).
      let rejectHead: ((e: unknown) => void) | undefined;
      const onAbort = () => {
        if (!s.destroyed) s.close(NGHTTP2_CANCEL);
        rejectHead?.(ac.signal.reason);
      };
      ac.signal.addEventListener("abort", onAbort, { once: true });
      s.on("error", (e: Error) => rejectHead?.(new TransportError("reset", e.message))); // later: via the body adapters
      s.once("close", () => {
        ac.signal.removeEventListener("abort", onAbort);
        rejectHead?.(ac.signal.aborted ? ac.signal.reason : new TransportError("reset", `stream closed (code ${s.rstCode})`));
      });
      if (request.body) {
        writeFramed(s, request.body, ac.signal, this.idleMs).catch((e: unknown) => {
          abort(e instanceof TransportError ? e.code : "reset", e instanceof Error ? e.message : String(e));
        });
      }
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        rejectHead = reject;
        s.once("response", (h) => { rejectHead = undefined; resolve(h); });
      });
      const status = Number(headers[":status"]);
      if (status !== 200) {
        const code = replyErrorCode(headers[hErrorCode] as string | undefined);
        throw new TransportError(code, decodeURIComponent(String(headers[hError] ?? `status ${status}`)));
      }
      const head = unpackHead(headers[hCall], false);
      if (!head) throw new TransportError("corrupt", "reply without a valid head");
      const header = decodeHeader(head.header);
      if (!head.hasBody) {
        done();
        return { header };
      }
      const body = abortable(readFramed(s, this.idleMs), ac.signal, {
        onCancel: () => abort("cancelled", "reply body cancelled"),
        onEnd: done,
      });
      return { header, body };
    } catch (e) {
      done();
      if (e instanceof TransportError) throw e;
      throw classifyConnectError(e as Error);
    }
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
    const deadlineAt = performance.now() + callDeadlineMs;
    const timer = setTimeout(() => ac.abort(new TransportError("deadline", "message not delivered in time")), callDeadlineMs);
    try {
      const session = await this.session(to, deadlineAt, ac.signal);
      const s = session.request({
        ":method": "POST",
        ":path": messagePathPrefix + method,
        [hCall]: packHead(0, !!payload, encodeHeader(header)),
      }, { endStream: !payload });
      if (payload) await writeFramed(s, new Blob([payload]).stream(), ac.signal, this.idleMs);
      await new Promise<void>((resolve, reject) => {
        s.once("response", (h) => (h[":status"] === 204 ? resolve() : reject(new Error(`status ${h[":status"]}`))));
        s.once("close", () => reject(new Error("closed")));
        s.once("error", reject);
        ac.signal.addEventListener("abort", () => { s.close(NGHTTP2_CANCEL); reject(ac.signal.reason); }, { once: true });
      });
      s.resume();
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const sessions = [...this.pool.values()].map((p) => p.session?.then((s) => s.destroy(), () => {}));
    this.pool.clear();
    await Promise.all(sessions);
    if (this.server) {
      const server = this.server;
      for (const session of this.serverSessions) session.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }
}
