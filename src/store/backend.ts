/**
 * The Backend contract: everything the S3 face asks of storage. The fs backend (one node) and
 * the cluster backend implement it; test/store/contract.ts is the one suite both must pass.
 * Errors are S3Errors (NoSuchBucket, NoSuchKey, NoSuchUpload, BucketNotEmpty, ...).
 */
import type { ByteRange } from "../s3/range.ts";
import type { LockChange } from "./locks.ts";
import type { MetricFamily } from "../util/metrics.ts";

/** A bucket's versioning: absent until it is first set, and never absent again (as in S3). */
export type VersioningStatus = "Enabled" | "Suspended";

export interface BucketInfo {
  name: string;
  createdMs: number;
  versioning?: VersioningStatus;
  /** present when Object Lock is enabled (for good: versioning then stays Enabled) */
  objectLock?: { defaultRetention?: DefaultRetention };
}

/** Facts about a body that are known once it has been read to the end. */
export interface BodyDigest {
  sizeBytes: number;
  md5Hex: string;
  /** the x-amz-checksum-* the client asked for, verified */
  checksum?: StoredChecksum;
}

/** An S3 additional checksum: algorithm name (CRC32, CRC32C, CRC64NVME, SHA1, SHA256), base64 value. */
export interface StoredChecksum {
  algorithm: string;
  value: string;
  type: "FULL_OBJECT" | "COMPOSITE";
  /** a multipart object's: each part's checksum (base64), in order */
  parts?: string[];
}

/**
 * A request body on its way in. The stream errors (with an S3Error) when verification fails,
 * which must abort the write: nothing is stored. `digest()` may be called only after the
 * stream has ended cleanly.
 */
export interface IncomingBody {
  /** The bytes as they arrive. A body is read once: through this or through bytes(). */
  readonly stream: ReadableStream<Uint8Array>;
  /** The whole body in one buffer, verified as the stream is: for bodies declared small. */
  bytes(): Promise<Uint8Array>;
  digest(): BodyDigest;
  /** the length the client declared, when it did: a body that differs fails its stream */
  declaredBytes?: number;
  /**
   * Every chunk read from `stream` is its reader's alone (a request's own receive buffers): a reader
   * done with one may hand its memory back at once (blob-sinks.ts `releaseChunk`).
   */
  chunksOwned?: boolean;
}

/** What a client sets on an object besides its bytes. */
export interface ObjectAttributes {
  /** content-type, content-encoding, content-disposition, content-language, cache-control, expires */
  headers: Record<string, string>;
  /** x-amz-meta-* without the prefix, names lowercase */
  userMeta: Record<string, string>;
  /** object tags */
  tags: Record<string, string>;
  /** Object Lock: what keeps this version from being removed (a bucket with Object Lock only) */
  lock?: ObjectLock;
  /**
   * SSE-C: the store's salted check of the key the client sealed this object (or upload) with;
   * set by the store, never the key itself. Present exactly when the bytes need that key.
   */
  customerKeyCheck?: string;
}

/**
 * SSE-C: the 256-bit key a client sends with each request for an object sealed with it. The store
 * seals and opens that object's bytes with it and keeps only a salted check of it.
 */
export interface CustomerKey {
  readonly key: Uint8Array;
}

export type LockMode = "GOVERNANCE" | "COMPLIANCE";

/**
 * A version's Object Lock state: a retention (until `retainUntilMs`: COMPLIANCE binds everyone,
 * GOVERNANCE yields to a bypass) and a legal hold (binds everyone while on). `legalHold` is
 * undefined until one was first set.
 */
export interface ObjectLock {
  mode?: LockMode;
  retainUntilMs?: number;
  legalHold?: boolean;
}

/** A bucket's default retention for new versions: a mode and a period of days or years. */
export interface DefaultRetention {
  mode: LockMode;
  days?: number;
  years?: number;
}

export interface ObjectMeta extends ObjectAttributes {
  key: string;
  sizeBytes: number;
  /** unquoted: md5 hex, or "<md5 of part md5s>-<N>" for multipart */
  etag: string;
  lastModifiedMs: number;
  /** number of parts for a multipart object, 0 for a simple PUT */
  partsCount: number;
  checksum?: StoredChecksum;
  /** undefined: the null version (every object of a bucket never versioned, and those written while suspended) */
  versionId?: string;
}

/**
 * Checked inside a write's commit against the key's current version (undefined when absent)
 * and the version about to replace it: throwing an S3Error aborts the write. This is what
 * makes conditional writes race-free.
 */
export type Precondition = (current: ObjectMeta | undefined, next: ObjectMeta) => void;

/** An object opened for reading: the metadata and bytes stay consistent until closed. */
export interface ObjectReader {
  meta: ObjectMeta;
  /** Streams the bytes (all, or one inclusive range) and releases the reader when done. */
  stream(range?: ByteRange): ReadableStream<Uint8Array>;
  /** The same bytes in one buffer, for small bodies; releases the reader. */
  bytes(range?: ByteRange): Promise<Uint8Array>;
  /**
   * The bytes of part `partNumber` (from 1, in the order the upload was completed with) of a
   * multipart object; a simple object is one part. Undefined past the last part. A part of no
   * bytes is a range whose end is before its start.
   */
  partRange(partNumber: number): ByteRange | undefined;
  /** Releases the reader without reading. Idempotent. */
  close(): void;
}

