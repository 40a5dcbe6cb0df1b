import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentialPaths, generateDevCerts } from "../../src/net/certs.ts";
import { connectionsPerPeer, TlsTransport, type PeerAddress } from "../../src/net/tls-transport.ts";
import { dataFrameBytesMax, streamWindowBytes } from "../../src/net/tls-wire.ts";
import { expectCode, type Harness, runConformance } from "./conformance.ts";
import { drain, patternCrc, patternStream, testService } from "./service.ts";

const dir = mkdtempSync(join(tmpdir(), "s3d-net-"));
const certDir = join(dir, "cluster");
const otherDir = join(dir, "other");
await Promise.all([generateDevCerts(certDir, ["a", "b", "c"]), generateDevCerts(otherDir, ["a", "b"])]);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function creds(d: string, id: string) {
  const p = credentialPaths(d, id);
  return { ca: readFileSync(p.caCertPath), cert: readFileSync(p.certPath), key: readFileSync(p.keyPath) };
}
const idleMs = 500;

async function startNode(id: string, peers: Map<string, PeerAddress>, port = 0, serve = true) {
  const t = await TlsTransport.start({
    self: id, peers, tls: creds(certDir, id), bodyIdleTimeoutMs: idleMs,
    ...(serve ? { handlers: testService(), listen: { host: "127.0.0.1", port } } : {}),
  });
  if (t.address) peers.set(id, { host: "127.0.0.1", port: t.address.port });
  return t;
}

async function spawnPeer(id: string, port: number, peers: Map<string, PeerAddress>) {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "tls-peer.ts"), certDir, id, String(port), JSON.stringify(Object.fromEntries(peers))], { stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const r = await reader.read();
    if (r.done) throw new Error(`peer ${id} exited before ready`);
    text += new TextDecoder().decode(r.value);
  }
  reader.releaseLock();
  const m = /ready (\d+)/.exec(text);
  if (!m) throw new Error(`peer ${id}: ${text}`);
  return { proc, port: Number(m[1]) };
}

async function tlsHarness(child: boolean): Promise<Harness> {
  const peers = new Map<string, PeerAddress>();
  if (!child) {
    let b = await startNode("b", peers);
    const port = peers.get("b")!.port;
    const a = await startNode("a", peers);
    return {
      client: a, peer: "b",
      async killPeer() { await b.close(); },
      async restartPeer() { b = await startNode("b", peers, port); },
      async close() { await a.close(); await b.close(); },
    };
  }
  peers.set("a", { host: "127.0.0.1", port: 1 }); // a only dials; b must know it as a member
  let p = await spawnPeer("b", 0, peers);
  const port = p.port;
  peers.set("b", { host: "127.0.0.1", port });
  const a = await startNode("a", peers);
  return {
    client: a, peer: "b",
    async killPeer() { p.proc.kill(9); await p.proc.exited; },
    async restartPeer() { p = await spawnPeer("b", port, peers); },
    async close() { await a.close(); p.proc.kill(9); await p.proc.exited; },
  };
}

runConformance({
  name: "tls-mux",
  create: ({ child }) => tlsHarness(child),
  async stranger(kind) {
    const peers = new Map<string, PeerAddress>();
    const b = await startNode("b", peers);
    // The stranger trusts the real CA (it is public); its own certificate is absent or foreign.
    const tls = kind === "none" ? { ca: creds(certDir, "a").ca } : { ...creds(otherDir, "a"), ca: creds(certDir, "a").ca };
    const rogue = await TlsTransport.start({ self: "a", peers, tls });
    return { call: () => rogue.call("b", "whoami", {}, { deadlineMs: 2000 }), close: async () => { await rogue.close(); await b.close(); } };
  },
});

