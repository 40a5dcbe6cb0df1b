/**
 * Transport benchmark: both ends on loopback, in one process (default) or with the serving end in a
 * child process (--two-process), every implementation measured in the same run. JSON on stdout (with or without --json); a markdown table on stderr.
 *
 *   bun bench/transport.ts [--json] [--seconds 1] [--rounds 3] [--two-process]
 *
 * Figures (best of --rounds, the implementations interleaved within each round of each figure):
 *  - MiB/s for 1 MiB bodies at 1 and 16 concurrent streams, and one 64 MiB body, up (caller → peer,
 *    "sink") and down (peer → caller, "source");
 *  - small-call rate (calls/s, no body) at 1, 16 and 128 concurrent streams.
 * Implementations: the in-memory twin (framing cost only), "tls" (s3d's own multiplexing over pooled
 * mutual-TLS connections on Bun's sockets: tls-mux, the default), HTTP/2 over mutual TLS (http2-mtls),
 * QUIC (Bun's HTTP/3, secret-signed, experimental), and ceilings with the same sink/source/call shape,
 * one connection per concurrent stream (no multiplexing cost): plain TCP (node:net, no TLS, framing or
 * checksums), TLS-only (the same over node:tls with the cluster's certificates, mutual) and
 * bun-tls-only (the same again over Bun.listen/Bun.connect, the sockets "tls" uses), so the gap to plain
 * TCP splits into what TLS costs and what the transport adds; and h2-raw, bare node:http2 over the same
 * mutual TLS (one session, bytes counted, no framing, CRC, web streams or deadlines), which splits h2's
 * share into what Bun's HTTP/2 costs and what s3d adds.
 * Goal ratio: the default transport at 16 streams / plain TCP at 16 streams (goal ≥ 50 %, in the
 * --two-process setup nodes run in: in one process both ends' TLS shares one core), for small calls
 * and for 1 MiB bodies. BENCH_ONLY=tls-mux,tcp-plain runs a subset; BENCH_TLS_CONNECTIONS=n
 * gives tls-mux n connections per peer.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentialPaths, generateDevCerts } from "../src/net/certs.ts";
import { H2Transport, type PeerAddress } from "../src/net/h2-transport.ts";
import { MemoryNetwork } from "../src/net/memory.ts";
import { defaultTransportKind } from "../src/net/factory.ts";
import { QuicTransport } from "../src/net/quic-transport.ts";
import { TlsTransport } from "../src/net/tls-transport.ts";
import type { Transport, TransportHandlers } from "../src/net/transport.ts";
import { patternStream, testService } from "../test/net/service.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seconds = flag("--seconds", 1);
const rounds = flag("--rounds", 3);
const mib = 2 ** 20;
const bigBytes = 64 * mib;
const streamCounts = [1, 16, 128];

/** What is measured, whatever the implementation. `worker` picks a connection (plain TCP). */
interface Target {
  call(worker: number): Promise<void>;
  sink(bytes: number, worker: number): Promise<void>;
  source(bytes: number, worker: number): Promise<void>;
  close(): Promise<void>;
}

/** Runs `concurrency` workers looping `op` for `seconds`; returns ops/s. */
async function rate(concurrency: number, op: (worker: number) => Promise<void>): Promise<number> {
  const start = performance.now();
  const end = start + seconds * 1000;
  let ops = 0;
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    while (performance.now() < end) {
      await op(w);
      ops++;
    }
  }));
  return ops / ((performance.now() - start) / 1000);
}

async function once(bytes: number, op: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await op();
  return bytes / mib / ((performance.now() - t) / 1000);
}

/** The figures, each measured as a function of a target. */
const cells: [string, (t: Target) => Promise<number>][] = [
  ...[1, 16].flatMap((c): [string, (t: Target) => Promise<number>][] => [
    [`up1MiB_c${c}`, (t) => rate(c, (w) => t.sink(mib, w))],
    [`down1MiB_c${c}`, (t) => rate(c, (w) => t.source(mib, w))],
  ]),
  ["up64MiB_c1", (t) => once(bigBytes, () => t.sink(bigBytes, 0))],
  ["down64MiB_c1", (t) => once(bigBytes, () => t.source(bigBytes, 0))],
  ...streamCounts.map((c): [string, (t: Target) => Promise<number>] => [`calls_c${c}`, (t) => rate(c, (w) => t.call(w))]),
];

