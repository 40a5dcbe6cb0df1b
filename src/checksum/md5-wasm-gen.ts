/**
 * Emits, as raw WebAssembly binary, MD5 compression kernels that hash several independent
 * streams at once: stream ("lane") l's state words sit in 32-bit lane l % 4 of four v128 values,
 * so one i32x4 instruction advances four MD5 streams by the same step ("multi-buffer" MD5). MD5
 * has no parallelism inside one stream (each step needs the previous one), but concurrent uploads
 * are independent streams. Pure: the same options always give the same bytes.
 *
 * Three entry points share one memory layout, so a lane's state can move between them:
 *   md5x4(blocks)        lanes 0..3, one v128 per state word
 *   md5x8(blocks)        lanes 0..7, two v128 sets interleaved step by step: while one set waits
 *                        on its step's latency chain the other's instructions fill the gap
 *   md5x1(lane, blocks)  one lane with i32 arithmetic: for when only one stream has data
 * Each hashes `blocks` 64-byte blocks of every lane it covers, lane l reading from the address in
 * pointer slot l (advanced by the kernel past what it read). A lane whose mask word is 0 has its
 * state left as it was (its pointer must still be readable: it is read and the result dropped).
 *
 * Round 4's I(b, c, d) = c ^ (b | ~d) = ~(c ^ (~b & d)), and a + ~x = a - x - 1: so the kernel
 * subtracts c ^ andnot(d, b) and its K table holds K - 1 for those steps (no vector NOT on x86).
 */
import { assert } from "../util/assert.ts";
import { FunctionBody, name, op, opMore, section, simdOp, uleb, valueType, vec } from "../util/wasm-encode.ts";

/** Memory layout shared by the kernels and their driver (md5-lanes.ts). Addresses in bytes. */
export const md5Layout = {
  /** 64 K constants, each splatted to 16 bytes (K - 1 for steps 48..63). */
  kAddr: 0,
  /** Per set of four lanes, 16 bytes: lane word all ones = active, 0 = keep its state. */
  maskAddr: 1024,
  /** Eight u32 data pointers, one per lane. */
  pointersAddr: 1056,
  /** Per set: A, B, C, D as four v128 (lane l of the set in 32-bit lane l). */
  stateAddr: 1088,
  /** Per set: the block's 16 message words, transposed (word g of every lane in one v128). */
  scratchAddr: 1216,
  /** Where a driver may put data. */
  dataAddr: 2048,
  lanesMax: 8,
} as const;

/** How the four lanes' message words are brought into v128 form. */
export type Gather = "shuffle" | "lane";

export interface Md5KernelOptions {
  /** "shuffle": four 16-byte loads and a 4×4 transpose of i8x16.shuffles per 16 bytes of each lane;
   * "lane": one i32 load, a splat and three v128.load32_lane per word. */
  readonly gather: Gather;
  readonly memoryPages: number;
}

/** MD5's per-step additive constants: floor(|sin(i + 1)| * 2^32). */
export const md5K: readonly number[] = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);
const shifts = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
/** The message word step i adds. */
const wordOf = (i: number) => (i < 16 ? i : i < 32 ? (5 * i + 1) % 16 : i < 48 ? (3 * i + 5) % 16 : (7 * i) % 16);
const shiftOf = (i: number) => shifts[(i >> 4) * 4 + (i & 3)];

/** The K table as the kernel reads it: K[i] (K[i] - 1 in round 4) in each of 4 lanes. */
export function md5KTable(): Uint32Array {
  const t = new Uint32Array(64 * 4);
  for (let i = 0; i < 64; i++) t.fill((md5K[i] - (i >= 48 ? 1 : 0)) >>> 0, 4 * i, 4 * i + 4);
  return t;
}

const I32 = valueType.i32;
const V128 = valueType.v128;

