/** Multipart uploads of the fs backend: parts are blobs; completion is a metadata commit. */
import type { Database } from "bun:sqlite";
import { createHash, randomBytes } from "node:crypto";
import { combineCrc, compositeChecksum, digestBase64, isCrcAlgorithm, type ChecksumAlgorithm } from "../../checksum/index.ts";
import { S3Error } from "../../errors.ts";
import { assert } from "../../util/assert.ts";
import {
  partBytesMin,
  partsMax,
  type BucketInfo,
  type CompletedPart,
  type CustomerKey,
  type IncomingBody,
  type ListPartsPage,
  type ListUploadsPage,
  type ListUploadsQuery,
  type ObjectAttributes,
  type ObjectLock,
  type ObjectMeta,
  type PartInfo,
  type StoredChecksum,
  type UploadChecksum,
  type UploadInfo,
} from "../backend.ts";
import { cursorPastPrefix, inKeyRange, listEntries, utf8, type ListCursor } from "../listing.ts";
import type { BlobStore } from "./blobs.ts";
import { customerKeyedEtag, type CustomerKeys, type CustomerSealing } from "./customer-keys.ts";
import { NotDurableError, type Committer } from "./committer.ts";
import { attributesOf, keyBytes, keyText, lockColumn, type PartRow, type Segment, type UploadRow } from "./db.ts";

/** Sorts after every upload id (hex time, then base64url), so a bare key marker skips all uploads of that key. */
const afterEveryUploadId = "~";

export interface CompletionPlan {
  meta: ObjectMeta;
  segments: Segment[];
  /** blobs of parts uploaded but not named in the completion */
  unusedBlobs: string[];
  /** the client's key, whose sealing the object's checksum is kept under (an upload with both) */
  customer?: CustomerSealing;
}

export class MultipartStore {
  constructor(
    private readonly db: Database,
    private readonly blobs: BlobStore,
    private readonly committer: Committer,
    private readonly customerKeys: CustomerKeys,
    private readonly requireBucket: (name: string) => BucketInfo,
  ) {}

  async create(bucket: string, key: string, attrs: ObjectAttributes, nowMs: number, checksum: UploadChecksum | undefined, customerKey: CustomerKey | undefined): Promise<string> {
    // The start time leads (12 hex digits of milliseconds), so that uploads of one key sort by
    // when they began, as S3 lists them, and upload-id-marker still means "the ids after this one".
    const uploadId = nowMs.toString(16).padStart(12, "0") + randomBytes(18).toString("base64url");
    await this.committer.commit(() => {
      this.requireBucket(bucket);
      this.db
        .query("INSERT INTO uploads (upload_id, bucket, key, initiated_ms, headers, user_meta, tags, checksum, lock, customer_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .run(uploadId, bucket, keyBytes(key), nowMs, JSON.stringify(attrs.headers), JSON.stringify(attrs.userMeta), JSON.stringify(attrs.tags),
          checksum === undefined ? null : JSON.stringify(checksum), lockColumn(attrs.lock), customerKey ? this.customerKeys.forNew(customerKey).newCheck() : null);
    });
    return uploadId;
  }

  settingsOf(bucket: string, key: string, uploadId: string): { checksum?: UploadChecksum; lock?: ObjectLock } {
    const upload = this.requireUpload(bucket, key, uploadId);
    return { checksum: uploadChecksumOf(upload), lock: attributesOf(upload).lock };
  }

