/** Object attributes carried in request headers: content headers and x-amz-meta-*. */
import { S3Error } from "../errors.ts";
import { checksumHeader, type ChecksumAlgorithm } from "../checksum/index.ts";
import type { ObjectAttributes, ObjectMeta, StoredChecksum } from "../store/backend.ts";
import { decodeEncodedWords, encodeForHeader } from "./encoded-words.ts";
import { httpTime, quoteEtag } from "./respond.ts";
import { lockHeaders } from "./object-lock.ts";
import { tagsFromHeader } from "./tags.ts";

/**
 * Where the website endpoint redirects a request for the object (website-serve.ts): kept with it and
 * answered on GET and HEAD, but not copied with its metadata, as in S3.
 */
export const websiteRedirectHeader = "x-amz-website-redirect-location";

/** Headers stored with an object and returned on GET/HEAD as they were given. */
export const storedContentHeaders = [
  "content-type",
  "content-encoding",
  "content-disposition",
  "content-language",
  "cache-control",
  "expires",
  websiteRedirectHeader,
] as const;
const websiteRedirectBytesMax = 2048;

export const userMetaPrefix = "x-amz-meta-";
/** AWS: the UTF-8 bytes of all user metadata names and values together. */
export const userMetaBytesMax = 2 * 1024;
export const defaultContentType = "binary/octet-stream";

/** Storage classes of AWS S3. s3d stores every object the same way: STANDARD. */
const awsStorageClasses = ["STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE"];
/** Canned ACLs that ask for nothing beyond what an object has without ACLs (S3's BucketOwnerEnforced accepts these). */
export const ownerOnlyAcls = ["private", "bucket-owner-full-control"];
export const cannedAcls = [...ownerOnlyAcls, "public-read", "public-read-write", "authenticated-read", "aws-exec-read", "bucket-owner-read", "log-delivery-write"];

/**
 * Refuses what a write (PutObject, CopyObject, CreateMultipartUpload) asks for that s3d would not
 * do, instead of storing the object without it: SSE-S3 on a server that stores data unencrypted,
 * SSE-KMS, a storage class other than STANDARD, ACLs that grant anything, appends; and
 * a website redirect S3 would refuse.
 */
export function checkWriteHeaders(headers: Record<string, string>, encryptedAtRest: boolean): void {
  const sse = headers["x-amz-server-side-encryption"];
  if (sse === "aws:kms" || sse === "aws:kms:dsse") throw new S3Error("NotImplemented", "Server-side encryption with KMS keys is not implemented by s3d.");
  // (a KMS key or context without SSE-KMS is S3's InvalidArgument, never a plain object stored)
  const kmsHeader = kmsHeaders.find((name) => headers[name] !== undefined);
  if (kmsHeader !== undefined) {
    throw new S3Error("InvalidArgument", "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms", { ArgumentName: kmsHeader });
  }
  if (sse !== undefined && sse !== "AES256") {
    throw new S3Error("InvalidArgument", "The encryption method specified is not supported", { ArgumentName: "x-amz-server-side-encryption", ArgumentValue: sse });
  }
  if (sse === "AES256" && !encryptedAtRest) {
    throw new S3Error("NotImplemented", "This server stores objects unencrypted: server-side encryption (AES256) needs s3d started with an encryption key.");
  }
  const storageClass = headers["x-amz-storage-class"];
  if (storageClass !== undefined && storageClass !== "STANDARD") {
    if (awsStorageClasses.includes(storageClass)) throw new S3Error("NotImplemented", `Storage class ${storageClass} is not implemented by s3d: every object is STANDARD.`);
    throw new S3Error("InvalidStorageClass", "The storage class you specified is not valid", { StorageClassRequested: storageClass });
  }
  const acl = headers["x-amz-acl"];
  if ((acl !== undefined && !ownerOnlyAcls.includes(acl)) || Object.keys(headers).some((name) => name.startsWith("x-amz-grant-"))) {
    throw aclsNotSupported();
  }
  const redirect = headers[websiteRedirectHeader];
  if (redirect !== undefined && (!/^(\/|https?:\/\/)/.test(redirect) || Buffer.byteLength(redirect) > websiteRedirectBytesMax)) {
    throw new S3Error("InvalidArgument", "The website redirect location must have a prefix of 'http://' or 'https://' or '/'.", { ArgumentName: websiteRedirectHeader, ArgumentValue: redirect.slice(0, 200) });
  }
  // an append (S3 Express One Zone's) written as a whole object would replace what it meant to extend
  if (headers["x-amz-write-offset-bytes"] !== undefined) throw new S3Error("NotImplemented", "Appending to objects (x-amz-write-offset-bytes) is not implemented by s3d.", { Header: "x-amz-write-offset-bytes" });
}

const kmsHeaders = ["x-amz-server-side-encryption-aws-kms-key-id", "x-amz-server-side-encryption-context"];

/**
 * Refuses a read (GetObject, HeadObject, GetObjectAttributes) that names a server-side encryption:
 * the object is opened as it was stored, and S3 answers such a read 400 rather than ignore it.
 * (SSE-C's headers are a read's to send: they carry the key.)
 */
export function checkReadHeaders(headers: Record<string, string>): void {
  const named = ["x-amz-server-side-encryption", ...kmsHeaders].find((name) => headers[name] !== undefined);
  if (named !== undefined) {
    throw new S3Error("InvalidArgument", `${named} is not taken by a read: the object is read with the encryption it was stored with.`, { ArgumentName: named, ArgumentValue: headers[named] });
  }
}

