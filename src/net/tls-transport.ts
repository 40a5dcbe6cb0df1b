/**
 * The "tls" transport (the default): s3d's own multiplexing (tls-wire.ts) over a small pool of
 * mutually authenticated TLS connections per peer, on Bun's native sockets (Bun.connect /
 * Bun.listen). Bun's node:http2 was the bound of the "h2" transport (it alone reaches about half
 * of what TLS carries here); this one pays for TLS, its frames and the body checks, and little else.
 *
 * The server's certificate must name the node we dialled; the dialler says who it is in its Hello
 * and the server checks that against the certificate it verified. Connections are made on demand
 * with bounded retries and backoff, and closed when idle.
 */
import type { Socket, TCPSocketListener } from "bun";
import { X509Certificate } from "node:crypto";
import { waitToRetry } from "./backoff.ts";
import { classifyConnectError } from "./h2-wire.ts";
import { Conn, type ConnOwner, reasonError } from "./tls-conn.ts";
import { listenTls } from "./tls-server.ts";
import { decodeHello, decodeReason, decodeReply, encodeCall, encodeHello, flagBody, flagMessage, Frame, frame, statusOk } from "./tls-wire.ts";
import {
  bodyIdleTimeoutMs, type CallOptions, type CallReply, type CallRequest, callDeadlineMs, checkMessage, checkMethod,
  CallGuard, connectionIdleTimeoutMs, decodeHeader, encodeHeader, type Header, type MtlsTransportOptions, type NodeId,
  type PeerAddress, sendBounded, type Transport, TransportError,
} from "./transport.ts";

export type { PeerAddress } from "./transport.ts";

/**
 * Connections per peer; calls are spread over them round-robin (uploads stay on the first). One
 * by default: with two, small calls gain 21-50 % when the peer is another process (the two ends
 * no longer wait on each other's batches) but 1 MiB bodies lose up to 30 % (measured:
 * docs/transport.md), and shard traffic is bodies.
 */
export const connectionsPerPeer = 1;
export interface TlsTransportOptions extends MtlsTransportOptions {
  connectionsPerPeer?: number;
}

interface Slot { conn?: Conn; pending?: Promise<Conn> }
interface Peer { calls: number; messages: number; slots: Slot[]; next: number }
/** A dial in progress: settled by the Hello (or its failure). */
interface Dial { to: NodeId; resolve(c: Conn): void; reject(e: TransportError): void; error?: TransportError }

export class TlsTransport implements Transport {
  readonly self: NodeId;
  private listener?: TCPSocketListener<Conn>;
  private readonly serverConns = new Set<Conn>();
  private readonly pool = new Map<NodeId, Peer>();
  private readonly dials = new WeakMap<Conn, Dial>();
  private closed = false;
  private caCert: X509Certificate | undefined;
  private readonly idleMs: number;
  private readonly poolSize: number;
  messagesDropped = 0;

  private constructor(private readonly o: TlsTransportOptions) {
    this.self = o.self;
    this.idleMs = o.bodyIdleTimeoutMs ?? bodyIdleTimeoutMs;
    this.poolSize = Math.max(1, o.connectionsPerPeer ?? connectionsPerPeer);
  }

  static async start(o: TlsTransportOptions): Promise<TlsTransport> {
    const t = new TlsTransport(o);
    if (o.handlers && o.listen) {
      const { cert, key, ca } = o.tls;
      if (!cert || !key) throw new TransportError("refused", "a serving node needs a certificate and key");
      t.listener = listenTls({
        self: o.self, host: o.listen.host, port: o.listen.port, tls: { ca, cert, key },
        isMember: (id) => id === o.self || o.peers.has(id),
        handlers: o.handlers,
        bodyIdleTimeoutMs: t.idleMs,
      }, t.serverConns);
    }
    return t;
  }

  /** The bound address (port 0 in the options means "any free port"). */
  get address(): PeerAddress | undefined {
    return this.listener ? { host: this.listener.hostname, port: this.listener.port } : undefined;
  }

  private peer(id: NodeId): Peer {
    let p = this.pool.get(id);
    if (!p) this.pool.set(id, (p = { calls: 0, messages: 0, slots: [], next: 0 }));
    return p;
  }

  private readonly owner: ConnOwner = {
    control: (conn, type, _flags, stream, payload) => {
      if (type === Frame.Reply) return conn.streams.get(stream)?.onReply?.(payload);
      const dial = this.dials.get(conn);
      if (type === Frame.Hello && dial) {
        const hello = decodeHello(payload);
        // The server checked the certificate's CN; what is left to check is that it speaks this format.
        if ("refused" in hello) return conn.fail((dial.error = new TransportError("refused", `server ${dial.to}: ${hello.refused}`)));
        conn.peerId = dial.to;
        this.dials.delete(conn);
        return dial.resolve(conn);
      }
      if (type === Frame.GoAway) {
        const r = decodeReason(payload);
        return conn.fail(reasonError(r.code, r.message));
      }
      conn.fail(new TransportError("corrupt", `protocol violation: frame type ${type} from the server`));
    },
    closed: (conn, why) => {
      const dial = this.dials.get(conn);
      if (dial) {
        this.dials.delete(conn);
        // A close before the Hello answer: a TLS or Hello refusal, or the server died.
        dial.reject(dial.error ?? (why.code === "refused" ? why : new TransportError("unreachable", why.message)));
      }
      const p = conn.peerId ? this.pool.get(conn.peerId) : undefined;
      for (const s of p?.slots ?? []) if (s.conn === conn) s.conn = undefined;
    },
  };

