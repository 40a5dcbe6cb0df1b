/**
 * The serving half of the HTTP/2 transport: a TLS server that demands a client certificate
 * signed by the cluster CA, takes the caller's node id from the certificate CN, and serves only
 * known nodes.
 */
import http2 from "node:http2";
import type { TLSSocket } from "node:tls";
import { readAll } from "./body.ts";
import {
  callPathPrefix, hCall, hError, hErrorCode, messagePathPrefix, packHead, unpackHead,
  NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, readFramed, streamsPerConnectionMax, streamWindowBytes, writeFramed,
} from "./h2-wire.ts";
import {
  callDeadlineMs, decodeHeader, encodeHeader, failureCode, messageBytesMax, methodPattern, type NodeId,
  TransportError, type TransportHandlers,
} from "./transport.ts";

export interface H2ServerOptions {
  tls: { ca: string | Buffer; cert: string | Buffer; key: string | Buffer };
  /** Node ids allowed to call (the cluster's members). */
  isMember(id: NodeId): boolean;
  handlers: TransportHandlers;
  bodyIdleTimeoutMs: number;
}

const peerIds = new WeakMap<object, NodeId | null>();

function callerOf(session: http2.ServerHttp2Session, isMember: (id: NodeId) => boolean): NodeId | null {
  let id = peerIds.get(session);
  if (id === undefined) {
    const sock = session.socket as TLSSocket;
    const cn = sock.authorized ? sock.getPeerCertificate()?.subject?.CN : undefined;
    id = typeof cn === "string" && isMember(cn) ? cn : null;
    peerIds.set(session, id);
  }
  return id;
}

export function createH2Server(o: H2ServerOptions): http2.Http2SecureServer {
  const server = http2.createSecureServer({
    ...o.tls,
    requestCert: true,
    rejectUnauthorized: true,
    allowHTTP1: false,
    settings: { initialWindowSize: streamWindowBytes, maxConcurrentStreams: streamsPerConnectionMax },
  });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {}); // surfaced through 'close' and the body adapters
    void serveStream(o, stream as http2.ServerHttp2Stream, headers).catch(() => {
      if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR);
    });
  });
  return server;
}

function refuse(stream: http2.ServerHttp2Stream, status: number, code: string, message: string): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ":status": status, [hErrorCode]: code, [hError]: encodeURIComponent(message) }, { endStream: true });
}

async function serveStream(o: H2ServerOptions, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) {
  const from = callerOf(stream.session as http2.ServerHttp2Session, o.isMember);
  if (!from) return refuse(stream, 403, "refused", "caller is not a cluster member");
  const path = String(headers[":path"] ?? "");
  const isMessage = path.startsWith(messagePathPrefix);
  const method = path.slice(isMessage ? messagePathPrefix.length : callPathPrefix.length);
  if ((!isMessage && !path.startsWith(callPathPrefix)) || !methodPattern.test(method)) {
    return refuse(stream, 404, "remote", `no such path ${path}`);
  }
  const head = unpackHead(headers[hCall], true);
  if (!head) return refuse(stream, 400, "remote", "request without a valid head");
  const header = decodeHeader(head.header);
  const body = head.hasBody ? readFramed(stream, o.bodyIdleTimeoutMs) : undefined;

  if (isMessage) {
    const payload = body ? await readAll(body, messageBytesMax) : undefined;
    stream.respond({ ":status": 204 }, { endStream: true });
    o.handlers.message?.({ from, method, header, payload });
    return;
  }

  const ac = new AbortController();
  const deadlineMs = Math.min(head.deadlineMs > 0 ? head.deadlineMs : callDeadlineMs, callDeadlineMs * 100);
  const timer = setTimeout(() => ac.abort(new TransportError("deadline", "call deadline passed")), deadlineMs);
  const onGone = () => {
    clearTimeout(timer);
    if (!ac.signal.aborted && !stream.writableFinished) ac.abort(new TransportError("cancelled", "caller went away"));
  };
  stream.on("close", onGone);
  stream.on("aborted", onGone);
  try {
    const reply = await o.handlers.call({ from, method, header, body, signal: ac.signal });
    if (stream.destroyed || stream.closed) {
      reply.body?.cancel().catch(() => {});
      return;
    }
    const h = { ":status": 200, [hCall]: packHead(undefined, !!reply.body, encodeHeader(reply.header ?? {})) };
    if (!reply.body) {
      stream.respond(h, { endStream: true });
      return;
    }
    stream.respond(h);
    await writeFramed(stream, reply.body, ac.signal, o.bodyIdleTimeoutMs);
  } catch (e) {
    if (stream.headersSent) {
      // Mid-body: reset, so the caller sees an error and never a short body.
      if (!stream.destroyed) stream.close(ac.signal.aborted ? NGHTTP2_CANCEL : NGHTTP2_INTERNAL_ERROR);
    } else {
      refuse(stream, 500, failureCode(ac.signal), e instanceof Error ? e.message : String(e));
    }
  } finally {
    clearTimeout(timer);
  }
}
