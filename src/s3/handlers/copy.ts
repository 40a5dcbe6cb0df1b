/** CopyObject and UploadPartCopy: the source streams from the store into a new object or part. */
import type { ChecksumAlgorithm } from "../../checksum/index.ts";
import { S3Error } from "../../errors.ts";
import { objectBytesMax, type ObjectAttributes, type ObjectReader } from "../../store/backend.ts";
import { attributesFromHeaders, websiteRedirectHeader } from "../attributes.ts";
import { checksumAlgorithmNamed, trustedBody } from "../body.ts";
import { checkCopySource } from "../conditions.ts";
import type { ByteRange } from "../range.ts";
import { checkKey, parseCopySource, partNumberOf } from "../names.ts";
import { isoTime, quoteEtag, xmlResponse } from "../respond.ts";
import { tagsFromHeader } from "../tags.ts";
import { s3Xmlns, x } from "../xml.ts";
import type { S3Context } from "./context.ts";
import { checksumElements, uploadIdOf } from "./multipart.ts";
import { preconditionFrom } from "./objects.ts";
import { expirationHeaders } from "./lifecycle.ts";
import { checkVersionIn, versionHeader, writtenVersionHeader } from "./versioning.ts";
import { writeLock } from "./object-lock.ts";
import { checkedWrite, keyHeaders, requestedKey, requireKeyFor, writingKey } from "../customer-keys.ts";

function directive(ctx: S3Context, header: string): "COPY" | "REPLACE" {
  const value = ctx.req.headers[header] ?? "COPY";
  if (value !== "COPY" && value !== "REPLACE") {
    throw new S3Error("InvalidArgument", `Unknown ${header}: ${value}`, { ArgumentName: header, ArgumentValue: value });
  }
  return value;
}

/** A copy's source, open: where it is, and the version read (x-amz-copy-source-version-id, where its bucket has versions). */
interface Source {
  reader: ObjectReader;
  bucket: string;
  key: string;
  versionId?: string;
  versionHeader: Record<string, string>;
}

/**
 * The copy source, opened once the request may read it (s3:GetObject, or s3:GetObjectVersion when it
 * names a version; its bucket's policy may deny it), with the key its x-amz-copy-source-…-customer
 * headers give (SSE-C). That the source is missing is told to an unsigned request only where it may
 * list the source's bucket.
 */
async function openSource(ctx: S3Context): Promise<Source> {
  const source = parseCopySource(ctx.req.headers["x-amz-copy-source"]);
  const sealedWith = requestedKey(ctx.req, "source", false);
  await ctx.access.check([source.versionId !== undefined ? "s3:GetObjectVersion" : "s3:GetObject"], source.bucket, source.key);
  if (source.versionId !== undefined) await checkVersionIn(ctx, source.bucket, source.versionId, "x-amz-copy-source");
  const reader = await ctx.backend.openObject(source.bucket, source.key, source.versionId, sealedWith?.customerKey).catch(async (error: unknown) => {
    // (a delete marker named by its id has no bytes to copy: S3 tells so as a bad request)
    if (error instanceof S3Error && error.code === "MethodNotAllowed") {
      throw new S3Error("InvalidRequest", "The source of a copy request may not specifically refer to a delete marker by version id.");
    }
    throw await ctx.access.told(error, source.bucket);
  });
  try {
    requireKeyFor(reader.meta, sealedWith);
    checkCopySource(ctx.req.headers, reader.meta, ctx.req.nowMs);
    const { "x-amz-version-id": copied } = await versionHeader(ctx, source.bucket, reader.meta.versionId);
    return { reader, ...source, versionHeader: copied === undefined ? {} : { "x-amz-copy-source-version-id": copied } };
  } catch (error) {
    reader.close();
    throw error;
  }
}

/**
 * A copy source's bytes (all, or a range), its file opened only when the write first reads them:
 * a write refused before it reads (no such bucket or upload, no space) leaves no file open. An
 * open FileHandle left to the garbage collector ends the process (Bun refuses to close it there).
 */
function sourceBytes(reader: ObjectReader, range?: ByteRange): AsyncIterable<Uint8Array> {
  return { [Symbol.asyncIterator]: () => reader.stream(range)[Symbol.asyncIterator]() };
}

/** Runs a copy's write; if it fails, the source's blobs are released (a stream read to its end or cancelled releases them itself). */
async function releasingOnFailure<T>(reader: ObjectReader, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    reader.close();
    throw error;
  }
}

/**
 * The source's headers as a copy keeps them (x-amz-metadata-directive COPY): all but its website
 * redirect, which S3 never copies; the copy has the one its request names, if any.
 */
function copiedHeaders(source: Record<string, string>, requested: Record<string, string>): Record<string, string> {
  const { [websiteRedirectHeader]: _, ...kept } = source;
  return requested[websiteRedirectHeader] === undefined ? kept : { ...kept, [websiteRedirectHeader]: requested[websiteRedirectHeader] };
}

