/**
 * Arithmetic in GF(2^8) with the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), the field most
 * Reed-Solomon storage codes use. Pure: tables are computed once from the polynomial.
 */
import { assert } from "../util/assert.ts";

export const fieldPolynomial = 0x11d;
export const fieldSize = 256;

/** exp[i] = 2^i for i in [0, 510): doubled so mul can index exp[log a + log b] without a modulo. */
export const expTable = new Uint8Array(510);
/** log[a] for a != 0; log[0] is unused. */
export const logTable = new Uint8Array(256);
/** mulTable[a * 256 + b] = a * b: 64 KiB, the byte-at-a-time kernel's lookup. */
export const mulTable = new Uint8Array(256 * 256);

{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    expTable[i] = x;
    expTable[i + 255] = x;
    logTable[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= fieldPolynomial;
  }
  for (let a = 1; a < 256; a++) {
    for (let b = 1; b < 256; b++) mulTable[a * 256 + b] = expTable[logTable[a] + logTable[b]];
  }
}

export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return expTable[logTable[a] + logTable[b]];
}

export function gfInv(a: number): number {
  assert(a !== 0, "gf256: zero has no inverse");
  return expTable[255 - logTable[a]];
}

export function gfDiv(a: number, b: number): number {
  assert(b !== 0, "gf256: division by zero");
  if (a === 0) return 0;
  return expTable[logTable[a] + 255 - logTable[b]];
}

/**
 * The split-nibble tables for multiplication by c: c*x = lo[x & 15] ^ hi[x >> 4], because
 * multiplication distributes over xor and x = (x & 15) ^ (x & 0xf0). 32 bytes: lo then hi.
 * This is what the SIMD kernel shuffles with (PSHUFB / i8x16.swizzle).
 */
export function nibbleTables(c: number, out: Uint8Array, offset: number): void {
  for (let x = 0; x < 16; x++) {
    out[offset + x] = gfMul(c, x);
    out[offset + 16 + x] = gfMul(c, x << 4);
  }
}
