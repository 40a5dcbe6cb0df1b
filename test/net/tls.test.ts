import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connectionsPerPeer, TlsTransport, type PeerAddress } from "../../src/net/tls-transport.ts";
import { dataFrameBytesMax, streamWindowBytes } from "../../src/net/tls-wire.ts";
import { expectCode } from "./conformance.ts";
import { mtlsConformance, mtlsFixture } from "./mtls-fixture.ts";
import { drain, patternCrc, patternStream, testService } from "./service.ts";

const start = (o: Parameters<typeof TlsTransport.start>[0]) => TlsTransport.start(o);
const fx = await mtlsFixture("tls", start);
const { certDir, otherDir } = fx;
const creds = (from: string, id: string) => fx.creds(id, from);
mtlsConformance("tls-mux", fx, start);

describe("tls-mux specifics", () => {
  const peers = new Map<string, PeerAddress>();
  let a: TlsTransport, b: TlsTransport;
  beforeAll(async () => { b = await fx.startNode("b", peers); a = await fx.startNode("a", peers); });
  afterAll(async () => { await a.close(); await b.close(); });

  test("a small pool of connections carries many calls", async () => {
    await Promise.all(Array.from({ length: 50 }, () => a.call("b", "whoami")));
    const pool = (a as unknown as { pool: Map<string, { slots: { conn?: unknown }[] }> }).pool;
    expect([...pool.keys()]).toEqual(["b"]);
    expect(pool.get("b")!.slots.filter((s) => s.conn).length).toBe(connectionsPerPeer);
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

  test("a reply body dropped after it arrived whole frees its call: cancelled at once, abandoned at the deadline", async () => {
    const calls = () => (a as unknown as { pool: Map<string, { calls: number }> }).pool.get("b")!.calls;
    for (let i = 0; i < 20; i++) {
      const r = await a.call("b", "source", { header: { bytes: 100 } });
      await Bun.sleep(1); // the Reply, DATA and End of 100 bytes are all in
      await r.body!.cancel();
    }
    expect(calls()).toBe(0);
    // Never read, never cancelled: the call's deadline covers its body, and frees the call.
    const r = await a.call("b", "source", { header: { bytes: 100 } }, { deadlineMs: 50 });
    expect(calls()).toBe(1);
    await Bun.sleep(300);
    expect(calls()).toBe(0);
    // Whole is whole: what arrived before the deadline can still be read after it.
    expect(await new Response(r.body!).bytes()).toHaveLength(100);
  });
});
