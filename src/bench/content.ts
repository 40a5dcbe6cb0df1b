/**
 * Deterministic object content. Object i of size n is pattern[offset(i), offset(i) + n), where
 * the pattern is one preallocated pseudo-random buffer: bodies are subarrays (never copies),
 * objects differ from each other (distinct offsets over a random pattern), and a reader checks
 * a body against a CRC computed once per (offset, size), without keeping any body around.
 * The null server serves the same bytes from the same function.
 */
import { crc32 } from "node:zlib";
import { sha256Hex } from "../sigv4/index.ts";

/** Distinct content offsets; a prime, so object i and i + k rarely line up with part sizes. */
export const contentOffsetsMax = 4093;
const patternSeed = 0x9e3779b9;

let pattern = new Uint8Array(0);

/** The pattern, at least `bytes` long (grown on demand; the prefix never changes). */
export function patternOf(bytes: number): Uint8Array {
  if (pattern.length >= bytes) return pattern;
  // Round up so a run of slightly different sizes does not regenerate each time.
  const length = Math.max(bytes, Math.ceil(bytes / (1 << 20)) * (1 << 20));
  const words = new Uint32Array(Math.ceil(length / 4));
  let state = patternSeed;
  for (let i = 0; i < words.length; i++) {
    // xorshift32: fast and plenty random for "the server sent back what it was given".
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[i] = state >>> 0;
  }
  pattern = new Uint8Array(words.buffer, 0, length);
  return pattern;
}

/** Object keys carry their index so the null server can tell which content an object has. */
export function objectKey(prefix: string, index: number): string {
  return `${prefix}${String(index).padStart(8, "0")}`;
}

/** The index encoded by objectKey, or 0 for foreign keys. */
export function indexOfKey(key: string): number {
  const match = /(\d{8})$/.exec(key);
  return match ? Number(match[1]) : 0;
}

export function contentOffset(index: number): number {
  return index % contentOffsetsMax;
}

/** The body of object `index`, `sizeBytes` long: a view into the pattern. */
export function objectBody(index: number, sizeBytes: number): Uint8Array {
  const offset = contentOffset(index);
  return patternOf(offset + sizeBytes).subarray(offset, offset + sizeBytes);
}

/** Per-(offset, size) digests, computed once each: CRC32 to verify reads, SHA-256 to sign writes. */
export class ContentDigests {
  private readonly crcs = new Map<string, number>();
  private readonly sha256s = new Map<string, string>();

  crc32Of(index: number, sizeBytes: number): number {
    const id = `${contentOffset(index)}:${sizeBytes}`;
    let crc = this.crcs.get(id);
    if (crc === undefined) {
      crc = crc32(objectBody(index, sizeBytes));
      this.crcs.set(id, crc);
    }
    return crc;
  }

  /** SHA-256 of a part or object: `start` is the byte offset inside object `index`. */
  sha256Of(index: number, start: number, sizeBytes: number): string {
    const id = `${contentOffset(index)}:${start}:${sizeBytes}`;
    let hash = this.sha256s.get(id);
    if (hash === undefined) {
      hash = sha256Hex(objectBody(index, start + sizeBytes).subarray(start));
      this.sha256s.set(id, hash);
    }
    return hash;
  }
}
