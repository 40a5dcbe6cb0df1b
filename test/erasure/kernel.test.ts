import { expect, test } from "bun:test";
import { tsKernel } from "../../src/erasure/kernel-ts.ts";
import { createWasmKernel, fusedInputsMax, fusedOutputsMax, wasmChunkBytes } from "../../src/erasure/kernel-wasm.ts";
import { generateKernelModule } from "../../src/erasure/wasm-gen.ts";
import { randomBytes, rng } from "./random.ts";

test("every generated kernel shape validates, with and without relaxed SIMD", () => {
  for (let i = 1; i <= fusedInputsMax; i++) {
    for (let o = 1; o <= fusedOutputsMax; o++) {
      for (const relaxed of [false, true]) {
        expect(WebAssembly.validate(generateKernelModule({ inputs: i, outputs: o, unroll: 2, relaxed }))).toBe(true);
      }
    }
  }
});

test("generation is deterministic", () => {
  const a = generateKernelModule({ inputs: 5, outputs: 3, unroll: 2, relaxed: true });
  const b = generateKernelModule({ inputs: 5, outputs: 3, unroll: 2, relaxed: true });
  expect(a).toEqual(b);
});

for (const relaxed of [false, true]) {
  test(`WASM kernel (relaxed=${relaxed}) equals the table kernel for every fused shape and awkward lengths`, () => {
    const wasm = createWasmKernel({ relaxed })!;
    const next = rng(relaxed ? 5 : 6);
    for (let i = 1; i <= fusedInputsMax; i++) {
      for (let o = 1; o <= fusedOutputsMax; o++) {
        const length = [1, 31, 33, 257, wasmChunkBytes + 17][(i + o) % 5];
        const coefs = { inputs: i, outputs: o, data: randomBytes(next, i * o) };
        const ins = Array.from({ length: i }, () => randomBytes(next, length));
        const want = Array.from({ length: o }, () => new Uint8Array(length));
        const got = Array.from({ length: o }, () => new Uint8Array(length).fill(0xa5));
        tsKernel.multiply(coefs, ins, want, length);
        wasm.multiply(coefs, ins, got, length);
        for (let k = 0; k < o; k++) if (Buffer.compare(got[k], want[k]) !== 0) throw new Error(`shape ${i}x${o} length ${length} output ${k}`);
      }
    }
  });
}

test("coefficients of 0 and 1 (specialised code: skipped, plain xor) give the table kernel's result", () => {
  const wasm = createWasmKernel()!;
  const next = rng(8);
  const pick = () => [0, 1, 2 + (next() % 254)][next() % 3];
  for (let trial = 0; trial < 60; trial++) {
    const i = 1 + (next() % fusedInputsMax);
    const o = 1 + (next() % fusedOutputsMax);
    const data = Uint8Array.from({ length: i * o }, pick);
    if (trial % 10 === 0) data.fill(0, 0, i); // an all-zero row
    if (trial % 10 === 1) data.fill(1); // xor only
    const length = [16, 100, 4097][trial % 3];
    const ins = Array.from({ length: i }, () => randomBytes(next, length));
    const want = Array.from({ length: o }, () => new Uint8Array(length));
    const got = Array.from({ length: o }, () => new Uint8Array(length).fill(0xa5));
    tsKernel.multiply({ inputs: i, outputs: o, data }, ins, want, length);
    wasm.multiply({ inputs: i, outputs: o, data }, ins, got, length);
    for (let k = 0; k < o; k++) if (Buffer.compare(got[k], want[k]) !== 0) throw new Error(`trial ${trial} ${i}x${o}: output ${k}`);
    // and in place, through an arena
    const arena = wasm.arena(i + o, length);
    ins.forEach((s, k) => arena.shards[k].set(s));
    arena.multiply({ inputs: i, outputs: o, data }, [...Array(i).keys()], Array.from({ length: o }, (_, k) => i + k));
    for (let k = 0; k < o; k++) if (Buffer.compare(arena.shards[i + k], want[k]) !== 0) throw new Error(`trial ${trial} in place: output ${k}`);
  }
});
