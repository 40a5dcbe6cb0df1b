/**
 * What the tests of the mutual-TLS transports ("h2" and "tls") share: a dev cluster's
 * credentials (and a foreign CA's), nodes in this process or in a child one, the conformance
 * run and the identity checks both must pass.
 */
import { afterAll, beforeAll, describe, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDevCerts } from "../../src/net/certs.ts";
import type { PeerAddress } from "../../src/net/transport.ts";
import { expectCode, type Harness, runConformance } from "./conformance.ts";
import { peerHarness } from "./peer-harness.ts";
import { credentialsOf, idleMs, type MtlsKind, type MtlsNode, type MtlsOptions } from "./mtls-nodes.ts";
import { testService } from "./service.ts";

export async function mtlsFixture<T extends MtlsNode>(kind: MtlsKind, start: (o: MtlsOptions) => Promise<T>) {
  const dir = mkdtempSync(join(tmpdir(), "s3d-net-"));
  const certDir = join(dir, "cluster");
  const otherDir = join(dir, "other");
  await Promise.all([generateDevCerts(certDir, ["a", "b", "c"]), generateDevCerts(otherDir, ["a", "b"])]);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const creds = (id: string, from = certDir) => credentialsOf(from, id);

  /** A node of the cluster, serving the test service unless `serve` is false; its address goes in `peers`. */
  async function startNode(id: string, peers: Map<string, PeerAddress>, port = 0, serve = true): Promise<T> {
    const t = await start({
      self: id, peers, tls: creds(id), bodyIdleTimeoutMs: idleMs,
      ...(serve ? { handlers: testService(), listen: { host: "127.0.0.1", port } } : {}),
    });
    if (t.address) peers.set(id, { host: "127.0.0.1", port: t.address.port });
    return t;
  }

  /** a calls b; b lives in this process, or in a child one that can be killed -9. */
  const harness = (child: boolean): Promise<Harness> =>
    peerHarness(child, startNode, {
      script: join(import.meta.dir, "mtls-peer.ts"),
      argsOf: (id, port, peers) => [kind, certDir, id, String(port), JSON.stringify(Object.fromEntries(peers))],
    });

  return { certDir, otherDir, creds, startNode, harness };
}

/** The conformance suite, and the identity checks every mutual-TLS transport must pass. */
export function mtlsConformance<T extends MtlsNode>(name: string, fx: Awaited<ReturnType<typeof mtlsFixture<T>>>, start: (o: MtlsOptions) => Promise<T>): void {
  const { creds, otherDir, startNode } = fx;
  runConformance({
    name,
    create: ({ child }) => fx.harness(child),
    async stranger(kind) {
      const peers = new Map<string, PeerAddress>();
      const b = await startNode("b", peers);
      // The stranger trusts the real CA (it is public); its own certificate is absent or foreign.
      const tls = kind === "none" ? { ca: creds("a").ca } : { ...creds("a", otherDir), ca: creds("a").ca };
      const rogue = await start({ self: "a", peers, tls });
      return { call: () => rogue.call("b", "whoami", {}, { deadlineMs: 2000 }), close: async () => { await rogue.close(); await b.close(); } };
    },
  });

  describe(`${name} identity`, () => {
    const peers = new Map<string, PeerAddress>();
    let a: T, b: T;
    beforeAll(async () => { b = await startNode("b", peers); a = await startNode("a", peers); });
    afterAll(async () => { await a.close(); await b.close(); });

    test("the server must be the node we dialled (certificate CN checked)", async () => {
      const wrong = new Map(peers);
      wrong.set("c", peers.get("b")!); // c's address points at b
      const t = await start({ self: "a", peers: wrong, tls: creds("a") });
      await expectCode(t.call("c", "whoami"), ["refused"]);
      await t.close();
    });

    test("a node not in the address book is refused by the server", async () => {
      const only = new Map([["b", peers.get("b")!]]);
      const t = await start({ self: "c", peers: only, tls: creds("c") });
      // b does not know c: c has a valid certificate but is not a member.
      const lonely = await start({ self: "b", peers: new Map(), tls: creds("b"), handlers: testService(), listen: { host: "127.0.0.1", port: 0 } });
      only.set("b", { host: "127.0.0.1", port: lonely.address!.port });
      await expectCode(t.call("b", "whoami"), ["refused"]);
      await t.close();
      await lonely.close();
    });
  });
}
