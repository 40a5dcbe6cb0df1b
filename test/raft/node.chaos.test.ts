/**
 * The real node driver under faults, on real timers: lossy, reordering in-memory network,
 * partitions, node restarts from their stores, leadership transfers. Clients' puts and
 * linearizable gets (readBarrier) are recorded and checked for linearizability, which also
 * checks the driver's error semantics (which errors mean "not applied" and which "unknown").
 */
import { expect, test } from "bun:test";
import { MemoryRaftStorage, MemorySnapshotStore } from "../../src/raft/memory_storage.ts";
import { RaftError, RaftNode, type Fsm } from "../../src/raft/node.ts";
import { Prng } from "../../src/raft/prng.ts";
import type { HistoryOp } from "../../src/raft/sim/clients.ts";
import { checkKvLinearizable } from "../../src/raft/sim/linearizability.ts";
import type { PersistBatch } from "../../src/raft/storage.ts";
import { MemoryNetwork } from "../../src/raft/transport.ts";
import type { Entry, NodeId } from "../../src/raft/types.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const NOT_APPLIED = new Set(["not-leader", "not-ready", "overloaded", "leadership-lost", "conf-change-pending", "bad-request"]);

class KvFsm implements Fsm {
  map = new Map<string, string>();
  apply(e: Entry): unknown {
    const { k, v } = JSON.parse(dec(e.data));
    this.map.set(k, v);
    return null;
  }
  snapshot(): Uint8Array {
    return enc(JSON.stringify([...this.map]));
  }
  restore(data: Uint8Array): void {
    this.map = new Map(data.byteLength ? JSON.parse(dec(data)) : []);
  }
}

/** A store that completes writes later, like one living in a Worker: exercises the driver's
 * asynchronous persist path (messages stepped and commands proposed while a batch is written). */
class SlowStorage extends MemoryRaftStorage {
  constructor(private readonly prng: Prng) {
    super();
  }
  override persist(batch: PersistBatch): Promise<void> {
    return new Promise((resolve) =>
      setTimeout(() => {
        super.persist(batch);
        resolve();
      }, this.prng.int(3)),
    );
  }
}

interface Member {
  node: RaftNode;
  fsm: KvFsm;
  storage: MemoryRaftStorage;
  snapshots: MemorySnapshotStore;
  up: boolean;
}

test("driver chaos: 5 nodes, faults, linearizable history", async () => {
  const prng = new Prng(Number(process.env.RAFT_CHAOS_SEED ?? 20261123));
  const net = new MemoryNetwork({ prng: prng.fork(), dropRate: 0.03, delayMaxMs: 3, serialize: true });
  const ids = [1, 2, 3, 4, 5];
  const members = new Map<NodeId, Member>();
  const start = (id: NodeId, storage: MemoryRaftStorage, snapshots: MemorySnapshotStore) => {
    const fsm = new KvFsm();
    RaftNode.bootstrap(storage, snapshots, ids, fsm);
    const node = new RaftNode({ id, fsm, storage, snapshots, transport: net.transport(id), prng: prng.fork(), tickMs: 4, snapshotEveryEntries: 50, trailingEntries: 10 });
    node.start();
    members.set(id, { node, fsm, storage, snapshots, up: true });
  };
  for (const id of ids) start(id, id % 2 === 1 ? new SlowStorage(prng.fork()) : new MemoryRaftStorage(), new MemorySnapshotStore());

  const history: HistoryOp[] = [];
  let stamp = 0;
  let opId = 0;
  let stop = false;
  const counts = { put: 0, get: 0, notApplied: 0, unknown: 0 };

  const client = async (cid: number) => {
    let target: NodeId = ids[cid % ids.length];
    while (!stop) {
      const m = members.get(target)!;
      if (!m.up) {
        target = prng.pick(ids);
        await Bun.sleep(2);
        continue;
      }
      const key = prng.pick(["a", "b", "c"]);
      const id = ++opId;
      if (prng.chance(0.5)) {
        const value = `${cid}-${id}`;
        const op: HistoryOp = { id, client: cid, kind: "put", key, value, call: ++stamp, ret: Infinity };
        try {
          await m.node.apply(enc(JSON.stringify({ k: key, v: value })), 300);
          op.ret = ++stamp;
          history.push(op);
          counts.put++;
        } catch (e) {
          const code = (e as RaftError).code;
          if (NOT_APPLIED.has(code)) counts.notApplied++;
          else {
            history.push(op); // unknown outcome: may or may not have happened
            counts.unknown++;
          }
          if (code === "not-leader") target = (e as RaftError).leader || prng.pick(ids);
          else target = prng.pick(ids);
          await Bun.sleep(2);
        }
      } else {
        const op: HistoryOp = { id, client: cid, kind: "get", key, value: undefined, call: ++stamp, ret: Infinity };
        try {
          await m.node.readBarrier(300);
          if (!m.up) continue; // crashed while waiting: the read never returned
          op.value = m.fsm.map.get(key);
          op.ret = ++stamp;
          history.push(op);
          counts.get++;
        } catch {
          target = prng.pick(ids);
          await Bun.sleep(2);
        }
      }
    }
  };

  const chaos = async () => {
    for (let round = 0; round < 25; round++) {
      await Bun.sleep(40);
      const roll = prng.int(4);
      if (roll === 0) {
        const victim = prng.pick(ids);
        const m = members.get(victim)!;
        if (m.up) {
          m.up = false;
          m.node.shutdown();
          await Bun.sleep(20);
          start(victim, m.storage, m.snapshots); // restart on the same durable state
        }
      } else if (roll === 1) {
        const island = prng.pick(ids);
        net.isolate(island, ids);
        await Bun.sleep(60);
        net.healAll();
      } else if (roll === 2) {
        const leader = [...members.values()].find((m) => m.up && m.node.isLeader());
        const to = prng.pick(ids);
        leader?.node.transferLeadership(to, 200).catch(() => {}); // may refuse or time out under faults
      }
    }
    net.healAll();
    await Bun.sleep(150);
    stop = true;
  };

  await Promise.all([chaos(), ...[0, 1, 2, 3, 4, 5].map(client)]);
  for (const m of members.values()) m.node.shutdown();
  expect(counts.put).toBeGreaterThan(20);
  expect(counts.get).toBeGreaterThan(20);
  if (process.env.RAFT_CHAOS_VERBOSE) console.log(counts, history.length);
  const lin = checkKvLinearizable(history);
  if (!lin.ok) throw new Error(`${lin.reason} (${JSON.stringify(counts)})`);
}, 30_000);
