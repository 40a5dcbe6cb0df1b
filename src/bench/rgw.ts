/**
 * Ceph RGW as a bench peer: a throwaway one-monitor, one-memstore-OSD cluster plus one radosgw on
 * loopback (the recipe in ../shared/CLIENTS.md), every file of it (conf, keyring, mon store, OSD
 * dir, pid files, admin sockets, logs) under one temp dir. The daemons run in the foreground as
 * children of this process, with a parent-death signal where `setpriv` exists, and stop() kills
 * each of them by pid (SIGKILL: a memstore OSD would otherwise write its RAM out to the dir on the
 * way down), sweeps any leftover process whose command line names this cluster's conf, and
 * removes the dir; the same happens on exit. Ceph is not a dependency of s3d: install it with
 *   apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd
 * Standalone: `bun src/bench/rgw.ts [--memstore 4GiB]` starts a cluster, prints its endpoint and
 * keys, and tears it down on Ctrl-C. S3D_BENCH_RGW_KEEP_FAILED=1 copies the logs of a cluster that
 * failed to start or lost a daemon to a temp dir before the teardown.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../util/free-port.ts";
import { formatSize, parseSizeBytes } from "../util/units.ts";

/** The binaries the cluster needs, and the Debian packages that carry them. */
export const rgwBinaries = ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph"] as const;
export const rgwInstallHint = "apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd";

/** The binaries of rgwBinaries not on PATH (empty: the cluster can be started). */
export function missingRgwBinaries(): string[] {
  return rgwBinaries.filter((b) => spawnSync("sh", ["-c", `command -v ${b}`], { stdio: "ignore" }).status !== 0);
}

export interface CephConfParams {
  dir: string;
  fsid: string;
  monPort: number;
  /** the OSD's messengers bind in this range (Ceph skips ports already in use) */
  bindPortMin: number;
  bindPortMax: number;
  rgwPort: number;
  memstoreBytes: number;
}

/** ceph.conf for the throwaway cluster: no auth, v1 messengers on 127.0.0.1, everything under dir. */
export function cephConf(p: CephConfParams): string {
  const d = p.dir;
  const lines = [
    "[global]",
    `fsid = ${p.fsid}`,
    `mon host = v1:127.0.0.1:${p.monPort}`,
    "mon initial members = a",
    "auth cluster required = none",
    "auth service required = none",
    "auth client required = none",
    "auth allow insecure global id reclaim = true",
    "mon warn on insecure global id reclaim allowed = false",
    "ms bind msgr2 = false",
    `ms bind port min = ${p.bindPortMin}`,
    `ms bind port max = ${p.bindPortMax}`,
    "public addr = 127.0.0.1",
    "cluster addr = 127.0.0.1",
    `keyring = ${d}/keyring`,
    `run dir = ${d}/run`,
    `admin socket = ${d}/run/$name.asok`,
    `pid file = ${d}/run/$name.pid`,
    `log file = ${d}/log/$name.log`,
    `crash dir = ${d}/crash`,
    `mon data = ${d}/mon/$id`,
    `osd data = ${d}/osd/$id`,
    `rgw data = ${d}/rgw/$id`,
    // One OSD: pools of size 1 with few PGs, placed per OSD (no host level), no autoscaler (no mgr).
    "osd objectstore = memstore",
    `memstore device bytes = ${p.memstoreBytes}`,
    "osd pool default size = 1",
    "osd pool default min size = 1",
    "osd pool default pg num = 8",
    "osd pool default pgp num = 8",
    "osd pool default pg autoscale mode = off",
    "osd crush chooseleaf type = 0",
    // osd.0 is placed by hand; these boot-time mon commands can go out before the OSD has the
    // monmap (fsid 0: 'wrong fsid', and the OSD exits).
    "osd crush update on start = false",
    "osd class update on start = false",
    "mon allow pool size one = true",
    "mon max pg per osd = 1000",
    "mon warn on pool no redundancy = false",
    // tcp_nodelay: without it a small GET waits out Nagle + delayed ACK (~40 ms per request).
    `rgw frontends = beast endpoint=127.0.0.1:${p.rgwPort} tcp_nodelay=1`,
    // Overwritten and deleted objects' tails are collected after seconds, not the default 2 h:
    // the work is done during the run, as s3d does it, and memstore's RAM stays bounded.
    "rgw gc obj min wait = 5",
    "rgw gc processor period = 10",
    "",
  ];
  return lines.join("\n");
}

