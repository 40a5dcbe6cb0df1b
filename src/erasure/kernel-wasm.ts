/**
 * Drives the generated WebAssembly SIMD kernels: copies shards into one WebAssembly memory a
 * chunk at a time (so the working set stays in cache and the memory stays small), runs the
 * kernel specialised for the shape, copies the outputs back. Shapes larger than one kernel's
 * fused limit are split: outputs into groups, inputs into groups accumulated with `acc`.
 */
import { assert } from "../util/assert.ts";
import { nibbleTables } from "./gf256.ts";
import type { Coefficients, Kernel } from "./kernel.ts";
import { generateKernelModule, nibbleTableBytes, vectorBytes } from "./wasm-gen.ts";

/** Per-shard bytes processed per kernel call: (inputs + outputs) chunks should sit in L1/L2. */
export const wasmChunkBytes = 64 * 1024;
/** Fused limits: beyond these the shape is split (keeps generated code and locals small). */
export const fusedInputsMax = 16;
export const fusedOutputsMax = 8;
export const wasmUnroll = 2;
/** Distinct (inputs, outputs) shapes compiled: bounded by the fused limits. */
export const wasmModulesMax = fusedInputsMax * fusedOutputsMax;

const pageBytes = 64 * 1024;
const tableRegionBytes = fusedInputsMax * fusedOutputsMax * nibbleTableBytes;

type KernelFn = (inBase: number, outBase: number, strideBytes: number, lengthBytes: number) => void;
interface Instance { readonly set: KernelFn; readonly acc: KernelFn }

export interface WasmSupport { readonly simd: boolean; readonly relaxed: boolean }

export function detectWasmSupport(): WasmSupport {
  const probe = (relaxed: boolean) => {
    try {
      return WebAssembly.validate(generateKernelModule({ inputs: 1, outputs: 1, unroll: 1, relaxed }));
    } catch {
      return false;
    }
  };
  const simd = probe(false);
  return { simd, relaxed: simd && probe(true) };
}

export interface WasmKernelOptions {
  readonly relaxed?: boolean;
  readonly chunkBytes?: number;
  readonly unroll?: number;
}

export function createWasmKernel(options: WasmKernelOptions = {}): Kernel | null {
  const support = detectWasmSupport();
  if (!support.simd) return null;
  const relaxed = options.relaxed ?? support.relaxed;
  assert(!relaxed || support.relaxed, "kernel-wasm: relaxed SIMD requested but not supported by this engine");
  const chunkBytes = options.chunkBytes ?? wasmChunkBytes;
  const unroll = options.unroll ?? wasmUnroll;
  const step = vectorBytes * unroll;
  assert(chunkBytes % step === 0, `kernel-wasm: chunkBytes ${chunkBytes} is not a multiple of the loop step ${step}`);
  const inBase = tableRegionBytes;
  const outBase = inBase + fusedInputsMax * chunkBytes;
  const memoryBytes = outBase + fusedOutputsMax * chunkBytes;
  const memory = new WebAssembly.Memory({ initial: Math.ceil(memoryBytes / pageBytes) });
  const heap = new Uint8Array(memory.buffer);
  const instances = new Map<number, Instance>();
  const tablesByCoefs = new WeakMap<Uint8Array, Uint8Array>();

  function instance(inputs: number, outputs: number): Instance {
    const key = inputs * 256 + outputs;
    let found = instances.get(key);
    if (!found) {
      const bytes = generateKernelModule({ inputs, outputs, unroll, relaxed });
      const mod = new WebAssembly.Module(bytes);
      const exports = new WebAssembly.Instance(mod, { env: { memory } }).exports;
      found = { set: exports.set as KernelFn, acc: exports.acc as KernelFn };
      instances.set(key, found);
    }
    return found;
  }

  function tablesFor(coefs: Coefficients): Uint8Array {
    let t = tablesByCoefs.get(coefs.data);
    if (!t) {
      t = new Uint8Array(coefs.data.length * nibbleTableBytes);
      for (let p = 0; p < coefs.data.length; p++) nibbleTables(coefs.data[p], t, p * nibbleTableBytes);
      tablesByCoefs.set(coefs.data, t);
    }
    return t;
  }

  return {
    name: relaxed ? "wasm-simd-relaxed" : "wasm-simd",
    multiply(coefs, inputs, outputs, lengthBytes) {
      assert(inputs.length === coefs.inputs && outputs.length === coefs.outputs, "kernel: shard count mismatch");
      for (const s of inputs) assert(s.length >= lengthBytes, "kernel: input shorter than lengthBytes");
      for (const s of outputs) assert(s.length >= lengthBytes, "kernel: output shorter than lengthBytes");
      const tables = tablesFor(coefs);
      for (let start = 0; start < lengthBytes; start += chunkBytes) {
        const n = Math.min(chunkBytes, lengthBytes - start);
        // Pad bytes past n hold stale data; each byte position is independent and pads are never copied out.
        const padded = Math.ceil(n / step) * step;
        for (let og = 0; og < coefs.outputs; og += fusedOutputsMax) {
          const outCount = Math.min(fusedOutputsMax, coefs.outputs - og);
          for (let ig = 0; ig < coefs.inputs; ig += fusedInputsMax) {
            const inCount = Math.min(fusedInputsMax, coefs.inputs - ig);
            for (let o = 0; o < outCount; o++) {
              const from = ((og + o) * coefs.inputs + ig) * nibbleTableBytes;
              heap.set(tables.subarray(from, from + inCount * nibbleTableBytes), o * inCount * nibbleTableBytes);
            }
            for (let i = 0; i < inCount; i++) {
              heap.set(inputs[ig + i].subarray(start, start + n), inBase + i * chunkBytes);
            }
            const k = instance(inCount, outCount);
            (ig === 0 ? k.set : k.acc)(inBase, outBase, chunkBytes, padded);
          }
          for (let o = 0; o < outCount; o++) {
            const from = outBase + o * chunkBytes;
            outputs[og + o].set(heap.subarray(from, from + n), start);
          }
        }
      }
    },
  };
}
