/**
 * One load run: make the bucket and the objects the workload needs, run it for the duration with
 * C workers, verify what comes back, clean up, and summarise.
 */
import { randomBytes } from "node:crypto";
import type { RunOptions } from "./args.ts";
import { contentOffsetsMax, patternOf } from "./content.ts";
import { createClient } from "./http.ts";
import { OpError, S3Ops } from "./s3ops.ts";
import { Recorder, round, type LatencySummary } from "./stats.ts";
import { mibBytes } from "../util/units.ts";
import { procCpuTicks } from "./peers.ts";

export interface Progress {
  elapsedMs: number;
  ops: number;
  bytes: number;
  errors: number;
  phase: string;
}

export interface RunReport {
  op: string;
  endpoint: string;
  client: string;
  payload: string;
  /** objects sealed with a key of the run's (SSE-C) */
  sseC: boolean;
  sizeBytes: number;
  objects: number;
  concurrency: number;
  durationMs: number;
  ops: number;
  opsPerSec: number;
  mibPerSec: number;
  latency: LatencySummary;
  errors: number;
  errorsByCode: Record<string, number>;
  errorExamples: string[];
  verified: boolean;
  /** list: keys returned per second; multipart: parts uploaded */
  extra: Record<string, number>;
  prepareMs: number;
  cleanupMs: number;
  /** CPU time of the generator over the measured phase, as % of one core */
  clientCpuPercent: number;
  /** CPU time of --server-pid over the measured phase, as % of one core */
  serverCpuPercent: number | undefined;
}

const listPageKeys = 1000;
/**
 * A worker whose request failed short of an HTTP answer (refused, reset, cut off) waits this long
 * before its next one: a server that went away is not hammered (without the pause, 26k refused
 * connections a second at 85 % of a core), and the error counts stay readable.
 */
export const networkFailurePauseMs = 50;

