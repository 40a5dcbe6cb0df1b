/** The bench command line: three modes (load run, null server, disk ceiling), checked strictly. */
import { clientKinds, type ClientKind } from "./http.ts";
import type { PayloadMode } from "./s3ops.ts";
import { parseDurationMs, parseSizeBytes } from "../util/units.ts";

export const ops = ["put", "get", "mixed", "list", "delete", "multipart"] as const;
export type Op = (typeof ops)[number];

export interface RunOptions {
  mode: "run";
  endpoint: URL;
  accessKey: string;
  secretKey: string;
  /** undefined: a fresh bucket, created and removed by the run */
  bucket: string | undefined;
  region: string;
  op: Op;
  sizeBytes: number;
  objects: number;
  concurrency: number;
  durationMs: number;
  json: boolean;
  payload: PayloadMode;
  client: ClientKind;
  partSizeBytes: number;
  keyPrefix: string;
  /** a server process whose CPU time the report includes (Linux /proc) */
  serverPid: number | undefined;
  /** leave the objects and bucket in place */
  noCleanup: boolean;
  /** objects sealed with a key of the run's own (SSE-C headers on PUT, GET and multipart) */
  sseC: boolean;
}

export interface NullServerOptions {
  mode: "null-server";
  host: string;
  port: number;
  engine: "node" | "bun";
  /** test flag: GET bodies come back with one byte flipped */
  corrupt: boolean;
  /** uploads are hashed as s3d hashes them (MD5 ETag, SHA-256 of a signed payload checked) */
  hash: boolean;
}

export interface DiskOptions {
  mode: "disk-ceiling";
  dir: string;
  sizeBytes: number;
  durationMs: number;
  /** also measure this many blobs written at once through s3d's blob store (0: not) */
  blobStreams: number;
  json: boolean;
}

export type BenchOptions = RunOptions | NullServerOptions | DiskOptions | { mode: "help" };

export class UsageError extends Error {}

export const usage = `usage:
  s3d bench --endpoint URL --access-key K --secret-key S [options]   load an S3 endpoint
  s3d bench --null-server [--port P] [--host H] [--engine node|bun] [--hash]
                                                                     an in-memory S3-shaped target
                                                                     (--hash: uploads hashed as s3d does)
  s3d bench --disk-ceiling --dir D [--size 64MiB] [--duration 3s] [--concurrency C]
                                                                     durable write bandwidth of a disk
                                                                     (C: also C blobs at once through s3d's blob store)

load options:
  --op put|get|mixed|list|delete|multipart   workload (default put)
  --size 4KiB|1MiB|64MiB|...                 object size (default 4KiB; multipart: whole object)
  --objects N                                distinct objects (default 100)
  --concurrency C                            requests in flight (default 8; multipart: parts in flight)
  --duration 30s                             how long to run (default 30s; delete stops when all are gone)
  --bucket B                                 use B (created if missing, kept); default: a fresh bucket, removed after
  --region R                                 signing region (default us-east-1)
  --payload signed|unsigned                  PUT payload hash (default signed: SHA-256 once per distinct body)
  --part-size 16MiB                          multipart part size (default 16MiB)
  --client socket|node|fetch                 HTTP client (default socket: s3d's own over Bun's TCP sockets)
  --key-prefix P                             object key prefix (default bench/)
  --server-pid PID                           also report this process's CPU use (Linux)
  --no-cleanup                               keep the objects
  --sse-c                                    seal the objects with a random key of the run's (SSE-C)
  --json                                     one JSON document on stdout
`;

