/** The leader's view of one follower: how far it matches, where to send next, and flow control. */
import { assert } from "../util/assert.ts";

export enum ProgressState {
  /** Unknown match: one append in flight at a time until the follower answers. */
  Probe = "probe",
  /** Known match: appends are pipelined up to the in-flight window. */
  Replicate = "replicate",
  /** The follower needs a snapshot; appends wait until it is acknowledged. */
  Snapshot = "snapshot",
}

export class Progress {
  match = 0;
  next: number;
  state = ProgressState.Probe;
  /** Probe state: an append is outstanding, wait for a reply or the next heartbeat. */
  probeSent = false;
  /** Last index of each append in flight (Replicate state), oldest first. */
  inflight: number[] = [];
  pendingSnapshot = 0;
  snapshotTicks = 0;
  /** Highest commit index sent to this follower (to know when an empty append must carry it). */
  commitSent = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;

  constructor(
    next: number,
    private readonly inflightMax: number,
  ) {
    this.next = next;
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
      this.pendingSnapshot = 0;
    } else {
      this.next = this.match + 1;
    }
    this.state = ProgressState.Probe;
    this.probeSent = false;
    this.inflight = [];
  }

  becomeReplicate(): void {
    this.state = ProgressState.Replicate;
    this.next = this.match + 1;
    this.probeSent = false;
    this.inflight = [];
  }

  becomeSnapshot(index: number): void {
    this.state = ProgressState.Snapshot;
    this.pendingSnapshot = index;
    this.snapshotTicks = 0;
    this.probeSent = false;
    this.inflight = [];
  }

  /** Record an acknowledged index; returns whether it moved the match forward. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < index + 1) this.next = index + 1;
    while (this.inflight.length > 0 && this.inflight[0] <= index) this.inflight.shift();
    return updated;
  }

  /** A rejection of the append at `rejected`; `hintNext` is the leader's next guess. */
  maybeDecrease(rejected: number, hintNext: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false; // stale
      this.becomeProbe();
      this.next = Math.max(this.match + 1, Math.min(rejected, hintNext));
      return true;
    }
    if (this.next - 1 !== rejected) return false; // stale
    this.next = Math.max(this.match + 1, Math.min(rejected, hintNext));
    this.probeSent = false;
    return true;
  }

  /** After sending an append whose last entry is `lastIndex` (or none). */
  sentEntries(count: number, lastIndex: number): void {
    if (this.state === ProgressState.Replicate) {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflight.push(lastIndex);
        assert(this.inflight.length <= this.inflightMax, "progress: in-flight window overflow");
      }
    } else if (this.state === ProgressState.Probe) {
      this.probeSent = true;
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflight.length >= this.inflightMax;
      case ProgressState.Snapshot:
        return true;
    }
  }

  /** Heartbeat answered: let one more append through so lost appends are retried. */
  onHeartbeatResponse(): void {
    this.probeSent = false;
    if (this.state === ProgressState.Replicate && this.inflight.length >= this.inflightMax) {
      this.inflight.shift();
    }
  }
}

/** Largest index acknowledged by a majority of `voters`, given each voter's match. */
export function quorumIndex(voters: readonly number[], matchOf: (id: number) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[Math.floor(voters.length / 2)];
}

export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}
