/**
 * ReadIndex bookkeeping at the leader (Raft dissertation §6.4): a read records the commit index,
 * the leader confirms it is still leader with one heartbeat round, and a quorum of acks for a
 * request also confirms every request queued before it.
 */
import type { NodeId } from "./types.ts";
import { quorumSize } from "./progress.ts";

export interface PendingRead {
  ctx: string;
  index: number;
  /** Who asked: the leader itself or a follower that forwarded the request. */
  from: NodeId;
  acks: Set<NodeId>;
}

export class ReadIndexQueue {
  private queue: PendingRead[] = [];
  private byCtx = new Map<string, PendingRead>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.queue.length;
  }

  /** False when the queue is full or the ctx is already pending. */
  add(ctx: string, index: number, from: NodeId, self: NodeId, selfVotes: boolean): boolean {
    if (this.queue.length >= this.max || this.byCtx.has(ctx)) return false;
    const read: PendingRead = { ctx, index, from, acks: new Set(selfVotes ? [self] : []) };
    this.queue.push(read);
    this.byCtx.set(ctx, read);
    return true;
  }

  /** Record a heartbeat ack; returns the reads now confirmed (in order), removing them. */
  ack(ctx: string, from: NodeId, voters: readonly NodeId[]): PendingRead[] {
    const read = this.byCtx.get(ctx);
    if (!read || !voters.includes(from)) return [];
    read.acks.add(from);
    let voted = 0;
    for (const v of voters) if (read.acks.has(v)) voted++;
    if (voted < quorumSize(voters.length)) return [];
    const at = this.queue.indexOf(read);
    const done = this.queue.splice(0, at + 1);
    for (const r of done) this.byCtx.delete(r.ctx);
    return done;
  }

  /** The contexts still waiting, newest last (to re-send with the next heartbeat). */
  last(): PendingRead | undefined {
    return this.queue[this.queue.length - 1];
  }

  clear(): void {
    this.queue = [];
    this.byCtx.clear();
  }
}
