import { describe, expect, test } from "bun:test";
import { ErasureError, inversionCacheEntriesMax, ReedSolomon } from "../../src/erasure/codec.ts";
import { tsKernel } from "../../src/erasure/kernel-ts.ts";
import { createWasmKernel } from "../../src/erasure/kernel-wasm.ts";
import { referenceDecode, referenceEncode } from "../../src/erasure/reference.ts";
import { combinations, randomBytes, rng } from "./random.ts";

const wasm = createWasmKernel();
const kernels = [tsKernel, ...(wasm ? [wasm] : [])];
const shapes: [number, number][] = [[1, 1], [2, 1], [3, 2], [4, 2], [5, 3], [8, 4]];

test("the WASM SIMD kernel is available in this engine", () => {
  expect(wasm).not.toBeNull();
});

for (const kernel of kernels) {
  describe(`RS codec with ${kernel.name}`, () => {
    for (const [k, m] of shapes) {
      test(`RS(${k},${m}): encode matches the reference; every loss of up to ${m} shards recovers`, () => {
        const next = rng(k * 1000 + m);
        // 16 bytes is enough for the slow reference; 1000 (not a multiple of 16) exercises kernel tails
        for (const lengthBytes of [16, 1000]) {
          const data = Array.from({ length: k }, () => randomBytes(next, lengthBytes));
          const shards = [...data, ...Array.from({ length: m }, () => new Uint8Array(lengthBytes))];
          const codec = new ReedSolomon(k, m, kernel);
          codec.encode(shards);
          const parity = shards.slice(k);
          if (lengthBytes === 16) expect(parity).toEqual(referenceEncode(k, m, data));
          expect(codec.verify(shards)).toBe(true);
          for (let lost = 1; lost <= m; lost++) {
            for (const missing of combinations(k + m, lost)) {
              const damaged: (Uint8Array | null)[] = shards.map((s, i) => (missing.includes(i) ? null : s));
              if (lengthBytes === 16) expect(referenceDecode(k, [...damaged])).toEqual(data);
              const repaired = codec.reconstruct(damaged);
              for (const i of missing) {
                if (Buffer.compare(repaired[i], shards[i]) !== 0) throw new Error(`RS(${k},${m}) lost ${missing}: shard ${i} wrong`);
              }
            }
          }
        }
      }, 60_000); // RS(8,4): 793 losses, each also solved by the slow reference
    }

    test("verify detects a flipped byte in any shard", () => {
      const next = rng(7);
      const codec = new ReedSolomon(4, 2, kernel);
      const shards = [...Array.from({ length: 4 }, () => randomBytes(next, 333)), new Uint8Array(333), new Uint8Array(333)];
      codec.encode(shards);
      for (let i = 0; i < 6; i++) {
        const at = next() % 333;
        shards[i][at] ^= 1 << (next() % 8);
        expect(codec.verify(shards)).toBe(false);
        shards[i][at] = 0;
        codec.encode(shards); // restore consistency (data may have changed)
        expect(codec.verify(shards)).toBe(true);
      }
    });

    test("dataOnly reconstructs only the data shards", () => {
      const next = rng(9);
      const codec = new ReedSolomon(3, 2, kernel);
      const shards = [...Array.from({ length: 3 }, () => randomBytes(next, 64)), new Uint8Array(64), new Uint8Array(64)];
      codec.encode(shards);
      const damaged = [null, shards[1], shards[2], null, shards[4]];
      codec.reconstruct(damaged, { dataOnly: true });
      expect(damaged[0]).toEqual(shards[0]);
      expect(damaged[3]).toBeNull();
    });
  });
}

describe("reconstructInto (reused buffers)", () => {
  test("overwrites exactly the listed shards", () => {
    const next = rng(17);
    const codec = new ReedSolomon(4, 2);
    const shards = [...Array.from({ length: 4 }, () => randomBytes(next, 500)), new Uint8Array(500), new Uint8Array(500)];
    codec.encode(shards);
    const copy: Uint8Array[] = shards.map((s) => new Uint8Array(s));
    copy[1].fill(9);
    copy[5].fill(9);
    codec.reconstructInto(copy, [1, 5]);
    expect(copy).toEqual(shards as Uint8Array[]);
    expect(() => codec.reconstructInto([null, ...copy.slice(1)], [])).toThrow("shard 0 is null but not listed");
    expect(() => codec.reconstructInto(copy, [0, 1, 2])).toThrow("3 present, 4 needed");
  });
});

