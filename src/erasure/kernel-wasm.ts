/**
 * Drives the generated WebAssembly SIMD kernels. Two ways in:
 *  - `multiply` on caller buffers: copies the shards through one small WebAssembly memory a
 *    chunk at a time (the working set stays in cache), runs the kernel, copies outputs back;
 *  - `arena`: shard buffers that live in a WebAssembly memory of their own, multiplied in place.
 * Shapes larger than one fused kernel are split: outputs into groups, inputs into groups whose
 * products are xor-accumulated with the kernel's `acc` entry point.
 */
import { assert } from "../util/assert.ts";
import { nibbleTables } from "./gf256.ts";
import type { Coefficients, Kernel, ShardArena } from "./kernel.ts";
import { generateKernelModule, hasTable, type KernelProgram, kindOf, kindsOf, matrixProgram, nibbleTableBytes, vectorBytes } from "./wasm-gen.ts";

/** Per-shard bytes per kernel call in the copying path: (inputs + outputs) chunks sit in L2. */
export const wasmChunkBytes = 64 * 1024;
/** Fused limits: beyond these the shape is split (keeps generated code and locals small). */
export const fusedInputsMax = 16;
export const fusedOutputsMax = 8;
export const wasmUnroll = 2;
/** A program (Coefficients.program) runs fused only within these limits; else the dense matrix does. */
export const programRowsMax = 32;
export const programTablesMax = 256;
/** A WebAssembly memory is at most 4 GiB; arenas stay well under. */
export const arenaBytesMax = 1024 * 1024 * 1024;

const pageBytes = 64 * 1024;
const stepBytes = vectorBytes * wasmUnroll;
const tablesAddr = 0;
const pointersAddr = Math.max(programTablesMax, fusedInputsMax * fusedOutputsMax) * nibbleTableBytes;
const dataAddr = pointersAddr + (fusedInputsMax + fusedOutputsMax) * 4;
const dataAlignBytes = 64;

type KernelFn = (tablesAddr: number, pointersAddr: number, lengthBytes: number) => void;
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

