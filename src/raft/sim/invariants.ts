/**
 * The Raft safety properties (figure 3 of the paper), checked by the simulator at every step:
 * election safety, log matching, leader completeness and state machine safety.
 */
import type { RaftCore } from "../raft.ts";
import type { Entry, NodeId, Snapshot } from "../types.ts";
import { entryKey } from "./kv.ts";

export class InvariantViolation extends Error {
  override name = "InvariantViolation";
}

function fail(msg: string): never {
  throw new InvariantViolation(msg);
}

export class InvariantChecker {
  private leaderOfTerm = new Map<number, NodeId>();
  /** "index:term" -> "prevTerm|entry identity": equal keys must mean equal prefixes. */
  private entryAt = new Map<string, string>();
  /** index -> identity of the entry applied there (applied implies committed). */
  private appliedAt = new Map<number, string>();
  private appliedTermAt = new Map<number, number>();
  private maxApplied = 0;
  /** index -> state machine digest, recorded when snapshots are taken or installed. */
  private stateAt = new Map<number, string>();
  checks = 0;

  /** Election safety: at most one leader per term; leader completeness when one is first seen. */
  observe(core: RaftCore): void {
    this.checks++;
    if (core.role !== "leader") return;
    const prev = this.leaderOfTerm.get(core.term);
    if (prev === undefined) {
      this.leaderOfTerm.set(core.term, core.id);
      this.checkCompleteness(core);
    } else if (prev !== core.id) {
      fail(`election safety: term ${core.term} has leaders ${prev} and ${core.id}`);
    }
  }

  private checkCompleteness(core: RaftCore): void {
    const log = core.log;
    if (log.lastIndex() < this.maxApplied) {
      fail(`leader completeness: leader ${core.id} (term ${core.term}) ends at ${log.lastIndex()}, committed ${this.maxApplied}`);
    }
    for (let i = log.snapshotIndex + 1; i <= this.maxApplied; i++) {
      const want = this.appliedTermAt.get(i);
      if (want !== undefined && log.term(i) !== want) {
        fail(`leader completeness: leader ${core.id} term ${core.term} has term ${log.term(i)} at committed index ${i}, want ${want}`);
      }
    }
  }

  /** Log matching, incrementally: every entry handed out for persistence is compared by (index, term). */
  entries(core: RaftCore, ents: Entry[]): void {
    for (const e of ents) {
      const prevTerm = core.log.term(e.index - 1);
      if (prevTerm === undefined) fail(`log matching: node ${core.id} has no term before ${e.index}`);
      const key = `${e.index}:${e.term}`;
      const id = `${prevTerm}|${entryKey(e)}`;
      const seen = this.entryAt.get(key);
      if (seen === undefined) this.entryAt.set(key, id);
      else if (seen !== id) fail(`log matching: entry ${key} differs on node ${core.id}: ${seen} vs ${id}`);
    }
  }

  /** State machine safety: every node applies the same entry at each index, in order. */
  applied(node: NodeId, e: Entry): void {
    const id = entryKey(e);
    const seen = this.appliedAt.get(e.index);
    if (seen === undefined) {
      this.appliedAt.set(e.index, id);
      this.appliedTermAt.set(e.index, e.term);
      if (e.index > this.maxApplied) this.maxApplied = e.index;
    } else if (seen !== id) {
      fail(`state machine safety: node ${node} applied ${id} at ${e.index}, another node applied ${seen}`);
    }
  }

  /** Snapshots taken or installed at the same index must describe the same state. */
  snapshotState(node: NodeId, snap: Snapshot, digest: string): void {
    const term = this.appliedTermAt.get(snap.meta.index);
    if (term !== undefined && term !== snap.meta.term) {
      fail(`state machine safety: node ${node} has snapshot ${snap.meta.index}@${snap.meta.term}, committed term is ${term}`);
    }
    const seen = this.stateAt.get(snap.meta.index);
    if (seen === undefined) this.stateAt.set(snap.meta.index, digest);
    else if (seen !== digest) fail(`state machine safety: node ${node} state at ${snap.meta.index} differs from another node's`);
  }
}
