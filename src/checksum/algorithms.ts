/** S3's additional checksum algorithms: names, header names, digest sizes, header value syntax. */

export type ChecksumAlgorithm = "CRC32" | "CRC32C" | "CRC64NVME" | "SHA1" | "SHA256";
export type CrcAlgorithm = "CRC32" | "CRC32C" | "CRC64NVME";

export const checksumAlgorithms: readonly ChecksumAlgorithm[] = Object.freeze(["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]);

const digestBytesByAlgorithm: Readonly<Record<ChecksumAlgorithm, number>> = {
  CRC32: 4,
  CRC32C: 4,
  CRC64NVME: 8,
  SHA1: 20,
  SHA256: 32,
};

/** Digest length in bytes: 4 for CRC32/CRC32C, 8 for CRC64NVME, 20 for SHA1, 32 for SHA256. */
export function checksumDigestBytes(a: ChecksumAlgorithm): number {
  return digestBytesByAlgorithm[a];
}

const headerByAlgorithm = Object.fromEntries(checksumAlgorithms.map((a) => [a, `x-amz-checksum-${a.toLowerCase()}`])) as Readonly<
  Record<ChecksumAlgorithm, string>
>;

/** Header name for an algorithm: "x-amz-checksum-crc32" etc. (looked up: every PUT asks for all five). */
export function checksumHeader(a: ChecksumAlgorithm): string {
  return headerByAlgorithm[a];
}

/** Parses "crc32"/"CRC32" etc. (as in x-amz-checksum-algorithm / x-amz-sdk-checksum-algorithm); undefined if unknown. */
export function parseChecksumAlgorithm(s: string): ChecksumAlgorithm | undefined {
  const upper = s.toUpperCase();
  return Object.hasOwn(digestBytesByAlgorithm, upper) ? (upper as ChecksumAlgorithm) : undefined;
}

export function isCrcAlgorithm(a: ChecksumAlgorithm): a is CrcAlgorithm {
  return a === "CRC32" || a === "CRC32C" || a === "CRC64NVME";
}

/**
 * True if `value` is the canonical padded base64 of exactly the algorithm's digest length.
 * Canonical (what every SDK sends) means re-encoding the decoded bytes gives `value` back, so a
 * valid value can be compared with the server's own base64 digest as a plain string.
 */
export function isValidChecksumValue(a: ChecksumAlgorithm, value: string): boolean {
  const n = digestBytesByAlgorithm[a];
  if (n === undefined || value.length !== 4 * Math.ceil(n / 3)) return false;
  const bytes = Buffer.from(value, "base64");
  return bytes.length === n && bytes.toString("base64") === value;
}
