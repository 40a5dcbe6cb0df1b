import { expect, test } from "bun:test";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { requestBody } from "../../src/s3/body.ts";

const limits = { limitBytes: 1 << 30, lengthRequired: true };

/** Runs `onRequest` on one PUT of `body` sent to a node:http server on loopback. */
async function withRequest<T>(body: Uint8Array, onRequest: (req: http.IncomingMessage) => Promise<T>): Promise<T> {
  let result: Promise<T> | undefined;
  const server = http.createServer((req, res) => {
    result = onRequest(req);
    result.then(
      () => res.end("ok"),
      () => res.end("failed"),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/`, { method: "PUT", body });
    expect(await response.text()).toBe("ok");
    return await result!;
  } finally {
    server.close();
  }
}

test("node:http hands each received piece of a body over in an ArrayBuffer of its own (what releasing chunks relies on)", async () => {
  const body = new Uint8Array(5 * 1024 * 1024 + 123).map((_, i) => i * 7);
  const chunks = await withRequest(body, async (req) => {
    const seen: Uint8Array[] = [];
    for await (const chunk of req) seen.push(chunk);
    return seen;
  });
  expect(chunks.length).toBeGreaterThan(1);
  for (const c of chunks) {
    expect(c.buffer).toBeInstanceOf(ArrayBuffer);
    expect(c.byteOffset).toBe(0);
    expect(c.byteLength).toBe(c.buffer.byteLength);
  }
  expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length);
  expect(Buffer.concat(chunks).equals(body)).toBe(true);
});

test("a request's body says its chunks are its reader's own only when they come straight from node:http", async () => {
  const body = new Uint8Array(1000).fill(9);
  const headers = { "content-length": String(body.length) };
  const owned = await withRequest(body, async (req) => {
    const incoming = requestBody(req, headers, { kind: "unsigned" }, limits);
    await incoming.bytes();
    return incoming.chunksOwned;
  });
  expect(owned).toBe(true);
  const fromElsewhere = requestBody(Readable.from([body]), headers, { kind: "unsigned" }, limits);
  expect(fromElsewhere.chunksOwned).toBe(false);
  expect(Buffer.from(await fromElsewhere.bytes()).equals(body)).toBe(true);
});
