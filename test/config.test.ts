import { expect, test } from "bun:test";
import { ConfigError, defaults, isLoopback, loadConfig, parseArgs } from "../src/config.ts";

const load = (argv: string[], files: Record<string, string> = {}) =>
  loadConfig(parseArgs(argv), (path) => {
    if (!(path in files)) throw new Error(`ENOENT: ${path}`);
    return files[path];
  });

test("defaults: loopback, port 9000, ./s3d-data, us-east-1", () => {
  expect(load([])).toEqual({ ...defaults, users: [] });
  expect(defaults).toMatchObject({ host: "127.0.0.1", port: 9000, dataDir: "./s3d-data", region: "us-east-1", logLevel: "info" });
});

test("flags override the file; users come from [[users]]", () => {
  const file = `host = "127.0.0.2"\nport = 9500\ndata_dir = "/d"\nregion = "eu-west-1"\nlog_level = "warn"\nmin_free = "2GiB"\n[[users]]\nname = "alice"\naccess_key = "ALICEKEY"\nsecret_key = "alice-secret"\n`;
  const c = load(["--config", "s3d.toml", "--port", "9600", "--log-level=debug"], { "s3d.toml": file });
  expect(c).toMatchObject({ host: "127.0.0.2", port: 9600, dataDir: "/d", region: "eu-west-1", logLevel: "debug", minFreeBytes: 2 * 1024 ** 3 });
  expect(load(["--min-free", "0"]).minFreeBytes).toBe(0);
  expect(load(["--min-free=512MiB"]).minFreeBytes).toBe(512 * 1024 ** 2);
  expect([defaults.idleTimeoutSeconds, load(["--idle-timeout", "600"]).idleTimeoutSeconds, load(["--config", "t.toml"], { "t.toml": "idle_timeout = 30" }).idleTimeoutSeconds]).toEqual([120, 600, 30]);
  expect([defaults.lifecycleIntervalSeconds, load(["--lifecycle-interval", "60"]).lifecycleIntervalSeconds, load(["--config", "t.toml"], { "t.toml": "lifecycle_interval = 5" }).lifecycleIntervalSeconds]).toEqual([3600, 60, 5]);
  expect([defaults.blockPublicAccess, load(["--block-public-access", "true"]).blockPublicAccess, load(["--block-public-access=false"]).blockPublicAccess]).toEqual([false, true, false]);
  expect(load(["--config", "t.toml"], { "t.toml": "block_public_access = true" }).blockPublicAccess).toBe(true);
  expect([defaults.sseCOverLoopback, load(["--sse-c-over-loopback", "false"]).sseCOverLoopback, load(["--config", "t.toml"], { "t.toml": "sse_c_over_loopback = false" }).sseCOverLoopback]).toEqual([true, false, false]);
  expect([defaults.metricsTokenFile, load(["--metrics-token-file", "/etc/s3d/token"]).metricsTokenFile]).toEqual([undefined, "/etc/s3d/token"]);
  expect([defaults.websiteDomain, load(["--website-domain", "s3-website.example.test"]).websiteDomain]).toEqual([undefined, "s3-website.example.test"]);
  expect(c.users).toEqual([{ name: "alice", accessKey: "ALICEKEY", secretKey: "alice-secret" }]);
});

