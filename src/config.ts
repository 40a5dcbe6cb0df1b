/**
 * Settings of one s3d process: defaults, then the TOML config file, then command-line flags.
 * An unknown setting or a bad value stops start-up with a message that names it.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { logLevels, type LogLevel } from "./log.ts";
import { parseSizeBytes } from "./util/units.ts";
import { isUserName, type User } from "./s3/auth.ts";
import { permissions, type Grants, type Permission } from "./s3/grants.ts";
import { keyFileEnv } from "./shard/keys.ts";

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  region: string;
  domain: string | undefined;
  /** serves buckets' static websites at BUCKET.websiteDomain */
  websiteDomain: string | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  logLevel: LogLevel;
  /** object data is refused (507) once the data dir's filesystem has less than this free */
  minFreeBytes: number;
  /** the master key file: object data is encrypted at rest when set */
  encryptionKeyFile: string | undefined;
  /** a connection with no traffic either way for this long is closed */
  idleTimeoutSeconds: number;
  /** how often buckets' lifecycle rules are applied (expired objects deleted, old uploads aborted) */
  lifecycleIntervalSeconds: number;
  /** Block Public Access on every bucket: no public policy is taken, and none opens a bucket to unsigned requests */
  blockPublicAccess: boolean;
  /** a file holding the bearer token that may read /_s3d/metrics */
  metricsTokenFile: string | undefined;
  /** whether SSE-C keys are taken over plain HTTP from a client on this machine (over TLS they always are) */
  sseCOverLoopback: boolean;
  users: User[];
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export const defaults: Config = {
  host: "127.0.0.1",
  port: 9000,
  dataDir: "./s3d-data",
  region: "us-east-1",
  domain: undefined,
  websiteDomain: undefined,
  tlsCert: undefined,
  tlsKey: undefined,
  logLevel: "info",
  minFreeBytes: 256 * 1024 ** 2,
  encryptionKeyFile: undefined,
  idleTimeoutSeconds: 120,
  lifecycleIntervalSeconds: 3600,
  blockPublicAccess: false,
  metricsTokenFile: undefined,
  sseCOverLoopback: true,
  users: [],
};

type Setting = Exclude<keyof Config, "users">;

/** Flag name and TOML key of each setting. */
const settings: Record<Setting, { flag: string; toml: string }> = {
  host: { flag: "--host", toml: "host" },
  port: { flag: "--port", toml: "port" },
  dataDir: { flag: "--data-dir", toml: "data_dir" },
  region: { flag: "--region", toml: "region" },
  domain: { flag: "--domain", toml: "domain" },
  websiteDomain: { flag: "--website-domain", toml: "website_domain" },
  tlsCert: { flag: "--tls-cert", toml: "tls_cert" },
  tlsKey: { flag: "--tls-key", toml: "tls_key" },
  logLevel: { flag: "--log-level", toml: "log_level" },
  minFreeBytes: { flag: "--min-free", toml: "min_free" },
  encryptionKeyFile: { flag: "--encryption-key-file", toml: "encryption_key_file" },
  idleTimeoutSeconds: { flag: "--idle-timeout", toml: "idle_timeout" },
  lifecycleIntervalSeconds: { flag: "--lifecycle-interval", toml: "lifecycle_interval" },
  blockPublicAccess: { flag: "--block-public-access", toml: "block_public_access" },
  metricsTokenFile: { flag: "--metrics-token-file", toml: "metrics_token_file" },
  sseCOverLoopback: { flag: "--sse-c-over-loopback", toml: "sse_c_over_loopback" },
};

