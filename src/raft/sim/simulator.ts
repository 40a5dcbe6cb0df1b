/**
 * Deterministic cluster simulation: one seed fixes the cluster size, the fault rates and every
 * random choice, so a failing seed replays exactly. Chaos (drops, duplicates, delays, partitions,
 * crashes losing unpersisted batches, membership changes, leadership transfers, snapshots) runs
 * first; then the network heals and every node restarts, and the cluster must make progress.
 */
import { decodeMessage, encodeMessage } from "../codec.ts";
import { MemoryRaftStorage, MemorySnapshotStore } from "../memory_storage.ts";
import { Prng } from "../prng.ts";
import { SqliteRaftStorage, SqliteSnapshotStore } from "../sqlite_storage.ts";
import type { CoreOptions } from "../raft.ts";
import type { ConfChange, Message, NodeId } from "../types.ts";
import { KvClients } from "./clients.ts";
import { EventQueue } from "./events.ts";
import { InvariantChecker, InvariantViolation } from "./invariants.ts";
import { checkKvLinearizable } from "./linearizability.ts";
import { SimNetwork } from "./network.ts";
import { SimNode, type NodeEnv } from "./node.ts";

/** Virtual milliseconds per core tick. */
export const TICK_MS = 10;
/** How often the fault injector rolls its dice. */
export const FAULT_INTERVAL_MS = 100;
/** After the heal period, how long the cluster may still take to converge before it is a bug. */
export const LIVENESS_GRACE_MS = 30_000;

export interface SimOptions {
  seed: number;
  /** Initial voters (3 or 5); chosen by the seed when absent. */
  nodes?: number;
  chaosMs?: number;
  healMs?: number;
  clients?: number;
  /** Use the bun:sqlite stores (in-memory databases) instead of the in-memory twins. */
  sqlite?: boolean;
  /** Called for every event before it is handled (replay debugging). */
  trace?: (nowMs: number, event: Event) => void;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  error?: string;
  nodes: number;
  profile: string;
  steps: number;
  virtualMs: number;
  faults: Record<string, number>;
  ops: { issued: number; completed: number; unknown: number; linearizable: boolean };
  commitIndex: number;
}

export type Event =
  | { kind: "deliver"; msg: Message }
  | { kind: "tick"; node: NodeId }
  | { kind: "persist"; node: NodeId; epoch: number }
  | { kind: "restart"; node: NodeId }
  | { kind: "fault" }
  | { kind: "client"; client: number };

export function runSimulation(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}

class Simulation {
  private prng: Prng;
  private queue = new EventQueue<Event>();
  private nodes = new Map<NodeId, SimNode>();
  private net: SimNetwork;
  private invariants = new InvariantChecker();
  private clients: KvClients;
  private faults: Record<string, number> = { crashes: 0, restarts: 0, partitions: 0, oneWayCuts: 0, heals: 0, confChanges: 0, transfers: 0, snapshotsSent: 0 };
  private now = 0;
  private steps = 0;
  private healed = false;
  private readonly voterCount: number;
  private readonly chaosMs: number;
  private readonly healMs: number;
  private readonly profile: "mixed" | "leader-churn";
  private readonly crashRate: number;
  private readonly leaderVictimRate: number;
  private readonly restartMaxMs: number;
  private readonly partitionRate: number;
  private readonly confChangeRate: number;
  private readonly transferRate: number;
  private readonly diskMaxMs: number;
  private readonly clockDrift: boolean;
  private readonly serialize: boolean;
  private tickMs = new Map<NodeId, number>();

