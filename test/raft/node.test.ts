/** The node driver end to end: in-memory transport, memory or bun:sqlite stores, real timers. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addVoterWhenCaughtUp } from "../../src/raft/membership.ts";
import { MemoryRaftStorage, MemorySnapshotStore } from "../../src/raft/memory_storage.ts";
import { RaftError, RaftNode, type Fsm } from "../../src/raft/node.ts";
import { Prng } from "../../src/raft/prng.ts";
import { SqliteRaftStorage, SqliteSnapshotStore } from "../../src/raft/sqlite_storage.ts";
import type { RaftStorage, SnapshotStore } from "../../src/raft/storage.ts";
import { MemoryNetwork, type Transport } from "../../src/raft/transport.ts";
import { MsgType } from "../../src/raft/types.ts";
import type { Entry, NodeId } from "../../src/raft/types.ts";

const dir = mkdtempSync(join(tmpdir(), "s3d-raft-node-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** "key=value" commands; apply returns the previous value. */
class KvFsm implements Fsm {
  map = new Map<string, string>();
  apply(e: Entry): unknown {
    const [k, v] = dec(e.data).split("=");
    const prev = this.map.get(k);
    this.map.set(k, v);
    return prev ?? null;
  }
  snapshot(): Uint8Array {
    return enc(JSON.stringify([...this.map]));
  }
  restore(data: Uint8Array): void {
    this.map = new Map(data.byteLength ? JSON.parse(dec(data)) : []);
  }
}

interface Member {
  id: NodeId;
  node: RaftNode;
  fsm: KvFsm;
  storage: RaftStorage;
  snapshots: SnapshotStore;
  path: string;
}

type Kind = "memory" | "sqlite";
let seq = 0;

test("a store that fails to persist stops the node instead of going on", async () => {
  const storage = new MemoryRaftStorage();
  const snapshots = new MemorySnapshotStore();
  const fsm = new KvFsm();
  RaftNode.bootstrap(storage, snapshots, [1], fsm);
  const net = new MemoryNetwork();
  let fatal: Error | undefined;
  const node = new RaftNode({ id: 1, fsm, storage, snapshots, transport: net.transport(1), tickMs: 2, onFatal: (e) => (fatal = e) });
  node.start();
  await until(() => node.isLeader());
  await node.apply(enc("a=1"));
  storage.persist = () => {
    throw new Error("disk full");
  };
  const err = await node.apply(enc("b=2")).catch((e) => e);
  expect((err as RaftError).code).toBe("shutdown");
  expect(fatal?.message).toBe("disk full");
  expect(node.failure).toBe(fatal);
  expect(fsm.map.get("b")).toBeUndefined();
});

test("a durable FSM is not restored from an older snapshot nor re-applied on restart", async () => {
  const storage = new MemoryRaftStorage();
  const snapshots = new MemorySnapshotStore();
  let applied = 0;
  let restores = 0;
  /** Pretends to keep its state on disk: the object survives the node. */
  const fsm = new (class extends KvFsm {
    index = 0;
    override apply(e: Entry) {
      applied++;
      this.index = e.index;
      return super.apply(e);
    }
    override restore(d: Uint8Array) {
      restores++;
      super.restore(d);
    }
    durableIndex() {
      return this.index;
    }
  })();
  RaftNode.bootstrap(storage, snapshots, [1], fsm);
  const boot = () => {
    const n = new RaftNode({ id: 1, fsm, storage, snapshots, transport: new MemoryNetwork().transport(1), tickMs: 2, snapshotEveryEntries: 5, trailingEntries: 0 });
    n.start();
    return n;
  };
  let node = boot();
  await until(() => node.isLeader());
  for (let i = 0; i < 12; i++) await node.apply(enc(`k${i}=${i}`));
  expect(node.status().snapshotIndex).toBeGreaterThan(0);
  node.shutdown();
  const before = { applied, restores };
  node = boot();
  await until(() => node.isLeader());
  await node.apply(enc("after=1"));
  expect(restores).toBe(before.restores); // the FSM is newer than the snapshot: no restore
  expect(applied).toBe(before.applied + 1); // only the new command, nothing replayed
  expect(fsm.map.get("k11")).toBe("11");
  node.shutdown();
});