describe("tls-mux specifics", () => {
  const peers = new Map<string, PeerAddress>();
  let a: TlsTransport, b: TlsTransport;
  beforeAll(async () => { b = await startNode("b", peers); a = await startNode("a", peers); });
  afterAll(async () => { await a.close(); await b.close(); });

  test("the server must be the node we dialled (certificate CN checked)", async () => {
    const wrong = new Map(peers);
    wrong.set("c", peers.get("b")!); // c's address points at b
    const t = await TlsTransport.start({ self: "a", peers: wrong, tls: creds(certDir, "a") });
    await expectCode(t.call("c", "whoami"), ["refused"]);
    await t.close();
  });

  test("a small pool of connections carries many calls", async () => {
    await Promise.all(Array.from({ length: 50 }, () => a.call("b", "whoami")));
    const pool = (a as unknown as { pool: Map<string, { slots: { conn?: unknown }[] }> }).pool;
    expect([...pool.keys()]).toEqual(["b"]);
    expect(pool.get("b")!.slots.filter((s) => s.conn).length).toBe(connectionsPerPeer);
  });

  test("a node not in the address book is refused by the server", async () => {
    const only = new Map([["b", peers.get("b")!]]);
    const t = await TlsTransport.start({ self: "c", peers: only, tls: creds(certDir, "c") });
    // b does not know c: c has a valid certificate but is not a member.
    const lonely = await TlsTransport.start({ self: "b", peers: new Map(), tls: creds(certDir, "b"), handlers: testService(), listen: { host: "127.0.0.1", port: 0 } });
    only.set("b", { host: "127.0.0.1", port: lonely.address!.port });
    await expectCode(t.call("b", "whoami"), ["refused"]);
    await t.close();
    await lonely.close();
  });
  test("a caller whose Hello claims another node than its certificate is refused", async () => {
    // c's certificate, but it says it is a: the server must believe the certificate, and refuse.
    const liar = await TlsTransport.start({ self: "a", peers, tls: creds(certDir, "c") });
    const e = await expectCode(liar.call("b", "whoami"), ["refused"]);
    expect(e.message).toContain("certificate names c");
    await liar.close();
  });

  test("a server whose certificate another CA signed is refused, whatever address it is dialled at", async () => {
    for (const host of ["127.0.0.1", "127.0.0.2"]) {
      const rogue = await TlsTransport.start({ self: "b", peers, tls: { ...creds(otherDir, "b"), ca: creds(certDir, "b").ca }, handlers: testService(), listen: { host, port: 0 } });
      const t = await TlsTransport.start({ self: "a", peers: new Map([["b", { host, port: rogue.address!.port }]]), tls: creds(certDir, "a") });
      const e = await expectCode(t.call("b", "whoami"), ["refused"]);
      expect(e.message).toContain("server certificate");
      await t.close();
      await rogue.close();
    }
  });

  test("an address missing from the certificate's names is fine when the CA signed it (the CN names the node)", async () => {
    const b2 = await TlsTransport.start({ self: "b", peers, tls: creds(certDir, "b"), handlers: testService(), listen: { host: "127.0.0.2", port: 0 } });
    const t = await TlsTransport.start({ self: "a", peers: new Map([["b", { host: "127.0.0.2", port: b2.address!.port }], ["a", peers.get("a")!]]), tls: creds(certDir, "a") });
    expect((await t.call("b", "whoami")).header).toEqual({ from: "a" });
    await t.close();
    await b2.close();
  });

  test("a reader that does not read holds the sender to one window (flow control per stream)", async () => {
    let pulled = 0;
    const bytes = 64 << 20;
    const counting = new ReadableStream<Uint8Array>({
      async pull(c) {
        const r = await reader.read();
        if (r.done) return c.close();
        pulled += r.value.length;
        c.enqueue(r.value);
      },
    }, { highWaterMark: 0 });
    const reader = patternStream(bytes).getReader();
    const server = await TlsTransport.start({
      self: "b", peers: new Map([["a", peers.get("a")!]]), tls: creds(certDir, "b"), listen: { host: "127.0.0.1", port: 0 },
      handlers: { call: () => ({ header: {}, body: counting }) },
    });
    const p2 = new Map(peers);
    p2.set("b", { host: "127.0.0.1", port: server.address!.port });
    const client = await TlsTransport.start({ self: "a", peers: p2, tls: creds(certDir, "a") });
    const r = await client.call("b", "source", {}, { deadlineMs: 20_000 });
    await Bun.sleep(300);
    // One window in flight, plus the chunk the sender holds while it waits for credit.
    expect(pulled).toBeGreaterThan(0);
    expect(pulled).toBeLessThanOrEqual(streamWindowBytes + dataFrameBytesMax);
    expect(await drain(r.body!)).toEqual({ bytes, crc: patternCrc(bytes) });
    expect(pulled).toBe(bytes);
    await client.close();
    await server.close();
  });
});
