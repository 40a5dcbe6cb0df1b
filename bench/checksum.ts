/**
 * The checksum benchmark: one core, one run, MiB/s of input per second for each x-amz-checksum-*
 * algorithm through the streaming Checksummer API, next to node:crypto MD5 and SHA-256 measured
 * in the same process (the ceiling/reference the upload path already pays for the ETag).
 * Prints JSON.
 *
 *   bun bench/checksum.ts [--seconds S] [--rounds R]
 *
 * Each case streams its buffer size repeatedly into one checksummer (the upload path's shape:
 * many update() calls, one digest()). Cases are interleaved over R rounds; each figure is the
 * best round. Peers (informational, only if importable: the AWS SDK's own JS CRC32C and
 * CRC64-NVME, a transitive dev dependency of @aws-sdk/client-s3, never a project dependency)
 * and the CRC32 alternative Bun.hash.crc32 are measured the same way.
 */
import { createHash } from "node:crypto";
import { crc32 as zlibCrc32 } from "node:zlib";
import { checksumAlgorithms, createChecksummer } from "../src/checksum/index.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const secondsPerCase = flag("--seconds", 0.3);
const rounds = flag("--rounds", 3);
const mib = 1 << 20;
const sizes: [string, number][] = [["1MiB", mib], ["64KiB", 64 * 1024], ["4KiB", 4 * 1024]];

/** A streaming hasher: the shape every case is reduced to. */
interface Streamer { update(b: Uint8Array): void; finish(): void }
type Factory = () => Streamer;

const cases: Record<string, Factory> = {};
for (const a of checksumAlgorithms) {
  cases[a] = () => {
    const c = createChecksummer(a);
    return { update: (b) => c.update(b), finish: () => void c.digest() };
  };
}
for (const alg of ["md5", "sha256"] as const) {
  cases[`node:crypto ${alg.toUpperCase()}`] = () => {
    const h = createHash(alg);
    return { update: (b) => h.update(b), finish: () => void h.digest() };
  };
}
cases["peer zlib.crc32"] = () => {
  let c = 0;
  return { update: (b) => { c = zlibCrc32(b, c); }, finish: () => {} };
};
cases["peer Bun.hash.crc32"] = () => {
  let c = 0;
  return { update: (b) => { c = Bun.hash.crc32(b, c); }, finish: () => {} };
};
try {
  const crc = (await import("@aws-sdk/checksums/crc")) as Record<string, new () => { update(b: Uint8Array): void; digest(): Promise<Uint8Array> }>;
  for (const [label, name] of [["peer @aws-sdk Crc32cJs", "Crc32cJs"], ["peer @aws-sdk Crc64NvmeJs", "Crc64NvmeJs"]] as const) {
    const Ctor = crc[name];
    if (Ctor) cases[label] = () => {
      const h = new Ctor();
      return { update: (b) => h.update(b), finish: () => void h.digest() };
    };
  }
} catch {
  // peers are optional
}

const source = new Uint8Array(mib);
for (let i = 0; i < source.length; i++) source[i] = (i * 2654435761) >>> 24;

function measure(make: Factory, buffer: Uint8Array): number {
  const h = make();
  const deadline = performance.now() + secondsPerCase * 1000;
  const start = performance.now();
  let bytes = 0;
  do {
    for (let i = 0; i < 16; i++) h.update(buffer);
    bytes += 16 * buffer.length;
  } while (performance.now() < deadline);
  h.finish();
  return bytes / mib / ((performance.now() - start) / 1000);
}

const best: Record<string, Record<string, number>> = {};
for (const name of Object.keys(cases)) best[name] = {};
// warm up every case once so the first round is not a JIT measurement
for (const make of Object.values(cases)) {
  const h = make();
  for (let i = 0; i < 64; i++) h.update(source.subarray(0, 64 * 1024));
  h.finish();
}
for (let r = 0; r < rounds; r++) {
  for (const [sizeLabel, size] of sizes) {
    const buffer = source.subarray(0, size);
    for (const [name, make] of Object.entries(cases)) {
      best[name][sizeLabel] = Math.max(best[name][sizeLabel] ?? 0, measure(make, buffer));
    }
  }
}

const round = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v)]));
console.log(JSON.stringify({
  unit: "MiB/s (one core, streaming update() of the buffer size)",
  secondsPerCase,
  rounds,
  bun: Bun.version,
  results: Object.fromEntries(Object.entries(best).map(([k, v]) => [k, round(v)])),
}, null, 2));
