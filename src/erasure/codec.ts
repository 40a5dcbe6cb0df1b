/**
 * Systematic Reed-Solomon over GF(2^8): K data shards + M parity shards, any K of them recover
 * the rest. The matrix decisions live here; the byte work is the kernel's (WASM SIMD when the
 * engine has it, a table kernel otherwise).
 */
import { assert } from "../util/assert.ts";
import { decodeProgram, encodeProgram, matrixProgramData, programCost, programMatrix, programShardsMax } from "./programs.ts";
import type { CoefficientProgram, Coefficients, Kernel, ShardArena } from "./kernel.ts";
import { tsKernel } from "./kernel-ts.ts";
import { createWasmKernel } from "./kernel-wasm.ts";
import { checkShape, encodingMatrix, invert, type Matrix, multiply, selectRows } from "./matrix.ts";

/** Decode plans kept per codec, keyed by the set of missing shards (LRU). */
export const inversionCacheEntriesMax = 256;
/** Idle stripes kept per codec for reuse (a new one costs a WebAssembly memory: ≈0.2-0.4 ms). */
export const stripePoolMax = 8;

let fastest: Kernel | undefined;
/** The fastest kernel this engine supports, created once per process. */
export function defaultKernel(): Kernel {
  fastest ??= createWasmKernel() ?? tsKernel;
  return fastest;
}

export class ErasureError extends Error {
  override name = "ErasureError";
}

export interface DecodePlan {
  /** Shard indexes read, in order (the first K present). */
  readonly sources: readonly number[];
  /** Shard indexes produced, in order. */
  readonly targets: readonly number[];
  readonly coefs: Coefficients;
}

export class ReedSolomon {
  readonly totalShards: number;
  private readonly matrix: Matrix;
  private readonly parityCoefs: Coefficients;
  private readonly plans = new Map<string, DecodePlan>();
  private readonly idleStripes: Stripe[] = [];

  constructor(
    readonly dataShards: number,
    readonly parityShards: number,
    private readonly kernel: Kernel = defaultKernel(),
  ) {
    checkShape(dataShards, parityShards);
    this.totalShards = dataShards + parityShards;
    this.matrix = encodingMatrix(dataShards, parityShards);
    const parityRows = this.matrix.data.slice(dataShards * dataShards);
    this.parityCoefs = { outputs: parityShards, inputs: dataShards, data: parityRows, program: this.cheaperProgram(encodeProgram(this.matrix, parityShards), parityRows) };
  }

  get kernelName(): string {
    return this.kernel.name;
  }

  /** Computes shards[K..K+M) from shards[0..K). All shards must have the same length. */
  encode(shards: readonly Uint8Array[]): void {
    const lengthBytes = this.checkShards(shards);
    if (this.parityShards === 0) return;
    this.kernel.multiply(this.parityCoefs, shards.slice(0, this.dataShards), shards.slice(this.dataShards), lengthBytes);
  }

  /** True when every parity shard matches the data shards. */
  verify(shards: readonly Uint8Array[]): boolean {
    const lengthBytes = this.checkShards(shards);
    if (this.parityShards === 0) return true;
    const expected = Array.from({ length: this.parityShards }, () => new Uint8Array(lengthBytes));
    this.kernel.multiply(this.parityCoefs, shards.slice(0, this.dataShards), expected, lengthBytes);
    return expected.every((p, i) => equalBytes(p, shards[this.dataShards + i]));
  }

  /**
   * Fills the null entries of `shards` (all of them, or only data shards with dataOnly) from any
   * K present ones, allocating them. Throws ErasureError when fewer than K shards are present.
   */
  reconstruct(shards: (Uint8Array | null)[], options: { dataOnly?: boolean } = {}): Uint8Array[] {
    if (shards.length !== this.totalShards) {
      throw new ErasureError(`erasure: expected ${this.totalShards} shard slots, got ${shards.length}`);
    }
    const present = shards.find((s) => s !== null);
    const lengthBytes = present ? present.length : 0;
    const missing = shards.flatMap((s, i) => (s === null ? [i] : []));
    const filled = shards.map((s, i) => s ?? (!options.dataOnly || i < this.dataShards ? new Uint8Array(lengthBytes) : null));
    this.reconstructInto(filled as Uint8Array[], missing, options);
    filled.forEach((s, i) => (shards[i] = s));
    return shards as Uint8Array[];
  }

