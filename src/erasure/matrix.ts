/**
 * Dense matrices over GF(2^8), row-major in a Uint8Array. Pure: no I/O, no randomness.
 *
 * The code is systematic: the encoding matrix is the K×K identity stacked on an M×K parity
 * matrix P. P starts as the Cauchy matrix C[i][j] = 1 / (x_i + y_j), x_i = K + i, y_j = j: every
 * square submatrix of a Cauchy matrix is invertible, so any K rows of [I; C] are invertible and
 * any K surviving shards determine the data (the MDS property). Scaling a row or a column of C by
 * a nonzero constant scales each square submatrix's determinant by a nonzero factor, so MDS
 * survives; P is C scaled so that its first row and first column are all ones:
 *   P[i][j] = C[i][j] · C[0][0] / (C[0][j] · C[i][0]).
 * A coefficient of 1 is a plain xor in the kernel, so RS(4,2) would need 3 multiplies instead of 8.
 *
 * Two parity shards (M = 2) use RAID-6's P and Q instead: P = d_0 + ... + d_{K-1} and
 * Q = sum of 2^(K-1-j) d_j, so Q is Horner's rule with a multiply by 2 per step, which the kernel
 * does with a shift and a conditional xor (programs.ts encodeProgram). MDS: a 2×2
 * submatrix [[1, 1], [2^a, 2^b]] has determinant 2^a + 2^b, nonzero for a != b < 255.
 */
import { assert } from "../util/assert.ts";
import { expTable, gfDiv, gfInv, gfMul } from "./gf256.ts";

/** K + M must fit the field: the Cauchy points x_i and y_j are distinct field elements. */
export const shardCountMax = 255;

export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Uint8Array;
}

export function matrix(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Uint8Array(rows * cols) };
}

export function get(m: Matrix, r: number, c: number): number {
  return m.data[r * m.cols + c];
}

export function identity(n: number): Matrix {
  const m = matrix(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
  return m;
}

export function checkShape(dataShards: number, parityShards: number): void {
  if (!Number.isInteger(dataShards) || !Number.isInteger(parityShards)) {
    throw new RangeError(`erasure: shard counts must be integers (got K=${dataShards}, M=${parityShards})`);
  }
  if (dataShards < 1 || parityShards < 0 || dataShards + parityShards > shardCountMax) {
    throw new RangeError(
      `erasure: need K >= 1, M >= 0 and K + M <= ${shardCountMax} (got K=${dataShards}, M=${parityShards})`,
    );
  }
}

/** The (K+M)×K systematic encoding matrix [I_K; P], P the normalised Cauchy matrix above. */
export function encodingMatrix(dataShards: number, parityShards: number): Matrix {
  checkShape(dataShards, parityShards);
  const k = dataShards;
  const m = matrix(k + parityShards, k);
  for (let i = 0; i < k; i++) m.data[i * k + i] = 1;
  if (parityShards === 2) {
    for (let j = 0; j < k; j++) {
      m.data[k * k + j] = 1;
      m.data[(k + 1) * k + j] = expTable[k - 1 - j];
    }
    return m;
  }
  const cauchy = (i: number, j: number) => gfInv((k + i) ^ j);
  for (let i = 0; i < parityShards; i++) {
    for (let j = 0; j < k; j++) {
      m.data[(k + i) * k + j] = gfDiv(gfMul(cauchy(i, j), cauchy(0, 0)), gfMul(cauchy(0, j), cauchy(i, 0)));
    }
  }
  return m;
}

export function multiply(a: Matrix, b: Matrix): Matrix {
  assert(a.cols === b.rows, `matrix: cannot multiply ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`);
  const out = matrix(a.rows, b.cols);
  for (let r = 0; r < a.rows; r++) {
    for (let c = 0; c < b.cols; c++) {
      let acc = 0;
      for (let i = 0; i < a.cols; i++) acc ^= gfMul(a.data[r * a.cols + i], b.data[i * b.cols + c]);
      out.data[r * out.cols + c] = acc;
    }
  }
  return out;
}

export function selectRows(m: Matrix, rowIndexes: readonly number[]): Matrix {
  const out = matrix(rowIndexes.length, m.cols);
  rowIndexes.forEach((r, i) => {
    assert(r >= 0 && r < m.rows, `matrix: row ${r} out of range 0..${m.rows - 1}`);
    out.data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols);
  });
  return out;
}

/** Gauss-Jordan inversion. Throws on a singular matrix (never happens for rows of [I; Cauchy]). */
export function invert(m: Matrix): Matrix {
  assert(m.rows === m.cols, `matrix: cannot invert a non-square ${m.rows}x${m.cols} matrix`);
  const n = m.rows;
  const work = new Uint8Array(m.data);
  const inv = identity(n).data;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    while (pivot < n && work[pivot * n + col] === 0) pivot++;
    assert(pivot < n, "matrix: singular matrix");
    if (pivot !== col) {
      swapRows(work, n, pivot, col);
      swapRows(inv, n, pivot, col);
    }
    const scale = gfInv(work[col * n + col]);
    scaleRow(work, n, col, scale);
    scaleRow(inv, n, col, scale);
    for (let r = 0; r < n; r++) {
      const factor = work[r * n + col];
      if (r === col || factor === 0) continue;
      addScaledRow(work, n, r, col, factor);
      addScaledRow(inv, n, r, col, factor);
    }
  }
  return { rows: n, cols: n, data: inv };
}

function swapRows(d: Uint8Array, n: number, a: number, b: number): void {
  for (let c = 0; c < n; c++) {
    const t = d[a * n + c];
    d[a * n + c] = d[b * n + c];
    d[b * n + c] = t;
  }
}

function scaleRow(d: Uint8Array, n: number, r: number, s: number): void {
  for (let c = 0; c < n; c++) d[r * n + c] = gfMul(d[r * n + c], s);
}

/** row[dst] ^= factor * row[src] */
function addScaledRow(d: Uint8Array, n: number, dst: number, src: number, factor: number): void {
  for (let c = 0; c < n; c++) d[dst * n + c] ^= gfMul(factor, d[src * n + c]);
}

