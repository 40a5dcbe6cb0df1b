/**
 * A bucket's default encryption as s3d keeps it: whether its configuration asked for a bucket key
 * (given back as set), and which encryption types its writes may not use. S3 takes one blocked
 * type, SSE-C (`BlockedEncryptionTypes`), and since April 2026 blocks it on new buckets by default;
 * s3d takes it too but leaves SSE-C open until a bucket's configuration blocks it (README).
 */
import { S3Error } from "../errors.ts";
import type { Backend } from "../store/backend.ts";

/** The name the document is kept under among the bucket's configurations. */
export const encryptionConfigName = "encryption";

/** The values S3's `EncryptionType` takes: NONE unblocks. */
export const encryptionTypes = ["NONE", "SSE-C"] as const;
export type EncryptionType = (typeof encryptionTypes)[number];

export interface BucketEncryption {
  bucketKeyEnabled: boolean;
  /** as the configuration named them; undefined when it had no BlockedEncryptionTypes */
  blocked?: EncryptionType[];
}

function parseBucketEncryption(document: string): BucketEncryption {
  const stored = JSON.parse(document) as { bucketKeyEnabled?: boolean; blocked?: EncryptionType[] };
  return { bucketKeyEnabled: stored.bucketKeyEnabled === true, blocked: stored.blocked };
}

export async function bucketEncryptionOf(backend: Backend, bucket: string): Promise<BucketEncryption | undefined> {
  const document = await backend.getBucketConfig(bucket, encryptionConfigName);
  return document === undefined ? undefined : parseBucketEncryption(document);
}

/**
 * Refuses a write that carries an SSE-C key to a bucket that blocks SSE-C: 403 AccessDenied, as S3
 * answers, before the key itself is looked at. Read only for writes that carry a key.
 */
export async function refuseBlockedCustomerKeys(backend: Backend, bucket: string): Promise<void> {
  const encryption = await bucketEncryptionOf(backend, bucket);
  if (encryption?.blocked?.includes("SSE-C")) {
    throw new S3Error("AccessDenied", "Server-side encryption with customer-provided keys (SSE-C) is blocked for this bucket by its default encryption configuration (BlockedEncryptionTypes).");
  }
}
