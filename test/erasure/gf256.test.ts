import { describe, expect, test } from "bun:test";
import { gfDiv, gfInv, gfMul, mulTable, nibbleTables } from "../../src/erasure/gf256.ts";
import { encodingMatrix, identity, invert, matrix, multiply, selectRows } from "../../src/erasure/matrix.ts";
import { referenceRow, slowInv, slowMul } from "../../src/erasure/reference.ts";
import { combinations, rng } from "./random.ts";

describe("GF(2^8)", () => {
  test("table multiply equals carry-less multiply for every pair", () => {
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b++) {
        const want = slowMul(a, b);
        if (gfMul(a, b) !== want || mulTable[a * 256 + b] !== want) throw new Error(`mul ${a}*${b}`);
      }
    }
  });

  test("inverse and division", () => {
    for (let a = 1; a < 256; a++) {
      expect(gfInv(a)).toBe(slowInv(a));
      expect(gfMul(a, gfInv(a))).toBe(1);
      for (const b of [1, 2, 29, 200, 255]) expect(gfMul(gfDiv(a, b), b)).toBe(a);
    }
    expect(() => gfInv(0)).toThrow("zero has no inverse");
    expect(() => gfDiv(3, 0)).toThrow("division by zero");
  });

  test("nibble tables split every product", () => {
    const t = new Uint8Array(32);
    for (const c of [0, 1, 2, 3, 0x8e, 0xff]) {
      nibbleTables(c, t, 0);
      for (let x = 0; x < 256; x++) expect(t[x & 15] ^ t[16 + (x >> 4)]).toBe(gfMul(c, x));
    }
  });
});

describe("matrices", () => {
  test("every KxK submatrix of the generator inverts (MDS): fixed and random shapes", () => {
    const next = rng(41);
    const random = Array.from({ length: 6 }, () => {
      const k = 1 + (next() % 9);
      return [k, 1 + (next() % Math.min(5, 14 - k))];
    });
    for (const [k, m] of [[2, 1], [3, 2], [4, 2], [8, 4], [5, 3], [4, 4], [1, 3], [1, 2], [12, 2], ...random]) {
      const e = encodingMatrix(k, m);
      for (const rows of combinations(k + m, k)) {
        const sub = selectRows(e, rows);
        expect(multiply(invert(sub), sub).data).toEqual(identity(k).data);
      }
    }
  });

  test("parity rows are the reference's (independent arithmetic); the first is all ones, and so is the first column when M != 2", () => {
    for (const [k, m] of [[2, 1], [4, 2], [3, 2], [253, 2], [8, 4], [10, 6], [200, 55], [1, 254], [254, 1]]) {
      const e = encodingMatrix(k, m);
      for (const r of [0, 1, k - 1, k, k + 1, k + m - 1].filter((r) => r >= 0 && r < k + m)) {
        expect([...e.data.subarray(r * k, (r + 1) * k)]).toEqual(referenceRow(k, m, r));
      }
      for (let j = 0; j < k; j++) expect(e.data[k * k + j]).toBe(1);
      if (m !== 2) for (let i = 0; i < m; i++) expect(e.data[(k + i) * k]).toBe(1);
      for (let p = k * k; p < e.data.length; p++) if (e.data[p] === 0) throw new Error(`RS(${k},${m}): zero parity coefficient`);
    }
  });

  test("M = 2 (P and Q) is MDS up to K = 253: every pair of parity columns differs", () => {
    const e = encodingMatrix(253, 2);
    const q = new Set(e.data.subarray(254 * 253, 255 * 253));
    expect(q.size).toBe(253);
    expect(q.has(0)).toBe(false);
  });

  test("a singular matrix is refused", () => {
    const s = matrix(2, 2);
    s.data.set([1, 2, 1, 2]);
    expect(() => invert(s)).toThrow("singular");
  });

  test("shape limits", () => {
    expect(() => encodingMatrix(0, 1)).toThrow("K >= 1");
    expect(() => encodingMatrix(200, 56)).toThrow("K + M <= 255");
    expect(encodingMatrix(200, 55).rows).toBe(255);
  });
});
