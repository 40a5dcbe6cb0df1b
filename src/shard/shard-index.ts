/**
 * The per-node shard index on bun:sqlite: (object id, shard index) → extent. The row is the
 * commit point of a shard write: segment bytes are fdatasynced first, then the row commits
 * (WAL, synchronous=FULL). Batches of puts and deletes commit in one transaction (group commit).
 */
import { Database } from "bun:sqlite";
import { assert } from "../util/assert.ts";

export interface Extent {
  readonly objectId: string;
  readonly shardIndex: number;
  readonly segment: number;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly logicalBytes: number;
  /** Counter of fragment 0; fragment n carries counterBase + n. */
  readonly counterBase: number;
}

export interface SegmentRow {
  readonly id: number;
  /** End of the last committed extent: bytes past it are unacknowledged and reusable. */
  readonly tailBytes: number;
  readonly liveBytes: number;
}

export type IndexOp =
  | { readonly put: Extent }
  | { readonly del: { objectId: string; shardIndex: number } }
  /** Compaction: repoint the row at `to` only if it still points at `from` (not overwritten or deleted meanwhile). */
  | { readonly move: { from: Extent; to: Extent } };

export interface CommitResult {
  /** Extents the batch made dead (overwritten, deleted, moved away from, or copies that lost a race). */
  readonly dead: Extent[];
  /** Extents the batch made live. */
  readonly live: Extent[];
}

export class ShardIndex {
  private readonly db: Database;
  private readonly q;

  constructor(path: string) {
    this.db = new Database(path, { create: true, strict: true });
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = FULL");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS segments (
        id INTEGER PRIMARY KEY, tailBytes INTEGER NOT NULL, liveBytes INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS extents (
        objectId TEXT NOT NULL, shardIndex INTEGER NOT NULL, segment INTEGER NOT NULL,
        offsetBytes INTEGER NOT NULL, lengthBytes INTEGER NOT NULL, logicalBytes INTEGER NOT NULL,
        counterBase INTEGER NOT NULL, PRIMARY KEY (objectId, shardIndex)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS extentsBySegment ON extents (segment, offsetBytes);
    `);
    this.q = {
      getMeta: this.db.query<{ value: Uint8Array | string | number }, [string]>("SELECT value FROM meta WHERE key = ?"),
      setMeta: this.db.query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
      get: this.db.query<Extent, [string, number]>("SELECT * FROM extents WHERE objectId = ? AND shardIndex = ?"),
      put: this.db.query(
        `INSERT INTO extents VALUES ($objectId, $shardIndex, $segment, $offsetBytes, $lengthBytes, $logicalBytes, $counterBase)
         ON CONFLICT (objectId, shardIndex) DO UPDATE SET segment = excluded.segment, offsetBytes = excluded.offsetBytes,
         lengthBytes = excluded.lengthBytes, logicalBytes = excluded.logicalBytes, counterBase = excluded.counterBase`,
      ),
      del: this.db.query("DELETE FROM extents WHERE objectId = ? AND shardIndex = ?"),
      segments: this.db.query<SegmentRow, []>("SELECT * FROM segments ORDER BY id"),
      addSegment: this.db.query("INSERT INTO segments (id, tailBytes, liveBytes) VALUES (?, 0, 0)"),
      dropSegment: this.db.query("DELETE FROM segments WHERE id = ?"),
      grow: this.db.query("UPDATE segments SET tailBytes = MAX(tailBytes, ?), liveBytes = liveBytes + ? WHERE id = ?"),
      shrink: this.db.query("UPDATE segments SET liveBytes = liveBytes - ? WHERE id = ?"),
      count: this.db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM extents"),
      inSegment: this.db.query<Extent, [number]>("SELECT * FROM extents WHERE segment = ? ORDER BY offsetBytes"),
    };
  }

  getMeta(key: string): Uint8Array | string | number | null {
    return this.q.getMeta.get(key)?.value ?? null;
  }

  setMeta(key: string, value: Uint8Array | string | number): void {
    this.q.setMeta.run(key, value);
  }

  /** Several meta keys in one durable transaction (store creation). */
  setMetaAll(entries: [string, Uint8Array | string | number][]): void {
    this.db.transaction(() => entries.forEach(([k, v]) => this.q.setMeta.run(k, v)))();
  }

  get(objectId: string, shardIndex: number): Extent | null {
    return this.q.get.get(objectId, shardIndex) ?? null;
  }

  segments(): SegmentRow[] {
    return this.q.segments.all();
  }

  addSegment(id: number): void {
    this.q.addSegment.run(id);
  }

  dropSegment(id: number): void {
    this.q.dropSegment.run(id);
  }

  extentsIn(segment: number): Extent[] {
    return this.q.inSegment.all(segment);
  }

  extentCount(): number {
    return this.q.count.get()!.n;
  }

  /**
   * Applies a batch in one transaction and reports which extents became dead or live, so the
   * caller can account space; live bytes per segment are kept in the same commit.
   */
  commit(ops: readonly IndexOp[]): CommitResult {
    const dead: Extent[] = [];
    const live: Extent[] = [];
    const makeLive = (e: Extent) => {
      assert(e.lengthBytes > 0 && e.offsetBytes >= 0, "shard index: empty or negative extent");
      this.q.put.run(e as unknown as Record<string, number | string>);
      this.q.grow.run(e.offsetBytes + e.lengthBytes, e.lengthBytes, e.segment);
      live.push(e);
    };
    const makeDead = (e: Extent) => {
      this.q.shrink.run(e.lengthBytes, e.segment);
      dead.push(e);
    };
    this.db.transaction(() => {
      for (const op of ops) {
        if ("move" in op) {
          const { from, to } = op.move;
          const cur = this.q.get.get(from.objectId, from.shardIndex);
          if (cur && cur.segment === from.segment && cur.offsetBytes === from.offsetBytes) {
            makeDead(cur);
            makeLive(to);
          } else {
            this.q.grow.run(to.offsetBytes + to.lengthBytes, 0, to.segment); // the copy is garbage, but its space is used
            dead.push({ ...to, lengthBytes: 0 });
          }
          continue;
        }
        const key = "put" in op ? op.put : op.del;
        const old = this.q.get.get(key.objectId, key.shardIndex);
        if (old) makeDead(old);
        if ("put" in op) makeLive(op.put);
        else if (old) this.q.del.run(key.objectId, key.shardIndex);
      }
    })();
    return { dead, live };
  }

  close(): void {
    this.db.close();
  }
}
