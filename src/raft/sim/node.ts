/**
 * One simulated server: the pure core, a "disk" holding exactly what was persisted, and a KV state
 * machine. A crash throws away the core, the state machine and any batch still being persisted.
 */
import { assert } from "../../util/assert.ts";
import type { Prng } from "../prng.ts";
import { RaftCore, type CoreOptions } from "../raft.ts";
import type { RaftStorage, SnapshotStore } from "../storage.ts";
import type { Entry, HardState, Message, NodeId, ReadState, Ready, Snapshot } from "../types.ts";
import type { InvariantChecker } from "./invariants.ts";
import { KvState, fnv32 } from "./kv.ts";

/** What survives a crash: the node's stores (the in-memory twins, or bun:sqlite). */
export interface Disk {
  storage: RaftStorage;
  snapshots: SnapshotStore;
}

export interface NodeEnv {
  invariants: InvariantChecker;
  send(msgs: Message[]): void;
  /** Schedule completion of the batch being persisted. */
  persistLater(node: SimNode, epoch: number): void;
  onApplied(node: SimNode, e: Entry): void;
  onReadState(node: SimNode, rs: ReadState): void;
  coreOptions: Partial<CoreOptions>;
  /** Take a snapshot after this many applied entries since the last one (0: never). */
  snapshotEveryEntries: number;
  /** Entries kept in the log behind a snapshot for slightly lagging followers. */
  trailingEntries: number;
  /** The state machine survives crashes (like s3db on sqlite) instead of being rebuilt. */
  durableFsm: boolean;
}

export class SimNode {
  core?: RaftCore;
  kv = new KvState();
  /** Bumped on every crash so that persist completions of a dead incarnation are ignored. */
  epoch = 0;
  private persisting?: Ready;
  lastSnapshotIndex = 0;
  /** Entries up to here are already in the (durable) state machine. */
  private skipThrough = 0;
  private durableHard: HardState = { term: 0, vote: 0, commit: 0 };
  private latestHard: HardState = { term: 0, vote: 0, commit: 0 };

  constructor(
    readonly id: NodeId,
    public disk: Disk,
    private readonly env: NodeEnv,
  ) {}

  get up(): boolean {
    return this.core !== undefined;
  }

  start(prng: Prng): void {
    assert(!this.core, `sim: node ${this.id} started twice`);
    const { storage, snapshots } = this.disk;
    const snapshot = snapshots.latest();
    const first = storage.firstIndex();
    const entries = first === 0 ? [] : storage.getEntries(first, storage.lastIndex());
    const hardState = storage.getHardState();
    this.core = new RaftCore({ id: this.id, prng, ...this.env.coreOptions }, { hardState, snapshot, entries });
    this.durableHard = hardState;
    this.latestHard = hardState;
    if (!this.env.durableFsm) this.kv = new KvState();
    // a durable state machine keeps what it applied; it takes the snapshot only if that is newer
    if (snapshot && snapshot.meta.index > this.kv.appliedIndex) this.kv.restore(snapshot.data, snapshot.meta.index);
    this.skipThrough = this.kv.appliedIndex;
    this.lastSnapshotIndex = snapshot?.meta.index ?? 0;
  }

  crash(): void {
    this.core = undefined;
    this.persisting = undefined;
    this.epoch++;
  }

  /** Hand out Ready batches until the core has nothing to do or a batch is being persisted. */
  pump(): void {
    while (this.core && !this.persisting && this.core.hasReady()) {
      const rd = this.core.ready();
      this.env.invariants.entries(this.core, rd.entries);
      if (rd.entries.length > 0 || rd.hardState || rd.snapshot) {
        this.persisting = rd;
        this.env.persistLater(this, this.epoch);
        return;
      }
      this.finish(rd);
    }
  }

  persistDone(epoch: number): void {
    if (epoch !== this.epoch || !this.persisting) return;
    const rd = this.persisting;
    this.persisting = undefined;
    this.write(rd);
    this.finish(rd);
    this.pump();
  }

  /** Same policy as RaftNode: a commit-index-only change is not written on its own. */
  private write(rd: Ready): void {
    const { storage, snapshots } = this.disk;
    if (rd.snapshot) snapshots.save(rd.snapshot);
    if (rd.hardState) this.latestHard = rd.hardState;
    const hs = this.latestHard;
    const termOrVote = hs.term !== this.durableHard.term || hs.vote !== this.durableHard.vote;
    if (!rd.snapshot && rd.entries.length === 0 && !termOrVote) return;
    const changed = termOrVote || hs.commit !== this.durableHard.commit;
    storage.persist({ resetLog: rd.snapshot !== undefined, entries: rd.entries, hardState: changed ? hs : undefined });
    // a durable term never goes back (a vote cast in it would be forgotten)
    assert(hs.term >= this.durableHard.term, `sim: node ${this.id} persisted term ${hs.term} < ${this.durableHard.term}`);
    this.durableHard = hs;
  }

  /** Send, then apply, then advance — the order the Ready contract requires. */
  private finish(rd: Ready): void {
    const core = this.core!;
    this.env.send(rd.messages);
    if (rd.snapshot) {
      this.kv.restore(rd.snapshot.data, rd.snapshot.meta.index);
      this.skipThrough = 0;
      this.lastSnapshotIndex = rd.snapshot.meta.index;
      this.env.invariants.snapshotState(this.id, rd.snapshot, this.digest());
    }
    for (const e of rd.committed) {
      if (e.index <= this.skipThrough) continue; // already in the durable state machine
      this.kv.apply(e);
      this.env.invariants.applied(this.id, e);
      this.env.onApplied(this, e);
    }
    for (const rs of rd.readStates) this.env.onReadState(this, rs);
    core.advance(rd);
    this.maybeSnapshot();
  }

  private maybeSnapshot(): void {
    const core = this.core!;
    const every = this.env.snapshotEveryEntries;
    const applied = core.log.applied;
    if (every <= 0 || applied - this.lastSnapshotIndex < every) return;
    const meta = core.appliedSnapshotMeta();
    if (!meta || meta.index !== this.kv.appliedIndex) return; // a durable FSM still ahead of the replay
    const snap: Snapshot = {
      meta,
      data: this.kv.snapshot(),
    };
    this.env.invariants.snapshotState(this.id, snap, this.digest());
    const compactTo = Math.max(core.log.snapshotIndex, applied - this.env.trailingEntries);
    core.compact(snap, compactTo);
    // snapshot first, then drop the log prefix it covers (crash-safe order for a real store)
    this.disk.snapshots.save(snap);
    this.disk.storage.compact(compactTo);
    this.lastSnapshotIndex = applied;
  }

  digest(): string {
    const keys = [...this.kv.map.keys()].sort();
    return String(fnv32(new TextEncoder().encode(JSON.stringify(keys.map((k) => [k, this.kv.map.get(k)])))));
  }
}
