/**
 * The hashes and the signing-key derivation of SigV4. Bun.CryptoHasher (BoringSSL without the
 * node:crypto object layer) is 2-4x faster than createHash/createHmac on the few hundred bytes
 * a request signs, which is most of what SigV4 costs per request.
 */

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

/**
 * Constant-time comparison of two signatures: false on a length mismatch, and otherwise every
 * code unit is compared, whatever differs (equal code units are equal strings, whatever a client
 * sent). Done in place, it spares the two buffers a timingSafeEqual needs (≈2 % of a small
 * request's server time).
 */
export function signaturesEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