function stores(kind: Kind): { storage: RaftStorage; snapshots: SnapshotStore; path: string } {
  const path = join(dir, `n${++seq}`);
  if (kind === "memory") return { storage: new MemoryRaftStorage(), snapshots: new MemorySnapshotStore(), path };
  return { storage: new SqliteRaftStorage(`${path}-log.db`), snapshots: new SqliteSnapshotStore(`${path}-snap.db`), path };
}

class Cluster {
  net = new MemoryNetwork({ serialize: true });
  members = new Map<NodeId, Member>();
  constructor(
    readonly kind: Kind,
    readonly opts: { snapshotEveryEntries?: number; trailingEntries?: number } = {},
  ) {}

  add(id: NodeId, bootVoters: NodeId[] | undefined, reuse?: { storage: RaftStorage; snapshots: SnapshotStore; path: string }): Member {
    const fsm = new KvFsm();
    const { storage, snapshots, path } = reuse ?? stores(this.kind);
    if (bootVoters) RaftNode.bootstrap(storage, snapshots, bootVoters, fsm);
    const node = new RaftNode({
      id,
      fsm,
      storage,
      snapshots,
      transport: this.net.transport(id),
      prng: new Prng(id * 7919 + seq),
      tickMs: 5,
      ...this.opts,
    });
    node.start();
    const m = { id, node, fsm, storage, snapshots, path };
    this.members.set(id, m);
    return m;
  }

  async leader(timeoutMs = 5000): Promise<Member> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const ls = [...this.members.values()].filter((m) => m.node.isLeader());
      if (ls.length === 1) return ls[0];
      await Bun.sleep(5);
    }
    throw new Error("no leader elected");
  }

  /** Restart a shut-down member on the same durable state (sqlite: reopen the files). */
  restart(m: Member): Member {
    if (this.kind === "memory") return this.add(m.id, undefined, m);
    m.storage.close();
    m.snapshots.close();
    const storage = new SqliteRaftStorage(`${m.path}-log.db`);
    const snapshots = new SqliteSnapshotStore(`${m.path}-snap.db`);
    return this.add(m.id, undefined, { storage, snapshots, path: m.path });
  }

  stop(): void {
    for (const m of this.members.values()) m.node.shutdown();
  }
}

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(5);
  }
}

