/**
 * Log replication, both sides: the leader's flow-controlled, pipelined appends, commit rule,
 * snapshots for lagging followers and ReadIndex rounds; the follower's append/heartbeat/snapshot
 * handling. Functions over the core's state so raft.ts stays about roles and the Ready cycle.
 */
import { assert } from "../util/assert.ts";
import { Progress, ProgressState, quorumIndex, quorumSize } from "./progress.ts";
import { normalConf } from "./conf.ts";
import type { RaftCore } from "./raft.ts";
import { MsgType, NONE, Role, entryBytes, message, type Message, type NodeId } from "./types.ts";

/** Rebuild the leader's progress map after it became leader or the voter set changed. */
export function syncProgress(r: RaftCore): void {
  const members = [...r.voters, ...r.learners];
  for (const id of [...r.progress.keys()]) if (!members.includes(id)) r.progress.delete(id);
  for (const id of members) {
    if (id === r.id || r.progress.has(id)) continue;
    const pr = new Progress(r.log.lastIndex() + 1, r.inflightAppendsMax);
    pr.recentActive = true; // a fresh peer gets one CheckQuorum round of grace
    r.progress.set(id, pr);
  }
}

function matchOf(r: RaftCore, id: NodeId): number {
  if (id === r.id) return r.log.stableIndex;
  return r.progress.get(id)?.match ?? 0;
}

/** Send the next append (or a snapshot) to `to`; false when paused or nothing to send. */
export function sendAppend(r: RaftCore, to: NodeId, allowEmpty: boolean): boolean {
  const pr = r.progress.get(to);
  if (!pr || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.term(prevIndex);
  if (prevTerm === undefined) return sendSnapshot(r, to, pr);
  const last = r.log.lastIndex();
  const entries = pr.next <= last ? r.log.slice(pr.next, last, r.appendEntriesMax, r.appendBytesMax) : [];
  if (entries.length === 0 && !allowEmpty) return false;
  r.send(
    message({
      type: MsgType.App,
      from: r.id,
      to,
      term: r.term,
      index: prevIndex,
      logTerm: prevTerm,
      entries,
      commit: r.log.committed,
    }),
  );
  pr.sentEntries(entries.length, entries.length > 0 ? entries[entries.length - 1].index : prevIndex);
  pr.commitSent = Math.max(pr.commitSent, r.log.committed);
  return entries.length > 0;
}

function sendSnapshot(r: RaftCore, to: NodeId, pr: Progress): boolean {
  const snap = r.snapshot;
  assert(snap !== undefined && snap.meta.index >= r.log.snapshotIndex, "raft: log compacted without a snapshot");
  r.send(message({ type: MsgType.Snap, from: r.id, to, term: r.term, snapshot: snap }));
  pr.becomeSnapshot(snap.meta.index);
  return false;
}

/** Fill every follower's pipeline; `allowEmpty` also sends empty appends to carry the commit. */
export function bcastAppend(r: RaftCore, allowEmpty: boolean): void {
  for (const id of r.progress.keys()) sendAll(r, id, allowEmpty);
}

function sendAll(r: RaftCore, to: NodeId, allowEmpty: boolean): void {
  let first = true;
  while (sendAppend(r, to, allowEmpty && first)) first = false;
}

export function bcastHeartbeat(r: RaftCore, ctx: string): void {
  for (const [id, pr] of r.progress) {
    const commit = Math.min(pr.match, r.log.committed);
    r.send(message({ type: MsgType.Heartbeat, from: r.id, to: id, term: r.term, commit, ctx }));
    pr.commitSent = Math.max(pr.commitSent, commit);
  }
}

/** The leader's own entries became durable: they now count towards the commit quorum. */
export function onLeaderStable(r: RaftCore): void {
  if (maybeCommit(r)) bcastAppend(r, true);
}

/** Commit rule (§5.3, §5.4.2): the quorum index, only if that entry is from the current term. */
export function maybeCommit(r: RaftCore): boolean {
  const qi = quorumIndex(r.voters, (id) => matchOf(r, id));
  if (qi <= r.log.committed || r.log.term(qi) !== r.term) return false;
  let freed = 0;
  for (let i = r.log.committed + 1; i <= qi; i++) freed += entryBytes(r.log.entry(i));
  r.uncommittedBytes = Math.max(0, r.uncommittedBytes - freed);
  r.log.commitTo(qi);
  if (r.earlyReads.length > 0) {
    for (const read of r.earlyReads.splice(0)) queueRead(r, read.ctx, read.from);
    if (r.reads.size > 0) bcastHeartbeat(r, r.reads.last()!.ctx);
  }
  if (!r.promotable() && r.confIndex <= qi) {
    // our own removal is committed: hand over by stepping down (dissertation §4.2.2)
    r.becomeFollower(r.term, NONE);
    return false;
  }
  return true;
}

export function quorumActive(r: RaftCore): boolean {
  let active = r.promotable() ? 1 : 0;
  for (const [id, pr] of r.progress) {
    if (pr.recentActive && r.voters.includes(id)) active++;
    pr.recentActive = false;
  }
  return active >= quorumSize(r.voters.length);
}

/** Followers stuck in snapshot state (a lost snapshot message) are re-probed after a while. */
export function tickSnapshots(r: RaftCore, retryTicks: number): void {
  for (const [id, pr] of r.progress) {
    if (pr.state !== ProgressState.Snapshot) continue;
    if (++pr.snapshotTicks >= retryTicks) {
      pr.becomeProbe();
      sendAppend(r, id, true);
    }
  }
}

export function leaderReadIndex(r: RaftCore, ctx: string, from: NodeId): boolean {
  if (!queueRead(r, ctx, from)) return false;
  if (r.reads.size > 0) bcastHeartbeat(r, r.reads.last()!.ctx);
  return true;
}

/** Record a read without sending; one heartbeat with the newest ctx then confirms all queued. */
function queueRead(r: RaftCore, ctx: string, from: NodeId): boolean {
  // Until an entry of this term is committed the leader's commit index may be stale (§6.4 step 1):
  // hold the request (bounded) until the leader's empty entry commits.
  if (r.log.term(r.log.committed) !== r.term) {
    if (r.earlyReads.length >= r.pendingReadsMax) return false;
    r.earlyReads.push({ ctx, from });
    return true;
  }
  const index = r.log.committed;
  if (r.voters.length === 1 && r.promotable()) {
    deliverRead(r, from, ctx, index);
    return true;
  }
  return r.reads.add(ctx, index, from, r.id, r.promotable());
}

function deliverRead(r: RaftCore, from: NodeId, ctx: string, index: number): void {
  if (from === r.id) r.readStates.push({ ctx, index });
  else r.send(message({ type: MsgType.ReadIndexResp, from: r.id, to: from, term: r.term, index, ctx }));
}

export function stepLeader(r: RaftCore, m: Message): void {
  const pr = r.progress.get(m.from);
  if (m.type === MsgType.ReadIndex) {
    if (pr) leaderReadIndex(r, m.ctx, m.from);
    return;
  }
  if (!pr) return;
  if (m.type === MsgType.AppResp) {
    pr.recentActive = true;
    handleAppResp(r, m, pr);
  } else if (m.type === MsgType.HeartbeatResp) {
    pr.recentActive = true;
    pr.onHeartbeatResponse();
    if (pr.match < r.log.lastIndex()) sendAll(r, m.from, true);
    if (m.ctx !== "") for (const read of r.reads.ack(m.ctx, m.from, r.voters)) deliverRead(r, read.from, read.ctx, read.index);
  }
}

function handleAppResp(r: RaftCore, m: Message, pr: Progress): void {
  if (m.reject) {
    const hint = r.log.findConflictByTerm(m.rejectHint, m.logTerm);
    if (pr.maybeDecrease(m.index, hint + 1)) sendAppend(r, m.from, true);
    return;
  }
  if (pr.maybeUpdate(m.index)) {
    if (pr.state === ProgressState.Probe) pr.becomeReplicate();
    else if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    }
    if (maybeCommit(r)) bcastAppend(r, true);
    else if (r.role === Role.Leader) sendAll(r, m.from, pr.commitSent < r.log.committed);
    if (r.role === Role.Leader && m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
      r.send(message({ type: MsgType.TimeoutNow, from: r.id, to: m.from, term: r.term }));
    }
  } else {
    sendAll(r, m.from, false);
  }
}

