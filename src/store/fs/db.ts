/**
 * The fs backend's metadata in bun:sqlite: buckets, objects, multipart uploads and parts.
 * Keys are BLOBs of their UTF-8 bytes so that ORDER BY key is S3's listing order.
 * WAL with synchronous=NORMAL: COMMIT does not wait for the disk; `walSync` makes committed
 * transactions durable without holding the event loop (see committer.ts).
 */
import { Database } from "bun:sqlite";
import { closeSync, fdatasync, openSync } from "node:fs";
import { dirname } from "node:path";
import { fsyncDirectory } from "./blobs.ts";
import type { ObjectAttributes, ObjectLock, ObjectMeta } from "../backend.ts";
import { utf8 } from "../listing.ts";
import { isSealedColumn } from "./customer-keys.ts";

const schema = `
CREATE TABLE IF NOT EXISTS settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS buckets (
  name TEXT PRIMARY KEY,
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bucket_configs (
  bucket TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (bucket, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  modified_ms INTEGER NOT NULL,
  parts_count INTEGER NOT NULL,
  headers TEXT NOT NULL,
  user_meta TEXT NOT NULL,
  segments TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '{}',
  checksum TEXT,
  inline BLOB,
  version_id TEXT,
  lock TEXT,
  customer_key TEXT,
  PRIMARY KEY (bucket, key)
);
CREATE TABLE IF NOT EXISTS versions (
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  seq INTEGER NOT NULL,
  version_id TEXT,
  delete_marker INTEGER NOT NULL,
  noncurrent_ms INTEGER,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  modified_ms INTEGER NOT NULL,
  parts_count INTEGER NOT NULL,
  headers TEXT NOT NULL,
  user_meta TEXT NOT NULL,
  segments TEXT NOT NULL,
  tags TEXT NOT NULL,
  checksum TEXT,
  inline BLOB,
  lock TEXT,
  customer_key TEXT,
  PRIMARY KEY (bucket, key, seq)
);
CREATE INDEX IF NOT EXISTS versions_by_id ON versions (bucket, key, version_id);
CREATE INDEX IF NOT EXISTS versions_listing ON versions (bucket, key, seq DESC);
CREATE INDEX IF NOT EXISTS versions_current_marker ON versions (bucket, key) WHERE noncurrent_ms IS NULL;
CREATE TABLE IF NOT EXISTS uploads (
  upload_id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  initiated_ms INTEGER NOT NULL,
  headers TEXT NOT NULL,
  user_meta TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '{}',
  checksum TEXT,
  lock TEXT,
  customer_key TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, upload_id);
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL,
  part_number INTEGER NOT NULL,
  blob TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  modified_ms INTEGER NOT NULL,
  checksum TEXT,
  PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS completed_uploads (
  upload_id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  parts TEXT NOT NULL,
  version_id TEXT,
  etag TEXT NOT NULL,
  completed_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS completed_uploads_by_time ON completed_uploads (completed_ms);
`;

/** A stored object's bytes: blob ids with their sizes, in order. */
export type Segment = [blobId: string, sizeBytes: number];

export interface ObjectRow {
  key: Uint8Array;
  size: number;
  etag: string;
  modified_ms: number;
  parts_count: number;
  headers: string;
  user_meta: string;
  segments: string;
  tags: string;
  checksum: string | null;
  /** the bytes of a small object, kept in the row instead of a blob file (sealed: id ‖ fragments) */
  inline: Uint8Array | null;
  /** null: the null version (every object of a bucket never versioned) */
  version_id: string | null;
  /** JSON ObjectLock, or null */
  lock: string | null;
  /** SSE-C: the check of the key the bytes are sealed with (customer-keys.ts), or null */
  customer_key: string | null;
}

export interface UploadRow {
  upload_id: string;
  bucket: string;
  key: Uint8Array;
  initiated_ms: number;
  headers: string;
  user_meta: string;
  tags: string;
  /** JSON UploadChecksum, or null */
  checksum: string | null;
  /** JSON ObjectLock the completed object gets, or null */
  lock: string | null;
  /** SSE-C: the check of the key every part must come with, or null */
  customer_key: string | null;
}

export interface PartRow {
  part_number: number;
  blob: string;
  size: number;
  etag: string;
  modified_ms: number;
  checksum: string | null;
}

/** The metadata database's page cache, at most. */
export const metadataCacheKiB = 64 * 1024;

