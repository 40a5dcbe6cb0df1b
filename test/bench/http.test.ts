import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { clientKinds, createClient, socketAddressOf } from "../../src/bench/http.ts";

/** A node:http server: PUT answers with the SHA-256 of what it received, GET /stream?bytes=N streams N bytes chunked. */
function startHashServer(): Promise<{ url: URL; connections: () => number; close: () => void }> {
  let connections = 0;
  const server = http.createServer((req, res) => {
    const hash = createHash("sha256");
    let received = 0;
    req.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      received += chunk.length;
    });
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname === "/stream") {
        // No content-length: node:http sends it chunked, in pieces of the sizes written.
        res.writeHead(200, { "x-received": String(received) });
        const total = Number(url.searchParams.get("bytes"));
        for (let at = 0; at < total; at += 100_000) res.write(pattern(at, Math.min(100_000, total - at)));
        res.end();
        return;
      }
      if (url.pathname === "/close") res.setHeader("connection", "close");
      res.writeHead(url.pathname === "/missing" ? 404 : 200, { "x-sha256": hash.digest("hex"), "x-received": String(received) });
      res.end(url.pathname === "/missing" ? "<Error><Code>NoSuchKey</Code></Error>" : "done");
    });
  });
  server.on("connection", () => connections++);
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port;
      resolve({ url: new URL(`http://127.0.0.1:${port}`), connections: () => connections, close: () => server.close() });
    });
  });
}

function pattern(start: number, length: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => ((start + i) * 7) & 0xff);
}

/** A raw TCP server that answers every request with `reply(requestCount)`'s bytes, then maybe closes. */
function startRawServer(reply: (n: number) => { bytes: string; close: boolean }) {
  let requests = 0;
  return Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket, data) {
        // Every request here is a head only, in one piece (bodies are sent to other servers).
        if (!Buffer.from(data).toString("latin1").includes("\r\n\r\n")) return;
        const { bytes, close } = reply(++requests);
        socket.write(bytes);
        if (close) socket.end();
      },
    },
  });
}

/** Runs `body` with a socket client of one connection to a raw server answering with `reply`; stops both after. */
async function withRawServer(reply: Parameters<typeof startRawServer>[0], body: (client: ReturnType<typeof createClient>) => Promise<void>) {
  const server = startRawServer(reply);
  const client = createClient("socket", new URL(`http://127.0.0.1:${server.port}`), 1);
  try {
    await body(client);
  } finally {
    client.close();
    server.stop(true);
  }
}

describe("the socket client", () => {
  let server: Awaited<ReturnType<typeof startHashServer>>;
  beforeAll(async () => {
    server = await startHashServer();
  });
  afterAll(() => server.close());

  test("bodies of every size arrive whole, on at most `connections` kept-alive connections", async () => {
    const before = server.connections();
    const client = createClient("socket", server.url, 2);
    try {
      const sizes = [0, 1, 4096, 65_536, 65_537, 1_000_000, 8 * 1024 * 1024 + 3];
      const answers = await Promise.all(
        sizes.map(async (size) => {
          const body = pattern(size, size);
          const res = await client.request({ method: "PUT", target: `/put/${size}`, headers: { "x-test": "1" }, body });
          return { res, sha: createHash("sha256").update(body).digest("hex"), size };
        }),
      );
      for (const { res, sha, size } of answers) {
        expect(res.status).toBe(200);
        expect(res.header("x-received")).toBe(String(size));
        expect(res.header("x-sha256")).toBe(sha);
        expect(res.text).toBe("done");
      }
      expect(server.connections() - before).toBe(2);
    } finally {
      client.close();
    }
  });

  test("a chunked 5 MB response streams to the sink byte for byte; an error status is collected as text", async () => {
    const client = createClient("socket", server.url, 1);
    try {
      const pieces: Uint8Array[] = [];
      const res = await client.request({ method: "GET", target: "/stream?bytes=5000000", headers: {}, sink: (c) => pieces.push(new Uint8Array(c)) });
      expect(res.status).toBe(200);
      expect(res.bodyBytes).toBe(5_000_000);
      expect(res.text).toBe("");
      expect(Buffer.compare(Buffer.concat(pieces), pattern(0, 5_000_000))).toBe(0);
      const missing = await client.request({ method: "GET", target: "/missing", headers: {}, sink: () => expect.unreachable() });
      expect(missing.status).toBe(404);
      expect(missing.text).toContain("NoSuchKey");
    } finally {
      client.close();
    }
  });

  test("after Connection: close the next request opens a new connection", async () => {
    const client = createClient("socket", server.url, 1);
    try {
      const before = server.connections();
      expect((await client.request({ method: "GET", target: "/close", headers: {} })).status).toBe(200);
      expect((await client.request({ method: "GET", target: "/again", headers: {} })).status).toBe(200);
      expect((await client.request({ method: "GET", target: "/again", headers: {} })).status).toBe(200);
      expect(server.connections() - before).toBe(2);
    } finally {
      client.close();
    }
  });
});