export interface ParsedArgs {
  command: "serve" | "help" | "version";
  configFile: string | undefined;
  overrides: Partial<Record<Setting, string>>;
  /** words after the command for subcommands */
  rest: string[];
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const parsed: ParsedArgs = { command: "serve", configFile: undefined, overrides: {}, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [name, inlineValue] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = () => {
      if (inlineValue !== undefined) return inlineValue;
      const v = argv[++i];
      if (v === undefined) throw new ConfigError(`${name} needs a value`);
      return v;
    };
    if (name === "--help" || name === "-h") parsed.command = "help";
    else if (name === "--version" || name === "-v") parsed.command = "version";
    else if (name === "--config") parsed.configFile = value();
    else {
      const setting = (Object.keys(settings) as Setting[]).find((s) => settings[s].flag === name);
      if (setting === undefined) throw new ConfigError(`unknown argument ${arg} (see --help)`);
      parsed.overrides[setting] = value();
    }
  }
  return parsed;
}

/** A TOML number, or a flag's digits, as a number; NaN for anything else. */
function wholeNumber(raw: unknown): number {
  return typeof raw === "number" ? raw : typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : NaN;
}

function checkValue(setting: Setting, raw: unknown, where: string): Config[Setting] {
  const bad = (why: string) => new ConfigError(`${where}: ${why}`);
  switch (setting) {
    case "port": {
      const n = wholeNumber(raw);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw bad(`port must be a whole number from 0 to 65535, not ${JSON.stringify(raw)}`);
      return n;
    }
    case "logLevel":
      if (!logLevels.includes(raw as LogLevel)) throw bad(`log level must be one of ${logLevels.join(", ")}, not ${JSON.stringify(raw)}`);
      return raw as LogLevel;
    case "domain":
    case "websiteDomain":
      if (typeof raw !== "string" || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(raw)) {
        throw bad(`must be a DNS name like s3.example.test, not ${JSON.stringify(raw)}`);
      }
      return raw;
    case "minFreeBytes": {
      const n = typeof raw === "number" ? raw : typeof raw === "string" ? parseSizeBytes(raw) : undefined;
      if (n === undefined || !Number.isSafeInteger(n) || n < 0) throw bad(`min free space must be a size like 256MiB or 2GiB, not ${JSON.stringify(raw)}`);
      return n;
    }
    case "region":
      if (typeof raw !== "string" || !/^[a-z0-9-]{1,32}$/.test(raw)) throw bad(`region must be lowercase letters, digits and hyphens, not ${JSON.stringify(raw)}`);
      return raw;
    case "idleTimeoutSeconds": {
      const n = wholeNumber(raw);
      if (!Number.isInteger(n) || n < 1 || n > 86_400) throw bad(`idle timeout must be whole seconds from 1 to 86400, not ${JSON.stringify(raw)}`);
      return n;
    }
    case "lifecycleIntervalSeconds": {
      const n = wholeNumber(raw);
      if (!Number.isInteger(n) || n < 1 || n > 86_400) throw bad(`lifecycle interval must be whole seconds from 1 to 86400, not ${JSON.stringify(raw)}`);
      return n;
    }
    case "blockPublicAccess":
    case "sseCOverLoopback":
      if (raw === true || raw === "true") return true;
      if (raw === false || raw === "false") return false;
      throw bad(`must be true or false, not ${JSON.stringify(raw)}`);
    default:
      if (typeof raw !== "string" || raw === "") throw bad(`must be a non-empty string, not ${JSON.stringify(raw)}`);
      return raw;
  }
}

/** An access key s3d accepts: what a SigV4 credential scope can carry unescaped. */
export function isAccessKey(value: unknown): value is string {
  return typeof value === "string" && /^[A-Za-z0-9_.+-]{3,128}$/.test(value);
}

/** A secret key s3d accepts: not trivially short. */
export function isSecretKey(value: unknown): value is string {
  return typeof value === "string" && value.length >= 8 && value.length <= 256;
}

