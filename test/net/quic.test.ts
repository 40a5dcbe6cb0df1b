import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentialPaths, generateDevCerts } from "../../src/net/certs.ts";
import type { PeerAddress } from "../../src/net/h2-transport.ts";
import { clockSkewMs, secretKey, signRequest } from "../../src/net/quic-auth.ts";
import { QuicTransport } from "../../src/net/quic-transport.ts";
import { TransportError } from "../../src/net/transport.ts";
import { expectCode, type Harness, runConformance } from "./conformance.ts";
import { peerHarness } from "./peer-harness.ts";
import { testService } from "./service.ts";

const dir = mkdtempSync(join(tmpdir(), "s3d-quic-"));
const certDir = join(dir, "cluster");
const otherDir = join(dir, "other");
await Promise.all([generateDevCerts(certDir, ["a", "b", "c"]), generateDevCerts(otherDir, ["a", "b"])]);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function creds(d: string, id: string) {
  const p = credentialPaths(d, id);
  return { secret: readFileSync(p.secretPath, "utf8"), tls: { cert: readFileSync(p.certPath), key: readFileSync(p.keyPath) } };
}
const idleMs = 500;

async function startNode(id: string, peers: Map<string, PeerAddress>, port = 0, serve = true, d = certDir) {
  const t = await QuicTransport.start({
    self: id, peers, ...creds(d, id), bodyIdleTimeoutMs: idleMs,
    ...(serve ? { handlers: testService(), listen: { host: "127.0.0.1", port } } : {}),
  });
  if (t.address) peers.set(id, { host: "127.0.0.1", port: t.address.port });
  return t;
}

const quicHarness = (child: boolean): Promise<Harness> =>
  peerHarness(child, startNode, {
    script: join(import.meta.dir, "quic-peer.ts"),
    argsOf: (id, port, peers) => [certDir, id, String(port), JSON.stringify(Object.fromEntries(peers))],
  });

/** A caller with no secret: a plain HTTP/3 request with no signature. */
async function unsignedCall(port: number): Promise<never> {
  const res = await fetch(`https://127.0.0.1:${port}/s3d/v1/call/whoami`, {
    method: "POST", protocol: "http3", tls: { rejectUnauthorized: false },
    headers: { "x-s3d-from": "a", "x-s3d-to": "b" },
  } as RequestInit);
  await res.body?.cancel();
  if (res.status === 403 && res.headers.get("x-s3d-error-code") === "refused") throw new TransportError("refused", "unsigned call refused");
  throw new Error(`unsigned call answered ${res.status}`);
}

runConformance({
  name: "quic-http3",
  create: ({ child }) => quicHarness(child),
  async stranger(kind) {
    const peers = new Map<string, PeerAddress>();
    const b = await startNode("b", peers);
    const port = peers.get("b")!.port;
    peers.set("a", { host: "127.0.0.1", port: 1 });
    // "wrong": a node that has its own cluster's secret, not b's.
    const rogue = kind === "wrong" ? await startNode("a", new Map(peers), 0, false, otherDir) : undefined;
    return {
      call: () => rogue ? rogue.call("b", "whoami", {}, { deadlineMs: 2000 }) : unsignedCall(port),
      close: async () => { await rogue?.close(); await b.close(); },
    };
  },
});

describe("quic-http3 specifics", () => {
  test("a reply not signed by the node dialled is refused", async () => {
    const peers = new Map<string, PeerAddress>();
    const b = await startNode("b", peers);
    const a = await startNode("a", peers, 0, false);
    peers.set("c", peers.get("b")!); // c's address points at b: b refuses a request meant for c
    const e = await expectCode(a.call("c", "whoami"), ["refused"]);
    expect(e.message).toContain("unverified reason: request meant for c");
    await a.close();
    await b.close();
  });

  test("a replayed or stale request is refused", async () => {
    const peers = new Map<string, PeerAddress>();
    const b = await startNode("b", peers);
    peers.set("a", { host: "127.0.0.1", port: 1 });
    const key = secretKey(creds(certDir, "a").secret);
    const signed = (timeMs: number, nonce: string) => {
      const head = { from: "a", to: "b", path: "/s3d/v1/call/whoami", timeMs, nonce, deadlineMs: 1000, header: "{}", hasBody: false };
      return {
        "x-s3d-from": "a", "x-s3d-to": "b", "x-s3d-time-ms": String(timeMs), "x-s3d-nonce": nonce,
        "x-s3d-deadline-ms": "1000", "x-s3d-body": "0", "x-s3d-header": "{}", "x-s3d-sig": signRequest(key, head),
      };
    };
    const send = async (headers: Record<string, string>) => {
      const res = await fetch(`https://127.0.0.1:${peers.get("b")!.port}/s3d/v1/call/whoami`, {
        method: "POST", protocol: "http3", tls: { rejectUnauthorized: false }, headers,
      } as RequestInit);
      await res.body?.cancel();
      // Refusals are never signed (no signing oracle for outsiders).
      if (res.status === 403) expect(res.headers.get("x-s3d-sig")).toBeNull();
      return [res.status, res.headers.get("x-s3d-error") ?? ""] as const;
    };
    const fresh = signed(Date.now(), "n-1");
    expect((await send(fresh))[0]).toBe(200);
    expect(await send(fresh)).toEqual([403, "request%20replayed"]);
    const [status, why] = await send(signed(Date.now() - clockSkewMs - 1000, "n-2"));
    expect(status).toBe(403);
    expect(decodeURIComponent(why)).toContain("clock skew");
    await b.close();
  });

  test("with NODE_EXTRA_CA_CERTS at start and verifyServerCertificate, TLS checks the server too", async () => {
    // Same secret everywhere; only the server certificate's CA differs.
    const peers = new Map<string, PeerAddress>([["a", { host: "127.0.0.1", port: 1 }]]);
    const good = await startNode("b", new Map(peers));
    const foreign = await QuicTransport.start({
      self: "b", peers, secret: creds(certDir, "b").secret, tls: creds(otherDir, "b").tls,
      handlers: testService(), listen: { host: "127.0.0.1", port: 0 },
    });
    const run = async (port: number) => {
      const p = Bun.spawn([process.execPath, join(import.meta.dir, "quic-verify-peer.ts"), credentialPaths(certDir, "a").secretPath, String(port)], {
        stdout: "pipe", stderr: "ignore", env: { ...process.env, NODE_EXTRA_CA_CERTS: credentialPaths(certDir, "a").caCertPath },
      });
      return (await new Response(p.stdout).text()).trim();
    };
    expect(await run(good.address!.port)).toBe("ok a");
    expect(await run(foreign.address!.port)).toBe("refused");
    await good.close();
    await foreign.close();
  }, 15_000);
});