/**
 * Best of --rounds for every cell, the implementations interleaved: round r of a cell runs each
 * implementation in turn, so load from elsewhere on the machine hits all of them alike.
 */
async function measureAll(targets: Record<string, Target>): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const name of Object.keys(targets)) out[name] = {};
  for (const [cell, f] of cells) {
    for (let r = 0; r < rounds; r++) {
      for (const [name, t] of Object.entries(targets)) out[name]![cell] = Math.max(out[name]![cell] ?? 0, Math.round(await f(t)));
    }
  }
  return out;
}

/**
 * Bytes of a body, read and dropped. Not the tests' drain(): it CRCs every byte again, a cost the
 * ceilings do not pay (the transport has already checked the body's own CRC trailer).
 */
async function count(body: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of body) n += c.length;
  return n;
}

/** The conformance service, with a sink that counts instead of checksumming (see count()). */
function benchService(): TransportHandlers {
  const base = testService();
  return {
    ...base,
    async call(c) {
      if (c.method === "sink") return { header: { bytes: c.body ? await count(c.body) : -1 } };
      return base.call(c);
    },
  };
}

function transportTarget(client: Transport, peer: string, close: () => Promise<void>): Target {
  return {
    async call() { await client.call(peer, "whoami"); },
    async sink(bytes) {
      const r = await client.call(peer, "sink", { body: patternStream(bytes) }, { deadlineMs: 120_000 });
      if (r.header.bytes !== bytes) throw new Error("short upload");
    },
    async source(bytes) {
      const r = await client.call(peer, "source", { header: { bytes } }, { deadlineMs: 120_000 });
      if ((await count(r.body!)) !== bytes) throw new Error("short download");
    },
    close,
  };
}

type Creds = { ca: Buffer; cert: Buffer; key: Buffer };

// ---- plain TCP ceiling: a 9-byte head [op u8][n: u32 high][u32 low], then n bytes for a sink ----
const opCall = 0, opSink = 1, opSource = 2;
const block = new Uint8Array(256 * 1024).fill(7);
const head = (op: number, n: number) => {
  const b = Buffer.alloc(9);
  b[0] = op;
  b.writeUInt32BE(Math.floor(n / 2 ** 32), 1);
  b.writeUInt32BE(n % 2 ** 32, 5);
  return b;
};

async function writeBytes(s: net.Socket, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes;) {
    const n = Math.min(block.length, bytes - sent);
    sent += n;
    if (!s.write(block.subarray(0, n))) await new Promise((r) => s.once("drain", r));
  }
}

/** One request/reply connection of the ceilings, plain or TLS. */
function serveConn(s: net.Socket): void {
  {
    s.setNoDelay(true);
    let pending = Buffer.alloc(0);
    let sinkLeft = 0;
    let sinkTotal = 0;
    let busy: Promise<void> = Promise.resolve();
    s.on("data", (d: Buffer) => {
      let buf = pending.length ? Buffer.concat([pending, d]) : d;
      while (buf.length) {
        if (sinkLeft > 0) {
          const n = Math.min(sinkLeft, buf.length);
          sinkLeft -= n;
          buf = buf.subarray(n);
          if (sinkLeft === 0) s.write(head(opSink, sinkTotal));
          continue;
        }
        if (buf.length < 9) break;
        const op = buf[0]!;
        const n = buf.readUInt32BE(1) * 2 ** 32 + buf.readUInt32BE(5);
        buf = buf.subarray(9);
        if (op === opCall) s.write(head(opCall, 0));
        else if (op === opSink) { sinkLeft = sinkTotal = n; if (n === 0) s.write(head(opSink, 0)); }
        else busy = busy.then(() => writeBytes(s, n));
      }
      pending = Buffer.from(buf);
    });
    s.on("error", () => {});
  }
}

