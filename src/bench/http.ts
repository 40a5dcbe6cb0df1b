/**
 * Two HTTP/1.1 clients behind one small interface, so the generator can use whichever is faster
 * under Bun (measured: see bench/RESULTS.md): node:http with a keep-alive Agent, or fetch.
 * Request bodies are passed as given (subarrays of the content pattern, never copied here);
 * response bodies go chunk by chunk to a sink, so a 64 MiB GET is never held whole.
 */
import http from "node:http";

export type ClientKind = "node" | "fetch";
export const clientKinds: readonly ClientKind[] = ["node", "fetch"];

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

export function createClient(kind: ClientKind, endpoint: URL, connections: number): HttpClient {
  return kind === "node" ? new NodeClient(endpoint, connections) : new FetchClient(endpoint);
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
          const stream = req.sink !== undefined && status >= 200 && status < 300;
          const parts: Buffer[] = [];
          let bodyBytes = 0;
          res.on("data", (chunk: Buffer) => {
            bodyBytes += chunk.length;
            if (stream) req.sink!(chunk);
            else if (bodyBytes <= collectedBodyBytesMax) parts.push(chunk);
          });
          res.on("end", () => {
            resolve({
              status,
              header: (name) => {
                const value = res.headers[name];
                return Array.isArray(value) ? value.join(",") : value;
              },
              text: stream ? "" : Buffer.concat(parts).toString("utf8"),
              bodyBytes,
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
    const status = res.status;
    const stream = req.sink !== undefined && status >= 200 && status < 300;
    let bodyBytes = 0;
    let text = "";
    if (res.body !== null) {
      if (stream) {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          bodyBytes += chunk.length;
          req.sink!(chunk);
        }
      } else {
        const bytes = new Uint8Array(await res.arrayBuffer());
        bodyBytes = bytes.length;
        text = new TextDecoder().decode(bytes.subarray(0, collectedBodyBytesMax));
      }
    }
    return { status, header: (name) => res.headers.get(name) ?? undefined, text, bodyBytes };
  }

  close(): void {}
}