for (const kind of ["memory", "sqlite"] as Kind[]) {
  describe(`RaftNode (${kind} stores)`, () => {
    test("apply() resolves with the FSM result after commit; every node applies it", async () => {
      const c = new Cluster(kind);
      for (const id of [1, 2, 3]) c.add(id, [1, 2, 3]);
      const l = await c.leader();
      expect(await l.node.apply(enc("a=1"))).toBe(null);
      expect(await l.node.apply(enc("a=2"))).toBe("1");
      const many = await Promise.all(Array.from({ length: 200 }, (_, i) => l.node.apply(enc(`k${i}=${i}`))));
      expect(many.every((r) => r === null)).toBe(true);
      await until(() => [...c.members.values()].every((m) => m.fsm.map.size === 201));
      // group commit: 200 concurrent commands took far fewer fsyncs than commands
      expect(l.node.metrics.proposals).toBe(202);
      expect(l.node.metrics.batchesPersisted).toBeLessThan(60);
      c.stop();
    });

    test("followers refuse apply() and name the leader; read barriers work on any node", async () => {
      const c = new Cluster(kind);
      for (const id of [1, 2, 3]) c.add(id, [1, 2, 3]);
      const l = await c.leader();
      await l.node.apply(enc("x=1"));
      const f = [...c.members.values()].find((m) => m !== l)!;
      const err = await f.node.apply(enc("x=2")).catch((e) => e);
      expect(err).toBeInstanceOf(RaftError);
      expect((err as RaftError).code).toBe("not-leader");
      expect((err as RaftError).leader).toBe(l.id);
      await f.node.readBarrier();
      expect(f.fsm.map.get("x")).toBe("1"); // the follower has caught up to the acknowledged write
      await l.node.readBarrier();
      c.stop();
    });

    test("concurrent read barriers share one ReadIndex round; an isolated leader never answers", async () => {
      const c = new Cluster(kind);
      for (const id of [1, 2, 3]) c.add(id, [1, 2, 3]);
      const l = await c.leader();
      await l.node.apply(enc("a=1"));
      const transport = (l.node as unknown as { opts: { transport: Transport } }).opts.transport;
      const send = transport.send.bind(transport);
      const rounds = new Set<string>();
      transport.send = (msgs) => {
        for (const m of msgs) if (m.type === MsgType.Heartbeat && m.ctx !== "") rounds.add(m.ctx);
        send(msgs);
      };
      const indexes = await Promise.all(Array.from({ length: 100 }, () => l.node.readBarrier()));
      expect(new Set(indexes).size).toBe(1);
      expect(rounds.size).toBe(1); // one heartbeat round for all hundred reads
      c.net.isolate(l.id, [1, 2, 3]);
      const err = await l.node.readBarrier(150).catch((e) => e);
      expect((err as RaftError).code).toMatch(/timeout|not-leader/);
      c.stop();
    });

    test("a restarted node recovers its log from its stores and catches up", async () => {
      const c = new Cluster(kind);
      for (const id of [1, 2, 3]) c.add(id, [1, 2, 3]);
      const l = await c.leader();
      for (let i = 0; i < 20; i++) await l.node.apply(enc(`k${i}=${i}`));
      const victim = [...c.members.values()].find((m) => m !== l)!;
      victim.node.shutdown();
      for (let i = 20; i < 40; i++) await l.node.apply(enc(`k${i}=${i}`));
      const m = c.restart(victim);
      await until(() => m.fsm.map.size === 40);
      c.stop();
    });

    test("snapshots compact the log; a node added later is sent a snapshot", async () => {
      const c = new Cluster(kind, { snapshotEveryEntries: 10, trailingEntries: 2 });
      for (const id of [1, 2, 3]) c.add(id, [1, 2, 3]);
      const l = await c.leader();
      for (let i = 0; i < 50; i++) await l.node.apply(enc(`k${i}=${i}`));
      expect(l.node.status().snapshotIndex).toBeGreaterThan(30);
      expect(l.storage.firstIndex()).toBeGreaterThan(30);
      const joiner = c.add(4, undefined);
      await l.node.addLearner(4);
      expect(l.node.status().learners).toEqual([4]);
      await until(() => joiner.fsm.map.size === 50);
      await l.node.addVoter(4);
      const late = c.add(5, undefined);
      await addVoterWhenCaughtUp(l.node, 5, 5000); // learner first, promoted once caught up
      expect(l.node.status().voters).toEqual([1, 2, 3, 4, 5]);
      await until(() => late.fsm.map.size === 50);
      await until(() => joiner.fsm.map.size === 50);
      expect(joiner.node.status().snapshotIndex).toBeGreaterThan(0);
      await l.node.apply(enc("after=join"));
      await until(() => joiner.fsm.map.get("after") === "join");
      c.stop();
    });

    test("leadership transfer and voter removal", async () => {
      const c = new Cluster(kind);
      for (const id of [1, 2, 3]) c.add(id, [1, 2, 3]);
      const l = await c.leader();
      await l.node.apply(enc("a=1"));
      const target = [...c.members.keys()].find((id) => id !== l.id)!;
      await l.node.transferLeadership(target);
      await until(() => c.members.get(target)!.node.isLeader());
      const bad = await l.node.transferLeadership(99).catch((e) => e);
      expect((bad as RaftError).code).toBe("bad-request");
      const nl = c.members.get(target)!;
      expect(nl.node.metrics.leaderChanges).toBeGreaterThanOrEqual(2); // none -> old leader -> itself
      await nl.node.apply(enc("b=2")); // the new leader commits an entry of its term first
      await nl.node.removeVoter(l.id);
      expect(nl.node.status().voters).not.toContain(l.id);
      expect(await nl.node.apply(enc("c=3"))).toBe(null);
      c.stop();
    });
  });
}
