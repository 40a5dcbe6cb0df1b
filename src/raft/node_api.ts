/** The node driver's public contract: the state machine interface, options, errors and limits. */
import type { Prng } from "./prng.ts";
import type { CoreOptions } from "./raft.ts";
import type { RaftStorage, SnapshotStore } from "./storage.ts";
import type { Transport } from "./transport.ts";
import { NONE, type Entry, type NodeId, type SoftState } from "./types.ts";

export interface Fsm {
  /** Apply one committed command; the result goes to the apply() caller on the leader. */
  apply(entry: Entry): unknown;
  /** Serialize the state as of the last applied entry. */
  snapshot(): Uint8Array;
  /** Replace the state with a snapshot's (empty data: the initial state). */
  restore(data: Uint8Array): void;
  /**
   * Optional, for a state machine that stores its state durably itself (s3db on bun:sqlite, the
   * applied index written in the same transaction as each entry's effect): the last index whose
   * effect is stored. On start the driver then restores a snapshot only if it is newer, and does
   * not apply entries up to this index again.
   */
  durableIndex?(): number;
}

/**
 * Outcome semantics: not-leader, not-ready, overloaded, conf-change-pending, bad-request and
 * leadership-lost mean the command was NOT applied (safe to retry elsewhere); timeout, unknown and
 * shutdown mean the outcome is unknown (it may still be applied).
 */
export type RaftErrorCode = "not-leader" | "not-ready" | "unknown" | "leadership-lost" | "timeout" | "overloaded" | "conf-change-pending" | "bad-request" | "shutdown";

export class RaftError extends Error {
  override name = "RaftError";
  constructor(
    readonly code: RaftErrorCode,
    message: string,
    /** The leader this node knows of (0: none): where a not-leader caller should go. */
    readonly leader: NodeId = NONE,
  ) {
    super(message);
  }
}

/** Milliseconds per core tick (election timeout = ELECTION_TIMEOUT_TICKS of these). */
export const TICK_MS = 100;
/** Largest command apply() accepts (metadata records are small; bulk data never goes through Raft). */
export const COMMAND_BYTES_MAX = 1024 * 1024;
/** Commands waiting for the loop at most; beyond this apply() fails fast with "overloaded". */
export const QUEUED_PROPOSALS_MAX = 65_536;
/** Commands proposed to the core per loop turn at most. */
export const PROPOSE_BATCH_MAX = 4096;
/** Read barriers waiting for the next ReadIndex round at most. */
export const QUEUED_READS_MAX = 65_536;
/** Default time an apply() or read barrier waits before failing with "timeout". */
export const APPLY_TIMEOUT_MS = 10_000;
/** Default applied entries between automatic snapshots. */
export const SNAPSHOT_EVERY_ENTRIES = 8192;
/** Default entries kept behind a snapshot so a slightly lagging follower needs no snapshot. */
export const TRAILING_ENTRIES = 1024;

export interface RaftNodeOptions {
  id: NodeId;
  fsm: Fsm;
  storage: RaftStorage;
  snapshots: SnapshotStore;
  transport: Transport;
  /** Randomness for election timeouts; seed it from crypto in production, from a seed in tests. */
  prng?: Prng;
  tickMs?: number;
  /** Called when this node's role or known leader changes (route writes to the leader). */
  onStateChange?: (state: SoftState) => void;
  /** Called once if the node stops on an unrecoverable error (a failed persist, a broken invariant). */
  onFatal?: (err: Error) => void;
  core?: Partial<Omit<CoreOptions, "id" | "prng">>;
  snapshotEveryEntries?: number;
  trailingEntries?: number;
}

/** The driver's counters since start (cheap to read; for stats endpoints and benchmarks). */
export function newNodeMetrics() {
  return {
    proposals: 0,
    batchesPersisted: 0,
    entriesPersisted: 0,
    messagesSent: 0,
    reads: 0,
    readRounds: 0,
    snapshotsTaken: 0,
    snapshotsRestored: 0,
    leaderChanges: 0,
  };
}

export type NodeMetrics = ReturnType<typeof newNodeMetrics>;
