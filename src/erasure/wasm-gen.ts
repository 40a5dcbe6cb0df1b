/**
 * Emits, as raw WebAssembly binary, a GF(2^8) matrix-multiply kernel specialised for one shape
 * (inputs × outputs) and one pattern of 0 / 1 / general coefficients. Pure: the same shape always
 * gives the same bytes. Generating the module from TypeScript at run time means no toolchain at
 * install and nothing to read from disk: the kernel travels inside `bun build --compile` like any
 * other code.
 *
 * The multiply is the split-nibble one (ISA-L's and klauspost/reedsolomon's PSHUFB trick):
 * c*x = lo_c[x & 15] ^ hi_c[x >> 4], sixteen bytes at a time with i8x16.swizzle. A coefficient of
 * 1 is a plain xor and 0 costs nothing. The kernel is fused: each input vector is loaded once and
 * every output is accumulated in locals and stored once.
 *
 * Besides a plain matrix, the kernel runs a straight-line program: rows computed in order, each
 * the xor of multiples of inputs and of earlier rows, some of them stored as outputs. A decode
 * written as elimination steps (programs.ts) needs fewer multiplies than its dense matrix.
 *
 * Calling contract: fn(tablesAddr, pointersAddr, lengthBytes), memory imported as env.memory.
 *   tablesAddr + 32 * t      nibble tables (lo[16] then hi[16]) of the t-th general coefficient,
 *                            counted row-major over the rows × (inputs + rows) program matrix
 *   pointersAddr + 4 * i     u32 address of input i (i < inputs), then of each output
 * Shards may sit anywhere in memory (no copies needed when the caller's buffers live there).
 * `lengthBytes` must be a multiple of vectorBytes * unroll (the driver pads).
 */
import { assert } from "../util/assert.ts";
import { name, op, section, sleb, uleb, valueType, vec } from "../util/wasm-encode.ts";

export const vectorBytes = 16;
export const nibbleTableBytes = 32;

/**
 * What the kernel does with one coefficient: skip it, xor the value in, or multiply. `two` is a
 * general coefficient equal to 2: when nothing else needs the value's nibbles it is multiplied
 * by a shift-and-reduce (x + x, then xor 0x1d where the top bit was set) instead.
 */
export const coefficientKind = { zero: 0, one: 1, general: 2, two: 3 } as const;

/** rows × (inputs + rows) coefficient kinds; row r may use inputs and rows before r only. */
export interface KernelProgram {
  readonly rows: number;
  readonly kinds: Uint8Array;
  /** The row stored to each output, in output order. */
  readonly outputRows: readonly number[];
}

export interface KernelShape {
  readonly inputs: number;
  readonly outputs: number;
  /** Vectors per loop iteration per shard. */
  readonly unroll: number;
  /** Use i8x16.relaxed_swizzle (maps straight to PSHUFB / TBL; indices here are always < 16). */
  readonly relaxed: boolean;
  /** coefficientKind per coefficient of a plain outputs × inputs matrix; omitted: all general. */
  readonly kinds?: Uint8Array;
  /** Instead of a plain matrix: a straight-line program (kinds must be absent). */
  readonly program?: KernelProgram;
}

export function kindOf(c: number): number {
  return c === 0 ? coefficientKind.zero : c === 1 ? coefficientKind.one : c === 2 ? coefficientKind.two : coefficientKind.general;
}

/** Coefficients that get a nibble table (the kernel's table t is the t-th of these, row-major). */
export function hasTable(kind: number): boolean {
  return kind === coefficientKind.general || kind === coefficientKind.two;
}

/** Vector ops per 16 bytes that the generated code spends on each term (a rough cost model). */
const opCost = { xor: 1, split: 3, multiply: 5, double: 5 } as const;

/**
 * How each value is used: split into nibbles (some user multiplies it through tables), and which
 * coefficients of 2 are shift-and-reduce instead (only when the value is not split anyway).
 */
function lowering(kinds: Uint8Array, inputs: number, rows: number): { split: boolean[]; doubled: (r: number, v: number) => boolean } {
  const width = inputs + rows;
  const split = Array.from({ length: width }, (_, v) => {
    for (let r = 0; r < rows; r++) if (kinds[r * width + v] === coefficientKind.general) return true;
    return false;
  });
  return { split, doubled: (r, v) => kinds[r * width + v] === coefficientKind.two && !split[v] };
}

