/** The Transport contract: asynchronous, best-effort delivery to the addressed node. */
import { describe, expect, test } from "bun:test";
import type { Transport } from "../../src/raft/transport.ts";
import { MsgType, message, type Message } from "../../src/raft/types.ts";

export interface TransportFixture {
  /** Transports for nodes 1..n, wired to each other. */
  make(n: number): Transport[];
  /** Cut the link between a and b (optional for implementations that cannot). */
  cut?(a: number, b: number): void;
}

const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await Bun.sleep(1);
};

export function transportContract(name: string, fx: TransportFixture): void {
  describe(`Transport contract: ${name}`, () => {
    test("messages reach the addressed node with their fields intact, after send returns", async () => {
      const [t1, t2, t3] = fx.make(3);
      const got2: Message[] = [];
      const got3: Message[] = [];
      t2.listen((m) => got2.push(m));
      t3.listen((m) => got3.push(m));
      t1.listen(() => {});
      const data = new Uint8Array([9, 8, 7]);
      t1.send([
        message({ type: MsgType.App, from: 1, to: 2, term: 3, index: 4, logTerm: 2, commit: 1, entries: [{ index: 5, term: 3, type: 0, data }] }),
        message({ type: MsgType.Heartbeat, from: 1, to: 3, term: 3, ctx: "r1" }),
      ]);
      expect(got2.length).toBe(0); // asynchronous
      await until(() => got2.length === 1 && got3.length === 1);
      expect(got2[0].entries[0].data).toEqual(data);
      expect(got2[0].index).toBe(4);
      expect(got3[0].ctx).toBe("r1");
      for (const t of [t1, t2, t3]) t.close();
    });

    test("sending to an unknown or closed peer does not throw", async () => {
      const [t1, t2] = fx.make(2);
      t2.close();
      expect(() => t1.send([message({ type: MsgType.Heartbeat, from: 1, to: 2, term: 1 })])).not.toThrow();
      expect(() => t1.send([message({ type: MsgType.Heartbeat, from: 1, to: 42, term: 1 })])).not.toThrow();
      await Bun.sleep(5);
      t1.close();
    });

    if (fx.cut) {
      test("a cut link drops messages", async () => {
        const [t1, t2] = fx.make(2);
        const got: Message[] = [];
        t2.listen((m) => got.push(m));
        fx.cut!(1, 2);
        t1.send([message({ type: MsgType.Heartbeat, from: 1, to: 2, term: 1 })]);
        await Bun.sleep(10);
        expect(got.length).toBe(0);
      });
    }
  });
}
