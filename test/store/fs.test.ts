import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FsBackend } from "../../src/store/fs/backend.ts";
import { backendContract, bodyOf, randomBytesSeeded } from "./contract.ts";

backendContract("fs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "s3d-fs-"));
  const backend = new FsBackend(dir);
  return {
    backend,
    cleanup: async () => {
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

function blobFiles(dir: string): string[] {
  const root = join(dir, "blobs");
  return readdirSync(root).flatMap((fan) => readdirSync(join(root, fan)));
}

test("fs: start-up removes blob files no metadata points at, and keeps the rest", async () => {
  const dir = mkdtempSync(join(tmpdir(), "s3d-fs-"));
  try {
    const first = new FsBackend(dir);
    await first.createBucket("bkt", 0);
    await first.putObject("bkt", "kept", bodyOf(randomBytesSeeded(100, 1)), { headers: {}, userMeta: {}, tags: {} }, 0);
    const upload = await first.createMultipartUpload("bkt", "mp", { headers: {}, userMeta: {}, tags: {} }, 0);
    await first.uploadPart("bkt", "mp", upload, 1, bodyOf(randomBytesSeeded(100, 2)), 0);
    await first.close();
    // what a crash between "blob durable" and "metadata committed" leaves behind
    writeFileSync(join(dir, "blobs", "ab", "ab".padEnd(32, "0")), "orphan");
    writeFileSync(join(dir, "blobs", "cd", "not-a-blob"), "junk");
    expect(blobFiles(dir).length).toBe(4);
    const second = new FsBackend(dir);
    expect(second.collectOrphans()).toBe(2);
    expect(blobFiles(dir).length).toBe(2);
    expect((await second.listParts("bkt", "mp", upload, 0, 10)).parts.length).toBe(1);
    const reader = await second.openObject("bkt", "kept");
    expect((await new Response(reader.stream()).arrayBuffer()).byteLength).toBe(100);
    await second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fs: a failed write leaves no file behind", async () => {
  const dir = mkdtempSync(join(tmpdir(), "s3d-fs-"));
  try {
    const backend = new FsBackend(dir);
    await backend.createBucket("bkt", 0);
    await expect(backend.putObject("bkt", "k", bodyOf(randomBytesSeeded(3_000_000, 1), 65536, 2_000_000), { headers: {}, userMeta: {}, tags: {} }, 0)).rejects.toThrow();
    await expect(backend.putObject("nobucket", "k", bodyOf(randomBytesSeeded(10, 1)), { headers: {}, userMeta: {}, tags: {} }, 0)).rejects.toThrow();
    await Bun.sleep(20);
    expect(blobFiles(dir)).toEqual([]);
    await backend.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
