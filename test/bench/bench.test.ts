import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseBenchArgs, UsageError, type RunOptions } from "../../src/bench/args.ts";
import { benchMain } from "../../src/bench/cli.ts";
import { objectBody } from "../../src/bench/content.ts";
import { startNullServer, type NullServer } from "../../src/bench/null-server.ts";
import { runBench } from "../../src/bench/run.ts";
import { parseDurationMs, parseSizeBytes } from "../../src/util/units.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accessKey, binaryPath, secretKey, selfSignedCert, startS3d, type TestServer } from "../support/server.ts";
import { errorCode, s3 } from "../support/client.ts";

function options(endpoint: string, overrides: Partial<RunOptions>): RunOptions {
  const parsed = parseBenchArgs(["--endpoint", endpoint, "--access-key", accessKey, "--secret-key", secretKey, "--duration", "300ms"]);
  if (parsed.mode !== "run") throw new Error("expected a run");
  return { ...parsed, objects: 20, concurrency: 4, ...overrides };
}

async function expectClean(endpoint: string, overrides: Partial<RunOptions>) {
  const report = await runBench(options(endpoint, overrides));
  expect(report.errorExamples).toEqual([]);
  expect(report.errors).toBe(0);
  expect(report.verified).toBe(true);
  expect(report.ops).toBeGreaterThan(0);
  expect(report.opsPerSec).toBeGreaterThan(0);
  expect(report.latency.p50Ms).toBeGreaterThan(0);
  expect(report.latency.p50Ms).toBeLessThanOrEqual(report.latency.p99Ms);
  expect(report.latency.p99Ms).toBeLessThanOrEqual(report.latency.maxMs);
  return report;
}

const workloads: Partial<RunOptions>[] = [
  { op: "put", sizeBytes: 4096 },
  { op: "get", sizeBytes: 100_000 },
  { op: "list", sizeBytes: 0, objects: 25 },
  { op: "delete", sizeBytes: 1 },
  { op: "mixed", sizeBytes: 5000 },
  { op: "multipart", sizeBytes: 11 * 1024 * 1024, partSizeBytes: 5 * 1024 * 1024, objects: 1, concurrency: 2 },
];

describe("against the null server", () => {
  let server: NullServer;
  beforeAll(async () => {
    server = await startNullServer({ host: "127.0.0.1", port: 0, engine: "node", corrupt: false });
  });
  afterAll(() => server.close());

  for (const w of workloads) {
    test(`${w.op} completes without errors`, async () => {
      const report = await expectClean(server.url, w);
      if (w.op === "put" || w.op === "get") expect(report.mibPerSec).toBeGreaterThan(0);
      if (w.op === "list") expect(report.extra.keysListed).toBeGreaterThanOrEqual(25);
      if (w.op === "delete") expect(report.ops).toBe(20);
    });
  }

  test("the node:http and fetch clients work too (the workloads above use the default, socket)", async () => {
    expect(options(server.url, {}).client).toBe("socket");
    for (const client of ["node", "fetch"] as const) {
      await expectClean(server.url, { op: "get", client });
      await expectClean(server.url, { op: "put", client, payload: "unsigned" });
    }
  });
});

describe("a server that returns wrong bytes fails the run", () => {
  test("null server with --corrupt", async () => {
    const server = await startNullServer({ host: "127.0.0.1", port: 0, engine: "node", corrupt: true });
    try {
      const report = await runBench(options(server.url, { op: "get", sizeBytes: 4096 }));
      expect(report.verified).toBe(false);
      expect(report.errorsByCode.VerificationFailed).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });

  test("a short body and a body of another object are both caught", async () => {
    let mode = "short";
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        await req.arrayBuffer();
        const path = new URL(req.url).pathname;
        if (req.method !== "GET" || !path.includes("/", 1)) return new Response(null, { status: req.method === "DELETE" ? 204 : 200 });
        // object 0's bytes for every key, or a truncated body
        return new Response(mode === "short" ? objectBody(0, 100) : objectBody(0, 4096));
      },
    });
    try {
      const url = `http://127.0.0.1:${server.port}`;
      const short = await runBench(options(url, { op: "get", sizeBytes: 4096 }));
      expect(short.verified).toBe(false);
      expect(short.errorExamples[0]).toContain("100 bytes, expected 4096");
      mode = "swapped";
      const swapped = await runBench(options(url, { op: "get", sizeBytes: 4096 }));
      expect(swapped.verified).toBe(false);
      expect(swapped.errorExamples.join("\n")).toContain("content differs");
    } finally {
      server.stop(true);
    }
  });
});

