/**
 * The one contract suite every ShardStorage implementation passes (ARCHITECTURE.md §2: one
 * contract, many implementations, one shared suite).
 */
import { describe, expect, test } from "bun:test";
import type { ShardStorage } from "../../src/shard/shard-storage.ts";
import { patterned } from "./data.ts";

export function shardStorageContract(name: string, make: () => ShardStorage): void {
  describe(`ShardStorage contract: ${name}`, () => {
    test("put then read, whole and ranged, many sizes", async () => {
      const s = make();
      for (const [i, size] of [0, 1, 8191, 8192, 8193, 100_000, 2_500_000].entries()) {
        await s.put("obj", i, size, patterned(i, size));
        expect(s.sizeOf("obj", i)).toBe(size);
        expect(await s.read("obj", i)).toEqual(patterned(i, size));
        if (size > 10) expect(await s.read("obj", i, { startBytes: 3, endBytes: size - 2 })).toEqual(patterned(i, size).subarray(3, size - 2));
      }
      s.close();
    });

    test("missing shards are null; bad ranges and arguments are refused", async () => {
      const s = make();
      expect(await s.read("nope", 0)).toBeNull();
      expect(s.get("nope", 0)).toBeNull();
      expect(s.sizeOf("nope", 0)).toBeNull();
      await s.put("o", 1, 10, patterned(1, 10));
      expect(() => s.get("o", 1, { startBytes: 5, endBytes: 11 })).toThrow("outside shard");
      expect(() => s.get("", 1)).toThrow("object id");
      expect(() => s.get("o", -1)).toThrow("out of range");
      s.close();
    });

    test("a body shorter or longer than declared is refused and not stored", async () => {
      const s = make();
      await expect(s.put("o", 0, 10, new Uint8Array(9))).rejects.toThrow("ended at 9 of 10");
      await expect(s.put("o", 0, 10, new Uint8Array(11))).rejects.toThrow("longer than the declared 10");
      expect(await s.read("o", 0)).toBeNull();
      s.close();
    });

    test("streamed bodies; overwrite replaces; delete removes once", async () => {
      const s = make();
      const data = patterned(9, 50_000);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          for (let at = 0; at < data.length; at += 3001) c.enqueue(data.subarray(at, at + 3001));
          c.close();
        },
      });
      await s.put("o", 0, data.length, stream);
      expect(await s.read("o", 0)).toEqual(data);
      await s.put("o", 0, 5, patterned(5, 5));
      expect(await s.read("o", 0)).toEqual(patterned(5, 5));
      expect(await s.delete("o", 0)).toBe(true);
      expect(await s.delete("o", 0)).toBe(false);
      expect(await s.read("o", 0)).toBeNull();
      s.close();
    });

    test("shards of one object are independent; concurrent puts all land", async () => {
      const s = make();
      await Promise.all(Array.from({ length: 20 }, (_, i) => s.put(`c${i % 4}`, i, 1000 + i, patterned(i, 1000 + i))));
      for (let i = 0; i < 20; i++) expect(await s.read(`c${i % 4}`, i)).toEqual(patterned(i, 1000 + i));
      await s.delete("c0", 0);
      expect(await s.read("c0", 4)).toEqual(patterned(4, 1004));
      s.close();
    });
  });
}
