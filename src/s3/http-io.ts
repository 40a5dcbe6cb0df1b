/**
 * The HTTP/1.1 side of answering through node:http: the request's headers read once from the raw
 * list, and answers written out (a body streamed with backpressure, or whole when node:http no
 * longer writes to the connection).
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import { releaseIfHandedOn } from "../util/chunks.ts";
import type { S3Response } from "./respond.ts";

/** The headers every answer carries: its request id (S3's two names for it) and the server's name. */
export function identityHeaders(requestId: string): Record<string, string> {
  return { "x-amz-request-id": requestId, "x-amz-id-2": requestId, server: "s3d" };
}

/** A whole response, status line to body, for a connection node:http no longer writes to; it closes it. */
export function rawResponse(status: number, headers: Record<string, string>, body: string): string {
  const all = { ...headers, "content-length": String(Buffer.byteLength(body)), connection: "close", date: new Date().toUTCString() };
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${Object.entries(all).map(([name, value]) => `${name}: ${value}\r\n`).join("")}\r\n${body}`;
}

export function hasBody(headers: Record<string, string>): boolean {
  const length = headers["content-length"];
  return (length !== undefined && length !== "0") || headers["transfer-encoding"] !== undefined;
}

/**
 * The request's headers with lowercase names, a repeated header's values joined by ",", in an
 * object without a prototype (a header named "constructor" or "__proto__" is just a header), and
 * the size of the header section. Read from the raw list once: node's own `headers` object is
 * never built.
 */
export function headersOf(incoming: IncomingMessage): { headers: Record<string, string>; headerBytes: number } {
  const headers: Record<string, string> = Object.create(null);
  const raw = incoming.rawHeaders;
  let headerBytes = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    headerBytes += name.length + value.length + 4;
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  return { headers, headerBytes };
}

/**
 * Writes the response, streaming a body with backpressure; returns the body bytes sent. Each piece
 * the socket takes re-arms its idle timer, which Bun's sockets arm from incoming bytes only: a
 * download still flowing after `idleTimeoutMs` was cut, and one the client stopped reading still is.
 */
export async function send(outgoing: ServerResponse, response: S3Response, requestId: string, idleTimeoutMs: number): Promise<number> {
  const headers: Record<string, string> = { ...response.headers, ...identityHeaders(requestId) };
  const { body } = response;
  if (body === undefined || typeof body === "string" || body instanceof Uint8Array) {
    const bytes = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body) : body;
    // (a 204 or 304 carries no Content-Length: RFC 9110 §8.6 forbids it, or any but the 200's)
    const bodiless = response.status === 204 || response.status === 304;
    if (!bodiless && (bytes !== undefined || headers["content-length"] === undefined)) headers["content-length"] = String(bytes?.length ?? 0);
    outgoing.writeHead(response.status, headers);
    outgoing.end(bytes);
    return bytes?.length ?? 0;
  }
  outgoing.writeHead(response.status, headers);
  let sent = 0;
  const reader = body.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      if (outgoing.destroyed) throw new Error("connection closed");
      sent += value.length;
      // (a chunk its stream handed on goes back to the allocator once the socket is done with it)
      if (!outgoing.write(value, () => releaseIfHandedOn(value))) await drained(outgoing);
      outgoing.socket?.setTimeout(idleTimeoutMs);
    }
    outgoing.end();
  } catch {
    // The client went away or the store failed mid-body: the length cannot be honoured, so the
    // connection is cut rather than ending the body short as if complete.
    await reader.cancel().catch(() => {});
    outgoing.destroy();
  }
  return sent;
}

/**
 * The stream with its first piece already read: a body that cannot even begin (its blob missing,
 * its first fragment failing to open) fails while an error can still be answered. Once the head
 * is written only a cut connection can say so, and Bun answers a response destroyed before its
 * first byte with a bare "200 OK" that clients take for a whole, empty body.
 */
export async function begun(body: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>> {
  const reader = body.getReader();
  let first: Awaited<ReturnType<typeof reader.read>>;
  try {
    first = await reader.read();
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.done) controller.close();
      else controller.enqueue(first.value);
    },
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** Resolves when the response can take more; rejects once its connection is gone, even if it went before. */
function drained(outgoing: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    if (outgoing.destroyed || outgoing.socket === null || outgoing.socket.destroyed) return reject(new Error("connection closed"));
    const onDrain = () => { cleanup(); resolve(); };
    const onClose = () => { cleanup(); reject(new Error("connection closed")); };
    const cleanup = () => { outgoing.off("drain", onDrain); outgoing.off("close", onClose); };
    outgoing.on("drain", onDrain);
    outgoing.on("close", onClose);
  });
}