export interface ListQuery {
  prefix: string;
  delimiter: string;
  /** list only keys strictly after this one (start-after, marker, or a continuation token) */
  after: string;
  maxKeys: number;
}

/** What a listing tells of each object. */
export type ListedObject = Pick<ObjectMeta, "key" | "sizeBytes" | "etag" | "lastModifiedMs">;

export interface ListPage {
  objects: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** the last key or common prefix of the page: where the next page starts after */
  lastEntry: string | undefined;
}

/** One entry of ListObjectVersions: a version of an object, or a delete marker. */
export interface ListedVersion extends ListedObject {
  /** undefined: the null version */
  versionId: string | undefined;
  isLatest: boolean;
  deleteMarker: boolean;
  /** when a newer version took its place; undefined for the latest */
  noncurrentSinceMs: number | undefined;
  /** its Object Lock, if it has one (not shown by ListObjectVersions: lifecycle passes read it) */
  lock?: ObjectLock;
}

export interface ListVersionsQuery {
  prefix: string;
  delimiter: string;
  /** versions of keys after this one, or, with versionIdMarker, after that version of it */
  keyMarker: string;
  /** "null" for the null version */
  versionIdMarker: string;
  maxKeys: number;
}

export interface ListVersionsPage {
  versions: ListedVersion[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** where the next page starts: a key, with the version after which it resumes (none after a common prefix) */
  nextKeyMarker: string | undefined;
  nextVersionIdMarker: string | undefined;
}

/** Where a version stands among its key's versions, as a delete's precondition sees it inside the commit. */
export interface VersionState {
  isLatest: boolean;
  /** when a newer version took its place; undefined for the latest */
  noncurrentSinceMs: number | undefined;
  /** noncurrent versions of the key newer than this one */
  newerNoncurrent: number;
  /** the key's only version */
  lone: boolean;
}

export interface DeleteOptions {
  versionId?: string;
  /**
   * Checked inside the commit against the version the delete would remove or hide (undefined: none,
   * or a delete marker) and, on request, where that version stands; throwing refuses the delete.
   */
  precondition?: (current: ObjectMeta | undefined, state: () => VersionState) => void;
  /** x-amz-bypass-governance-retention: a GOVERNANCE retention does not keep the version */
  bypassGovernance?: boolean;
}

/** What a delete did: removed a version, added a delete marker, or (unversioned) removed the object. */
export interface DeleteOutcome {
  /** the version removed or the marker added ("null" for the null version); undefined in a bucket never versioned */
  versionId: string | undefined;
  /** a marker was added, or the version removed was one */
  deleteMarker: boolean;
}

export interface UploadInfo {
  key: string;
  uploadId: string;
  initiatedMs: number;
  /** the additional checksum it was created with */
  checksum?: UploadChecksum;
}

/** The additional checksum a multipart upload was created with. */
export interface UploadChecksum {
  algorithm: string;
  type: "FULL_OBJECT" | "COMPOSITE";
}

export interface PartInfo {
  partNumber: number;
  etag: string;
  sizeBytes: number;
  lastModifiedMs: number;
  /** base64 digest of the upload's checksum algorithm, when it has one */
  checksum?: string;
}

export interface ListUploadsQuery {
  prefix: string;
  delimiter: string;
  keyMarker: string;
  uploadIdMarker: string;
  maxUploads: number;
}

export interface ListUploadsPage {
  uploads: UploadInfo[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker: string | undefined;
  nextUploadIdMarker: string | undefined;
}

export interface ListPartsPage {
  upload: UploadInfo & ObjectAttributes & { checksum?: UploadChecksum };
  parts: PartInfo[];
  isTruncated: boolean;
  nextPartNumberMarker: number | undefined;
}

export interface CompletedPart {
  partNumber: number;
  /** unquoted */
  etag: string;
  /** the part checksum the client lists, if any: must match the stored one */
  checksum?: string;
}

export interface Backend {
  /** Whether object data is encrypted at rest with a key the server holds (what SSE-S3 promises). */
  readonly encryptedAtRest: boolean;
  /** Why the store cannot take writes now (its data dir was removed, say); undefined when it can. */
  unhealthy(): string | undefined;
  /** What the store counts and measures, shown at /_s3d/metrics. */
  metrics(): MetricFamily[];
  /** With `objectLock`, the bucket is made with versioning Enabled and Object Lock, as S3 makes it. */
  createBucket(name: string, nowMs: number, options?: { objectLock?: boolean }): Promise<void>;
  headBucket(name: string): Promise<BucketInfo>;
  /** BucketNotEmpty while it holds objects; multipart uploads still open are aborted with it. */
  deleteBucket(name: string): Promise<void>;
  listBuckets(): Promise<BucketInfo[]>;
  /** A bucket's configuration document by name ("cors", ...), or undefined when none is set. */
  getBucketConfig(bucket: string, name: string): Promise<string | undefined>;
  /** Sets (or with undefined, removes) a bucket's configuration document. */
  setBucketConfig(bucket: string, name: string, value: string | undefined): Promise<void>;