export interface RgwCluster {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  dir: string;
  memstoreBytes: number;
  /** the daemons, by name (ceph-mon, ceph-osd, radosgw) */
  pids: Record<string, number>;
  /** from the first command to radosgw answering and a warm-up upload */
  startupMs: number;
  /** peak resident set of each daemon so far (VmHWM), bytes */
  peakRss(): Record<string, number>;
  /** why the cluster is down (a daemon exited), or undefined while it runs */
  dead(): string | undefined;
  stop(): Promise<void>;
}

const cliPath = join(import.meta.dir, "cli.ts");
const accessKey = "RGWBENCHACCESSKEY";
const secretKey = "rgw-bench-secret-key-0123456789";

const live = new Set<{ killSync(): void }>();
process.on("exit", () => {
  for (const cluster of live) cluster.killSync();
});

function setprivPath(): string | undefined {
  for (const p of ["/usr/bin/setpriv", "/bin/setpriv"]) if (existsSync(p)) return p;
  return undefined;
}

/** Every process whose command line contains `needle` (our unique conf path). */
function pidsNaming(needle: string): number[] {
  const found: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

function vmHwmBytes(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export async function startRgw(opts: { memstoreBytes: number; log?: (line: string) => void }): Promise<RgwCluster> {
  const missing = missingRgwBinaries();
  if (missing.length > 0) throw new Error(`not installed: ${missing.join(", ")} (${rgwInstallHint})`);
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), "s3d-bench-rgw-"));
  for (const sub of ["run", "log", "crash", "mon", "osd/0", "rgw"]) mkdirSync(join(dir, sub), { recursive: true });
  const confPath = join(dir, "ceph.conf");
  const children = new Set<ChildProcess>();
  const daemons = new Map<string, ChildProcess>();
  const setpriv = setprivPath();
  let stopped = false;
  let deadWhy: string | undefined;
  let up = false;
  const keepHint = "S3D_BENCH_RGW_KEEP_FAILED=1 keeps the logs of a failed cluster";

  /** On exit (no event loop left): kill, wait for the processes to be gone, remove the dir. */
  const killSync = () => {
    const pids = [...children].map((child) => child.pid).filter((pid): pid is number => pid !== undefined);
    pids.push(...pidsNaming(confPath));
    for (const pid of pids) tryKill(pid);
    const deadline = performance.now() + 3000;
    while (pids.some(running) && performance.now() < deadline) Bun.sleepSync(20);
    removeDir(dir);
    live.delete(handle);
  };
  const handle = { killSync };
  live.add(handle);

  const keepLogs = () => {
    if (!process.env.S3D_BENCH_RGW_KEEP_FAILED) return;
    const kept = mkdtempSync(join(tmpdir(), "s3d-bench-rgw-failed-"));
    spawnSync("cp", ["-r", join(dir, "log"), kept]);
    log(`rgw: logs kept in ${kept}`);
  };

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (deadWhy) keepLogs();
    const exits = [...children].map((child) =>
      child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((done) => child.once("exit", () => done())),
    );
    for (const child of children) if (child.pid !== undefined) tryKill(child.pid);
    await Promise.race([Promise.all(exits), Bun.sleep(5000)]);
    // Anything else that names this cluster's conf (a hung `ceph` command, say).
    for (let round = 0; round < 20; round++) {
      const left = pidsNaming(confPath);
      if (left.length === 0) break;
      for (const pid of left) tryKill(pid);
      await Bun.sleep(100);
    }
    removeDir(dir);
    live.delete(handle);
  };

  /** A short command; fails with its output on a non-zero exit or after timeoutMs. */
  const run = async (argv: string[], timeoutMs = 60_000): Promise<string> => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let out = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const [code, signal] = await new Promise<[number | null, string | null]>((done) => child.once("exit", (c, s) => done([c, s])));
    clearTimeout(timer);
    children.delete(child);
    if (code !== 0) throw new Error(`${argv.slice(0, 3).join(" ")} ... failed (${signal ?? `exit ${code}`}): ${out.trim().slice(-600)}`);
    return out;
  };

  const logFiles: Record<string, string> = { "ceph-mon": "mon.a.log", "ceph-osd": "osd.0.log", radosgw: "client.rgw.a.log" };
  /** A daemon in the foreground; its stdout/stderr go to log/NAME.out. */
  const daemon = (name: string, argv: string[]) => {
    const fd = openSync(join(dir, "log", `${name}.out`), "a");
    const full = setpriv ? [setpriv, "--pdeathsig", "SIGKILL", "--", ...argv] : argv;
    // Its own process group: a Ctrl-C on the terminal reaches this process, which kills the
    // daemons, and not the daemons (an OSD stopping on SIGINT writes its memstore out to the dir).
    const child = spawn(full[0], full.slice(1), { stdio: ["ignore", fd, fd], detached: true });
    closeSync(fd);
    children.add(child);
    daemons.set(name, child);
    child.on("exit", (code, signal) => {
      if (stopped) return;
      // During start-up the waits notice (and the OSD gets a second try); afterwards it is fatal.
      if (up) deadWhy ??= `${name} exited (${signal ?? `code ${code}`})`;
      log(`rgw: ${name} exited (${signal ?? `code ${code}`}; ${keepHint})`);
    });
    return child;
  };

  const tailOf = (file: string) => {
    try {
      return readFileSync(join(dir, "log", file), "utf8").trim().split("\n").slice(-12).join("\n");
    } catch {
      return "";
    }
  };
  const alive = (name: string) => {
    const child = daemons.get(name)!;
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = `${tailOf(`${name}.out`)}\n${tailOf(logFiles[name] ?? "")}`.trim().slice(-3000);
      throw new Error(`${name} exited during start-up (${child.signalCode ?? `code ${child.exitCode}`}; ${keepHint}): ${tail}`);
    }
  };

  const until = async (what: string, timeoutMs: number, check: () => Promise<boolean>, names: string[]) => {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      for (const n of names) alive(n);
      if (await check().catch(() => false)) return;
      await Bun.sleep(250);
    }
    throw new Error(`${what}: not within ${timeoutMs / 1000} s (${keepHint})`);
  };

  try {
    const fsid = randomUUID();
    const monPort = await freePort();
    const bindPortMin = await freePort();
    const bindPortMax = Math.min(65535, bindPortMin + 200);
    // The RGW port is chosen now but bound last; keep it out of the OSD's range.
    let rgwPort = await freePort();
    while (rgwPort >= bindPortMin && rgwPort <= bindPortMax) rgwPort = await freePort();
    writeFileSync(confPath, cephConf({ dir, fsid, monPort, bindPortMin, bindPortMax, rgwPort, memstoreBytes: opts.memstoreBytes }));
    writeFileSync(join(dir, "keyring"), "");
    const c = ["-c", confPath];
    const ceph = (...args: string[]) => run(["ceph", ...c, "--connect-timeout", "20", ...args], 30_000);

    await run(["monmaptool", "--create", "--fsid", fsid, "--addv", "a", `[v1:127.0.0.1:${monPort}]`, join(dir, "monmap")]);
    await run(["ceph-mon", ...c, "-i", "a", "--mkfs", "--monmap", join(dir, "monmap")]);
    daemon("ceph-mon", ["ceph-mon", ...c, "-i", "a", "-f"]);
    await until("ceph-mon answering", 30_000, async () => (await ceph("mon", "stat")).includes("quorum"), ["ceph-mon"]);

    // The OSD's uuid is registered with its id and given to --mkfs: without it the OSD makes up its
    // own, and its boot-time `osd create` can then fail ('wrong fsid').
    const osdUuid = randomUUID();
    const osdId = (await ceph("osd", "create", osdUuid)).trim();
    if (osdId !== "0") throw new Error(`ceph osd create returned ${JSON.stringify(osdId)}, expected 0`);
    await run(["ceph-osd", ...c, "-i", "0", "--mkfs", "--osd-uuid", osdUuid]);
    await ceph("osd", "crush", "add", "osd.0", "1.0", "root=default");
    // One more try if the OSD exits while booting (a start-up race in the mon commands it sends).
    for (let attempt = 1; ; attempt++) {
      daemon("ceph-osd", ["ceph-osd", ...c, "-i", "0", "-f"]);
      try {
        await until("ceph-osd up", 60_000, async () => /\b1 up\b/.test(await ceph("osd", "stat")), ["ceph-mon", "ceph-osd"]);
        break;
      } catch (error) {
        const osd = daemons.get("ceph-osd")!;
        if (attempt >= 2 || (osd.exitCode === null && osd.signalCode === null)) throw error;
        log(`rgw: starting ceph-osd again (${error instanceof Error ? error.message.split("\n")[0].slice(0, 200) : String(error)})`);
      }
    }
    log(`rgw: mon and osd up after ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Creates the realm/zone and the first pools (it waits for their PGs).
    await run(["radosgw-admin", ...c, "user", "create", "--uid=bench", "--display-name=bench", `--access-key=${accessKey}`, `--secret-key=${secretKey}`], 120_000);
    daemon("radosgw", ["radosgw", ...c, "-n", "client.rgw.a", "-f"]);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await until("radosgw answering HTTP", 60_000, async () => (await fetch(endpoint)).status > 0, ["ceph-mon", "ceph-osd", "radosgw"]);
    log(`rgw: radosgw answering after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // Warm-up with the bench generator itself (signed single-shot bodies, which Pacific takes):
    // the first PUT creates the data pool and the first multipart upload the non-ec pool, each a
    // wait of seconds for new PGs that must not land in a measured cell.
    const generator = [process.execPath, cliPath, "--endpoint", endpoint, "--access-key", accessKey, "--secret-key", secretKey, "--json"];
    await Promise.all([
      run([...generator, "--op", "put", "--size", "4KiB", "--objects", "4", "--concurrency", "1", "--duration", "200ms"], 120_000),
      run([...generator, "--op", "multipart", "--size", "10MiB", "--part-size", "5MiB", "--objects", "1", "--concurrency", "2", "--duration", "1ms"], 120_000),
    ]);
    log(`rgw: warmed up after ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    for (const name of Object.keys(logFiles)) alive(name);
    up = true;
    const pids: Record<string, number> = {};
    for (const [name, child] of daemons) pids[name] = child.pid!;
    return {
      endpoint,
      accessKey,
      secretKey,
      dir,
      memstoreBytes: opts.memstoreBytes,
      pids,
      startupMs: Math.round(performance.now() - t0),
      peakRss: () => Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, vmHwmBytes(pid)])),
      dead: () => deadWhy,
      stop,
    };
  } catch (error) {
    keepLogs();
    await stop();
    throw error;
  }
}

/** The process exists and is not a zombie. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function removeDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  } catch (error) {
    process.stderr.write(`rgw: could not remove ${dir}: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}

function tryKill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const i = argv.indexOf("--memstore");
  const memstoreBytes = i >= 0 ? parseSizeBytes(argv[i + 1] ?? "") : 4 * 1024 ** 3;
  if (memstoreBytes === undefined) {
    process.stderr.write("usage: bun src/bench/rgw.ts [--memstore 4GiB]\n");
    process.exit(2);
  }
  // Until the cluster is up, a signal ends the process (the exit handler tears down what exists).
  const interrupted = () => process.exit(130);
  process.on("SIGINT", interrupted);
  process.on("SIGTERM", interrupted);
  const cluster = await startRgw({ memstoreBytes, log: (l) => process.stderr.write(`${l}\n`) }).catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
  process.stdout.write(
    `RGW on ${cluster.endpoint} (access key ${cluster.accessKey}, secret key ${cluster.secretKey}), memstore ${formatSize(cluster.memstoreBytes)}, ` +
      `up in ${(cluster.startupMs / 1000).toFixed(1)} s; dir ${cluster.dir}; Ctrl-C stops it\n`,
  );
  process.off("SIGINT", interrupted);
  process.off("SIGTERM", interrupted);
  await new Promise<void>((done) => {
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  await cluster.stop();
  process.exit(0);
}