  constructor(private readonly opts: SimOptions) {
    this.prng = new Prng(opts.seed);
    const p = this.prng;
    this.voterCount = opts.nodes ?? (p.chance(0.5) ? 3 : 5);
    this.chaosMs = opts.chaosMs ?? 6000;
    this.healMs = opts.healMs ?? 4000;
    // A quarter of the seeds churn leaders hard (figure 8 of the paper needs several leader
    // crashes in quick succession); the rest mix every fault at moderate rates.
    this.profile = p.chance(0.25) ? "leader-churn" : "mixed";
    const churn = this.profile === "leader-churn";
    this.crashRate = churn ? p.pick([0.2, 0.4]) : p.pick([0, 0.02, 0.05, 0.1]);
    this.leaderVictimRate = churn ? 0.9 : 0.5;
    this.restartMaxMs = churn ? 300 : 2000;
    this.partitionRate = churn ? 0 : p.pick([0, 0.03, 0.08]);
    this.confChangeRate = churn ? 0 : p.pick([0, 0.03, 0.08]);
    this.transferRate = p.pick([0, 0.02, 0.05]);
    this.diskMaxMs = p.pick([0, 2, 5]);
    this.clockDrift = p.chance(0.5);
    this.serialize = p.chance(0.2);
    this.net = new SimNetwork(p.fork(), {
      dropRate: churn ? p.pick([0, 0.01]) : p.pick([0, 0.01, 0.05, 0.15]),
      duplicateRate: p.pick([0, 0.01, 0.05]),
      delayMinMs: 1,
      delayMaxMs: churn ? p.pick([2, 10]) : p.pick([2, 10, 40]),
    });
    const coreOptions: Partial<CoreOptions> = {
      appendEntriesMax: churn ? 1 : p.pick([1, 4, 64]),
      inflightAppendsMax: p.pick([1, 4, 16]),
      uncommittedBytesMax: p.pick([2048, 1 << 20]),
      checkQuorum: p.chance(0.7),
      preVote: p.chance(0.7),
      appendBytesMax: p.pick([256, 1 << 20]),
      applyBytesMax: p.pick([128, 1 << 20]),
      pendingReadsMax: p.pick([2, 4096]),
      ...p.pick([
        { electionTicks: 10, heartbeatTicks: 1 },
        { electionTicks: 20, heartbeatTicks: 3 },
      ]),
    };
    const env: NodeEnv = {
      invariants: this.invariants,
      coreOptions,
      snapshotEveryEntries: p.pick([0, 16, 64]),
      trailingEntries: p.pick([0, 4, 32]),
      durableFsm: p.chance(0.3),
      send: (msgs) => this.send(msgs),
      persistLater: (node, epoch) => this.queue.push(this.now + this.prng.int(this.diskMaxMs + 1), { kind: "persist", node: node.id, epoch }),
      onApplied: (node, e) => this.clients.onApplied(node, e),
      onReadState: (node, rs) => this.clients.onReadState(node, rs),
    };
    const voters = Array.from({ length: this.voterCount }, (_, i) => i + 1);
    const spares = this.confChangeRate > 0 ? 2 : 0;
    for (let id = 1; id <= this.voterCount + spares; id++) {
      const boot = id <= this.voterCount;
      const disk = this.opts.sqlite
        ? { storage: new SqliteRaftStorage(":memory:"), snapshots: new SqliteSnapshotStore(":memory:") }
        : { storage: new MemoryRaftStorage(), snapshots: new MemorySnapshotStore() };
      if (boot) disk.snapshots.save({ meta: { index: 0, term: 0, conf: { voters } }, data: new Uint8Array() });
      const node = new SimNode(id, disk, env);
      this.nodes.set(id, node);
      node.start(this.prng.fork());
      // clocks drift: each node's tick is up to 20 % off the nominal period in some seeds
      this.tickMs.set(id, TICK_MS + (this.clockDrift ? this.prng.int(5) - 2 : 0));
      this.queue.push(this.prng.int(TICK_MS), { kind: "tick", node: id });
    }
    this.clients = new KvClients(this.prng.fork(), opts.clients ?? 5, ["a", "b", "c", "d"]);
    for (let c = 0; c < this.clients.clientCount; c++) this.queue.push(this.prng.int(50), { kind: "client", client: c });
    this.queue.push(FAULT_INTERVAL_MS, { kind: "fault" });
  }

