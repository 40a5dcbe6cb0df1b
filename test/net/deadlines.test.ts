import { expect, test } from "bun:test";
import { armDeadline, deadlineTickMs, disarmDeadline } from "../../src/net/deadlines.ts";

test("deadlines fire once, within a tick of when they are due, and not when disarmed", async () => {
  const t0 = performance.now();
  const fired: [number, number][] = [];
  const armed = [5, 20, 20, 40, 60].map((ms, i) => armDeadline(ms, () => fired.push([i, performance.now() - t0])));
  disarmDeadline(armed[2]!);
  disarmDeadline(armed[4]!);
  disarmDeadline(armed[4]!); // twice is harmless
  await Bun.sleep(60 + 200); // room for a loaded machine's late timers
  expect(fired.map(([i]) => i)).toEqual([0, 1, 3]);
  for (const [i, at] of fired) {
    const due = [5, 20, 20, 40, 60][i]!;
    expect(at).toBeGreaterThanOrEqual(due - 1); // timers round to whole milliseconds
    expect(at).toBeLessThan(due + 2 * deadlineTickMs + 150);
  }
  disarmDeadline(armed[0]!); // after firing: nothing happens
});

test("many deadlines due in the same tick share it, and a disarmed one leaves the others armed", async () => {
  let fired = 0;
  const ds = Array.from({ length: 1000 }, () => armDeadline(10, () => fired++));
  for (const d of ds.slice(0, 500)) disarmDeadline(d);
  await Bun.sleep(10 + 200);
  expect(fired).toBe(500);
});

test("a deadline disarmed by another of its tick as that one fires does not fire; one that throws does not stop the rest", async () => {
  const fired: string[] = [];
  let b: ReturnType<typeof armDeadline> | undefined;
  const originalError = console.error;
  armDeadline(5, () => {
    fired.push("a");
    disarmDeadline(b!);
  });
  b = armDeadline(5, () => fired.push("b"));
  armDeadline(5, () => {
    fired.push("c");
    throw new Error("a deadline's own failure");
  });
  armDeadline(5, () => fired.push("d"));
  const reported: unknown[][] = [];
  console.error = (...args: unknown[]) => void reported.push(args);
  try {
    await Bun.sleep(5 + 200);
  } finally {
    console.error = originalError;
  }
  expect(fired).toEqual(["a", "c", "d"]);
  expect(reported.length).toBe(1);
  expect(String(reported[0]![1])).toContain("a deadline's own failure");
});
