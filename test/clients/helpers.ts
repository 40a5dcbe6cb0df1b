/**
 * Shared plumbing for the real-client tests: run a client as a subprocess with a clean
 * environment, make random files, hash them, and fail (never skip) when a client is missing.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect } from "bun:test";
import { accessKey, region, secretKey, startS3d, type TestServer } from "../support/server.ts";

export const installHint = "install the real clients with: apt-get install -y awscli python3-boto3 python3-requests s3cmd rclone chromium prometheus";

/** Throws (so the test fails) when a client executable is not present. */
export function requireExecutable(path: string, what: string): void {
  let ok = false;
  try {
    ok = existsSync(path) && (statSync(path).mode & 0o111) !== 0;
  } catch {
    ok = false;
  }
  if (!ok) throw new Error(`${what} is missing (${path} not found or not executable): ${installHint}`);
}

/** The start of an AWS CLI v2 command line (Debian's /usr/bin/aws) for a test server. Fails the test when it is missing. */
export function awsArgs(endpoint: string): string[] {
  const awsPath = "/usr/bin/aws";
  requireExecutable(awsPath, "AWS CLI v2 (/usr/bin/aws)");
  return [awsPath, "--endpoint-url", endpoint];
}

/**
 * The start of an s3cmd command line for a test server on 127.0.0.1:`port`: Debian's s3cmd, no
 * config file of its own, path style over plain HTTP, as the tests' root user unless given other
 * `credentials`. Fails the test when s3cmd is missing.
 */
export function s3cmdArgs(port: number, credentials = { accessKey, secretKey }): string[] {
  const s3cmdPath = "/usr/bin/s3cmd";
  requireExecutable(s3cmdPath, "s3cmd (/usr/bin/s3cmd)");
  const host = `127.0.0.1:${port}`;
  return [s3cmdPath, "--config=/dev/null", `--access_key=${credentials.accessKey}`, `--secret_key=${credentials.secretKey}`, `--host=${host}`, `--host-bucket=${host}`, "--no-ssl", "--region=us-east-1"];
}

/** Finds an executable on PATH the way a shell would (first match). */
export function whichOnPath(name: string): string | undefined {
  return Bun.which(name) ?? undefined;
}

export interface TempDir {
  path: string;
  file(name: string): string;
  remove(): void;
}

export function makeTempDir(prefix: string): TempDir {
  const path = mkdtempSync(join(tmpdir(), `s3d-${prefix}-`));
  return {
    path,
    file: (name) => join(path, name),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/**
 * Environment for a client subprocess: our credentials and region, and nothing from the
 * machine's own AWS setup (config files, profiles, CA bundle, endpoint overrides).
 */
export function clientEnv(tmp: TempDir, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (k.startsWith("AWS_") || k.startsWith("BOTO_")) continue; // AWS_CA_BUNDLE, AWS_PROFILE, AWS_ENDPOINT_URL...
    env[k] = v;
  }
  env.AWS_ACCESS_KEY_ID = accessKey;
  env.AWS_SECRET_ACCESS_KEY = secretKey;
  env.AWS_DEFAULT_REGION = region;
  env.AWS_REGION = region;
  env.AWS_CONFIG_FILE = join(tmp.path, "no-such-aws-config");
  env.AWS_SHARED_CREDENTIALS_FILE = join(tmp.path, "no-such-aws-credentials");
  env.AWS_EC2_METADATA_DISABLED = "true";
  env.AWS_PAGER = "";
  // s3cmd and others look in $HOME for their config files: give them an empty one.
  env.HOME = tmp.path;
  return { ...env, ...extra };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** a one-line-per-field summary for assertion messages */
  describe: string;
}

export async function run(
  cmd: string[],
  opts: { env: Record<string, string>; cwd?: string; timeoutMs?: number; stdin?: string } ,
): Promise<RunResult> {
  const proc = Bun.spawn(cmd, {
    env: opts.env,
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill(9);
  }, timeoutMs);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout as ReadableStream<Uint8Array>).text(),
    new Response(proc.stderr as ReadableStream<Uint8Array>).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  const shown = cmd.map((a) => (a === secretKey ? "<secret>" : a)).join(" ");
  const describe =
    `command: ${shown}\nexit: ${code}${timedOut ? ` (killed after ${timeoutMs} ms)` : ""}\n` +
    `stdout: ${stdout.slice(0, 4000)}\nstderr: ${stderr.slice(0, 4000)}`;
  return { code, stdout, stderr, describe };
}

