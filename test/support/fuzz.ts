/**
 * Property and fuzz test settings. CI runs a fixed seed and the base iteration count; locally,
 * FUZZ_SEED=<n> explores other inputs and FUZZ_SCALE=<k> runs k times as many iterations.
 * A failure is replayed by running again with the same FUZZ_SEED (or none: the default).
 */
import { mulberry32 } from "../sigv4/prng.ts";

export function fuzzRandom(defaultSeed: number): () => number {
  return mulberry32(process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : defaultSeed);
}

export function fuzzIterations(base: number): number {
  const scale = Number(process.env.FUZZ_SCALE ?? 1);
  return Math.max(1, Math.round(base * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}