test("unknown settings and bad values stop start-up with a message that names them", () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [["--bogus"], {}, /--bogus/],
    [["--port", "70000"], {}, /--port.*70000/],
    [["--port"], {}, /--port needs a value/],
    [["--log-level", "loud"], {}, /--log-level.*loud/],
    [["--min-free", "lots"], {}, /--min-free.*lots/],
    [["--idle-timeout", "0"], {}, /--idle-timeout.*0/],
    [["--idle-timeout", "1.5"], {}, /--idle-timeout.*1\.5/],
    [["--lifecycle-interval", "0"], {}, /--lifecycle-interval.*0/],
    [["--block-public-access", "yes"], {}, /--block-public-access.*yes/],
    [["--sse-c-over-loopback", "no"], {}, /--sse-c-over-loopback.*no/],
    [["--website-domain", "Not A Domain"], {}, /--website-domain/],
    [["--website-domain", "s3.example.test", "--domain", "s3.example.test"], {}, /--website-domain and --domain must differ/],
    [["--config", "c.toml"], { "c.toml": "block_public_access = 1" }, /c\.toml: block_public_access/],
    [["--config", "c.toml"], { "c.toml": "min_free = -1" }, /c\.toml: min_free/],
    [["--tls-cert", "c.pem"], {}, /--tls-key/],
    [["--config", "c.toml"], { "c.toml": "colour = 1" }, /c\.toml: unknown setting colour/],
    [["--config", "c.toml"], { "c.toml": "port = \"x\"" }, /c\.toml: port/],
    [["--config", "c.toml"], { "c.toml": "port = [" }, /c\.toml/],
    [["--config", "c.toml"], { "c.toml": "[[users]]\nname = \"a\"\naccess_key = \"AK1\"\nsecret_key = \"short\"" }, /users\[0\]: secret_key/],
    [["--config", "c.toml"], { "c.toml": "[[users]]\nname = \"a\"\naccess_key = \"AK1\"\nsecret_key = \"long-enough\"\n[[users]]\nname = \"a\"\naccess_key = \"AK2\"\nsecret_key = \"long-enough\"" }, /users\[1\]: the name "a" is another user's/],
    [["--config", "c.toml"], { "c.toml": "[[users]]\nname = \"Root\"\naccess_key = \"AK1\"\nsecret_key = \"long-enough\"" }, /users\[0\]: the name "Root" is root's/],
    [["--config", "c.toml"], { "c.toml": "[[users]]\nname = \"alice\"\naccess_key = \"AK1\"\nsecret_key = \"long-enough\"\n[[users]]\nname = \"Alice\"\naccess_key = \"AK2\"\nsecret_key = \"long-enough\"" }, /users\[1\]: the name "Alice" is another user's/],
    [["--config", "c.toml"], { "c.toml": "[[users]]\nname = \"a/b\"\naccess_key = \"AK1\"\nsecret_key = \"long-enough\"" }, /users\[0\]: name must be 1 to 64 letters/],
    [["--config", "c.toml"], { "c.toml": "[[users]]\nname = \"a\"\naccess_key = \"AK1\"\nsecret_key = \"long-enough\"\nrole = \"x\"" }, /users\[0\]: unknown key role/],
    [["--config", "missing.toml"], {}, /missing\.toml/],
  ];
  for (const [argv, files, message] of cases) {
    expect(() => load(argv, files)).toThrow(ConfigError);
    expect(() => load(argv, files)).toThrow(message);
  }
});

test("a file that is not TOML is refused with where, never with the text at fault (it may be a secret written without quotes)", () => {
  const refusal = (() => {
    try {
      load(["--config", "c.toml"], { "c.toml": '[[users]]\nname = "a"\naccess_key = "AK1"\nsecret_key = very-secret-value\n' });
    } catch (error) {
      return (error as Error).message;
    }
  })();
  expect(refusal).toBe("c.toml: not valid TOML on line 4: Strings must be quoted");
  expect(refusal).not.toContain("very-secret-value");
});

test("loopback addresses", () => {
  for (const h of ["127.0.0.1", "127.9.9.9", "localhost", "::1"]) expect(isLoopback(h)).toBe(true);
  for (const h of ["0.0.0.0", "10.0.0.1", "::", "example.com"]) expect(isLoopback(h)).toBe(false);
});

test("the encryption key file: flag, then S3D_ENCRYPTION_KEY_FILE, then the file's encryption_key_file", () => {
  const loadEnv = (argv: string[], env: Record<string, string>, files: Record<string, string> = {}) =>
    loadConfig(parseArgs(argv), (path) => files[path], env);
  expect(load([]).encryptionKeyFile).toBeUndefined();
  const file = { "c.toml": `encryption_key_file = "/from/toml"\n` };
  expect(loadEnv(["--config", "c.toml"], {}, file).encryptionKeyFile).toBe("/from/toml");
  expect(loadEnv(["--config", "c.toml"], { S3D_ENCRYPTION_KEY_FILE: "/from/env" }, file).encryptionKeyFile).toBe("/from/env");
  expect(loadEnv(["--config", "c.toml", "--encryption-key-file", "/from/flag"], { S3D_ENCRYPTION_KEY_FILE: "/from/env" }, file).encryptionKeyFile).toBe("/from/flag");
  expect(loadEnv(["--encryption-key-file=/k"], {}).encryptionKeyFile).toBe("/k");
  expect(loadEnv([], { S3D_ENCRYPTION_KEY_FILE: "" }).encryptionKeyFile).toBeUndefined();
  expect(() => load(["--encryption-key-file", ""])).toThrow(/--encryption-key-file/);
  expect(() => load(["--config", "c.toml"], { "c.toml": "encryption_key_file = 7" })).toThrow(/c\.toml: encryption_key_file/);
});

test("a user's buckets table limits them: patterns to permissions, one or a list; bad permissions stop start-up", () => {
  const user = (buckets: string) => `[[users]]\nname = "agent"\naccess_key = "AGENTKEY"\nsecret_key = "agent-secret"\n${buckets}`;
  const config = load(["--config", "u.toml"], { "u.toml": user(`buckets = { backups = "write", "logs-*" = ["read", "write"], team = ["owner", "read"] }`) });
  expect(config.users[0].grants).toEqual([
    { bucket: "backups", allows: ["write"] },
    { bucket: "logs-*", allows: ["read", "write"] },
    { bucket: "team", allows: ["owner", "read"] },
  ]);
  expect(load(["--config", "u.toml"], { "u.toml": user("") }).users[0].grants).toBeUndefined();
  for (const bad of [`buckets = { b = "admin" }`, `buckets = { b = ["read", 1] }`, `buckets = ["b"]`, `buckets = "b"`, `buckets = { Shared = "read" }`, `buckets = { "a/b" = "read" }`]) {
    expect(() => load(["--config", "u.toml"], { "u.toml": user(bad) })).toThrow(/users\[0\]: buckets/);
  }
});

test("the example configuration loads as it is shipped", () => {
  const config = loadConfig(parseArgs(["--config", `${import.meta.dir}/../config/s3d.example.toml`]));
  expect(config.users).toEqual([{ name: "backup", accessKey: "BACKUPKEY", secretKey: "change-me-to-a-long-secret", grants: [{ bucket: "backups", allows: ["write"] }] }]);
  expect(config.lifecycleIntervalSeconds).toBe(3600);
});
