/**
 * Bit-at-a-time CRCs straight from the definitions (Rocksoft model: reflected in and out,
 * init and xorout all ones), BigInt for the 64-bit one. Slow and obviously right: the oracle
 * the table and WASM code is checked against.
 */

export const referencePolys = {
  CRC32: 0xedb88320n,
  CRC32C: 0x82f63b78n,
  CRC64NVME: 0x9a6c9329ac4bc9b5n,
} as const;

export type ReferenceCrc = keyof typeof referencePolys;

export function referenceCrc(a: ReferenceCrc, data: Uint8Array): bigint {
  const width = a === "CRC64NVME" ? 64n : 32n;
  const mask = (1n << width) - 1n;
  const poly = referencePolys[a];
  let reg = mask;
  for (const byte of data) {
    reg ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit++) reg = reg & 1n ? (reg >> 1n) ^ poly : reg >> 1n;
  }
  return reg ^ mask;
}

/** Big-endian digest bytes of a reference CRC value. */
export function referenceDigest(a: ReferenceCrc, data: Uint8Array): Uint8Array {
  const value = referenceCrc(a, data);
  const n = a === "CRC64NVME" ? 8 : 4;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Number((value >> BigInt(8 * (n - 1 - i))) & 0xffn);
  return out;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}
