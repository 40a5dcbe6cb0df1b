/**
 * /_s3d/metrics against the binary: who may read it (the bearer token, users without bucket
 * limits, nobody else), and that its figures follow what the server did.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { connect } from "node:net";
import { presignQuery } from "../../src/sigv4/sign.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorCode, s3 } from "../support/client.ts";
import { accessKey, region, secretKey, startS3d, type TestServer } from "../support/server.ts";

const token = "metrics-token-0123456789abcdef";
let server: TestServer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "s3d-metrics-"));
  writeFileSync(join(dir, "token"), `${token}\n`, { mode: 0o600 });
  const users = [
    `[[users]]\nname = "ops"\naccess_key = "OPSKEY"\nsecret_key = "ops-secret-1"\n`,
    `[[users]]\nname = "reader"\naccess_key = "READERKEY"\nsecret_key = "reader-secret-1"\nbuckets = { "*" = ["read", "write", "owner"] }\n`,
  ];
  writeFileSync(join(dir, "s3d.toml"), `metrics_token_file = "${join(dir, "token")}"\n${users.join("\n")}`);
  server = await startS3d({ args: ["--config", join(dir, "s3d.toml")] });
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const scrape = (headers: Record<string, string> = { authorization: `Bearer ${token}` }) => fetch(`${server.endpoint}/_s3d/metrics`, { headers });

/** The samples of an exposition, by name and labels as written: `s3d_buckets`, `s3d_requests_total{operation="GetObject",status="200"}`. */
async function samples(): Promise<Map<string, number>> {
  const res = await scrape();
  expect(res.status).toBe(200);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe("/_s3d/metrics", () => {
  test("the bearer token, or a signature of a user without bucket limits; anyone else is AccessDenied", async () => {
    const byToken = await scrape();
    expect([byToken.status, byToken.headers.get("content-type")]).toEqual([200, "text/plain; version=0.0.4; charset=utf-8"]);
    expect(await byToken.text()).toContain("# TYPE s3d_requests_total counter\n");
    for (const headers of [{} as Record<string, string>, { authorization: "Bearer wrong-token-0123456789" }, { authorization: `Bearer ${token}x` }]) {
      const refused = await scrape(headers);
      expect([JSON.stringify(headers), refused.status, await errorCode(refused)]).toEqual([JSON.stringify(headers), 403, "AccessDenied"]);
    }
    // (the scheme's name in any case, as HTTP has it)
    expect((await scrape({ authorization: `bearer ${token}` })).status).toBe(200);
    expect((await s3(server.endpoint, { method: "GET", path: "/_s3d/metrics" })).status).toBe(200);
    const head = await fetch(`${server.endpoint}/_s3d/metrics`, { method: "HEAD", headers: { authorization: `Bearer ${token}` } });
    expect([head.status, await head.text()]).toEqual([200, ""]);
    expect((await s3(server.endpoint, { method: "GET", path: "/_s3d/metrics", accessKeyId: "OPSKEY", secret: "ops-secret-1" })).status).toBe(200);
    // a user limited to some buckets is not let in, even one who owns every bucket
    expect(await errorCode(await s3(server.endpoint, { method: "GET", path: "/_s3d/metrics", accessKeyId: "READERKEY", secret: "reader-secret-1" }))).toBe("AccessDenied");
    expect(await errorCode(await s3(server.endpoint, { method: "GET", path: "/_s3d/metrics", secret: "not-the-secret" }))).toBe("SignatureDoesNotMatch");
  });

  test("the figures follow what the server did: requests by operation and status, errors by code, bytes, commits and their syncs", async () => {
    const before = await samples();
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    const body = "x".repeat(1000);
    expect((await s3(server.endpoint, { method: "PUT", path: "/counted" })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await s3(server.endpoint, { method: "PUT", path: `/counted/k${i}`, body })).status).toBe(200);
    expect(await (await s3(server.endpoint, { method: "GET", path: "/counted/k0" })).text()).toBe(body);
    expect(await errorCode(await s3(server.endpoint, { method: "GET", path: "/counted/missing" }))).toBe("NoSuchKey");
    expect(await errorCode(await s3(server.endpoint, { method: "PUT", path: "/Bad_Bucket" }))).toBe("InvalidBucketName");
    // a request the HTTP parser refuses is counted too
    const socket = connect(server.port, "127.0.0.1");
    socket.end("NOT HTTP AT ALL\r\n\r\n");
    let answer = "";
    for await (const chunk of socket) answer += String(chunk);
    expect(answer).toStartWith("HTTP/1.1 400");
    const after = await samples();

    expect(delta('s3d_requests_total{operation="PutObject",status="200"}')).toBe(3);
    expect(delta('s3d_requests_total{operation="GetObject",status="200"}')).toBe(1);
    expect(delta('s3d_requests_total{operation="GetObject",status="404"}')).toBe(1);
    expect(delta('s3d_requests_total{operation="CreateBucket",status="400"}')).toBe(1);
    expect(delta('s3d_errors_total{code="NoSuchKey"}')).toBe(1);
    expect(delta('s3d_errors_total{code="InvalidBucketName"}')).toBe(1);
    expect(delta('s3d_requests_total{operation="Unparsed",status="400"}')).toBe(1);
    expect(delta('s3d_errors_total{code="BadRequest"}')).toBe(1);
    expect(delta('s3d_received_bytes_total{operation="PutObject"}')).toBe(3000);
    expect(delta('s3d_sent_bytes_total{operation="GetObject"}')).toBeGreaterThan(1000);
    expect(delta('s3d_request_duration_seconds_count{operation="PutObject"}')).toBe(3);
    expect(after.get('s3d_request_duration_seconds_bucket{operation="PutObject",le="+Inf"}')).toBe(after.get('s3d_request_duration_seconds_count{operation="PutObject"}'));
    // a bucket and three objects: four writes, each made durable by a sync before it was answered
    expect(delta("s3d_metadata_writes_total")).toBe(4);
    expect(delta("s3d_metadata_transactions_total")).toBeGreaterThanOrEqual(1);
    // (one sync covers every transaction committed before it)
    expect(delta("s3d_metadata_sync_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(delta("s3d_metadata_sync_seconds_count")).toBeLessThanOrEqual(delta("s3d_metadata_transactions_total"));
    expect(after.get("s3d_metadata_sync_failures_total")).toBe(0);
    expect(after.get("s3d_buckets")).toBe(1);
    expect(after.get("s3d_disk_free_bytes")).toBeGreaterThan(0);
    expect(after.get("s3d_connections_open")).toBeGreaterThanOrEqual(1);
    expect(after.get('s3d_build_info{version="0.1.0"}')).toBe(1);
    expect(after.get("s3d_lifecycle_expired_objects_total")).toBe(0);
    expect(after.get("process_open_fds")).toBeGreaterThan(3);
    expect(after.get("process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
    expect(Math.abs(Date.now() / 1000 - after.get("process_start_time_seconds")!)).toBeLessThan(600);
  });

  test("a download the client gives up on is counted as cut", async () => {
    expect((await s3(server.endpoint, { method: "PUT", path: "/counted/large", body: new Uint8Array(32 * 1024 * 1024) })).status).toBe(200);
    const cuts = async () => (await samples()).get('s3d_requests_cut_total{operation="GetObject"}') ?? 0;
    const before = await cuts();
    // a client that reads the head and the first bytes, then hangs up
    const query = presignQuery({ method: "GET", decodedPath: "/counted/large", host: `127.0.0.1:${server.port}`, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), expiresSec: 60 });
    const socket = connect(server.port, "127.0.0.1");
    socket.write(`GET /counted/large?${query} HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\n\r\n`);
    const [first] = (await once(socket, "data")) as [Buffer];
    expect(first.toString("latin1")).toStartWith("HTTP/1.1 200");
    socket.destroy();
    let after = before;
    for (let i = 0; i < 100 && after === before; i++) {
      await Bun.sleep(20);
      after = await cuts();
    }
    expect(after - before).toBe(1);
  });
});
