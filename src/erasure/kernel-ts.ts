/**
 * The portable kernel: one 64 KiB multiplication table, a byte at a time. The fallback when
 * WebAssembly SIMD is unavailable, and the baseline the SIMD kernel is benchmarked against.
 */
import { assert } from "../util/assert.ts";
import { mulTable } from "./gf256.ts";
import type { Coefficients, Kernel, ShardArena } from "./kernel.ts";

/** One 256-byte row of the multiplication table per coefficient, created once. */
const mulRows = Array.from({ length: 256 }, (_, c) => mulTable.subarray(c * 256, c * 256 + 256));

// Small monomorphic loops: the JIT compiles them the same way every run.
function xorInto(out: Uint8Array, src: Uint8Array, n: number): void {
  for (let b = 0; b < n; b++) out[b] ^= src[b];
}

function mulXorInto(out: Uint8Array, src: Uint8Array, row: Uint8Array, n: number): void {
  for (let b = 0; b < n; b++) out[b] ^= row[src[b]];
}

export const tsKernel: Kernel = {
  name: "ts-table",
  arena(slots: number, shardBytes: number): ShardArena {
    const shards = Array.from({ length: slots }, () => new Uint8Array(shardBytes));
    return {
      shardBytes,
      shards,
      multiply: (coefs, inputs, outputs) =>
        tsKernel.multiply(coefs, inputs.map((i) => shards[i]), outputs.map((o) => shards[o]), shardBytes),
    };
  },
  multiply(coefs: Coefficients, inputs: readonly Uint8Array[], outputs: readonly Uint8Array[], lengthBytes: number) {
    assert(inputs.length === coefs.inputs && outputs.length === coefs.outputs, "kernel: shard count mismatch");
    for (let o = 0; o < coefs.outputs; o++) {
      const out = outputs[o];
      assert(out.length >= lengthBytes, "kernel: output shorter than lengthBytes");
      out.fill(0, 0, lengthBytes);
      for (let i = 0; i < coefs.inputs; i++) {
        const c = coefs.data[o * coefs.inputs + i];
        if (c === 0) continue;
        const src = inputs[i];
        assert(src.length >= lengthBytes, "kernel: input shorter than lengthBytes");
        if (c === 1) xorInto(out, src, lengthBytes);
        else mulXorInto(out, src, mulRows[c], lengthBytes);
      }
    }
  },
};
