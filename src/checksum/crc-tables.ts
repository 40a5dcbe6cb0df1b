/**
 * Slicing tables for the reflected CRCs, computed at load time (pure, a few microseconds).
 * Table k maps a byte b to the CRC register change of b followed by k zero bytes, so one step
 * of the kernel folds `slices` input bytes with `slices` independent lookups.
 */

/** CRC-32C (Castagnoli), reflected form of 0x1EDC6F41. */
export const crc32cPolyReflected = 0x82f63b78;
/** CRC-64/NVME, reflected form of 0xAD93D23594C93659, split into 32-bit halves. */
export const crc64NvmePolyReflectedHi = 0x9a6c9329;
export const crc64NvmePolyReflectedLo = 0xac4bc9b5;

/** `slices` tables of 256 u32 entries, table k at [k * 256, (k + 1) * 256). */
export function crc32SlicingTables(polyReflected: number, slices: number): Uint32Array {
  const t = new Uint32Array(256 * slices);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ polyReflected : c >>> 1;
    t[b] = c >>> 0;
  }
  for (let k = 1; k < slices; k++) {
    for (let b = 0; b < 256; b++) {
      const prev = t[(k - 1) * 256 + b];
      t[k * 256 + b] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return t;
}

/**
 * `slices` tables of 256 u64 entries stored as little-endian pairs (lo, hi) of u32, entry
 * (k, b) at index 2 * (k * 256 + b): the layout an i64.load reads straight from WASM memory.
 */
export function crc64SlicingTables(polyHi: number, polyLo: number, slices: number): Uint32Array {
  const t = new Uint32Array(2 * 256 * slices);
  for (let b = 0; b < 256; b++) {
    let lo = b;
    let hi = 0;
    for (let bit = 0; bit < 8; bit++) {
      const carry = lo & 1;
      lo = (lo >>> 1) | ((hi & 1) << 31);
      hi >>>= 1;
      if (carry) {
        lo ^= polyLo;
        hi ^= polyHi;
      }
    }
    t[2 * b] = lo >>> 0;
    t[2 * b + 1] = hi >>> 0;
  }
  for (let k = 1; k < slices; k++) {
    for (let b = 0; b < 256; b++) {
      const p = 2 * ((k - 1) * 256 + b);
      const lo = t[p];
      const hi = t[p + 1];
      const q = 2 * (lo & 0xff);
      // (prev >>> 8) ^ T0[prev & 0xff], on 32-bit halves
      t[2 * (k * 256 + b)] = (((lo >>> 8) | (hi << 24)) ^ t[q]) >>> 0;
      t[2 * (k * 256 + b) + 1] = ((hi >>> 8) ^ t[q + 1]) >>> 0;
    }
  }
  return t;
}