/** Estimated vector ops per 16 bytes of a program: to choose between equivalent programs. */
export function programOps(kinds: Uint8Array, inputs: number, rows: number): number {
  const width = inputs + rows;
  const { split, doubled } = lowering(kinds, inputs, rows);
  let ops = 0;
  for (let v = 0; v < width; v++) {
    if (split[v]) ops += opCost.split;
    for (let r = 0; r < rows; r++) {
      const k = kinds[r * width + v];
      if (k === coefficientKind.one) ops += opCost.xor;
      else if (k !== coefficientKind.zero) ops += doubled(r, v) ? opCost.double : opCost.multiply;
    }
  }
  return ops;
}

/** kinds for a coefficient matrix: the key the generated code is specialised on. */
export function kindsOf(coefficients: Uint8Array): Uint8Array {
  return coefficients.map(kindOf);
}

/** A plain matrix as a program: one row per output, no row uses another. */
export function matrixProgram(inputs: number, outputs: number, kinds?: Uint8Array): KernelProgram {
  assert(!kinds || kinds.length === inputs * outputs, "wasm-gen: kinds do not match the shape");
  const width = inputs + outputs;
  const out = new Uint8Array(outputs * width);
  for (let o = 0; o < outputs; o++) {
    for (let i = 0; i < inputs; i++) out[o * width + i] = kinds ? kinds[o * inputs + i] : coefficientKind.general;
  }
  return { rows: outputs, kinds: out, outputRows: Array.from({ length: outputs }, (_, o) => o) };
}

const I32 = valueType.i32;
const V128 = valueType.v128;
const simd = {
  load: 0, store: 11, swizzle: 14, i8x16Splat: 15, i8x16LtS: 37, and: 78, xor: 81, i8x16Add: 110, i16x8ShrU: 141, relaxedSwizzle: 0x100,
} as const;

function checkProgram(inputs: number, outputs: number, p: KernelProgram): void {
  const width = inputs + p.rows;
  assert(p.kinds.length === p.rows * width, "wasm-gen: program kinds do not match its rows");
  assert(p.outputRows.length === outputs && p.outputRows.every((r) => r >= 0 && r < p.rows), "wasm-gen: bad output rows");
  for (let r = 0; r < p.rows; r++) {
    for (let v = inputs + r; v < width; v++) assert(p.kinds[r * width + v] === coefficientKind.zero, "wasm-gen: a row uses itself or a later row");
  }
}

/**
 * Value ids (inputs, then inputs + r for row r) in the order the kernel handles them: each input,
 * and each row as soon as every value it uses is done. A chain of rows (Horner's rule) then keeps
 * one accumulator live instead of one per row.
 */
function evaluationOrder(program: KernelProgram, inputs: number, users: (v: number) => number[]): number[] {
  const { rows, kinds } = program;
  const width = inputs + rows;
  const pending = new Array<number>(rows).fill(0); // values row r still waits for
  for (let r = 0; r < rows; r++) for (let v = 0; v < inputs + r; v++) if (kinds[r * width + v] !== coefficientKind.zero) pending[r]++;
  const order: number[] = [];
  const emitted = new Array<boolean>(rows).fill(false);
  const done = (v: number) => {
    order.push(v);
    for (const r of users(v)) pending[r]--;
  };
  for (let v = 0; v < inputs; v++) {
    done(v);
    for (let r = 0; r < rows; r++) {
      if (emitted[r] || pending[r] !== 0) continue;
      emitted[r] = true;
      done(inputs + r);
      r = -1; // a row just done may complete rows before it in index order
    }
  }
  assert(emitted.every(Boolean), "wasm-gen: a row was never completed");
  return order;
}

