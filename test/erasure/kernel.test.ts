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
