/** The Ready cycle: what changed since the last batch, handed out once, acknowledged by advance(). */
import { assert } from "../util/assert.ts";
import type { RaftCore } from "./raft.ts";
import * as repl from "./replication.ts";
import { NONE, Role, type HardState, type Ready, type SoftState } from "./types.ts";

export class ReadyCycle {
  prevSoft: SoftState = { leader: NONE, role: Role.Follower };
  /** A Ready was handed out and not yet advanced. */
  outstanding = false;
  constructor(public prevHard: HardState) {}
}

export function hasReady(r: RaftCore, c: ReadyCycle): boolean {
  if (c.outstanding) return false;
  return (
    r.msgs.length > 0 ||
    r.readStates.length > 0 ||
    r.incomingSnapshot !== undefined ||
    r.log.stableIndex < r.log.lastIndex() ||
    r.log.committed > r.log.applying ||
    !sameHard(r.hardState(), c.prevHard) ||
    !sameSoft(r.softState(), c.prevSoft)
  );
}

export function makeReady(r: RaftCore, c: ReadyCycle): Ready {
  assert(!c.outstanding, "raft: ready() while the previous Ready is not advanced");
  c.outstanding = true;
  const rd: Ready = {
    entries: r.log.unstable(),
    messages: r.msgs,
    committed: r.log.nextCommitted(r.applyBytesMax),
    readStates: r.readStates,
    snapshot: r.incomingSnapshot,
  };
  const hs = r.hardState();
  if (!sameHard(hs, c.prevHard)) rd.hardState = hs;
  const ss = r.softState();
  if (!sameSoft(ss, c.prevSoft)) rd.softState = ss;
  r.msgs = [];
  r.readStates = [];
  if (rd.committed.length > 0) r.log.applying = rd.committed[rd.committed.length - 1].index;
  return rd;
}

export function advanceReady(r: RaftCore, c: ReadyCycle, rd: Ready): void {
  assert(c.outstanding, "raft: advance() without ready()");
  c.outstanding = false;
  if (rd.hardState) c.prevHard = rd.hardState;
  if (rd.softState) c.prevSoft = rd.softState;
  if (rd.snapshot) {
    if (r.incomingSnapshot === rd.snapshot) r.incomingSnapshot = undefined;
    if (rd.snapshot.meta.index > r.log.applied && rd.snapshot.meta.index <= r.log.committed) {
      r.log.appliedTo(rd.snapshot.meta.index);
    }
  }
  if (rd.entries.length > 0) {
    const last = rd.entries[rd.entries.length - 1];
    r.log.stableTo(last.index, last.term);
    if (r.role === Role.Leader) repl.onLeaderStable(r);
  }
  if (rd.committed.length > 0) r.log.appliedTo(rd.committed[rd.committed.length - 1].index);
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}
