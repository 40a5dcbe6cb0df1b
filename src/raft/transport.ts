/**
 * The Raft transport contract and its in-memory twin. Sends are fire-and-forget: Raft tolerates
 * loss, duplication and reordering, so a transport never blocks the node or throws for a dead
 * peer. The production transport (h2-mTLS, src/net) implements the same interface.
 */
import { assert } from "../util/assert.ts";
import { decodeMessage, encodeMessage } from "./codec.ts";
import type { Prng } from "./prng.ts";
import type { Message, NodeId } from "./types.ts";

export interface Transport {
  /** Queue messages for delivery; never throws for unreachable peers. */
  send(messages: Message[]): void;
  /** Register the handler for messages addressed to this node (one handler). */
  listen(handler: (m: Message) => void): void;
  close(): void;
}

/** Messages queued to one peer at most before the in-memory network drops (bounded memory). */
export const MEMORY_QUEUE_MESSAGES_MAX = 100_000;

export interface MemoryNetworkOptions {
  /** Seeded randomness for the faults below (required with them). */
  prng?: Prng;
  dropRate?: number;
  /** Random extra delay per message (reorders messages); 0: next macrotask. */
  delayMaxMs?: number;
  /** Pass every message through the binary codec, like a real network (no shared objects). */
  serialize?: boolean;
}

/** A process-local network of in-memory transports; links can be cut, messages lost or delayed. */
export class MemoryNetwork {
  constructor(private readonly faults: MemoryNetworkOptions = {}) {
    assert(!(faults.dropRate || faults.delayMaxMs) || faults.prng !== undefined, "memory network: faults need a prng");
  }

  private handlers = new Map<NodeId, (m: Message) => void>();
  private cut = new Set<string>();
  private queued = 0;
  delivered = 0;
  dropped = 0;

  transport(id: NodeId): Transport {
    return {
      send: (messages) => {
        for (const m of messages) this.deliver(m);
      },
      listen: (handler) => {
        this.handlers.set(id, handler);
      },
      close: () => {
        this.handlers.delete(id);
      },
    };
  }

  /** Stop traffic between a and b (both directions). */
  disconnect(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}-${b}`).add(`${b}-${a}`);
  }

  /** Cut `id` off from everyone. */
  isolate(id: NodeId, others: NodeId[]): void {
    for (const o of others) if (o !== id) this.disconnect(id, o);
  }

  healAll(): void {
    this.cut.clear();
  }

  private deliver(m: Message): void {
    if (this.cut.has(`${m.from}-${m.to}`) || this.queued >= MEMORY_QUEUE_MESSAGES_MAX) {
      this.dropped++;
      return;
    }
    const f = this.faults;
    if (f.dropRate && f.prng!.chance(f.dropRate)) {
      this.dropped++;
      return;
    }
    this.queued++;
    const wire = f.serialize ? encodeMessage(m) : undefined;
    const deliver = () => {
      this.queued--;
      const h = this.handlers.get(m.to);
      if (!h || this.cut.has(`${m.from}-${m.to}`)) {
        this.dropped++;
        return;
      }
      this.delivered++;
      h(wire ? decodeMessage(wire) : m);
    };
    // Asynchronous like a real network: the sender's Ready loop finishes before delivery.
    if (f.delayMaxMs) setTimeout(deliver, f.prng!.int(f.delayMaxMs + 1));
    else setImmediate(deliver);
  }
}
