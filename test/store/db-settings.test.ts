/** The metadata database opens with the settings the durability contract and the figures rely on. */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { metadataCacheKiB, openDatabase } from "../../src/store/fs/db.ts";

test("WAL, one owner, NORMAL sync (s3d fdatasyncs the log itself) and a page cache of metadataCacheKiB", () => {
  const dir = mkdtempSync(join(tmpdir(), "s3d-db-"));
  try {
    const db = openDatabase(join(dir, "meta.sqlite"));
    const pragma = (name: string) => Object.values(db.query(`PRAGMA ${name}`).get() as Record<string, unknown>)[0];
    expect(pragma("journal_mode")).toBe("wal");
    expect(pragma("locking_mode")).toBe("exclusive");
    expect(pragma("synchronous")).toBe(1);
    expect(pragma("cache_size")).toBe(-metadataCacheKiB);
    expect(metadataCacheKiB).toBeGreaterThanOrEqual(32 * 1024);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
