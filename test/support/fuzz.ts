/**
 * Property and fuzz test settings. CI runs a fixed seed and the base iteration count; locally,
 * FUZZ_SEED=<n> explores other inputs and FUZZ_SCALE=<k> runs k times as many iterations.
 * A failure is replayed by running again with the same FUZZ_SEED (or none: the default).
 */
import { int, mulberry32, pick } from "../sigv4/prng.ts";

export function fuzzRandom(defaultSeed: number): () => number {
  return mulberry32(process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : defaultSeed);
}

export function fuzzIterations(base: number): number {
  const scale = Number(process.env.FUZZ_SCALE ?? 1);
  return Math.max(1, Math.round(base * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

/**
 * `text` with one to three random edits: at a random place, up to `cutMax - 1` characters cut and,
 * seven times in ten, one of `pieces` put in. What parser property tests feed their parsers.
 */
export function mutated(text: string, rand: () => number, pieces: readonly string[], cutMax = 6): string {
  for (let k = 1 + int(rand, 3); k > 0; k--) {
    const at = int(rand, text.length);
    text = text.slice(0, at) + (rand() < 0.7 ? pick(rand, pieces) : "") + text.slice(at + int(rand, cutMax));
  }
  return text;
}
