/**
 * The Raft node driver (the shell around the pure core), with a hashicorp/raft-like API:
 * `apply(command)` resolves with the FSM's result once the command is committed and applied.
 * One synchronous loop turns the core's Ready batches into I/O: persist (one transaction), send,
 * apply, advance. Proposals that arrive while a batch is being written go into the next batch:
 * that is the group commit.
 */
import { assert } from "../util/assert.ts";
import { Prng } from "./prng.ts";
import { RaftCore, type Status } from "./raft.ts";
import { ReadBarriers, fail, type Waiter } from "./read_barriers.ts";
import type { RaftStorage, SnapshotStore } from "./storage.ts";
import {
  APPLY_TIMEOUT_MS,
  COMMAND_BYTES_MAX,
  PROPOSE_BATCH_MAX,
  QUEUED_PROPOSALS_MAX,
  RaftError,
  SNAPSHOT_EVERY_ENTRIES,
  TICK_MS,
  TRAILING_ENTRIES,
  newNodeMetrics,
  type Fsm,
  type RaftNodeOptions,
} from "./node_api.ts";
import { EntryType, NONE, Role, type ConfChange, type Entry, type HardState, type Message, type NodeId, type Ready, type Snapshot } from "./types.ts";

export * from "./node_api.ts";

interface PendingApply extends Waiter {
  term: number;
}

export class RaftNode {
  readonly id: NodeId;
  private core!: RaftCore;
  private readonly opts: RaftNodeOptions;
  private queue: { data: Uint8Array; timeoutMs: number; waiter: Omit<PendingApply, "term"> }[] = [];
  private applies = new Map<number, PendingApply>();
  private reads: ReadBarriers;
  private scheduled = false;
  private ticker?: ReturnType<typeof setInterval>;
  private lastSnapshotIndex = 0;
  private stopped = false;
  appliedIndex = 0;
  /** Counters since start (cheap to read; for stats endpoints and benchmarks). */
  readonly metrics = newNodeMetrics();
  private lastLeader: NodeId = NONE;
  /** transferLeadership() calls waiting to see their target lead. */
  private transfers = new Set<Waiter & { to: NodeId }>();
  /** An asynchronous store is writing a batch. */
  private persisting = false;
  /** Entries up to here are already in a durable FSM (see Fsm.durableIndex). */
  private skipThrough = 0;
  /** Hard state last written to the store, and the latest one the core handed out. */
  private durableHard!: HardState;
  private latestHard!: HardState;
  /** Set when the node stopped on an unrecoverable error. */
  failure?: Error;

  /** Write the initial configuration of a brand-new cluster member (no-op if state exists). */
  static bootstrap(storage: RaftStorage, snapshots: SnapshotStore, voters: NodeId[], fsm: Fsm): void {
    if (storage.lastIndex() > 0 || snapshots.latest() || storage.getHardState().term > 0) return;
    snapshots.save({ meta: { index: 0, term: 0, conf: { voters: voters.slice().sort((a, b) => a - b) } }, data: fsm.snapshot() });
  }

  constructor(opts: RaftNodeOptions) {
    this.opts = opts;
    this.id = opts.id;
    this.reads = new ReadBarriers(String(opts.id));
  }

  start(): void {
    const o = this.opts;
    const snap = o.snapshots.latest();
    const first = o.storage.firstIndex();
    const entries = first === 0 ? [] : o.storage.getEntries(first, o.storage.lastIndex());
    const prng = o.prng ?? new Prng(crypto.getRandomValues(new Uint32Array(1))[0]);
    this.core = new RaftCore({ id: o.id, prng, ...o.core }, { hardState: o.storage.getHardState(), snapshot: snap, entries });
    const durable = o.fsm.durableIndex?.() ?? 0;
    if (snap && snap.meta.index > durable) o.fsm.restore(snap.data);
    this.skipThrough = snap && snap.meta.index > durable ? 0 : durable;
    this.appliedIndex = snap?.meta.index ?? 0;
    this.durableHard = o.storage.getHardState();
    this.latestHard = this.durableHard;
    this.lastSnapshotIndex = this.appliedIndex;
    o.transport.listen((m) => this.receive(m));
    this.ticker = setInterval(() => this.tick(), o.tickMs ?? TICK_MS);
    this.kick();
  }

