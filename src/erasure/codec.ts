/**
 * Systematic Reed-Solomon over GF(2^8): K data shards + M parity shards, any K of them recover
 * the rest. The matrix decisions live here; the byte work is the kernel's (WASM SIMD when the
 * engine has it, a table kernel otherwise).
 */
import { assert } from "../util/assert.ts";
import type { Coefficients, Kernel } from "./kernel.ts";
import { tsKernel } from "./kernel-ts.ts";
import { createWasmKernel } from "./kernel-wasm.ts";
import { checkShape, encodingMatrix, invert, type Matrix, multiply, selectRows } from "./matrix.ts";

/** Decode plans kept per codec, keyed by the set of missing shards (LRU). */
export const inversionCacheEntriesMax = 256;

let fastest: Kernel | undefined;
/** The fastest kernel this engine supports, created once per process. */
export function defaultKernel(): Kernel {
  fastest ??= createWasmKernel() ?? tsKernel;
  return fastest;
}

export class ErasureError extends Error {
  override name = "ErasureError";
}

interface DecodePlan {
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

  constructor(
    readonly dataShards: number,
    readonly parityShards: number,
    private readonly kernel: Kernel = defaultKernel(),
  ) {
    checkShape(dataShards, parityShards);
    this.totalShards = dataShards + parityShards;
    this.matrix = encodingMatrix(dataShards, parityShards);
    const parityRows = this.matrix.data.slice(dataShards * dataShards);
    this.parityCoefs = { outputs: parityShards, inputs: dataShards, data: parityRows };
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
   * K present ones. Throws ErasureError when fewer than K shards are present.
   */
  reconstruct(shards: (Uint8Array | null)[], options: { dataOnly?: boolean } = {}): Uint8Array[] {
    if (shards.length !== this.totalShards) {
      throw new ErasureError(`erasure: expected ${this.totalShards} shard slots, got ${shards.length}`);
    }
    const present: number[] = [];
    const missing: number[] = [];
    let lengthBytes = -1;
    shards.forEach((s, i) => {
      if (s === null) {
        missing.push(i);
        return;
      }
      if (lengthBytes === -1) lengthBytes = s.length;
      if (s.length !== lengthBytes) throw new ErasureError(`erasure: shard ${i} is ${s.length} bytes, expected ${lengthBytes}`);
      present.push(i);
    });
    if (present.length < this.dataShards) {
      throw new ErasureError(
        `erasure: too few shards to reconstruct: ${present.length} present, ${this.dataShards} needed (RS(${this.dataShards},${this.parityShards}))`,
      );
    }
    const targets = options.dataOnly ? missing.filter((i) => i < this.dataShards) : missing;
    if (targets.length > 0) {
      const plan = this.plan(present.slice(0, this.dataShards), targets);
      const outputs = targets.map(() => new Uint8Array(lengthBytes));
      this.kernel.multiply(plan.coefs, plan.sources.map((i) => shards[i] as Uint8Array), outputs, lengthBytes);
      targets.forEach((t, i) => (shards[t] = outputs[i]));
    }
    return shards as Uint8Array[];
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
    const plan: DecodePlan = { sources, targets, coefs: { outputs: targets.length, inputs: k, data: rows.data } };
    this.plans.set(key, plan);
    if (this.plans.size > inversionCacheEntriesMax) this.plans.delete(this.plans.keys().next().value as string);
    return plan;
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
