/**
 * Linearizable read barriers of the node driver: every barrier requested in one loop turn shares
 * one ReadIndex round; a round resolves its waiters once the local state machine has applied the
 * round's read index.
 */
import { QUEUED_READS_MAX, RaftError } from "./node_api.ts";
import type { ReadState } from "./types.ts";

export interface Waiter {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

interface ReadRound {
  waiters: Set<Waiter>;
  index: number; // -1 until the read index is known
}

export class ReadBarriers {
  private queue = new Set<Waiter>();
  private rounds = new Map<string, ReadRound>();
  private seq = 0;
  roundsStarted = 0;
  reads = 0;

  constructor(private readonly ctxPrefix: string) {}

  add(timeoutMs: number): Promise<number> {
    if (this.queue.size >= QUEUED_READS_MAX) return Promise.reject(new RaftError("overloaded", "too many queued reads"));
    return new Promise<number>((resolve, reject) => {
      const w: Waiter = {
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: setTimeout(() => {
          this.queue.delete(w);
          for (const [ctx, round] of this.rounds) {
            if (round.waiters.delete(w) && round.waiters.size === 0) this.rounds.delete(ctx);
          }
          reject(new RaftError("timeout", "read barrier timed out"));
        }, timeoutMs),
      };
      this.queue.add(w);
    });
  }

  /** Start one round for everything queued; `readIndex` asks the core, `refusal` explains a no. */
  startRound(readIndex: (ctx: string) => boolean, refusal: () => RaftError): void {
    if (this.queue.size === 0) return;
    const waiters = this.queue;
    this.queue = new Set();
    const ctx = `${this.ctxPrefix}.${++this.seq}`;
    this.roundsStarted++;
    this.reads += waiters.size;
    if (readIndex(ctx)) {
      this.rounds.set(ctx, { waiters, index: -1 });
      return;
    }
    const err = refusal();
    for (const w of waiters) fail(w, err);
  }

  onReadState(rs: ReadState): void {
    const round = this.rounds.get(rs.ctx);
    if (round) round.index = rs.index;
  }

  /** Resolve every round whose read index the state machine has reached. */
  release(appliedIndex: number): void {
    for (const [ctx, round] of this.rounds) {
      if (round.index < 0 || round.index > appliedIndex) continue;
      this.rounds.delete(ctx);
      for (const w of round.waiters) {
        clearTimeout(w.timer);
        w.resolve(round.index);
      }
    }
  }

  failAll(err: Error): void {
    for (const w of this.queue) fail(w, err);
    for (const r of this.rounds.values()) for (const w of r.waiters) fail(w, err);
    this.queue.clear();
    this.rounds.clear();
  }
}

export function fail(w: Waiter, err: Error): void {
  clearTimeout(w.timer);
  w.reject(err);
}
