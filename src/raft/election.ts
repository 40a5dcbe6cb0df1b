/** Elections (§5.2, PreVote and CheckQuorum from the dissertation §9.6) and the non-leader roles. */
import { quorumSize } from "./progress.ts";
import type { RaftCore } from "./raft.ts";
import * as repl from "./replication.ts";
import { MsgType, NONE, Role, message, type Message } from "./types.ts";

export function tickElection(r: RaftCore): void {
  r.electionElapsed++;
  if (r.promotable() && r.electionElapsed >= r.randomizedElectionTicks) {
    r.electionElapsed = 0;
    campaign(r, r.preVote, false);
  }
}

/** Start a pre-vote round or a real election; `transfer` elections bypass the voters' lease. */
export function campaign(r: RaftCore, pre: boolean, transfer: boolean): void {
  if (!r.promotable()) return;
  if (pre) {
    r.role = Role.PreCandidate;
    r.leader = NONE;
    r.reset();
  } else {
    r.becomeFollower(r.term + 1, NONE);
    r.role = Role.Candidate;
    r.vote = r.id;
  }
  r.votes.set(r.id, true);
  if (tally(r)) return;
  const type = pre ? MsgType.PreVote : MsgType.Vote;
  const term = pre ? r.term + 1 : r.term;
  for (const v of r.voters) {
    if (v === r.id) continue;
    r.send(message({ type, from: r.id, to: v, term, index: r.log.lastIndex(), logTerm: r.log.lastTerm(), transfer }));
  }
}

/** Count votes; acts on a decided election and returns whether it was decided. */
function tally(r: RaftCore): boolean {
  let granted = 0;
  let rejected = 0;
  for (const v of r.voters) {
    const g = r.votes.get(v);
    if (g === true) granted++;
    else if (g === false) rejected++;
  }
  const q = quorumSize(r.voters.length);
  if (granted >= q) {
    if (r.role === Role.PreCandidate) campaign(r, false, false);
    else r.becomeLeader();
    return true;
  }
  if (rejected >= q) {
    r.becomeFollower(r.term, NONE);
    return true;
  }
  return false;
}

export function handleVote(r: RaftCore, m: Message): void {
  const pre = m.type === MsgType.PreVote;
  const canVote = r.vote === m.from || (r.vote === NONE && r.leader === NONE) || (pre && m.term > r.term);
  const respType = pre ? MsgType.PreVoteResp : MsgType.VoteResp;
  if (canVote && r.log.isUpToDate(m.index, m.logTerm)) {
    r.send(message({ type: respType, from: r.id, to: m.from, term: m.term }));
    if (!pre) {
      r.electionElapsed = 0;
      r.vote = m.from;
    }
  } else {
    r.send(message({ type: respType, from: r.id, to: m.from, term: r.term, reject: true }));
  }
}

export function stepCandidate(r: RaftCore, m: Message): void {
  const want = r.role === Role.PreCandidate ? MsgType.PreVoteResp : MsgType.VoteResp;
  if (m.type === MsgType.App || m.type === MsgType.Heartbeat || m.type === MsgType.Snap) {
    r.becomeFollower(m.term, m.from);
    stepFollower(r, m);
  } else if (m.type === want) {
    r.votes.set(m.from, !m.reject);
    tally(r);
  }
}

export function stepFollower(r: RaftCore, m: Message): void {
  switch (m.type) {
    case MsgType.App:
    case MsgType.Heartbeat:
    case MsgType.Snap:
      r.electionElapsed = 0;
      r.leader = m.from;
      return repl.stepReplicaMessage(r, m);
    case MsgType.TimeoutNow:
      return campaign(r, false, true);
    case MsgType.ReadIndexResp:
      r.readStates.push({ ctx: m.ctx, index: m.index });
      return;
  }
}