/** Opens (creating if need be) the metadata database; a failure names the file. */
export function openDatabase(path: string): Database {
  try {
    return setUp(new Database(path, { create: true, strict: true }));
  } catch (error) {
    throw new Error(`the metadata database ${path} cannot be used: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function setUp(db: Database): Database {
  // One process owns the data dir (flock), so the WAL index lives in the heap, not in a shared
  // -shm file with a lock syscall around every statement.
  db.run("PRAGMA locking_mode = EXCLUSIVE");
  db.run("PRAGMA journal_mode = WAL");
  // Checkpoints still sync the log before copying it into the database and the database after.
  db.run("PRAGMA synchronous = NORMAL");
  db.run("PRAGMA busy_timeout = 5000");
  // sqlite's default page cache is 2 MB: a 4 KiB object's row, its index entry and its inline
  // page did not stay in it past a few hundred objects, so a GET read a page from the kernel (1.1
  // pread a GET, 1.9 a PUT, 500 objects; with 64 MiB: none a GET, 0.9 a PUT, the checkpoint's).
  // The cache grows only as pages are used.
  db.run(`PRAGMA cache_size = -${metadataCacheKiB}`);
  db.run(schema);
  rebuildObjectsAsRowidTable(db);
  // columns added since data dirs were first made: versions, then Object Lock, then SSE-C
  addColumn(db, "objects", "version_id");
  for (const table of ["objects", "versions", "uploads"]) for (const column of ["lock", "customer_key"]) addColumn(db, table, column);
  // The log left by the last run, copied into the database now: the next commit then writes over
  // it from its start instead of growing the file, which a disk full from outside would refuse.
  try {
    db.run("PRAGMA wal_checkpoint(RESTART)");
  } catch {
    // no room to copy it either: commits use the reserve (space.ts) or are refused with 507
  }
  return db;
}

/**
 * fdatasyncs the database's WAL file on Bun's worker pool: once `sync()` resolves, every
 * transaction committed before the call is on disk. The WAL file exists from the first commit
 * until the connection closes and is reused, never replaced, after a checkpoint, so one
 * descriptor serves the whole life of the connection.
 */
export class WalSync {
  private fd: number | undefined;

  constructor(private readonly dbPath: string) {}

  sync(): Promise<void> {
    if (this.fd === undefined) {
      this.fd = openSync(`${this.dbPath}-wal`, "r");
      fsyncDirectory(dirname(this.dbPath)); // the WAL file's directory entry
    }
    const fd = this.fd;
    return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Objects used to be a WITHOUT ROWID table. With up to 64 KiB of inline bytes in a row that made
 * every lookup walk overflow pages inside the primary-key b-tree: a point lookup took 6-7x as long
 * as in a rowid table with the same key as its index (measured here: 17 vs 2.8 µs). A data dir
 * made before the change is rebuilt once, in one transaction, at start-up.
 */
function rebuildObjectsAsRowidTable(db: Database): void {
  const table = db.query<{ sql: string }, []>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'objects'").get();
  if (table === null || !/WITHOUT\s+ROWID/i.test(table.sql)) return;
  const columns = "bucket, key, size, etag, modified_ms, parts_count, headers, user_meta, segments, tags, checksum, inline";
  db.transaction(() => {
    db.run("ALTER TABLE objects RENAME TO objects_without_rowid");
    db.run(schema); // creates the new objects table
    db.run(`INSERT INTO objects (${columns}) SELECT ${columns} FROM objects_without_rowid`);
    db.run("DROP TABLE objects_without_rowid");
  })();
}

/** Adds a column (TEXT, NULL in every row) that a data dir made before it lacks. */
function addColumn(db: Database, table: string, column: string): void {
  const columns = db.query<{ name: string }, []>(`PRAGMA table_info(${table})`).all();
  if (!columns.some((c) => c.name === column)) db.run(`ALTER TABLE ${table} ADD COLUMN ${column} TEXT`);
}

export const keyText = (key: Uint8Array): string => Buffer.from(key).toString("utf8");
export const keyBytes = utf8;

/** An object row without its inline bytes: what listings and commits read. */
export type ObjectMetaRow = Omit<ObjectRow, "inline">;
/** The columns of an ObjectMetaRow: selecting them leaves the inline bytes' pages unread. */
export const objectMetaColumns = "key, size, etag, modified_ms, parts_count, headers, user_meta, segments, tags, checksum, version_id, lock, customer_key";

export function objectMetaOf(row: ObjectMetaRow): ObjectMeta {
  return {
    key: keyText(row.key),
    sizeBytes: row.size,
    etag: row.etag,
    lastModifiedMs: row.modified_ms,
    partsCount: row.parts_count,
    headers: JSON.parse(row.headers),
    userMeta: JSON.parse(row.user_meta),
    tags: JSON.parse(row.tags),
    // (a sealed one is read with the key: FsBackend.openObject)
    checksum: row.checksum === null || isSealedColumn(row.checksum) ? undefined : JSON.parse(row.checksum),
    versionId: row.version_id ?? undefined,
    ...lockAttribute(row),
    ...customerKeyAttribute(row),
  };
}

export function attributesOf(row: { headers: string; user_meta: string; tags: string; lock: string | null; customer_key: string | null }): ObjectAttributes {
  return { headers: JSON.parse(row.headers), userMeta: JSON.parse(row.user_meta), tags: JSON.parse(row.tags), ...lockAttribute(row), ...customerKeyAttribute(row) };
}

/** The row's SSE-C key check as an attribute, absent when its bytes need no customer key. */
const customerKeyAttribute = (row: { customer_key: string | null }): { customerKeyCheck?: string } =>
  row.customer_key === null ? {} : { customerKeyCheck: row.customer_key };

/** A row's Object Lock state (undefined when it has none). */
export const lockOf = (row: { lock: string | null }): ObjectLock | undefined => (row.lock === null ? undefined : JSON.parse(row.lock));

/** The row's Object Lock state as an attribute, absent when it has none. */
function lockAttribute(row: { lock: string | null }): { lock?: ObjectLock } {
  const lock = lockOf(row);
  return lock === undefined ? {} : { lock };
}

/** An attribute's Object Lock state as its column holds it. */
export const lockColumn = (lock: ObjectLock | undefined): string | null => (lock === undefined ? null : JSON.stringify(lock));

export function segmentsOf(row: { segments: string }): Segment[] {
  return JSON.parse(row.segments);
}

/** The ids of the blobs a row's bytes are in. */
export function blobIdsOf(row: { segments: string }): string[] {
  return segmentsOf(row).map(([id]) => id);
}