/** Compiled modules kept (LRU): one per shape and pattern of 0/1/general coefficients. */
export const compiledModulesMax = 64;
const modules = new Map<string, WebAssembly.Module>();
function compiled(block: Block, relaxed: boolean): WebAssembly.Module {
  const key = `${block.key}${relaxed ? "r" : ""}`;
  let m = modules.get(key);
  if (m) {
    modules.delete(key); // re-insert: Map order is the LRU order
  } else {
    m = new WebAssembly.Module(generateKernelModule({ inputs: block.inCount, outputs: block.outCount, unroll: wasmUnroll, relaxed, program: block.program }));
    if (modules.size >= compiledModulesMax) modules.delete(modules.keys().next().value as string);
  }
  modules.set(key, m);
  return m;
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

/** One fused kernel's share of a coefficient matrix: rows [og, og + outCount), columns [ig, ig + inCount). */
interface Block {
  readonly og: number;
  readonly outCount: number;
  readonly ig: number;
  readonly inCount: number;
  readonly program: KernelProgram;
  /** Nibble tables of the general coefficients, in the kernel's order (see wasm-gen.ts). */
  readonly tables: Uint8Array;
  /** What the generated code depends on: shape and program kinds. */
  readonly key: string;
}

function makeBlock(og: number, ig: number, inCount: number, program: KernelProgram, values: Uint8Array): Block {
  const general = values.filter((c) => hasTable(kindOf(c)));
  const tables = new Uint8Array(general.length * nibbleTableBytes);
  general.forEach((c, t) => nibbleTables(c, tables, t * nibbleTableBytes));
  const outCount = program.outputRows.length;
  const key = `${inCount}x${outCount}/${program.rows}:${program.kinds.join("")}>${program.outputRows.join(",")}`;
  return { og, outCount, ig, inCount, program, tables, key };
}

const blocksByCoefs = new WeakMap<Uint8Array, Block[]>();
function blocksFor(coefs: Coefficients): Block[] {
  let blocks = blocksByCoefs.get(coefs.data);
  if (blocks) return blocks;
  blocks = [];
  const p = coefs.program;
  const programFits = p && coefs.inputs <= fusedInputsMax && coefs.outputs <= fusedOutputsMax && p.rows <= programRowsMax &&
    p.data.filter((c) => hasTable(kindOf(c))).length <= programTablesMax;
  if (p && programFits) {
    blocks.push(makeBlock(0, 0, coefs.inputs, { rows: p.rows, kinds: kindsOf(p.data), outputRows: p.outputRows }, p.data));
  } else {
    for (let og = 0; og < coefs.outputs; og += fusedOutputsMax) {
      const outCount = Math.min(fusedOutputsMax, coefs.outputs - og);
      for (let ig = 0; ig < coefs.inputs; ig += fusedInputsMax) {
        const inCount = Math.min(fusedInputsMax, coefs.inputs - ig);
        const sub = new Uint8Array(outCount * inCount);
        for (let o = 0; o < outCount; o++) sub.set(coefs.data.subarray((og + o) * coefs.inputs + ig, (og + o) * coefs.inputs + ig + inCount), o * inCount);
        blocks.push(makeBlock(og, ig, inCount, matrixProgram(inCount, outCount, kindsOf(sub)), sub));
      }
    }
  }
  blocksByCoefs.set(coefs.data, blocks);
  return blocks;
}

/** One WebAssembly memory with the kernels instantiated against it. */
class WasmMemory {
  readonly heap: Uint8Array;
  private readonly heap32: Uint32Array;
  private readonly memory: WebAssembly.Memory;
  private readonly instances = new Map<string, Instance>();

  constructor(
    dataBytes: number,
    private readonly relaxed: boolean,
  ) {
    assert(dataAddr + dataBytes <= arenaBytesMax, `erasure: ${dataBytes} bytes of shards exceed the ${arenaBytesMax}-byte arena limit`);
    const memory = new WebAssembly.Memory({ initial: Math.ceil((dataAddr + dataBytes) / pageBytes) });
    this.heap = new Uint8Array(memory.buffer);
    this.heap32 = new Uint32Array(memory.buffer);
    this.memory = memory;
  }

  private instance(block: Block): Instance {
    let found = this.instances.get(block.key);
    if (found) {
      this.instances.delete(block.key); // re-insert: LRU order
    } else {
      const exports = new WebAssembly.Instance(compiled(block, this.relaxed), { env: { memory: this.memory } }).exports;
      found = { set: exports.set as KernelFn, acc: exports.acc as KernelFn };
      if (this.instances.size >= compiledModulesMax) this.instances.delete(this.instances.keys().next().value as string);
    }
    this.instances.set(block.key, found);
    return found;
  }

  /**
   * For a shape that fits one fused kernel: writes tables and pointers once and returns the call
   * to run over `lengthBytes` (padded) as often as needed. Valid until the next prepare/run.
   */
  prepare(coefs: Coefficients, inAddrs: readonly number[], outAddrs: readonly number[]): (lengthBytes: number) => void {
    assert(coefs.inputs <= fusedInputsMax && coefs.outputs <= fusedOutputsMax, "erasure: shape exceeds one fused kernel");
    const block = blocksFor(coefs)[0];
    this.heap.set(block.tables, tablesAddr);
    for (let i = 0; i < coefs.inputs; i++) this.heap32[pointersAddr / 4 + i] = inAddrs[i];
    for (let o = 0; o < coefs.outputs; o++) this.heap32[pointersAddr / 4 + coefs.inputs + o] = outAddrs[o];
    const k = this.instance(block).set;
    return (lengthBytes) => k(tablesAddr, pointersAddr, lengthBytes);
  }

  /**
   * Multiplies regions already in this memory: inAddrs/outAddrs are byte addresses, lengthBytes
   * a multiple of the loop step (regions must have that much room). With `accumulate` the
   * products are xored into the outputs instead of replacing them.
   */
  run(coefs: Coefficients, inAddrs: readonly number[], outAddrs: readonly number[], lengthBytes: number, accumulate = false): void {
    assert(lengthBytes % stepBytes === 0, "erasure: kernel length must be padded to the loop step");
    for (const block of blocksFor(coefs)) {
      this.heap.set(block.tables, tablesAddr);
      for (let i = 0; i < block.inCount; i++) this.heap32[pointersAddr / 4 + i] = inAddrs[block.ig + i];
      for (let o = 0; o < block.outCount; o++) this.heap32[pointersAddr / 4 + block.inCount + o] = outAddrs[block.og + o];
      const k = this.instance(block);
      (block.ig === 0 && !accumulate ? k.set : k.acc)(tablesAddr, pointersAddr, lengthBytes);
    }
  }
}

export interface WasmKernelOptions {
  readonly relaxed?: boolean;
  /** Per-shard bytes per kernel call in the copying path (default wasmChunkBytes; a multiple of 32). */
  readonly chunkBytes?: number;
}

export function createWasmKernel(options: WasmKernelOptions = {}): Kernel | null {
  const support = detectWasmSupport();
  if (!support.simd) return null;
  const relaxed = options.relaxed ?? support.relaxed;
  assert(!relaxed || support.relaxed, "kernel-wasm: relaxed SIMD requested but not supported by this engine");
  const chunkBytes = options.chunkBytes ?? wasmChunkBytes;
  assert(chunkBytes > 0 && chunkBytes % stepBytes === 0, `kernel-wasm: chunk bytes must be a positive multiple of ${stepBytes}`);
  let staging: WasmMemory | undefined; // created on first use: 1.5 MiB
  let heapBuffer: Buffer | undefined;
  const inAddrs = Array.from({ length: fusedInputsMax }, (_, i) => dataAddr + i * chunkBytes);
  const outAddrs = Array.from({ length: fusedOutputsMax }, (_, o) => dataAddr + (fusedInputsMax + o) * chunkBytes);

  const kernel: Kernel = {
    name: relaxed ? "wasm-simd-relaxed" : "wasm-simd",
    multiply(coefs, inputs, outputs, lengthBytes) {
      assert(inputs.length === coefs.inputs && outputs.length === coefs.outputs, "kernel: shard count mismatch");
      for (const s of inputs) assert(s.length >= lengthBytes, "kernel: input shorter than lengthBytes");
      for (const s of outputs) assert(s.length >= lengthBytes, "kernel: output shorter than lengthBytes");
      staging ??= new WasmMemory((fusedInputsMax + fusedOutputsMax) * chunkBytes, relaxed);
      const mem = staging;
      if (coefs.inputs <= fusedInputsMax && coefs.outputs <= fusedOutputsMax) {
        // The common shape (one fused kernel): tables and pointers are written once per call.
        // Buffer.copy takes offsets, so no subarray view is made per chunk (measured ≈4% faster than set()).
        heapBuffer ??= Buffer.from(mem.heap.buffer, mem.heap.byteOffset, mem.heap.byteLength);
        const heap = heapBuffer;
        const ins = inputs.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength));
        const outs = outputs.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength));
        const runChunk = mem.prepare(coefs, inAddrs.slice(0, coefs.inputs), outAddrs.slice(0, coefs.outputs));
        for (let start = 0; start < lengthBytes; start += chunkBytes) {
          const n = Math.min(chunkBytes, lengthBytes - start);
          for (let i = 0; i < coefs.inputs; i++) ins[i].copy(heap, inAddrs[i], start, start + n);
          // Bytes past n are stale: each byte position is independent and pads are never copied out.
          runChunk(roundUp(n, stepBytes));
          for (let o = 0; o < coefs.outputs; o++) heap.copy(outs[o], start, outAddrs[o], outAddrs[o] + n);
        }
        return;
      }
      // Wide shapes: per output group, per chunk, each input group staged and xor-accumulated.
      for (let og = 0; og < coefs.outputs; og += fusedOutputsMax) {
        const outCount = Math.min(fusedOutputsMax, coefs.outputs - og);
        const sub = subRows(coefs, og, outCount);
        const inGroups = Math.ceil(coefs.inputs / fusedInputsMax);
        for (let start = 0; start < lengthBytes; start += chunkBytes) {
          const n = Math.min(chunkBytes, lengthBytes - start);
          const padded = roundUp(n, stepBytes);
          for (let g = 0; g < inGroups; g++) {
            const ig = g * fusedInputsMax;
            const inCount = Math.min(fusedInputsMax, coefs.inputs - ig);
            for (let i = 0; i < inCount; i++) mem.heap.set(inputs[ig + i].subarray(start, start + n), inAddrs[i]);
            const part = inGroups === 1 ? sub : subCols(sub, ig, inCount);
            mem.run(part, inAddrs.slice(0, inCount), outAddrs.slice(0, outCount), padded, g > 0);
          }
          for (let o = 0; o < outCount; o++) outputs[og + o].set(mem.heap.subarray(outAddrs[o], outAddrs[o] + n), start);
        }
      }
    },
    arena(slots, shardBytes): ShardArena {
      const slotBytes = roundUp(Math.max(shardBytes, 1), dataAlignBytes);
      const mem = new WasmMemory(slots * slotBytes, relaxed);
      const addrs = Array.from({ length: slots }, (_, i) => dataAddr + i * slotBytes);
      const shards = addrs.map((a) => mem.heap.subarray(a, a + shardBytes));
      return {
        shardBytes,
        shards,
        multiply(coefs, ins, outs) {
          assert(ins.length === coefs.inputs && outs.length === coefs.outputs, "kernel: shard count mismatch");
          mem.run(coefs, ins.map((i) => addrs[i]), outs.map((o) => addrs[o]), roundUp(shardBytes, stepBytes));
        },
      };
    },
  };
  return kernel;
}

/** Rows [from, from + count) of a coefficient matrix; sub-matrices are cached per matrix so their tables are too. */
const rowCache = new WeakMap<Uint8Array, Map<string, Coefficients>>();
function subRows(c: Coefficients, from: number, count: number): Coefficients {
  if (from === 0 && count === c.outputs) return c;
  return memo(c, `r${from}:${count}`, () => ({ outputs: count, inputs: c.inputs, data: c.data.slice(from * c.inputs, (from + count) * c.inputs) }));
}
function subCols(c: Coefficients, from: number, count: number): Coefficients {
  return memo(c, `c${from}:${count}`, () => {
    const data = new Uint8Array(c.outputs * count);
    for (let o = 0; o < c.outputs; o++) data.set(c.data.subarray(o * c.inputs + from, o * c.inputs + from + count), o * count);
    return { outputs: c.outputs, inputs: count, data };
  });
}
function memo(c: Coefficients, key: string, make: () => Coefficients): Coefficients {
  let m = rowCache.get(c.data);
  if (!m) rowCache.set(c.data, (m = new Map()));
  let v = m.get(key);
  if (!v) m.set(key, (v = make()));
  return v;
}