  /**
   * Overwrites shards[i] for every i in `missing` (only data shards with dataOnly) from the
   * others: the allocation-free form of reconstruct, for buffers reused stripe after stripe.
   */
  reconstructInto(shards: readonly (Uint8Array | null)[], missing: readonly number[], options: { dataOnly?: boolean } = {}): void {
    if (shards.length !== this.totalShards) {
      throw new ErasureError(`erasure: expected ${this.totalShards} shard slots, got ${shards.length}`);
    }
    const lost = new Set(missing);
    let lengthBytes = -1;
    shards.forEach((s, i) => {
      if (lost.has(i)) return;
      if (s === null) throw new ErasureError(`erasure: shard ${i} is null but not listed as missing`);
      if (lengthBytes === -1) lengthBytes = s.length;
      if (s.length !== lengthBytes) throw new ErasureError(`erasure: shard ${i} is ${s.length} bytes, expected ${lengthBytes}`);
    });
    const targets = [...lost].sort((a, b) => a - b).filter((i) => !options.dataOnly || i < this.dataShards);
    if (targets.length === 0) return;
    const plan = this.planFor(missing, targets); // throws when fewer than K remain
    const outputs = targets.map((t) => {
      const out = shards[t];
      if (!out || out.length !== lengthBytes) throw new ErasureError(`erasure: no ${lengthBytes}-byte buffer for missing shard ${t}`);
      return out;
    });
    this.kernel.multiply(plan.coefs, plan.sources.map((i) => shards[i] as Uint8Array), outputs, lengthBytes);
  }

  /**
   * A stripe whose shard buffers the kernel owns (WASM memory for the SIMD kernel): fill the
   * data shards in place, then encode or reconstruct with no copies in or out. Reuse it for
   * stripe after stripe; memory is (K + 2M) × shardBytes.
   */
  createStripe(shardBytes: number): Stripe {
    if (!Number.isSafeInteger(shardBytes) || shardBytes < 1) throw new RangeError(`erasure: bad stripe shard size ${shardBytes}`);
    return new Stripe(this, this.kernel.arena(this.totalShards + this.parityShards, shardBytes));
  }

  /** A stripe from the pool (or a new one); hand it back with releaseStripe when done. */
  acquireStripe(shardBytes: number): Stripe {
    const i = this.idleStripes.findIndex((s) => s.shardBytes === shardBytes);
    return i >= 0 ? this.idleStripes.splice(i, 1)[0] : this.createStripe(shardBytes);
  }

  /** Returns a stripe for reuse; its contents are left as they are (callers overwrite them). */
  releaseStripe(stripe: Stripe): void {
    assert(!this.idleStripes.includes(stripe), "erasure: stripe released twice");
    if (this.idleStripes.length < stripePoolMax) this.idleStripes.push(stripe);
  }

  /** @internal the parity rows (M×K), for Stripe. */
  get parityCoefficients(): Coefficients {
    return this.parityCoefs;
  }

  /** @internal Picks the first K shards not in `missing` as sources and returns the cached plan. */
  planFor(missing: readonly number[], targets: readonly number[]): DecodePlan {
    const lost = new Set(missing);
    const sources: number[] = [];
    for (let i = 0; i < this.totalShards && sources.length < this.dataShards; i++) if (!lost.has(i)) sources.push(i);
    if (sources.length < this.dataShards) {
      throw new ErasureError(
        `erasure: too few shards to reconstruct: ${this.totalShards - lost.size} present, ${this.dataShards} needed (RS(${this.dataShards},${this.parityShards}))`,
      );
    }
    return this.plan(sources, [...targets]);
  }

  /** Decode plans cached in this codec: for tests and metrics. */
  get cachedPlanCount(): number {
    return this.plans.size;
  }