/** The function-body emitter with the SIMD kernel's vector loads, stores and lane shuffles. */
class Body extends FunctionBody {
  vload(offset: number) { this.simd(simdOp.v128Load); this.c.push(...uleb(4), ...uleb(offset)); }
  vstore(offset: number) { this.simd(simdOp.v128Store); this.c.push(...uleb(4), ...uleb(offset)); }
  /** i8x16.shuffle selecting 32-bit lanes: 0..3 from the first operand, 4..7 from the second. */
  shuffle32(lanes: [number, number, number, number]) {
    this.simd(simdOp.i8x16Shuffle);
    for (const l of lanes) for (let b = 0; b < 4; b++) this.c.push(4 * l + b);
  }
}

/** Locals of one set of four lanes in the SIMD kernel. */
interface SetLocals { ptr: number[]; st: number[]; t: number; v: number[]; u: number[] }

/** Gathers one block of each of the set's four lanes into its scratch area, word-transposed. */
function gatherBlock(b: Body, s: number, L: SetLocals, gather: Gather): void {
  const scratch = md5Layout.scratchAddr + 256 * s;
  if (gather === "lane") {
    for (let g = 0; g < 16; g++) {
      b.i32(0);
      b.get(L.ptr[0]); b.mem(op.i32Load, 2, 4 * g); b.simd(simdOp.i32x4Splat);
      for (let l = 1; l < 4; l++) {
        b.set(L.t);
        b.get(L.ptr[l]); b.get(L.t);
        b.simd(simdOp.v128Load32Lane); b.emit(...uleb(2), ...uleb(4 * g), l);
      }
      b.vstore(scratch + 16 * g);
    }
    return;
  }
  const [v0, v1, v2, v3] = L.v;
  const [t0, t1, t2, t3] = L.u;
  const pair = (x: number, y: number, lanes: [number, number, number, number], into: number) => {
    b.get(x); b.get(y); b.shuffle32(lanes); b.set(into);
  };
  for (let j = 0; j < 4; j++) {
    L.v.forEach((v, l) => { b.get(L.ptr[l]); b.vload(16 * j); b.set(v); });
    // (v0[k], v1[k], v2[k], v3[k]) for k = 0..3: a 32-bit interleave, then a 64-bit one
    pair(v0, v1, [0, 4, 1, 5], t0);
    pair(v2, v3, [0, 4, 1, 5], t1);
    pair(v0, v1, [2, 6, 3, 7], t2);
    pair(v2, v3, [2, 6, 3, 7], t3);
    const word = (k: number, x: number, y: number, lanes: [number, number, number, number]) => {
      b.i32(0); b.get(x); b.get(y); b.shuffle32(lanes);
      b.vstore(scratch + 16 * (4 * j + k));
    };
    word(0, t0, t1, [0, 1, 4, 5]);
    word(1, t0, t1, [2, 3, 6, 7]);
    word(2, t2, t3, [0, 1, 4, 5]);
    word(3, t2, t3, [2, 3, 6, 7]);
  }
}

/**
 * One MD5 step on a set: a = b + rotl(a + f(b, c, d) + K[i] + M[g], s), with the roles of the
 * four state locals rotating (step i's a is local (4 - i) % 4) instead of moving values.
 */
