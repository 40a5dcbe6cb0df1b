/** Bodies stream: a 1 GiB PUT and GET keep the server's memory bounded (ARCHITECTURE §2). */
import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { signHeaders } from "../src/sigv4/index.ts";
import { s3 } from "./support/client.ts";
import { accessKey, region, secretKey, startS3d, type TestServer } from "./support/server.ts";

const objectBytes = 1024 * 1024 * 1024;
const chunkBytes = 1024 * 1024;
/** Well above Bun's own footprint, far below the object: the body is never held whole. */
const serverRssBytesMax = 400 * 1024 * 1024;

let server: TestServer | undefined;
afterAll(async () => {
  await server?.stop();
});

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

function chunk(i: number): Uint8Array {
  const c = new Uint8Array(chunkBytes).fill(i & 0xff);
  new DataView(c.buffer).setUint32(0, i);
  return c;
}

test("a 1 GiB PUT and GET stream through with bounded server memory", async () => {
  server = await startS3d();
  const { endpoint, process: proc } = server;
  await s3(endpoint, { method: "PUT", path: "/memory-test" });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(proc.pid))), 50);
  try {
    const url = new URL(endpoint);
    const headers = { host: url.host, "content-length": String(objectBytes) };
    const signed = signHeaders({ method: "PUT", decodedPath: "/memory-test/big", query: [], headers, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), payloadHash: "UNSIGNED-PAYLOAD" });
    const sent = createHash("md5");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, method: "PUT", path: "/memory-test/big", headers: { ...headers, ...signed } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", reject);
      let i = 0;
      const pump = () => {
        while (i < objectBytes / chunkBytes) {
          const c = chunk(i++);
          sent.update(c);
          if (!req.write(c)) return void req.once("drain", pump);
        }
        req.end();
      };
      pump();
    });
    expect(status).toBe(200);
    const got = await s3(endpoint, { method: "HEAD", path: "/memory-test/big" });
    expect(got.headers.get("etag")).toBe(`"${sent.digest("hex")}"`);

    const res = await fetch(`${endpoint}/memory-test/big?${await presigned(url.host)}`);
    expect(res.status).toBe(200);
    const received = createHash("md5");
    let total = 0;
    for await (const c of res.body!) {
      received.update(c);
      total += c.length;
    }
    expect(total).toBe(objectBytes);
    expect(`"${received.digest("hex")}"`).toBe(got.headers.get("etag")!);
  } finally {
    clearInterval(sampler);
  }
  console.log(`server RSS peak during 1 GiB PUT+GET: ${(peak / 2 ** 20).toFixed(0)} MiB`);
  expect(peak).toBeGreaterThan(0);
  expect(peak).toBeLessThan(serverRssBytesMax);
}, 120_000);

async function presigned(host: string): Promise<string> {
  const { presignQuery } = await import("../src/sigv4/index.ts");
  return presignQuery({ method: "GET", decodedPath: "/memory-test/big", host, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), expiresSec: 300 });
}