  private plan(sources: number[], targets: number[]): DecodePlan {
    const key = `${sources.join(",")}>${targets.join(",")}`;
    const hit = this.plans.get(key);
    if (hit) {
      this.plans.delete(key); // re-insert: Map order is the LRU order
      this.plans.set(key, hit);
      return hit;
    }
    const k = this.dataShards;
    const decode = invert(selectRows(this.matrix, sources)); // maps the sources to the data shards
    const rows = multiply(selectRows(this.matrix, targets), decode);
    assert(rows.rows === targets.length && rows.cols === k, "erasure: decode matrix has the wrong shape");
    const coefs: Coefficients = { outputs: targets.length, inputs: k, data: rows.data, program: this.programFor(sources, targets, rows.data) };
    const plan: DecodePlan = { sources, targets, coefs };
    this.plans.set(key, plan);
    if (this.plans.size > inversionCacheEntriesMax) this.plans.delete(this.plans.keys().next().value as string);
    return plan;
  }

  /** The elimination program when it needs fewer vector ops than the dense rows (see programs.ts). */
  private programFor(sources: number[], targets: number[], dense: Uint8Array): CoefficientProgram | undefined {
    if (this.dataShards + targets.length > programShardsMax) return undefined;
    const plain = this.cheaperProgram(decodeProgram(this.matrix, sources, targets), dense);
    if (this.parityShards !== 2) return plain;
    const horner = this.cheaperProgram(decodeProgram(this.matrix, sources, targets, true), dense);
    const cost = (p: CoefficientProgram) => programCost(p.data, p.rows, this.dataShards);
    return !horner || (plain && cost(plain) <= cost(horner)) ? plain : horner;
  }

  /** `program` if it computes `dense` (outputs × K) in fewer vector ops than the matrix itself. */
  private cheaperProgram(program: CoefficientProgram | undefined, dense: Uint8Array): CoefficientProgram | undefined {
    const k = this.dataShards;
    if (!program || k + program.outputRows.length > programShardsMax) return undefined;
    // The invariant that makes the program safe to run instead of the matrix: it computes the same product.
    assert(equalBytes(programMatrix(program, k), dense), "erasure: program disagrees with its matrix");
    const outputs = program.outputRows.length;
    return programCost(program.data, program.rows, k) < programCost(matrixProgramData(dense, outputs, k), outputs, k) ? program : undefined;
  }

  private checkShards(shards: readonly Uint8Array[]): number {
    if (shards.length !== this.totalShards) {
      throw new ErasureError(`erasure: expected ${this.totalShards} shards, got ${shards.length}`);
    }
    const lengthBytes = shards[0].length;
    shards.forEach((s, i) => {
      if (s.length !== lengthBytes) throw new ErasureError(`erasure: shard ${i} is ${s.length} bytes, expected ${lengthBytes}`);
    });
    return lengthBytes;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** See ReedSolomon.createStripe. */
export class Stripe {
  /** The K + M shards: data first. Views into kernel memory: valid while the stripe lives. */
  readonly shards: readonly Uint8Array[];

  constructor(
    private readonly codec: ReedSolomon,
    private readonly arena: ShardArena,
  ) {
    this.shards = arena.shards.slice(0, codec.totalShards);
  }

  get shardBytes(): number {
    return this.arena.shardBytes;
  }

  encode(): void {
    const { dataShards: k, parityShards: m } = this.codec;
    if (m === 0) return;
    this.arena.multiply(this.codec.parityCoefficients, range(0, k), range(k, k + m));
  }

  /** Parity matches data. */
  verify(): boolean {
    const { dataShards: k, parityShards: m, totalShards: n } = this.codec;
    if (m === 0) return true;
    this.arena.multiply(this.codec.parityCoefficients, range(0, k), range(n, n + m));
    return range(0, m).every((p) => equalBytes(this.arena.shards[n + p], this.arena.shards[k + p]));
  }

  /** Recomputes the listed shards (all of them, or only data shards with dataOnly) from the others. */
  reconstruct(missing: readonly number[], options: { dataOnly?: boolean } = {}): void {
    for (const i of missing) {
      if (!Number.isInteger(i) || i < 0 || i >= this.codec.totalShards) throw new ErasureError(`erasure: no shard ${i} in the stripe`);
    }
    const targets = [...new Set(missing)].sort((a, b) => a - b).filter((i) => !options.dataOnly || i < this.codec.dataShards);
    if (targets.length === 0) return;
    const plan = this.codec.planFor(missing, targets);
    this.arena.multiply(plan.coefs, plan.sources, plan.targets);
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
