import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FragmentIntegrityError } from "../../src/shard/fragment-crypto.ts";
import { MemoryShardStore } from "../../src/shard/memory-store.ts";
import { ShardStore } from "../../src/shard/store.ts";
import { shardStorageContract } from "./contract.ts";
import { patterned } from "./data.ts";

const root = mkdtempSync(join(tmpdir(), "s3d-contract-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

shardStorageContract("segment store on disk", () => new ShardStore({ dir: join(root, `d${n++}`), masterKey: new Uint8Array(32).fill(3) }));
shardStorageContract("in-memory twin", () => new MemoryShardStore());

test("the twin simulates bit rot as an integrity error", async () => {
  const s = new MemoryShardStore();
  await s.put("o", 0, 100, patterned(0, 100));
  s.corrupt("o", 0);
  await expect(s.read("o", 0)).rejects.toThrow(FragmentIntegrityError);
});
