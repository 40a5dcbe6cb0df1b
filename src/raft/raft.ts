/**
 * The pure Raft core (etcd-raft style): no I/O, no clock, no randomness of its own. Callers feed it
 * tick(), step(message) and proposals, then drain the resulting work with ready()/advance().
 * Roles, elections (PreVote, CheckQuorum, leader lease on votes) and the Ready cycle live here;
 * log replication handlers live in replication.ts.
 */
import { assert } from "../util/assert.ts";
import { applyConfChange, normalConf } from "./conf.ts";
import * as election from "./election.ts";
import { RaftLog } from "./log.ts";
import { ReadyCycle, advanceReady, hasReady, makeReady } from "./ready.ts";
import * as lim from "./limits.ts";
import type { Prng } from "./prng.ts";
import type { Progress } from "./progress.ts";
import type { CoreOptions, CoreState, ProposeError, ProposeResult, Status } from "./options.ts";
import { ReadIndexQueue } from "./readindex.ts";
import * as repl from "./replication.ts";
import {
  EntryType,
  MsgType,
  NONE,
  Role,
  decodeConfChange,
  encodeConfChange,
  entryBytes,
  message,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ReadState,
  type Ready,
  type Snapshot,
  type SnapshotMeta,
  type SoftState,
} from "./types.ts";

export type { CoreOptions, CoreState, ProposeError, ProposeResult, Status };

export class RaftCore {
  readonly id: NodeId;
  readonly prng: Prng;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly appendEntriesMax: number;
  readonly appendBytesMax: number;
  readonly inflightAppendsMax: number;
  readonly uncommittedBytesMax: number;
  readonly applyBytesMax: number;

  term = 0;
  vote: NodeId = NONE;
  leader: NodeId = NONE;
  role = Role.Follower;
  log: RaftLog;
  voters: NodeId[] = [];
  learners: NodeId[] = [];
  /** Index of the latest ConfChange entry in the log (0: the config comes from the snapshot). */
  confIndex = 0;
  snapConf: ConfState;
  /** Latest snapshot this node holds (sent to followers that fell behind the compacted log). */
  snapshot?: Snapshot;
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTicks = 0;
  leadTransferee: NodeId = NONE;
  uncommittedBytes = 0;
  reads: ReadIndexQueue;
  readonly pendingReadsMax: number;
  /** Reads that reached a new leader before it committed an entry of its term. */
  earlyReads: { ctx: string; from: NodeId }[] = [];
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  /** A snapshot received from the leader, to be persisted and restored by the next Ready. */
  incomingSnapshot?: Snapshot;
  private readonly cycle: ReadyCycle;

  constructor(opts: CoreOptions, state: CoreState) {
    this.id = opts.id;
    assert(this.id !== NONE, "raft: node id 0 is reserved");
    this.prng = opts.prng;
    this.electionTicks = opts.electionTicks ?? lim.ELECTION_TIMEOUT_TICKS;
    this.heartbeatTicks = opts.heartbeatTicks ?? lim.HEARTBEAT_INTERVAL_TICKS;
    assert(this.heartbeatTicks < this.electionTicks, "raft: heartbeat must be shorter than election timeout");
    this.preVote = opts.preVote ?? true;
    this.checkQuorum = opts.checkQuorum ?? true;
    this.appendEntriesMax = opts.appendEntriesMax ?? lim.APPEND_ENTRIES_MAX;
    this.appendBytesMax = opts.appendBytesMax ?? lim.APPEND_BYTES_MAX;
    this.inflightAppendsMax = opts.inflightAppendsMax ?? lim.INFLIGHT_APPENDS_MAX;
    this.uncommittedBytesMax = opts.uncommittedBytesMax ?? lim.UNCOMMITTED_BYTES_MAX;
    this.applyBytesMax = opts.applyBytesMax ?? lim.APPEND_BYTES_MAX;
    this.pendingReadsMax = opts.pendingReadsMax ?? lim.PENDING_READS_MAX;
    this.reads = new ReadIndexQueue(this.pendingReadsMax);

    const snap = state.snapshot;
    const entries = snap ? state.entries.filter((e) => e.index > snap.meta.index) : state.entries;
    this.log = new RaftLog(snap?.meta, entries, state.hardState.commit);
    this.snapshot = snap;
    this.snapConf = snap ? normalConf(snap.meta.conf) : { voters: [], learners: [] };
    this.term = state.hardState.term;
    this.vote = state.hardState.vote;
    assert(this.term >= this.log.lastTerm(), "raft: stored term is behind the log");
    this.refreshConf();
    this.cycle = new ReadyCycle(this.hardState());
    this.becomeFollower(this.term, NONE);
  }

