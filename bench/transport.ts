/**
 * Transport benchmark: one process, both ends on loopback, every implementation measured in the
 * same run. JSON on stdout (with or without --json); a markdown table on stderr.
 *
 *   bun bench/transport.ts [--json] [--seconds 1] [--rounds 3]
 *
 * Figures (best of --rounds):
 *  - MiB/s for 1 MiB bodies at 1 and 16 concurrent streams, and one 64 MiB body, up (caller → peer,
 *    "sink") and down (peer → caller, "source");
 *  - small-call rate (calls/s, no body) at 1, 16 and 128 concurrent streams.
 * Implementations: the in-memory twin (framing cost only), HTTP/2 over mutual TLS (the default), and
 * the plain-TCP ceiling: a minimal node:net request/reply protocol without TLS, framing or checksums,
 * one connection per concurrent stream (no multiplexing cost either), with the same sink/source/call shape.
 * Goal ratio: HTTP/2-mTLS at 16 streams / plain TCP at 16 streams (goal ≥ 50 %), for small calls and
 * for 1 MiB bodies. QUIC is not built (see docs/transport.md), so it has no figures.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentialPaths, generateDevCerts } from "../src/net/certs.ts";
import { H2Transport, type PeerAddress } from "../src/net/h2-transport.ts";
import { MemoryNetwork } from "../src/net/memory.ts";
import type { Transport } from "../src/net/transport.ts";
import { drain, patternStream, testService } from "../test/net/service.ts";

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

async function bestOf(f: () => Promise<number>): Promise<number> {
  let best = 0;
  for (let r = 0; r < rounds; r++) best = Math.max(best, await f());
  return Math.round(best);
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

async function measure(t: Target) {
  const r: Record<string, number> = {};
  for (const c of [1, 16]) {
    r[`up1MiB_c${c}`] = await bestOf(() => rate(c, (w) => t.sink(mib, w)));
    r[`down1MiB_c${c}`] = await bestOf(() => rate(c, (w) => t.source(mib, w)));
  }
  r.up64MiB_c1 = await bestOf(() => once(bigBytes, () => t.sink(bigBytes, 0)));
  r.down64MiB_c1 = await bestOf(() => once(bigBytes, () => t.source(bigBytes, 0)));
  for (const c of streamCounts) r[`calls_c${c}`] = await bestOf(() => rate(c, (w) => t.call(w)));
  await t.close();
  return r;
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
      if ((await drain(r.body!)).bytes !== bytes) throw new Error("short download");
    },
    close,
  };
}

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

function tcpServer(): net.Server {
  return net.createServer((s) => {
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
  });
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
  static open(port: number): Promise<TcpConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => { s.setNoDelay(true); resolve(new TcpConn(s)); });
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

async function tcpTarget(): Promise<Target> {
  const server = tcpServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const conns = await Promise.all(Array.from({ length: Math.max(...streamCounts) }, () => TcpConn.open(port)));
  return {
    call: (w) => conns[w]!.call(),
    sink: (bytes, w) => conns[w]!.sink(bytes),
    source: (bytes, w) => conns[w]!.source(bytes),
    async close() {
      for (const c of conns) c.s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// ---- run ---------------------------------------------------------------------------------------
const results: Record<string, Record<string, number>> = {};
{
  const mem = new MemoryNetwork();
  const a = mem.node("a", testService());
  const b = mem.node("b", testService());
  results.memory = await measure(transportTarget(a, "b", async () => { await a.close(); await b.close(); }));
}
{
  const dir = mkdtempSync(join(tmpdir(), "s3d-bench-net-"));
  try {
    await generateDevCerts(dir, ["a", "b"]);
    const creds = (id: string) => {
      const p = credentialPaths(dir, id);
      return { ca: readFileSync(p.caCertPath), cert: readFileSync(p.certPath), key: readFileSync(p.keyPath) };
    };
    const peers = new Map<string, PeerAddress>([["a", { host: "127.0.0.1", port: 1 }]]);
    const b = await H2Transport.start({ self: "b", peers, tls: creds("b"), handlers: testService(), listen: { host: "127.0.0.1", port: 0 } });
    peers.set("b", { host: "127.0.0.1", port: b.address!.port });
    const a = await H2Transport.start({ self: "a", peers, tls: creds("a") });
    results["http2-mtls"] = await measure(transportTarget(a, "b", async () => { await a.close(); await b.close(); }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
results["tcp-plain"] = await measure(await tcpTarget());

const h2 = results["http2-mtls"]!, tcp = results["tcp-plain"]!;
const pct = (x: number, y: number) => Math.round((1000 * x) / y) / 10;
const goal = {
  note: "HTTP/2-mTLS at 16 concurrent streams as % of the plain-TCP ceiling at 16 (goal >= 50%)",
  callsPct: pct(h2.calls_c16!, tcp.calls_c16!),
  up1MiBPct: pct(h2.up1MiB_c16!, tcp.up1MiB_c16!),
  down1MiBPct: pct(h2.down1MiB_c16!, tcp.down1MiB_c16!),
};
const quic = "not built: Bun 1.4.5's HTTP/3 fetch accepts only tls.rejectUnauthorized=false (a private CA fails with " +
  "HTTP3Unsupported, no client certificate), see docs/transport.md";

console.log(JSON.stringify({ date: new Date().toISOString(), seconds, rounds, results, goal, quic }, null, 2));

const cols = Object.keys(h2);
const lines = [
  `| | ${cols.join(" | ")} |`,
  `|---|${cols.map(() => "---").join("|")}|`,
  ...Object.entries(results).map(([name, r]) => `| ${name} | ${cols.map((c) => r[c]!.toLocaleString("en")).join(" | ")} |`),
  "",
  `goal (HTTP/2-mTLS / plain TCP at 16 streams): calls ${goal.callsPct}%, 1 MiB up ${goal.up1MiBPct}%, 1 MiB down ${goal.down1MiBPct}%`,
];
console.error(lines.join("\n"));