  run(): SimResult {
    const endMs = this.chaosMs + this.healMs;
    let error: string | undefined;
    let nextLivenessMs = endMs;
    try {
      for (;;) {
        const next = this.queue.pop();
        if (!next) break;
        if (next.atMs >= nextLivenessMs) {
          // after the quiet period, the cluster must converge; give slow configurations time,
          // but a cluster that never converges is a liveness bug
          const stuck = this.livenessProblem();
          if (!stuck) break;
          if (next.atMs > endMs + LIVENESS_GRACE_MS) throw new InvariantViolation(stuck);
          nextLivenessMs += FAULT_INTERVAL_MS;
        }
        this.now = next.atMs;
        if (!this.healed && this.now >= this.chaosMs) this.heal();
        this.steps++;
        this.opts.trace?.(this.now, next.event);
        this.handle(next.event);
      }
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      error = e instanceof InvariantViolation ? e.message : `${e.name}: ${e.message}\n${e.stack ?? ""}`;
    }
    for (const n of this.nodes.values()) {
      n.disk.storage.close();
      n.disk.snapshots.close();
    }
    const lin = error ? { ok: true } : checkKvLinearizable(this.clients.history);
    if (!error && !lin.ok) error = `linearizability: ${lin.reason}`;
    const completed = this.clients.history.filter((o) => o.ret !== Infinity).length;
    return {
      seed: this.opts.seed,
      ok: error === undefined,
      error,
      nodes: this.voterCount,
      profile: this.profile,
      steps: this.steps,
      virtualMs: this.now,
      faults: { ...this.faults, ...this.net.counters },
      ops: { issued: this.clients.issued, completed, unknown: this.clients.unknown, linearizable: lin.ok },
      commitIndex: Math.max(...[...this.nodes.values()].map((n) => n.core?.log.committed ?? 0)),
    };
  }

  private handle(ev: Event): void {
    switch (ev.kind) {
      case "deliver": {
        const node = this.nodes.get(ev.msg.to)!;
        if (!node.core || !this.net.connected(ev.msg.from, ev.msg.to)) return;
        node.core.step(ev.msg);
        return this.after(node);
      }
      case "tick": {
        const node = this.nodes.get(ev.node)!;
        this.queue.push(this.now + this.tickMs.get(ev.node)!, ev);
        if (!node.core) return;
        node.core.tick();
        return this.after(node);
      }
      case "persist": {
        const node = this.nodes.get(ev.node)!;
        node.persistDone(ev.epoch);
        return this.after(node);
      }
      case "restart": {
        const node = this.nodes.get(ev.node)!;
        if (node.up) return;
        this.faults.restarts++;
        node.start(this.prng.fork());
        return this.after(node);
      }
      case "client": {
        this.queue.push(this.now + 5 + this.prng.int(30), ev);
        this.clients.step(ev.client, this.nodes, this.now, this.now < this.chaosMs);
        for (const n of this.nodes.values()) if (n.core) this.after(n);
        return;
      }
      case "fault":
        this.queue.push(this.now + FAULT_INTERVAL_MS, ev);
        if (!this.healed) this.injectFault();
        return;
    }
  }

  private after(node: SimNode): void {
    node.pump();
    if (node.core) this.invariants.observe(node.core);
  }

  private send(msgs: Message[]): void {
    for (const m of msgs) {
      if (m.snapshot) this.faults.snapshotsSent++;
      for (const delay of this.net.route(m)) {
        // some seeds put every message through the wire codec, as a real network would
        const msg = this.serialize ? decodeMessage(encodeMessage(m)) : m;
        this.queue.push(this.now + delay, { kind: "deliver", msg });
      }
    }
  }

