/**
 * Three HTTP/1.1 clients behind one small interface, so the generator can use whichever is
 * cheapest under Bun (measured: see bench/RESULTS.md): s3d's own over Bun's TCP sockets,
 * node:http with a keep-alive Agent, or fetch.
 * Request bodies are passed as given (subarrays of the content pattern, never copied here);
 * response bodies go chunk by chunk to a sink, so a 64 MiB GET is never held whole.
 */
import http from "node:http";
import type { Socket } from "bun";
import { ResponseParser, type ResponseHead } from "./http-response.ts";

export type ClientKind = "socket" | "node" | "fetch";
export const clientKinds: readonly ClientKind[] = ["socket", "node", "fetch"];

export interface HttpRequest {
  method: string;
  /** path and query, already encoded */
  target: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** receives a 2xx body chunk by chunk; without one, the body is collected as text */
  sink?: (chunk: Uint8Array) => void;
}

export interface HttpResponse {
  status: number;
  header(name: string): string | undefined;
  /** the body as text when it was collected (no sink, or a non-2xx answer), else "" */
  text: string;
  bodyBytes: number;
}

export interface HttpClient {
  readonly kind: ClientKind;
  request(req: HttpRequest): Promise<HttpResponse>;
  close(): void;
}

/** Collected (non-streamed) bodies are XML documents: errors, listings, upload ids. */
const collectedBodyBytesMax = 16 * 1024 * 1024;

/**
 * A response body as every client receives it: a 2xx body of a request with a sink goes to the
 * sink chunk by chunk; any other is collected, its first `collectedBodyBytesMax` bytes, as text.
 */
class ResponseBody {
  bytes = 0;
  private readonly streamed: boolean;
  private readonly parts: Uint8Array[] = [];

  constructor(private readonly sink: ((chunk: Uint8Array) => void) | undefined, status: number) {
    this.streamed = sink !== undefined && status >= 200 && status < 300;
  }

  /** A collected chunk is copied: the caller may reuse its memory. */
  add(chunk: Uint8Array): void {
    if (this.streamed) this.sink!(chunk);
    else if (this.bytes < collectedBodyBytesMax) this.parts.push(new Uint8Array(chunk.subarray(0, collectedBodyBytesMax - this.bytes)));
    this.bytes += chunk.length;
  }

  /** The collected body ("" for a streamed one). */
  text(): string {
    return Buffer.concat(this.parts).toString("utf8");
  }
}

export function createClient(kind: ClientKind, endpoint: URL, connections: number): HttpClient {
  if (kind === "socket") return new SocketClient(endpoint, connections);
  return kind === "node" ? new NodeClient(endpoint, connections) : new FetchClient(endpoint);
}

/**
 * Keep-alive connections over Bun's TCP sockets, one request at a time on each: the request head
 * is one string, a body up to `coalescedBodyBytesMax` goes out in the same write, a larger one is
 * written from the caller's buffer as the socket takes it. Responses go through ResponseParser.
 */
class SocketClient implements HttpClient {
  readonly kind = "socket" as const;
  private readonly idle: Connection[] = [];
  /** requests waiting for a connection: woken one at a time as connections come back */
  private readonly waiting: (() => void)[] = [];
  private open = 0;
  private closed = false;

  constructor(private readonly endpoint: URL, private readonly connections: number) {}

  async request(req: HttpRequest): Promise<HttpResponse> {
    const connection = await this.acquire();
    try {
      return await connection.exchange(req);
    } finally {
      this.release(connection);
    }
  }

  close(): void {
    this.closed = true;
    for (const connection of this.idle.splice(0)) connection.destroy();
    for (const wake of this.waiting.splice(0)) wake();
  }

