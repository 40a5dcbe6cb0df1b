/**
 * The byte-crunching contract every Reed-Solomon kernel implements: a GF(2^8) matrix times a
 * set of byte regions. The codec decides WHICH matrix; the kernel only multiplies.
 */

/** A coefficient matrix with `outputs` rows and `inputs` columns, row-major. */
export interface Coefficients {
  readonly outputs: number;
  readonly inputs: number;
  readonly data: Uint8Array;
  /** Optional: the same product as a program with fewer multiplies. Kernels may ignore it. */
  readonly program?: CoefficientProgram;
}

/**
 * A straight-line program over the inputs: row r = XOR over v of data[r][v] * value v, where
 * values 0..inputs-1 are the inputs and inputs + r' is row r' (r' < r only). Output o is row
 * outputRows[o]. data is rows × (inputs + rows), row-major.
 */
export interface CoefficientProgram {
  readonly rows: number;
  readonly data: Uint8Array;
  readonly outputRows: readonly number[];
}

/**
 * Shard buffers owned by the kernel (for the WASM kernel: inside its linear memory), so a
 * stripe assembled there is multiplied in place, with no copies in or out.
 */
export interface ShardArena {
  readonly shardBytes: number;
  readonly shards: readonly Uint8Array[];
  /** shards[outputs[o]] = XOR over i of coefs[o][i] * shards[inputs[i]]. */
  multiply(coefs: Coefficients, inputs: readonly number[], outputs: readonly number[]): void;
}

export interface Kernel {
  readonly name: string;
  /**
   * outputs[o][0, lengthBytes) = XOR over i of coefs[o][i] * inputs[i][0, lengthBytes).
   * Outputs are overwritten, never read; they must not alias inputs.
   */
  multiply(coefs: Coefficients, inputs: readonly Uint8Array[], outputs: readonly Uint8Array[], lengthBytes: number): void;
  /** Allocates `slots` shard buffers of `shardBytes` each that this kernel multiplies in place. */
  arena(slots: number, shardBytes: number): ShardArena;
}
