import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentialPaths, generateDevCerts } from "../../src/net/certs.ts";
import { H2Transport, type PeerAddress } from "../../src/net/h2-transport.ts";
import { expectCode, type Harness, runConformance } from "./conformance.ts";
import { testService } from "./service.ts";

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
  const t = await H2Transport.start({
    self: id, peers, tls: creds(certDir, id), bodyIdleTimeoutMs: idleMs,
    ...(serve ? { handlers: testService(), listen: { host: "127.0.0.1", port } } : {}),
  });
  if (t.address) peers.set(id, { host: "127.0.0.1", port: t.address.port });
  return t;
}

async function spawnPeer(id: string, port: number, peers: Map<string, PeerAddress>) {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "h2-peer.ts"), certDir, id, String(port), JSON.stringify(Object.fromEntries(peers))], { stdout: "pipe", stderr: "inherit" });
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

async function h2Harness(child: boolean): Promise<Harness> {
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
  name: "http2-mtls",
  create: ({ child }) => h2Harness(child),
  async stranger(kind) {
    const peers = new Map<string, PeerAddress>();
    const b = await startNode("b", peers);
    // The stranger trusts the real CA (it is public); its own certificate is absent or foreign.
    const tls = kind === "none" ? { ca: creds(certDir, "a").ca } : { ...creds(otherDir, "a"), ca: creds(certDir, "a").ca };
    const rogue = await H2Transport.start({ self: "a", peers, tls });
    return { call: () => rogue.call("b", "whoami", {}, { deadlineMs: 2000 }), close: async () => { await rogue.close(); await b.close(); } };
  },
});

describe("http2-mtls specifics", () => {
  const peers = new Map<string, PeerAddress>();
  let a: H2Transport, b: H2Transport;
  beforeAll(async () => { b = await startNode("b", peers); a = await startNode("a", peers); });
  afterAll(async () => { await a.close(); await b.close(); });

  test("the server must be the node we dialled (certificate CN checked)", async () => {
    const wrong = new Map(peers);
    wrong.set("c", peers.get("b")!); // c's address points at b
    const t = await H2Transport.start({ self: "a", peers: wrong, tls: creds(certDir, "a") });
    await expectCode(t.call("c", "whoami"), ["refused"]);
    await t.close();
  });

  test("one pooled connection carries many calls", async () => {
    await Promise.all(Array.from({ length: 50 }, () => a.call("b", "whoami")));
    expect((a as unknown as { pool: Map<string, unknown> }).pool.size).toBe(1);
  });

  test("a node not in the address book is refused by the server", async () => {
    const only = new Map([["b", peers.get("b")!]]);
    const t = await H2Transport.start({ self: "c", peers: only, tls: creds(certDir, "c") });
    // b does not know c: c has a valid certificate but is not a member.
    const lonely = await H2Transport.start({ self: "b", peers: new Map(), tls: creds(certDir, "b"), handlers: testService(), listen: { host: "127.0.0.1", port: 0 } });
    only.set("b", { host: "127.0.0.1", port: lonely.address!.port });
    await expectCode(t.call("b", "whoami"), ["refused"]);
    await t.close();
    await lonely.close();
  });
});