export async function copyObject(ctx: S3Context) {
  const { bucket, key, headers, nowMs } = ctx.req;
  checkKey(key);
  const metadataDirective = directive(ctx, "x-amz-metadata-directive");
  const taggingDirective = directive(ctx, "x-amz-tagging-directive");
  const sealedWith = await checkedWrite(ctx.req, ctx.backend);
  const requested = attributesFromHeaders(headers);
  // (the copy's own: a source's lock is not copied, as in S3)
  const lock = await writeLock(ctx, bucket, false);
  const precondition = preconditionFrom(ctx);
  const source = await openSource(ctx);
  const { reader } = source;
  let body;
  try {
    // (naming the encryption is a change: it is how S3 users encrypt objects in place, or change or drop their SSE-C key)
    const changesNothing = metadataDirective === "COPY" && taggingDirective === "COPY" && headers["x-amz-server-side-encryption"] === undefined &&
      sealedWith === undefined && reader.meta.customerKeyCheck === undefined && headers[websiteRedirectHeader] === undefined;
    // (a version named onto its own key is how S3 users restore it: a new version, allowed)
    if (source.bucket === bucket && source.key === key && source.versionId === undefined && changesNothing) {
      throw new S3Error("InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
    }
    if (reader.meta.sizeBytes > objectBytesMax) {
      throw new S3Error("InvalidRequest", `The specified copy source is larger than the maximum allowable size for a copy source: ${objectBytesMax}`);
    }
    // tags copied with the object are read from the source and written to the copy: both may be denied
    if (taggingDirective === "COPY" && Object.keys(reader.meta.tags).length > 0) {
      await ctx.access.check(["s3:GetObjectTagging"], source.bucket, source.key);
      await ctx.access.check(["s3:PutObjectTagging"], bucket, key);
    }
    // The copy keeps a checksum: the one asked for, or else the source's algorithm (computed
    // again over the bytes: a multipart source's composite checksum is not the copy's).
    const named = headers["x-amz-checksum-algorithm"];
    const checksum = named !== undefined ? checksumAlgorithmNamed(named) : (reader.meta.checksum?.algorithm as ChecksumAlgorithm | undefined);
    body = trustedBody(sourceBytes(reader), checksum);
  } catch (error) {
    reader.close();
    throw error;
  }
  const attrs: ObjectAttributes = {
    headers: metadataDirective === "REPLACE" ? requested.headers : copiedHeaders(reader.meta.headers, requested.headers),
    userMeta: metadataDirective === "REPLACE" ? requested.userMeta : reader.meta.userMeta,
    tags: taggingDirective === "REPLACE" ? tagsFromHeader(headers["x-amz-tagging"]) : reader.meta.tags,
    lock,
  };
  const meta = await releasingOnFailure(reader, () => ctx.backend.putObject(bucket, key, body, attrs, nowMs, precondition, sealedWith?.customerKey));
  const result = x("CopyObjectResult", { xmlns: s3Xmlns }, x("LastModified", isoTime(meta.lastModifiedMs)), x("ETag", quoteEtag(meta.etag)), checksumElements(meta.checksum));
  return xmlResponse(result, 200, { ...(await expirationHeaders(ctx, meta)), ...writtenVersionHeader(meta.versionId), ...source.versionHeader, ...keyHeaders(sealedWith) });
}

/** x-amz-copy-source-range: "bytes=first-last", both given, within the source. */
function copyRange(header: string | undefined, sizeBytes: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d+)$/.exec(header.trim());
  const start = m ? Number(m[1]) : NaN;
  const end = m ? Number(m[2]) : NaN;
  if (!(start <= end && end < sizeBytes)) {
    throw new S3Error("InvalidArgument", `Range specified is not valid for source object of size: ${sizeBytes}`, {
      ArgumentName: "x-amz-copy-source-range",
      ArgumentValue: header,
    });
  }
  return { start, end };
}

export async function uploadPartCopy(ctx: S3Context) {
  const { bucket, key, params, headers, nowMs } = ctx.req;
  const partNumber = partNumberOf(params.get("partNumber"));
  // an upload created with a checksum needs it of every part, copied ones too
  const { checksum: uploadChecksum } = await ctx.backend.uploadSettings(bucket, key, uploadIdOf(ctx));
  const sealedWith = await writingKey(ctx.req, ctx.backend);
  const { reader, versionHeader: copied } = await openSource(ctx);
  let body;
  try {
    body = trustedBody(sourceBytes(reader, copyRange(headers["x-amz-copy-source-range"], reader.meta.sizeBytes)), uploadChecksum?.algorithm as ChecksumAlgorithm | undefined);
  } catch (error) {
    reader.close();
    throw error;
  }
  const part = await releasingOnFailure(reader, () => ctx.backend.uploadPart(bucket, key, uploadIdOf(ctx), partNumber, body, nowMs, sealedWith?.customerKey));
  // the part's own checksum, without a type (as UploadPart answers it)
  const checksum = body.digest().checksum;
  return xmlResponse(
    x("CopyPartResult", { xmlns: s3Xmlns }, x("LastModified", isoTime(part.lastModifiedMs)), x("ETag", quoteEtag(part.etag)), checksumElements(checksum && { algorithm: checksum.algorithm, value: checksum.value })),
    200,
    { ...copied, ...keyHeaders(sealedWith) },
  );
}
