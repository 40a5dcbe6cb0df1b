/**
 * The hashes and the signing-key derivation of SigV4. Bun.CryptoHasher (BoringSSL without the
 * node:crypto object layer) is 2-4x faster than createHash/createHmac on the few hundred bytes
 * a request signs, which is most of what SigV4 costs per request.
 */
import { timingSafeEqual } from "node:crypto";

/** Derived keys kept: one per (secret, day, region, service) in use, so a handful of users. */
export const signingKeyCacheEntriesMax = 64;

const keyCache = new Map<string, Buffer>();

function hmac(key: string | Buffer, data: string): Buffer {
  return new Bun.CryptoHasher("sha256", key).update(data).digest();
}

export function hmacHex(key: Buffer, data: string): string {
  return new Bun.CryptoHasher("sha256", key).update(data).digest("hex");
}

export function sha256Hex(data: string | Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

/**
 * HMAC chain kDate→kRegion→kService→kSigning. Four HMACs per request add up, and the key only
 * changes daily, so it is cached (least recently used first out). A copy is returned so a caller
 * cannot corrupt the cached key.
 */
export function signingKey(secretKey: string, date: string, region: string, service: string): Buffer {
  const id = `${date}\u0000${region}\u0000${service}\u0000${secretKey}`;
  const cached = keyCache.get(id);
  if (cached !== undefined) {
    keyCache.delete(id);
    keyCache.set(id, cached);
    return Buffer.from(cached);
  }
  const kDate = hmac("AWS4" + secretKey, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  const kSigning = hmac(kService, "aws4_request");
  if (keyCache.size >= signingKeyCacheEntriesMax) {
    const oldest = keyCache.keys().next().value;
    if (oldest !== undefined) keyCache.delete(oldest);
  }
  keyCache.set(id, kSigning);
  return Buffer.from(kSigning);
}

/** Constant-time comparison of two hex signatures (false on length mismatch, no early exit on content). */
export function signaturesEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, "utf8");
  const bb = Buffer.from(b, "utf8");
  if (ab.length !== bb.length) return false;
  return timingSafeEqual(ab, bb);
}