  /** A part of an upload made with a client's key (SSE-C) must come with that key, and is sealed with it. */
  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: IncomingBody, nowMs: number, customerKey: CustomerKey | undefined): Promise<PartInfo> {
    const upload = this.requireUpload(bucket, key, uploadId);
    const customer = this.customerKeys.forPart(upload.customer_key ?? undefined, customerKey);
    const blobId = this.blobs.newId();
    await this.blobs.write(blobId, body.stream, body.declaredBytes, body.chunksOwned, customer?.sealing);
    const { sizeBytes, md5Hex, checksum } = body.digest();
    const etag = customer ? customerKeyedEtag() : md5Hex;
    let superseded: string[] = [];
    try {
      await this.committer.commit(() => {
        const expected = uploadChecksumOf(this.requireUpload(bucket, key, uploadId));
        if (expected && checksum?.algorithm !== expected.algorithm) {
          throw new S3Error("InvalidRequest", `This upload was created with the ${expected.algorithm} checksum: every part needs it.`);
        }
        const old = this.partRow(uploadId, partNumber);
        superseded = old ? [old.blob] : [];
        this.db
          .query("INSERT OR REPLACE INTO parts (upload_id, part_number, blob, size, etag, modified_ms, checksum) VALUES (?, ?, ?, ?, ?, ?, ?)")
          .run(uploadId, partNumber, blobId, sizeBytes, etag, nowMs, expected ? (customer?.sealColumn(checksum!.value) ?? checksum!.value) : null);
      });
    } catch (error) {
      if (!(error instanceof NotDurableError)) this.blobs.remove([blobId]);
      throw error;
    }
    this.blobs.remove(superseded);
    return { partNumber, etag, sizeBytes, lastModifiedMs: nowMs, checksum: checksum?.value };
  }

  /**
   * Checks a completion request against the stored parts. Runs inside the commit. An upload with
   * a client's key and a checksum needs the key: its parts' checksums are sealed with it.
   */
  planCompletion(bucket: string, key: string, uploadId: string, parts: CompletedPart[], nowMs: number, customerKey: CustomerKey | undefined): CompletionPlan {
    const upload = this.requireUpload(bucket, key, uploadId);
    if (parts.length === 0) throw new S3Error("MalformedXML", "You must specify at least one part.");
    if (parts.length > partsMax) throw new S3Error("InvalidArgument", `Part count must not exceed ${partsMax}.`);
    const customer = this.checksumSealing(upload, customerKey);
    const stored = new Map(this.partRows(uploadId, 0, partsMax, customer).map((p) => [p.part_number, p]));
    const md5s = createHash("md5");
    const segments: Segment[] = [];
    const used: PartRow[] = [];
    let sizeBytes = 0;
    if (parts.some((part, i) => i > 0 && part.partNumber <= parts[i - 1].partNumber)) {
      throw new S3Error("InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.");
    }
    const checksumSpec = uploadChecksumOf(upload);
    parts.forEach((part, i) => {
      // a composite checksum is made of the parts' ones: the completion must name each
      if (checksumSpec?.type === "COMPOSITE" && part.checksum === undefined) {
        throw new S3Error("InvalidRequest", `The upload was created using a ${checksumSpec.algorithm.toLowerCase()} checksum. The complete request must include the checksum for each part. It was missing for part ${part.partNumber} in the request.`);
      }
      const row = stored.get(part.partNumber);
      if (!row || row.etag !== part.etag || (part.checksum !== undefined && part.checksum !== row.checksum)) {
        throw new S3Error("InvalidPart", "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.", {
          UploadId: uploadId,
          PartNumber: String(part.partNumber),
          ETag: part.etag,
        });
      }
      if (i < parts.length - 1 && row.size < partBytesMin) {
        throw new S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.", {
          ProposedSize: String(row.size),
          MinSizeAllowed: String(partBytesMin),
          PartNumber: String(part.partNumber),
        });
      }
      md5s.update(Buffer.from(row.etag, "hex"));
      segments.push([row.blob, row.size]);
      used.push(row);
      sizeBytes += row.size;
      stored.delete(part.partNumber);
    });
    return {
      meta: {
        key,
        sizeBytes,
        etag: `${md5s.digest("hex")}-${parts.length}`,
        lastModifiedMs: nowMs,
        partsCount: parts.length,
        ...attributesOf(upload),
        checksum: checksumSpec && objectChecksum(checksumSpec, used),
      },
      segments,
      unusedBlobs: [...stored.values()].map((p) => p.blob),
      customer,
    };
  }

  /**
   * The client key's sealing of an upload's part checksums: needed (the key given, and right) for
   * an upload made with a key and a checksum; undefined for any other.
   */
  private checksumSealing(upload: UploadRow, customerKey: CustomerKey | undefined): CustomerSealing | undefined {
    if (upload.customer_key === null || upload.checksum === null) return undefined;
    return this.customerKeys.forPart(upload.customer_key, customerKey);
  }

  /** Drops every upload of `bucket`, which is being deleted; returns their parts' blobs. In a commit. */
  forgetBucket(bucket: string): string[] {
    const blobs = this.db
      .query<{ blob: string }, [string]>("SELECT parts.blob FROM parts JOIN uploads ON uploads.upload_id = parts.upload_id WHERE uploads.bucket = ?")
      .all(bucket)
      .map((p) => p.blob);
    this.db.query("DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?)").run(bucket);
    this.db.query("DELETE FROM uploads WHERE bucket = ?").run(bucket);
    this.db.query("DELETE FROM completed_uploads WHERE bucket = ?").run(bucket);
    return blobs;
  }

  /** Drops the upload's rows (its blobs now belong to an object or were removed). In a commit. */
  forget(uploadId: string): void {
    this.db.query("DELETE FROM parts WHERE upload_id = ?").run(uploadId);
    this.db.query("DELETE FROM uploads WHERE upload_id = ?").run(uploadId);
  }

  /**
   * Remembers a completion for `completionKeptMs`, so that the same completion sent again (a
   * client retrying one whose answer it lost) is answered as the first was. In the completion's commit.
   */
  recordCompletion(bucket: string, key: string, uploadId: string, parts: CompletedPart[], meta: ObjectMeta): void {
    this.db.query("DELETE FROM completed_uploads WHERE completed_ms < ?").run(meta.lastModifiedMs - completionKeptMs);
    this.db
      .query("INSERT OR REPLACE INTO completed_uploads (upload_id, bucket, key, parts, version_id, etag, completed_ms) VALUES (?, ?, ?, ?, ?, ?, ?)")
      .run(uploadId, bucket, keyBytes(key), partsDigest(parts), meta.versionId ?? null, meta.etag, meta.lastModifiedMs);
  }

  /**
   * The object an earlier completion of this upload made with these very parts, as it recorded
   * it: its version id ("null" for the null version), ETag and time. Undefined when none is kept
   * from the last `completionKeptMs` before `nowMs`.
   */
  completedBefore(bucket: string, key: string, uploadId: string, parts: CompletedPart[], nowMs: number): { versionId: string; etag: string; lastModifiedMs: number } | undefined {
    const row = this.db
      .query<{ bucket: string; key: Uint8Array; parts: string; version_id: string | null; etag: string; completed_ms: number }, [string]>("SELECT * FROM completed_uploads WHERE upload_id = ?")
      .get(uploadId);
    if (row === null || row.completed_ms < nowMs - completionKeptMs) return undefined;
    if (row.bucket !== bucket || keyText(row.key) !== key || row.parts !== partsDigest(parts)) return undefined;
    return { versionId: row.version_id ?? "null", etag: row.etag, lastModifiedMs: row.completed_ms };
  }

  async abort(bucket: string, key: string, uploadId: string): Promise<void> {
    const blobs = await this.committer.commit(() => {
      this.requireUpload(bucket, key, uploadId);
      const ids = this.partRows(uploadId, 0, partsMax).map((p) => p.blob);
      this.forget(uploadId);
      return ids;
    }, true);
    this.blobs.remove(blobs);
  }

  /** The parts of an upload made with a client's key and a checksum are listed with the key (their checksums are sealed). */
  listParts(bucket: string, key: string, uploadId: string, partNumberMarker: number, maxParts: number, customerKey: CustomerKey | undefined): ListPartsPage {
    const upload = this.requireUpload(bucket, key, uploadId);
    const rows = this.partRows(uploadId, partNumberMarker, maxParts + 1, this.checksumSealing(upload, customerKey));
    // max-parts=0 asks for an empty page, as max-keys=0 does of a listing: not a truncated one
    const isTruncated = maxParts > 0 && rows.length > maxParts;
    const parts = rows.slice(0, maxParts).map((r) => ({
      partNumber: r.part_number,
      etag: r.etag,
      sizeBytes: r.size,
      lastModifiedMs: r.modified_ms,
      checksum: r.checksum ?? undefined,
    }));
    return {
      upload: { ...uploadInfoOf(upload), ...attributesOf(upload) },
      parts,
      isTruncated,
      nextPartNumberMarker: parts.at(-1)?.partNumber,
    };
  }

  listUploads(bucket: string, query: ListUploadsQuery): ListUploadsPage {
    this.requireBucket(bucket);
    const prefixBytes = utf8(query.prefix);
    const prefixEnd = cursorPastPrefix(query.prefix).keyBytes;
    // The rest of the cursor's key, then the keys after it: each a seek on uploads_by_key (one
    // query with the cursor in an OR read every upload before it, on every page).
    const restOfKey = this.db.query<UploadRow, [string, Uint8Array, string, number]>(
      "SELECT * FROM uploads WHERE bucket = ? AND key = ? AND upload_id > ? ORDER BY upload_id LIMIT ?",
    );
    const keysAfter = this.db.query<UploadRow, [string, Uint8Array, Uint8Array, Uint8Array, number]>(
      "SELECT * FROM uploads WHERE bucket = ? AND key > ? AND key >= ? AND key < ? ORDER BY key, upload_id LIMIT ?",
    );
    const scan = (after: ListCursor, limit: number): UploadRow[] => {
      const rows = after.sub !== afterEveryUploadId && inKeyRange(after.keyBytes, prefixBytes, prefixEnd) ? restOfKey.all(bucket, after.keyBytes, after.sub, limit) : [];
      if (rows.length < limit) rows.push(...keysAfter.all(bucket, after.keyBytes, prefixBytes, prefixEnd, limit - rows.length));
      return rows;
    };
    const start: ListCursor = {
      keyBytes: utf8(query.keyMarker),
      sub: query.uploadIdMarker !== "" ? query.uploadIdMarker : afterEveryUploadId,
    };
    const result = listEntries(
      (after, limit) => scan(after, limit).map((row) => ({ ...uploadInfoOf(row), sub: row.upload_id })),
      { prefix: query.prefix, delimiter: query.delimiter, start, maxEntries: query.maxUploads },
    );
    const uploads: UploadInfo[] = [];
    const commonPrefixes: string[] = [];
    for (const e of result.entries) {
      if (e.prefix !== undefined) commonPrefixes.push(e.prefix);
      else uploads.push({ key: e.row.key, uploadId: e.row.uploadId, initiatedMs: e.row.initiatedMs, checksum: e.row.checksum });
    }
    const last = result.entries.at(-1);
    return {
      uploads,
      commonPrefixes,
      isTruncated: result.isTruncated,
      nextKeyMarker: last?.prefix ?? last?.row.key,
      nextUploadIdMarker: last?.row?.uploadId,
    };
  }

  private requireUpload(bucket: string, key: string, uploadId: string): UploadRow {
    this.requireBucket(bucket);
    const row = this.db.query<UploadRow, [string]>("SELECT * FROM uploads WHERE upload_id = ?").get(uploadId);
    if (!row || row.bucket !== bucket || keyText(row.key) !== key) {
      throw new S3Error("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", { UploadId: uploadId });
    }
    return row;
  }

  private partRow(uploadId: string, partNumber: number): PartRow | null {
    return this.db.query<PartRow, [string, number]>("SELECT * FROM parts WHERE upload_id = ? AND part_number = ?").get(uploadId, partNumber);
  }

  /** Parts in order; their checksums opened with `customer`, when they are sealed with its key. */
  private partRows(uploadId: string, afterPartNumber: number, limit: number, customer?: CustomerSealing): PartRow[] {
    const rows = this.db
      .query<PartRow, [string, number, number]>("SELECT * FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?")
      .all(uploadId, afterPartNumber, limit);
    if (customer === undefined) return rows;
    return rows.map((row) => (row.checksum === null ? row : { ...row, checksum: customer.openColumn(row.checksum) }));
  }
}