describe("the null server with --hash", () => {
  let server: NullServer;
  beforeAll(async () => {
    server = await startNullServer({ host: "127.0.0.1", port: 0, engine: "node", corrupt: false, hash: true });
    expect((await fetch(`${server.url}/hb`, { method: "PUT" })).status).toBe(200);
  });
  afterAll(() => server.close());

  // below and above the size from which bodies go to the hash pool, as in s3d
  for (const size of [1000, 3 * 1024 * 1024 + 5]) {
    test(`a ${size}-byte upload: ETag is its MD5, a SHA-256 claim is checked`, async () => {
      const body = objectBody(7, size);
      const sha256 = new Bun.CryptoHasher("sha256").update(body).digest("hex");
      const md5 = new Bun.CryptoHasher("md5").update(body).digest("hex");
      const put = (claim?: string) => fetch(`${server.url}/hb/k${size}`, { method: "PUT", body, headers: claim ? { "x-amz-content-sha256": claim } : {} });
      for (const claim of [sha256, undefined, "UNSIGNED-PAYLOAD"]) {
        const ok = await put(claim);
        expect(ok.status).toBe(200);
        expect(ok.headers.get("etag")).toBe(`"${md5}"`);
      }
      const wrong = await put(sha256.replace(/^./, (c) => (c === "0" ? "1" : "0")));
      expect(wrong.status).toBe(400);
      expect(await wrong.text()).toContain("<Code>XAmzContentSHA256Mismatch</Code>");
    });
  }

  test("a signed PUT run against it verifies", async () => {
    const report = await expectClean(server.url, { op: "put", sizeBytes: 2 * 1024 * 1024, objects: 4, concurrency: 2 });
    expect(report.errorsByCode).toEqual({});
  });
});

test("a server that goes away mid-run is counted, not hammered: each failed connection pauses its worker", async () => {
  const { networkFailurePauseMs } = await import("../../src/bench/run.ts");
  const server = await startNullServer({ host: "127.0.0.1", port: 0, engine: "node", corrupt: false });
  const gone = Bun.sleep(300).then(() => server.close());
  const durationMs = 1500;
  const report = await runBench(options(server.url, { op: "put", sizeBytes: 4096, concurrency: 4, durationMs }));
  await gone;
  expect(report.ops).toBeGreaterThan(0); // before it went away
  const refused = Object.entries(report.errorsByCode).filter(([code]) => code.startsWith("Network:")).reduce((n, [, k]) => n + k, 0);
  expect(refused).toBeGreaterThan(0);
  // at most one failure a pause per worker for the rest of the run (without the pause: tens of thousands)
  expect(refused).toBeLessThanOrEqual(4 * Math.ceil(durationMs / networkFailurePauseMs) + 8);
});

describe("against dist/s3d", () => {
  let s3d: TestServer;
  beforeAll(async () => {
    s3d = await startS3d();
  });
  afterAll(() => s3d?.stop());

  for (const w of workloads) {
    test(`${w.op} completes without errors`, async () => {
      await expectClean(s3d.endpoint, { ...w, serverPid: s3d.process.pid });
    });
  }

  test("--sse-c: objects sealed with the run's key are written and read back verified (GET, multipart)", async () => {
    expect(parseBenchArgs(["--endpoint", s3d.endpoint, "--access-key", accessKey, "--secret-key", secretKey, "--sse-c"])).toMatchObject({ sseC: true });
    for (const w of [{ op: "get", sizeBytes: 100_000 }, { op: "mixed", sizeBytes: 5000 }, workloads.at(-1)!] as Partial<RunOptions>[]) {
      const report = await expectClean(s3d.endpoint, { ...w, sseC: true, bucket: "bench-sse-c", noCleanup: true });
      expect(report.sseC).toBe(true);
    }
    // the objects left are sealed: a signed read without the key is refused
    const read = await s3(s3d.endpoint, { method: "GET", path: "/bench-sse-c/bench/00000000" });
    expect([read.status, await errorCode(read)]).toEqual([400, "InvalidRequest"]);
  });

  test("wrong credentials are counted by S3 error code", async () => {
    const report = await runBench(options(s3d.endpoint, { op: "put", secretKey: "wrong" })).catch((e) => e);
    expect(report).toBeInstanceOf(Error);
    expect((report as { code: string }).code).toBe("SignatureDoesNotMatch");
  });
});