/** Writes sizeBytes of random data to path and returns its sha256 (hex). */
export async function writeRandomFile(path: string, sizeBytes: number): Promise<string> {
  const hash = createHash("sha256");
  const writer = Bun.file(path).writer();
  const chunkBytes = 1 << 20;
  for (let done = 0; done < sizeBytes; done += chunkBytes) {
    const chunk = randomBytes(Math.min(chunkBytes, sizeBytes - done));
    hash.update(chunk);
    writer.write(chunk);
  }
  await writer.end();
  return hash.digest("hex");
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of Bun.file(path).stream()) hash.update(chunk);
  return hash.digest("hex");
}

export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export function md5Hex(data: Uint8Array | string): string {
  return createHash("md5").update(data).digest("hex");
}

/** The Code element of an S3 XML error body. */
export function xmlErrorCode(body: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
}

/** Imports an npm client, or fails with how to install it. */
export async function requireModule<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (e) {
    throw new Error(`${name} is missing (${(e as Error).message}): install it with: npm i -D ${name}`);
  }
}

/**
 * A test file's own s3d and scratch dir, and the AWS CLI pointed at both (`awsCli`): the dir is
 * made at once, the server started before the file's tests (read `server` in them) with the
 * options `serverOptions` makes (it may write a config file into the dir first), both removed
 * after them.
 */
export function clientSuite(prefix: string, serverOptions: (tmp: TempDir) => Parameters<typeof startS3d>[0] = () => ({})) {
  let server: TestServer | undefined;
  const tmp = makeTempDir(prefix);
  beforeAll(async () => {
    server = await startS3d(serverOptions(tmp));
  });
  afterAll(async () => {
    await server?.stop();
    tmp.remove();
  });
  return {
    get server(): TestServer {
      return server!;
    },
    tmp,
    ...awsCli(() => server!.endpoint, () => tmp),
  };
}

/**
 * The AWS CLI against one server (given late: tests start it in beforeAll): `aws` runs any command,
 * `api` an `s3api` call that must succeed (its JSON output, {} when it prints nothing), `apiFails`
 * one that must fail (its stderr).
 */
export function awsCli(endpoint: () => string, tmp: () => TempDir) {
  const aws = (...args: string[]) => run([...awsArgs(endpoint()), ...args], { env: clientEnv(tmp()), timeoutMs: 60_000 });
  return {
    aws,
    api: async (...args: string[]): Promise<any> => {
      const r = await aws("s3api", ...args, "--output", "json");
      expect(r.code, r.describe).toBe(0);
      return r.stdout.trim() === "" ? {} : JSON.parse(r.stdout);
    },
    apiFails: async (...args: string[]): Promise<string> => {
      const r = await aws("s3api", ...args);
      expect(r.code, r.describe).not.toBe(0);
      return r.stderr;
    },
  };
}

/**
 * The two boto3s the client tests run a script with, as [what, python, short name]: Debian's 1.26
 * (Content-MD5) and the python3 on PATH with 1.43 (CRC32 checksums by default).
 */
export const boto3Pythons = [
  ["1.26 (Debian /usr/bin/python3: Content-MD5)", "/usr/bin/python3", "debian"],
  ["1.43 (python3 on PATH: CRC32 checksums)", whichOnPath("python3") ?? "(python3 is not on PATH)", "path"],
] as const;
