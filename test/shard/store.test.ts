import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, openSync, closeSync, readdirSync, rmSync, writeSync, readSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FragmentIntegrityError } from "../../src/shard/fragment-crypto.ts";
import { fragmentBytes } from "../../src/shard/fragment-layout.ts";
import { InsufficientStorageError, ShardStore } from "../../src/shard/store.ts";
import { segmentFileName } from "../../src/shard/segment-files.ts";
import { patterned } from "./data.ts";

const root = mkdtempSync(join(tmpdir(), "s3d-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const masterKey = new Uint8Array(32).fill(7);
let n = 0;
const freshDir = () => join(root, `s${n++}`);
const open = (dir: string, extra: object = {}) => new ShardStore({ dir, masterKey, ...extra });

describe("shard store", () => {
  test("put and read back shards of many sizes, whole and by range", async () => {
    const store = open(freshDir());
    const sizes = [0, 1, 100, 8191, 8192, 8193, 3 * 8192, 1_000_000, 1_500_001];
    for (const [i, size] of sizes.entries()) await store.put("obj-a", i, size, patterned(i, size));
    for (const [i, size] of sizes.entries()) {
      expect(await store.read("obj-a", i)).toEqual(patterned(i, size));
      expect(store.sizeOf("obj-a", i)).toBe(size);
    }
    const big = patterned(7, 1_000_000);
    for (const [start, end] of [[0, 1], [8191, 8193], [500_000, 700_001], [999_999, 1_000_000], [123, 123]]) {
      expect(await store.read("obj-a", 7, { startBytes: start, endBytes: end })).toEqual(big.subarray(start, end));
    }
    expect(() => store.get("obj-a", 7, { startBytes: 5, endBytes: 1_000_001 })).toThrow("outside shard");
    expect(await store.read("missing", 0)).toBeNull();
    store.close();
  });

  test("a streamed body in odd-sized chunks; a short or long body is refused", async () => {
    const store = open(freshDir());
    const data = patterned(3, 70_000);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let at = 0; at < data.length; at += 7777) c.enqueue(data.subarray(at, at + 7777));
        c.close();
      },
    });
    await store.put("o", 0, data.length, stream);
    expect(await store.read("o", 0)).toEqual(data);
    await expect(store.put("o", 1, 10, new Uint8Array(9))).rejects.toThrow("ended at 9 of 10 bytes");
    await expect(store.put("o", 1, 10, new Uint8Array(11))).rejects.toThrow("longer than the declared 10");
    expect(await store.read("o", 1)).toBeNull();
    store.close();
  });

  test("overwrite, delete and space accounting; empty segments are freed", async () => {
    const dir = freshDir();
    const store = open(dir, { segmentBytesMax: 10 * fragmentBytes });
    await store.put("x", 0, 4 * 8192, patterned(1, 4 * 8192));
    await store.put("x", 1, 4 * 8192, patterned(2, 4 * 8192));
    expect(store.stats()).toMatchObject({ segments: 1, usedBytes: 8 * fragmentBytes, liveBytes: 8 * fragmentBytes, shards: 2 });
    await store.put("x", 0, 3 * 8192, patterned(3, 3 * 8192)); // overwrite: does not fit, goes to segment 2
    expect(await store.read("x", 0)).toEqual(patterned(3, 3 * 8192));
    expect(store.stats()).toMatchObject({ segments: 2, liveBytes: 7 * fragmentBytes, shards: 2 });
    expect(await store.delete("x", 1)).toBe(true);
    expect(await store.delete("x", 1)).toBe(false);
    expect(await store.read("x", 1)).toBeNull();
    // segment 1 now holds nothing live and is not active: its file is gone
    expect(store.stats()).toMatchObject({ segments: 1, liveBytes: 3 * fragmentBytes, shards: 1 });
    expect(readdirSync(join(dir, "segments"))).toEqual([segmentFileName(2)]);
    store.close();
    const again = open(dir, { segmentBytesMax: 10 * fragmentBytes });
    expect(again.stats()).toMatchObject({ segments: 1, liveBytes: 3 * fragmentBytes, shards: 1 });
    expect(await again.read("x", 0)).toEqual(patterned(3, 3 * 8192));
    again.close();
  });

  test("capacity: near-full is reported, full refuses writes with a clear error", async () => {
    const store = open(freshDir(), { segmentBytesMax: 4 * fragmentBytes, capacityBytes: 10 * fragmentBytes });
    await store.put("a", 0, 4 * 8192, patterned(1, 4 * 8192));
    await store.put("a", 1, 4 * 8192, patterned(2, 4 * 8192));
    expect(store.stats().nearFull).toBe(false);
    await store.put("a", 2, 8192, patterned(3, 8192));
    expect(store.stats().nearFull).toBe(true);
    await expect(store.put("a", 3, 4 * 8192, patterned(4, 4 * 8192))).rejects.toThrow(InsufficientStorageError);
    await expect(store.put("a", 3, 4 * 8192, patterned(4, 4 * 8192))).rejects.toThrow("full:");
    store.close();
  });

  test("bit rot: a flipped byte fails that shard's read, every other shard still reads", async () => {
    const dir = freshDir();
    const store = open(dir);
    for (let i = 0; i < 6; i++) await store.put("rot", i, 20_000, patterned(i, 20_000));
    store.close();
    const path = join(dir, "segments", segmentFileName(1));
    const shardBytes = 3 * fragmentBytes;
    const fd = openSync(path, "r+");
    for (const [victim, within] of [[1, 10], [3, fragmentBytes + 40], [4, 2 * fragmentBytes + 8239]]) {
      const at = victim * shardBytes + within;
      const b = new Uint8Array(1);
      readSync(fd, b, 0, 1, at);
      b[0] ^= 0x20;
      writeSync(fd, b, 0, 1, at);
    }
    closeSync(fd);
    const again = open(dir);
    for (let i = 0; i < 6; i++) {
      if ([1, 3, 4].includes(i)) await expect(again.read("rot", i)).rejects.toThrow(FragmentIntegrityError);
      else expect(await again.read("rot", i)).toEqual(patterned(i, 20_000));
    }
    // a range that avoids the damaged fragment still reads
    expect(await again.read("rot", 4, { startBytes: 0, endBytes: 16_384 })).toEqual(patterned(4, 20_000).subarray(0, 16_384));
    again.close();
  });

  test("bit rot anywhere: 60 random single-byte flips, each fails exactly the shard it lands in", async () => {
    const dir = freshDir();
    const store = open(dir);
    const shardBytesOnDisk = 3 * fragmentBytes;
    for (let i = 0; i < 5; i++) await store.put("r", i, 17_000, patterned(i, 17_000)); // last fragment partly padding
    const fd = openSync(join(dir, "segments", segmentFileName(1)), "r+");
    let x = 12345;
    const b = new Uint8Array(1);
    try {
      for (let round = 0; round < 60; round++) {
        x = (x * 1103515245 + 12345) >>> 0;
        const at = x % (5 * shardBytesOnDisk);
        const victim = Math.floor(at / shardBytesOnDisk);
        readSync(fd, b, 0, 1, at);
        const original = b[0];
        b[0] ^= 1 << (x >>> 29);
        writeSync(fd, b, 0, 1, at);
        for (let i = 0; i < 5; i++) {
          if (i === victim) await expect(store.read("r", i)).rejects.toThrow(FragmentIntegrityError);
          else if (i === (victim + 1) % 5) expect(await store.read("r", i)).toEqual(patterned(i, 17_000));
        }
        b[0] = original;
        writeSync(fd, b, 0, 1, at);
      }
    } finally {
      closeSync(fd);
    }
    store.close();
  });

  test("reopening with another master key is refused; counter moves forward across reopen", async () => {
    const dir = freshDir();
    const store = open(dir);
    await store.put("k", 0, 100, patterned(0, 100));
    const before = store.nextFragmentCounter;
    store.close();
    expect(() => new ShardStore({ dir, masterKey: new Uint8Array(32).fill(8) })).toThrow("does not match");
    const again = open(dir);
    expect(again.nextFragmentCounter).toBeGreaterThan(before);
    again.close();
  });

  test("a store directory is used by one process (open) at a time; the lock goes with close", () => {
    const dir = freshDir();
    const store = open(dir);
    expect(() => open(dir)).toThrow("in use by another process");
    store.close();
    open(dir).close();
  });

  test("group commit: 32 concurrent small writers share commits", async () => {
    const store = open(freshDir());
    const writes = Array.from({ length: 32 }, (_, i) => store.put(`c${i}`, 0, 4096, patterned(i, 4096)));
    await Promise.all(writes);
    expect(store.stats().commits).toBeLessThan(8);
    for (let i = 0; i < 32; i++) expect(await store.read(`c${i}`, 0)).toEqual(patterned(i, 4096));
    store.close();
  });

  test("segments are preallocated", async () => {
    const dir = freshDir();
    const store = open(dir);
    await store.put("p", 0, 10, patterned(0, 10));
    expect(statSync(join(dir, "segments", segmentFileName(1))).size).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    store.close();
  });
});

