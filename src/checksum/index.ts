/**
 * The x-amz-checksum-* algorithms, computed while a body streams.
 *
 *   CRC32      node:zlib crc32 (zlib's SIMD code, tens of GiB/s)
 *   CRC32C     generated WASM slicing-by-16 kernel (crc-kernel.ts)
 *   CRC64NVME  same kernel family, 64-bit registers
 *   SHA1/256   node:crypto (BoringSSL)
 *
 * Digests are big-endian bytes, the order S3 base64-encodes them in.
 */
import { createHash, type Hash } from "node:crypto";
import { crc32 as zlibCrc32 } from "node:zlib";
import { assert } from "../util/assert.ts";
import { type ChecksumAlgorithm, checksumDigestBytes, type CrcAlgorithm } from "./algorithms.ts";
import { crc32Combiner, crc32cCombiner, crc64NvmeCombiner } from "./combine.ts";
import { crc32c, crc64nvmeUpdate } from "./crc-kernel.ts";

export {
  type ChecksumAlgorithm,
  type CrcAlgorithm,
  checksumAlgorithms,
  checksumDigestBytes,
  checksumHeader,
  isCrcAlgorithm,
  isValidChecksumValue,
  parseChecksumAlgorithm,
} from "./algorithms.ts";

export interface Checksummer {
  update(chunk: Uint8Array): void;
  /**
   * Digest bytes, big-endian (4 bytes for CRC32/C, 8 for CRC64NVME, 20/32 for SHA). Finalises:
   * later calls return the same bytes, a later update() is an assertion failure.
   */
  digest(): Uint8Array;
}

function u32be(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v >>> 0);
  return out;
}

function readU32be(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset);
}

abstract class Finalising implements Checksummer {
  private result: Uint8Array | undefined;
  update(chunk: Uint8Array): void {
    assert(this.result === undefined, "checksum: update() after digest()");
    this.add(chunk);
  }
  digest(): Uint8Array {
    this.result ??= this.finish();
    return this.result;
  }
  protected abstract add(chunk: Uint8Array): void;
  protected abstract finish(): Uint8Array;
}

class Crc32Checksummer extends Finalising {
  private crc = 0;
  protected add(chunk: Uint8Array) { this.crc = zlibCrc32(chunk, this.crc); }
  protected finish() { return u32be(this.crc); }
}

class Crc32cChecksummer extends Finalising {
  private crc = 0;
  protected add(chunk: Uint8Array) { this.crc = crc32c(chunk, this.crc); }
  protected finish() { return u32be(this.crc); }
}

class Crc64NvmeChecksummer extends Finalising {
  /** [lo, hi] halves of the CRC value */
  private readonly state = new Uint32Array(2);
  protected add(chunk: Uint8Array) { crc64nvmeUpdate(this.state, chunk); }
  protected finish() {
    const out = new Uint8Array(8);
    const view = new DataView(out.buffer);
    view.setUint32(0, this.state[1]);
    view.setUint32(4, this.state[0]);
    return out;
  }
}

class HashChecksummer extends Finalising {
  private readonly hash: Hash;
  constructor(algorithm: "sha1" | "sha256") {
    super();
    this.hash = createHash(algorithm);
  }
  protected add(chunk: Uint8Array) { this.hash.update(chunk); }
  protected finish() {
    const b = this.hash.digest();
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
}

export function createChecksummer(a: ChecksumAlgorithm): Checksummer {
  switch (a) {
    case "CRC32": return new Crc32Checksummer();
    case "CRC32C": return new Crc32cChecksummer();
    case "CRC64NVME": return new Crc64NvmeChecksummer();
    case "SHA1": return new HashChecksummer("sha1");
    case "SHA256": return new HashChecksummer("sha256");
    default: throw new TypeError(`unknown checksum algorithm ${String(a)}`);
  }
}

export function checksumDigest(a: ChecksumAlgorithm, data: Uint8Array): Uint8Array {
  const c = createChecksummer(a);
  c.update(data);
  return c.digest();
}

/** One-shot: base64 of the digest of `data`, the x-amz-checksum-* header value. */
export function checksumBase64(a: ChecksumAlgorithm, data: Uint8Array): string {
  return Buffer.from(checksumDigest(a, data)).toString("base64");
}

/** Base64 of digest bytes (e.g. of a combined or composite digest). */
export function digestBase64(digest: Uint8Array): string {
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString("base64");
}

/**
 * CRC combination for multipart FULL_OBJECT checksums: crc(A || B) from crc(A), crc(B) (digest
 * bytes, big-endian) and |B| in bytes.
 */
export function combineCrc(a: CrcAlgorithm, crcA: Uint8Array, crcB: Uint8Array, lengthB: number): Uint8Array {
  const n = checksumDigestBytes(a);
  assert(crcA.length === n && crcB.length === n, `combineCrc: ${a} digests must be ${n} bytes`);
  if (a === "CRC64NVME") {
    const [hi, lo] = crc64NvmeCombiner.combine(
      [readU32be(crcA, 0), readU32be(crcA, 4)],
      [readU32be(crcB, 0), readU32be(crcB, 4)],
      lengthB,
    );
    const out = new Uint8Array(8);
    const view = new DataView(out.buffer);
    view.setUint32(0, hi);
    view.setUint32(4, lo);
    return out;
  }
  const combiner = a === "CRC32" ? crc32Combiner : crc32cCombiner;
  return u32be(combiner.combine(readU32be(crcA, 0), readU32be(crcB, 0), lengthB));
}

/**
 * S3 COMPOSITE multipart checksum: the checksum of the concatenated binary part digests. The
 * caller base64-encodes it and appends "-N" (N = number of parts).
 */
export function compositeChecksum(a: ChecksumAlgorithm, partDigests: Uint8Array[]): Uint8Array {
  const n = checksumDigestBytes(a);
  const c = createChecksummer(a);
  for (const d of partDigests) {
    assert(d.length === n, `compositeChecksum: ${a} part digests must be ${n} bytes`);
    c.update(d);
  }
  return c.digest();
}
