/**
 * Soak: a 5-node loopback mesh of the default transport (SOAK_TRANSPORT=h2|quic|tls picks another;
 * in-process peers, 127.0.0.1 ports) keeps ~200 calls in
 * flight, thousands overall, with bodies of varying sizes both ways (echo up+down, sink up, source
 * down), while peers are restarted mid-run (n3 twice, n5 once) (closed, then started again on the same port with
 * their certificate). Every reply byte is checked against what was sent (exact compare for echo,
 * length + CRC-32 for sink/source). Every call either returns the right bytes or fails with a
 * TransportError — never wrong or short bytes — and after a restart calls to that peer succeed again.
 *
 * Bounded: SOAK_CALLS calls (default 12,000) or SOAK_SECONDS (default 10) of issuing, whichever first;
 * seeded by SOAK_SEED (default 6). ≈4.5 s here for 12,000 calls, ≈420 MiB each way.
 *
 * Peers use the default bodyIdleTimeoutMs (10 s). Seen here: with SOAK_IDLE_MS=2000 and no restarts
 * (SOAK_NO_RESTARTS=1), ~30 of 12,000 calls between healthy peers failed with "idle" or "reset"
 * (the other end's idle cut-off): under 200 streams in one process a body can go >2 s without bytes.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { generateDevCerts } from "../../src/net/certs.ts";
import { createTransport, defaultTransportKind, isTransportKind } from "../../src/net/factory.ts";
import { bodyIdleTimeoutMs, type PeerAddress, type Transport, TransportError } from "../../src/net/transport.ts";
import { Prng } from "../../src/raft/prng.ts";
import { drain, patternCrc, testService } from "./service.ts";

const seed = Number(process.env.SOAK_SEED ?? 6);
const callsTotal = Number(process.env.SOAK_CALLS ?? 12_000);
const issueSeconds = Number(process.env.SOAK_SECONDS ?? 10);
const concurrency = 200;
const ids = ["n1", "n2", "n3", "n4", "n5"];
/** Restarted mid-run, at these fractions of the run (calls done or issuing time, whichever first). */
const restarts = process.env.SOAK_NO_RESTARTS ? [] : [{ id: "n3", at: 0.25 }, { id: "n5", at: 0.5 }, { id: "n3", at: 0.75 }];
const restartedIds = new Set(restarts.map((x) => x.id));
const downMs = 150;

const dir = mkdtempSync(join(tmpdir(), "s3d-soak-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kind = process.env.SOAK_TRANSPORT ?? defaultTransportKind;
if (!isTransportKind(kind) || kind === "memory") throw new Error(`SOAK_TRANSPORT: not a network transport: ${kind}`);

/** Seeded random bytes that request bodies are cut from. */
const poolBytes = 2 << 20;
const pool = (() => {
  const p = new Prng(seed ^ 0x5eed);
  const b = new Uint8Array(poolBytes);
  const v = new DataView(b.buffer);
  for (let i = 0; i < b.length; i += 4) v.setUint32(i, p.u32());
  return b;
})();

/** A body size: mostly small, some medium, a few up to 1 MiB; zero now and then. */
function bodySize(r: Prng): number {
  const x = r.float();
  if (x < 0.05) return 0;
  if (x < 0.5) return 1 + r.int(1024);
  if (x < 0.85) return 1024 + r.int(63 * 1024);
  if (x < 0.97) return 64 * 1024 + r.int(192 * 1024);
  return 256 * 1024 + r.int(768 * 1024);
}

/** The bytes `data`, delivered in chunks of seeded random sizes, pulled on demand. */
function chunked(data: Uint8Array, r: Prng): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (off >= data.length) { c.close(); return; }
      const n = Math.min(data.length - off, 1 + r.int(r.chance(0.5) ? 4096 : 128 * 1024));
      c.enqueue(data.subarray(off, off + n));
      off += n;
    },
  }, { highWaterMark: 0 });
}