describe("RS codec limits and errors", () => {
  test("too few shards is a clear error", () => {
    const codec = new ReedSolomon(4, 2);
    const s = Array.from({ length: 6 }, () => new Uint8Array(8));
    expect(() => codec.reconstruct([s[0], null, null, null, s[4], s[5]])).toThrow(ErasureError);
    expect(() => codec.reconstruct([s[0], null, null, null, s[4], s[5]])).toThrow("3 present, 4 needed");
  });

  test("mismatched lengths and counts are refused", () => {
    const codec = new ReedSolomon(2, 1);
    expect(() => codec.encode([new Uint8Array(4), new Uint8Array(5), new Uint8Array(4)])).toThrow("shard 1 is 5 bytes");
    expect(() => codec.encode([new Uint8Array(4)])).toThrow("expected 3 shards");
  });

  test("wide shapes beyond one fused kernel (RS(40,20), RS(200,55), RS(253,2)) agree across kernels", () => {
    const next = rng(11);
    for (const [k, m] of [[40, 20], [200, 55], [253, 2]] as const) {
      const data = Array.from({ length: k }, () => randomBytes(next, 100));
      const a = [...data, ...Array.from({ length: m }, () => new Uint8Array(100))];
      const b = a.map((s) => new Uint8Array(s));
      new ReedSolomon(k, m, tsKernel).encode(a);
      const fast = new ReedSolomon(k, m);
      fast.encode(b);
      expect(b as Uint8Array[]).toEqual(a as Uint8Array[]);
      const damaged: (Uint8Array | null)[] = b.map((s, i) => (i % 5 === 0 && i / 5 < m ? null : s));
      expect(fast.reconstruct(damaged)).toEqual(a);
    }
  });

  test("large shards crossing WASM chunk boundaries", () => {
    const next = rng(13);
    const length = 200_003;
    const data = Array.from({ length: 4 }, () => randomBytes(next, length));
    const a = [...data, new Uint8Array(length), new Uint8Array(length)];
    const b = a.map((s) => new Uint8Array(s));
    new ReedSolomon(4, 2, tsKernel).encode(a);
    const fast = new ReedSolomon(4, 2);
    fast.encode(b);
    expect(Buffer.compare(b[4], a[4]) === 0 && Buffer.compare(b[5], a[5]) === 0).toBe(true);
    const out = fast.reconstruct([null, b[1], null, b[3], b[4], b[5]]);
    expect(Buffer.compare(out[0], a[0]) === 0 && Buffer.compare(out[2], a[2]) === 0).toBe(true);
  });

  test("decode plans are cached per missing set and bounded", () => {
    const codec = new ReedSolomon(8, 4);
    const shards = Array.from({ length: 12 }, () => new Uint8Array(16));
    codec.encode(shards);
    codec.reconstruct([null, ...shards.slice(1)]);
    codec.reconstruct([null, ...shards.slice(1)]);
    expect(codec.cachedPlanCount).toBe(1);
    for (const missing of combinations(12, 4)) codec.reconstruct(shards.map((s, i) => (missing.includes(i) ? null : s)));
    expect(codec.cachedPlanCount).toBe(inversionCacheEntriesMax);
  });
});

describe("stripes (shards in kernel memory, no copies)", () => {
  for (const kernel of kernels) {
    test(`${kernel.name}: encode, verify and reconstruct every loss in place match the copying API`, () => {
      const next = rng(21);
      for (const [k, m] of [[4, 2], [3, 2], [8, 4], [20, 10]] as const) {
        const codec = new ReedSolomon(k, m, kernel);
        const stripe = codec.createStripe(1001);
        const data = Array.from({ length: k }, () => randomBytes(next, 1001));
        data.forEach((d, i) => stripe.shards[i].set(d));
        stripe.encode();
        const plain = [...data.map((d) => new Uint8Array(d)), ...Array.from({ length: m }, () => new Uint8Array(1001))];
        codec.encode(plain);
        expect(stripe.shards.map((s) => new Uint8Array(s))).toEqual(plain);
        expect(stripe.verify()).toBe(true);
        const losses = k + m <= 8 ? combinations(k + m, m) : [Array.from({ length: m }, (_, j) => (j * 7 + 3) % (k + m))];
        for (const missing of losses) {
          for (const i of missing) stripe.shards[i].fill(0xee);
          stripe.reconstruct(missing);
          for (const i of missing) if (Buffer.compare(stripe.shards[i], plain[i]) !== 0) throw new Error(`stripe RS(${k},${m}) lost ${missing}`);
        }
        stripe.shards[k][3] ^= 1;
        expect(stripe.verify()).toBe(false);
      }
    });
  }

  test("a stripe refuses more losses than parity", () => {
    const stripe = new ReedSolomon(4, 2).createStripe(64);
    expect(() => stripe.reconstruct([0, 1, 2])).toThrow("3 present, 4 needed");
    expect(() => stripe.reconstruct([6])).toThrow("no shard 6");
  });
});
