/**
 * Emits, as raw WebAssembly binary, a GF(2^8) matrix-multiply kernel specialised for one shape
 * (inputs × outputs). Pure: the same shape always gives the same bytes. Generating the module
 * from TypeScript at run time means no toolchain at install and nothing to read from disk: the
 * kernel travels inside `bun build --compile` like any other code.
 *
 * The kernel is the split-nibble multiply (ISA-L's and klauspost/reedsolomon's PSHUFB trick):
 * c*x = lo_c[x & 15] ^ hi_c[x >> 4], sixteen bytes at a time with i8x16.swizzle. It is fused:
 * each input vector is loaded once and every output is accumulated in a local, stored once.
 *
 * Calling contract: fn(tablesAddr, pointersAddr, lengthBytes), memory imported as env.memory.
 *   tablesAddr + (o * inputs + i) * 32   nibble tables for output o, input i: lo[16] then hi[16]
 *   pointersAddr + 4 * i                  u32 address of input i (i < inputs), then of each output
 * Shards may sit anywhere in memory (no copies needed when the caller's buffers live there).
 * `lengthBytes` must be a multiple of vectorBytes * unroll (the driver pads).
 */
import { assert } from "../util/assert.ts";
import { name, op, section, sleb, uleb, valueType, vec } from "../util/wasm-encode.ts";

export const vectorBytes = 16;
export const nibbleTableBytes = 32;

/** What the kernel does with one coefficient: skip it, xor the input in, or multiply. */
export const coefficientKind = { zero: 0, one: 1, general: 2 } as const;

export interface KernelShape {
  readonly inputs: number;
  readonly outputs: number;
  /** Vectors per loop iteration per shard. */
  readonly unroll: number;
  /** Use i8x16.relaxed_swizzle (maps straight to PSHUFB / TBL; indices here are always < 16). */
  readonly relaxed: boolean;
  /**
   * coefficientKind per coefficient (row-major, outputs × inputs); omitted: all general. A
   * coefficient of 1 is a plain xor and 0 costs nothing, so a matrix normalised to have ones in
   * its first row and column (codec.ts) needs far fewer multiplies.
   */
  readonly kinds?: Uint8Array;
}

/** kinds for a coefficient matrix: the key the generated code is specialised on. */
export function kindsOf(coefficients: Uint8Array): Uint8Array {
  return coefficients.map((c) => (c === 0 ? coefficientKind.zero : c === 1 ? coefficientKind.one : coefficientKind.general));
}

const I32 = valueType.i32;
const V128 = valueType.v128;
const simd = {
  load: 0, store: 11, swizzle: 14, i8x16Splat: 15, and: 78, xor: 81, i16x8ShrU: 141, relaxedSwizzle: 0x100,
} as const;