/** Reads `body` and compares it byte for byte with `expected`; returns a mismatch description. */
async function compare(body: ReadableStream<Uint8Array> | undefined, expected: Uint8Array): Promise<string | undefined> {
  if (!body) return "no body";
  let off = 0;
  let bad: string | undefined;
  for await (const c of body) {
    if (!bad) {
      if (off + c.length > expected.length) bad = `too long: ${off + c.length} > ${expected.length}`;
      else if (Buffer.compare(c, expected.subarray(off, off + c.length)) !== 0) bad = `bytes differ in [${off}, ${off + c.length})`;
    }
    off += c.length;
  }
  if (!bad && off !== expected.length) bad = `short: ${off} of ${expected.length}`;
  return bad;
}

test(`soak: 5-node ${kind} mesh, ~200 calls in flight, peers restarted, every byte checked`, async () => {
  const started = performance.now();
  await generateDevCerts(dir, ids);
  const peers = new Map<string, PeerAddress>();
  const nodes = new Map<string, Transport>();
  const start = async (id: string, port: number) => {
    const t = await createTransport({
      kind, self: id, peers, credentialsDir: dir, handlers: testService(), listen: { host: "127.0.0.1", port },
      bodyIdleTimeoutMs: Number(process.env.SOAK_IDLE_MS ?? bodyIdleTimeoutMs),
    });
    peers.set(id, { host: "127.0.0.1", port: (t as Transport & { address: PeerAddress }).address.port });
    nodes.set(id, t);
    return t;
  };
  for (const id of ids) await start(id, 0);

  const rng = new Prng(seed);
  /** When each restarted node was up again (performance.now()). */
  const backAt = new Map<string, number>();
  const stats = {
    issued: 0, ok: 0, failed: 0, wrong: 0, bytesUp: 0, bytesDown: 0, maxInFlight: 0,
    failedByCode: {} as Record<string, number>,
    /** Failed calls where neither end was a restarted node. */
    failedUninvolved: 0,
    /** Calls to a restarted node, issued after it was back, that succeeded. */
    okAfterRestart: {} as Record<string, number>,
  };
  const wrongSamples: string[] = [];
  const uninvolvedSamples: string[] = [];
  let inFlight = 0;
  const deadlineAt = started + issueSeconds * 1000;
  let restartChain = Promise.resolve();
  let nextRestart = 0;

  const oneCall = async (r: Prng) => {
    const from = r.pick(ids);
    let to = r.pick(ids);
    while (to === from) to = r.pick(ids);
    const kind = r.float();
    const size = bodySize(r);
    const off = r.int(poolBytes - size + 1);
    const data = pool.subarray(off, off + size);
    const issuedAt = performance.now();
    const seq = stats.issued++;
    inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
    let wrong: string | undefined;
    try {
      const client = nodes.get(from)!;
      const options = { deadlineMs: 8000 };
      if (kind < 0.6) { // echo: up and down, exact bytes
        const withBody = r.float() < 0.95;
        const reply = await client.call(to, "echo", { header: { seq, size }, ...(withBody ? { body: chunked(data, r) } : {}) }, options);
        if (reply.header.seq !== seq || reply.header.size !== size) wrong = `header ${JSON.stringify(reply.header)} for seq ${seq}`;
        else if (withBody) wrong = await compare(reply.body, data);
        else if (reply.body) wrong = "unexpected body";
        if (withBody) { stats.bytesUp += size; stats.bytesDown += size; }
      } else if (kind < 0.8) { // sink: up; the peer reports length and CRC of what it read
        const reply = await client.call(to, "sink", { body: chunked(data, r) }, options);
        const want = crc32(data);
        if (reply.header.bytes !== size || reply.header.crc !== want) wrong = `sink got ${JSON.stringify(reply.header)}, sent ${size} crc ${want}`;
        stats.bytesUp += size;
      } else { // source: down, the peer's fixed pattern
        const reply = await client.call(to, "source", { header: { bytes: size } }, options);
        const got = reply.body ? await drain(reply.body) : { bytes: -1, crc: 0 };
        if (got.bytes !== size || got.crc !== patternCrc(size)) wrong = `source gave ${got.bytes} bytes crc ${got.crc}, want ${size}`;
        stats.bytesDown += size;
      }
      if (wrong) {
        stats.wrong++;
        if (wrongSamples.length < 5) wrongSamples.push(`${from}->${to}: ${wrong}`);
      } else {
        stats.ok++;
        const back = backAt.get(to);
        if (back !== undefined && issuedAt >= back) stats.okAfterRestart[to] = (stats.okAfterRestart[to] ?? 0) + 1;
      }
    } catch (e) {
      if (e instanceof TransportError) {
        stats.failed++;
        stats.failedByCode[e.code] = (stats.failedByCode[e.code] ?? 0) + 1;
        if (!restartedIds.has(from) && !restartedIds.has(to)) {
          stats.failedUninvolved++;
          if (uninvolvedSamples.length < 5) uninvolvedSamples.push(`${from}->${to} +${Math.round(issuedAt - started)}ms: ${e.message}`);
        }
      } else {
        stats.wrong++;
        if (wrongSamples.length < 5) wrongSamples.push(`${from}->${to}: not a TransportError: ${String(e)}`);
      }
    } finally {
      inFlight--;
    }
  };

  const restart = async (id: string) => {
    const port = peers.get(id)!.port;
    await nodes.get(id)!.close();
    await new Promise((r) => setTimeout(r, downMs));
    await start(id, port);
    backAt.set(id, performance.now());
  };

  await Promise.all(Array.from({ length: concurrency }, async () => {
    const r = rng.fork();
    while (stats.issued < callsTotal && performance.now() < deadlineAt) {
      const doneFrac = Math.max((stats.ok + stats.failed + stats.wrong) / callsTotal,
        (performance.now() - started) / (issueSeconds * 1000));
      if (nextRestart < restarts.length && doneFrac >= restarts[nextRestart]!.at) {
        const id = restarts[nextRestart++]!.id;
        restartChain = restartChain.then(() => restart(id)); // one restart at a time
      }
      await oneCall(r);
    }
  }));
  await restartChain;

  // After the restarts, every node reaches every restarted node again.
  for (const id of restartedIds) {
    for (const from of ids) {
      if (from === id) continue;
      const data = pool.subarray(0, 100_000);
      const reply = await nodes.get(from)!.call(id, "echo", { header: { check: true }, body: chunked(data, rng) }, { deadlineMs: 5000 });
      expect(await compare(reply.body, data)).toBeUndefined();
      stats.okAfterRestart[id] = (stats.okAfterRestart[id] ?? 0) + 1;
    }
  }
  for (const t of nodes.values()) await t.close();

  const seconds = (performance.now() - started) / 1000;
  console.log(`soak seed ${seed}: ${JSON.stringify({ ...stats, uninvolvedSamples, restarts: restarts.length, seconds: Number(seconds.toFixed(1)) })}`);
  expect(wrongSamples).toEqual([]);
  expect(stats.wrong).toBe(0);
  expect(stats.ok + stats.failed).toBe(stats.issued);
  expect(stats.issued).toBeGreaterThanOrEqual(Math.min(callsTotal, 2000));
  expect(stats.maxInFlight).toBe(concurrency);
  expect(stats.ok).toBeGreaterThan(stats.issued * 0.8);
  expect(stats.failedUninvolved).toBe(0);
  expect(nextRestart).toBe(restarts.length);
  expect(backAt.size).toBe(restartedIds.size);
  for (const id of restartedIds) expect(stats.okAfterRestart[id] ?? 0).toBeGreaterThan(ids.length - 1);
  expect(seconds).toBeLessThan(15);
}, 30_000);
