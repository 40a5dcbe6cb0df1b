/**
 * What a user may do to which buckets, when the configuration limits them (a `buckets` table in
 * their [[users]] entry; a user without one may do everything, as root always may). Three
 * permissions, each on its own: "read" (GET and HEAD of objects, listings, reading a bucket's
 * settings), "write" (putting, copying in, tagging and deleting objects, multipart uploads) and
 * "owner" (creating and deleting the bucket, changing its settings, its policy, and what undoes
 * versioning or Object Lock: removing a version for good, a retention or legal hold changed, a
 * bypass). A write-only user (a backup agent) can store but not read back, and what it stores in
 * a versioned or locked bucket it cannot destroy. Owner is full control in effect: a policy it
 * puts may open the bucket to anyone, itself included. Pure.
 */
import { globMatches } from "./wildcard.ts";

export const permissions = ["read", "write", "owner"] as const;
export type Permission = (typeof permissions)[number];

/** Bucket name patterns (`*` any run of characters) and what each allows, in the order configured. */
export type Grants = ReadonlyArray<{ bucket: string; allows: readonly Permission[] }>;

/** The bucket-level actions that are the owner's even though they only read: the policy is the owner's business. */
const ownerReads = new Set(["s3:getbucketpolicy", "s3:getbucketpolicystatus"]);
/**
 * The object-level actions that are the owner's: those that destroy what versioning and Object Lock
 * keep, so that a compromised writer (ransomware on a backup agent) cannot.
 */
const ownerWrites = new Set([
  "s3:deleteobjectversion", "s3:bypassgovernanceretention", "s3:putobjectretention", "s3:putobjectlegalhold",
  // (tags on a noncurrent version could bring it under a lifecycle rule that removes it)
  "s3:putobjectversiontagging", "s3:deleteobjectversiontagging",
]);
/** Listing multipart uploads and their parts: a writer needs them to resume or clean up its own uploads. */
const uploadListings = new Set(["s3:listmultipartuploadparts", "s3:listbucketmultipartuploads"]);

/**
 * The permissions that allow S3 actions (any one of them will do): reading ones (Get*, List*)
 * read, and a bucket's settings may be read by its owner too; the others write when they act on
 * objects, and are the owner's when they act on the bucket itself.
 */
export function permissionsFor(actions: readonly string[], onObject: boolean): Permission[] {
  const lower = actions.map((a) => a.toLowerCase());
  if (lower.some((a) => ownerReads.has(a) || ownerWrites.has(a))) return ["owner"];
  if (lower.length > 0 && lower.every((a) => uploadListings.has(a))) return ["read", "write"];
  if (lower.length > 0 && lower.every((a) => a.startsWith("s3:get") || a.startsWith("s3:list"))) {
    // (a bucket's settings, not its listing: HeadBucket and listings are s3:ListBucket*)
    return onObject || lower.some((a) => a.startsWith("s3:list")) ? ["read"] : ["read", "owner"];
  }
  return onObject ? ["write"] : ["owner"];
}

/** Whether the grants allow any of `allowed` on `bucket`: some pattern that names it allows one. */
export function grantsAllowAny(grants: Grants, bucket: string, allowed: readonly Permission[]): boolean {
  return allowed.some((permission) => grantsAllow(grants, bucket, permission));
}

/** Whether the grants allow `permission` on `bucket`: some pattern that names it allows it. */
export function grantsAllow(grants: Grants, bucket: string, permission: Permission): boolean {
  return grants.some((g) => g.allows.includes(permission) && globMatches(g.bucket, bucket));
}

/** Whether the grants allow anything at all on `bucket` (ListBuckets shows a limited user only these). */
export function grantsName(grants: Grants, bucket: string): boolean {
  return grants.some((g) => g.allows.length > 0 && globMatches(g.bucket, bucket));
}