export async function runBench(opts: RunOptions, onProgress?: (p: Progress) => void): Promise<RunReport> {
  const client = createClient(opts.client, opts.endpoint, opts.concurrency);
  const s3 = new S3Ops(client, {
    endpoint: opts.endpoint,
    accessKey: opts.accessKey,
    secretKey: opts.secretKey,
    region: opts.region,
    payload: opts.payload,
    keyPrefix: opts.keyPrefix,
    customerKey: opts.sseC ? new Uint8Array(randomBytes(32)) : undefined,
  });
  const ownBucket = opts.bucket === undefined;
  const bucket = opts.bucket ?? `s3d-bench-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
  const rec = new Recorder();
  /** objects that exist on the server (to GET, and to remove afterwards) */
  const present = new Uint8Array(opts.objects);
  const extra: Record<string, number> = {};
  let phase = "prepare";
  const startedMs = performance.now();
  let measuredStartMs = startedMs;
  const ticker = onProgress && setInterval(() => onProgress({ elapsedMs: performance.now() - measuredStartMs, ops: rec.ops, bytes: rec.bytes, errors: rec.errors, phase }), 500);

  let prepareMs = 0;
  let measuredMs = 0;
  let cleanupMs = 0;
  let cpu = { user: 0, system: 0 };
  let serverCpuMs: number | undefined;
  try {
    // Content and digests are computed before the clock starts: the pattern once at full size,
    // a SHA-256 (signed payloads) and a CRC per distinct body.
    patternOf(contentOffsetsMax + opts.sizeBytes);
    const distinct = Math.min(opts.objects, contentOffsetsMax);
    for (let i = 0; i < distinct; i++) {
      if (opts.op === "multipart") {
        for (let start = 0; start < opts.sizeBytes; start += opts.partSizeBytes) {
          if (opts.payload === "signed") s3.digests.sha256Of(i, start, Math.min(opts.partSizeBytes, opts.sizeBytes - start));
        }
      } else if (opts.payload === "signed" && opts.op !== "list" && opts.op !== "delete") {
        s3.digests.sha256Of(i, 0, opts.sizeBytes);
      }
      if (opts.op === "get" || opts.op === "mixed") s3.digests.crc32Of(i, opts.sizeBytes);
    }
    await s3.createBucket(bucket);
    const needsObjects = opts.op === "get" || opts.op === "mixed" || opts.op === "list" || opts.op === "delete";
    if (needsObjects) {
      await pool(opts.concurrency, opts.objects, async (i) => {
        await s3.putObject(bucket, i, opts.sizeBytes);
        present[i] = 1;
      });
    }
    prepareMs = performance.now() - startedMs;

    phase = opts.op;
    const cpuBefore = process.cpuUsage();
    const serverTicks = () => (opts.serverPid === undefined ? undefined : procCpuTicks(opts.serverPid));
    const serverBefore = serverTicks();
    measuredStartMs = performance.now();
    const endAtMs = measuredStartMs + opts.durationMs;
    /** Ends the measured phase: its time and both processes' CPU are read at the same moment. */
    const endMeasured = () => {
      measuredMs = performance.now() - measuredStartMs;
      cpu = process.cpuUsage(cpuBefore);
      const serverAfter = serverTicks();
      if (serverBefore !== undefined && serverAfter !== undefined) serverCpuMs = (serverAfter - serverBefore) * 10;
    };
    const timed = async (work: () => Promise<number>) => {
      const t0 = performance.now();
      try {
        const bytes = await work();
        rec.success(performance.now() - t0, bytes);
      } catch (error) {
        if (!(error instanceof OpError)) throw error;
        rec.failure(error.code, error.message);
        if (error.code.startsWith("Network:")) await Bun.sleep(networkFailurePauseMs);
      }
    };

    if (opts.op === "put") {
      let next = 0;
      await workers(opts.concurrency, endAtMs, async () => {
        const i = next++ % opts.objects;
        await timed(async () => {
          const n = await s3.putObject(bucket, i, opts.sizeBytes);
          present[i] = 1;
          return n;
        });
      });
    } else if (opts.op === "get") {
      let next = 0;
      await workers(opts.concurrency, endAtMs, async () => {
        const i = next++ % opts.objects;
        await timed(() => s3.getObject(bucket, i, opts.sizeBytes));
      });
    } else if (opts.op === "mixed") {
      // Worker w owns objects w, w + C, ...: one key never sees two of our requests at once,
      // so what a GET must return is known.
      const owners = Math.min(opts.concurrency, opts.objects);
      const counts = { get: 0, put: 0, delete: 0 };
      const cursors = Array.from({ length: owners }, (_, w) => w);
      const seeds = Array.from({ length: owners }, (_, w) => (0x2545f491 ^ Math.imul(w + 1, 0x9e3779b9)) >>> 0);
      await workers(owners, endAtMs, async (w) => {
        seeds[w] = (Math.imul(seeds[w], 1103515245) + 12345) >>> 0;
        const roll = (seeds[w] >>> 8) % 100;
        const i = cursors[w];
        cursors[w] = i + owners >= opts.objects ? w : i + owners;
        if (roll < 60 && present[i]) {
          counts.get++;
          await timed(() => s3.getObject(bucket, i, opts.sizeBytes));
        } else if (roll < 90 || !present[i]) {
          counts.put++;
          await timed(async () => {
            const n = await s3.putObject(bucket, i, opts.sizeBytes);
            present[i] = 1;
            return n;
          });
        } else {
          counts.delete++;
          await timed(async () => {
            await s3.deleteObject(bucket, i);
            present[i] = 0;
            return 0;
          });
        }
      });
      Object.assign(extra, { gets: counts.get, puts: counts.put, deletes: counts.delete });
    } else if (opts.op === "list") {
      // Each worker lists the whole bucket page by page; an op is one page.
      let keysListed = 0;
      await workers(opts.concurrency, endAtMs, async () => {
        let token: string | undefined;
        let seen = 0;
        let last = "";
        do {
          let page: Awaited<ReturnType<S3Ops["listPage"]>> | undefined;
          await timed(async () => {
            page = await s3.listPage(bucket, opts.keyPrefix, token, listPageKeys);
            for (const key of page.keys) {
              if (key <= last) throw new OpError("VerificationFailed", `list: key "${key}" out of order after "${last}"`);
              last = key;
            }
            return 0;
          });
          if (page === undefined) return;
          seen += page.keys.length;
          keysListed += page.keys.length;
          token = page.nextToken;
        } while (token !== undefined && performance.now() < endAtMs);
        if (token === undefined && seen !== opts.objects) {
          rec.failure("VerificationFailed", `list: ${seen} keys, expected ${opts.objects}`);
        }
      });
      extra.keysPerSec = 0;
      extra.keysListed = keysListed;
    } else if (opts.op === "delete") {
      let next = 0;
      await workers(opts.concurrency, endAtMs, async () => {
        if (next >= opts.objects) return false;
        const i = next++;
        await timed(async () => {
          await s3.deleteObject(bucket, i);
          present[i] = 0;
          return 0;
        });
      });
    } else {
      // multipart: one upload at a time, C parts in flight; an op is one whole upload.
      let upload = 0;
      let parts = 0;
      let lastDone = -1;
      const partCount = Math.ceil(opts.sizeBytes / opts.partSizeBytes);
      await workers(1, endAtMs, async () => {
        const i = upload++ % opts.objects;
        await timed(async () => {
          const uploadId = await s3.createMultipart(bucket, i);
          try {
            const etags: string[] = new Array(partCount);
            await pool(opts.concurrency, partCount, async (p) => {
              const start = p * opts.partSizeBytes;
              const length = Math.min(opts.partSizeBytes, opts.sizeBytes - start);
              etags[p] = await s3.uploadPart(bucket, i, uploadId, p + 1, start, length);
              parts++;
            });
            await s3.completeMultipart(bucket, i, uploadId, etags);
          } catch (error) {
            await s3.abortMultipart(bucket, i, uploadId).catch(() => {});
            throw error;
          }
          present[i] = 1;
          lastDone = i;
          return opts.sizeBytes;
        });
      }, true);
      extra.parts = parts;
      extra.partSizeBytes = opts.partSizeBytes;
      endMeasured();
      // Read the last upload back (outside the measured time): the parts must have been joined in order.
      if (lastDone >= 0) {
        try {
          await s3.getObject(bucket, lastDone, opts.sizeBytes);
        } catch (error) {
          if (!(error instanceof OpError)) throw error;
          rec.failure(error.code, error.message);
        }
      }
    }
    if (measuredMs === 0) endMeasured();
    if (opts.op === "list") extra.keysPerSec = round(extra.keysListed / (measuredMs / 1000), 0);
  } finally {
    phase = "cleanup";
    const cleanupStart = performance.now();
    try {
      if (!opts.noCleanup) {
        const left: number[] = [];
        for (let i = 0; i < present.length; i++) if (present[i]) left.push(i);
        await pool(opts.concurrency, left.length, (j) => s3.deleteObject(bucket, left[j]).catch(() => {}));
        if (ownBucket) await s3.deleteBucket(bucket).catch((error) => rec.failure("CleanupFailed", String(error?.message ?? error)));
      }
    } finally {
      cleanupMs = performance.now() - cleanupStart;
      if (ticker) clearInterval(ticker);
      client.close();
    }
  }

  const seconds = measuredMs / 1000;
  return {
    op: opts.op,
    endpoint: opts.endpoint.origin,
    client: opts.client,
    payload: opts.payload,
    sseC: opts.sseC,
    sizeBytes: opts.sizeBytes,
    objects: opts.objects,
    concurrency: opts.concurrency,
    durationMs: Math.round(measuredMs),
    ops: rec.ops,
    opsPerSec: round(rec.ops / seconds, 1),
    mibPerSec: round(rec.bytes / mibBytes / seconds, 1),
    latency: rec.latency(),
    errors: rec.errors,
    errorsByCode: Object.fromEntries(rec.errorsByCode),
    errorExamples: rec.examples,
    verified: rec.verifyFailures === 0,
    extra,
    prepareMs: Math.round(prepareMs),
    cleanupMs: Math.round(cleanupMs),
    clientCpuPercent: round(((cpu.user + cpu.system) / 1000 / measuredMs) * 100, 0),
    serverCpuPercent: serverCpuMs === undefined ? undefined : round((serverCpuMs / measuredMs) * 100, 0),
  };
}

/**
 * C workers, each repeating step(w) until the deadline (or until it returns false). With
 * `atLeastOnce`, each worker runs one step even when the deadline has passed (a multipart
 * upload longer than the duration still counts once).
 */
async function workers(count: number, endAtMs: number, step: (w: number) => Promise<unknown>, atLeastOnce = false): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, w) => {
      let first = atLeastOnce;
      while (first || performance.now() < endAtMs) {
        first = false;
        if ((await step(w)) === false) return;
      }
    }),
  );
}

/** Runs task(0..n-1) with at most `width` at once. */
async function pool(width: number, n: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failed: unknown;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n && failed === undefined) {
        const i = next++;
        try {
          await task(i);
        } catch (error) {
          failed ??= error;
        }
      }
    }),
  );
  if (failed !== undefined) throw failed;
}