function kernelBody(shape: KernelShape, accumulate: boolean): number[] {
  const { inputs, outputs, unroll, relaxed } = shape;
  const kinds = shape.kinds ?? new Uint8Array(inputs * outputs).fill(coefficientKind.general);
  assert(kinds.length === inputs * outputs, "wasm-gen: kinds do not match the shape");
  const kind = (o: number, i: number) => kinds[o * inputs + i];
  // An input needs its nibbles split only if some output multiplies it by a general coefficient.
  const splits = Array.from({ length: inputs }, (_, i) => Array.from({ length: outputs }, (_, o) => kind(o, i)).includes(coefficientKind.general));
  // params: 0 tablesAddr, 1 pointersAddr, 2 lengthBytes
  const paramCount = 3;
  let next = paramCount;
  const pos = next++;
  const inPtr = Array.from({ length: inputs }, () => next++);
  const outPtr = Array.from({ length: outputs }, () => next++);
  const i32Locals = next - paramCount;
  const mask = next++;
  const tlo = next++;
  const thi = next++;
  const x = Array.from({ length: unroll }, () => next++);
  const lo = Array.from({ length: unroll }, () => next++);
  const hi = Array.from({ length: unroll }, () => next++);
  const acc = Array.from({ length: unroll }, () => Array.from({ length: outputs }, () => next++));
  const v128Locals = next - paramCount - i32Locals;

  const c: number[] = [];
  const get = (l: number) => c.push(op.localGet, ...uleb(l));
  const set = (l: number) => c.push(op.localSet, ...uleb(l));
  const i32 = (n: number) => c.push(op.i32Const, ...sleb(n));
  const s = (code: number) => c.push(op.simd, ...uleb(code));
  const load = (offset: number) => { s(simd.load); c.push(...uleb(4), ...uleb(offset)); };
  const store = (offset: number) => { s(simd.store); c.push(...uleb(4), ...uleb(offset)); };
  const swz = () => s(relaxed ? simd.relaxedSwizzle : simd.swizzle);

  const loadPointer = (slot: number) => { get(1); c.push(op.i32Load, ...uleb(2), ...uleb(slot * 4)); };
  inPtr.forEach((l, i) => { loadPointer(i); set(l); });
  outPtr.forEach((l, o) => { loadPointer(inputs + o); set(l); });
  i32(15); s(simd.i8x16Splat); set(mask);
  i32(0); set(pos);

  c.push(op.block, 0x40, op.loop, 0x40);
  get(pos); get(2); c.push(op.i32GeU, op.brIf, 1);
  // started[o]: acc[.][o] holds a value (else the first contribution is set, not xored in)
  const started = Array.from({ length: outputs }, () => accumulate);
  if (accumulate) {
    for (let u = 0; u < unroll; u++) {
      for (let o = 0; o < outputs; o++) { get(outPtr[o]); get(pos); c.push(op.i32Add); load(u * vectorBytes); set(acc[u][o]); }
    }
  }
  for (let i = 0; i < inputs; i++) {
    if (Array.from({ length: outputs }, (_, o) => kind(o, i)).every((k) => k === coefficientKind.zero)) continue;
    for (let u = 0; u < unroll; u++) {
      get(inPtr[i]); get(pos); c.push(op.i32Add); load(u * vectorBytes); set(x[u]);
      if (!splits[i]) continue;
      get(x[u]); get(mask); s(simd.and); set(lo[u]);
      // i16x8 shift then mask: one PSRLW + PAND (an i8x16 shift has no x86 instruction of its own)
      get(x[u]); i32(4); s(simd.i16x8ShrU); get(mask); s(simd.and); set(hi[u]);
    }
    for (let o = 0; o < outputs; o++) {
      const k = kind(o, i);
      if (k === coefficientKind.zero) continue;
      if (k === coefficientKind.general) {
        const table = (o * inputs + i) * nibbleTableBytes;
        // Tables are reloaded from memory per use: hoisting them into locals measured no faster (register pressure).
        get(0); load(table); set(tlo);
        get(0); load(table + 16); set(thi);
      }
      for (let u = 0; u < unroll; u++) {
        if (k === coefficientKind.one) get(x[u]);
        else { get(tlo); get(lo[u]); swz(); get(thi); get(hi[u]); swz(); s(simd.xor); }
        if (started[o]) { get(acc[u][o]); s(simd.xor); }
        set(acc[u][o]);
      }
      started[o] = true;
    }
  }
  for (let o = 0; o < outputs; o++) {
    if (!started[o]) for (let u = 0; u < unroll; u++) { i32(0); s(simd.i8x16Splat); set(acc[u][o]); } // an all-zero row
    for (let u = 0; u < unroll; u++) { get(outPtr[o]); get(pos); c.push(op.i32Add); get(acc[u][o]); store(u * vectorBytes); }
  }
  get(pos); i32(vectorBytes * unroll); c.push(op.i32Add); set(pos);
  c.push(op.br, 0, op.end, op.end, op.end);

  const locals = vec([[...uleb(i32Locals), I32], [...uleb(v128Locals), V128]]);
  const body = [...locals, ...c];
  return [...uleb(body.length), ...body];
}

/** The module: imports env.memory, exports `set` (overwrite outputs) and `acc` (xor into them). */
export function generateKernelModule(shape: KernelShape): Uint8Array<ArrayBuffer> {
  assert(shape.inputs >= 1 && shape.outputs >= 1 && shape.unroll >= 1, "wasm-gen: empty kernel shape");
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const type = section(1, vec([[0x60, ...vec([[I32], [I32], [I32]]), ...vec([])]]));
  const imports = section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, ...uleb(1)]]));
  const funcs = section(3, vec([[0], [0]]));
  const exports = section(7, vec([[...name("set"), 0x00, 0], [...name("acc"), 0x00, 1]]));
  const code = section(10, vec([kernelBody(shape, false), kernelBody(shape, true)]));
  return new Uint8Array([...header, ...type, ...imports, ...funcs, ...exports, ...code]);
}
