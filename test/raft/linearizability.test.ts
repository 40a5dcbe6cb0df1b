import { describe, expect, test } from "bun:test";
import type { HistoryOp } from "../../src/raft/sim/clients.ts";
import { checkKvLinearizable } from "../../src/raft/sim/linearizability.ts";

let nextId = 1;
function op(kind: "put" | "get", value: string | undefined, call: number, ret: number, key = "k"): HistoryOp {
  return { id: nextId++, client: 0, kind, key, value, call, ret };
}

describe("linearizability checker", () => {
  test("sequential history is linearizable", () => {
    expect(checkKvLinearizable([op("put", "1", 1, 2), op("get", "1", 3, 4), op("put", "2", 5, 6), op("get", "2", 7, 8)]).ok).toBe(true);
  });

  test("a stale read after a completed write is not", () => {
    const r = checkKvLinearizable([op("put", "1", 1, 2), op("put", "2", 3, 4), op("get", "1", 5, 6)]);
    expect(r.ok).toBe(false);
    expect(r.reason).toContain('key "k"');
  });

  test("concurrent operations may take effect in either order", () => {
    expect(checkKvLinearizable([op("put", "1", 1, 10), op("get", undefined, 2, 3), op("get", "1", 4, 5)]).ok).toBe(true);
    expect(checkKvLinearizable([op("put", "1", 1, 10), op("put", "2", 2, 9), op("get", "1", 11, 12)]).ok).toBe(true);
  });

  test("reads may not go back in time (new-old inversion)", () => {
    const h = [op("put", "1", 1, 100), op("get", "1", 2, 3), op("get", undefined, 4, 5)];
    expect(checkKvLinearizable(h).ok).toBe(false);
  });

  test("a write with unknown outcome may or may not have happened", () => {
    expect(checkKvLinearizable([op("put", "1", 1, Infinity), op("get", "1", 5, 6)]).ok).toBe(true);
    expect(checkKvLinearizable([op("put", "1", 1, Infinity), op("get", undefined, 5, 6)]).ok).toBe(true);
    // but once seen, it cannot be unseen
    expect(checkKvLinearizable([op("put", "1", 1, Infinity), op("get", "1", 5, 6), op("get", undefined, 7, 8)]).ok).toBe(false);
  });

  test("keys are independent registers", () => {
    expect(checkKvLinearizable([op("put", "1", 1, 2, "a"), op("get", undefined, 3, 4, "b"), op("get", "1", 5, 6, "a")]).ok).toBe(true);
  });

  test("a value nobody wrote is not linearizable", () => {
    expect(checkKvLinearizable([op("get", "x", 1, 2)]).ok).toBe(false);
  });
});
