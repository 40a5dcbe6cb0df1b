import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FsBackend } from "../../src/store/fs/backend.ts";
import { type CachedObject, RowCache } from "../../src/store/fs/row-cache.ts";
import { bodyOf, randomBytesSeeded } from "./contract.ts";

function entry(key: string, inlineBytes: number): CachedObject {
  const inline = inlineBytes > 0 ? new Uint8Array(inlineBytes) : null;
  return {
    row: { key: Buffer.from(key), size: inlineBytes, etag: "e", modified_ms: 0, parts_count: 0, headers: "{}", user_meta: "{}", segments: "[]", tags: "{}", checksum: null, inline, version_id: null, lock: null, customer_key: null },
    meta: { key, sizeBytes: inlineBytes, etag: "e", lastModifiedMs: 0, partsCount: 0, headers: { "content-type": "x/y" }, userMeta: {}, tags: { t: "1" } },
    segments: [],
  };
}

test("row cache: least recently used entries go first, by count and by inline bytes", () => {
  const cache = new RowCache(3, 10_000);
  for (const k of ["a", "b", "c"]) cache.set("b", k, entry(k, 100));
  cache.get("b", "a"); // a is now the most recent
  cache.set("b", "d", entry("d", 100));
  expect(cache.get("b", "b")).toBeUndefined();
  expect(["a", "c", "d"].map((k) => cache.get("b", k)?.meta.key)).toEqual(["a", "c", "d"]);
  // 9,900 inline bytes more: a and c (the least recent) go until the total fits 10,000 again
  cache.set("b", "big", entry("big", 9_900));
  expect(cache.size).toBe(2);
  expect(cache.get("b", "c")).toBeUndefined();
  expect(cache.get("b", "d")).toBeDefined();
  expect(cache.get("b", "big")).toBeDefined();
  // an entry larger than the whole budget is not kept; drop forgets one key
  cache.set("b", "huge", entry("huge", 10_001));
  expect(cache.get("b", "huge")).toBeUndefined();
  cache.drop("b", "big");
  expect(cache.get("b", "big")).toBeUndefined();
  // keys of other buckets are other entries; a key cannot pass for a bucket and key
  cache.set("b", "x", entry("x", 0));
  expect(cache.get("b\u0000x", "")).toBeUndefined();
  expect(cache.get("c", "x")).toBeUndefined();
});

test("row cache: a cached meta is frozen, so no reader can change what the next one sees", () => {
  const cache = new RowCache();
  cache.set("b", "k", entry("k", 0));
  const meta = cache.get("b", "k")!.meta;
  expect(() => {
    (meta.headers as Record<string, string>)["content-type"] = "changed";
  }).toThrow();
  expect(() => {
    (meta.tags as Record<string, string>).t = "2";
  }).toThrow();
  expect(cache.get("b", "k")!.meta.headers["content-type"]).toBe("x/y");
});

test("fs backend: reads after every kind of change see the change, never a cached old row", async () => {
  const dir = mkdtempSync(join(tmpdir(), "s3d-rows-"));
  const backend = new FsBackend(dir);
  const attrs = (v: string) => ({ headers: { "content-type": `v/${v}` }, userMeta: { v }, tags: { v } });
  const read = async (key: string) => {
    const reader = await backend.openObject("bkt", key);
    const bytes = await reader.bytes();
    reader.close();
    return { meta: reader.meta, bytes: Buffer.from(bytes) };
  };
  try {
    await backend.createBucket("bkt", 0);
    const one = randomBytesSeeded(3000, 1);
    const two = randomBytesSeeded(200_000, 2); // a blob-backed version after an inline one
    await backend.putObject("bkt", "k", bodyOf(one), attrs("1"), 1000);
    expect((await read("k")).bytes.equals(one)).toBe(true);
    expect((await read("k")).meta.userMeta).toEqual({ v: "1" }); // now from the cache
    await backend.putObject("bkt", "k", bodyOf(two), attrs("2"), 2000);
    const second = await read("k");
    expect(second.bytes.equals(two)).toBe(true);
    expect(second.meta).toMatchObject({ sizeBytes: two.length, lastModifiedMs: 2000, userMeta: { v: "2" }, tags: { v: "2" } });
    await backend.setObjectTags("bkt", "k", { t: "new" });
    expect((await read("k")).meta.tags).toEqual({ t: "new" });
    // a precondition that fails rolls its savepoint back: the cached row is still the right one
    await expect(
      backend.putObject("bkt", "k", bodyOf(one), attrs("3"), 3000, () => {
        throw new Error("precondition failed");
      }),
    ).rejects.toThrow("precondition failed");
    expect((await read("k")).meta).toMatchObject({ lastModifiedMs: 2000, tags: { t: "new" } });
    // multipart completion over the key
    const upload = await backend.createMultipartUpload("bkt", "k", attrs("4"), 4000);
    const part = randomBytesSeeded(5000, 4);
    const info = await backend.uploadPart("bkt", "k", upload, 1, bodyOf(part), 4000);
    await backend.completeMultipartUpload("bkt", "k", upload, [{ partNumber: 1, etag: info.etag }], 4001);
    const completed = await read("k");
    expect(completed.bytes.equals(part)).toBe(true);
    expect(completed.meta).toMatchObject({ partsCount: 1, userMeta: { v: "4" } });
    await backend.deleteObject("bkt", "k", 4002);
    await expect(backend.openObject("bkt", "k")).rejects.toMatchObject({ code: "NoSuchKey" });
    await backend.putObject("bkt", "k", bodyOf(one), attrs("5"), 5000);
    expect((await read("k")).meta.userMeta).toEqual({ v: "5" });
  } finally {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
