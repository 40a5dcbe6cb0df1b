/** A tiny synchronous cluster for core unit tests: every Ready is persisted and delivered at once. */
import { Prng } from "../../src/raft/prng.ts";
import { RaftCore, type CoreOptions } from "../../src/raft/raft.ts";
import type { Entry, Message, NodeId } from "../../src/raft/types.ts";

export function bootState(voters: NodeId[]) {
  return {
    hardState: { term: 0, vote: 0, commit: 0 },
    entries: [] as Entry[],
    snapshot: { meta: { index: 0, term: 0, conf: { voters } }, data: new Uint8Array() },
  };
}

export function newCore(id: NodeId, voters: NodeId[], opts: Partial<CoreOptions> = {}, seed = id): RaftCore {
  return new RaftCore({ id, prng: new Prng(seed), ...opts }, bootState(voters));
}

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array) => new TextDecoder().decode(b);

export class TestCluster {
  nodes = new Map<NodeId, RaftCore>();
  applied = new Map<NodeId, Entry[]>();
  /** Messages matching this are dropped. */
  drop: (m: Message) => boolean = () => false;
  sent: Message[] = [];

  constructor(ids: NodeId[], opts: Partial<CoreOptions> = {}) {
    for (const id of ids) {
      this.nodes.set(id, newCore(id, ids, opts));
      this.applied.set(id, []);
    }
  }

  node(id: NodeId): RaftCore {
    return this.nodes.get(id)!;
  }

  /** Run Ready cycles and deliver messages until quiet. */
  settle(maxRounds = 200): void {
    for (let round = 0; round < maxRounds; round++) {
      const msgs: Message[] = [];
      for (const n of this.nodes.values()) {
        while (n.hasReady()) {
          const rd = n.ready();
          msgs.push(...rd.messages);
          this.applied.get(n.id)!.push(...rd.committed);
          n.advance(rd);
        }
      }
      if (msgs.length === 0) return;
      this.sent.push(...msgs);
      for (const m of msgs) {
        if (this.drop(m)) continue;
        this.nodes.get(m.to)?.step(m);
      }
    }
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) n.tick();
      this.settle();
    }
  }

  elect(id: NodeId): RaftCore {
    this.node(id).campaignNow();
    this.settle();
    return this.node(id);
  }

  leaders(): RaftCore[] {
    return [...this.nodes.values()].filter((n) => n.role === "leader");
  }

  isolate(id: NodeId): void {
    this.drop = (m) => m.from === id || m.to === id;
  }

  heal(): void {
    this.drop = () => false;
  }
}