  private dial(to: NodeId, timeoutMs: number): Promise<Conn> {
    const addr = this.o.peers.get(to);
    if (!addr) return Promise.reject(new TransportError("unreachable", `no address for node ${to}`));
    const { ca, cert, key } = this.o.tls;
    const caCert = (this.caCert ??= new X509Certificate(ca));
    const owner = this.owner;
    const dials = this.dials;
    const self = this.self;
    const idleSeconds = Math.ceil((this.o.connectionIdleTimeoutMs ?? connectionIdleTimeoutMs) / 1000);
    return new Promise<Conn>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => fail(new TransportError("unreachable", `connect to ${to} timed out`)), timeoutMs);
      const fail = (e: TransportError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(e);
      };
      const dial: Dial = {
        to,
        resolve: (c) => {
          if (settled) return c.fail(new TransportError("closed", "connected too late"));
          settled = true;
          clearTimeout(timer);
          resolve(c);
        },
        reject: fail,
      };
      Bun.connect<Conn>({
        hostname: addr.host,
        port: addr.port,
        tls: {
          ca, cert, key,
          ...(addr.host === "127.0.0.1" ? {} : { serverName: addr.host }),
          // Enforced in handshake(): Bun would also refuse an address missing from the certificate's
          // names, which h2 does not require (a node is known by its CN, checked there).
          rejectUnauthorized: false,
        },
        socket: {
          open(socket: Socket<Conn>) {
            socket.data = new Conn(socket, owner);
            dials.set(socket.data, dial);
            socket.timeout(idleSeconds);
          },
          handshake(socket, success, authorizationError) {
            const conn = socket.data;
            const cn = socket.getPeerCertificate()?.subject?.CN;
            const why = serverCertificateProblem(success, authorizationError, socket.getPeerCertificate()?.raw, caCert);
            if (why) {
              dial.error = new TransportError("refused", `server certificate: ${why}`);
              return conn.fail(dial.error);
            }
            // The server must be the node we meant to reach, not just any cluster member.
            if (cn !== to) {
              dial.error = new TransportError("refused", `certificate names ${cn}, expected node ${to}`);
              return conn.fail(dial.error);
            }
            conn.send(frame(Frame.Hello, 0, encodeHello(self)));
          },
          data: (socket, chunk) => socket.data.onData(chunk),
          drain: (socket) => socket.data.onDrain(),
          timeout(socket) {
            if (socket.data.streams.size === 0) socket.data.fail(new TransportError("closed", "idle connection"));
            else socket.timeout(idleSeconds);
          },
          close: (socket) => socket.data?.fail(new TransportError("reset", `connection to ${to} closed`)),
          error(socket, e) {
            const err = classifyConnectError(e);
            if (dials.has(socket.data)) dial.error ??= err;
            socket.data?.fail(new TransportError(err.code === "refused" ? "refused" : "reset", e.message));
          },
          connectError: (_socket, e) => fail(classifyConnectError(e)),
        },
      }).catch((e: Error) => fail(classifyConnectError(e)));
    });
  }

  /**
   * A live connection to `to`, dialling with bounded retries if it has none: the next slot of the
   * pool, or the first one for a call that uploads a body (spreading uploads over two connections
   * halves their write batches: -13 to -17 % in two processes, where small calls gain from a
   * second connection).
   */
  private connection(to: NodeId, guard: CallGuard, uploads: boolean): Conn | Promise<Conn> {
    const p = this.peer(to);
    const slot = (p.slots[uploads ? 0 : p.next++ % this.poolSize] ??= {});
    if (slot.conn && !slot.conn.isClosed) return slot.conn;
    return this.redial(to, slot, guard.deadlineAt, guard.signal);
  }

  private async redial(to: NodeId, slot: Slot, deadlineAt: number, signal: AbortSignal): Promise<Conn> {
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw signal.reason;
      if (!slot.pending) {
        const pending = this.dial(to, Math.max(1, deadlineAt - performance.now()));
        slot.pending = pending;
        pending.then((c) => {
          if (this.closed) c.fail(new TransportError("closed", `${this.self} is closed`));
          else if (!c.isClosed) slot.conn = c;
        }, () => {}).finally(() => { if (slot.pending === pending) slot.pending = undefined; });
      }
      try {
        const c = await slot.pending;
        if (!c.isClosed) return c;
      } catch (e) {
        const err = e instanceof TransportError ? e : classifyConnectError(e as Error);
        if (err.code === "refused" || err.code === "closed") throw err;
        await waitToRetry(attempt, this.o.random ?? Math.random, deadlineAt, err);
      }
    }
  }

  call(to: NodeId, method: string, request: CallRequest = {}, options: CallOptions = {}): Promise<CallReply> {
    if (this.closed) return Promise.reject(new TransportError("closed", `${this.self} is closed`));
    checkMethod(method);
    return this.exchange(this.peer(to), to, method, request, options, 0);
  }

  /**
   * One stream: the call head, the request body (if any) sent under credit, the reply head, and
   * the reply body handed to the caller. Calls and one-way messages both travel this way.
   */
  private async exchange(
    inFlight: { calls: number }, to: NodeId, method: string, request: CallRequest, options: CallOptions, flags: number,
  ): Promise<CallReply> {
    const guard = new CallGuard(inFlight, to, method, options);
    const { abort, deadlineAt } = guard;
    const done = () => void guard.release();
    try {
      const c = this.connection(to, guard, !!request.body);
      const conn = c instanceof Conn ? c : await c;
      if (guard.reason) throw guard.reason;
      if (conn.isClosed) throw new TransportError("reset", `connection to ${to} closed`);
      const s = conn.open();
      const headerJson = encodeHeader(request.header ?? {});
      conn.send(frame(Frame.Call, s.id, encodeCall({
        deadlineMs: Math.max(1, deadlineAt - performance.now()),
        flags: flags | (request.body ? flagBody : 0),
        method, headerJson,
      })));
      const reply = new Promise<CallReply>((resolve, reject) => {
        s.onFail = reject;
        // Synchronous: DATA frames may follow the Reply in the same socket read.
        s.onReply = (payload) => {
          s.onReply = undefined;
          s.onFail = undefined;
          try {
            const r = decodeReply(payload);
            if (!r) throw new TransportError("corrupt", "reply without a valid head");
            if (r.status !== statusOk) throw new TransportError("remote", r.text);
            const header = decodeHeader(r.text);
            if (!(r.flags & flagBody)) {
              s.done("remote");
              done();
              return resolve({ header });
            }
            const body = s.receiveBody(this.idleMs, {
              onCancel: () => abort("cancelled", "reply body cancelled"),
              onEnd: done,
            });
            resolve({ header, body: body.stream });
          } catch (e) {
            s.fail(e instanceof TransportError ? e : new TransportError("corrupt", (e as Error).message), true);
            reject(e);
          }
        };
      });
      guard.onAbort = (why) => s.fail(why);
      if (request.body) {
        s.sendBody(request.body, this.idleMs).then(() => s.done("local"), (e: unknown) => {
          abort(e instanceof TransportError ? e.code : "reset", e instanceof Error ? e.message : String(e));
        });
      } else {
        s.done("local");
      }
      return await reply;
    } catch (e) {
      done();
      if (e instanceof TransportError) throw e;
      throw classifyConnectError(e as Error);
    }
  }

  send(to: NodeId, method: string, header: Header = {}, payload?: Uint8Array): void {
    if (this.closed) return;
    checkMessage(method, payload);
    const p = this.peer(to);
    // Messages have their own bound (sendBounded), so they take no call slots.
    const inFlight = { calls: 0 };
    sendBounded(p, async () => {
      const body = payload ? new Blob([payload]).stream() : undefined;
      await this.exchange(inFlight, to, method, { header, body }, { deadlineMs: callDeadlineMs }, flagMessage);
    }, () => {
      this.messagesDropped++;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const why = new TransportError("closed", `${this.self} is closed`);
    for (const p of this.pool.values()) {
      for (const s of p.slots) {
        s.conn?.fail(why);
        s.pending?.then((c) => c.fail(why), () => {});
      }
    }
    this.pool.clear();
    for (const c of [...this.serverConns]) c.fail(why);
    this.listener?.stop(true);
  }
}

/**
 * Why the server's certificate is not acceptable, or undefined if it is. A chain Bun verified is
 * fine; so is one it refused only because the dialled address is not among the certificate's
 * names, once we have checked ourselves that the cluster CA signed it and it is in date. Anything
 * else is refused.
 */
function serverCertificateProblem(
  success: boolean, error: (Error & { code?: string }) | null, raw: Buffer | undefined, ca: X509Certificate,
): string | undefined {
  if (success && !error) return undefined;
  if (error?.code !== "ERR_TLS_CERT_ALTNAME_INVALID") return error?.message ?? "not verified";
  if (!raw) return "no certificate";
  const leaf = new X509Certificate(raw);
  const now = Date.now();
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return "not signed by the cluster CA";
  if (now < Date.parse(leaf.validFrom) || now > Date.parse(leaf.validTo)) return "out of date";
  return undefined;
}