describe("compaction", () => {
  test("moves live extents out of mostly-dead segments, frees them, data and ranges still read", async () => {
    const dir = freshDir();
    const opts = { segmentBytesMax: 20 * fragmentBytes };
    const store = open(dir, opts);
    const size = (i: number) => 8192 * (1 + (i % 3)) - (i % 5);
    for (let i = 0; i < 40; i++) await store.put(`c${i}`, i % 4, size(i), patterned(i, size(i)));
    const before = store.stats();
    expect(before.segments).toBeGreaterThanOrEqual(3);
    for (let i = 0; i < 40; i++) if (i % 4 !== 0) await store.delete(`c${i}`, i % 4);
    const result = await store.compact();
    expect(result.segments).toBeGreaterThan(0);
    const after = store.stats();
    expect(after.shards).toBe(10);
    expect(after.usedBytes).toBeLessThan(before.usedBytes / 2);
    expect(after.liveBytes).toBe([...Array(40).keys()].filter((i) => i % 4 === 0).reduce((a, i) => a + Math.ceil(size(i) / 8192) * fragmentBytes, 0));
    for (let i = 0; i < 40; i += 4) expect(await store.read(`c${i}`, 0)).toEqual(patterned(i, size(i)));
    expect(await store.read("c8", 0, { startBytes: 100, endBytes: 9000 })).toEqual(patterned(8, size(8)).subarray(100, 9000));
    store.close();
    const again = open(dir, opts);
    expect(again.stats()).toMatchObject({ shards: 10, segments: after.segments, liveBytes: after.liveBytes });
    for (let i = 0; i < 40; i += 4) expect(await again.read(`c${i}`, 0)).toEqual(patterned(i, size(i)));
    again.close();
  });

  test("a shard overwritten while its segment is compacted keeps the new version", async () => {
    const store = open(freshDir(), { segmentBytesMax: 8 * fragmentBytes });
    for (let i = 0; i < 8; i++) await store.put("w", i, 8192, patterned(i, 8192));
    for (let i = 1; i < 8; i++) await store.delete("w", i);
    await store.put("z", 0, 100, patterned(99, 100)); // segment 2 becomes active
    const compaction = store.compact();
    const overwrite = store.put("w", 0, 500, patterned(500, 500));
    await Promise.all([compaction, overwrite]);
    expect(await store.read("w", 0)).toEqual(patterned(500, 500));
    expect(store.stats().shards).toBe(2);
    store.close();
  });
});

