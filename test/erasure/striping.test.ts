import { describe, expect, test } from "bun:test";
import { ReedSolomon } from "../../src/erasure/codec.ts";
import { decodeStripe, encodeStripes, shardBytesFor, spansFor, stripeCount } from "../../src/erasure/striping.ts";
import { randomBytes, rng } from "./random.ts";

async function* inPieces(data: Uint8Array, pieceBytes: number) {
  for (let at = 0; at < data.length; at += pieceBytes) yield data.subarray(at, at + pieceBytes);
}

describe("striping", () => {
  test("layout arithmetic", () => {
    const layout = { dataShards: 4, chunkBytes: 100 };
    expect(stripeCount(0, layout)).toBe(1);
    expect(stripeCount(400, layout)).toBe(1);
    expect(stripeCount(401, layout)).toBe(2);
    expect(shardBytesFor(401, layout)).toBe(200);
    expect(spansFor(350, 420, layout)).toEqual([
      { stripe: 0, shard: 3, shardStartBytes: 50, shardEndBytes: 100 },
      { stripe: 1, shard: 0, shardStartBytes: 100, shardEndBytes: 120 },
    ]);
    expect(spansFor(5, 5, layout)).toEqual([]);
  });

  for (const [k, m, chunkBytes] of [[4, 2, 64], [3, 2, 1000], [2, 1, 33]] as const) {
    test(`RS(${k},${m}) chunk ${chunkBytes}: encode a stream, lose up to M shards per stripe, decode the object`, async () => {
      const next = rng(k * 100 + chunkBytes);
      const codec = new ReedSolomon(k, m);
      for (const objectBytes of [0, 1, chunkBytes, k * chunkBytes, k * chunkBytes + 1, 5 * k * chunkBytes - 7]) {
        const data = randomBytes(next, objectBytes);
        const stripes: Uint8Array[][] = [];
        for await (const s of encodeStripes(codec, chunkBytes, objectBytes, inPieces(data, 37))) {
          stripes.push(s.map((c) => new Uint8Array(c))); // copy: the stripe buffers are reused
        }
        expect(stripes.length).toBe(stripeCount(objectBytes, { dataShards: k, chunkBytes }));
        const parts = stripes.map((chunks, s) => {
          const damaged: (Uint8Array | null)[] = chunks.map((c, i) => ((i + s) % (k + m) < m ? null : c));
          return decodeStripe(codec, damaged, s, objectBytes);
        });
        expect(Buffer.concat(parts)).toEqual(Buffer.from(data));
        // the spans of a range GET point at the right bytes
        if (objectBytes > 10) {
          const [a, b] = [3, objectBytes - 4];
          const got = Buffer.concat(spansFor(a, b, { dataShards: k, chunkBytes }).map((sp) =>
            stripes[sp.stripe][sp.shard].subarray(sp.shardStartBytes - sp.stripe * chunkBytes, sp.shardEndBytes - sp.stripe * chunkBytes),
          ));
          expect(got).toEqual(Buffer.from(data.subarray(a, b)));
        }
      }
    });
  }

  test("a body of the wrong length is refused", async () => {
    const codec = new ReedSolomon(2, 1);
    const drain = async (declared: number, actual: number) => {
      for await (const _ of encodeStripes(codec, 16, declared, inPieces(new Uint8Array(actual), 5)));
    };
    await expect(drain(10, 9)).rejects.toThrow("ended at 9 of 10");
    await expect(drain(10, 11)).rejects.toThrow("longer than the declared 10");
  });
});

test("stripes are pooled per codec and reused", async () => {
  const codec = new ReedSolomon(2, 1);
  const a = codec.acquireStripe(64);
  codec.releaseStripe(a);
  expect(codec.acquireStripe(64)).toBe(a);
  expect(codec.acquireStripe(64)).not.toBe(a);
  codec.releaseStripe(a);
  expect(() => codec.releaseStripe(a)).toThrow("released twice");
  expect(codec.acquireStripe(128)).not.toBe(a);
});
