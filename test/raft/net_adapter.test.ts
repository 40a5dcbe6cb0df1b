/** Raft messages over the cluster transport's in-memory twin (src/net), through the adapter. */
import { expect, test } from "bun:test";
import { MemoryNetwork as NetMemory } from "../../src/net/memory.ts";
import { MemoryRaftStorage, MemorySnapshotStore } from "../../src/raft/memory_storage.ts";
import { RaftNode } from "../../src/raft/node.ts";
import { Prng } from "../../src/raft/prng.ts";
import { RaftNetAdapter, type RaftAddressBook } from "../../src/raft/net_adapter.ts";
import { MsgType, message, type Message } from "../../src/raft/types.ts";
import { transportContract } from "./transport.contract.ts";

const book: RaftAddressBook = {
  nameOf: (id) => (id >= 1 && id <= 9 ? `node${id}` : undefined),
  idOf: (name) => (/^node[1-9]$/.test(name) ? Number(name.slice(4)) : undefined),
};

function cluster(n: number, messageBytesMax?: number): RaftNetAdapter[] {
  const net = new NetMemory();
  return Array.from({ length: n }, (_, i) => {
    const adapter = new RaftNetAdapter(book, messageBytesMax);
    const t = net.node(book.nameOf(i + 1)!, {
      call: (c) => adapter.onCall(c),
      message: (m) => {
        adapter.onMessage(m);
      },
    });
    adapter.attach(t);
    return adapter;
  });
}

transportContract("src/net memory twin via RaftNetAdapter", { make: (n) => cluster(n) });

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 2000 && !cond(); i++) await Bun.sleep(1);
};

test("messages too big for a one-way message go as a streamed call", async () => {
  const [a, b] = cluster(2, 1024);
  const got: Message[] = [];
  b.listen((m) => got.push(m));
  const data = Uint8Array.from({ length: 100_000 }, (_, i) => i % 251);
  a.send([message({ type: MsgType.Snap, from: 1, to: 2, term: 4, snapshot: { meta: { index: 9, term: 4, conf: { voters: [1, 2] } }, data } })]);
  await until(() => got.length === 1);
  expect(got[0].snapshot!.data).toEqual(data);
});

test("a peer cannot send a message in another node's name", async () => {
  const [a, b] = cluster(3);
  const got: Message[] = [];
  b.listen((m) => got.push(m));
  a.send([message({ type: MsgType.Heartbeat, from: 3, to: 2, term: 1 })]); // node1 claims to be 3
  a.send([message({ type: MsgType.Heartbeat, from: 1, to: 2, term: 1 })]);
  await until(() => got.length === 1);
  await Bun.sleep(5);
  expect(got.map((m) => m.from)).toEqual([1]);
  expect(b.dropped).toBe(1);
});

test("three RaftNodes commit through the adapter and the net transport's twin", async () => {
  const adapters = cluster(3);
  const applied: string[][] = [[], [], []];
  const nodes = adapters.map((transport, i) => {
    const fsm = {
      apply: (e: { data: Uint8Array }) => applied[i].push(new TextDecoder().decode(e.data)),
      snapshot: () => new Uint8Array(),
      restore: () => {},
    };
    const storage = new MemoryRaftStorage();
    const snapshots = new MemorySnapshotStore();
    RaftNode.bootstrap(storage, snapshots, [1, 2, 3], fsm);
    const node = new RaftNode({ id: i + 1, fsm, storage, snapshots, transport, prng: new Prng(i + 1), tickMs: 5 });
    node.start();
    return node;
  });
  await until(() => nodes.some((n) => n.isLeader()));
  const leader = nodes.find((n) => n.isLeader())!;
  await Promise.all(["a", "b", "c"].map((s) => leader.apply(new TextEncoder().encode(s))));
  await until(() => applied.every((a) => a.length === 3));
  expect(applied.map((a) => a.slice().sort().join())).toEqual(["a,b,c", "a,b,c", "a,b,c"]);
  for (const n of nodes) n.shutdown();
});
