/**
 * The one transport contract suite. Each implementation provides a HarnessFactory; the suite
 * drives node "a" (in this process) against peer "b" running testService().
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type NodeId, type Transport, TransportError, type TransportErrorCode } from "../../src/net/transport.ts";
import { drain, patternCrc, patternStream } from "./service.ts";

export interface Harness {
  client: Transport;
  peer: NodeId;
  /** Abrupt death of the peer (kill -9 for a child process). */
  killPeer(): Promise<void>;
  /** Starts the peer again at the same address. */
  restartPeer(): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessFactory {
  name: string;
  /** child: the peer runs where it can be killed hard (another process for real transports). */
  create(options: { child: boolean }): Promise<Harness>;
  /** Calls to the peer made with no credentials / credentials the cluster does not accept. */
  stranger?(kind: "none" | "wrong"): Promise<{ call(): Promise<unknown>; close(): Promise<void> }>;
}

const mib = 1 << 20;
/** Large-body size: the 256 MiB (≈1 s over h2 here); NET_LARGE_MIB overrides. */
export const largeBodyBytes = Number(process.env.NET_LARGE_MIB ?? 256) * mib;

export async function expectCode(p: Promise<unknown>, codes: TransportErrorCode[]): Promise<TransportError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TransportError);
    expect(codes).toContain((e as TransportError).code);
    return e as TransportError;
  }
  throw new Error(`expected a TransportError ${codes.join("|")}, got success`);
}

/**
 * The most the process's resident memory grew above its start while `f` ran, sampled after a full
 * collection: what is held, not garbage a collection has not reached yet (streaming 512 MiB
 * through Bun's HTTP/3 left up to 130 MiB of such garbage in RSS in one CI run).
 */