function simdStep(b: Body, s: number, L: SetLocals, i: number): void {
  const role = (r: number) => L.st[(r - i + 64) & 3];
  const [A, B, C, D] = [role(0), role(1), role(2), role(3)];
  const scratch = md5Layout.scratchAddr + 256 * s;
  b.get(A);
  b.i32(0); b.vload(md5Layout.kAddr + 16 * i); b.simd(simdOp.i32x4Add);
  b.i32(0); b.vload(scratch + 16 * wordOf(i)); b.simd(simdOp.i32x4Add);
  // Each step waits on the previous one's b, so every function is written with the fewest
  // operations after b: terms of c and d alone come first (their inputs are older).
  if (i < 16) {
    // F = (b & c) | (~b & d) = ((c ^ d) & b) ^ d: a bitselect, but JSC lowers that to four instructions
    b.get(C); b.get(D); b.simd(simdOp.v128Xor); b.get(B); b.simd(simdOp.v128And); b.get(D); b.simd(simdOp.v128Xor);
    b.simd(simdOp.i32x4Add);
  } else if (i < 32) {
    // G = (d & b) | (~d & c): the two terms share no bits, so | is +, and only d & b waits on b
    b.get(C); b.get(D); b.simd(simdOp.v128Andnot); b.simd(simdOp.i32x4Add);
    b.get(B); b.get(D); b.simd(simdOp.v128And); b.simd(simdOp.i32x4Add);
  } else if (i < 48) {
    b.get(C); b.get(D); b.simd(simdOp.v128Xor); b.get(B); b.simd(simdOp.v128Xor); // H = (c ^ d) ^ b
    b.simd(simdOp.i32x4Add);
  } else {
    b.get(C); b.get(D); b.get(B); b.simd(simdOp.v128Andnot); b.simd(simdOp.v128Xor); // ~I, see the file comment
    b.simd(simdOp.i32x4Sub);
  }
  b.tee(L.t);
  const r = shiftOf(i);
  b.i32(r); b.simd(simdOp.i32x4Shl);
  b.get(L.t); b.i32(32 - r); b.simd(simdOp.i32x4ShrU);
  b.simd(simdOp.v128Or);
  b.get(B); b.simd(simdOp.i32x4Add);
  b.set(A);
}

function simdBody(sets: number, gather: Gather): number[] {
  // param 0: blocks; i32 locals, then v128 locals
  let next = 1;
  const ptrs = Array.from({ length: 4 * sets }, () => next++);
  const i32Count = next - 1;
  const L: SetLocals[] = Array.from({ length: sets }, (_, s) => ({
    ptr: ptrs.slice(4 * s, 4 * s + 4),
    st: [next++, next++, next++, next++],
    t: next++,
    v: [next++, next++, next++, next++],
    u: [next++, next++, next++, next++],
  }));
  const v128Count = next - 1 - i32Count;
  const b = new Body();
  ptrs.forEach((p, l) => { b.i32(0); b.mem(op.i32Load, 2, md5Layout.pointersAddr + 4 * l); b.set(p); });

  b.emit(op.block, 0x40, op.loop, 0x40);
  b.get(0); b.emit(opMore.i32Eqz, op.brIf, 1);
  for (let s = 0; s < sets; s++) {
    gatherBlock(b, s, L[s], gather);
    L[s].st.forEach((v, w) => { b.i32(0); b.vload(md5Layout.stateAddr + 64 * s + 16 * w); b.set(v); });
  }
  for (let i = 0; i < 64; i++) for (let s = 0; s < sets; s++) simdStep(b, s, L[s], i);
  // state += result, only in active lanes: bitselect(old + new, old, mask)
  for (let s = 0; s < sets; s++) {
    const mask = md5Layout.maskAddr + 16 * s;
    L[s].st.forEach((v, w) => {
      const at = md5Layout.stateAddr + 64 * s + 16 * w;
      b.i32(0);
      b.get(v); b.i32(0); b.vload(at); b.simd(simdOp.i32x4Add);
      b.i32(0); b.vload(at);
      b.i32(0); b.vload(mask);
      b.simd(simdOp.v128Bitselect);
      b.vstore(at);
    });
    for (const p of L[s].ptr) { b.get(p); b.i32(64); b.emit(op.i32Add); b.set(p); }
  }
  b.get(0); b.i32(1); b.emit(opMore.i32Sub); b.set(0);
  b.emit(op.br, 0, op.end, op.end);
  ptrs.forEach((p, l) => { b.i32(0); b.get(p); b.mem(opMore.i32Store, 2, md5Layout.pointersAddr + 4 * l); });
  return b.encode([[i32Count, I32], [v128Count, V128]]);
}

