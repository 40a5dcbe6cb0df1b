/** Wire and storage types shared by the Raft core, its stores, its transport and the simulator. */

/** A node id; 0 means "nobody" (no leader known, no vote cast). */
export type NodeId = number;
export const NONE: NodeId = 0;

export enum EntryType {
  Normal = 0,
  /** data is an encoded ConfChange; it takes effect as soon as it is appended (dissertation §4.1). */
  ConfChange = 1,
}

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export interface ConfState {
  voters: NodeId[];
  /** Non-voting members: they receive the log but count for no quorum (absent: none). */
  learners?: NodeId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

export enum MsgType {
  App = 1,
  AppResp,
  Vote,
  VoteResp,
  PreVote,
  PreVoteResp,
  Heartbeat,
  HeartbeatResp,
  Snap,
  TimeoutNow,
  ReadIndex,
  ReadIndexResp,
}

export interface Message {
  type: MsgType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** App: term of the entry before `entries`; Vote: candidate's last log term; reject: hint term. */
  logTerm: number;
  /** App: index before `entries`; AppResp: last matching index (or the rejected one); Vote: last index. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** AppResp reject: the follower's guess of where the logs may match. */
  rejectHint: number;
  snapshot?: Snapshot;
  /** ReadIndex context carried on heartbeats and read requests. */
  ctx: string;
  /** Vote caused by leadership transfer: bypasses the leader-lease check. */
  transfer: boolean;
}

export function message(m: Partial<Message> & Pick<Message, "type" | "from" | "to" | "term">): Message {
  return {
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ctx: "",
    transfer: false,
    ...m,
  };
}

export enum Role {
  Follower = "follower",
  PreCandidate = "pre-candidate",
  Candidate = "candidate",
  Leader = "leader",
}

export interface ReadState {
  ctx: string;
  /** The read may be served once the state machine has applied this index. */
  index: number;
}

export interface SoftState {
  leader: NodeId;
  role: Role;
}

/**
 * One batch of work handed out by the core. The caller must, in this order:
 * 1. persist `snapshot` (if any), then `entries` and `hardState` — durably, atomically per batch;
 * 2. send `messages`;
 * 3. restore `snapshot` into the state machine (if any), then apply `committed` in order;
 * 4. call `advance(ready)`.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
  messages: Message[];
  committed: Entry[];
  readStates: ReadState[];
}

export interface ConfChange {
  /** add: make a voter (promoting a learner); add-learner: a non-voter; remove: either. */
  op: "add" | "add-learner" | "remove";
  node: NodeId;
  /** The full configuration after the change (filled in by the leader when it proposes). */
  voters?: NodeId[];
  learners?: NodeId[];
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return textEncoder.encode(JSON.stringify(cc));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  return JSON.parse(textDecoder.decode(data)) as ConfChange;
}

export function entryBytes(e: Entry): number {
  return e.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

/** Rough per-entry framing cost (index, term, type) used by the byte limits. */
export const ENTRY_OVERHEAD_BYTES = 24;