  // ---- public API -------------------------------------------------------------------------

  tick(): void {
    if (this.role === Role.Leader) this.tickLeader();
    else election.tickElection(this);
  }

  /** Start an election now (tests, or an operator nudge). */
  campaignNow(): void {
    election.campaign(this, this.preVote, false);
  }

  propose(datas: Uint8Array[]): ProposeResult {
    const err = this.proposeCheck();
    if (err) return { ok: false, error: err, leader: this.leader };
    let bytes = 0;
    for (const d of datas) bytes += d.byteLength;
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.uncommittedBytesMax) {
      return { ok: false, error: "too-many-uncommitted", leader: this.leader };
    }
    const first = this.log.lastIndex() + 1;
    this.appendLocal(datas.map((data) => ({ type: EntryType.Normal, data })));
    return { ok: true, index: first, term: this.term };
  }

  /** Add or remove one voter. Refused while another change is uncommitted or before the leader has
   * committed an entry of its own term (the single-server-change fix from the Raft dissertation). */
  proposeConfChange(cc: ConfChange): ProposeResult {
    const err = this.proposeCheck();
    if (err) return { ok: false, error: err, leader: this.leader };
    if (this.confIndex > this.log.committed || this.log.term(this.log.committed) !== this.term) {
      return { ok: false, error: "conf-change-pending", leader: this.leader };
    }
    const conf = applyConfChange({ voters: this.voters, learners: this.learners }, cc);
    if (!conf) return { ok: false, error: "bad-conf-change", leader: this.leader };
    const index = this.log.lastIndex() + 1;
    this.appendLocal([{ type: EntryType.ConfChange, data: encodeConfChange({ op: cc.op, node: cc.node, ...conf }) }]);
    return { ok: true, index, term: this.term };
  }

  transferLeader(to: NodeId): boolean {
    if (this.role !== Role.Leader || to === this.id || !this.progress.has(to) || !this.voters.includes(to)) return false;
    this.leadTransferee = to;
    this.electionElapsed = 0; // the transfer is abandoned after one election timeout
    const pr = this.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.send(message({ type: MsgType.TimeoutNow, from: this.id, to, term: this.term }));
    else repl.sendAppend(this, to, true);
    return true;
  }

  /** Ask for a linearizable read point; the answer arrives as a ReadState with the same ctx. */
  readIndex(ctx: string): boolean {
    if (this.role === Role.Leader) return repl.leaderReadIndex(this, ctx, this.id);
    if (this.leader === NONE) return false;
    this.send(message({ type: MsgType.ReadIndex, from: this.id, to: this.leader, term: this.term, ctx }));
    return true;
  }

  /** Install a snapshot of the applied state and drop log entries up to `compactTo` (<= its index). */
  compact(snap: Snapshot, compactTo: number): void {
    assert(snap.meta.index <= this.log.applied, "raft: snapshot beyond applied index");
    assert(compactTo <= snap.meta.index, "raft: compacting past the snapshot");
    if (!this.snapshot || snap.meta.index > this.snapshot.meta.index) this.snapshot = snap;
    if (compactTo > this.log.snapshotIndex) {
      this.snapConf = this.confAt(compactTo);
      this.log.compact(compactTo);
    }
  }

  /** Metadata for a snapshot of the state machine as applied now; undefined while a snapshot
   * received from the leader is still waiting to be restored (the applied state is about to go). */
  appliedSnapshotMeta(): SnapshotMeta | undefined {
    const index = this.log.applied;
    const term = this.log.term(index);
    if (this.incomingSnapshot || term === undefined) return undefined;
    return { index, term, conf: this.confAt(index) };
  }

  /** The voters in force at `index` (from the latest ConfChange at or before it). */
  confAt(index: number): ConfState {
    for (let i = Math.min(index, this.log.lastIndex()); i > this.log.snapshotIndex; i--) {
      const e = this.log.entry(i);
      if (e.type === EntryType.ConfChange) {
        const cc = decodeConfChange(e.data);
        return { voters: cc.voters!, learners: cc.learners ?? [] };
      }
    }
    return { voters: this.snapConf.voters.slice(), learners: (this.snapConf.learners ?? []).slice() };
  }

  step(m: Message): void {
    assert(m.to === this.id, `raft: message for ${m.to} stepped into ${this.id}`);
    if (m.term > this.term) {
      if (m.type === MsgType.Vote || m.type === MsgType.PreVote) {
        const inLease = this.checkQuorum && this.leader !== NONE && this.electionElapsed < this.electionTicks;
        if (inLease && !m.transfer) return; // a live leader exists: ignore the disruptive candidate
      }
      if (m.type === MsgType.PreVote || (m.type === MsgType.PreVoteResp && !m.reject)) {
        // pre-votes carry the future term and never change ours
      } else {
        const fromLeader = m.type === MsgType.App || m.type === MsgType.Heartbeat || m.type === MsgType.Snap;
        this.becomeFollower(m.term, fromLeader ? m.from : NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MsgType.App || m.type === MsgType.Heartbeat)) {
        // tell a stale leader about the newer term so it steps down
        this.send(message({ type: MsgType.AppResp, from: this.id, to: m.from, term: this.term }));
      } else if (m.type === MsgType.PreVote) {
        this.send(message({ type: MsgType.PreVoteResp, from: this.id, to: m.from, term: this.term, reject: true }));
      }
      return;
    }
    if (m.type === MsgType.Vote || m.type === MsgType.PreVote) return election.handleVote(this, m);
    switch (this.role) {
      case Role.Leader:
        return repl.stepLeader(this, m);
      case Role.Candidate:
      case Role.PreCandidate:
        return election.stepCandidate(this, m);
      case Role.Follower:
        return election.stepFollower(this, m);
    }
  }

  hasReady(): boolean {
    return hasReady(this, this.cycle);
  }

  /** The next batch of work; see the Ready type for what the caller must do with it. */
  ready(): Ready {
    return makeReady(this, this.cycle);
  }

  /** The batch was persisted, sent and applied. */
  advance(rd: Ready): void {
    advanceReady(this, this.cycle, rd);
  }

  status(): Status {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.log.snapshotIndex,
      voters: this.voters.slice(),
      learners: this.learners.slice(),
    };
  }

  // ---- internals shared with replication.ts --------------------------------------------------

  send(m: Message): void {
    this.msgs.push(m);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }

  promotable(): boolean {
    return this.voters.includes(this.id);
  }

  /** Called whenever entries from `from` on were appended or replaced. */
  onLogChanged(appended: Entry[]): void {
    const first = appended.length > 0 ? appended[0].index : this.log.lastIndex() + 1;
    if (this.confIndex >= first || appended.some((e) => e.type === EntryType.ConfChange)) this.refreshConf();
  }

  refreshConf(): void {
    this.confIndex = 0;
    for (let i = this.log.lastIndex(); i > this.log.snapshotIndex; i--) {
      if (this.log.entry(i).type === EntryType.ConfChange) {
        this.confIndex = i;
        break;
      }
    }
    const conf = this.confAt(this.log.lastIndex());
    const learners = conf.learners ?? [];
    if (conf.voters.join(",") === this.voters.join(",") && learners.join(",") === this.learners.join(",")) return;
    this.voters = conf.voters;
    this.learners = learners;
    if (this.role === Role.Leader) repl.syncProgress(this);
  }

  becomeFollower(term: number, leader: NodeId): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.role = Role.Follower;
    this.leader = leader;
    this.reset();
  }

  becomeLeader(): void {
    assert(this.role === Role.Candidate, "raft: only a candidate becomes leader");
    this.role = Role.Leader;
    this.leader = this.id;
    this.reset();
    repl.syncProgress(this);
    this.uncommittedBytes = 0;
    // An empty entry of the new term lets the leader commit (and learn) everything before it.
    this.appendLocal([{ type: EntryType.Normal, data: new Uint8Array(0) }]);
  }

  appendLocal(items: { type: EntryType; data: Uint8Array }[]): void {
    const entries: Entry[] = [];
    let index = this.log.lastIndex();
    for (const it of items) {
      entries.push({ index: ++index, term: this.term, type: it.type, data: it.data });
      this.uncommittedBytes += entryBytes(entries[entries.length - 1]);
    }
    this.log.append(entries);
    this.onLogChanged(entries);
    repl.bcastAppend(this, false);
  }

  // ---- elections ----------------------------------------------------------------------------

  reset(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTicks = this.electionTicks + this.prng.int(this.electionTicks);
    this.votes.clear();
    this.leadTransferee = NONE;
    this.reads.clear();
    this.earlyReads = [];
    this.progress.clear();
  }

  private proposeCheck(): ProposeError | undefined {
    if (this.role !== Role.Leader) return "not-leader";
    if (this.leadTransferee !== NONE) return "transferring";
    return undefined;
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !repl.quorumActive(this)) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      this.leadTransferee = NONE;
    }
    repl.tickSnapshots(this, lim.SNAPSHOT_RETRY_TICKS);
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      repl.bcastHeartbeat(this, this.reads.last()?.ctx ?? "");
    }
  }

}
