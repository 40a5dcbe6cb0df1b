/**
 * Starts the built binary (dist/s3d) for a test: a free port on 127.0.0.1, a fresh temp data
 * dir, fixed credentials. stop() kills the process and removes the data dir.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../../src/util/free-port.ts";
import type { Subprocess } from "bun";

export const binaryPath = resolve(import.meta.dir, "../../dist/s3d");
export const accessKey = "TESTACCESSKEY";
export const secretKey = "test-secret-key-0123456789";
export const region = "us-east-1";

export interface TestServer {
  endpoint: string;
  port: number;
  dataDir: string;
  process: Subprocess;
  /** everything the server wrote to stderr so far */
  logs(): string;
  /** kill -9 (crash) without removing the data dir */
  crash(): Promise<void>;
  /** start again on the same data dir and port */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export { freePort };

/** Waits until `endpoint` answers its health check; `tls.ca` trusts a self-signed certificate. */
export async function waitForHealth(endpoint: string, timeoutMs = 10_000, tls?: { ca: string }): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${endpoint}/_s3d/health`, tls && { tls });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(25);
  }
  throw new Error(`s3d at ${endpoint} did not become healthy within ${timeoutMs} ms`);
}

/** A self-signed certificate for 127.0.0.1, made by openssl as dir/cert.pem and dir/key.pem; `ca` is its text. */
export function selfSignedCert(dir: string): { cert: string; key: string; ca: string } {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const openssl = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], { stderr: "pipe" });
  if (openssl.exitCode !== 0) throw new Error(`openssl could not make a certificate: ${openssl.stderr.toString()}`);
  return { cert, key, ca: readFileSync(cert, "utf8") };
}

/** `tls`: serve HTTPS with this certificate (selfSignedCert); the endpoint is then https:// and trusted by its `ca`. */
export async function startS3d(
  options: { dataDir?: string; args?: string[]; env?: Record<string, string>; tls?: { cert: string; key: string; ca: string } } = {},
): Promise<TestServer> {
  if (!existsSync(binaryPath)) throw new Error(`${binaryPath} is missing: run "npm run build" first`);
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "s3d-test-"));
  const port = await freePort();
  const { tls } = options;
  const endpoint = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
  const tlsArgs = tls ? ["--tls-cert", tls.cert, "--tls-key", tls.key] : [];
  let stderr = "";
  let proc: Subprocess;
  const spawn = async () => {
    proc = Bun.spawn([binaryPath, "--data-dir", dataDir, "--port", String(port), "--log-level", "warn", ...tlsArgs, ...(options.args ?? [])], {
      env: { ...process.env, S3D_ACCESS_KEY: accessKey, S3D_SECRET_KEY: secretKey, ...options.env },
      stdout: "ignore",
      stderr: "pipe",
    });
    void (async () => {
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) stderr += new TextDecoder().decode(chunk);
    })();
    await waitForHealth(endpoint, undefined, tls && { ca: tls.ca });
  };
  await spawn();
  const server: TestServer = {
    endpoint,
    port,
    dataDir,
    get process() {
      return proc;
    },
    logs: () => stderr,
    crash: async () => {
      proc.kill(9);
      await proc.exited;
    },
    restart: spawn,
    stop: async () => {
      proc.kill();
      await proc.exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}