describe("shard index", () => {
  test("a compaction move loses to a newer write of the same shard", async () => {
    const { ShardIndex } = await import("../../src/shard/shard-index.ts");
    const index = new ShardIndex(join(freshDir() + "-index.sqlite"));
    index.addSegment(1);
    index.addSegment(2);
    const v1 = { objectId: "m", shardIndex: 0, segment: 1, offsetBytes: 0, lengthBytes: fragmentBytes, logicalBytes: 10, counterBase: 0 };
    const v2 = { ...v1, offsetBytes: fragmentBytes, counterBase: 1 };
    index.commit([{ put: v1 }]);
    index.commit([{ put: v2 }]); // overwritten before the move commits
    const r = index.commit([{ move: { from: v1, to: { ...v1, segment: 2 } } }]);
    expect(r.live).toEqual([]);
    expect(index.get("m", 0)).toEqual(v2);
    expect(index.segments().find((s) => s.id === 2)).toMatchObject({ liveBytes: 0, tailBytes: fragmentBytes });
    index.close();
  });
});

describe("compaction and the limits around it", () => {
  test("a full store recovers: delete, compact (allowed past the limit), and writes are accepted again", async () => {
    const store = open(freshDir(), { segmentBytesMax: 8 * fragmentBytes, capacityBytes: 24 * fragmentBytes });
    for (let i = 0; i < 12; i++) await store.put("f", i, 2 * 8192, patterned(i, 2 * 8192)); // 3 full segments
    await expect(store.put("f", 12, 8192, patterned(12, 8192))).rejects.toThrow(InsufficientStorageError);
    for (const i of [0, 1, 2, 4, 5, 6]) await store.delete("f", i); // segments 1 and 2: a quarter live each
    await expect(store.put("f", 12, 8192, patterned(12, 8192))).rejects.toThrow(InsufficientStorageError);
    expect((await store.compact()).segments).toBe(2);
    await store.put("f", 12, 8192, patterned(12, 8192));
    for (const i of [3, 7, 8, 9, 10, 11]) expect(await store.read("f", i)).toEqual(patterned(i, 2 * 8192));
    expect(await store.read("f", 12)).toEqual(patterned(12, 8192));
    store.close();
  });

  test("an open read stream pins its segment through compaction and delete", async () => {
    const dir = freshDir();
    const store = open(dir, { segmentBytesMax: 200 * fragmentBytes });
    const big = patterned(1, 150 * 8192);
    await store.put("p", 0, big.length, big);
    await store.put("p", 1, 60 * 8192, patterned(2, 60 * 8192)); // does not fit: segment 2 becomes active
    const reader = store.get("p", 0)!.getReader();
    const first = await reader.read(); // one batch read; the stream now pins segment 1
    await store.delete("p", 0);
    await store.compact();
    expect(readdirSync(join(dir, "segments"))).toContain(segmentFileName(1));
    const parts = [first.value!];
    for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
    expect(Buffer.concat(parts)).toEqual(Buffer.from(big));
    await store.compact(); // unpinned now: nothing live, freed
    expect(readdirSync(join(dir, "segments"))).not.toContain(segmentFileName(1));
    store.close();
  });
});
