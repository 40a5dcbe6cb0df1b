/**
 * Drives the generated WASM CRC kernels: one module instance per JS realm (a Worker gets its
 * own), its memory holding the slicing tables, an 8-byte CRC-64 state slot and a staging area
 * that input is copied through a chunk at a time (the copy runs at memcpy speed, an order of
 * magnitude above the CRC, and the staged chunk stays in L2).
 *
 * Values crossing this file's API are final CRC values (after the xorout), so they chain the
 * way zlib's crc32(data, previous) does: update(update(init, A), B) === update(init, A || B).
 */
import { assert } from "../util/assert.ts";
import {
  crc32cPolyReflected,
  crc32SlicingTables,
  crc64NvmePolyReflectedHi,
  crc64NvmePolyReflectedLo,
  crc64SlicingTables,
} from "./crc-tables.ts";
import { type CrcKernelLayout, generateCrcModule } from "./crc-wasm-gen.ts";

/** Input bytes per kernel call: big enough to amortise the call, small enough to stay in L2. */
export const crcStagingBytes = 64 * 1024;
const pageBytes = 64 * 1024;

const crc32Slices = 16;
const crc64Slices = 16;
const crc32TablesAddr = 0;
const crc64TablesAddr = crc32TablesAddr + crc32Slices * 256 * 4;
const stateAddr = crc64TablesAddr + crc64Slices * 256 * 8;
const stagingAddr = Math.ceil((stateAddr + 8) / pageBytes) * pageBytes;

export const crcKernelLayout: CrcKernelLayout = {
  crc32Slices,
  crc64Slices,
  crc32TablesAddr,
  crc64TablesAddr,
  memoryPages: (stagingAddr + crcStagingBytes) / pageBytes,
};

interface CrcExports {
  crc32c(crc: number, ptr: number, len: number): number;
  crc64(statePtr: number, ptr: number, len: number): void;
  memory: WebAssembly.Memory;
}

const instance = new WebAssembly.Instance(new WebAssembly.Module(generateCrcModule(crcKernelLayout)), {});
const kernel = instance.exports as unknown as CrcExports;
// The module never grows its memory, so these views stay valid.
const heap = new Uint8Array(kernel.memory.buffer);
const heap32 = new Uint32Array(kernel.memory.buffer);
heap32.set(crc32SlicingTables(crc32cPolyReflected, crc32Slices), crc32TablesAddr / 4);
heap32.set(crc64SlicingTables(crc64NvmePolyReflectedHi, crc64NvmePolyReflectedLo, crc64Slices), crc64TablesAddr / 4);
assert(stagingAddr + crcStagingBytes <= heap.length, "crc-kernel: memory smaller than layout");

// No JS path for short inputs: a byte loop in JS measured slower than the copy plus the call
// into WASM even at 16 bytes (~70 ns against ~30 ns per update).

/** CRC-32C of `data` continuing from `previous` (0 for a fresh checksum); returns the new CRC. */
export function crc32c(data: Uint8Array, previous = 0): number {
  let reg = ~previous | 0;
  const n = data.length;
  if (n <= crcStagingBytes) {
    heap.set(data, stagingAddr);
    reg = kernel.crc32c(reg, stagingAddr, n);
  } else {
    for (let off = 0; off < n; off += crcStagingBytes) {
      const chunk = data.subarray(off, off + crcStagingBytes);
      heap.set(chunk, stagingAddr);
      reg = kernel.crc32c(reg, stagingAddr, chunk.length);
    }
  }
  return ~reg >>> 0;
}

/**
 * CRC-64/NVME of `data` continuing from the CRC held in `state` ([lo, hi] u32 halves of the
 * 64-bit value; [0, 0] for a fresh checksum), updated in place. Halves, not a BigInt, so the
 * streaming path allocates nothing.
 */
export function crc64nvmeUpdate(state: Uint32Array, data: Uint8Array): void {
  const n = data.length;
  const slot = stateAddr / 4;
  heap32[slot] = ~state[0];
  heap32[slot + 1] = ~state[1];
  if (n <= crcStagingBytes) {
    heap.set(data, stagingAddr);
    kernel.crc64(stateAddr, stagingAddr, n);
  } else {
    for (let off = 0; off < n; off += crcStagingBytes) {
      const chunk = data.subarray(off, off + crcStagingBytes);
      heap.set(chunk, stagingAddr);
      kernel.crc64(stateAddr, stagingAddr, chunk.length);
    }
  }
  state[0] = ~heap32[slot];
  state[1] = ~heap32[slot + 1];
}
