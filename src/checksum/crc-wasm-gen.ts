/**
 * Emits, as raw WebAssembly binary, the table-driven CRC kernels for CRC-32C and CRC-64/NVME.
 * Pure: the same layout always gives the same bytes. Generated from TypeScript so nothing is
 * read from disk and no toolchain is needed: the kernel travels inside `bun build --compile`.
 *
 * Why WASM and not TS: the inner loop of a slicing CRC is loads, shifts and xors on 32/64-bit
 * words. In TS a 64-bit CRC needs two 32-bit halves (twice the work) and every table read is
 * bounds-checked; in WASM an i64 register holds the CRC and a table read is one load with the
 * table's base folded into the instruction's constant offset.
 *
 * Exports (memory is the module's own, exported as `memory`):
 *   crc32c(crc: i32, ptr: i32, len: i32) -> i32   register in, register out (no pre/post inversion)
 *   crc64(statePtr: i32, ptr: i32, len: i32)      i64 register read from and written back to statePtr
 * Slicing tables must be written by the caller at the layout's table addresses.
 */
import { assert } from "../util/assert.ts";
import { FunctionBody, name, op, section, sleb, uleb, valueType, vec } from "../util/wasm-encode.ts";

export interface CrcKernelLayout {
  /** Bytes folded per loop step: a power of two, at least 4 for CRC-32C and 8 for CRC-64 (the step count is len & -slices). */
  readonly crc32Slices: number;
  readonly crc64Slices: number;
  readonly crc32TablesAddr: number;
  readonly crc64TablesAddr: number;
  readonly memoryPages: number;
}

const I32 = valueType.i32;
const I64 = valueType.i64;

/** The function-body emitter with the CRC kernels' balanced xor trees. */
class Body extends FunctionBody {
  /** Xor-reduce `count` values produced by `leaf(i)` as a balanced tree, for instruction-level parallelism. */
  xorTree(count: number, leaf: (i: number) => void, xorOp: number) {
    const rec = (from: number, to: number) => {
      if (to - from === 1) return leaf(from);
      const mid = (from + to) >> 1;
      rec(from, mid);
      rec(mid, to);
      this.emit(xorOp);
    };
    rec(0, count);
  }
}

/**
 * Pushes the byte offset of table entry ((word >>> 8 * byteIndex) & 0xff) for entries of
 * 2^entryLog2 bytes: one shift and one mask.
 */
function pushIndex(b: Body, wordLocal: number, byteIndex: number, entryLog2: number) {
  const shift = 8 * byteIndex - entryLog2;
  b.get(wordLocal);
  if (shift < 0) { b.i32(-shift); b.emit(op.i32Shl); } else if (shift > 0) { b.i32(shift); b.emit(op.i32ShrU); }
  b.i32(0xff << entryLog2); b.emit(op.i32And);
}

function crc32cBody(layout: CrcKernelLayout): number[] {
  const n = layout.crc32Slices;
  assert(n >= 4 && (n & (n - 1)) === 0, "crc-wasm-gen: crc32Slices must be a power of two >= 4");
  // params: 0 crc, 1 ptr, 2 len
  const [crc, ptr, len] = [0, 1, 2];
  const end = 3;
  const blockEnd = 4;
  const words = Array.from({ length: n / 4 }, (_, i) => 5 + i);
  const b = new Body();
  b.get(ptr); b.get(len); b.emit(op.i32Add); b.set(end);
  b.get(ptr); b.get(len); b.i32(-n); b.emit(op.i32And, op.i32Add); b.set(blockEnd);

  b.emit(op.block, 0x40, op.loop, 0x40);
  b.get(ptr); b.get(blockEnd); b.emit(op.i32GeU, op.brIf, 1);
  words.forEach((w, j) => {
    b.get(ptr); b.mem(op.i32Load, 0, 4 * j);
    if (j === 0) { b.get(crc); b.emit(op.i32Xor); }
    b.set(w);
  });
  // byte i of the step (word i >> 2, byte i & 3) goes through table n - 1 - i
  b.xorTree(n, (i) => {
    pushIndex(b, words[i >> 2], i & 3, 2);
    b.mem(op.i32Load, 2, layout.crc32TablesAddr + (n - 1 - i) * 1024);
  }, op.i32Xor);
  b.set(crc);
  b.get(ptr); b.i32(n); b.emit(op.i32Add); b.set(ptr);
  b.emit(op.br, 0, op.end, op.end);

  // tail, a byte at a time: crc = T0[(crc ^ byte) & 0xff] ^ (crc >>> 8)
  b.emit(op.block, 0x40, op.loop, 0x40);
  b.get(ptr); b.get(end); b.emit(op.i32GeU, op.brIf, 1);
  b.get(crc); b.get(ptr); b.mem(op.i32Load8U, 0, 0); b.emit(op.i32Xor);
  b.i32(0xff); b.emit(op.i32And); b.i32(2); b.emit(op.i32Shl);
  b.mem(op.i32Load, 2, layout.crc32TablesAddr);
  b.get(crc); b.i32(8); b.emit(op.i32ShrU, op.i32Xor); b.set(crc);
  b.get(ptr); b.i32(1); b.emit(op.i32Add); b.set(ptr);
  b.emit(op.br, 0, op.end, op.end);
  b.get(crc);
  return b.encode([[2 + words.length, I32]]);
}