  /** Replicate `command`; resolves with the FSM's result after commit and apply on this node. */
  apply(command: Uint8Array, timeoutMs = APPLY_TIMEOUT_MS): Promise<unknown> {
    if (this.stopped) return Promise.reject(new RaftError("shutdown", "raft node is shut down"));
    if (command.byteLength > COMMAND_BYTES_MAX) return Promise.reject(new RaftError("bad-request", `command over ${COMMAND_BYTES_MAX} bytes`));
    if (this.core.role !== Role.Leader) return Promise.reject(this.notLeader());
    if (this.queue.length >= QUEUED_PROPOSALS_MAX) return Promise.reject(new RaftError("overloaded", "too many queued proposals"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new RaftError("timeout", "apply timed out; outcome unknown")), timeoutMs);
      this.queue.push({ data: command, timeoutMs, waiter: { resolve, reject, timer } });
      this.kick();
    });
  }

  /** Linearizable read barrier (ReadIndex): resolves once this node's FSM reflects every write
   * acknowledged before the call; read the FSM right after. Works on followers too. */
  readBarrier(timeoutMs = APPLY_TIMEOUT_MS): Promise<number> {
    if (this.stopped) return Promise.reject(new RaftError("shutdown", "raft node is shut down"));
    const p = this.reads.add(timeoutMs);
    this.kick();
    return p;
  }

  /** Start one ReadIndex round for every read barrier queued since the last loop turn. */
  private startReadRound(): void {
    this.reads.startRound(
      (ctx) => this.core.readIndex(ctx),
      // not leader, or the leader's queue of reads is full
      () => (this.core.role !== Role.Leader ? this.notLeader() : new RaftError("not-ready", "leader cannot serve reads yet; retry", this.id)),
    );
    this.metrics.reads = this.reads.reads;
    this.metrics.readRounds = this.reads.roundsStarted;
  }

  /** Make `id` a voter (promoting it if it is a learner). Resolves once the change is applied. */
  addVoter(id: NodeId, timeoutMs = APPLY_TIMEOUT_MS): Promise<unknown> {
    return this.confChange("add", id, timeoutMs);
  }

  /** Add `id` as a non-voter: it receives the log (and snapshots) but counts for no quorum.
   * Add a new server this way, wait for it to catch up, then addVoter() it. */
  addLearner(id: NodeId, timeoutMs = APPLY_TIMEOUT_MS): Promise<unknown> {
    return this.confChange("add-learner", id, timeoutMs);
  }

  removeVoter(id: NodeId, timeoutMs = APPLY_TIMEOUT_MS): Promise<unknown> {
    return this.confChange("remove", id, timeoutMs);
  }

  /** Ask `to` to take over (it must be a voter); proposals are refused while the transfer runs. */
  /** Resolves once this node sees `to` as leader; rejects if it cannot start or does not finish. */
  transferLeadership(to: NodeId, timeoutMs = APPLY_TIMEOUT_MS): Promise<void> {
    if (!this.core.transferLeader(to)) {
      return Promise.reject(new RaftError("bad-request", `cannot transfer leadership to ${to}`, this.core.leader));
    }
    this.kick();
    return new Promise((resolve, reject) => {
      const w: Waiter & { to: NodeId } = {
        to,
        resolve: () => resolve(),
        reject,
        timer: setTimeout(() => {
          this.transfers.delete(w);
          reject(new RaftError("timeout", `leadership did not move to ${to}`, this.core.leader));
        }, timeoutMs),
      };
      this.transfers.add(w);
    });
  }

  /** Take a snapshot now and compact the log behind it. */
  snapshotNow(): void {
    this.takeSnapshot(0);
  }

  status(): Status {
    return this.core.status();
  }

  /** On the leader: how far `id`'s log is known to match (undefined elsewhere or for strangers). */
  matchIndex(id: NodeId): number | undefined {
    return this.core.role === Role.Leader ? this.core.progress.get(id)?.match : undefined;
  }

  isLeader(): boolean {
    return this.core.role === Role.Leader;
  }

  leader(): NodeId {
    return this.core.leader;
  }

  shutdown(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.ticker);
    this.opts.transport.close();
    const err = new RaftError("shutdown", "raft node shut down; outcome unknown");
    for (const q of this.queue) this.fail(q.waiter, err);
    for (const w of this.applies.values()) this.fail(w, err);
    this.reads.failAll(err);
    for (const w of this.transfers) this.fail(w, err);
    this.transfers.clear();
    this.queue = [];
    this.applies.clear();
  }

  // ---- the loop ------------------------------------------------------------------------------

  private receive(m: Message): void {
    if (this.stopped || m.to !== this.id) return;
    this.guard(() => this.core.step(m));
    this.kick();
  }

  private tick(): void {
    if (this.stopped) return;
    this.guard(() => this.core.tick());
    this.kick();
  }

  private kick(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.stopped) this.run();
    });
  }

  private run(): void {
    this.guard(() => this.runLoop());
  }

  /** Run core work; any exception (a failed persist, a broken invariant) stops the node. */
  private guard(work: () => void): void {
    if (this.stopped) return;
    try {
      work();
    } catch (e) {
      // A store that cannot persist (disk full, I/O error) or a violated invariant: the core has
      // handed out a batch that never became durable, so this node must not go on. Stop it; the
      // caller decides (restart from the stores, alert). hashicorp/raft panics here.
      this.failure = e instanceof Error ? e : new Error(String(e));
      this.shutdown();
      this.opts.onFatal?.(this.failure);
    }
  }

  private runLoop(): void {
    this.proposeQueued();
    this.startReadRound();
    while (!this.persisting && this.core.hasReady()) {
      const rd = this.core.ready();
      const pending = this.persist(rd);
      if (pending) {
        // An asynchronous store (e.g. sqlite in a Worker): messages keep being stepped and
        // commands proposed meanwhile; they go into the next batch.
        this.persisting = true;
        pending.then(
          () => {
            this.persisting = false;
            this.guard(() => this.finishReady(rd));
            this.kick();
          },
          (e: unknown) =>
            this.guard(() => {
              throw e;
            }),
        );
        return;
      }
      this.finishReady(rd);
    }
  }

  /** After the batch is durable: send, apply, advance. */
  private finishReady(rd: Ready): void {
    this.sendAndApply(rd);
    this.core.advance(rd);
    this.takeSnapshot(this.opts.snapshotEveryEntries ?? SNAPSHOT_EVERY_ENTRIES);
    this.proposeQueued();
  }

  private proposeQueued(): void {
    if (this.queue.length === 0) return;
    const batch = this.queue.splice(0, PROPOSE_BATCH_MAX);
    const r = this.core.propose(batch.map((q) => q.data));
    if (!r.ok) {
      const err = r.error === "not-leader" ? this.notLeader() : new RaftError("overloaded", `proposal refused: ${r.error}`, r.leader);
      for (const q of batch) this.fail(q.waiter, err);
      return;
    }
    batch.forEach((q, i) => this.applies.set(r.index + i, { ...q.waiter, term: r.term }));
    this.metrics.proposals += batch.length;
    if (this.queue.length > 0) this.kick();
  }

  /** 1. Persist: the snapshot first, then entries and hard state in one transaction. A change
   * of the commit index alone is not worth an fsync (the paper keeps commitIndex volatile; a
   * restart re-learns it from the leader): it rides along with the next batch. */
  private persist(rd: Ready): Promise<void> | undefined {
    const o = this.opts;
    if (rd.snapshot) o.snapshots.save(rd.snapshot);
    if (rd.hardState) this.latestHard = rd.hardState;
    const hs = this.latestHard;
    const termOrVote = hs.term !== this.durableHard.term || hs.vote !== this.durableHard.vote;
    if (!rd.snapshot && rd.entries.length === 0 && !termOrVote) return undefined;
    const changed = termOrVote || hs.commit !== this.durableHard.commit;
    const done = o.storage.persist({ resetLog: rd.snapshot !== undefined, entries: rd.entries, hardState: changed ? hs : undefined });
    this.metrics.batchesPersisted++;
    this.metrics.entriesPersisted += rd.entries.length;
    this.durableHard = hs;
    return done instanceof Promise ? done : undefined;
  }

  private sendAndApply(rd: Ready): void {
    const o = this.opts;
    // 2. send
    if (rd.messages.length > 0) o.transport.send(rd.messages);
    this.metrics.messagesSent += rd.messages.length;
    // 3. apply
    if (rd.snapshot) this.restore(rd.snapshot);
    for (const e of rd.committed) this.applyEntry(e);
    for (const rs of rd.readStates) this.reads.onReadState(rs);
    this.reads.release(this.appliedIndex);
    if (rd.softState && rd.softState.role !== Role.Leader) {
      // queued commands never reached the log: fail them now (their outcome is known: not applied)
      for (const q of this.queue.splice(0)) this.fail(q.waiter, this.notLeader());
    }
    if (rd.softState) {
      if (rd.softState.leader !== this.lastLeader) this.metrics.leaderChanges++;
      this.lastLeader = rd.softState.leader;
      for (const w of this.transfers) {
        if (w.to !== rd.softState.leader) continue;
        this.transfers.delete(w);
        clearTimeout(w.timer);
        w.resolve(undefined);
      }
      this.opts.onStateChange?.({ ...rd.softState });
    }
  }

  private restore(snap: Snapshot): void {
    this.opts.fsm.restore(snap.data);
    this.metrics.snapshotsRestored++;
    this.skipThrough = 0;
    this.appliedIndex = snap.meta.index;
    this.lastSnapshotIndex = snap.meta.index;
    // commands waiting at indexes the snapshot covers cannot be matched to their result any more
    for (const [index, w] of this.applies) {
      if (index <= snap.meta.index) {
        this.applies.delete(index);
        this.fail(w, new RaftError("unknown", "superseded by a snapshot; outcome unknown", this.core.leader));
      }
    }
  }

  private applyEntry(e: Entry): void {
    assert(e.index === this.appliedIndex + 1, `raft node: applying ${e.index} after ${this.appliedIndex}`);
    this.appliedIndex = e.index;
    const fresh = e.index > this.skipThrough; // a durable FSM already holds the effect of older ones
    const result = fresh && e.type === EntryType.Normal && e.data.byteLength > 0 ? this.opts.fsm.apply(e) : undefined;
    const w = this.applies.get(e.index);
    if (!w) return;
    this.applies.delete(e.index);
    clearTimeout(w.timer);
    if (w.term === e.term) w.resolve(result);
    else w.reject(new RaftError("leadership-lost", "another leader's entry took this index; not applied", this.core.leader));
  }

  private takeSnapshot(everyEntries: number): void {
    if (this.appliedIndex - this.lastSnapshotIndex < everyEntries || this.appliedIndex === this.lastSnapshotIndex) return;
    if (this.appliedIndex < this.skipThrough) return; // the FSM is ahead of the log replay: wait
    const meta = this.core.appliedSnapshotMeta();
    if (!meta) return;
    assert(meta.index === this.appliedIndex, "raft node: core and FSM disagree on the applied index");
    const snap: Snapshot = { meta, data: this.opts.fsm.snapshot() };
    this.opts.snapshots.save(snap); // durable before the log prefix it covers is dropped
    this.metrics.snapshotsTaken++;
    const compactTo = Math.max(0, meta.index - (this.opts.trailingEntries ?? TRAILING_ENTRIES));
    this.core.compact(snap, compactTo);
    this.opts.storage.compact(compactTo);
    this.lastSnapshotIndex = meta.index;
  }

  private confChange(op: ConfChange["op"], node: NodeId, timeoutMs: number): Promise<unknown> {
    const r = this.core.proposeConfChange({ op, node });
    if (!r.ok) {
      if (r.error === "not-leader") return Promise.reject(this.notLeader());
      const code = r.error === "conf-change-pending" ? "conf-change-pending" : "bad-request";
      return Promise.reject(new RaftError(code, `membership change refused: ${r.error}`, r.leader));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new RaftError("timeout", "membership change timed out; outcome unknown")), timeoutMs);
      this.applies.set(r.index, { resolve, reject, timer, term: r.term });
      this.kick();
    });
  }

  private notLeader(): RaftError {
    return new RaftError("not-leader", `node ${this.id} is not the leader`, this.core.leader);
  }

  private fail(w: Waiter, err: Error): void {
    fail(w, err);
  }
}
