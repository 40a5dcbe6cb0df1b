import { describe, expect, test } from "bun:test";
import { backoffDelayMs, backoffMaxMs, connectAttemptsMax, nextRetry } from "../../src/net/backoff.ts";
import { BodyFramer, BodyVerifier, decodeTrailer, encodeTrailer, trailerBytes } from "../../src/net/framing.ts";
import { Prng } from "../../src/raft/prng.ts";

function frame(body: Uint8Array): Uint8Array {
  const f = new BodyFramer();
  f.push(body);
  return Buffer.concat([body, f.trailer()]);
}

/** Feeds `wire` to a verifier in random-sized pieces. */
function verify(wire: Uint8Array, p: Prng): { out: Uint8Array; error?: string } {
  const v = new BodyVerifier();
  const out: Uint8Array[] = [];
  for (let i = 0; i < wire.length;) {
    const n = 1 + p.int(40);
    out.push(...v.push(wire.subarray(i, i + n)));
    i += n;
  }
  return { out: Buffer.concat(out), error: v.end() };
}

describe("framing", () => {
  test("trailer round trip, lengths over 4 GiB", () => {
    expect(decodeTrailer(encodeTrailer(5 * 2 ** 32 + 7, 0xdeadbeef))).toEqual({ lengthBytes: 5 * 2 ** 32 + 7, crc: 0xdeadbeef });
    expect(decodeTrailer(new Uint8Array(trailerBytes))).toBeUndefined();
  });

  test("any split of a framed body verifies and yields the body", () => {
    const p = new Prng(3);
    for (const size of [0, 1, 15, 16, 17, 100, 4096]) {
      const body = Uint8Array.from({ length: size }, () => p.int(256));
      const r = verify(frame(body), p);
      expect(r.error).toBeUndefined();
      expect(r.out).toEqual(body);
    }
  });

  test("every truncation point and every flipped byte is detected", () => {
    const p = new Prng(4);
    const body = Uint8Array.from({ length: 200 }, () => p.int(256));
    const wire = frame(body);
    for (let cut = 0; cut < wire.length; cut++) expect(verify(wire.subarray(0, cut), p).error).toBeDefined();
    for (let i = 0; i < wire.length; i++) {
      const bad = wire.slice();
      bad[i] ^= 1 << p.int(8);
      expect(verify(bad, p).error).toBeDefined();
    }
    // A whole second body appended after a complete one is not a valid frame either.
    expect(verify(Buffer.concat([wire, wire]), p).error).toBeDefined();
  });
});

describe("backoff", () => {
  test("grows, is capped, jitters within [50%, 100%], and stops", () => {
    expect(backoffDelayMs(1, 0)).toBe(10);
    expect(backoffDelayMs(2, 0.999)).toBe(40);
    expect(backoffDelayMs(30, 0.999)).toBeLessThanOrEqual(backoffMaxMs);
    expect(nextRetry(connectAttemptsMax, 0.5, 1e9)).toBeUndefined();
    expect(nextRetry(1, 0.5, 5)).toBeUndefined(); // no time left for the wait
    expect(nextRetry(1, 0.5, 1e9)).toBe(15);
  });
});
