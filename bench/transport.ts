/**
 * Transport benchmark: one process, both ends on loopback, every implementation measured in the
 * same run. Prints JSON: MiB/s for 64 MiB bodies up (caller → peer) and down (peer → caller),
 * and small-call rate (calls/s) at concurrency 1 and 64.
 *
 *   bun bench/transport.ts [--mib 64] [--seconds 1]
 *
 * Implementations: the in-memory twin (framing cost only) and HTTP/2 over mutual TLS. The QUIC
 * transport is not built yet (see docs/transport.md), so it has no figures.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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
const bodyMiB = flag("--mib", 64);
const seconds = flag("--seconds", 1);
const rounds = 3;

async function bestOf(f: () => Promise<number>): Promise<number> {
  let best = 0;
  for (let r = 0; r < rounds; r++) best = Math.max(best, await f());
  return Math.round(best);
}

async function mibPerSec(f: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await f();
  return bodyMiB / ((performance.now() - t) / 1000);
}

async function callsPerSec(client: Transport, peer: string, concurrency: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let calls = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      await client.call(peer, "whoami");
      calls++;
    }
  }));
  return calls / seconds;
}

async function measure(client: Transport, peer: string) {
  const bytes = bodyMiB * 2 ** 20;
  return {
    upMiBPerSec: await bestOf(() => mibPerSec(async () => {
      const r = await client.call(peer, "sink", { body: patternStream(bytes) }, { deadlineMs: 120_000 });
      if (r.header.bytes !== bytes) throw new Error("short upload");
    })),
    downMiBPerSec: await bestOf(() => mibPerSec(async () => {
      const r = await client.call(peer, "source", { header: { bytes } }, { deadlineMs: 120_000 });
      if ((await drain(r.body!)).bytes !== bytes) throw new Error("short download");
    })),
    callsPerSecConcurrency1: await bestOf(() => callsPerSec(client, peer, 1)),
    callsPerSecConcurrency64: await bestOf(() => callsPerSec(client, peer, 64)),
  };
}

const results: Record<string, unknown> = {};

{
  const net = new MemoryNetwork();
  const a = net.node("a", testService());
  const b = net.node("b", testService());
  results.memory = await measure(a, "b");
  await a.close();
  await b.close();
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
    results["http2-mtls"] = await measure(a, "b");
    await a.close();
    await b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

results.quic = {
  notBuilt: "Bun 1.4.5 serves HTTP/3 (Bun.serve http3: true) and fetch speaks it (protocol: 'http3'), but only " +
    "with tls.rejectUnauthorized=false: a private CA fails with HTTP3Unsupported, and no client certificate can be sent",
};

console.log(JSON.stringify({ bodyMiB, seconds, rounds, results }, null, 2));