/** A follower (or a candidate that just learned of the leader) handles the leader's traffic. */
export function stepReplicaMessage(r: RaftCore, m: Message): void {
  if (m.type === MsgType.App) handleAppend(r, m);
  else if (m.type === MsgType.Heartbeat) {
    r.log.commitTo(m.commit);
    r.send(message({ type: MsgType.HeartbeatResp, from: r.id, to: m.from, term: r.term, ctx: m.ctx }));
  } else if (m.type === MsgType.Snap) handleSnapshot(r, m);
}

function reply(r: RaftCore, m: Message, fields: Partial<Message>): void {
  r.send(message({ type: MsgType.AppResp, from: r.id, to: m.from, term: r.term, ...fields }));
}

function handleAppend(r: RaftCore, m: Message): void {
  if (m.index < r.log.committed) return reply(r, m, { index: r.log.committed });
  if (!r.log.matchTerm(m.index, m.logTerm)) {
    const hint = r.log.findConflictByTerm(Math.min(m.index, r.log.lastIndex()), m.logTerm);
    return reply(r, m, { index: m.index, reject: true, rejectHint: hint, logTerm: r.log.term(hint) ?? 0 });
  }
  const lastNew = m.index + m.entries.length;
  const conflict = r.log.findConflict(m.entries);
  if (conflict !== 0) {
    assert(conflict > r.log.committed, `raft: leader tried to overwrite committed entry ${conflict}`);
    const fresh = m.entries.slice(conflict - m.entries[0].index);
    r.log.append(fresh);
    r.onLogChanged(fresh);
  }
  r.log.commitTo(Math.min(m.commit, lastNew));
  reply(r, m, { index: lastNew });
}

function handleSnapshot(r: RaftCore, m: Message): void {
  const snap = m.snapshot!;
  const meta = snap.meta;
  if (meta.index <= r.log.committed) return reply(r, m, { index: r.log.committed });
  if (r.log.matchTerm(meta.index, meta.term)) {
    // we already have the snapshot's last entry: fast-forward the commit, keep the log
    r.log.commitTo(meta.index);
    return reply(r, m, { index: r.log.committed });
  }
  r.log.restore(meta);
  r.snapshot = snap;
  r.snapConf = normalConf(meta.conf);
  r.incomingSnapshot = snap;
  r.refreshConf();
  reply(r, m, { index: r.log.lastIndex() });
}
