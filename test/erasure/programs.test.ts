import { describe, expect, test } from "bun:test";
import { decodeProgram, encodeProgram, programCost, programMatrix } from "../../src/erasure/programs.ts";
import type { CoefficientProgram } from "../../src/erasure/kernel.ts";
import { tsKernel } from "../../src/erasure/kernel-ts.ts";
import { createWasmKernel, fusedInputsMax, fusedOutputsMax } from "../../src/erasure/kernel-wasm.ts";
import { encodingMatrix, invert, multiply, selectRows } from "../../src/erasure/matrix.ts";
import { combinations, randomBytes, rng } from "./random.ts";

/** The first K shards not lost, as the codec picks them. */
function sourcesFor(k: number, m: number, lost: number[]): number[] {
  return Array.from({ length: k + m }, (_, i) => i).filter((i) => !lost.includes(i)).slice(0, k);
}

describe("decode programs", () => {
  test("compute exactly the dense decode rows, for every loss of every small shape", () => {
    for (const [k, m] of [[1, 1], [2, 1], [1, 2], [2, 2], [3, 2], [4, 2], [10, 2], [5, 3], [8, 4], [4, 4], [10, 4]]) {
      const enc = encodingMatrix(k, m);
      for (let e = 1; e <= m; e++) {
        for (const lost of combinations(k + m, e)) {
          const sources = sourcesFor(k, m, lost);
          for (const targets of [lost, lost.filter((t) => t < k)]) {
            if (targets.length === 0) continue;
            const dense = multiply(selectRows(enc, targets), invert(selectRows(enc, sources)));
            for (const horner of [false, true]) {
              const program = decodeProgram(enc, sources, targets, horner);
              if (Buffer.compare(programMatrix(program, k), dense.data) !== 0) throw new Error(`RS(${k},${m}) lost ${lost} targets ${targets} horner ${horner}`);
            }
          }
        }
      }
    }
  });

  test("RS(4,2) losing two data shards: 3 multiplies instead of the matrix's 8", () => {
    const enc = encodingMatrix(4, 2);
    const program = decodeProgram(enc, [2, 3, 4, 5], [0, 1]);
    expect(program.data.filter((c) => c > 1).length).toBe(3);
    const dense = programMatrix(program, 4);
    expect(dense.filter((c) => c > 1).length).toBe(8);
    const asMatrix = new Uint8Array(2 * 6);
    asMatrix.set(dense.subarray(0, 4), 0);
    asMatrix.set(dense.subarray(4, 8), 6);
    expect(programCost(program.data, program.rows, 4)).toBeLessThan(programCost(asMatrix, 2, 4));
  });
});

test("two parity shards, larger K: the Q syndrome by Horner's rule costs less than one multiply per present shard", () => {
  const enc = encodingMatrix(10, 2);
  const sources = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const plain = decodeProgram(enc, sources, [0, 1]);
  const horner = decodeProgram(enc, sources, [0, 1], true);
  expect(programCost(horner.data, horner.rows, 10)).toBeLessThan(programCost(plain.data, plain.rows, 10));
});

describe("encode programs", () => {
  test("two parity shards: P, and Q by Horner's rule with multiplies by 2 only, equal the parity rows", () => {
    for (const k of [2, 3, 4, 8, 16, 20]) {
      const enc = encodingMatrix(k, 2);
      const program = encodeProgram(enc, 2)!;
      expect(Buffer.compare(programMatrix(program, k), enc.data.subarray(k * k))).toBe(0);
      expect(program.data.every((c) => c <= 2)).toBe(true);
      const dense = new Uint8Array(2 * (k + 2));
      dense.set(enc.data.subarray(k * k, k * k + k), 0);
      dense.set(enc.data.subarray(k * k + k, k * k + 2 * k), k + 2);
      if (k > 2) expect(programCost(program.data, program.rows, k)).toBeLessThan(programCost(dense, 2, k)); // K = 2: the same code
    }
    expect(encodeProgram(encodingMatrix(1, 2), 2)).toBeUndefined();
    expect(encodeProgram(encodingMatrix(4, 3), 3)).toBeUndefined();
  });
});

/** A random valid program: each row uses inputs and earlier rows; kinds 0, 1 and general all occur. */
function randomProgram(next: () => number, inputs: number, outputs: number): CoefficientProgram {
  const rows = outputs + (next() % 6);
  const width = inputs + rows;
  const data = new Uint8Array(rows * width);
  for (let r = 0; r < rows; r++) {
    for (let v = 0; v < inputs + r; v++) data[r * width + v] = [0, 0, 1, 2, 3 + (next() % 253)][next() % 5]; // 2: shift-and-reduce when the value is not split
    if (next() % 8 === 0) data.fill(0, r * width, (r + 1) * width); // an all-zero row
  }
  const outputRows = Array.from({ length: outputs }, () => next() % rows);
  return { rows, data, outputRows };
}

test("the WASM kernel runs random programs as their dense matrix, copying and in place, strict and relaxed", () => {
  const next = rng(31);
  for (const relaxed of [false, true]) {
    const wasm = createWasmKernel({ relaxed, chunkBytes: 4096 })!;
    for (let trial = 0; trial < 40; trial++) {
      const i = 1 + (next() % fusedInputsMax);
      const o = 1 + (next() % fusedOutputsMax);
      const program = randomProgram(next, i, o);
      const coefs = { inputs: i, outputs: o, data: programMatrix(program, i), program };
      const length = [32, 1000, 4096 * 3 + 5][trial % 3];
      const ins = Array.from({ length: i }, () => randomBytes(next, length));
      const want = Array.from({ length: o }, () => new Uint8Array(length));
      tsKernel.multiply({ inputs: i, outputs: o, data: coefs.data }, ins, want, length);
      const got = Array.from({ length: o }, () => new Uint8Array(length).fill(0x5a));
      wasm.multiply(coefs, ins, got, length);
      for (let k = 0; k < o; k++) if (Buffer.compare(got[k], want[k]) !== 0) throw new Error(`trial ${trial}: output ${k}`);
      const arena = wasm.arena(i + o, length);
      ins.forEach((s, k) => arena.shards[k].set(s));
      arena.multiply(coefs, [...Array(i).keys()], Array.from({ length: o }, (_, k) => i + k));
      for (let k = 0; k < o; k++) if (Buffer.compare(arena.shards[i + k], want[k]) !== 0) throw new Error(`trial ${trial} in place: output ${k}`);
    }
  }
});

