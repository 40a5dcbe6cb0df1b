/**
 * The pieces of the WebAssembly binary format that s3d's generated kernels (Reed-Solomon,
 * CRC) are written with: LEB128 integers, names, vectors, sections, value types and the
 * opcodes both use. Pure.
 */
import { assert } from "./assert.ts";

export const valueType = { i32: 0x7f, i64: 0x7e, v128: 0x7b } as const;

/** Control, locals, memory and integer opcodes shared by the kernels. */
export const op = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Load: 0x28, i64Load: 0x29, i32Load8U: 0x2d, i64Store: 0x37,
  i32Const: 0x41, i64Const: 0x42, i32GeU: 0x4f,
  i32Add: 0x6a, i32And: 0x71, i32Xor: 0x73, i32Shl: 0x74, i32ShrU: 0x76,
  i64Xor: 0x85, i64ShrU: 0x88,
  i32WrapI64: 0xa7,
  simd: 0xfd,
} as const;

export function uleb(n: number): number[] {
  assert(Number.isInteger(n) && n >= 0, `wasm: bad unsigned LEB value ${n}`);
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

export function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

export function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

export function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** Further scalar opcodes (the MD5 kernel's): stores, or, sub, rotate, comparisons, if. */
export const opMore = {
  if: 0x04, else: 0x05, i32Store: 0x36, i32Eqz: 0x45, i32Ne: 0x47, i32LtU: 0x49,
  i32Sub: 0x6b, i32Or: 0x72, i32Rotl: 0x77,
} as const;

/** SIMD128 opcodes (after the 0xfd prefix, LEB128-encoded), by their text-format names. */
export const simdOp = {
  v128Load: 0x00, v128Store: 0x0b, i8x16Shuffle: 0x0d, i32x4Splat: 0x11,
  v128Not: 0x4d, v128And: 0x4e, v128Andnot: 0x4f, v128Or: 0x50, v128Xor: 0x51, v128Bitselect: 0x52,
  v128Load32Lane: 0x56, i32x4Shl: 0xab, i32x4ShrU: 0xad, i32x4Add: 0xae, i32x4Sub: 0xb1,
} as const;

/**
 * An emitter over one function body: locals, constants, raw opcodes, memory access and SIMD,
 * and the body's encoding with its local declarations. Kernel generators extend it with their
 * own compound instructions.
 */
export class FunctionBody {
  readonly c: number[] = [];
  get(l: number) { this.c.push(op.localGet, ...uleb(l)); }
  set(l: number) { this.c.push(op.localSet, ...uleb(l)); }
  tee(l: number) { this.c.push(op.localTee, ...uleb(l)); }
  i32(n: number) { this.c.push(op.i32Const, ...sleb(n | 0)); }
  emit(...codes: number[]) { this.c.push(...codes); }
  simd(code: number) { this.c.push(op.simd, ...uleb(code)); }
  /** memarg: alignment exponent, then constant offset */
  mem(code: number, alignLog2: number, offset: number) { this.c.push(code, ...uleb(alignLog2), ...uleb(offset)); }
  encode(localGroups: [count: number, type: number][]): number[] {
    const body = [...vec(localGroups.filter(([n]) => n > 0).map(([n, t]) => [...uleb(n), t])), ...this.c, op.end];
    return [...uleb(body.length), ...body];
  }
}
