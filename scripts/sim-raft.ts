/**
 * Deterministic Raft cluster simulator.
 *   bun run sim:raft -- --seeds 500          run seeds 1..500 (or --start S to offset)
 *   bun run sim:raft -- --seed 1234 [-v]     replay one seed
 *   --trace (with --seed) prints every event as a JSON line on stderr
 *   --nodes 3|5 fixes the cluster size; --sqlite runs the bun:sqlite stores instead of the twins
 * Prints a JSON summary; exits 1 when any seed fails and names the first failing seed.
 */
import { runSimulation, type SimResult } from "../src/raft/sim/simulator.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const one = arg("--seed");
const count = Number(arg("--seeds") ?? 100);
const start = Number(arg("--start") ?? 1);
const nodes = arg("--nodes") ? Number(arg("--nodes")) : undefined;
const sqlite = process.argv.includes("--sqlite");
// --trace (with --seed): one JSON line per event on stderr, to follow a failing seed step by step
const trace = one !== undefined && process.argv.includes("--trace");
const verbose = process.argv.includes("-v") || process.argv.includes("--verbose");
const seeds = one !== undefined ? [Number(one)] : Array.from({ length: count }, (_, i) => start + i);

const t0 = performance.now();
let steps = 0;
let virtualMs = 0;
const faults: Record<string, number> = {};
const ops = { issued: 0, completed: 0, unknown: 0 };
const failures: SimResult[] = [];
for (const seed of seeds) {
  const r = runSimulation({
    seed,
    nodes,
    sqlite,
    trace: trace
      ? (atMs, ev) => {
          const { msg, ...rest } = ev as { msg?: { entries: unknown[]; snapshot?: unknown } };
          const m = msg ? { ...msg, entries: msg.entries.length, snapshot: msg.snapshot ? "…" : undefined } : undefined;
          console.error(JSON.stringify({ atMs, ...rest, ...(m ? { msg: m } : {}) }));
        }
      : undefined,
  });
  steps += r.steps;
  virtualMs += r.virtualMs;
  for (const [k, v] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + v;
  ops.issued += r.ops.issued;
  ops.completed += r.ops.completed;
  ops.unknown += r.ops.unknown;
  if (verbose || one !== undefined) console.error(JSON.stringify(r));
  if (!r.ok) {
    failures.push(r);
    console.error(`seed ${seed} FAILED: ${r.error}`);
  }
}
const elapsedMs = performance.now() - t0;
console.log(
  JSON.stringify(
    {
      seeds: seeds.length,
      passed: seeds.length - failures.length,
      failed: failures.length,
      firstFailingSeed: failures[0]?.seed ?? null,
      firstError: failures[0]?.error?.split("\n")[0] ?? null,
      steps,
      stepsPerSec: Math.round(steps / (elapsedMs / 1000)),
      virtualSeconds: Math.round(virtualMs / 1000),
      elapsedSeconds: Number((elapsedMs / 1000).toFixed(2)),
      faults,
      ops,
      replay: failures[0] ? `bun run sim:raft -- --seed ${failures[0].seed}` : null,
    },
    null,
    2,
  ),
);
process.exit(failures.length > 0 ? 1 : 0);