class TcpConn {
  private want = 0;
  private resolve?: () => void;
  private constructor(readonly s: net.Socket) {
    s.on("data", (d: Buffer) => {
      this.want -= d.length;
      if (this.want <= 0 && this.resolve) { const r = this.resolve; this.resolve = undefined; r(); }
    });
  }
  static open(port: number, creds?: Creds): Promise<TcpConn> {
    return new Promise((resolve, reject) => {
      const ready = () => { s.setNoDelay(true); resolve(new TcpConn(s)); };
      const s = creds
        ? tls.connect({ port, host: "127.0.0.1", ...creds, checkServerIdentity: () => undefined }, ready)
        : net.connect(port, "127.0.0.1", ready);
      s.once("error", reject);
    });
  }
  private expect(bytes: number): Promise<void> {
    this.want = bytes;
    return new Promise((r) => { this.resolve = r; });
  }
  async call(): Promise<void> {
    const p = this.expect(9);
    this.s.write(head(opCall, 0));
    await p;
  }
  async sink(bytes: number): Promise<void> {
    const p = this.expect(9);
    this.s.write(head(opSink, bytes));
    await writeBytes(this.s, bytes);
    await p;
  }
  async source(bytes: number): Promise<void> {
    const p = this.expect(bytes);
    this.s.write(head(opSource, bytes));
    await p;
  }
}

/** A serving end, in this process or a child (--two-process). */
interface Served { port: number; close(): Promise<void> }

