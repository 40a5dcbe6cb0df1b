/** s3d's entry point: parse settings, open the store, serve S3. */
import "./runtime-settings.ts"; // first: it may restart the process before anything else loads
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { ConfigError, isLoopback, loadConfig, parseArgs, usage, type Config } from "./config.ts";
import type { User } from "./s3/auth.ts";
import { rootCredentials } from "./credentials.ts";
import { createLogger } from "./log.ts";
import { LifecycleRunner } from "./s3/lifecycle-runner.ts";
import { isMetricsToken } from "./s3/metrics.ts";
import { shutdownGraceMs, startServer } from "./s3/server.ts";
import { readMasterKeyFile, keyFingerprint } from "./shard/keys.ts";
import { FsBackend } from "./store/fs/backend.ts";
import { hashPool } from "./util/hash-worker.ts";
import { Gauge } from "./util/metrics.ts";

/** Subcommands: each takes the words after its name. */
const subcommands: Record<string, (args: string[]) => Promise<number>> = {
  bench: async (args) => (await import("./bench/cli.ts")).benchMain(args),
  keygen: async (args) => {
    if (args.length !== 1) throw new ConfigError("usage: s3d keygen FILE");
    const { keygen } = await import("./shard/keys.ts");
    const fingerprint = await keygen(args[0]);
    process.stdout.write(`wrote a 32-byte master key to ${args[0]} (mode 0600), fingerprint ${fingerprint}\n`);
    return 0;
  },
  certs: async (args) => {
    const usage = "usage: s3d certs DIR --nodes ID,ID,... [--hosts HOST,HOST,...]";
    const [dir, ...rest] = args;
    const list = (flag: string) => {
      const i = rest.indexOf(flag);
      return i < 0 ? [] : (rest[i + 1] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
    };
    const nodes = list("--nodes");
    if (dir === undefined || dir.startsWith("--") || nodes.length === 0) throw new ConfigError(usage);
    const { generateDevCerts } = await import("./net/certs.ts");
    await generateDevCerts(dir, nodes, list("--hosts"));
    process.stdout.write(`wrote a development CA, certificates for ${nodes.join(", ")} and cluster.secret to ${dir}\n`);
    return 0;
  },
};

/** The TLS certificate and key, each checked on its own and against the other, so that a refusal names the file at fault. */
function readTls(certFile: string, keyFile: string): { cert: string; key: string } {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (error) {
      throw new Error(`${what} ${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const cert = read(certFile, "--tls-cert");
  const key = read(keyFile, "--tls-key");
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    throw new Error(`--tls-cert ${certFile}: not a PEM certificate`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new Error(`--tls-key ${keyFile}: not a PEM private key`);
  }
  if (!certificate.checkPrivateKey(privateKey)) throw new Error(`--tls-key ${keyFile} is not the key of the certificate in ${certFile}`);
  return { cert, key };
}

/** Root and the configured users; an access key both root's and a user's is refused. */
function withRoot(root: User, users: readonly User[]): User[] {
  const shared = users.find((u) => u.accessKey === root.accessKey);
  if (shared) throw new Error(`access key ${shared.accessKey} is both root's and user ${shared.name}'s`);
  return [root, ...users];
}

/** Settings that a reload (SIGHUP) reads but that take effect only when s3d starts again (the certificate files' contents too). */
const restartSettings = ["host", "port", "dataDir", "region", "domain", "websiteDomain", "tlsCert", "tlsKey", "logLevel", "minFreeBytes", "encryptionKeyFile", "idleTimeoutSeconds", "lifecycleIntervalSeconds", "sseCOverLoopback"] as const;
// (every setting is either reloaded or listed above: a new one must be put in one place or the other)
true satisfies Exclude<keyof Config, (typeof restartSettings)[number] | "users" | "metricsTokenFile" | "blockPublicAccess"> extends never ? true : false;

/**
 * The metrics bearer token from its file (surrounding whitespace dropped, as Prometheus drops it
 * from its credentials file), refused as the master key's file is when group or others may use it.
 */
function readMetricsToken(file: string): string {
  let token: string;
  let mode: number;
  try {
    mode = statSync(file).mode;
    token = readFileSync(file, "utf8").trim();
  } catch (error) {
    throw new ConfigError(`--metrics-token-file ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if ((mode & 0o077) !== 0) throw new ConfigError(`--metrics-token-file ${file}: mode ${(mode & 0o777).toString(8).padStart(4, "0")} lets group or others use it; run: chmod 600 ${file}`);
  if (!isMetricsToken(token)) throw new ConfigError(`--metrics-token-file ${file}: the token must be 16 to 4096 printable ASCII characters without spaces`);
  return token;
}

// A closed stdout or stderr (`s3d | head`) costs the output, not the server.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});

async function main(argv: string[]): Promise<number> {
  const subcommand = subcommands[argv[0] ?? ""];
  if (subcommand) return subcommand(argv.slice(1));
  const args = parseArgs(argv);
  if (args.command === "help") {
    process.stdout.write(usage);
    return 0;
  }
  if (args.command === "version") {
    process.stdout.write(`s3d ${pkg.version}\n`);
    return 0;
  }
  // SIGHUP reloads the configuration (below); one that comes while s3d starts is kept until it has
  // (by default the signal would end the process)
  let reload: (() => void) | undefined;
  let reloadPending = false;
  process.on("SIGHUP", () => (reload ? reload() : (reloadPending = true)));
  const config = loadConfig(args, undefined, process.env);
  const logger = createLogger(config.logLevel);
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  // The key file is refused when group or others can read it; only its fingerprint is shown.
  const encryptionKey = config.encryptionKeyFile === undefined ? undefined : readMasterKeyFile(config.encryptionKeyFile);
  const metricsToken = config.metricsTokenFile === undefined ? undefined : readMetricsToken(config.metricsTokenFile);
  // (first: it locks the data dir, so that a second s3d refused there writes nothing into it)
  const backend = new FsBackend(dataDir, { minFreeBytes: config.minFreeBytes, encryptionKey });
  const root = rootCredentials(dataDir, process.env);
  const users = withRoot(root.user, config.users);
  const fingerprint = encryptionKey === undefined ? undefined : keyFingerprint(encryptionKey);
  encryptionKey?.fill(0); // the backend keeps its own copy
  const encryption = fingerprint === undefined ? "off" : `on (AES-256-GCM, key fingerprint ${fingerprint})`;
  const orphans = backend.collectOrphans();
  if (orphans > 0) logger.info("removed orphan files left by an interrupted write", { count: orphans });

  if (config.tlsCert === undefined && !isLoopback(config.host)) {
    logger.warn("serving plain HTTP on a non-loopback address: credentials and data cross the network unencrypted; give --tls-cert and --tls-key", { host: config.host });
  }
  const tls = config.tlsCert !== undefined && config.tlsKey !== undefined ? readTls(config.tlsCert, config.tlsKey) : undefined;
  hashPool.startAll();
  const lifecycle = new LifecycleRunner(backend, logger, config.lifecycleIntervalSeconds * 1000);
  const buildInfo = new Gauge("s3d_build_info", "The s3d build serving, as its version label; always 1.", () => [[[pkg.version], 1]], ["version"]);
  const server = await startServer({
    host: config.host,
    port: config.port,
    region: config.region,
    domain: config.domain,
    websiteDomain: config.websiteDomain,
    users,
    backend,
    logger,
    tls,
    idleTimeoutMs: config.idleTimeoutSeconds * 1000,
    blockPublicAccess: config.blockPublicAccess,
    sseCOverLoopback: config.sseCOverLoopback,
    metricsToken,
    metrics: [buildInfo, ...lifecycle.metrics],
  });

  const secretLine = root.source === "environment" ? "(from S3D_SECRET_KEY)" : `${root.user.secretKey}   (kept in ${root.file})`;
  process.stdout.write(
    `s3d ${pkg.version} serving S3 at ${server.url}\n` +
      `  data dir:   ${dataDir}\n` +
      `  region:     ${config.region}\n` +
      `  encryption: ${encryption}\n` +
      (config.blockPublicAccess ? "  public access: blocked on every bucket\n" : "") +
      `  access key: ${root.user.accessKey}\n` +
      `  secret key: ${secretLine}\n`,
  );
  lifecycle.start();
  logger.info("started", {
    url: server.url,
    dataDir,
    users: users.length,
    encryption: fingerprint === undefined ? "off" : "on",
    directWrites: backend.directWrites,
    ...(fingerprint === undefined ? {} : { keyFingerprint: fingerprint }),
  });

  // SIGHUP: the configuration is read again, and what can change while serving does; a
  // configuration that does not load leaves the one in force as it is.
  reload = () => {
    try {
      const fresh = loadConfig(args, undefined, process.env);
      const reloaded = withRoot(root.user, fresh.users);
      server.reload({
        users: reloaded,
        metricsToken: fresh.metricsTokenFile === undefined ? undefined : readMetricsToken(fresh.metricsTokenFile),
        blockPublicAccess: fresh.blockPublicAccess,
      });
      const needRestart = restartSettings.filter((setting) => fresh[setting] !== config[setting]);
      logger.info("configuration reloaded", { users: reloaded.length, blockPublicAccess: fresh.blockPublicAccess, ...(needRestart.length > 0 ? { takesEffectAtRestart: needRestart } : {}) });
    } catch (error) {
      logger.error("configuration not reloaded: the one in force stays", { error: error instanceof Error ? error.message : String(error) });
    }
  };
  if (reloadPending) reload();

  await new Promise<void>((done) => {
    const stop = () => done();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  // A second signal while stopping ends the process at once.
  const now = () => {
    logger.warn("stopped at once: requests in flight were cut");
    process.exit(1);
  };
  process.once("SIGINT", now);
  process.once("SIGTERM", now);
  logger.info("stopping: no new connections, requests in flight may finish", { graceSeconds: shutdownGraceMs / 1000 });
  await Promise.all([lifecycle.stop(), server.close()]);
  await backend.close();
  logger.info("stopped");
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`s3d: ${message}\n`);
    process.exit(2);
  },
);
