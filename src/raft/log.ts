/**
 * The core's view of the log: a compacted prefix (snapshot index/term) and the entries after it,
 * all in memory. `stableIndex` marks how far the entries are known to be durable; everything after
 * it is handed out in the next Ready. Memory is bounded by compacting after snapshots.
 */
import { assert } from "../util/assert.ts";
import type { Entry, SnapshotMeta } from "./types.ts";
import { entryBytes } from "./types.ts";

export class RaftLog {
  snapshotIndex = 0;
  snapshotTerm = 0;
  /** entries[i].index === snapshotIndex + 1 + i */
  entries: Entry[] = [];
  committed = 0;
  applied = 0;
  /** Highest index known to be on stable storage. */
  stableIndex = 0;
  /** Highest index already handed out in a Ready for application (applied once advanced). */
  applying = 0;

  constructor(snapshot: SnapshotMeta | undefined, entries: Entry[], committed: number) {
    if (snapshot) {
      this.snapshotIndex = snapshot.index;
      this.snapshotTerm = snapshot.term;
    }
    for (let i = 0; i < entries.length; i++) {
      assert(entries[i].index === this.snapshotIndex + 1 + i, "log: stored entries are not contiguous");
    }
    this.entries = entries.slice();
    this.stableIndex = this.lastIndex();
    this.committed = Math.max(committed, this.snapshotIndex);
    assert(this.committed <= this.lastIndex(), "log: commit beyond last stored entry");
    this.applied = this.snapshotIndex;
    this.applying = this.snapshotIndex;
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Term of the entry at `index`, or undefined if compacted away or not present. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshotIndex - 1].term;
  }

  entry(index: number): Entry {
    assert(index > this.snapshotIndex && index <= this.lastIndex(), `log: no entry ${index}`);
    return this.entries[index - this.snapshotIndex - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: is a candidate's log (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi] (inclusive), cut at maxCount and maxBytes (at least one entry). */
  slice(lo: number, hi: number, maxCount: number, maxBytes: number): Entry[] {
    assert(lo > this.snapshotIndex, `log: slice from compacted index ${lo}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= Math.min(hi, this.lastIndex()) && out.length < maxCount; i++) {
      const e = this.entry(i);
      bytes += entryBytes(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Append new entries, truncating any conflicting suffix from entries[0].index on. */
  append(ents: Entry[]): void {
    if (ents.length === 0) return;
    const from = ents[0].index;
    assert(from > this.committed, `log: truncating committed entry ${from} (commit ${this.committed})`);
    assert(from <= this.lastIndex() + 1, `log: gap appending ${from} after ${this.lastIndex()}`);
    this.entries.length = from - this.snapshotIndex - 1;
    for (const e of ents) this.entries.push(e);
    if (this.stableIndex >= from) this.stableIndex = from - 1;
  }

  /** Index of the first entry that is new or conflicts with ours; 0 if all already present. */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (e.index <= this.snapshotIndex) continue;
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /** Largest index <= `index` whose term is <= `term` (fast log backtracking, etcd style). */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    while (i > this.snapshotIndex) {
      const t = this.term(i)!;
      if (t <= term) return i;
      i--;
    }
    return i;
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), `log: commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  unstable(): Entry[] {
    return this.entries.slice(this.stableIndex - this.snapshotIndex);
  }

  /** Entries durable up to (index, term) unless the log was rewritten since they were handed out. */
  stableTo(index: number, term: number): void {
    if (index > this.stableIndex && this.matchTerm(index, term)) this.stableIndex = index;
  }

  /** Committed entries not yet handed out for application (bounded by maxBytes, at least one). */
  nextCommitted(maxBytes: number): Entry[] {
    const lo = Math.max(this.applying, this.snapshotIndex) + 1;
    if (lo > this.committed) return [];
    return this.slice(lo, this.committed, Number.MAX_SAFE_INTEGER, maxBytes);
  }

  appliedTo(index: number): void {
    if (index <= this.applied) return;
    assert(index <= this.committed, `log: applied ${index} beyond commit ${this.committed}`);
    this.applied = index;
    if (this.applying < index) this.applying = index;
  }

  /** Replace the whole log with a snapshot received from the leader. */
  restore(meta: SnapshotMeta): void {
    assert(meta.index > this.committed, "log: restoring a snapshot older than commit");
    this.snapshotIndex = meta.index;
    this.snapshotTerm = meta.term;
    this.entries = [];
    this.committed = meta.index;
    this.stableIndex = meta.index;
  }

  /** Drop entries up to `index` (inclusive), which must already be applied. */
  compact(index: number): void {
    if (index <= this.snapshotIndex) return;
    assert(index <= this.applied, `log: compacting unapplied index ${index} (applied ${this.applied})`);
    const term = this.term(index)!;
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = term;
  }
}