  private injectFault(): void {
    const p = this.prng;
    const all = [...this.nodes.values()];
    const up = all.filter((n) => n.up);
    if (up.length > 0 && p.chance(this.crashRate)) {
      // leaders are the interesting victims (figure 8 needs a few leader crashes in a row)
      const leaderUp = up.find((n) => n.core!.role === "leader");
      const victim = leaderUp && p.chance(this.leaderVictimRate) ? leaderUp : p.pick(up);
      victim.crash();
      this.clients.onCrash(victim);
      this.faults.crashes++;
      this.queue.push(this.now + 20 + p.int(this.restartMaxMs), { kind: "restart", node: victim.id });
    }
    if (!this.net.isPartitioned() && p.chance(this.partitionRate)) {
      if (p.chance(0.3)) {
        this.net.cutOneWay(all.map((n) => n.id), 1 + p.int(3));
        this.faults.oneWayCuts++;
      } else {
        this.net.partition(all.map((n) => n.id));
        this.faults.partitions++;
      }
    } else if (this.net.isPartitioned() && p.chance(0.2)) {
      this.net.heal();
      this.faults.heals++;
    }
    const leader = all.find((n) => n.core?.role === "leader");
    if (!leader) return;
    const core = leader.core!;
    if (p.chance(this.confChangeRate)) {
      const cc = this.pickConfChange(core.voters, core.learners, all.map((n) => n.id));
      if (cc && core.proposeConfChange(cc).ok) this.faults.confChanges++;
    } else if (p.chance(this.transferRate)) {
      const others = core.voters.filter((v) => v !== core.id);
      if (others.length > 0 && core.transferLeader(p.pick(others))) this.faults.transfers++;
    }
    this.after(leader);
  }

  /** Add a learner or a voter, promote a learner, or remove a member (keeping >= 3 voters). */
  private pickConfChange(voters: NodeId[], learners: NodeId[], all: NodeId[]): ConfChange | undefined {
    const p = this.prng;
    const outside = all.filter((id) => !voters.includes(id) && !learners.includes(id));
    const roll = p.int(4);
    if (roll === 0 && outside.length > 0) return { op: "add-learner", node: p.pick(outside) };
    if (roll === 1 && learners.length > 0) return { op: "add", node: p.pick(learners) };
    if (roll === 2 && outside.length > 0) return { op: "add", node: p.pick(outside) };
    const removable = voters.length > 3 ? [...voters, ...learners] : learners;
    if (removable.length > 0) return { op: "remove", node: p.pick(removable) };
    return undefined;
  }

  /** End of chaos: heal the network, stop losing messages, bring every node back. */
  private heal(): void {
    this.healed = true;
    this.net.heal();
    this.net.faults = { ...this.net.faults, dropRate: 0, duplicateRate: 0 };
    for (const n of this.nodes.values()) {
      if (!n.up) {
        n.start(this.prng.fork());
        this.faults.restarts++;
        this.after(n);
      }
    }
  }

  /** After the quiet period there must be a leader whose members all applied its commit index. */
  private livenessProblem(): string | undefined {
    const leaders = [...this.nodes.values()].filter((n) => n.core?.role === "leader");
    if (leaders.length === 0) return "liveness: no leader after the network healed";
    const top = leaders.reduce((a, b) => (a.core!.term >= b.core!.term ? a : b)).core!;
    if (top.log.term(top.log.committed) !== top.term) return `liveness: leader ${top.id} committed nothing in term ${top.term}`;
    for (const v of [...top.voters, ...top.learners]) {
      const n = this.nodes.get(v)!;
      const applied = n.core?.log.applied ?? -1;
      if (applied < top.log.committed) {
        return (
          `liveness: voter ${v} applied ${applied}, leader ${top.id} committed ${top.log.committed}; ` +
          `voter ${JSON.stringify(n.core?.status())}, progress ${JSON.stringify(top.progress.get(v))}`
        );
      }
    }
    return undefined;
  }
}