async function peakRssGrowth(f: () => Promise<void>): Promise<number> {
  Bun.gc(true);
  const base = process.memoryUsage.rss();
  let peak = base;
  const t = setInterval(() => {
    Bun.gc(true);
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  try {
    await f();
  } finally {
    clearInterval(t);
  }
  return peak - base;
}

async function stats(client: Transport, peer: NodeId) {
  return (await client.call(peer, "stats")).header as { messages: number; messageBytes: number; cancelled: number };
}

export function runConformance(f: HarnessFactory): void {
  describe(`transport conformance: ${f.name}`, () => {
    let h: Harness;
    beforeAll(async () => { h = await f.create({ child: false }); });
    afterAll(async () => { await h.close(); });

    test("call with header, caller identity", async () => {
      const r = await h.client.call(h.peer, "whoami");
      expect(r.header).toEqual({ from: h.client.self });
      expect(r.body).toBeUndefined();
      const e = await h.client.call(h.peer, "echo", { header: { s: "é", n: 7, b: true, z: null } });
      expect(e.header).toEqual({ s: "é", n: 7, b: true, z: null });
    });

    test("small and empty bodies both ways", async () => {
      const small = new TextEncoder().encode("hello transport");
      const r = await h.client.call(h.peer, "echo", { body: new Blob([small]).stream() });
      expect(new Uint8Array(await new Response(r.body).arrayBuffer())).toEqual(small);
      const empty = await h.client.call(h.peer, "echo", { body: new Blob([]).stream() });
      expect(empty.body).toBeDefined();
      expect((await drain(empty.body!)).bytes).toBe(0);
      const sink = await h.client.call(h.peer, "sink", { body: patternStream(1000) });
      expect(sink.header).toEqual({ bytes: 1000, crc: patternCrc(1000) });
    });

    test(`large body up and down (${largeBodyBytes / mib} MiB) in bounded memory`, async () => {
      const growth = await peakRssGrowth(async () => {
        const up = await h.client.call(h.peer, "sink", { body: patternStream(largeBodyBytes) }, { deadlineMs: 60_000 });
        expect(up.header).toEqual({ bytes: largeBodyBytes, crc: patternCrc(largeBodyBytes) });
        const down = await h.client.call(h.peer, "source", { header: { bytes: largeBodyBytes } }, { deadlineMs: 60_000 });
        expect(await drain(down.body!)).toEqual({ bytes: largeBodyBytes, crc: patternCrc(largeBodyBytes) });
      });
      // Both ends may live in this process; a body held whole anywhere would add ≥ 256 MiB (a sink
      // that did so measured 261). After collections the transports stay under 20 MiB here; the
      // bound leaves room for what the protocol stacks buffer in flight, and still fails a body
      // kept even half.
      expect(growth).toBeLessThan(largeBodyBytes / 2);
    }, 60_000);

    test("1,000 concurrent calls", async () => {
      const results = await Promise.all(Array.from({ length: 1000 }, async (_, i) => {
        const r = await h.client.call(h.peer, "echo", { header: { i }, body: new Blob([`call ${i}`]).stream() });
        return [r.header.i, await new Response(r.body).text()];
      }));
      results.forEach(([i, text], k) => {
        expect(i).toBe(k);
        expect(text).toBe(`call ${k}`);
      });
    }, 30_000);

    test("one-way messages arrive", async () => {
      const before = await stats(h.client, h.peer);
      for (let i = 0; i < 100; i++) h.client.send(h.peer, "note", { i }, new Uint8Array(10));
      for (let t = 0; t < 200; t++) {
        const s = await stats(h.client, h.peer);
        if (s.messages - before.messages >= 100) break;
        await Bun.sleep(10);
      }
      const after = await stats(h.client, h.peer);
      expect(after.messages - before.messages).toBe(100);
      expect(after.messageBytes - before.messageBytes).toBe(1000);
    });

    test("handler failure is a remote error", async () => {
      const e = await expectCode(h.client.call(h.peer, "fail"), ["remote"]);
      expect(e.message).toContain("boom");
    });

    test("deadline: the caller errors in time and the handler sees the abort", async () => {
      const before = await stats(h.client, h.peer);
      const t0 = performance.now();
      await expectCode(h.client.call(h.peer, "hang", {}, { deadlineMs: 200 }), ["deadline"]);
      expect(performance.now() - t0).toBeLessThan(1000);
      await waitFor(async () => (await stats(h.client, h.peer)).cancelled > before.cancelled);
    });

    test("cancellation propagates to the peer", async () => {
      const before = await stats(h.client, h.peer);
      const ac = new AbortController();
      const p = h.client.call(h.peer, "hang", {}, { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      await expectCode(p, ["cancelled"]);
      await waitFor(async () => (await stats(h.client, h.peer)).cancelled > before.cancelled);
      // Cancelling a body mid-way also ends the call cleanly.
      const down = await h.client.call(h.peer, "source", { header: { bytes: largeBodyBytes } });
      const reader = down.body!.getReader();
      await reader.read();
      await reader.cancel();
      expect((await h.client.call(h.peer, "whoami")).header.from).toBe(h.client.self);
    });

    test("a body that stalls mid-way fails within the deadline", async () => {
      const t0 = performance.now();
      const r = await h.client.call(h.peer, "stall", { header: { bytes: 1000 } }, { deadlineMs: 700 });
      // Whichever end notices first: our idle timer, the deadline, or the peer resetting its stalled side.
      await expectCode(drain(r.body!), ["deadline", "idle", "reset", "corrupt"]);
      expect(performance.now() - t0).toBeLessThan(1500);
    });

    describe("peer in its own process", () => {
      let c: Harness;
      beforeAll(async () => { c = await f.create({ child: true }); });
      afterAll(async () => { await c.close(); });

      test("peer killed mid-stream: an error within the deadline, never a short body", async () => {
        const r = await c.client.call(c.peer, "stall", { header: { bytes: 3 * mib } }, { deadlineMs: 5_000 });
        const reader = r.body!.getReader();
        const first = await reader.read();
        expect(first.done).toBe(false);
        const t0 = performance.now();
        const rest = (async () => { for (;;) if ((await reader.read()).done) return; })();
        // "corrupt" included: Bun's HTTP/2 client may report a killed peer's stream as a clean end;
        // only the trailer check turns that into an error.
        const outcome = expectCode(rest, ["reset", "deadline", "idle", "corrupt"]);
        await Bun.sleep(50);
        await c.killPeer();
        await outcome;
        expect(performance.now() - t0).toBeLessThan(5_000);
      }, 15_000);

      test("peer down: calls fail fast; peer restarted: calls work again", async () => {
        const t0 = performance.now();
        await expectCode(c.client.call(c.peer, "whoami", {}, { deadlineMs: 3_000 }), ["unreachable", "reset"]);
        expect(performance.now() - t0).toBeLessThan(3_000);
        await c.restartPeer();
        expect((await c.client.call(c.peer, "whoami")).header.from).toBe(c.client.self);
        const down = await c.client.call(c.peer, "source", { header: { bytes: 8 * mib } });
        expect(await drain(down.body!)).toEqual({ bytes: 8 * mib, crc: patternCrc(8 * mib) });
      }, 15_000);
    });

    if (f.stranger) {
      const stranger = f.stranger.bind(f);
      test("a caller without credentials is refused", async () => {
        const s = await stranger("none");
        try { await expectCode(s.call(), ["refused", "reset", "unreachable"]); } finally { await s.close(); }
        expect((await stats(h.client, h.peer)).messages).toBeGreaterThanOrEqual(0);
      });
      test("a caller with the wrong credentials is refused", async () => {
        const s = await stranger("wrong");
        try { await expectCode(s.call(), ["refused", "reset", "unreachable"]); } finally { await s.close(); }
      });
    }
  });
}

export async function waitFor(cond: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error("waitFor: timed out");
    await Bun.sleep(10);
  }
}
