/** The simulated network: per-message drop, duplication and random delay (hence reordering), and
 * partitions into groups that cannot talk to each other. */
import type { Prng } from "../prng.ts";
import type { Message, NodeId } from "../types.ts";

export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  delayMinMs: number;
  delayMaxMs: number;
}

export interface NetworkCounters {
  sent: number;
  dropped: number;
  duplicated: number;
  partitionDropped: number;
}

export class SimNetwork {
  /** Node -> partition group; nodes missing from the map are in group 0. */
  private groups = new Map<NodeId, number>();
  /** Directed links that lose everything: "from>to". */
  private oneWay = new Set<string>();
  counters: NetworkCounters = { sent: 0, dropped: 0, duplicated: 0, partitionDropped: 0 };

  constructor(
    private readonly prng: Prng,
    public faults: NetworkFaults,
  ) {}

  /** Delivery delays for one message: [] when dropped, two when duplicated. */
  route(m: Message): number[] {
    this.counters.sent++;
    if (!this.connected(m.from, m.to)) {
      this.counters.partitionDropped++;
      return [];
    }
    if (this.prng.chance(this.faults.dropRate)) {
      this.counters.dropped++;
      return [];
    }
    const delays = [this.delay()];
    if (this.prng.chance(this.faults.duplicateRate)) {
      this.counters.duplicated++;
      delays.push(this.delay());
    }
    return delays;
  }

  /** Can `from` reach `to`? (Links may fail in one direction only.) */
  connected(from: NodeId, to: NodeId): boolean {
    return (this.groups.get(from) ?? 0) === (this.groups.get(to) ?? 0) && !this.oneWay.has(`${from}>${to}`);
  }

  /** Cut `count` random directed links: asymmetric failures (a node hears but is not heard). */
  cutOneWay(nodes: NodeId[], count: number): void {
    for (let i = 0; i < count; i++) {
      const from = this.prng.pick(nodes);
      const to = this.prng.pick(nodes.filter((n) => n !== from));
      this.oneWay.add(`${from}>${to}`);
    }
  }

  /** Split `nodes` at random into two non-empty sides. */
  partition(nodes: NodeId[]): NodeId[][] {
    const shuffled = nodes.slice();
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = this.prng.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const cut = 1 + this.prng.int(shuffled.length - 1);
    const sides = [shuffled.slice(0, cut), shuffled.slice(cut)];
    this.groups.clear();
    for (const id of sides[1]) this.groups.set(id, 1);
    return sides;
  }

  heal(): void {
    this.groups.clear();
    this.oneWay.clear();
  }

  isPartitioned(): boolean {
    return this.groups.size > 0 || this.oneWay.size > 0;
  }

  private delay(): number {
    const span = this.faults.delayMaxMs - this.faults.delayMinMs;
    return this.faults.delayMinMs + (span > 0 ? this.prng.int(span + 1) : 0);
  }
}