function usersFrom(raw: unknown, file: string): User[] {
  if (!Array.isArray(raw)) throw new ConfigError(`${file}: users must be an array of tables ([[users]])`);
  // (bucket policies name users by name: a name is one user's, without regard to case as IAM
  // has it, and "root" is root's)
  const named = new Set(["root"]);
  return raw.map((u, i) => {
    const where = `${file}: users[${i}]`;
    if (typeof u !== "object" || u === null) throw new ConfigError(`${where} must be a table`);
    for (const k of Object.keys(u)) {
      if (!["name", "access_key", "secret_key", "buckets"].includes(k)) throw new ConfigError(`${where}: unknown key ${k}`);
    }
    const { name, access_key, secret_key, buckets } = u as Record<string, unknown>;
    if (typeof name !== "string" || !isUserName(name)) throw new ConfigError(`${where}: name must be 1 to 64 letters, digits or _+=,.@- (an IAM user name)`);
    if (named.has(name.toLowerCase())) {
      throw new ConfigError(`${where}: the name ${JSON.stringify(name)} is ${name.toLowerCase() === "root" ? "root's" : "another user's"}: bucket policies name users by name`);
    }
    named.add(name.toLowerCase());
    if (!isAccessKey(access_key)) throw new ConfigError(`${where}: access_key must be 3 to 128 letters, digits or _.+-`);
    if (!isSecretKey(secret_key)) throw new ConfigError(`${where}: secret_key must be 8 to 256 characters`);
    const user: User = { name, accessKey: access_key, secretKey: secret_key };
    if (buckets !== undefined) user.grants = grantsFrom(buckets, `${where}: buckets`);
    return user;
  });
}

/** A user's `buckets` table: bucket name or pattern (`*`, `?`) = "read", "write", "owner", or a list of them. */
function grantsFrom(raw: unknown, where: string): Grants {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(`${where} must be a table of bucket = permissions`);
  return Object.entries(raw).map(([bucket, value]) => {
    const allows = Array.isArray(value) ? value : [value];
    // (bucket names are lowercase letters, digits, dots and hyphens: a pattern of anything else would name no bucket)
    if (!/^[a-z0-9.*?-]{1,255}$/.test(bucket)) throw new ConfigError(`${where}: ${JSON.stringify(bucket)} can name no bucket (lowercase letters, digits, . and -, with * and ? as wildcards)`);
    if (allows.some((p) => !(permissions as readonly unknown[]).includes(p))) {
      throw new ConfigError(`${where}.${bucket}: permissions are ${permissions.map((p) => `"${p}"`).join(", ")} or a list of them, not ${JSON.stringify(value)}`);
    }
    return { bucket, allows: allows as Permission[] };
  });
}

/**
 * Builds the configuration from defaults, the TOML file (if any), the environment (only
 * S3D_ENCRYPTION_KEY_FILE: it names a file, it is not a secret) and flag overrides.
 */
export function loadConfig(
  args: ParsedArgs,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
  env: Readonly<Record<string, string | undefined>> = {},
): Config {
  const config: Config = { ...defaults, users: [] };
  if (args.configFile !== undefined) {
    const file = args.configFile;
    let doc: Record<string, unknown>;
    const text = readTomlFile(file, readFile);
    try {
      doc = Bun.TOML.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(`${file}: ${tomlError(error, text)}`);
    }
    for (const [key, raw] of Object.entries(doc)) {
      if (key === "users") {
        config.users = usersFrom(raw, file);
        continue;
      }
      const setting = (Object.keys(settings) as Setting[]).find((s) => settings[s].toml === key);
      if (setting === undefined) throw new ConfigError(`${file}: unknown setting ${key}`);
      (config as Record<Setting, unknown>)[setting] = checkValue(setting, raw, `${file}: ${key}`);
    }
  }
  const keyFileFromEnv = env[keyFileEnv];
  if (keyFileFromEnv !== undefined && keyFileFromEnv !== "") config.encryptionKeyFile = keyFileFromEnv;
  for (const [setting, raw] of Object.entries(args.overrides) as [Setting, string][]) {
    (config as Record<Setting, unknown>)[setting] = checkValue(setting, raw, settings[setting].flag);
  }
  if (config.websiteDomain !== undefined && config.websiteDomain === config.domain) {
    throw new ConfigError("--website-domain and --domain must differ: a bucket's website and its S3 API answer at different hosts");
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new ConfigError("--tls-cert and --tls-key go together: give both or neither");
  }
  const keys = new Set<string>();
  for (const u of config.users) {
    if (keys.has(u.accessKey)) throw new ConfigError(`access key ${u.accessKey} is given to more than one user`);
    keys.add(u.accessKey);
  }
  return config;
}

