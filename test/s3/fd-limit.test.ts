/**
 * Clients holding more connections than s3d has file descriptors for: s3d closes the connections
 * past its cap instead of running out (which made it spin on accept, and end the process when a
 * large upload then started a hashing thread), keeps serving the connections it has, and serves
 * new ones once the others go.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { s3 } from "../support/client.ts";
import { accessKey, binaryPath, freePort, secretKey, waitForHealth } from "../support/server.ts";

const dataDir = mkdtempSync(join(tmpdir(), "s3d-fd-limit-"));
let proc: Subprocess;
let endpoint: string;
let port: number;
let stderr = "";

beforeAll(async () => {
  port = await freePort();
  endpoint = `http://127.0.0.1:${port}`;
  // 128 descriptors: the cap is 64 connections
  proc = Bun.spawn(["sh", "-c", `ulimit -n 128 && exec "$0" "$@"`, binaryPath, "--data-dir", dataDir, "--port", String(port), "--log-level", "warn"], {
    env: { ...process.env, S3D_ACCESS_KEY: accessKey, S3D_SECRET_KEY: secretKey },
    stdout: "ignore",
    stderr: "pipe",
  });
  void (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) stderr += new TextDecoder().decode(chunk);
  })();
  await waitForHealth(endpoint);
  expect((await s3(endpoint, { method: "PUT", path: "/fd-bucket" })).status).toBe(200);
});

afterAll(async () => {
  proc?.kill(9);
  await proc?.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

const open = () =>
  new Promise<Socket>((resolve) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", () => {});
  });

const cpuTicks = () => readFileSync(`/proc/${proc.pid}/stat`, "utf8").split(") ")[1].split(" ").slice(11, 13).reduce((sum, t) => sum + Number(t), 0);

test("200 idle connections: those past the cap are closed, s3d does not spin, and a 2 MiB PUT begun before them finishes", async () => {
  const { signHeaders } = await import("../../src/sigv4/index.ts");
  const body = new Uint8Array(2 * 1024 * 1024).fill(0x62);
  const headers = { host: `127.0.0.1:${port}`, "content-length": String(body.length) };
  const signed = signHeaders({ method: "PUT", decodedPath: "/fd-bucket/big", query: [], headers, accessKeyId: accessKey, secretKey, region: "us-east-1", nowMs: Date.now(), payloadHash: "UNSIGNED-PAYLOAD" });
  const head = Object.entries({ ...headers, ...signed }).map(([k, v]) => `${k}: ${v}`).join("\r\n");
  const worker = await open();
  let said = "";
  const answered = new Promise<string>((resolve) => {
    worker.on("data", (d) => {
      said += d.toString("latin1");
      if (said.includes("\r\n\r\n")) resolve(said.split("\r\n")[0]);
    });
    worker.on("close", () => resolve(`closed: ${said.split("\r\n")[0]}`));
  });
  // the request is under way (its head read) before the other connections come
  worker.write(`PUT /fd-bucket/big HTTP/1.1\r\n${head}\r\n\r\n`);
  await Bun.sleep(200);

  // (not awaited: while s3d's accept queue is full a connect can wait seconds for a SYN to be taken)
  const idle = Array.from({ length: 200 }, () => connect(port, "127.0.0.1").on("error", () => {}));
  await Bun.sleep(1000);
  const before = cpuTicks();
  await Bun.sleep(1000);
  expect(cpuTicks() - before).toBeLessThan(30); // of 100 a second: no busy accept loop

  // the body now: its hashing (on threads started with the server) needs no new descriptor
  worker.write(body);
  expect(await answered).toBe("HTTP/1.1 200 OK");

  for (const s of [worker, ...idle]) s.destroy();
  await Bun.sleep(300);
  expect(proc.exitCode).toBeNull();
  expect(stderr).toContain('"msg":"connection refused: too many open","connections":64,"connectionsMax":64');
  const got = await s3(endpoint, { method: "GET", path: "/fd-bucket/big" });
  expect(new Uint8Array(await got.arrayBuffer())).toEqual(body);
});