  /** With `customerKey` the bytes are sealed with it (SSE-C), and the ETag is not their MD5. */
  putObject(bucket: string, key: string, body: IncomingBody, attrs: ObjectAttributes, nowMs: number, precondition?: Precondition, customerKey?: CustomerKey): Promise<ObjectMeta>;
  /**
   * Opens the current version, or the one `versionId` names ("null" for the null version). A
   * current delete marker is NoSuchKey, one named MethodNotAllowed (both with the marker's
   * `x-amz-delete-marker` and `x-amz-version-id` headers); a version that does not exist NoSuchVersion.
   * A version sealed with a customer key (SSE-C) opens with that key; without one only its
   * metadata can be read (its bytes and parts: InvalidRequest), with another it is AccessDenied.
   * A key given for a version not sealed with one is InvalidRequest.
   */
  openObject(bucket: string, key: string, versionId?: string, customerKey?: CustomerKey): Promise<ObjectReader>;
  /** Replaces the tags of the current version, or of the one `versionId` names; resolves to the version's id. */
  setObjectTags(bucket: string, key: string, tags: Record<string, string>, versionId?: string): Promise<string | undefined>;
  /**
   * Without a versionId, deletes the key's object (a bucket never versioned) or adds a delete
   * marker in front of it (a versioned one); with one, removes that version for good. Succeeds
   * when there is nothing to delete (S3 answers 204 either way). `precondition` is checked inside
   * the commit against the version it would remove or hide, and can refuse the delete.
   */
  deleteObject(
    bucket: string,
    key: string,
    nowMs: number,
    options?: DeleteOptions,
  ): Promise<DeleteOutcome>;
  listObjects(bucket: string, query: ListQuery): Promise<ListPage>;
  /** Sets a bucket's versioning (S3 never lets a bucket go back to never versioned; one with Object Lock stays Enabled: InvalidBucketState). */
  setBucketVersioning(bucket: string, status: VersioningStatus): Promise<void>;
  /** Enables Object Lock (versioning must be Enabled: InvalidBucketState) and sets its default retention (none: removed). */
  setBucketObjectLock(bucket: string, defaultRetention: DefaultRetention | undefined): Promise<void>;
  /**
   * Changes the Object Lock of the current version, or of the one `versionId` names, by Object
   * Lock's rules (store/locks.ts changedLock, inside the commit: AccessDenied where they forbid it).
   * Resolves to the version's id.
   */
  setObjectLock(bucket: string, key: string, versionId: string | undefined, change: LockChange, options: { nowMs: number; bypassGovernance: boolean }): Promise<string | undefined>;
  /** Every version and delete marker: keys in order, each key's newest first. */
  listObjectVersions(bucket: string, query: ListVersionsQuery): Promise<ListVersionsPage>;

  /** With `customerKey`, every part must come with that key, and the object is sealed with it. */
  createMultipartUpload(bucket: string, key: string, attrs: ObjectAttributes, nowMs: number, checksum?: UploadChecksum, customerKey?: CustomerKey): Promise<string>;
  /**
   * What an upload was created with that its parts must honour (NoSuchUpload when it does not
   * exist): its checksum, and its Object Lock (each part then needs an integrity header).
   */
  uploadSettings(bucket: string, key: string, uploadId: string): Promise<{ checksum?: UploadChecksum; lock?: ObjectLock }>;
  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: IncomingBody, nowMs: number, customerKey?: CustomerKey): Promise<PartInfo>;
  /**
   * An upload made with a customer key and a checksum completes (and its parts are listed) only
   * with the key: the parts' checksums are of its plaintext, and kept sealed with it.
   */
  completeMultipartUpload(bucket: string, key: string, uploadId: string, parts: CompletedPart[], nowMs: number, precondition?: Precondition, customerKey?: CustomerKey): Promise<ObjectMeta>;
  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void>;
  listParts(bucket: string, key: string, uploadId: string, partNumberMarker: number, maxParts: number, customerKey?: CustomerKey): Promise<ListPartsPage>;
  listMultipartUploads(bucket: string, query: ListUploadsQuery): Promise<ListUploadsPage>;

  close(): Promise<void>;
}

/** S3's multipart limits. */
export const partsMax = 10_000;
export const partBytesMin = 5 * 1024 * 1024;
export const partBytesMax = 5 * 1024 * 1024 * 1024;
export const objectBytesMax = 5 * 1024 * 1024 * 1024;
export const listKeysMax = 1000;

/**
 * Whether a request's version id could name a version: "null" (the null version) or an id as
 * backends make them, 32 of letters, digits, `.` and `_`, as S3's are (opaque to clients).
 */
export function isVersionId(value: string): boolean {
  return value === "null" || /^[A-Za-z0-9._]{32}$/.test(value);
}