function readTomlFile(file: string, readFile: (path: string) => string): string {
  try {
    return readFile(file);
  } catch (error) {
    throw new ConfigError(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * What is wrong with a file that is not TOML, and on which line, without the text at fault: Bun's
 * parser quotes it, and it may be a secret written without its quotes (the message reaches the log
 * when a reload fails). The line is found from the quoted text, which Bun gives without one.
 */
function tomlError(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /"(.*)"\s*$/s.exec(message)?.[1];
  const reason = message.replace(/^TOML Parse error:\s*/, "").replace(/:?\s*".*$/s, "");
  const at = quoted === undefined || quoted === "" ? -1 : text.indexOf(quoted);
  return `not valid TOML${at < 0 ? "" : ` on line ${text.slice(0, at).split("\n").length}`}: ${reason}`;
}

/** A host name or address (a listening one, or a client's: IPv4 in IPv6 included) on this machine alone. */
export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  const v4 = host.startsWith("::ffff:") ? host.slice("::ffff:".length) : host;
  if (isIP(v4) === 4) return v4.startsWith("127.");
  return host === "::1";
}

export const usage = `s3d — an S3-compatible object store

Usage: s3d [options]
       s3d bench --endpoint URL --access-key K --secret-key S --op put|get|... (s3d bench --help)
       s3d keygen FILE    write a new 32-byte encryption master key (mode 0600)
       s3d certs DIR --nodes ID,ID,... [--hosts HOST,...]
                          write a development CA and mTLS certificates for cluster nodes

Options:
  --config FILE      TOML config file (same settings, plus [[users]] tables)
  --host ADDR        address to listen on (default 127.0.0.1)
  --port N           port to listen on (default 9000; 0 picks a free one)
  --data-dir DIR     where objects and metadata live (default ./s3d-data)
  --region NAME      the region clients sign for (default us-east-1)
  --domain NAME      also serve virtual-host style: BUCKET.NAME addresses a bucket
  --website-domain NAME
                     serve buckets' static websites (PutBucketWebsite) at BUCKET.NAME:
                     unsigned GET and HEAD, objects everyone may read (a bucket policy)
  --tls-cert FILE    serve HTTPS with this certificate (PEM) ...
  --tls-key FILE     ... and this private key (PEM)
  --log-level LEVEL  debug, info, warn or error (default info)
  --idle-timeout SECONDS
                     close a connection with no traffic either way for this long
                     (a stalled upload or download, an idle keep-alive; default 120)
  --lifecycle-interval SECONDS
                     apply buckets' lifecycle rules this often: delete expired objects,
                     abort multipart uploads past their time (default 3600)
  --block-public-access true|false
                     Block Public Access on every bucket: refuse public bucket policies,
                     and let none serve unsigned requests (default false)
  --sse-c-over-loopback true|false
                     take SSE-C keys over plain HTTP from clients on this machine, where
                     they cross no network (default true; false: over TLS only, as S3,
                     e.g. behind a proxy on this machine that takes plain HTTP from afar)
  --metrics-token-file FILE
                     the bearer token (16 to 4096 printable ASCII characters, no spaces; the
                     file mode 0600) that may read Prometheus metrics at /_s3d/metrics; users
                     without bucket limits may read them signed, as any S3 request
  --min-free SIZE    refuse new object data (507 InsufficientStorage) once the data dir's
                     filesystem has less than SIZE free (default 256MiB)
  --encryption-key-file FILE
                     encrypt object data at rest with this 32-byte master key (mode 0600;
                     make one with s3d keygen); env S3D_ENCRYPTION_KEY_FILE. A data dir,
                     once encrypted, starts only with the same key
  --version          print the version
  --help             print this help

Root credentials come from S3D_ACCESS_KEY / S3D_SECRET_KEY; without them s3d generates a pair
on first start and keeps it in DATA_DIR/root-credentials.json (mode 0600).
`;
