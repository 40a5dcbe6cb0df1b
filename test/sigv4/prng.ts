/** A seeded PRNG (mulberry32) and generators, so a failing property case can be replayed. */

export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function int(rng: Rng, below: number): number {
  return Math.floor(rng() * below);
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[int(rng, items.length)];
}

/** Characters that stress UriEncode: reserved ASCII, %, +, spaces, 2-, 3- and 4-byte UTF-8. */
const awkward = [..." !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "é", "ü", "ß", "ሴ", "中", "€", "😀", "\u{10ffff}", "\t", "\u0000", "\u007f"];

/** A string of up to maxLength characters (code points), mixing plain letters and awkward ones. */
export function text(rng: Rng, maxLength: number, extra: readonly string[] = []): string {
  const length = int(rng, maxLength + 1);
  let out = "";
  for (let i = 0; i < length; i++) {
    const r = rng();
    if (r < 0.4) out += String.fromCharCode(0x61 + int(rng, 26));
    else if (r < 0.5) out += String.fromCharCode(0x30 + int(rng, 10));
    else if (r < 0.9 || extra.length === 0) out += pick(rng, awkward);
    else out += pick(rng, extra);
  }
  return out;
}

/** A seed per run, printed by the caller on failure; fixed unless SIGV4_SEED is set. */
export function seedFromEnv(fallback: number): number {
  const fromEnv = Number(process.env.SIGV4_SEED);
  return Number.isInteger(fromEnv) ? fromEnv : fallback;
}
