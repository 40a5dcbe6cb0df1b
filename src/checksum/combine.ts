/**
 * CRC combination: crc(A || B) from crc(A), crc(B) and |B|, without the bytes (S3's FULL_OBJECT
 * multipart checksums are built from the parts' CRCs this way).
 *
 * For a reflected CRC whose init and xorout are equal (all three here use all-ones), the final
 * value is linear in the message up to that constant, and the constants cancel:
 *   crc(A || B) = crc(A) · x^(8|B|) mod P  xor  crc(B)
 * x^(8n) mod P comes from squarings x^(2^k) (cached) by square-and-multiply over the bits of n:
 * about 2·log2(n) GF(2) products, microseconds even for 5 TiB.
 *
 * Polynomials are in reflected bit order: the most significant bit is the x^0 coefficient.
 */
import { assert } from "../util/assert.ts";
import { crc32cPolyReflected, crc64NvmePolyReflectedHi, crc64NvmePolyReflectedLo } from "./crc-tables.ts";

/** CRC-32 (ISO-HDLC, zlib's), reflected form of 0x04C11DB7. */
export const crc32PolyReflected = 0xedb88320;

/** a · b mod P for 32-bit reflected polynomials. */
function mulMod32(a: number, b: number, poly: number): number {
  let p = 0;
  for (let bit = 31; bit >= 0; bit--) {
    if ((a >>> bit) & 1) p ^= b;
    b = b & 1 ? (b >>> 1) ^ poly : b >>> 1;
  }
  return p >>> 0;
}

/** a · b mod P for 64-bit reflected polynomials as [hi, lo] u32 halves. */
function mulMod64(aHi: number, aLo: number, bHi: number, bLo: number, polyHi: number, polyLo: number): [number, number] {
  let pHi = 0;
  let pLo = 0;
  for (let bit = 63; bit >= 0; bit--) {
    const set = bit >= 32 ? (aHi >>> (bit - 32)) & 1 : (aLo >>> bit) & 1;
    if (set) {
      pHi ^= bHi;
      pLo ^= bLo;
    }
    const carry = bLo & 1;
    bLo = (bLo >>> 1) | ((bHi & 1) << 31);
    bHi >>>= 1;
    if (carry) {
      bHi ^= polyHi;
      bLo ^= polyLo;
    }
  }
  return [pHi >>> 0, pLo >>> 0];
}

function checkLength(lengthBytes: number) {
  assert(Number.isSafeInteger(lengthBytes) && lengthBytes >= 0, `combineCrc: bad length ${lengthBytes}`);
}

/** Square-and-multiply over the bits of n, with powers x^(2^k) from `power(k)`. */
function forEachSetBit(n: number, visit: (k: number) => void) {
  for (let k = 0; n > 0; k++, n = Math.floor(n / 2)) if (n % 2 === 1) visit(k);
}

class Crc32Combiner {
  /** powers[k] = x^(2^k) mod P */
  private readonly powers: number[] = [0x40000000];
  constructor(private readonly poly: number) {}

  private power(k: number): number {
    while (this.powers.length <= k) {
      const last = this.powers[this.powers.length - 1];
      this.powers.push(mulMod32(last, last, this.poly));
    }
    return this.powers[k];
  }

  combine(crcA: number, crcB: number, lengthB: number): number {
    checkLength(lengthB);
    let shifted = crcA >>> 0;
    // x^(8n): bit k of n contributes x^(2^(k+3))
    forEachSetBit(lengthB, (k) => { shifted = mulMod32(this.power(k + 3), shifted, this.poly); });
    return (shifted ^ crcB) >>> 0;
  }
}

class Crc64Combiner {
  private readonly powers: [number, number][] = [[0x40000000, 0]];
  constructor(private readonly polyHi: number, private readonly polyLo: number) {}

  private power(k: number): [number, number] {
    while (this.powers.length <= k) {
      const [hi, lo] = this.powers[this.powers.length - 1];
      this.powers.push(mulMod64(hi, lo, hi, lo, this.polyHi, this.polyLo));
    }
    return this.powers[k];
  }

  /** crc values as [hi, lo] u32 halves */
  combine(a: [number, number], b: [number, number], lengthB: number): [number, number] {
    checkLength(lengthB);
    let [hi, lo] = a;
    forEachSetBit(lengthB, (k) => {
      const [pHi, pLo] = this.power(k + 3);
      [hi, lo] = mulMod64(pHi, pLo, hi, lo, this.polyHi, this.polyLo);
    });
    return [(hi ^ b[0]) >>> 0, (lo ^ b[1]) >>> 0];
  }
}

export const crc32Combiner = new Crc32Combiner(crc32PolyReflected);
export const crc32cCombiner = new Crc32Combiner(crc32cPolyReflected);
export const crc64NvmeCombiner = new Crc64Combiner(crc64NvmePolyReflectedHi, crc64NvmePolyReflectedLo);
