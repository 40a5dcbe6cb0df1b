/**
 * Storage interfaces of the Raft node (hashicorp/raft style). Implementations: bun:sqlite
 * (sqlite_storage.ts) and in-memory twins (memory_storage.ts); one contract suite tests both.
 * Reads are synchronous (they happen at start); persist() may be asynchronous. Either way a
 * persisted batch is durable before the driver sends the batch's messages.
 */
import type { Entry, HardState, Snapshot } from "./types.ts";

export interface LogStore {
  /** Index of the first stored entry, 0 when the log is empty. */
  firstIndex(): number;
  /** Index of the last stored entry, 0 when the log is empty. */
  lastIndex(): number;
  /** Stored entries in [lo, hi], inclusive, in index order. */
  getEntries(lo: number, hi: number): Entry[];
  /** Drop entries with index <= upTo (their effect is in a saved snapshot). */
  compact(upTo: number): void;
}

export interface StableStore {
  getHardState(): HardState;
}

/** What one Ready asks to persist: written in ONE durable transaction (group commit). */
export interface PersistBatch {
  /** Delete the whole log first (a snapshot from the leader replaced it). */
  resetLog?: boolean;
  /** New entries; any stored entry at or after entries[0].index is replaced. */
  entries: Entry[];
  hardState?: HardState;
}

/** The log and the hard state live together so a batch of both commits atomically. */
export interface RaftStorage extends LogStore, StableStore {
  /** Durable when it returns, or when the returned promise resolves (a store in a Worker). The
   * bun:sqlite and memory stores are synchronous. */
  persist(batch: PersistBatch): void | Promise<void>;
  close(): void;
}

export interface SnapshotStore {
  /** Durably keep `snap` as the latest snapshot (older ones may be discarded). */
  save(snap: Snapshot): void;
  latest(): Snapshot | undefined;
  close(): void;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: 0, commit: 0 });