function crc64Body(layout: CrcKernelLayout): number[] {
  const n = layout.crc64Slices;
  assert(n >= 8 && (n & (n - 1)) === 0, "crc-wasm-gen: crc64Slices must be a power of two >= 8");
  // params: 0 statePtr, 1 ptr, 2 len; i32 locals then i64 locals
  const [statePtr, ptr, len] = [0, 1, 2];
  const end = 3;
  const blockEnd = 4;
  const halves = Array.from({ length: n / 4 }, (_, i) => 5 + i);
  const crc = 5 + halves.length;
  const word = crc + 1;
  const b = new Body();
  b.get(statePtr); b.mem(op.i64Load, 3, 0); b.set(crc);
  b.get(ptr); b.get(len); b.emit(op.i32Add); b.set(end);
  b.get(ptr); b.get(len); b.i32(-n); b.emit(op.i32And, op.i32Add); b.set(blockEnd);

  b.emit(op.block, 0x40, op.loop, 0x40);
  b.get(ptr); b.get(blockEnd); b.emit(op.i32GeU, op.brIf, 1);
  for (let j = 0; j < n / 8; j++) {
    b.get(ptr); b.mem(op.i64Load, 0, 8 * j);
    if (j === 0) { b.get(crc); b.emit(op.i64Xor); }
    // split into 32-bit halves so index arithmetic is i32 (cheaper than i64 shifts + wrap per byte)
    b.tee(word); b.emit(op.i32WrapI64); b.set(halves[2 * j]);
    b.get(word); b.emit(op.i64Const, ...sleb(32), op.i64ShrU, op.i32WrapI64); b.set(halves[2 * j + 1]);
  }
  b.xorTree(n, (i) => {
    pushIndex(b, halves[i >> 2], i & 3, 3);
    b.mem(op.i64Load, 3, layout.crc64TablesAddr + (n - 1 - i) * 2048);
  }, op.i64Xor);
  b.set(crc);
  b.get(ptr); b.i32(n); b.emit(op.i32Add); b.set(ptr);
  b.emit(op.br, 0, op.end, op.end);

  b.emit(op.block, 0x40, op.loop, 0x40);
  b.get(ptr); b.get(end); b.emit(op.i32GeU, op.brIf, 1);
  b.get(crc); b.emit(op.i32WrapI64); b.get(ptr); b.mem(op.i32Load8U, 0, 0); b.emit(op.i32Xor);
  b.i32(0xff); b.emit(op.i32And); b.i32(3); b.emit(op.i32Shl);
  b.mem(op.i64Load, 3, layout.crc64TablesAddr);
  b.get(crc); b.emit(op.i64Const, ...sleb(8), op.i64ShrU, op.i64Xor); b.set(crc);
  b.get(ptr); b.i32(1); b.emit(op.i32Add); b.set(ptr);
  b.emit(op.br, 0, op.end, op.end);
  b.get(statePtr); b.get(crc); b.mem(op.i64Store, 3, 0);
  return b.encode([[2 + halves.length, I32], [2, I64]]);
}

export function generateCrcModule(layout: CrcKernelLayout): Uint8Array {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const params = vec([[I32], [I32], [I32]]);
  const types = section(1, vec([[0x60, ...params, ...vec([[I32]])], [0x60, ...params, ...vec([])]]));
  const funcs = section(3, vec([[0], [1]]));
  const memory = section(5, vec([[0x00, ...uleb(layout.memoryPages)]]));
  const exports = section(7, vec([
    [...name("crc32c"), 0x00, 0],
    [...name("crc64"), 0x00, 1],
    [...name("memory"), 0x02, 0],
  ]));
  const code = section(10, vec([crc32cBody(layout), crc64Body(layout)]));
  return new Uint8Array([...header, ...types, ...funcs, ...memory, ...exports, ...code]);
}
