import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryRaftStorage, MemorySnapshotStore } from "../../src/raft/memory_storage.ts";
import { SqliteRaftStorage, SqliteSnapshotStore } from "../../src/raft/sqlite_storage.ts";
import { raftStorageContract, snapshotStoreContract } from "./storage.contract.ts";

const dir = mkdtempSync(join(tmpdir(), "s3d-raft-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

raftStorageContract("memory", () => {
  const storage = new MemoryRaftStorage();
  return { storage, reopen: () => storage };
});

raftStorageContract("bun:sqlite", () => {
  const path = join(dir, `log-${++n}.db`);
  let storage = new SqliteRaftStorage(path);
  return {
    storage,
    reopen: () => {
      storage.close();
      storage = new SqliteRaftStorage(path);
      return storage;
    },
  };
});

snapshotStoreContract("memory", () => {
  const store = new MemorySnapshotStore();
  return { store, reopen: () => store };
});

snapshotStoreContract("bun:sqlite", () => {
  const path = join(dir, `snap-${++n}.db`);
  let store = new SqliteSnapshotStore(path);
  return {
    store,
    reopen: () => {
      store.close();
      store = new SqliteSnapshotStore(path);
      return store;
    },
  };
});

test("bun:sqlite stores run in WAL mode with synchronous=FULL", () => {
  const path = join(dir, "pragmas.db");
  const s = new SqliteRaftStorage(path);
  const db = (s as unknown as { db: import("bun:sqlite").Database }).db;
  expect((db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
  expect((db.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous).toBe(2); // FULL
  s.close();
});
