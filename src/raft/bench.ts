/**
 * Raft benchmark: committed proposals per second and commit latency for 200-byte commands,
 * 1-node and 3-node clusters in one process over the in-memory transport, with real bun:sqlite
 * stores (WAL, synchronous=FULL) in a temp directory: every commit is fsynced on a majority.
 *   bun src/raft/bench.ts [--json] [--seconds S]
 * (meant to back `bun run bench:raft`; numbers go to bench/RESULTS.md)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RaftNode, type Fsm } from "./node.ts";
import { Prng } from "./prng.ts";
import { SqliteRaftStorage, SqliteSnapshotStore } from "./sqlite_storage.ts";
import { MemoryNetwork } from "./transport.ts";

export const BENCH_COMMAND_BYTES = 200;
export const BENCH_TICK_MS = 20;

export interface BenchRow {
  nodes: number;
  proposers: number;
  committed: number;
  proposalsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

const nullFsm = (): Fsm => ({ apply: () => null, snapshot: () => new Uint8Array(), restore: () => {} });

export async function benchRaft(nodes: number, proposers: number, seconds: number): Promise<BenchRow> {
  const dir = mkdtempSync(join(tmpdir(), "s3d-raft-bench-"));
  const net = new MemoryNetwork();
  const ids = Array.from({ length: nodes }, (_, i) => i + 1);
  const members = ids.map((id) => {
    const storage = new SqliteRaftStorage(join(dir, `log-${id}.db`));
    const snapshots = new SqliteSnapshotStore(join(dir, `snap-${id}.db`));
    const fsm = nullFsm();
    RaftNode.bootstrap(storage, snapshots, ids, fsm);
    const node = new RaftNode({ id, fsm, storage, snapshots, transport: net.transport(id), prng: new Prng(id), tickMs: BENCH_TICK_MS });
    node.start();
    return { node, storage, snapshots };
  });
  try {
    while (!members.some((m) => m.node.isLeader())) await Bun.sleep(5);
    const leader = members.find((m) => m.node.isLeader())!.node;
    const cmd = new Uint8Array(BENCH_COMMAND_BYTES);
    const latencies: number[] = [];
    const end = performance.now() + seconds * 1000;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: proposers }, async () => {
        while (performance.now() < end) {
          const start = performance.now();
          await leader.apply(cmd);
          latencies.push(performance.now() - start);
        }
      }),
    );
    const elapsedSec = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (q: number) => Number(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))].toFixed(2));
    return { nodes, proposers, committed: latencies.length, proposalsPerSec: Math.round(latencies.length / elapsedSec), p50Ms: at(0.5), p99Ms: at(0.99) };
  } finally {
    for (const m of members) {
      m.node.shutdown();
      m.storage.close();
      m.snapshots.close();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const json = process.argv.includes("--json");
  const i = process.argv.indexOf("--seconds");
  const seconds = i >= 0 ? Number(process.argv[i + 1]) : 3;
  const rows: BenchRow[] = [];
  for (const nodes of [1, 3]) {
    for (const proposers of [1, 16, 256]) {
      const row = await benchRaft(nodes, proposers, seconds);
      rows.push(row);
      if (!json) console.log(`${nodes}-node ${String(proposers).padStart(3)} proposers: ${row.proposalsPerSec} commits/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms`);
    }
  }
  if (json) console.log(JSON.stringify({ bench: "raft", commandBytes: BENCH_COMMAND_BYTES, synchronous: "FULL", rows }, null, 2));
  process.exit(0);
}
