/**
 * Encoding and reconstruction as straight-line programs (kernel.ts CoefficientProgram) that need
 * fewer multiplies than the equivalent dense matrix; the codec runs whichever is cheaper. Pure.
 *
 * Encoding with two parity shards is Horner's rule (encodeProgram). For reconstruction, the dense
 * decode rows are arbitrary field elements: every one is a real multiply. Solving the
 * system step by step keeps the ones of the normalised parity matrix (matrix.ts): with lost data
 * shards L, present data shards D and the parity shards R read in their place,
 *   syndrome s_r = p_r + sum over j in D of P[r][j] d_j        (= sum over l in L of P[r][l] d_l)
 * then P[R][L] d_L = s is solved by elimination, each step a row of the program, and lost parity
 * is re-encoded from the data. RS(4,2) losing two data shards: 3 multiplies (one of them by 2,
 * a shift) instead of 8.
 */
import { assert } from "../util/assert.ts";
import { gfDiv, gfInv, gfMul } from "./gf256.ts";
import type { CoefficientProgram } from "./kernel.ts";
import type { Matrix } from "./matrix.ts";
import { kindsOf, programOps } from "./wasm-gen.ts";

/** Programs are built only for K + targets up to this: larger ones would not fit one fused kernel. */
export const programShardsMax = 24;

type Terms = Map<number, number>; // value id -> coefficient (nonzero)

/** Parity row r is 2^(K-1-j) (Q of matrix.ts): its syndrome can be summed by Horner's rule. */
function isHornerRow(encoding: Matrix, r: number): boolean {
  const k = encoding.cols;
  const row = encoding.data.subarray(r * k, (r + 1) * k);
  return row[k - 1] === 1 && row.every((c, j) => j === k - 1 || c === gfMul(2, row[j + 1]));
}

/**
 * The program computing `targets` from `sources` (K shard indexes, ascending: every present data
 * shard, then the parity shards standing in for the lost ones). `encoding` is [I; P]. With
 * `horner`, the syndrome of a Q-like parity row is summed by Horner's rule (multiplies by 2 only,
 * one per data shard after the first present one) instead of one multiply per present shard.
 */
export function decodeProgram(encoding: Matrix, sources: readonly number[], targets: readonly number[], horner = false): CoefficientProgram {
  const k = encoding.cols;
  assert(sources.length === k, "programs: need K sources");
  const inputOf = new Map(sources.map((s, i) => [s, i]));
  const rows: Terms[] = [];
  const addRow = (terms: Terms): number => {
    for (const [v, c] of terms) if (c === 0) terms.delete(v);
    rows.push(terms);
    return k + rows.length - 1;
  };
  const p = (r: number, j: number) => encoding.data[r * k + j];

  const lost = Array.from({ length: k }, (_, j) => j).filter((j) => !inputOf.has(j));
  const present = Array.from({ length: k }, (_, j) => j).filter((j) => inputOf.has(j));
  const parity = sources.filter((s) => s >= k);
  assert(parity.length === lost.length, "programs: one parity shard per lost data shard");
  const e = lost.length;

  const hornerSyndrome = (r: number): number => {
    let acc: number | undefined; // value id of sum over present j' <= j of 2^(j - j') d_j'
    for (let j = 0; j < k; j++) {
      const d = inputOf.get(j);
      if (acc === undefined) {
        acc = d;
        continue;
      }
      const terms: Terms = new Map([[acc, 2]]);
      if (d !== undefined) terms.set(d, 1);
      if (j === k - 1) terms.set(inputOf.get(r) as number, 1);
      acc = addRow(terms);
    }
    // acc is a row unless at most the last data shard is present (then the chain made no row)
    return acc !== undefined && acc >= k ? acc : addRow(new Map([[inputOf.get(r) as number, 1], ...(acc === undefined ? [] : [[acc, 1] as [number, number]])]));
  };
  // Syndromes, then P[R][L] x = s by elimination on a copy of P[R][L].
  const value = parity.map((r) =>
    horner && isHornerRow(encoding, r)
      ? hornerSyndrome(r)
      : addRow(new Map([[inputOf.get(r) as number, 1], ...present.map((j): [number, number] => [inputOf.get(j) as number, p(r, j)])])),
  );
  const a = parity.map((r) => lost.map((l) => p(r, l)));
  for (let c = 0; c < e; c++) {
    const pivot = a.findIndex((row, i) => i >= c && row[c] !== 0);
    assert(pivot >= 0, "programs: singular system (the code is not MDS)");
    [a[c], a[pivot]] = [a[pivot], a[c]];
    [value[c], value[pivot]] = [value[pivot], value[c]];
    for (let i = c + 1; i < e; i++) {
      if (a[i][c] === 0) continue;
      const f = gfDiv(a[i][c], a[c][c]);
      for (let j = c; j < e; j++) a[i][j] ^= gfMul(f, a[c][j]);
      value[i] = addRow(new Map([[value[i], 1], [value[c], f]]));
    }
  }
  const data = new Map<number, number>(present.map((j) => [j, inputOf.get(j) as number])); // data shard -> value id
  for (let c = e - 1; c >= 0; c--) {
    const inv = gfInv(a[c][c]);
    const terms: Terms = new Map([[value[c], inv]]);
    for (let j = c + 1; j < e; j++) if (a[c][j] !== 0) terms.set(data.get(lost[j]) as number, gfMul(inv, a[c][j]));
    data.set(lost[c], addRow(terms));
  }

  const outputRows = targets.map((t) => {
    if (t < k) return (data.get(t) as number) - k;
    return addRow(new Map(Array.from({ length: k }, (_, j): [number, number] => [data.get(j) as number, p(t, j)]))) - k;
  });
  const width = k + rows.length;
  const out = new Uint8Array(rows.length * width);
  rows.forEach((terms, r) => {
    for (const [v, c] of terms) out[r * width + v] = c;
  });
  return { rows: rows.length, data: out, outputRows };
}

