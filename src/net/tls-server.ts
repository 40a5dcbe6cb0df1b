/**
 * The serving half of the "tls" transport: a Bun TLS listener that demands a client certificate
 * from the cluster CA, takes the caller's node id from the certificate CN, checks it against the
 * id the caller claims in its Hello and against the membership, and only then serves streams.
 */
import type { Socket, TCPSocketListener } from "bun";
import { readAll } from "./body.ts";
import { Conn, type ConnOwner } from "./tls-conn.ts";
import { armDeadline, disarmDeadline } from "./deadlines.ts";
import { decodeCall, decodeHello, encodeHello, encodeReply, flagBody, flagMessage, Frame, frame, statusOk, statusRemote } from "./tls-wire.ts";
import {
  callDeadlineMs, decodeHeader, encodeHeader, LazyAbort, messageBytesMax, methodPattern, type NodeId, TransportError,
  type TransportHandlers,
} from "./transport.ts";

export interface TlsServerOptions {
  self: NodeId;
  host: string;
  port: number;
  tls: { ca: string | Buffer; cert: string | Buffer; key: string | Buffer };
  /** Node ids allowed to call (the cluster's members). */
  isMember(id: NodeId): boolean;
  handlers: TransportHandlers;
  bodyIdleTimeoutMs: number;
}

/** The certificate CN of a connection whose handshake verified, before its Hello arrives. */
const certIds = new WeakMap<Conn, string>();

export function listenTls(o: TlsServerOptions, conns: Set<Conn>): TCPSocketListener<Conn> {
  const owner: ConnOwner = {
    control: (conn, type, flags, stream, payload) => {
      if (type === Frame.Hello) return hello(o, conn, payload);
      if (!conn.peerId) return conn.goAway(new TransportError("refused", "no Hello from an authenticated node"));
      if (type === Frame.Call && stream !== 0 && !conn.streams.has(stream)) return serveCall(o, conn, stream, payload);
      if (type === Frame.Call) return conn.fail(new TransportError("corrupt", `protocol violation: stream ${stream} reused`));
      // Anything else from a caller is ignored: a late frame of a stream that is gone.
    },
    closed: (conn) => void conns.delete(conn),
  };
  return Bun.listen<Conn>({
    hostname: o.host,
    port: o.port,
    tls: { ...o.tls, requestCert: true, rejectUnauthorized: true },
    socket: {
      open(socket: Socket<Conn>) {
        socket.data = new Conn(socket, owner);
        conns.add(socket.data);
      },
      handshake(socket, success, authorizationError) {
        const cn = socket.getPeerCertificate()?.subject?.CN;
        // The listener already refuses an unverified client; this is the second lock on the door.
        if (!success || authorizationError || !socket.authorized || typeof cn !== "string") {
          socket.data.fail(new TransportError("refused", "client certificate not verified"));
          return;
        }
        certIds.set(socket.data, cn);
      },
      data: (socket, chunk) => socket.data.onData(chunk),
      drain: (socket) => socket.data.onDrain(),
      close: (socket) => socket.data?.fail(new TransportError("reset", "caller went away")),
      error: (socket, e) => socket.data?.fail(new TransportError("reset", e.message)),
    },
  });
}

function hello(o: TlsServerOptions, conn: Conn, payload: Uint8Array): void {
  const cn = certIds.get(conn);
  const claimed = decodeHello(payload);
  if (cn === undefined) return conn.goAway(new TransportError("refused", "no verified client certificate"));
  if ("refused" in claimed) return conn.goAway(new TransportError("refused", claimed.refused));
  if (claimed.id !== cn) return conn.goAway(new TransportError("refused", `certificate names ${cn}, caller claims ${claimed.id}`));
  if (!o.isMember(cn)) return conn.goAway(new TransportError("refused", `${cn} is not a cluster member`));
  conn.peerId = cn;
  conn.send(frame(Frame.Hello, 0, encodeHello(o.self)));
}

/** Serves one call (or one-way message). Synchronous up to the handler, so that DATA right behind the Call finds its stream. */
function serveCall(o: TlsServerOptions, conn: Conn, id: number, payload: Uint8Array): void {
  const s = conn.open(id);
  const head = decodeCall(payload);
  const reply = (status: number, flags: number, text: string) => conn.send(frame(Frame.Reply, id, encodeReply(status, flags, text)));
  let header;
  try {
    if (!head || !methodPattern.test(head.method)) throw new Error(`bad call head`);
    header = decodeHeader(head.headerJson);
  } catch (e) {
    s.fail(new TransportError("remote", (e as Error).message));
    return;
  }
  const call = new LazyAbort();
  const deadlineMs = Math.min(head.deadlineMs > 0 ? head.deadlineMs : callDeadlineMs, callDeadlineMs * 100);
  const deadline = armDeadline(deadlineMs, () => s.fail(new TransportError("deadline", "call deadline passed")));
  s.onFail = (e) => {
    disarmDeadline(deadline);
    call.abortWith(e.code === "deadline" || e.code === "idle" ? e : new TransportError("cancelled", `caller: ${e.message}`));
  };
  const body = head.flags & flagBody ? s.receiveBody(o.bodyIdleTimeoutMs).stream : undefined;
  if (!body) s.done("remote");
  const from = conn.peerId!;
  const method = head.method;

  void (async () => {
    let replied = false;
    try {
      if (head.flags & flagMessage) {
        const payload = body ? await readAll(body, messageBytesMax) : undefined;
        reply(statusOk, 0, "{}");
        replied = true;
        s.done("local");
        o.handlers.message?.({ from, method, header, payload });
        return;
      }
      const r = await o.handlers.call({ from, method, header, body, get signal() { return call.signal; } });
      if (s.failed) {
        r.body?.cancel().catch(() => {});
        return;
      }
      reply(statusOk, r.body ? flagBody : 0, encodeHeader(r.header ?? {}));
      replied = true;
      if (r.body) await s.sendBody(r.body, o.bodyIdleTimeoutMs);
      s.done("local");
      // A request body the handler never finished reading: tell the caller to stop sending it.
      if (conn.streams.has(id)) s.fail(new TransportError("cancelled", "reply complete; request body not read"));
    } catch (e) {
      if (s.failed) return;
      if (replied) {
        // Mid-body: reset, so the caller sees an error and never a short body.
        s.fail(e instanceof TransportError ? e : new TransportError("remote", (e as Error).message));
      } else {
        reply(statusRemote, 0, e instanceof Error ? e.message : String(e));
        s.done("local");
        if (conn.streams.has(id)) s.fail(new TransportError("cancelled", "call failed; request body not read"));
      }
    } finally {
      disarmDeadline(deadline);
    }
  })();
}