const flags = new Set(["--json", "--null-server", "--disk-ceiling", "--corrupt", "--hash", "--no-cleanup", "--sse-c", "--help", "-h"]);

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const values = new Map<string, string>();
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("-")) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (seen.has(name)) throw new UsageError(`${name} given twice`);
    seen.add(name);
    if (flags.has(name)) {
      if (eq > 0) throw new UsageError(`${name} takes no value`);
      continue;
    }
    if (!knownOptions.has(name)) throw new UsageError(`unknown option ${name}`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith("--"))) throw new UsageError(`${name} needs a value`);
    values.set(name, value);
  }
  if (seen.has("--help") || seen.has("-h")) return { mode: "help" };
  if (seen.has("--null-server") && seen.has("--disk-ceiling")) throw new UsageError("--null-server and --disk-ceiling are separate modes");

  if (seen.has("--null-server")) {
    only(values, ["--port", "--host", "--engine"], "--null-server");
    const engine = values.get("--engine") ?? "node";
    if (engine !== "node" && engine !== "bun") throw new UsageError(`--engine must be node or bun, not "${engine}"`);
    if (seen.has("--hash") && engine !== "node") throw new UsageError("--hash runs on --engine node, s3d's own HTTP stack");
    return {
      mode: "null-server",
      host: values.get("--host") ?? "127.0.0.1",
      port: integer(values, "--port", 0, 0, 65535),
      engine,
      corrupt: seen.has("--corrupt"),
      hash: seen.has("--hash"),
    };
  }
  if (seen.has("--corrupt")) throw new UsageError("--corrupt only applies to --null-server");
  if (seen.has("--sse-c") && seen.has("--disk-ceiling")) throw new UsageError("--sse-c applies to load runs");
  if (seen.has("--hash")) throw new UsageError("--hash only applies to --null-server");

  if (seen.has("--disk-ceiling")) {
    only(values, ["--dir", "--size", "--duration", "--concurrency"], "--disk-ceiling");
    const dir = values.get("--dir");
    if (dir === undefined) throw new UsageError("--disk-ceiling needs --dir D (a directory on the disk to measure)");
    return {
      mode: "disk-ceiling",
      dir,
      sizeBytes: size(values, "--size", 64 * 1024 * 1024, 1024 * 1024),
      durationMs: duration(values, "--duration", 3000),
      blobStreams: integer(values, "--concurrency", 0, 0, 64),
      json: seen.has("--json"),
    };
  }

  for (const name of ["--port", "--host", "--engine", "--dir"]) {
    if (values.has(name)) throw new UsageError(`${name} only applies to --null-server or --disk-ceiling`);
  }
  const endpointText = values.get("--endpoint");
  if (endpointText === undefined) throw new UsageError("--endpoint URL is required (e.g. --endpoint http://127.0.0.1:9000), or give --null-server / --disk-ceiling");
  let endpoint: URL;
  try {
    endpoint = new URL(endpointText);
  } catch {
    throw new UsageError(`--endpoint "${endpointText}" is not a URL`);
  }
  if (endpoint.protocol !== "http:" && endpoint.protocol !== "https:") throw new UsageError(`--endpoint must be http:// or https://, not ${endpoint.protocol}`);
  if (endpoint.pathname !== "/" || endpoint.search !== "") throw new UsageError("--endpoint takes no path or query: buckets are addressed path-style");
  const accessKey = values.get("--access-key") ?? process.env.AWS_ACCESS_KEY_ID;
  const secretKey = values.get("--secret-key") ?? process.env.AWS_SECRET_ACCESS_KEY;
  if (accessKey === undefined || accessKey === "") throw new UsageError("--access-key K is required (or AWS_ACCESS_KEY_ID)");
  if (secretKey === undefined || secretKey === "") throw new UsageError("--secret-key S is required (or AWS_SECRET_ACCESS_KEY)");
  const op = values.get("--op") ?? "put";
  if (!(ops as readonly string[]).includes(op)) throw new UsageError(`--op must be one of ${ops.join(", ")}, not "${op}"`);
  const bucket = values.get("--bucket");
  if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new UsageError(`--bucket "${bucket}" is not a valid bucket name`);
  const payload = values.get("--payload") ?? "signed";
  if (payload !== "signed" && payload !== "unsigned") throw new UsageError(`--payload must be signed or unsigned, not "${payload}"`);
  const client = values.get("--client") ?? "socket";
  if (!(clientKinds as readonly string[]).includes(client)) throw new UsageError(`--client must be one of ${clientKinds.join(", ")}, not "${client}"`);
  const concurrency = integer(values, "--concurrency", 8, 1, 4096);
  const sizeBytes = size(values, "--size", 4096, 0);
  const partSizeBytes = size(values, "--part-size", 16 * 1024 * 1024, 5 * 1024 * 1024);
  if (op === "multipart" && sizeBytes < 1) throw new UsageError("--op multipart needs --size of at least 1 byte");
  if (op === "multipart" && Math.ceil(sizeBytes / partSizeBytes) > 10_000) throw new UsageError("--op multipart: --size / --part-size exceeds 10,000 parts");
  const serverPid = values.has("--server-pid") ? integer(values, "--server-pid", 0, 1, 2 ** 31) : undefined;
  return {
    mode: "run",
    endpoint,
    accessKey,
    secretKey,
    bucket,
    region: values.get("--region") ?? "us-east-1",
    op: op as Op,
    sizeBytes,
    objects: integer(values, "--objects", op === "multipart" ? 1 : 100, 1, 10_000_000),
    concurrency,
    durationMs: duration(values, "--duration", 30_000),
    json: seen.has("--json"),
    payload,
    client: client as ClientKind,
    partSizeBytes,
    keyPrefix: values.get("--key-prefix") ?? "bench/",
    serverPid,
    noCleanup: seen.has("--no-cleanup"),
    sseC: seen.has("--sse-c"),
  };
}

const knownOptions = new Set([
  "--endpoint", "--access-key", "--secret-key", "--bucket", "--region", "--op", "--size", "--objects", "--concurrency",
  "--duration", "--payload", "--client", "--part-size", "--key-prefix", "--server-pid", "--port", "--host", "--engine", "--dir",
]);

function only(values: Map<string, string>, allowed: string[], mode: string): void {
  for (const name of values.keys()) {
    if (!allowed.includes(name)) throw new UsageError(`${name} does not apply to ${mode}`);
  }
}

function integer(values: Map<string, string>, name: string, fallback: number, min: number, max: number): number {
  const text = values.get(name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new UsageError(`${name} must be a whole number, not "${text}"`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`${name} must be between ${min} and ${max}, not ${n}`);
  return n;
}

function size(values: Map<string, string>, name: string, fallback: number, min: number): number {
  const text = values.get(name);
  if (text === undefined) return fallback;
  const bytes = parseSizeBytes(text);
  if (bytes === undefined) throw new UsageError(`${name} "${text}" is not a size (e.g. 4KiB, 1MiB, 64MiB)`);
  if (bytes < min) throw new UsageError(`${name} must be at least ${min} bytes`);
  if (bytes > 5 * 1024 ** 4) throw new UsageError(`${name} is larger than S3's 5 TiB object limit`);
  return bytes;
}

function duration(values: Map<string, string>, name: string, fallback: number): number {
  const text = values.get(name);
  if (text === undefined) return fallback;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0) throw new UsageError(`${name} "${text}" is not a duration (e.g. 30s, 500ms, 2m)`);
  return ms;
}
