/**
 * The multi-lane MD5 benchmark: one core, aggregate MiB/s of input hashed per second.
 *  - native: Bun.CryptoHasher("md5") and node:crypto md5, one stream (the ceiling/baseline the
 *    upload path pays for the ETag today);
 *  - kernel: the generated WASM kernels on data already in their memory (md5x1 scalar, md5x4,
 *    md5x8; both ways of gathering message words), the compression function alone;
 *  - lanes: Md5Lanes with k streams fed 1 MiB chunks (kernel + staging copies + bookkeeping),
 *    what a hash worker would see.
 * Cases are interleaved over R rounds; each figure is the best round. Prints JSON.
 *
 *   bun bench/md5.ts [--seconds S] [--rounds R]
 */
import { createHash } from "node:crypto";
import { createMd5Lanes } from "../src/checksum/md5-lanes.ts";
import { type Gather, generateMd5Module, md5KTable, md5Layout } from "../src/checksum/md5-wasm-gen.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const secondsPerCase = flag("--seconds", 0.4);
const rounds = flag("--rounds", 5);
const mib = 1 << 20;

const source = new Uint8Array(mib);
for (let i = 0; i < source.length; i++) source[i] = (i * 2654435761) >>> 24;

/** Runs `step` (which hashes some bytes and returns how many) for the case's time; MiB/s. */
function measure(step: () => number): number {
  const deadline = performance.now() + secondsPerCase * 1000;
  const start = performance.now();
  let bytes = 0;
  do bytes += step();
  while (performance.now() < deadline);
  return bytes / mib / ((performance.now() - start) / 1000);
}

type Case = () => () => number;
const cases: Record<string, Case> = {};

cases["native Bun.CryptoHasher md5"] = () => {
  const h = new Bun.CryptoHasher("md5");
  return () => { h.update(source); return source.length; };
};
cases["native node:crypto md5"] = () => {
  const h = createHash("md5");
  return () => { h.update(source); return source.length; };
};

const stageBytes = 16 * 1024;
const memoryPages = Math.ceil((md5Layout.dataAddr + md5Layout.lanesMax * stageBytes) / 65536);
for (const gather of ["shuffle", "lane"] as Gather[]) {
  const kernel = new WebAssembly.Instance(new WebAssembly.Module(generateMd5Module({ gather, memoryPages })), {}).exports as unknown as {
    md5x4(b: number): void; md5x8(b: number): void; md5x1(l: number, b: number): void; memory: WebAssembly.Memory;
  };
  const heap32 = new Uint32Array(kernel.memory.buffer);
  heap32.set(md5KTable(), md5Layout.kAddr / 4);
  new Uint8Array(kernel.memory.buffer).set(source.subarray(0, 8 * stageBytes), md5Layout.dataAddr);
  heap32.fill(0xffffffff, md5Layout.maskAddr / 4, md5Layout.maskAddr / 4 + 8);
  const blocks = stageBytes / 64;
  const pointTo = (lanes: number) => { for (let l = 0; l < lanes; l++) heap32[md5Layout.pointersAddr / 4 + l] = md5Layout.dataAddr + l * stageBytes; };
  const kernelCase = (lanes: number, call: () => void) => () => () => { pointTo(lanes); call(); return lanes * stageBytes; };
  cases[`kernel md5x1 ${gather}`] = kernelCase(1, () => kernel.md5x1(0, blocks));
  cases[`kernel md5x4 ${gather}`] = kernelCase(4, () => kernel.md5x4(blocks));
  cases[`kernel md5x8 ${gather}`] = kernelCase(8, () => kernel.md5x8(blocks));
}

for (const streams of [1, 2, 4, 8]) {
  cases[`lanes ${streams} streams`] = () => {
    const m = createMd5Lanes({ lanes: 8 });
    const ids = Array.from({ length: streams }, () => m.open());
    return () => {
      for (const id of ids) m.push(id, source);
      m.run();
      return streams * source.length;
    };
  };
}

const best: Record<string, number> = {};
for (let r = 0; r < rounds; r++) {
  for (const [label, make] of Object.entries(cases)) {
    const step = make();
    step(); // warm: compile tiers, fault in memory
    best[label] = Math.max(best[label] ?? 0, measure(step));
  }
}
const native = Math.max(best["native Bun.CryptoHasher md5"], best["native node:crypto md5"]);
const results = Object.fromEntries(
  Object.entries(best).map(([label, v]) => [label, { MiBPerSec: Math.round(v), vsNative: Number((v / native).toFixed(2)) }]),
);
console.log(JSON.stringify({ bench: "md5", secondsPerCase, rounds, bun: Bun.version, nativeCeilingMiBPerSec: Math.round(native), results }, null, 2));
