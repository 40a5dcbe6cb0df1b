/**
 * A deliberately plain Reed-Solomon, written independently of gf256.ts/matrix.ts/kernels so the
 * tests can check the fast code against it: carry-less multiplication bit by bit, inverses by
 * search, the same code (see matrix.ts: [I; P and Q] for two parity shards, else [I; Cauchy
 * scaled to ones in its first row and column]) solved by textbook Gaussian elimination per byte
 * column.
 * Slow (microseconds per byte); for tests only.
 */

/** Carry-less multiply reduced by x^8 + x^4 + x^3 + x^2 + 1. */
export function slowMul(a: number, b: number): number {
  let product = 0;
  for (let bit = 0; bit < 8; bit++) {
    if (b & (1 << bit)) product ^= a << bit;
  }
  for (let bit = 15; bit >= 8; bit--) {
    if (product & (1 << bit)) product ^= 0x11d << (bit - 8);
  }
  return product;
}

export function slowInv(a: number): number {
  for (let x = 1; x < 256; x++) if (slowMul(a, x) === 1) return x;
  throw new Error(`reference: ${a} has no inverse`);
}

/**
 * Row r of the (K+M)×K encoding matrix: identity for data rows. Parity row i = r - K: with M = 2,
 * all ones (P) and 2^(K-1-j) (Q); otherwise the Cauchy entries c(i, j) = 1/((K+i) xor j) scaled
 * to c(i,j)·c(0,0) / (c(0,j)·c(i,0)).
 */
export function referenceRow(k: number, m: number, r: number): number[] {
  if (r < k) return Array.from({ length: k }, (_, j) => (j === r ? 1 : 0));
  const i = r - k;
  if (m === 2) return Array.from({ length: k }, (_, j) => (i === 0 ? 1 : slowPow2(k - 1 - j)));
  const c = (i: number, j: number) => slowInv((k + i) ^ j);
  return Array.from({ length: k }, (_, j) => slowMul(slowMul(c(i, j), c(0, 0)), slowInv(slowMul(c(0, j), c(i, 0)))));
}

function slowPow2(e: number): number {
  let x = 1;
  for (let n = 0; n < e; n++) x = slowMul(x, 2);
  return x;
}

export function referenceEncode(k: number, m: number, data: Uint8Array[]): Uint8Array[] {
  const length = data[0].length;
  const parity: Uint8Array[] = [];
  for (let p = 0; p < m; p++) {
    const row = referenceRow(k, m, k + p);
    const out = new Uint8Array(length);
    for (let b = 0; b < length; b++) {
      let acc = 0;
      for (let j = 0; j < k; j++) acc ^= slowMul(row[j], data[j][b]);
      out[b] = acc;
    }
    parity.push(out);
  }
  return parity;
}

/** Recovers the K data shards from any K present shards by solving the linear system per byte. */
export function referenceDecode(k: number, shards: (Uint8Array | null)[]): Uint8Array[] {
  const present = shards.map((s, i) => (s ? i : -1)).filter((i) => i >= 0).slice(0, k);
  if (present.length < k) throw new Error("reference: not enough shards");
  const length = (shards[present[0]] as Uint8Array).length;
  const data = Array.from({ length: k }, () => new Uint8Array(length));
  for (let b = 0; b < length; b++) {
    // Augmented system [A | y], A rows = encoding rows of the present shards.
    const sys = present.map((i) => [...referenceRow(k, shards.length - k, i), (shards[i] as Uint8Array)[b]]);
    for (let col = 0; col < k; col++) {
      const pivot = sys.findIndex((row, r) => r >= col && row[col] !== 0);
      if (pivot < 0) throw new Error("reference: singular system");
      [sys[col], sys[pivot]] = [sys[pivot], sys[col]];
      const inv = slowInv(sys[col][col]);
      sys[col] = sys[col].map((v) => slowMul(v, inv));
      for (let r = 0; r < k; r++) {
        if (r === col || sys[r][col] === 0) continue;
        const f = sys[r][col];
        sys[r] = sys[r].map((v, c) => v ^ slowMul(f, sys[col][c]));
      }
    }
    for (let j = 0; j < k; j++) data[j][b] = sys[j][k];
  }
  return data;
}