/** The dense matrix a program computes (outputs × inputs): what the kernels without programs run. */
export function programMatrix(program: CoefficientProgram, inputs: number): Uint8Array {
  const width = inputs + program.rows;
  const rowValue: Uint8Array[] = [];
  for (let r = 0; r < program.rows; r++) {
    const acc = new Uint8Array(inputs);
    for (let v = 0; v < inputs + r; v++) {
      const c = program.data[r * width + v];
      if (c === 0) continue;
      if (v < inputs) acc[v] ^= c;
      else for (let i = 0; i < inputs; i++) acc[i] ^= gfMul(c, rowValue[v - inputs][i]);
    }
    rowValue.push(acc);
  }
  const out = new Uint8Array(program.outputRows.length * inputs);
  program.outputRows.forEach((r, o) => out.set(rowValue[r], o * inputs));
  return out;
}

/** Estimated vector ops per 16 bytes (wasm-gen.ts's cost model): to pick the cheaper of two equivalent forms. */
export function programCost(data: Uint8Array, rows: number, inputs: number): number {
  return programOps(kindsOf(data), inputs, rows);
}

/**
 * Encoding with two parity shards (matrix.ts: P and Q = sum of 2^(K-1-j) d_j) as a program:
 * row 0 is P; Q by Horner's rule, t_1 = 2 d_0 + d_1, t_j = 2 t_{j-1} + d_j, Q = t_{K-1}. Every
 * multiply is by 2. Undefined for other shapes (their encode is the plain matrix).
 */
export function encodeProgram(encoding: Matrix, parityShards: number): CoefficientProgram | undefined {
  const k = encoding.cols;
  if (parityShards !== 2 || k < 2) return undefined;
  const rows = k; // P, then t_1 .. t_{K-1}
  const width = k + rows;
  const data = new Uint8Array(rows * width);
  data.fill(1, 0, k);
  for (let j = 1; j < k; j++) {
    const r = j; // row of t_j
    data[r * width + (j === 1 ? 0 : k + r - 1)] = 2;
    data[r * width + j] = 1;
  }
  return { rows, data, outputRows: [0, k - 1] };
}

/** A dense outputs × inputs matrix laid out as a program's data (no row uses another), for programCost. */
export function matrixProgramData(dense: Uint8Array, outputs: number, inputs: number): Uint8Array {
  const width = inputs + outputs;
  const out = new Uint8Array(outputs * width);
  for (let o = 0; o < outputs; o++) out.set(dense.subarray(o * inputs, (o + 1) * inputs), o * width);
  return out;
}