describe("the socket client when the server misbehaves", () => {
  test("an answer before the body is sent is returned, and the next request goes on a new connection", async () => {
    // The server refuses a 32 MiB body after its head and keeps the connection open: the rest of the
    // body can no longer follow on it, so the client must not send its next request there.
    let accepted = 0;
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open() {
          accepted++;
        },
        data(socket, data) {
          const text = Buffer.from(data).toString("latin1");
          if (text.startsWith("PUT")) socket.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 11\r\n\r\nAccessDenie");
          else if (text.startsWith("GET")) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        },
      },
    });
    const client = createClient("socket", new URL(`http://127.0.0.1:${server.port}`), 1);
    try {
      const refused = await client.request({ method: "PUT", target: "/big", headers: {}, body: new Uint8Array(32 * 1024 * 1024) });
      expect(refused.status).toBe(403);
      expect(refused.text).toBe("AccessDenie");
      const next = await client.request({ method: "GET", target: "/small", headers: {} });
      expect(next.status).toBe(200);
      expect(next.text).toBe("ok");
      expect(accepted).toBe(2);
    } finally {
      client.close();
      server.stop(true);
    }
  });

  test("a response cut short rejects with ECONNRESET; the client recovers", async () => {
    const reply = (n: number) =>
      n === 1 ? { bytes: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", close: true } : { bytes: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close: false };
    await withRawServer(reply, async (client) => {
      const cut = await client.request({ method: "GET", target: "/a", headers: {} }).catch((e) => e);
      expect(cut).toBeInstanceOf(Error);
      expect((cut as { code?: string }).code).toBe("ECONNRESET");
      expect((await client.request({ method: "GET", target: "/b", headers: {} })).text).toBe("ok");
    });
  });

  test("a connection the server closed while idle is not used again", async () => {
    await withRawServer(() => ({ bytes: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close: true }), async (client) => {
      for (let i = 0; i < 3; i++) {
        expect((await client.request({ method: "GET", target: `/${i}`, headers: {} })).text).toBe("ok");
        await Bun.sleep(20); // the server's FIN arrives while the connection is idle
      }
    });
  });

  test("a response that is not HTTP rejects with HTTPProtocol", async () => {
    await withRawServer(() => ({ bytes: "SSH-2.0-OpenSSH\r\n\r\n", close: false }), async (client) => {
      const error = await client.request({ method: "GET", target: "/", headers: {} }).catch((e) => e);
      expect((error as { code?: string }).code).toBe("HTTPProtocol");
    });
  });

  test("a refused connection rejects with the socket's error code", async () => {
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = server.port;
    server.stop(true);
    const client = createClient("socket", new URL(`http://127.0.0.1:${port}`), 1);
    const error = await client.request({ method: "GET", target: "/", headers: {} }).catch((e) => e);
    expect((error as { code?: string }).code).toBe("ECONNREFUSED");
    client.close();
  });
});

test("every client kind sends the same request and reads the same answer", async () => {
  const server = await startHashServer();
  try {
    for (const kind of clientKinds) {
      const client = createClient(kind, server.url, 2);
      const body = pattern(3, 200_000);
      const res = await client.request({ method: "PUT", target: "/x?partNumber=1", headers: { "x-amz-meta-a": "b" }, body });
      expect([kind, res.status, res.header("x-sha256")]).toEqual([kind, 200, createHash("sha256").update(body).digest("hex")]);
      client.close();
    }
  } finally {
    server.close();
  }
});

test("the socket client's address: IPv6 literals lose their brackets, the scheme gives the default port", () => {
  expect(socketAddressOf(new URL("http://127.0.0.1:9000"))).toEqual({ hostname: "127.0.0.1", port: 9000, tls: false });
  expect(socketAddressOf(new URL("http://[::1]:9000/"))).toEqual({ hostname: "::1", port: 9000, tls: false });
  expect(socketAddressOf(new URL("https://s3.example.com"))).toEqual({ hostname: "s3.example.com", port: 443, tls: true });
  expect(socketAddressOf(new URL("http://localhost"))).toEqual({ hostname: "localhost", port: 80, tls: false });
});
