/**
 * Reed-Solomon benchmark: one core, one run, s3d's codec next to its peers measured in the same
 * process. Prints JSON. MiB/s counts data bytes (K × shard bytes) per second, copies in and out
 * of WebAssembly memory included.
 *
 *   bun bench/erasure.ts [--shard-bytes N] [--seconds S]
 *
 * Two ways in: the Uint8Array API (copies into and out of WASM memory included) and the Stripe
 * API (shards assembled in WASM memory, encoded in place).
 * Peers: the plain TypeScript table codec (always), `@ronomon/reed-solomon` only if it happens to
 * be installed (a native addon: never a project dependency). Ceiling: a plain memory copy of the
 * same bytes (what the WASM kernel must at least move).
 */
import { ReedSolomon } from "../src/erasure/codec.ts";
import type { Kernel } from "../src/erasure/kernel.ts";
import { tsKernel } from "../src/erasure/kernel-ts.ts";
import { createWasmKernel, detectWasmSupport } from "../src/erasure/kernel-wasm.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const shardBytes = flag("--shard-bytes", 1 << 20);
const secondsPerCase = flag("--seconds", 1);
const shapes: [number, number][] = [[3, 2], [4, 2], [8, 4]];
const mib = 1 << 20;

/** Best of `trialsPerCase` timed trials (a shared VM is noisy; the best trial is the least disturbed). */
const trialsPerCase = 5;
function measure(dataBytesPerOp: number, op: () => void): number {
  for (let i = 0; i < 3; i++) op();
  let best = 0;
  for (let t = 0; t < trialsPerCase; t++) {
    let ops = 0;
    const t0 = performance.now();
    let elapsedMs = 0;
    while (elapsedMs < (secondsPerCase * 1000) / trialsPerCase) {
      op();
      ops++;
      elapsedMs = performance.now() - t0;
    }
    best = Math.max(best, (ops * dataBytesPerOp) / mib / (elapsedMs / 1000));
  }
  return Math.round(best);
}

function stripe(k: number, m: number): Uint8Array[] {
  return Array.from({ length: k + m }, (_, i) => {
    const s = new Uint8Array(shardBytes);
    if (i < k) for (let b = 0; b < shardBytes; b += 4096) s[b] = (b * 31 + i) & 0xff; // non-zero data
    if (i < k) crypto.getRandomValues(s.subarray(0, Math.min(shardBytes, 65536)));
    return s;
  });
}

function ourCodec(kernel: Kernel, k: number, m: number) {
  const codec = new ReedSolomon(k, m, kernel);
  const shards = stripe(k, m);
  const lost = Array.from({ length: m }, (_, i) => i); // worst case: M data shards lost
  const inPlace = codec.createStripe(shardBytes);
  shards.forEach((s, i) => inPlace.shards[i].set(s));
  return {
    // Uint8Array API: shards copied into WASM memory and parity copied out, every call
    encode: measure(k * shardBytes, () => codec.encode(shards)),
    reconstruct: measure(k * shardBytes, () => codec.reconstructInto(shards, lost)),
    // Stripe API: shards assembled directly in WASM memory, no copies
    encodeInPlace: measure(k * shardBytes, () => inPlace.encode()),
    reconstructInPlace: measure(k * shardBytes, () => inPlace.reconstruct(lost)),
  };
}

async function ronomon(k: number, m: number): Promise<{ encode: number } | null> {
  let rs: any;
  try {
    rs = (await import("@ronomon/reed-solomon" as string)).default;
  } catch {
    return null;
  }
  const ctx = rs.create(k, m);
  const buffer = Buffer.alloc(k * shardBytes);
  const parity = Buffer.alloc(m * shardBytes);
  let sources = 0;
  for (let i = 0; i < k; i++) sources |= 1 << i;
  let targets = 0;
  for (let i = k; i < k + m; i++) targets |= 1 << i;
  const encode = measure(k * shardBytes, () => {
    rs.encode(ctx, sources, targets, buffer, 0, buffer.length, parity, 0, parity.length, () => {});
  });
  return { encode };
}

function memcpyCeiling(k: number, m: number): number {
  const from = stripe(k, m);
  const to = stripe(k, m);
  return measure(k * shardBytes, () => {
    for (let i = 0; i < k + m; i++) to[i].set(from[i]);
  });
}

const wasm = createWasmKernel({ relaxed: true });
const wasmStrict = createWasmKernel({ relaxed: false });
const results = [];
for (const [k, m] of shapes) {
  const row: Record<string, unknown> = { shape: `RS(${k},${m})`, shardBytes };
  row[tsKernel.name] = ourCodec(tsKernel, k, m);
  if (wasm) row[wasm.name] = ourCodec(wasm, k, m);
  if (wasmStrict) row[wasmStrict.name] = ourCodec(wasmStrict, k, m);
  row["@ronomon/reed-solomon"] = (await ronomon(k, m)) ?? "not installed";
  row.memcpyCeilingMiBps = memcpyCeiling(k, m);
  results.push(row);
}
console.log(
  JSON.stringify(
    {
      bench: "erasure",
      unit: "MiB/s of data shards (K x shardBytes per op), one core, best of 5 trials",
      bun: Bun.version,
      wasm: detectWasmSupport(),
      results,
    },
    null,
    2,
  ),
);