function kernelBody(shape: KernelShape, program: KernelProgram, accumulate: boolean): number[] {
  const { inputs, outputs, unroll, relaxed } = shape;
  const { rows } = program;
  const width = inputs + rows;
  const kind = (r: number, v: number) => program.kinds[r * width + v];
  const tableIndex = new Map<number, number>(); // r * width + v -> t
  program.kinds.forEach((k, p) => { if (hasTable(k)) tableIndex.set(p, tableIndex.size); });
  const users = (v: number) => Array.from({ length: rows }, (_, r) => r).filter((r) => kind(r, v) !== coefficientKind.zero);
  const { split, doubled } = lowering(program.kinds, inputs, rows);
  const anyDoubled = program.kinds.some((_, p) => doubled(Math.floor(p / width), p % width));

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
  const acc = Array.from({ length: unroll }, () => Array.from({ length: rows }, () => next++));
  const zeroV = next++;
  const polyV = next++;
  const v128Locals = next - paramCount - i32Locals;

  const c: number[] = [];
  const get = (l: number) => c.push(op.localGet, ...uleb(l));
  const set = (l: number) => c.push(op.localSet, ...uleb(l));
  const i32 = (n: number) => c.push(op.i32Const, ...sleb(n));
  const s = (code: number) => c.push(op.simd, ...uleb(code));
  const load = (offset: number) => { s(simd.load); c.push(...uleb(4), ...uleb(offset)); };
  const store = (offset: number) => { s(simd.store); c.push(...uleb(4), ...uleb(offset)); };
  const swz = () => s(relaxed ? simd.relaxedSwizzle : simd.swizzle);
  const zero = () => { i32(0); s(simd.i8x16Splat); };

  const loadPointer = (slot: number) => { get(1); c.push(op.i32Load, ...uleb(2), ...uleb(slot * 4)); };
  inPtr.forEach((l, i) => { loadPointer(i); set(l); });
  outPtr.forEach((l, o) => { loadPointer(inputs + o); set(l); });
  i32(15); s(simd.i8x16Splat); set(mask);
  if (anyDoubled) { zero(); set(zeroV); i32(0x1d); s(simd.i8x16Splat); set(polyV); }
  i32(0); set(pos);

  c.push(op.block, 0x40, op.loop, 0x40);
  get(pos); get(2); c.push(op.i32GeU, op.brIf, 1);
  // started[r]: acc[.][r] holds a value (else the row's first term is set, not xored in)
  const started = new Array<boolean>(rows).fill(false);
  for (const v of evaluationOrder(program, inputs, users)) {
    const using = users(v);
    if (using.length === 0) continue;
    if (v >= inputs && !started[v - inputs]) continue; // an all-zero row contributes nothing
    for (let u = 0; u < unroll; u++) {
      if (v < inputs) { get(inPtr[v]); get(pos); c.push(op.i32Add); load(u * vectorBytes); }
      else get(acc[u][v - inputs]);
      set(x[u]);
      if (!split[v]) continue;
      get(x[u]); get(mask); s(simd.and); set(lo[u]);
      // i16x8 shift then mask: one PSRLW + PAND (an i8x16 shift has no x86 instruction of its own)
      get(x[u]); i32(4); s(simd.i16x8ShrU); get(mask); s(simd.and); set(hi[u]);
    }
    for (const r of using) {
      const twice = doubled(r, v);
      const general = !twice && kind(r, v) !== coefficientKind.one;
      if (general) {
        const table = (tableIndex.get(r * width + v) as number) * nibbleTableBytes;
        // Tables are reloaded from memory per use: hoisting them into locals measured no faster (register pressure).
        get(0); load(table); set(tlo);
        get(0); load(table + 16); set(thi);
      }
      for (let u = 0; u < unroll; u++) {
        if (general) { get(tlo); get(lo[u]); swz(); get(thi); get(hi[u]); swz(); s(simd.xor); }
        else if (twice) { get(x[u]); get(x[u]); s(simd.i8x16Add); get(x[u]); get(zeroV); s(simd.i8x16LtS); get(polyV); s(simd.and); s(simd.xor); }
        else get(x[u]);
        if (started[r]) { get(acc[u][r]); s(simd.xor); }
        set(acc[u][r]);
      }
      started[r] = true;
    }
  }
  program.outputRows.forEach((r, o) => {
    for (let u = 0; u < unroll; u++) {
      get(outPtr[o]); get(pos); c.push(op.i32Add);
      if (started[r]) get(acc[u][r]);
      else zero();
      if (accumulate) { get(outPtr[o]); get(pos); c.push(op.i32Add); load(u * vectorBytes); s(simd.xor); }
      store(u * vectorBytes);
    }
  });
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
  assert(!(shape.kinds && shape.program), "wasm-gen: give kinds or a program, not both");
  const program = shape.program ?? matrixProgram(shape.inputs, shape.outputs, shape.kinds);
  checkProgram(shape.inputs, shape.outputs, program);
  const code = section(10, vec([kernelBody(shape, program, false), kernelBody(shape, program, true)]));
  return new Uint8Array([...header, ...type, ...imports, ...funcs, ...exports, ...code]);
}