/** The scalar kernel: one lane, its state read from and written to its slots in the v128 layout. */
function scalarBody(): number[] {
  // params: 0 lane, 1 blocks; locals: 2 ptr, 3 stateAt, 4..7 a b c d, 8 t
  const [lane, blocks, ptr, at] = [0, 1, 2, 3];
  const st = [4, 5, 6, 7];
  const b = new Body();
  b.get(lane); b.i32(2); b.emit(op.i32Shl); b.mem(op.i32Load, 2, md5Layout.pointersAddr); b.set(ptr);
  // stateAddr + 64 * (lane >> 2) + 4 * (lane & 3)
  b.get(lane); b.i32(2); b.emit(op.i32ShrU); b.i32(6); b.emit(op.i32Shl);
  b.get(lane); b.i32(3); b.emit(op.i32And); b.i32(2); b.emit(op.i32Shl);
  b.emit(op.i32Add); b.i32(md5Layout.stateAddr); b.emit(op.i32Add); b.set(at);
  b.emit(op.block, 0x40, op.loop, 0x40);
  b.get(blocks); b.emit(opMore.i32Eqz, op.brIf, 1);
  st.forEach((v, w) => { b.get(at); b.mem(op.i32Load, 2, 16 * w); b.set(v); });
  for (let i = 0; i < 64; i++) {
    const role = (r: number) => st[(r - i + 64) & 3];
    const [A, B, C, D] = [role(0), role(1), role(2), role(3)];
    b.get(A); b.i32(md5K[i]); b.emit(op.i32Add);
    b.get(ptr); b.mem(op.i32Load, 0, 4 * wordOf(i)); b.emit(op.i32Add);
    // as in simdStep: the terms of c and d alone first, the fewest operations after b
    if (i < 16) { b.get(C); b.get(D); b.emit(op.i32Xor); b.get(B); b.emit(op.i32And); b.get(D); b.emit(op.i32Xor, op.i32Add); }
    else if (i < 32) { b.get(D); b.i32(-1); b.emit(op.i32Xor); b.get(C); b.emit(op.i32And, op.i32Add); b.get(B); b.get(D); b.emit(op.i32And, op.i32Add); }
    else if (i < 48) { b.get(C); b.get(D); b.emit(op.i32Xor); b.get(B); b.emit(op.i32Xor, op.i32Add); }
    else { b.get(C); b.get(B); b.get(D); b.i32(-1); b.emit(op.i32Xor, opMore.i32Or, op.i32Xor, op.i32Add); }
    b.i32(shiftOf(i)); b.emit(opMore.i32Rotl);
    b.get(B); b.emit(op.i32Add);
    b.set(A);
  }
  st.forEach((v, w) => { b.get(at); b.get(v); b.get(at); b.mem(op.i32Load, 2, 16 * w); b.emit(op.i32Add); b.mem(opMore.i32Store, 2, 16 * w); });
  b.get(ptr); b.i32(64); b.emit(op.i32Add); b.set(ptr);
  b.get(blocks); b.i32(1); b.emit(opMore.i32Sub); b.set(blocks);
  b.emit(op.br, 0, op.end, op.end);
  b.get(lane); b.i32(2); b.emit(op.i32Shl); b.get(ptr); b.mem(opMore.i32Store, 2, md5Layout.pointersAddr);
  return b.encode([[7, I32]]);
}

/** The module: its own memory (exported as `memory`), and md5x4, md5x8, md5x1. */
export function generateMd5Module(options: Md5KernelOptions): Uint8Array<ArrayBuffer> {
  assert(options.memoryPages * 65536 > md5Layout.dataAddr, "md5-wasm-gen: memory smaller than the layout");
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types = section(1, vec([[0x60, ...vec([[I32]]), ...vec([])], [0x60, ...vec([[I32], [I32]]), ...vec([])]]));
  const funcs = section(3, vec([[0], [0], [1]]));
  const memory = section(5, vec([[0x00, ...uleb(options.memoryPages)]]));
  const exports = section(7, vec([
    [...name("md5x4"), 0x00, 0],
    [...name("md5x8"), 0x00, 1],
    [...name("md5x1"), 0x00, 2],
    [...name("memory"), 0x02, 0],
  ]));
  const code = section(10, vec([simdBody(1, options.gather), simdBody(2, options.gather), scalarBody()]));
  return new Uint8Array([...header, ...types, ...funcs, ...memory, ...exports, ...code]);
}
