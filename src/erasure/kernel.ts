/**
 * The byte-crunching contract every Reed-Solomon kernel implements: a GF(2^8) matrix times a
 * set of byte regions. The codec decides WHICH matrix; the kernel only multiplies.
 */

/** A coefficient matrix with `outputs` rows and `inputs` columns, row-major. */
export interface Coefficients {
  readonly outputs: number;
  readonly inputs: number;
  readonly data: Uint8Array;
}

export interface Kernel {
  readonly name: string;
  /**
   * outputs[o][0, lengthBytes) = XOR over i of coefs[o][i] * inputs[i][0, lengthBytes).
   * Outputs are overwritten, never read; they must not alias inputs.
   */
  multiply(coefs: Coefficients, inputs: readonly Uint8Array[], outputs: readonly Uint8Array[], lengthBytes: number): void;
}
