import { describe, expect, test } from "bun:test";
import { FragmentIntegrityError, openFragment, sealFragment } from "../../src/shard/fragment-crypto.ts";
import { FragmentCounter } from "../../src/shard/fragment-counter.ts";
import { fragmentBodyBytes, fragmentBytes, readHeader } from "../../src/shard/fragment-layout.ts";
import { deriveStoreKey } from "../../src/shard/keys.ts";

const master = new Uint8Array(32).map((_, i) => i * 7 + 1);
const storeId = new Uint8Array([1, 2, 3, 4, 5, 6]);
const key = deriveStoreKey(master, storeId);
const body = new Uint8Array(fragmentBodyBytes).map((_, i) => (i * 13) & 0xff);

function sealed(over: Partial<{ objectId: string; shardIndex: number; fragmentNumber: number; counter: number; last: boolean }> = {}, b = body) {
  const input = { objectId: "obj-1", shardIndex: 2, fragmentNumber: 5, counter: 1000, last: false, storeId, ...over };
  const out = new Uint8Array(fragmentBytes);
  sealFragment(key, input, b, out);
  return out;
}
const place = { objectId: "obj-1", shardIndex: 2, fragmentNumber: 5, counter: 1000 };

describe("fragment sealing", () => {
  test("is 8240 bytes and round-trips full and partial bodies", () => {
    expect(fragmentBytes).toBe(8240);
    expect(openFragment(key, place, sealed())).toEqual(Buffer.from(body));
    const short = body.subarray(0, 100);
    const f = sealed({ last: true }, short);
    expect(openFragment(key, place, f)).toEqual(Buffer.from(short));
    const h = readHeader(f);
    expect(typeof h !== "string" && h.last && h.logicalBytes === 100 && h.counter === 1000).toBe(true);
    expect(openFragment(key, place, sealed({}, new Uint8Array(0))).length).toBe(0);
  });

  test("a moved fragment (other fragment number) fails", () => {
    const f = sealed();
    expect(() => openFragment(key, { ...place, fragmentNumber: 6 }, f)).toThrow(FragmentIntegrityError);
    expect(() => openFragment(key, { ...place, fragmentNumber: 6 }, f)).toThrow("header names fragment 5");
  });

  test("a fragment spliced from another shard or object fails", () => {
    expect(() => openFragment(key, place, sealed({ shardIndex: 3 }))).toThrow("header names shard 3");
    expect(() => openFragment(key, place, sealed({ objectId: "obj-2" }))).toThrow("authentication tag mismatch");
  });

  test("a replayed fragment (older write of the same place) fails on its counter", () => {
    const old = sealed({ counter: 10 });
    expect(() => openFragment(key, place, old)).toThrow("replayed");
  });

  test("a header edited to claim another place still fails the tag", () => {
    const f = sealed({ fragmentNumber: 4 });
    f[11] = 5; // rewrite the fragment number field to 5
    expect(() => openFragment(key, place, f)).toThrow("authentication tag mismatch");
  });

  test("every bit flip in header, body or tag is detected", () => {
    const f = sealed();
    for (const at of [0, 5, 7, 13, 17, 27, 31, 32, 4000, 8223, 8224, 8239]) {
      for (const bit of [0, 7]) {
        const g = new Uint8Array(f);
        g[at] ^= 1 << bit;
        expect(() => openFragment(key, place, g)).toThrow(FragmentIntegrityError);
      }
    }
  });

  test("a different key or store fails", () => {
    const other = deriveStoreKey(master, new Uint8Array([9, 9, 9, 9, 9, 9]));
    expect(() => openFragment(other, place, sealed())).toThrow("authentication tag mismatch");
    expect(() => openFragment(key, { ...place, storeId: new Uint8Array(6) }, sealed())).toThrow("another store");
  });
});

describe("fragment counter", () => {
  test("reserves in blocks, persists the bound before use, skips ahead after a restart", () => {
    const persisted: number[] = [];
    const c = new FragmentCounter(0, (h) => persisted.push(h), 100);
    expect(c.reserve(10)).toBe(0);
    expect(persisted).toEqual([110]);
    expect(c.reserve(50)).toBe(10);
    expect(c.reserve(60)).toBe(60);
    expect(persisted).toEqual([110, 220]);
    // crash: a restart begins at the persisted bound, never reusing 120..219
    const again = new FragmentCounter(persisted.at(-1)!, (h) => persisted.push(h), 100);
    expect(again.reserve(1)).toBe(220);
  });
});