test("over HTTPS the socket client checks the server's certificate: refused by its code, trusted with NODE_EXTRA_CA_CERTS", async () => {
  const dir = mkdtempSync(join(tmpdir(), "s3d-bench-tls-"));
  try {
    const tls = selfSignedCert(dir);
    const server = await startS3d({ tls });
    try {
      const bench = (env: Record<string, string>) =>
        Bun.spawnSync([binaryPath, "bench", "--endpoint", server.endpoint, "--access-key", accessKey, "--secret-key", secretKey,
          "--op", "get", "--size", "100KiB", "--objects", "4", "--concurrency", "2", "--duration", "300ms", "--json"], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
      const refused = bench({});
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr.toString()).toContain("DEPTH_ZERO_SELF_SIGNED_CERT");
      const trusted = bench({ NODE_EXTRA_CA_CERTS: tls.cert });
      expect(trusted.stderr.toString()).toBe("");
      const report = JSON.parse(trusted.stdout.toString());
      expect([report.client, report.errors, report.verified]).toEqual(["socket", 0, true]);
      expect(report.ops).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("arguments", () => {
  const base = ["--endpoint", "http://127.0.0.1:1", "--access-key", "a", "--secret-key", "b"];
  const cases: [string[], string][] = [
    [["--access-key", "a", "--secret-key", "b"], "--endpoint URL is required"],
    [["--endpoint", "nope", "--access-key", "a", "--secret-key", "b"], 'is not a URL'],
    [[...base, "--op", "scan"], "--op must be one of put, get, mixed, list, delete, multipart"],
    [[...base, "--size", "4XB"], '--size "4XB" is not a size'],
    [[...base, "--duration", "soon"], '--duration "soon" is not a duration'],
    [[...base, "--concurrency", "0"], "--concurrency must be between 1 and 4096"],
    [[...base, "--objects", "1.5"], "--objects must be a whole number"],
    [[...base, "--frobnicate"], "unknown option --frobnicate"],
    [[...base, "--op"], "--op needs a value"],
    [[...base, "--payload", "maybe"], "--payload must be signed or unsigned"],
    [[...base, "--client", "curl"], "--client must be one of socket, node, fetch"],
    [["--disk-ceiling"], "--disk-ceiling needs --dir"],
    [["--disk-ceiling", "--dir", "/tmp", "--concurrency", "65"], "--concurrency must be between 0 and 64"],
    [["--null-server", "--op", "get"], "--op does not apply to --null-server"],
    [[...base, "--corrupt"], "--corrupt only applies to --null-server"],
    [[...base, "--hash"], "--hash only applies to --null-server"],
    [["--null-server", "--hash", "--engine", "bun"], "--hash runs on --engine node"],
  ];
  for (const [argv, message] of cases) {
    test(`${argv.slice(-2).join(" ")} → ${message}`, () => {
      expect(() => parseBenchArgs(argv)).toThrow(UsageError);
      expect(() => parseBenchArgs(argv)).toThrow(message);
    });
  }

  test("benchMain answers a usage error with exit code 2", async () => {
    expect(await benchMain(["--op", "scan"])).toBe(2);
  });

  test("--disk-ceiling measures the blob store only when given --concurrency", () => {
    expect(parseBenchArgs(["--disk-ceiling", "--dir", "/tmp"])).toMatchObject({ mode: "disk-ceiling", blobStreams: 0 });
    expect(parseBenchArgs(["--disk-ceiling", "--dir", "/tmp", "--concurrency", "8"])).toMatchObject({ mode: "disk-ceiling", blobStreams: 8 });
  });

  test("sizes and durations", () => {
    expect(parseSizeBytes("4KiB")).toBe(4096);
    expect(parseSizeBytes("64MiB")).toBe(64 * 1024 * 1024);
    expect(parseSizeBytes("1MB")).toBe(1_000_000);
    expect(parseSizeBytes("12")).toBe(12);
    expect(parseDurationMs("30s")).toBe(30_000);
    expect(parseDurationMs("250ms")).toBe(250);
    expect(parseDurationMs("2m")).toBe(120_000);
  });
});

describe("disk ceiling", () => {
  test("measures page-cache and O_DIRECT writes in turns and reports the better one as the disk's bandwidth", async () => {
    const { measureDisk } = await import("../../src/bench/disk.ts");
    const { directWritesWork } = await import("../../src/store/fs/blob-sinks.ts");
    const { mkdtempSync, readdirSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "s3d-disk-test-"));
    try {
      const report = measureDisk(dir, 4 * 1024 * 1024, 100);
      expect(report.seqWriteFsyncMibPerSec).toBeGreaterThan(0);
      expect(report.smallSyncWritesPerSec).toBeGreaterThan(0);
      if (directWritesWork(dir)) {
        expect(report.seqWriteDirectMibPerSec).toBeGreaterThan(0);
        expect(report.files).toBeGreaterThanOrEqual(4);
      } else expect(report.seqWriteDirectMibPerSec).toBeUndefined();
      expect(report.seqWriteBestMibPerSec).toBe(Math.max(report.seqWriteFsyncMibPerSec, report.seqWriteDirectMibPerSec ?? 0));
      // an unaligned file size cannot be written directly: only the page-cache way is measured
      expect(measureDisk(dir, 1_000_000, 50).seqWriteDirectMibPerSec).toBeUndefined();
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("writes blobs at once through s3d's blob store and leaves nothing behind", async () => {
    const { measureBlobStore } = await import("../../src/bench/disk.ts");
    const { mkdtempSync, readdirSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "s3d-blob-ceiling-test-"));
    try {
      const report = await measureBlobStore(dir, 3, 9 * 1024 * 1024, 200);
      expect(report.streams).toBe(3);
      // every stream writes at least one blob, even when the duration is over before it starts
      expect(report.blobs).toBeGreaterThanOrEqual(3);
      expect(report.mibPerSec).toBeGreaterThan(0);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