  private async acquire(): Promise<Connection> {
    for (;;) {
      if (this.closed) throw new Error("client closed");
      for (let idle = this.idle.pop(); idle !== undefined; idle = this.idle.pop()) {
        if (idle.reusable) return idle;
        // The server closed it while it was idle (its keep-alive timeout).
        idle.destroy();
        this.open--;
      }
      if (this.open < this.connections) {
        this.open++;
        try {
          return await Connection.open(this.endpoint);
        } catch (error) {
          this.open--;
          throw error;
        }
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private release(connection: Connection): void {
    if (connection.reusable && !this.closed) {
      this.idle.push(connection);
    } else {
      connection.destroy();
      this.open--;
    }
    this.waiting.shift()?.();
  }
}

/** Where a socket for `endpoint` connects: an IPv6 literal without its URL brackets, the scheme's port by default. */
export function socketAddressOf(endpoint: URL): { hostname: string; port: number; tls: boolean } {
  const tls = endpoint.protocol === "https:";
  return { hostname: endpoint.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(endpoint.port || (tls ? 443 : 80)), tls };
}

/** Bodies up to this size are sent in the same write as the request head. */
const coalescedBodyBytesMax = 64 * 1024;

class Connection {
  private readonly parser: ResponseParser;
  private head: ResponseHead | undefined;
  private sink: ((chunk: Uint8Array) => void) | undefined;
  private body: ResponseBody | undefined;
  private settle: { resolve: (res: HttpResponse) => void; reject: (error: Error) => void } | undefined;
  /** bytes of the request the socket has not taken yet, in order: they go out as it drains */
  private unsent: Uint8Array[] = [];
  private broken = false;

  private constructor(private readonly socket: Socket<Connection | undefined>, private readonly host: string) {
    this.parser = new ResponseParser(
      (head) => {
        this.head = head;
        this.body = new ResponseBody(this.sink, head.status);
      },
      (chunk) => this.body!.add(chunk),
      () => this.onEnd(),
    );
  }

  static async open(endpoint: URL): Promise<Connection> {
    const { hostname, port, tls } = socketAddressOf(endpoint);
    // Bun.connect resolves before a TLS handshake ends; a request waits for it, and a refused
    // certificate rejects with its own code (DEPTH_ZERO_SELF_SIGNED_CERT, ...).
    let handshake: { resolve: () => void; reject: (error: Error) => void } | undefined;
    const shaken = new Promise<void>((resolve, reject) => (handshake = { resolve, reject }));
    shaken.catch(() => {}); // awaited only for TLS; a plain socket that closes early must not leave it unhandled
    const unshaken = (error: Error | undefined) => handshake?.reject(error ?? Object.assign(new Error("connection closed during the TLS handshake"), { code: "ECONNRESET" }));
    const socket = await Bun.connect<Connection | undefined>({
      hostname,
      port,
      // Certificates are checked as fetch checks them (system CAs, NODE_EXTRA_CA_CERTS).
      tls,
      data: undefined,
      socket: {
        handshake: (_, success, error) => (success ? handshake?.resolve() : unshaken(error ?? undefined)),
        data: (s, bytes) => s.data?.onData(bytes),
        drain: (s) => s.data?.onDrain(),
        end: (s) => s.data?.onClose(undefined),
        close: (s, error) => (s.data ? s.data.onClose(error) : unshaken(error)),
        error: (s, error) => (s.data ? s.data.onClose(error) : unshaken(error)),
      },
    });
    if (tls) {
      await shaken.catch((error: Error) => {
        socket.terminate();
        throw error;
      });
    }
    socket.setNoDelay(true);
    const connection = new Connection(socket, endpoint.host);
    socket.data = connection;
    return connection;
  }

  get reusable(): boolean {
    return !this.broken && this.parser.idle && this.head?.closes !== true;
  }

  exchange(req: HttpRequest): Promise<HttpResponse> {
    if (this.broken) return Promise.reject(new Error("connection closed"));
    this.head = undefined;
    this.body = undefined;
    this.sink = req.sink;
    this.parser.expect(req.method === "HEAD");
    const body = req.body ?? new Uint8Array(0);
    let text = `${req.method} ${req.target} HTTP/1.1\r\nhost: ${this.host}\r\ncontent-length: ${body.length}\r\n`;
    for (const name in req.headers) text += `${name}: ${req.headers[name]}\r\n`;
    text += "\r\n";
    const promise = new Promise<HttpResponse>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    const headBytes = Buffer.from(text, "latin1");
    if (body.length <= coalescedBodyBytesMax) {
      const whole = new Uint8Array(headBytes.length + body.length);
      whole.set(headBytes);
      whole.set(body, headBytes.length);
      this.unsent = [whole];
    } else {
      this.unsent = [headBytes, body];
    }
    this.flush();
    return promise;
  }

  destroy(): void {
    this.broken = true;
    this.socket.data = undefined;
    this.socket.terminate();
  }

  /** Writes as much of the request as the socket takes now; `onDrain` calls again for the rest. */
  private flush(): void {
    while (this.unsent.length > 0) {
      const bytes = this.unsent[0];
      const written = this.socket.write(bytes);
      if (written < 0) return this.fail(Object.assign(new Error("connection closed while writing"), { code: "ECONNRESET" }));
      if (written < bytes.length) {
        this.unsent[0] = bytes.subarray(written);
        return;
      }
      this.unsent.shift();
    }
  }

  onDrain(): void {
    this.flush();
  }

  onData(bytes: Uint8Array): void {
    if (this.settle === undefined) {
      // Bytes with no request in flight: the server is not speaking HTTP/1.1 as expected.
      this.broken = true;
      return;
    }
    try {
      this.parser.push(bytes);
    } catch (error) {
      this.fail(error as Error);
    }
  }

  onClose(error: Error | undefined): void {
    const wasBroken = this.broken;
    this.broken = true;
    if (this.settle === undefined || wasBroken) return;
    try {
      this.parser.close();
    } catch (cut) {
      this.fail(Object.assign(error ?? (cut as Error), { code: (error as { code?: string } | undefined)?.code ?? "ECONNRESET" }));
    }
  }

  private onEnd(): void {
    const head = this.head!;
    const body = this.body!;
    const settle = this.settle!;
    this.settle = undefined;
    // An answer before the whole body was sent (an early error): the rest cannot follow on this connection.
    if (this.unsent.length > 0) this.broken = true;
    this.unsent = [];
    this.body = undefined;
    settle.resolve({ status: head.status, header: (name) => head.headers.get(name), text: body.text(), bodyBytes: body.bytes });
  }

  private fail(error: Error): void {
    this.broken = true;
    const settle = this.settle;
    this.settle = undefined;
    this.unsent = [];
    this.socket.terminate();
    settle?.reject(error);
  }
}

class NodeClient implements HttpClient {
  readonly kind = "node" as const;
  private readonly agent: http.Agent;
  constructor(private readonly endpoint: URL, connections: number) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  }

  request(req: HttpRequest): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...req.headers, "content-length": String(req.body?.length ?? 0) };
      const outgoing = http.request(
        {
          agent: this.agent,
          host: this.endpoint.hostname,
          port: this.endpoint.port,
          method: req.method,
          path: req.target,
          headers,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const body = new ResponseBody(req.sink, status);
          res.on("data", (chunk: Buffer) => body.add(chunk));
          res.on("end", () => {
            resolve({
              status,
              header: (name) => {
                const value = res.headers[name];
                return Array.isArray(value) ? value.join(",") : value;
              },
              text: body.text(),
              bodyBytes: body.bytes,
            });
          });
          res.on("error", reject);
          res.on("aborted", () => reject(new Error("response aborted")));
        },
      );
      outgoing.on("error", reject);
      outgoing.end(req.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

class FetchClient implements HttpClient {
  readonly kind = "fetch" as const;
  private readonly origin: string;
  constructor(endpoint: URL) {
    this.origin = endpoint.origin;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const res = await fetch(this.origin + req.target, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      redirect: "manual",
      decompress: false,
    } as RequestInit);
    const body = new ResponseBody(req.sink, res.status);
    if (res.body !== null) for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) body.add(chunk);
    return { status: res.status, header: (name) => res.headers.get(name) ?? undefined, text: body.text(), bodyBytes: body.bytes };
  }

  close(): void {}
}
