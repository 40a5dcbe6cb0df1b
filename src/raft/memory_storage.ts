/** In-memory twins of the Raft stores, for tests and the simulator-style harnesses. */
import { assert } from "../util/assert.ts";
import { EMPTY_HARD_STATE, type PersistBatch, type RaftStorage, type SnapshotStore } from "./storage.ts";
import type { Entry, HardState, Snapshot } from "./types.ts";

export class MemoryRaftStorage implements RaftStorage {
  private entries: Entry[] = [];
  private hard: HardState = { ...EMPTY_HARD_STATE };
  /** Number of persist() calls: one per batch (what an fsync would cost). */
  batches = 0;

  firstIndex(): number {
    return this.entries.length > 0 ? this.entries[0].index : 0;
  }

  lastIndex(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1].index : 0;
  }

  getEntries(lo: number, hi: number): Entry[] {
    const first = this.firstIndex();
    if (first === 0) return [];
    const from = Math.max(lo, first) - first;
    const to = Math.min(hi, this.lastIndex()) - first;
    return to < from ? [] : this.entries.slice(from, to + 1);
  }

  compact(upTo: number): void {
    const first = this.firstIndex();
    if (first === 0 || upTo < first) return;
    this.entries = this.entries.slice(Math.min(upTo - first + 1, this.entries.length));
  }

  getHardState(): HardState {
    return { ...this.hard };
  }

  persist(batch: PersistBatch): void {
    this.batches++;
    if (batch.resetLog) this.entries = [];
    if (batch.entries.length > 0) {
      const start = batch.entries[0].index;
      const first = this.firstIndex();
      if (first === 0 || start <= first) {
        this.entries = batch.entries.slice();
      } else {
        assert(start <= this.lastIndex() + 1, `memory store: gap before entry ${start}`);
        this.entries.length = start - first; // drop the replaced suffix in place
        for (const e of batch.entries) this.entries.push(e);
      }
    }
    if (batch.hardState) this.hard = { ...batch.hardState };
  }

  close(): void {}
}

export class MemorySnapshotStore implements SnapshotStore {
  private snap?: Snapshot;

  save(snap: Snapshot): void {
    this.snap = { meta: { ...snap.meta, conf: structuredClone(snap.meta.conf) }, data: snap.data.slice() };
  }

  latest(): Snapshot | undefined {
    return this.snap;
  }

  close(): void {}
}
