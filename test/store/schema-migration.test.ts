/** A data dir whose objects table predates the rowid layout is rebuilt at open, rows intact. */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/fs/db.ts";

const oldObjectsTable = `CREATE TABLE objects (
  bucket TEXT NOT NULL, key BLOB NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
  modified_ms INTEGER NOT NULL, parts_count INTEGER NOT NULL, headers TEXT NOT NULL,
  user_meta TEXT NOT NULL, segments TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '{}', checksum TEXT,
  inline BLOB, PRIMARY KEY (bucket, key)
) WITHOUT ROWID`;

test("a WITHOUT ROWID objects table becomes a rowid table with every row kept", () => {
  const dir = mkdtempSync(join(tmpdir(), "s3d-migrate-"));
  try {
    const path = join(dir, "meta.sqlite");
    const old = new Database(path, { create: true, strict: true });
    old.run(oldObjectsTable);
    const insert = old.query("INSERT INTO objects VALUES (?, ?, ?, ?, ?, 0, '{}', '{}', '[]', '{}', NULL, ?)");
    for (let i = 0; i < 50; i++) insert.run("b", Buffer.from(`k${i}`), i, `etag-${i}`, 1000 + i, new Uint8Array([i, i + 1]));
    old.close();

    const db = openDatabase(path);
    const sql = db.query<{ sql: string }, []>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'objects'").get()!.sql;
    expect(sql).not.toMatch(/WITHOUT\s+ROWID/i);
    const rows = db.query<{ key: Uint8Array; size: number; etag: string; inline: Uint8Array }, []>("SELECT key, size, etag, inline FROM objects ORDER BY key").all();
    expect(rows.length).toBe(50);
    const k7 = rows.find((r) => Buffer.from(r.key).toString() === "k7")!;
    expect({ size: k7.size, etag: k7.etag, inline: [...k7.inline] }).toEqual({ size: 7, etag: "etag-7", inline: [7, 8] });
    // the primary key still refuses a duplicate
    expect(() => db.run("INSERT INTO objects VALUES ('b', X'6B37', 0, 'e', 0, 0, '{}', '{}', '[]', '{}', NULL, NULL)")).toThrow();
    db.close();
    // opening again changes nothing
    const again = openDatabase(path);
    expect((again.query("SELECT count(*) AS n FROM objects").get() as { n: number }).n).toBe(50);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