/** How long a completion is remembered for the same completion sent again: a client's retries, with room to spare. */
export const completionKeptMs = 24 * 60 * 60 * 1000;

/** The parts a completion names, as one value to compare: numbers, ETags and checksums in order. */
function partsDigest(parts: CompletedPart[]): string {
  return createHash("sha256").update(JSON.stringify(parts.map((p) => [p.partNumber, p.etag, p.checksum ?? null]))).digest("base64");
}

function uploadChecksumOf(row: UploadRow): UploadChecksum | undefined {
  return row.checksum === null ? undefined : JSON.parse(row.checksum);
}

/**
 * The whole object's checksum from its parts': COMPOSITE is the checksum of the concatenated
 * part digests with "-N"; FULL_OBJECT is the CRC of all bytes, combined from the part CRCs.
 */
function objectChecksum(spec: UploadChecksum, parts: PartRow[]): StoredChecksum {
  const algorithm = spec.algorithm as ChecksumAlgorithm;
  const digests = parts.map((p) => {
    assert(p.checksum !== null, "parts of a checksummed upload carry their checksum");
    return new Uint8Array(Buffer.from(p.checksum, "base64"));
  });
  const partChecksums = parts.map((p) => p.checksum!);
  if (spec.type === "COMPOSITE") {
    return { ...spec, value: `${digestBase64(compositeChecksum(algorithm, digests))}-${parts.length}`, parts: partChecksums };
  }
  assert(isCrcAlgorithm(algorithm), "FULL_OBJECT checksums are CRCs");
  let whole: Uint8Array = digests[0];
  for (let i = 1; i < digests.length; i++) whole = combineCrc(algorithm, whole, digests[i], parts[i].size);
  return { ...spec, value: digestBase64(whole), parts: partChecksums };
}

function uploadInfoOf(row: UploadRow): UploadInfo {
  return { key: keyText(row.key), uploadId: row.upload_id, initiatedMs: row.initiated_ms, checksum: uploadChecksumOf(row) };
}