/** The ceilings' server: plain TCP, or the same over mutual TLS (node:tls, same certificates as h2). */
async function tcpServe(serverCreds?: Creds): Promise<Served> {
  const server = serverCreds
    ? tls.createServer({ ...serverCreds, requestCert: true, rejectUnauthorized: true }, serveConn)
    : net.createServer(serveConn);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function tcpConnect(port: number, clientCreds?: Creds): Promise<Target> {
  const conns = await Promise.all(Array.from({ length: Math.max(...streamCounts) }, () => TcpConn.open(port, clientCreds)));
  return {
    call: (w) => conns[w]!.call(),
    sink: (bytes, w) => conns[w]!.sink(bytes),
    source: (bytes, w) => conns[w]!.source(bytes),
    async close() {
      for (const c of conns) c.s.destroy();
    },
  };
}

// ---- the TLS ceiling again on Bun's native sockets (Bun.listen / Bun.connect), as "tls" uses ----
/** Writes `bytes` to a Bun socket in 256 KiB pieces, waiting for 'drain' when it takes less. */
async function bunWrite(s: BunConn, bytes: Uint8Array | number): Promise<void> {
  let left = typeof bytes === "number" ? bytes : 0;
  let pending: Uint8Array | undefined = typeof bytes === "number" ? undefined : bytes;
  for (;;) {
    if (!pending) {
      if (left === 0) return;
      const n = Math.min(block.length, left);
      left -= n;
      pending = block.subarray(0, n);
    }
    const w = s.socket.write(pending);
    pending = w >= pending.length ? undefined : pending.subarray(Math.max(0, w));
    if (pending) await new Promise<void>((r) => { s.drained = r; });
  }
}

interface BunConn {
  socket: import("bun").Socket<BunConn>;
  drained?: () => void;
  /** Client: bytes still expected and who waits for them. Server: the sink in progress. */
  want: number;
  resolve?: () => void;
  pending: Buffer;
  sinkLeft: number;
  sinkTotal: number;
  busy: Promise<void>;
}

function bunServeData(c: BunConn, d: Buffer): void {
  let buf = c.pending.length ? Buffer.concat([c.pending, d]) : d;
  while (buf.length) {
    if (c.sinkLeft > 0) {
      const n = Math.min(c.sinkLeft, buf.length);
      c.sinkLeft -= n;
      buf = buf.subarray(n);
      if (c.sinkLeft === 0) c.socket.write(head(opSink, c.sinkTotal));
      continue;
    }
    if (buf.length < 9) break;
    const op = buf[0]!;
    const n = buf.readUInt32BE(1) * 2 ** 32 + buf.readUInt32BE(5);
    buf = buf.subarray(9);
    if (op === opCall) c.socket.write(head(opCall, 0));
    else if (op === opSink) { c.sinkLeft = c.sinkTotal = n; if (n === 0) c.socket.write(head(opSink, 0)); }
    else c.busy = c.busy.then(() => bunWrite(c, n));
  }
  c.pending = Buffer.from(buf);
}

const freshBunConn = (socket: import("bun").Socket<BunConn>): BunConn =>
  ({ socket, want: 0, pending: Buffer.alloc(0), sinkLeft: 0, sinkTotal: 0, busy: Promise.resolve() });

function bunTlsServe(server: Creds): Served {
  const fresh = freshBunConn;
  const srv = Bun.listen<BunConn>({
    hostname: "127.0.0.1", port: 0,
    tls: { ...server, requestCert: true, rejectUnauthorized: true },
    socket: {
      open(s) { s.data = fresh(s); },
      data: (s, d) => bunServeData(s.data, d),
      drain(s) { const r = s.data.drained; s.data.drained = undefined; r?.(); },
    },
  });
  return { port: srv.port, close: async () => srv.stop(true) };
}

async function bunTlsConnect(port: number, client: Creds): Promise<Target> {
  const fresh = freshBunConn;
  const conns = await Promise.all(Array.from({ length: Math.max(...streamCounts) }, () => new Promise<BunConn>((resolve, reject) => {
    void Bun.connect<BunConn>({
      hostname: "127.0.0.1", port, tls: { ...client, rejectUnauthorized: false },
      socket: {
        open(s) { s.data = fresh(s); },
        handshake(s) { resolve(s.data); },
        data(s, d) {
          const c = s.data;
          c.want -= d.length;
          if (c.want <= 0 && c.resolve) { const r = c.resolve; c.resolve = undefined; r(); }
        },
        drain(s) { const r = s.data.drained; s.data.drained = undefined; r?.(); },
        connectError: (_s, e) => reject(e),
      },
    }).catch(reject);
  })));
  const expect = (c: BunConn, bytes: number) => { c.want = bytes; return new Promise<void>((r) => { c.resolve = r; }); };
  return {
    async call(w) { const c = conns[w]!; const p = expect(c, 9); await bunWrite(c, head(opCall, 0)); await p; },
    async sink(bytes, w) { const c = conns[w]!; const p = expect(c, 9); await bunWrite(c, head(opSink, bytes)); await bunWrite(c, bytes); await p; },
    async source(bytes, w) { const c = conns[w]!; const p = expect(c, bytes); await bunWrite(c, head(opSource, bytes)); await p; },
    async close() {
      for (const c of conns) c.socket.end();
    },
  };
}

// ---- raw HTTP/2 ceiling: node:http2 over mutual TLS, one session, no framing, CRC or web streams ----
async function h2RawServe(server: Creds): Promise<Served> {
  const srv = http2.createSecureServer({ ...server, requestCert: true, rejectUnauthorized: true, settings: { initialWindowSize: 1 << 20 } });
  srv.on("stream", (s, h) => {
    s.on("error", () => {});
    const path = String(h[":path"]);
    if (path === "/call") return s.respond({ ":status": 200 }, { endStream: true });
    if (path === "/sink") {
      s.on("data", () => {});
      s.on("end", () => s.respond({ ":status": 200 }, { endStream: true }));
      return;
    }
    s.respond({ ":status": 200 });
    const bytes = Number(h["x-bytes"]);
    void (async () => {
      for (let sent = 0; sent < bytes;) {
        const n = Math.min(block.length, bytes - sent);
        sent += n;
        if (!s.write(block.subarray(0, n))) await new Promise((r) => s.once("drain", r));
      }
      s.end();
    })();
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

async function h2RawConnect(port: number, client: Creds): Promise<Target> {
  const c = http2.connect(`https://127.0.0.1:${port}`, { ...client, checkServerIdentity: () => undefined, settings: { initialWindowSize: 1 << 20 } } as http2.SecureClientSessionOptions);
  await new Promise((r) => c.once("connect", r));
  const done = (s: http2.ClientHttp2Stream) => new Promise<void>((resolve, reject) => {
    s.on("error", reject);
    s.on("data", () => {});
    s.on("end", () => resolve());
  });
  return {
    call: () => done(c.request({ ":path": "/call" }, { endStream: true })),
    async sink(bytes) {
      const s = c.request({ ":path": "/sink", ":method": "POST" });
      const d = done(s);
      for (let sent = 0; sent < bytes;) {
        const n = Math.min(block.length, bytes - sent);
        sent += n;
        if (!s.write(block.subarray(0, n))) await new Promise((r) => s.once("drain", r));
      }
      s.end();
      await d;
    },
    source: (bytes) => done(c.request({ ":path": "/source", "x-bytes": String(bytes) }, { endStream: true })),
    async close() {
      c.destroy();
    },
  };
}

// ---- serving and connecting by name ------------------------------------------------------------
interface Kit { creds(id: string): Creds; secret: string }

function kit(dir: string): Kit {
  const creds = (id: string) => {
    const p = credentialPaths(dir, id);
    return { ca: readFileSync(p.caCertPath), cert: readFileSync(p.certPath), key: readFileSync(p.keyPath) };
  };
  return { creds, secret: readFileSync(credentialPaths(dir, "a").secretPath, "utf8") };
}

/** BENCH_TLS_CONNECTIONS=n: tls-mux with n connections per peer (default: the transport's). */
const tlsConnections = process.env.BENCH_TLS_CONNECTIONS ? Number(process.env.BENCH_TLS_CONNECTIONS) : undefined;

/** Node "b" of a transport, serving the bench service; "a" is the member that calls. */
async function serveTransport(name: string, k: Kit): Promise<Served> {
  const peers = new Map<string, PeerAddress>([["a", { host: "127.0.0.1", port: 1 }]]);
  const o = { self: "b", peers, tls: k.creds("b"), handlers: benchService(), listen: { host: "127.0.0.1", port: 0 } };
  const t = name === "tls-mux" ? await TlsTransport.start({ ...o, connectionsPerPeer: tlsConnections })
    : name === "http2-mtls" ? await H2Transport.start(o)
    : await QuicTransport.start({ ...o, secret: k.secret });
  return { port: t.address!.port, close: () => t.close() };
}

async function connectTransport(name: string, port: number, k: Kit): Promise<Target> {
  const peers = new Map<string, PeerAddress>([["b", { host: "127.0.0.1", port }]]);
  const o = { self: "a", peers, tls: k.creds("a") };
  const a = name === "tls-mux" ? await TlsTransport.start({ ...o, connectionsPerPeer: tlsConnections })
    : name === "http2-mtls" ? await H2Transport.start(o)
    : await QuicTransport.start({ self: "a", peers, secret: k.secret });
  return transportTarget(a, "b", () => a.close());
}

const networked = ["tls-mux", "http2-mtls", "quic-http3", "h2-raw", "tls-only", "bun-tls-only", "tcp-plain"];

function serveByName(name: string, k: Kit): Promise<Served> | Served {
  switch (name) {
    case "h2-raw": return h2RawServe(k.creds("b"));
    case "tls-only": return tcpServe(k.creds("b"));
    case "bun-tls-only": return bunTlsServe(k.creds("b"));
    case "tcp-plain": return tcpServe();
    default: return serveTransport(name, k);
  }
}

function connectByName(name: string, port: number, k: Kit): Promise<Target> {
  switch (name) {
    case "h2-raw": return h2RawConnect(port, k.creds("a"));
    case "tls-only": return tcpConnect(port, k.creds("a"));
    case "bun-tls-only": return bunTlsConnect(port, k.creds("a"));
    case "tcp-plain": return tcpConnect(port);
    default: return connectTransport(name, port, k);
  }
}

/** --two-process: the serving end of `name` in a child process (its own event loop and core). */
async function serveInChild(name: string, dir: string): Promise<Served> {
  const proc = Bun.spawn([process.execPath, import.meta.path, "--serve", name, dir], { stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const r = await reader.read();
    if (r.done) throw new Error(`bench server ${name} exited before ready`);
    text += new TextDecoder().decode(r.value);
  }
  reader.releaseLock();
  return { port: Number(/port (\d+)/.exec(text)![1]), close: async () => { proc.kill(); await proc.exited; } };
}

// ---- run ---------------------------------------------------------------------------------------
const serveIndex = args.indexOf("--serve");
if (serveIndex >= 0) {
  // Child of --two-process: serve one implementation until killed.
  const served = await serveByName(args[serveIndex + 1]!, kit(args[serveIndex + 2]!));
  console.log(`port ${served.port}`);
  await new Promise(() => {});
}
/**
 * One process (the default): both ends share one event loop, so every byte's encryption and
 * decryption, both ends' framing and both ends' syscalls take turns on one core, as a node talking
 * to itself would. --two-process puts the serving end in a child: each end gets its own loop and,
 * on this 2-core machine, its own core, as two nodes on two machines would.
 */
const twoProcess = args.includes("--two-process");
const only = process.env.BENCH_ONLY?.split(",");
const want = (name: string) => !only || only.includes(name);
const targets: Record<string, Target> = {};
const servers: Served[] = [];
const dir = mkdtempSync(join(tmpdir(), "s3d-bench-net-"));
let results: Record<string, Record<string, number>>;
try {
  if (want("memory") && !twoProcess) {
    const mem = new MemoryNetwork();
    const a = mem.node("a", benchService());
    const b = mem.node("b", benchService());
    targets.memory = transportTarget(a, "b", async () => { await a.close(); await b.close(); });
  }
  await generateDevCerts(dir, ["a", "b"]);
  const k = kit(dir);
  for (const name of networked.filter(want)) {
    const served = twoProcess ? await serveInChild(name, dir) : await serveByName(name, k);
    servers.push(served);
    targets[name] = await connectByName(name, served.port, k);
  }
  results = await measureAll(targets);
} finally {
  for (const t of Object.values(targets)) await t.close();
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
}

const pct = (x: number | undefined, y: number | undefined) => (x && y ? Math.round((1000 * x) / y) / 10 : undefined);
const at16 = (name: string, base: string) => {
  const x = results[name], y = results[base];
  return x && y
    ? { callsPct: pct(x.calls_c16, y.calls_c16), up1MiBPct: pct(x.up1MiB_c16, y.up1MiB_c16), down1MiBPct: pct(x.down1MiB_c16, y.down1MiB_c16) }
    : undefined;
};
/** The row of each transport kind (factory.ts names), for the goal of the default one. */
const rowOfKind: Record<string, string> = { tls: "tls-mux", h2: "http2-mtls", quic: "quic-http3", memory: "memory" };
const defaultRow = rowOfKind[defaultTransportKind]!;
const goal = {
  note: `the default transport (${defaultTransportKind}: ${defaultRow}) at 16 concurrent streams as % of the plain-TCP ceiling at 16 ` +
    `(goal >= 50% with --two-process${twoProcess ? "" : "; this run is one process"})`,
  ...at16(defaultRow, "tcp-plain"),
};
const split = {
  note: "at 16 streams: TLS-only as % of plain TCP (the cost of TLS), raw node:http2 as % of TLS-only (the cost of Bun's HTTP/2), " +
    "the h2 transport as % of raw node:http2 (the cost of s3d's framing, CRC, web streams, deadlines), " +
    "tls-mux as % of the same TLS on Bun's sockets (the cost of s3d's multiplexing, framing, CRC, web streams)",
  tlsOfTcp: at16("tls-only", "tcp-plain"),
  h2RawOfTls: at16("h2-raw", "tls-only"),
  h2OfH2Raw: at16("http2-mtls", "h2-raw"),
  h2OfTls: at16("http2-mtls", "tls-only"),
  bunTlsOfTls: at16("bun-tls-only", "tls-only"),
  tlsMuxOfBunTls: at16("tls-mux", "bun-tls-only"),
  tlsMuxOfTcp: at16("tls-mux", "tcp-plain"),
  h2OfTcp: at16("http2-mtls", "tcp-plain"),
  quicOfTcp: at16("quic-http3", "tcp-plain"),
};

console.log(JSON.stringify({ date: new Date().toISOString(), mode: twoProcess ? "two-process" : "one-process", seconds, rounds, results, goal, split }, null, 2));

const cols = Object.keys(Object.values(results)[0] ?? {});
const lines = [
  `| | ${cols.join(" | ")} |`,
  `|---|${cols.map(() => "---").join("|")}|`,
  ...Object.entries(results).map(([name, r]) => `| ${name} | ${cols.map((c) => r[c]!.toLocaleString("en")).join(" | ")} |`),
  "",
  `goal (default ${defaultRow} / plain TCP at 16 streams): calls ${goal.callsPct}%, 1 MiB up ${goal.up1MiBPct}%, 1 MiB down ${goal.down1MiBPct}%`,
  `split at 16 streams: ${JSON.stringify(split, (k, v) => (k === "note" ? undefined : v))}`,
];
console.error(lines.join("\n"));
