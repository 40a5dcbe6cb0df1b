import { describe, expect, test } from "bun:test";
import { MemoryNetwork } from "../../src/net/memory.ts";
import { Prng } from "../../src/raft/prng.ts";
import { expectCode, type Harness, runConformance } from "./conformance.ts";
import { drain, patternStream, testService } from "./service.ts";

function memoryHarness(net = new MemoryNetwork()): Harness {
  const client = net.node("a", testService());
  let peer = net.node("b", testService());
  return {
    client,
    peer: "b",
    async killPeer() { net.crash("b"); },
    async restartPeer() { peer = net.node("b", testService()); },
    async close() { await client.close(); await peer.close(); },
  };
}

runConformance({
  name: "memory",
  async create() { return memoryHarness(); },
  async stranger(kind) {
    const net = new MemoryNetwork({ clusterKey: "k" });
    const h = memoryHarness(net);
    const rogue = net.node("rogue", testService(), kind === "none" ? "" : "other-key");
    return { call: () => rogue.call("b", "whoami"), close: async () => { await rogue.close(); await h.close(); } };
  },
});

describe("memory network faults", () => {
  test("a body truncated below the transport is an error, never a short success", async () => {
    const net = new MemoryNetwork({ faults: { prng: new Prng(1), truncateBodyAfterBytes: 100_000 } });
    const h = memoryHarness(net);
    const r = await h.client.call("b", "source", { header: { bytes: 1 << 20 } });
    await expectCode(drain(r.body!), ["corrupt"]);
    await h.close();
  });

  test("partition: unreachable until healed; messages dropped", async () => {
    const net = new MemoryNetwork();
    const h = memoryHarness(net);
    net.partition("a", "b");
    await expectCode(h.client.call("b", "whoami"), ["unreachable"]);
    h.client.send("b", "note");
    net.heal();
    expect((await h.client.call("b", "whoami")).header.from).toBe("a");
    await Bun.sleep(5);
    expect(net.messagesDropped).toBe(1);
    await h.close();
  });

  test("partition mid-stream resets the call", async () => {
    const net = new MemoryNetwork();
    const h = memoryHarness(net);
    const r = await h.client.call("b", "stall", { header: { bytes: 1000 } });
    setTimeout(() => net.partition("a", "b"), 10);
    await expectCode(drain(r.body!), ["reset"]);
    await h.close();
  });

  test("seeded drop and delay: dropped calls end at their deadline, the rest succeed", async () => {
    const net = new MemoryNetwork({ faults: { prng: new Prng(42), dropRate: 0.2, delayMaxMs: 5 } });
    const h = memoryHarness(net);
    const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) =>
      h.client.call("b", "echo", { header: { i }, body: patternStream(100) }, { deadlineMs: 100 })
        .then(async (r) => (await drain(r.body!)).bytes === 100 ? "ok" : "bad", (e) => e.code)));
    const ok = outcomes.filter((o) => o === "ok").length;
    expect(ok + outcomes.filter((o) => o === "deadline").length).toBe(100);
    expect(ok).toBeGreaterThan(60);
    expect(ok).toBeLessThan(100);
    await h.close();
  });
});
