/** The built binary as a user runs it: flags, config, credentials, TLS. */
import { expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { errorCode, s3 } from "./support/client.ts";
import { binaryPath, freePort, selfSignedCert, startS3d, waitForHealth } from "./support/server.ts";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "s3d-cli-"));
}

async function run(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([binaryPath, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

test("the binary runs on its own: copied away from the repo, with no bun on PATH", async () => {
  const dir = tempDir();
  try {
    const lone = join(dir, "s3d");
    copyFileSync(binaryPath, lone);
    chmodSync(lone, 0o755);
    const proc = Bun.spawn([lone, "--version"], { cwd: dir, env: { PATH: "/usr/bin:/bin" }, stdout: "pipe", stderr: "pipe" });
    expect(await new Response(proc.stdout).text()).toBe(`s3d ${pkg.version}\n`);
    expect(await proc.exited).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--version and --help", async () => {
  expect(await run(["--version"])).toMatchObject({ code: 0, stdout: `s3d ${pkg.version}\n` });
  const help = await run(["--help"]);
  expect(help.code).toBe(0);
  for (const flag of ["--config", "--host", "--port", "--data-dir", "--region", "--tls-cert", "--tls-key", "--log-level", "--encryption-key-file", "--version", "--help"]) {
    expect(help.stdout).toContain(flag);
  }
});

test("a bad flag or config value stops start-up, naming it", async () => {
  const dir = tempDir();
  try {
    const bad = await run(["--port", "abc", "--data-dir", dir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--port");
    writeFileSync(join(dir, "s3d.toml"), `prot = 9000\n`);
    const typo = await run(["--config", join(dir, "s3d.toml")]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown setting prot");
    // start-up failures name what is at fault: the address, the TLS file, the metadata database
    const env = { S3D_ACCESS_KEY: "CLIKEY", S3D_SECRET_KEY: "cli-secret-123" };
    const unlistenable = await run(["--data-dir", join(dir, "a"), "--host", "10.255.255.1", "--port", "0"], env);
    expect(unlistenable).toMatchObject({ code: 2, stderr: expect.stringContaining("cannot listen on 10.255.255.1:0") });
    const [one, other] = [join(dir, "tls1"), join(dir, "tls2")];
    mkdirSync(one);
    mkdirSync(other);
    const [first, second] = [selfSignedCert(one), selfSignedCert(other)];
    writeFileSync(join(dir, "junk.pem"), "junk\n");
    const tls = (cert: string, key: string) => run(["--data-dir", join(dir, "b"), "--port", "0", "--tls-cert", cert, "--tls-key", key], env);
    expect((await tls(join(dir, "junk.pem"), first.key)).stderr).toContain(`--tls-cert ${join(dir, "junk.pem")}: not a PEM certificate`);
    expect((await tls(first.cert, join(dir, "junk.pem"))).stderr).toContain(`--tls-key ${join(dir, "junk.pem")}: not a PEM private key`);
    expect((await tls(first.cert, second.key)).stderr).toContain(`--tls-key ${second.key} is not the key of the certificate in ${first.cert}`);
    // the metrics token: a file that can be read, holding a token long enough not to be guessed
    writeFileSync(join(dir, "short.token"), "short\n", { mode: 0o600 });
    writeFileSync(join(dir, "shared.token"), "long-enough-token-0123456789\n", { mode: 0o644 });
    const metrics = (file: string) => run(["--data-dir", join(dir, "m"), "--port", "0", "--metrics-token-file", file], env);
    expect(await metrics(join(dir, "short.token"))).toMatchObject({ code: 2, stderr: expect.stringContaining(`--metrics-token-file ${join(dir, "short.token")}: the token must be`) });
    expect(await metrics(join(dir, "shared.token"))).toMatchObject({ code: 2, stderr: expect.stringContaining(`--metrics-token-file ${join(dir, "shared.token")}: mode 0644 lets group or others use it`) });
    expect(await metrics(join(dir, "no.token"))).toMatchObject({ code: 2, stderr: expect.stringContaining(`--metrics-token-file ${join(dir, "no.token")}: ENOENT`) });
    mkdirSync(join(dir, "c", "meta.sqlite"), { recursive: true });
    const database = await run(["--data-dir", join(dir, "c"), "--port", "0"], env);
    expect(database).toMatchObject({ code: 2, stderr: expect.stringContaining(`the metadata database ${join(dir, "c", "meta.sqlite")} cannot be used`) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("without env credentials a pair is generated once, kept with mode 0600, and printed", async () => {
  const dir = tempDir();
  const port = await freePort();
  try {
    const start = async () => {
      const proc = Bun.spawn([binaryPath, "--data-dir", dir, "--port", String(port)], { env: { PATH: process.env.PATH ?? "" }, stdout: "pipe", stderr: "pipe" });
      await waitForHealth(`http://127.0.0.1:${port}`);
      proc.kill();
      await proc.exited;
      return new Response(proc.stdout).text();
    };
    const first = await start();
    const file = join(dir, "root-credentials.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const { accessKey, secretKey } = JSON.parse(readFileSync(file, "utf8"));
    expect(first).toContain(`http://127.0.0.1:${port}`);
    expect(first).toContain(accessKey);
    expect(first).toContain(secretKey);
    const second = await start();
    expect(second).toContain(accessKey);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("users from the config file can sign requests; secrets never reach the log", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "s3d.toml"), `log_level = "debug"\n[[users]]\nname = "alice"\naccess_key = "ALICEKEY"\nsecret_key = "alice-secret-123"\n`);
  const server = await startS3d({ args: ["--config", join(dir, "s3d.toml"), "--log-level", "debug"] });
  try {
    const res = await s3(server.endpoint, { method: "PUT", path: "/alice-bucket", accessKeyId: "ALICEKEY", secret: "alice-secret-123" });
    expect(res.status).toBe(200);
    const bad = await s3(server.endpoint, { method: "GET", path: "/alice-bucket", accessKeyId: "ALICEKEY", secret: "nope-nope" });
    expect(bad.status).toBe(403);
    await Bun.sleep(50);
    const logs = server.logs();
    expect(logs).toContain('"operation":"CreateBucket"');
    for (const line of logs.trim().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
    expect(logs).not.toContain("alice-secret-123");
    expect(logs).not.toContain("test-secret-key");
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SIGHUP reloads the users, the metrics token and block_public_access; a configuration that does not load changes nothing", async () => {
  const dir = tempDir();
  const config = join(dir, "s3d.toml");
  const user = (name: string, key: string, secret: string, buckets = "") => `[[users]]\nname = "${name}"\naccess_key = "${key}"\nsecret_key = "${secret}"\n${buckets}`;
  writeFileSync(config, user("alice", "ALICEKEY", "alice-secret-123"));
  // (the reload's outcome is logged at info)
  const server = await startS3d({ args: ["--config", config, "--log-level", "info"] });
  const as = (key: string, secret: string, path = "/") => s3(server.endpoint, { method: "GET", path, accessKeyId: key, secret });
  const reload = async (toml: string, logged: string) => {
    writeFileSync(config, toml);
    const seen = server.logs().split(logged).length;
    server.process.kill("SIGHUP");
    for (let i = 0; i < 100 && server.logs().split(logged).length === seen; i++) await Bun.sleep(20);
    expect(server.logs().split(logged).length).toBe(seen + 1);
  };
  try {
    expect((await as("ALICEKEY", "alice-secret-123")).status).toBe(200);
    expect((await s3(server.endpoint, { method: "PUT", path: "/reloaded" })).status).toBe(200);
    writeFileSync(join(dir, "token"), "reloaded-metrics-token-0123\n", { mode: 0o600 });
    // alice's key is rotated away, bob comes limited to one bucket, and the metrics token is set
    await reload(`region = "eu-west-1"\nmetrics_token_file = "${join(dir, "token")}"\nblock_public_access = true\n${user("bob", "BOBKEY", "bob-secret-1234", 'buckets = { reloaded = "read" }\n')}`, '"msg":"configuration reloaded"');
    expect(await errorCode(await as("ALICEKEY", "alice-secret-123"))).toBe("InvalidAccessKeyId");
    expect((await as("BOBKEY", "bob-secret-1234", "/reloaded")).status).toBe(200);
    expect(await errorCode(await s3(server.endpoint, { method: "PUT", path: "/bobs-own", accessKeyId: "BOBKEY", secret: "bob-secret-1234" }))).toBe("AccessDenied");
    expect((await fetch(`${server.endpoint}/_s3d/metrics`, { headers: { authorization: "Bearer reloaded-metrics-token-0123" } })).status).toBe(200);
    const publicRead = JSON.stringify({ Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::reloaded/*" }] });
    expect(await errorCode(await s3(server.endpoint, { method: "PUT", path: "/reloaded", query: [["policy", ""]], body: publicRead }))).toBe("AccessDenied");
    // what only a restart can change is named, not taken (requests signed for us-east-1 were served above)
    expect(server.logs()).toContain('"takesEffectAtRestart":["region"]');
    // a broken file, or a user whose secret is too short: the configuration in force stays
    await reload(`${user("carol", "CAROLKEY", "short")}`, '"msg":"configuration not reloaded: the one in force stays"');
    await reload("users = [", '"msg":"configuration not reloaded: the one in force stays"');
    expect((await as("BOBKEY", "bob-secret-1234", "/reloaded")).status).toBe(200);
    expect(await errorCode(await as("CAROLKEY", "short"))).toBe("InvalidAccessKeyId");
    expect(server.logs()).not.toContain("bob-secret-1234");
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("HTTPS with --tls-cert and --tls-key", async () => {
  const dir = tempDir();
  try {
    // startS3d waits for the health check over HTTPS, trusting the certificate
    const server = await startS3d({ tls: selfSignedCert(dir) });
    try {
      expect(server.endpoint).toBe(`https://127.0.0.1:${server.port}`);
      await expect(fetch(`http://127.0.0.1:${server.port}/_s3d/health`)).rejects.toThrow();
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a second process on the same data dir refuses to start, and writes nothing there", async () => {
  const server = await startS3d();
  try {
    // without env credentials it would generate root's and keep them in the data dir
    const second = await run(["--data-dir", server.dataDir, "--port", "0"]);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain("another s3d process is using the data dir");
    expect(readdirSync(server.dataDir)).not.toContain("root-credentials.json");
    expect((await fetch(`${server.endpoint}/_s3d/health`)).status).toBe(200);
  } finally {
    await server.stop();
  }
});

test("root's keys obey the rules of every user's; a broken credentials file is named; root's key given to a user too is refused", async () => {
  const dir = tempDir();
  try {
    const start = (env: Record<string, string>, args: string[] = []) => run(["--data-dir", dir, "--port", "0", ...args], env);
    expect(await start({ S3D_ACCESS_KEY: "ROOTKEY", S3D_SECRET_KEY: "x" })).toMatchObject({ code: 2, stderr: expect.stringContaining("S3D_SECRET_KEY must be 8 to 256 characters") });
    expect(await start({ S3D_ACCESS_KEY: "a/b", S3D_SECRET_KEY: "long-enough-secret" })).toMatchObject({ code: 2, stderr: expect.stringContaining("S3D_ACCESS_KEY must be 3 to 128") });
    const file = join(dir, "root-credentials.json");
    for (const content of ["{bad", "null", '{"accessKey":"","secretKey":""}']) {
      writeFileSync(file, content, { mode: 0o600 });
      const refused = await start({});
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(file);
      expect(refused.stderr).not.toContain("    at ");
    }
    rmSync(file);
    writeFileSync(join(dir, "s3d.toml"), `[[users]]\nname = "backup"\naccess_key = "ROOTKEY"\nsecret_key = "backup-secret-1"\n`);
    expect(await start({ S3D_ACCESS_KEY: "ROOTKEY", S3D_SECRET_KEY: "root-secret-12" }, ["--config", join(dir, "s3d.toml")])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("access key ROOTKEY is both root's and user backup's"),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SIGTERM lets a request in flight finish, takes no new connection, then exits 0; a second signal ends it at once", async () => {
  const server = await startS3d({ args: ["--log-level", "info"] });
  try {
    expect((await s3(server.endpoint, { method: "PUT", path: "/stopping" })).status).toBe(200);
    const { signHeaders } = await import("../src/sigv4/index.ts");
    const { accessKey, region, secretKey } = await import("./support/server.ts");
    const url = new URL(server.endpoint);
    const bodyBytes = 2 * 1024 * 1024;
    const headers = { host: url.host, "content-length": String(bodyBytes) };
    const signed = signHeaders({ method: "PUT", decodedPath: "/stopping/slow", query: [], headers, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), payloadHash: "UNSIGNED-PAYLOAD" });
    const head = `PUT /stopping/slow HTTP/1.1\r\n${Object.entries({ ...headers, ...signed }).map(([k, v]) => `${k}: ${v}`).join("\r\n")}\r\n\r\n`;
    // a client that sends its body in 16 parts, `pause` seconds apart, saying so after the first
    const uploader = String.raw`
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.argv[2].encode())
for i in range(16):
    s.sendall(b"s" * (int(sys.argv[3]) // 16))
    if i == 0:
        print("sending", flush=True)
    time.sleep(float(sys.argv[4]))
print(s.recv(4096).decode().split(chr(13))[0], flush=True)
`;
    /** Starts an upload; resolves once its first part is on the wire, with what it prints after. */
    const startUpload = async (pauseS: number) => {
      const proc = Bun.spawn(["python3", "-c", uploader, String(server.port), head, String(bodyBytes), String(pauseS)], { stdout: "pipe", stderr: "pipe" });
      const lines = (proc.stdout as ReadableStream<Uint8Array>).getReader();
      const text = new TextDecoder();
      let said = "";
      while (!said.includes("sending\n")) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`the upload never started: ${said}${await new Response(proc.stderr).text()}`);
        said += text.decode(value);
      }
      const rest = async () => {
        for (let next = await lines.read(); !next.done; next = await lines.read()) said += text.decode(next.value);
        return said.replace("sending\n", "").trim();
      };
      return { proc, rest };
    };
    const upload = await startUpload(0.1);
    server.process.kill("SIGTERM");
    // no new connections once the signal is taken (polled: a busy machine may take a moment)
    let refused = false;
    for (let i = 0; i < 30 && !refused; i++) refused = await fetch(`${server.endpoint}/_s3d/health`).then(() => Bun.sleep(50).then(() => false), () => true);
    expect(refused).toBe(true);
    expect(await upload.rest()).toBe("HTTP/1.1 200 OK");
    expect(await server.process.exited).toBe(0);
    expect(server.logs()).toContain('"msg":"stopped"');
    await server.restart();
    const stored = await s3(server.endpoint, { method: "HEAD", path: "/stopping/slow" });
    expect([stored.status, stored.headers.get("content-length")]).toEqual([200, String(bodyBytes)]);

    // a second signal does not wait
    const stalled = await startUpload(5);
    const signalledMs = Date.now();
    server.process.kill("SIGTERM");
    await Bun.sleep(200);
    server.process.kill("SIGTERM");
    expect(await server.process.exited).toBe(1);
    expect(Date.now() - signalledMs).toBeLessThan(3000);
    stalled.proc.kill();
  } finally {
    await server.stop();
  }
});

test("a closed stdout costs the output, not the server", async () => {
  const dir = tempDir();
  const port = await freePort();
  const shell = Bun.spawn(["sh", "-c", `"${binaryPath}" --data-dir "${dir}" --port ${port} --log-level info | true`], {
    env: { PATH: process.env.PATH ?? "", S3D_ACCESS_KEY: "PIPEKEY", S3D_SECRET_KEY: "pipe-secret-123" },
    stdout: "ignore",
    stderr: "pipe",
  });
  try {
    await waitForHealth(`http://127.0.0.1:${port}`);
    for (let i = 0; i < 5; i++) expect((await fetch(`http://127.0.0.1:${port}/_s3d/health`)).status).toBe(200);
  } finally {
    Bun.spawnSync(["pkill", "-f", `data-dir ${dir}`]);
    await shell.exited;
    expect(await new Response(shell.stderr).text()).not.toContain("EPIPE");
    rmSync(dir, { recursive: true, force: true });
  }
});

test("s3d restarts itself once, in the same process and with the same arguments, with its runtime settings; a setting of the user's own is kept", async () => {
  const environOf = (pid: number) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  const threadsOf = (pid: number) => readdirSync(`/proc/${pid}/task`).map((tid) => readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim());
  const server = await startS3d();
  const own = await startS3d({ env: { MIMALLOC_PURGE_DELAY: "0", BUN_JSC_useWarmUpMarkedBlocks: "true", UV_THREADPOOL_SIZE: "2" } });
  try {
    // src/runtime-settings.ts
    expect(environOf(server.process.pid)).toEqual(expect.arrayContaining(["MIMALLOC_PURGE_DELAY=1000", "BUN_JSC_useWarmUpMarkedBlocks=false", "UV_THREADPOOL_SIZE=8"]));
    expect(environOf(own.process.pid)).toEqual(expect.arrayContaining(["MIMALLOC_PURGE_DELAY=0", "BUN_JSC_useWarmUpMarkedBlocks=true", "UV_THREADPOOL_SIZE=2"]));
    const cmdline = readFileSync(`/proc/${server.process.pid}/cmdline`, "utf8").split("\0");
    expect(cmdline.slice(1, 5)).toEqual(["--data-dir", server.dataDir, "--port", String(server.port)]);
    // the setting takes effect: the heap's warm-up thread starts with enough allocation, unless turned off
    for (const s of [server, own]) {
      for (let i = 0; i < 300; i++) expect((await fetch(`${s.endpoint}/_s3d/health`)).status).toBe(200);
    }
    expect(threadsOf(own.process.pid)).toContain("JSCWarmUp");
    expect(threadsOf(server.process.pid)).not.toContain("JSCWarmUp");
    // and the file pool grows past two threads when large uploads keep more writes in flight
    const body = new Uint8Array(16 * 1024 * 1024).fill(7);
    for (const s of [server, own]) {
      expect((await s3(s.endpoint, { method: "PUT", path: "/pool" })).status).toBe(200);
      const puts = [1, 2, 3, 4].map((i) => s3(s.endpoint, { method: "PUT", path: `/pool/k${i}`, body }));
      for (const res of await Promise.all(puts)) expect(res.status).toBe(200);
    }
    const poolThreads = (pid: number) => threadsOf(pid).filter((name) => name.startsWith("Bun Pool")).length;
    expect(poolThreads(server.process.pid)).toBeGreaterThan(2);
    expect(poolThreads(own.process.pid)).toBeLessThanOrEqual(2);
  } finally {
    await server.stop();
    await own.stop();
  }
});

test("keygen writes a 32-byte key with mode 0600 and refuses to overwrite it", async () => {
  const dir = tempDir();
  try {
    const file = join(dir, "master.key");
    const first = await run(["keygen", file]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/fingerprint [0-9a-f]{16}/);
    expect(statSync(file).size).toBe(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = await run(["keygen", file]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("certs writes a development CA and node certificates that verify against it", async () => {
  const dir = tempDir();
  try {
    const out = await run(["certs", dir, "--nodes", "n1,n2"]);
    expect(out.code).toBe(0);
    for (const f of ["ca.crt", "n1.crt", "n1.key", "n2.crt", "n2.key"]) expect(statSync(join(dir, f)).size).toBeGreaterThan(0);
    const verify = Bun.spawnSync(["openssl", "verify", "-CAfile", join(dir, "ca.crt"), join(dir, "n2.crt")], { stdout: "pipe" });
    expect(verify.stdout.toString()).toContain("OK");
    expect((await run(["certs", dir])).code).toBe(2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--encryption-key-file: refused when group-readable, or when it does not fit the data dir; the key never printed", async () => {
  const dir = tempDir();
  const env = { S3D_ACCESS_KEY: "CLIKEY", S3D_SECRET_KEY: "cli-secret-123" };
  const serveOnce = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const port = await freePort();
    const proc = Bun.spawn([binaryPath, "--port", String(port), "--log-level", "info", ...args], {
      env: { PATH: process.env.PATH ?? "", ...env, ...extraEnv },
      stdout: "pipe",
      stderr: "pipe",
    });
    await waitForHealth(`http://127.0.0.1:${port}`);
    proc.kill();
    await proc.exited;
    return { stdout: await new Response(proc.stdout).text(), stderr: await new Response(proc.stderr).text() };
  };
  try {
    const key = join(dir, "master.key");
    const other = join(dir, "other.key");
    const fingerprint = /fingerprint ([0-9a-f]{16})/.exec((await run(["keygen", key])).stdout)![1];
    const otherFingerprint = /fingerprint ([0-9a-f]{16})/.exec((await run(["keygen", other])).stdout)![1];
    const keyHex = readFileSync(key).toString("hex");

    // an empty data dir given a key (here through the environment) becomes encrypted
    const encrypted = join(dir, "enc");
    const started = await serveOnce(["--data-dir", encrypted], { S3D_ENCRYPTION_KEY_FILE: key });
    expect(started.stdout).toContain(`encryption: on (AES-256-GCM, key fingerprint ${fingerprint})`);
    expect(started.stderr).toContain(`"keyFingerprint":"${fingerprint}"`);
    for (const out of [started.stdout, started.stderr]) expect(out).not.toContain(keyHex);

    const noKey = await run(["--data-dir", encrypted, "--port", "0"], env);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain(`is encrypted (key fingerprint ${fingerprint})`);
    const wrongKey = await run(["--data-dir", encrypted, "--port", "0", "--encryption-key-file", other], env);
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toContain(`encrypted with the key of fingerprint ${fingerprint}, but the key given has fingerprint ${otherFingerprint}`);
    expect(wrongKey.stderr).not.toContain(keyHex);

    chmodSync(key, 0o640);
    const readable = await run(["--data-dir", encrypted, "--port", "0", "--encryption-key-file", key], env);
    expect(readable.code).toBe(2);
    expect(readable.stderr).toContain("mode 0640 lets group or others read it");
    chmodSync(key, 0o600);
    writeFileSync(join(dir, "short.key"), "too short", { mode: 0o600 });
    const short = await run(["--data-dir", encrypted, "--port", "0", "--encryption-key-file", join(dir, "short.key")], env);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("exactly 32 raw bytes");

    // a data dir that already holds unencrypted objects is never given a key
    const plain = await startS3d({ dataDir: join(dir, "plain") });
    try {
      expect((await s3(plain.endpoint, { method: "PUT", path: "/bkt" })).status).toBe(200);
      expect((await s3(plain.endpoint, { method: "PUT", path: "/bkt/k", body: "hello" })).status).toBe(200);
    } finally {
      plain.process.kill();
      await plain.process.exited;
    }
    const keyOnPlain = await run(["--data-dir", join(dir, "plain"), "--port", "0", "--encryption-key-file", key], env);
    expect(keyOnPlain.code).toBe(2);
    expect(keyOnPlain.stderr).toContain(`holds unencrypted objects`);
    expect(keyOnPlain.stderr).toContain(fingerprint);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a blob directory s3d cannot write stops start-up, whichever of the 256 it is (run as nobody)", async () => {
  if (process.getuid?.() !== 0) throw new Error("this test runs s3d as nobody: run it as root (CI does)");
  const dir = tempDir();
  try {
    const dataDir = join(dir, "data");
    const start = () =>
      Bun.spawnSync(["runuser", "-u", "nobody", "--", binaryPath, "--data-dir", dataDir, "--port", "0", "--host", "127.0.0.1"], {
        env: { PATH: process.env.PATH ?? "", S3D_ACCESS_KEY: "nobodykey", S3D_SECRET_KEY: "nobody-secret-1" },
        stdout: "pipe",
        stderr: "pipe",
        timeout: 20_000,
      });
    // a data dir nobody owns, but for one blob directory of root's that nobody may only read
    mkdirSync(join(dataDir, "blobs", "7f"), { recursive: true });
    chmodSync(dir, 0o755);
    Bun.spawnSync(["chown", "-R", "nobody", dataDir]);
    Bun.spawnSync(["chown", "root", join(dataDir, "blobs", "7f")]);
    chmodSync(join(dataDir, "blobs", "7f"), 0o755);
    const refused = start();
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr.toString()).toContain(`blob files cannot be written in ${join(dataDir, "blobs", "7f")}: EACCES`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
