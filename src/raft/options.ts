/** The core's construction options, start state, and the shapes its API returns. */
import type { Prng } from "./prng.ts";
import type { Entry, HardState, NodeId, Role, Snapshot } from "./types.ts";

export interface CoreOptions {
  id: NodeId;
  prng: Prng;
  electionTicks?: number;
  heartbeatTicks?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  appendEntriesMax?: number;
  appendBytesMax?: number;
  inflightAppendsMax?: number;
  uncommittedBytesMax?: number;
  pendingReadsMax?: number;
  /** Committed payload bytes handed out per Ready at most (at least one entry). */
  applyBytesMax?: number;
}

/** What the node finds on its stable storage at start. A fresh cluster member is bootstrapped with
 * a snapshot at index 0 carrying the initial voters; a node joining later starts with none. */
export interface CoreState {
  hardState: HardState;
  snapshot?: Snapshot;
  entries: Entry[];
}

export type ProposeError = "not-leader" | "transferring" | "too-many-uncommitted" | "conf-change-pending" | "bad-conf-change";
export type ProposeResult = { ok: true; index: number; term: number } | { ok: false; error: ProposeError; leader: NodeId };

export interface Status {
  id: NodeId;
  role: Role;
  term: number;
  vote: NodeId;
  leader: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  snapshotIndex: number;
  voters: NodeId[];
  learners: NodeId[];
}