/** S3's answer to an ACL that grants anything on a BucketOwnerEnforced bucket, which every s3d bucket is. */
export const aclsNotSupported = () => new S3Error("AccessControlListNotSupported", "The bucket does not allow ACLs");

/**
 * Refuses what a CreateBucket asks for that an s3d bucket cannot be, instead of creating a plain
 * bucket: ACLs that grant anything (every bucket is BucketOwnerEnforced), object ownership other
 * than BucketOwnerEnforced. Returns whether it asks for Object Lock.
 */
export function checkBucketCreationHeaders(headers: Record<string, string>): { objectLock: boolean } {
  const lock = headers["x-amz-bucket-object-lock-enabled"]?.toLowerCase();
  if (lock !== undefined && lock !== "true" && lock !== "false") {
    throw new S3Error("InvalidArgument", "x-amz-bucket-object-lock-enabled must be true or false", { ArgumentName: "x-amz-bucket-object-lock-enabled", ArgumentValue: lock });
  }
  const ownership = headers["x-amz-object-ownership"];
  const kind = ownership === undefined ? "held" : ownershipKind(ownership);
  if (kind === "unsupported") throw ownershipNotImplemented(ownership!, { Header: "x-amz-object-ownership" });
  if (kind === "unknown") throw new S3Error("InvalidArgument", "Invalid x-amz-object-ownership header", { ArgumentName: "x-amz-object-ownership", ArgumentValue: ownership! });
  const acl = headers["x-amz-acl"];
  if (acl !== undefined && !cannedAcls.includes(acl)) throw new S3Error("InvalidArgument", "The canned ACL is not valid", { ArgumentName: "x-amz-acl", ArgumentValue: acl });
  if ((acl !== undefined && !ownerOnlyAcls.includes(acl)) || Object.keys(headers).some((name) => name.startsWith("x-amz-grant-"))) {
    throw new S3Error("InvalidBucketAclWithObjectOwnership", "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting");
  }
  return { objectLock: lock === "true" };
}

/**
 * Whether a bucket can have this object ownership: "held" (BucketOwnerEnforced, which every s3d
 * bucket is), "unsupported" (the ownerships that take ACLs) or "unknown"; callers name the refusal
 * for where the value came from.
 */
export function ownershipKind(ownership: string): "held" | "unsupported" | "unknown" {
  if (ownership === "BucketOwnerEnforced") return "held";
  return ownership === "ObjectWriter" || ownership === "BucketOwnerPreferred" ? "unsupported" : "unknown";
}

export const ownershipNotImplemented = (ownership: string, details: Record<string, string> = {}) =>
  new S3Error("NotImplemented", `Object ownership ${ownership} needs ACLs, which s3d does not implement: every bucket is BucketOwnerEnforced.`, details);

export function attributesFromHeaders(headers: Record<string, string>): ObjectAttributes {
  const stored: Record<string, string> = {};
  for (const name of storedContentHeaders) if (headers[name] !== undefined) stored[name] = headers[name];
  // aws-chunked is the framing of this request, not an encoding of the object; without it the value is kept as sent.
  const codings = stored["content-encoding"]?.split(",").map((c) => c.trim());
  if (codings?.some((c) => c.toLowerCase() === "aws-chunked")) {
    const rest = codings.filter((c) => c !== "" && c.toLowerCase() !== "aws-chunked");
    if (rest.length > 0) stored["content-encoding"] = rest.join(", ");
    else delete stored["content-encoding"];
  }
  // without a prototype: a name such as "__proto__" is a name like any other
  const userMeta: Record<string, string> = Object.create(null);
  let metaBytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(userMetaPrefix)) continue;
    const short = name.slice(userMetaPrefix.length);
    userMeta[short] = decodeEncodedWords(value);
    metaBytes += Buffer.byteLength(short) + Buffer.byteLength(userMeta[short]);
  }
  if (metaBytes > userMetaBytesMax) {
    throw new S3Error("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.", {
      Size: String(metaBytes),
      MaxSizeAllowed: String(userMetaBytesMax),
    });
  }
  return { headers: stored, userMeta, tags: tagsFromHeader(headers["x-amz-tagging"]) };
}

/** The headers GET and HEAD answer with for an object. */
export function objectHeaders(meta: ObjectMeta): Record<string, string> {
  const out: Record<string, string> = {
    "content-type": defaultContentType,
    ...meta.headers,
    etag: quoteEtag(meta.etag),
    "last-modified": httpTime(meta.lastModifiedMs),
    "accept-ranges": "bytes",
  };
  for (const [name, value] of Object.entries(meta.userMeta)) out[userMetaPrefix + name] = encodeForHeader(value);
  const tagCount = Object.keys(meta.tags).length;
  if (tagCount > 0) out["x-amz-tagging-count"] = String(tagCount);
  return Object.assign(out, lockHeaders(meta.lock));
}

/** x-amz-checksum-<algorithm> and x-amz-checksum-type for a stored checksum. */
export function checksumHeaders(checksum: StoredChecksum | undefined): Record<string, string> {
  if (!checksum) return {};
  return { [checksumHeader(checksum.algorithm as ChecksumAlgorithm)]: checksum.value, "x-amz-checksum-type": checksum.type };
}
