/** Default limits and timings of the Raft core. Every queue the core keeps is bounded by one of these. */

/** Ticks without hearing from a leader before a follower campaigns (randomised in [n, 2n)). */
export const ELECTION_TIMEOUT_TICKS = 10;
/** Ticks between leader heartbeats. */
export const HEARTBEAT_INTERVAL_TICKS = 1;
/** Entries carried by one append message at most. */
export const APPEND_ENTRIES_MAX = 512;
/** Payload bytes carried by one append message at most (a single larger entry still goes alone). */
export const APPEND_BYTES_MAX = 1024 * 1024;
/** Append messages in flight to one follower at most (pipelining window). */
export const INFLIGHT_APPENDS_MAX = 64;
/** Proposed-but-uncommitted payload bytes the leader accepts before refusing proposals. */
export const UNCOMMITTED_BYTES_MAX = 64 * 1024 * 1024;
/** ReadIndex requests waiting for a quorum heartbeat round at most. */
export const PENDING_READS_MAX = 4096;
/** Ticks a follower may stay in snapshot state without acknowledging before the leader re-probes. */
export const SNAPSHOT_RETRY_TICKS = 20;
