import { expect, test } from "bun:test";
import { CallGuard, inFlightCallsMax, LazyAbort, TransportError } from "../../src/net/transport.ts";

test("a lazy abort: the hook runs once with the first reason, and a signal made after the abort is already aborted", () => {
  const a = new LazyAbort();
  const heard: string[] = [];
  a.onAbort = (why) => heard.push(why.code);
  a.abortWith(new TransportError("deadline", "late"));
  a.abortWith(new TransportError("cancelled", "too"));
  expect(heard).toEqual(["deadline"]);
  expect(a.signal.aborted).toBe(true);
  expect((a.signal.reason as TransportError).code).toBe("deadline");
  // made before the abort: aborted by it, with the same reason
  const b = new LazyAbort();
  const signal = b.signal;
  b.abortWith(new TransportError("reset", "gone"));
  expect(signal.aborted).toBe(true);
  expect((signal.reason as TransportError).message).toContain("gone");
});

test("a call guard: deadline, the caller's signal, release, and the bound on calls in flight", async () => {
  const peer = { calls: 0 };
  const late = new CallGuard(peer, "b", "m", { deadlineMs: 20 });
  await Bun.sleep(250);
  expect(late.reason?.code).toBe("deadline");
  expect(late.release()).toBe(true);
  expect(late.release()).toBe(false);

  const caller = new AbortController();
  const cancelled = new CallGuard(peer, "b", "m", { signal: caller.signal });
  caller.abort();
  expect(cancelled.reason?.code).toBe("cancelled");
  cancelled.release();

  const released = new CallGuard(peer, "b", "m", { deadlineMs: 20 });
  released.release();
  await Bun.sleep(250);
  expect(released.reason).toBeUndefined(); // its deadline went with it
  expect(peer.calls).toBe(0);

  const guards = Array.from({ length: inFlightCallsMax }, () => new CallGuard(peer, "b", "m", {}));
  expect(() => new CallGuard(peer, "b", "m", {})).toThrow(/calls in flight/);
  for (const g of guards) g.release();
  expect(peer.calls).toBe(0);
});
