/**
 * Object versions in the fs backend's metadata. The `objects` table keeps what it always kept:
 * the current version of each key that has one, which every read, write and listing of a bucket
 * never versioned touches alone. `versions` keeps the rest: noncurrent versions and delete
 * markers, each key's numbered by `seq`, newest highest. The invariants:
 *
 * - a key's current version is its `objects` row or, when it has none, a delete marker in
 *   `versions` whose `noncurrent_ms` is NULL; never both, and never two;
 * - every other row in `versions` is older than the current version and has `noncurrent_ms`;
 * - a key has at most one null version (version_id NULL), in either table.
 *
 * The methods that change rows run inside a commit (committer.ts), where no other write interleaves.
 */
import type { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import type { ListedVersion, ListVersionsPage, ListVersionsQuery, VersioningStatus, VersionState } from "../backend.ts";
import { compareBytes, cursorPastPrefix, inKeyRange, listEntries, utf8, type ListCursor } from "../listing.ts";
import { checkRemovable } from "../locks.ts";
import { blobIdsOf, keyBytes, lockOf, segmentsOf, type ObjectMetaRow, type ObjectRow } from "./db.ts";

/** A row of `versions`. */
export interface VersionRow extends ObjectRow {
  seq: number;
  delete_marker: 0 | 1;
  noncurrent_ms: number | null;
}

/** The columns an object version has in both tables. */
const contentColumns = "size, etag, modified_ms, parts_count, headers, user_meta, segments, tags, checksum, inline, lock, customer_key";

/**
 * A new version's id (see `isVersionId`): 24 random bytes in 32 characters of S3's alphabet for
 * them, letters, digits, `.` and `_` (base64url's `-` would start one id in 64, which the AWS CLI
 * then reads as an option).
 */
export function newVersionId(): string {
  return randomBytes(24).toString("base64url").replaceAll("-", ".");
}

/** "null" names the null version, stored as NULL. */
const storedId = (versionId: string): string | null => (versionId === "null" ? null : versionId);

/** Whether a row (of either table) is the version `versionId` names. */
export const isVersion = (row: { version_id: string | null }, versionId: string): boolean => row.version_id === storedId(versionId);

/**
 * What a read that finds a delete marker answers with besides its error: that it is one, and its
 * id; a marker named by its id (405) also tells when it was made and what can be done to it.
 */
export function markerHeaders(row: { version_id: string | null; modified_ms: number }, named: boolean): Record<string, string> {
  const headers: Record<string, string> = { "x-amz-delete-marker": "true", "x-amz-version-id": row.version_id ?? "null" };
  if (named) Object.assign(headers, { "last-modified": new Date(row.modified_ms).toUTCString(), allow: "DELETE" });
  return headers;
}

/** Sorts before every `versions` row of the same key in listings (see `listSub`). */
const currentSub = "0";
/** Sorts after every row of a key: a key marker without a version id resumes at the next key. */
const afterEverySub = "~";
const seqCeiling = 999_999_999_999_999;

export class Versions {
  /** ListObjectVersions' queries: a key's current object and its versions below a seq, and the keys after one */
  private readonly listing;

  constructor(
    private readonly db: Database,
    /** called before a key's `objects` row changes or goes (the row cache drops it) */
    private readonly objectRowChanging: (bucket: string, key: string) => void,
  ) {
    const columns = "CAST(key AS TEXT) AS key, key AS keyBlob, version_id, size, etag, modified_ms, lock";
    const current = `${columns}, '${currentSub}' AS sub, 0 AS delete_marker, NULL AS noncurrent_ms FROM objects`;
    const noncurrent = `${columns}, printf('1%015d', ${seqCeiling} - seq) AS sub, delete_marker, noncurrent_ms FROM versions`;
    const range = "bucket = ? AND key > ? AND key >= ? AND key < ?";
    this.listing = {
      currentAt: db.query<ListedRow, [string, Uint8Array]>(`SELECT ${current} WHERE bucket = ? AND key = ?`),
      versionsAt: db.query<ListedRow, [string, Uint8Array, number, number]>(`SELECT ${noncurrent} WHERE bucket = ? AND key = ? AND seq < ? ORDER BY seq DESC LIMIT ?`),
      currentAfter: db.query<ListedRow, [string, Uint8Array, Uint8Array, Uint8Array, number]>(`SELECT ${current} WHERE ${range} ORDER BY objects.key LIMIT ?`),
      versionsAfter: db.query<ListedRow, [string, Uint8Array, Uint8Array, Uint8Array, number]>(`SELECT ${noncurrent} WHERE ${range} ORDER BY versions.key, seq DESC LIMIT ?`),
    };
  }

  /**
   * Makes way for a new current version of `key` (an object, or a delete marker) in a versioned
   * bucket: the current object, unless it is the null version about to be replaced (suspended),
   * moves to `versions`; a current delete marker becomes noncurrent; a suspended bucket's write
   * replaces the key's null version wherever it is (unless Object Lock keeps it: a bucket with
   * Object Lock cannot be suspended, and this holds whatever a backend lets through). Returns the
   * blobs no version holds any more. The caller then rewrites the `objects` row in place or deletes it.
   */
  makeWay(bucket: string, key: string, current: (ObjectMetaRow & { row: number }) | null, status: VersioningStatus, nowMs: number): string[] {
    const freed: string[] = [];
    const replacesCurrent = current !== null && status === "Suspended" && current.version_id === null;
    if (current !== null && !replacesCurrent) {
      this.db
        .query(`INSERT INTO versions (bucket, key, seq, version_id, delete_marker, noncurrent_ms, ${contentColumns})
                SELECT bucket, key, ?, version_id, 0, ?, ${contentColumns} FROM objects WHERE rowid = ?`)
        .run(this.nextSeq(bucket, key), nowMs, current.row);
    } else if (replacesCurrent) {
      checkRemovable(lockOf(current), nowMs, false);
      freed.push(...blobIdsOf(current));
    }
    if (status === "Suspended") {
      const nulls = this.db
        .query<{ segments: string; lock: string | null }, [string, Uint8Array]>("SELECT segments, lock FROM versions WHERE bucket = ? AND key = ? AND version_id IS NULL")
        .all(bucket, keyBytes(key));
      for (const row of nulls) checkRemovable(lockOf(row), nowMs, false);
      this.db.query("DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id IS NULL").run(bucket, keyBytes(key));
      for (const row of nulls) freed.push(...blobIdsOf(row));
    }
    this.db.query("UPDATE versions SET noncurrent_ms = ? WHERE bucket = ? AND key = ? AND noncurrent_ms IS NULL").run(nowMs, bucket, keyBytes(key));
    return freed;
  }

  /** Adds a delete marker as `key`'s current version (after `makeWay`, with the `objects` row gone). */
  addMarker(bucket: string, key: string, versionId: string | undefined, nowMs: number): void {
    this.db
      .query(`INSERT INTO versions (bucket, key, seq, version_id, delete_marker, noncurrent_ms, ${contentColumns})
              VALUES (?, ?, ?, ?, 1, NULL, 0, '', ?, 0, '{}', '{}', '[]', '{}', NULL, NULL, NULL, NULL)`)
      .run(bucket, keyBytes(key), this.nextSeq(bucket, key), versionId ?? null, nowMs);
  }

  /** `key`'s current delete marker, if its current version is one. */
  currentMarker(bucket: string, key: string): VersionRow | null {
    return this.db
      .query<VersionRow, [string, Uint8Array]>("SELECT * FROM versions WHERE bucket = ? AND key = ? AND noncurrent_ms IS NULL")
      .get(bucket, keyBytes(key));
  }

  /** The noncurrent version or delete marker `versionId` names ("null" included), if there is one. */
  find(bucket: string, key: string, versionId: string): VersionRow | null {
    const id = storedId(versionId);
    return this.db
      .query<VersionRow, [string, Uint8Array, string | null]>("SELECT * FROM versions WHERE bucket = ? AND key = ? AND version_id IS ?")
      .get(bucket, keyBytes(key), id);
  }

  /**
   * Removes a row of `versions` for good; when it was the current delete marker, the newest
   * version left becomes current. Returns the blobs it held.
   */
  remove(bucket: string, key: string, row: VersionRow): string[] {
    this.db.query("DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?").run(bucket, keyBytes(key), row.seq);
    if (row.noncurrent_ms === null) this.promoteNewest(bucket, key);
    return blobIdsOf(row);
  }

  /**
   * After `key`'s current version was removed for good: the newest version left becomes current
   * (an object moves back to `objects`; a delete marker stays where it is, current again).
   */
  promoteNewest(bucket: string, key: string): void {
    const newest = this.db
      .query<VersionRow, [string, Uint8Array]>("SELECT * FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1")
      .get(bucket, keyBytes(key));
    if (newest === null) return;
    if (newest.delete_marker === 1) {
      this.db.query("UPDATE versions SET noncurrent_ms = NULL WHERE bucket = ? AND key = ? AND seq = ?").run(bucket, keyBytes(key), newest.seq);
      return;
    }
    this.objectRowChanging(bucket, key);
    this.db
      .query(`INSERT INTO objects (bucket, key, version_id, ${contentColumns}) SELECT bucket, key, version_id, ${contentColumns} FROM versions WHERE bucket = ? AND key = ? AND seq = ?`)
      .run(bucket, keyBytes(key), newest.seq);
    this.db.query("DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?").run(bucket, keyBytes(key), newest.seq);
  }

  /** Replaces a noncurrent version's tags or Object Lock state (a JSON column). */
  setColumn(bucket: string, key: string, row: VersionRow, column: "tags" | "lock", value: string | null): void {
    this.db.query(`UPDATE versions SET ${column} = ? WHERE bucket = ? AND key = ? AND seq = ?`).run(value, bucket, keyBytes(key), row.seq);
  }

  /** Where a `versions` row stands among its key's versions (`hasCurrentObject`: the key has an `objects` row). */
  stateOf(bucket: string, key: string, row: VersionRow, hasCurrentObject: boolean): VersionState {
    const counts = this.db
      .query<{ newer: number; total: number }, [number, string, Uint8Array]>(
        "SELECT COUNT(CASE WHEN seq > ? AND noncurrent_ms IS NOT NULL THEN 1 END) AS newer, COUNT(*) AS total FROM versions WHERE bucket = ? AND key = ?",
      )
      .get(row.seq, bucket, keyBytes(key))!;
    return {
      isLatest: row.noncurrent_ms === null,
      noncurrentSinceMs: row.noncurrent_ms ?? undefined,
      newerNoncurrent: counts.newer,
      lone: !hasCurrentObject && counts.total === 1,
    };
  }

  /** Whether the key has versions besides its current one. */
  hasNoncurrent(bucket: string, key: string): boolean {
    return this.db.query("SELECT 1 FROM versions WHERE bucket = ? AND key = ? LIMIT 1").get(bucket, keyBytes(key)) !== null;
  }

  /** Whether the bucket holds any noncurrent version or delete marker. */
  any(bucket: string): boolean {
    return this.db.query("SELECT 1 FROM versions WHERE bucket = ? LIMIT 1").get(bucket) !== null;
  }

  /** Every blob a noncurrent version holds (start-up recovery keeps them). */
  *blobIds(): Generator<string> {
    for (const row of this.db.query<{ segments: string }, []>("SELECT segments FROM versions WHERE delete_marker = 0").iterate()) {
      for (const [id] of segmentsOf(row)) yield id;
    }
  }

  /**
   * ListObjectVersions: both tables merged in listing order, keys in byte order and each key's
   * versions newest first. Within a key, rows sort by `sub`: the current object's is `currentSub`,
   * a `versions` row's falls as its seq rises.
   */
  list(bucket: string, query: ListVersionsQuery): ListVersionsPage {
    const prefixBytes = utf8(query.prefix);
    const prefixEnd = cursorPastPrefix(query.prefix).keyBytes;
    const start: ListCursor = { keyBytes: utf8(query.keyMarker), sub: this.startSub(bucket, query) };
    const result = listEntries(
      (after, limit) => {
        // The rest of the cursor's key, then the keys after it: each part a seek on an index (one
        // query over both with the cursor as an OR read every row before the cursor, on every page).
        const rest: ListedRow[] = [];
        if (after.sub !== afterEverySub && inKeyRange(after.keyBytes, prefixBytes, prefixEnd)) {
          if (after.sub < currentSub) rest.push(...this.listing.currentAt.all(bucket, after.keyBytes));
          const seqBelow = after.sub > currentSub ? seqOfSub(after.sub) : Number.MAX_SAFE_INTEGER;
          rest.push(...this.listing.versionsAt.all(bucket, after.keyBytes, seqBelow, limit));
        }
        if (rest.length >= limit) return rest.slice(0, limit);
        const after_ = [bucket, after.keyBytes, prefixBytes, prefixEnd, limit - rest.length] as const;
        return [...rest, ...mergeByKey(this.listing.currentAfter.all(...after_), this.listing.versionsAfter.all(...after_), limit - rest.length)];
      },
      { prefix: query.prefix, delimiter: query.delimiter, start, maxEntries: query.maxKeys },
    );
    const versions: ListedVersion[] = [];
    const commonPrefixes: string[] = [];
    for (const e of result.entries) {
      if (e.prefix !== undefined) commonPrefixes.push(e.prefix);
      else versions.push(listedVersionOf(e.row));
    }
    const last = result.entries.at(-1);
    const truncated = result.isTruncated && last !== undefined;
    return {
      versions,
      commonPrefixes,
      isTruncated: result.isTruncated,
      nextKeyMarker: truncated ? (last.prefix ?? last.row!.key) : undefined,
      nextVersionIdMarker: truncated && last.row !== undefined ? (last.row.version_id ?? "null") : undefined,
    };
  }

  /** Where a page starts within its key marker: after the marker's version, or after the whole key. */
  private startSub(bucket: string, query: ListVersionsQuery): string {
    if (query.keyMarker === "") return "";
    if (query.versionIdMarker === "") return afterEverySub;
    const current = this.db
      .query<{ n: number }, [string, Uint8Array, string | null]>("SELECT 1 AS n FROM objects WHERE bucket = ? AND key = ? AND version_id IS ?")
      .get(bucket, keyBytes(query.keyMarker), storedId(query.versionIdMarker));
    if (current !== null) return currentSub;
    const row = this.find(bucket, query.keyMarker, query.versionIdMarker);
    // a version since removed: the key's remaining versions cannot be placed against it
    if (row === null) return afterEverySub;
    return `1${String(seqCeiling - row.seq).padStart(15, "0")}`;
  }

  /** One past the key's newest seq: a seek to the end of its run in the index (MAX read all of them). */
  private nextSeq(bucket: string, key: string): number {
    const newest = this.db.query<{ seq: number }, [string, Uint8Array]>("SELECT seq FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1").get(bucket, keyBytes(key));
    return (newest?.seq ?? 0) + 1;
  }
}

/** A row of ListObjectVersions' queries, from either table. */
interface ListedRow {
  key: string;
  keyBlob: Uint8Array;
  sub: string;
  version_id: string | null;
  delete_marker: 0 | 1;
  noncurrent_ms: number | null;
  size: number;
  etag: string;
  modified_ms: number;
  lock: string | null;
}

const seqOfSub = (sub: string) => seqCeiling - Number(sub.slice(1));

/** Up to `limit` rows of two lists ordered by key, in key order; at one key the current object comes first. */
function mergeByKey(current: ListedRow[], noncurrent: ListedRow[], limit: number): ListedRow[] {
  const out: ListedRow[] = [];
  let i = 0;
  let j = 0;
  while (out.length < limit && (i < current.length || j < noncurrent.length)) {
    const takeCurrent = j >= noncurrent.length || (i < current.length && compareBytes(current[i].keyBlob, noncurrent[j].keyBlob) <= 0);
    out.push(takeCurrent ? current[i++] : noncurrent[j++]);
  }
  return out;
}

function listedVersionOf(row: ListedRow): ListedVersion {
  return {
    key: row.key,
    versionId: row.version_id ?? undefined,
    isLatest: row.noncurrent_ms === null,
    deleteMarker: row.delete_marker === 1,
    noncurrentSinceMs: row.noncurrent_ms ?? undefined,
    sizeBytes: row.size,
    etag: row.etag,
    lastModifiedMs: row.modified_ms,
    ...(row.lock === null ? {} : { lock: lockOf(row) }),
  };
}

