/** Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, GetObjectAttributes, GetObjectAcl, tagging. */
import { noSuchVersion, S3Error } from "../../errors.ts";
import { listKeysMax, objectBytesMax, type IncomingBody, type ObjectMeta, type ObjectReader, type Precondition } from "../../store/backend.ts";
import type { ChecksumAlgorithm } from "../../checksum/index.ts";
import { attributesFromHeaders, checkReadHeaders, checksumHeaders, objectHeaders } from "../attributes.ts";
import { requestBody } from "../body.ts";
import { checkWrite, evaluateRead, readConditionsFrom, writeConditionFrom } from "../conditions.ts";
import { checkKey, partNumberOf } from "../names.ts";
import { tagsFromXml, tagsXml } from "../tags.ts";
import { contentRange, resolveRange, type ByteRange } from "../range.ts";
import { emptyResponse, httpTime, isHeaderValue, quoteEtag, xmlResponse, type S3Response } from "../respond.ts";
import { childList, childText, parseXmlBody, s3Xmlns, x, malformedXml } from "../xml.ts";
import { ownerOnlyAcl, type S3Context } from "./context.ts";
import { markerParam, maxParam } from "./list.ts";
import { readSmallBody, requireIntegrityHeader } from "./small-body.ts";
import { expirationHeaders } from "./lifecycle.ts";
import { canNameVersions, versionHeader, versionParam, versionRead, writtenVersionHeader } from "./versioning.ts";
import { bypassGovernance, writeLock } from "./object-lock.ts";
import { checkedWrite, keyHeaders, requestedKey, requireKeyFor, type RequestedKey } from "../customer-keys.ts";

/** The body of an upload (PutObject, UploadPart), verified against what the client declared. */
export function uploadBody(ctx: S3Context, limitBytes: number, defaultChecksum?: ChecksumAlgorithm): IncomingBody {
  return requestBody(ctx.req.body, ctx.req.headers, ctx.payload, { limitBytes, lengthRequired: true, defaultChecksum });
}

/** A write condition (If-None-Match: *, If-Match) as a backend precondition. */
export function preconditionFrom(ctx: S3Context): Precondition | undefined {
  const condition = writeConditionFrom(ctx.req.headers);
  return condition && ((current) => checkWrite(condition, current?.etag, ctx.req.key));
}

export async function putObject(ctx: S3Context) {
  const { bucket, key, nowMs } = ctx.req;
  checkKey(key);
  const sealedWith = await checkedWrite(ctx.req, ctx.backend);
  const attrs = attributesFromHeaders(ctx.req.headers);
  attrs.lock = await writeLock(ctx, bucket, true);
  const precondition = preconditionFrom(ctx);
  const body = uploadBody(ctx, objectBytesMax);
  const meta = await ctx.backend.putObject(bucket, key, body, attrs, nowMs, precondition, sealedWith?.customerKey);
  return emptyResponse(200, {
    etag: quoteEtag(meta.etag),
    ...checksumHeaders(meta.checksum),
    ...(await expirationHeaders(ctx, meta)),
    ...writtenVersionHeader(meta.versionId),
    ...keyHeaders(sealedWith),
  });
}

/**
 * Opens the version a read of bytes or attributes names, with the key the request gives for it
 * (SSE-C): one sealed with a key is refused without it, before anything is answered.
 */
async function openForRead(ctx: S3Context): Promise<{ reader: ObjectReader; sealedWith: RequestedKey | undefined }> {
  checkReadHeaders(ctx.req.headers);
  const sealedWith = requestedKey(ctx.req, "object", false);
  const reader = await ctx.backend.openObject(ctx.req.bucket, ctx.req.key, await versionParam(ctx), sealedWith?.customerKey);
  try {
    requireKeyFor(reader.meta, sealedWith);
  } catch (error) {
    reader.close();
    throw error;
  }
  return { reader, sealedWith };
}

/**
 * Headers that tell what a reader may not read otherwise, each shown only where it may, as S3
 * shows them: the tag count (s3:GetObjectTagging), Object Lock's retention and legal hold.
 */
const guardedHeaders: ReadonlyArray<[action: string, headers: readonly string[]]> = [
  ["s3:GetObjectTagging", ["x-amz-tagging-count"]],
  ["s3:GetObjectRetention", ["x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date"]],
  ["s3:GetObjectLegalHold", ["x-amz-object-lock-legal-hold"]],
];

async function withholdUnreadable(ctx: S3Context, headers: Record<string, string>): Promise<void> {
  for (const [action, names] of guardedHeaders) {
    if (names.every((name) => headers[name] === undefined) || (await ctx.access.allows([action], ctx.req.bucket, ctx.req.key))) continue;
    for (const name of names) delete headers[name];
  }
}

/** Bodies up to this size are read whole and sent in one write. */
const smallResponseBytesMax = 64 * 1024;

/** response-* query parameters of GetObject (presigned download links) and the header each sets. */
const responseOverrides: Record<string, string> = {
  "response-content-type": "content-type",
  "response-content-language": "content-language",
  "response-expires": "expires",
  "response-cache-control": "cache-control",
  "response-content-disposition": "content-disposition",
  "response-content-encoding": "content-encoding",
};

export async function getObject(ctx: S3Context, withBody = true): Promise<S3Response> {
  const { bucket, key, params } = ctx.req;
  checkKey(key);
  const { reader, sealedWith } = await openForRead(ctx);
  try {
    const { meta } = reader;
    const headers = Object.assign(objectHeaders(meta), await expirationHeaders(ctx, meta), await versionHeader(ctx, bucket, meta.versionId), keyHeaders(sealedWith));
    await withholdUnreadable(ctx, headers);
    if (evaluateRead(readConditionsFrom(ctx.req.headers), meta, ctx.req.nowMs) === "not-modified") {
      reader.close();
      const { etag, "last-modified": lastModified, "x-amz-version-id": versionId } = headers;
      return emptyResponse(304, { etag, "last-modified": lastModified, ...(versionId !== undefined ? { "x-amz-version-id": versionId } : {}) });
    }
    for (const [param, header] of Object.entries(responseOverrides)) {
      const value = params.get(param);
      if (value === undefined) continue;
      // (else anyone could have a public object served as text/html from this origin)
      if (ctx.access.anonymous) throw new S3Error("InvalidRequest", "Request specific response headers cannot be used for anonymous GET requests.");
      if (!isHeaderValue(value)) {
        throw new S3Error("InvalidArgument", "Header value cannot be represented using ISO-8859-1.", { ArgumentName: param, ArgumentValue: value });
      }
      headers[header] = value;
    }
    const range = readRange(ctx, reader, headers);
    const status = range ? 206 : 200;
    // A checksum covers the whole object: S3 returns it only when the whole object is read.
    if (!range && ctx.req.headers["x-amz-checksum-mode"]?.toUpperCase() === "ENABLED") Object.assign(headers, checksumHeaders(meta.checksum));
    // (a part of no bytes has no range to name)
    if (range && range.end >= range.start) headers["content-range"] = contentRange(range, meta.sizeBytes);
    headers["content-length"] = String(range ? range.end - range.start + 1 : meta.sizeBytes);
    if (!withBody) {
      reader.close();
      return emptyResponse(status, headers);
    }
    const length = range ? range.end - range.start + 1 : meta.sizeBytes;
    // A small body goes out in one write: per-chunk stream overhead dominates small GETs.
    if (length <= smallResponseBytesMax) return { status, headers, body: await reader.bytes(range) };
    return { status, headers, body: reader.stream(range) };
  } catch (error) {
    reader.close();
    throw error;
  }
}

/**
 * What a GET or HEAD reads: a Range header's bytes, or one part of the object (`partNumber`, whose
 * answer also gives the object's part count), or the whole object (undefined).
 */
function readRange(ctx: S3Context, reader: ObjectReader, headers: Record<string, string>): ByteRange | undefined {
  const { meta } = reader;
  const partParam = ctx.req.params.get("partNumber");
  if (partParam === undefined) return resolveRange(ctx.req.headers.range ?? null, meta.sizeBytes);
  if (ctx.req.headers.range !== undefined) throw new S3Error("InvalidRequest", "Cannot specify both Range header and partNumber query parameter.");
  const range = reader.partRange(partNumberOf(partParam));
  if (range === undefined) {
    throw new S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable", { PartNumberRequested: partParam, ActualPartCount: String(Math.max(1, meta.partsCount)) });
  }
  if (meta.partsCount > 0) headers["x-amz-mp-parts-count"] = String(meta.partsCount);
  // an empty object's one part is all of it, answered with 200 as S3 does: there is no range to name
  return meta.sizeBytes === 0 ? undefined : range;
}

export function headObject(ctx: S3Context) {
  return getObject(ctx, false);
}

const objectAttributeNames = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"];

export async function getObjectAttributes(ctx: S3Context) {
  const requested = (ctx.req.headers["x-amz-object-attributes"] ?? "").split(",").map((a) => a.trim()).filter((a) => a !== "");
  const unknown = requested.find((a) => !objectAttributeNames.includes(a));
  if (requested.length === 0 || unknown !== undefined) {
    throw new S3Error("InvalidArgument", `Invalid attribute name specified: ${unknown ?? "(none)"}`, { ArgumentName: "x-amz-object-attributes" });
  }
  const { reader } = await openForRead(ctx);
  reader.close();
  const { meta } = reader;
  const want = (a: string) => requested.includes(a);
  const checksum = meta.checksum;
  return xmlResponse(
    x(
      "GetObjectAttributesResponse",
      { xmlns: s3Xmlns },
      want("ETag") ? x("ETag", meta.etag) : null,
      want("Checksum") && checksum ? x("Checksum", x(`Checksum${checksum.algorithm}`, checksum.value), x("ChecksumType", checksum.type)) : null,
      want("ObjectParts") && meta.partsCount > 0 ? objectPartsXml(ctx.req.headers, reader) : null,
      want("StorageClass") ? x("StorageClass", "STANDARD") : null,
      want("ObjectSize") ? x("ObjectSize", meta.sizeBytes) : null,
    ),
    200,
    { "last-modified": httpTime(meta.lastModifiedMs), ...(await versionHeader(ctx, ctx.req.bucket, meta.versionId)) },
  );
}

const attributePartsMax = 1000;

/**
 * ObjectParts of GetObjectAttributes: a multipart object's part count and, when its parts carry
 * checksums (S3 lists parts only then), the page of them after x-amz-part-number-marker.
 */
function objectPartsXml(headers: Record<string, string>, reader: ObjectReader) {
  const { meta } = reader;
  const checksums = meta.checksum?.parts;
  if (checksums === undefined) return x("ObjectParts", x("PartsCount", meta.partsCount));
  const marker = markerParam(headers["x-amz-part-number-marker"], "x-amz-part-number-marker");
  const maxParts = maxParam(headers["x-amz-max-parts"], "x-amz-max-parts", attributePartsMax);
  const last = Math.min(meta.partsCount, marker + maxParts);
  const isTruncated = maxParts > 0 && last < meta.partsCount;
  const parts = [];
  for (let n = marker + 1; n <= last; n++) {
    const { start, end } = reader.partRange(n)!;
    parts.push(x("Part", x(`Checksum${meta.checksum!.algorithm}`, checksums[n - 1]), x("PartNumber", n), x("Size", end - start + 1)));
  }
  return x(
    "ObjectParts",
    x("PartsCount", meta.partsCount),
    x("PartNumberMarker", marker),
    isTruncated ? x("NextPartNumberMarker", last) : null,
    x("MaxParts", maxParts),
    x("IsTruncated", isTruncated),
    parts,
  );
}

/** An object's ACL: its owner's, as every s3d object's (no ACLs, BucketOwnerEnforced). */
export async function getObjectAcl(ctx: S3Context) {
  const { headers } = await versionRead(ctx);
  return xmlResponse(ownerOnlyAcl(ctx), 200, headers);
}

export async function getObjectTagging(ctx: S3Context) {
  const { meta, headers } = await versionRead(ctx);
  return xmlResponse(tagsXml(meta.tags), 200, headers);
}

export async function putObjectTagging(ctx: S3Context) {
  const tags = tagsFromXml(await readSmallBody(ctx));
  const versionId = await ctx.backend.setObjectTags(ctx.req.bucket, ctx.req.key, tags, await versionParam(ctx));
  return emptyResponse(200, await versionHeader(ctx, ctx.req.bucket, versionId));
}

export async function deleteObjectTagging(ctx: S3Context) {
  const versionId = await ctx.backend.setObjectTags(ctx.req.bucket, ctx.req.key, {}, await versionParam(ctx));
  return emptyResponse(204, await versionHeader(ctx, ctx.req.bucket, versionId));
}

export async function deleteObject(ctx: S3Context) {
  const { bucket, key, nowMs } = ctx.req;
  checkKey(key);
  const precondition = deleteCondition(key, ctx.req.headers["if-match"]);
  const options = { versionId: await versionParam(ctx), precondition, bypassGovernance: await bypassGovernance(ctx) };
  const outcome = await ctx.backend.deleteObject(bucket, key, nowMs, options);
  const headers: Record<string, string> = outcome.versionId !== undefined ? { "x-amz-version-id": outcome.versionId } : {};
  if (outcome.deleteMarker) headers["x-amz-delete-marker"] = "true";
  return emptyResponse(204, headers);
}

/**
 * A conditional delete (If-Match, or an ETag in DeleteObjects): the key must exist, with one of
 * the ETags named ("*": any). Without a condition a delete succeeds whether or not the key exists.
 */
function deleteCondition(key: string, ifMatch: string | undefined): ((current: ObjectMeta | undefined) => void) | undefined {
  return ifMatch === undefined ? undefined : (current) => checkWrite({ ifMatch }, current?.etag, key);
}

export async function deleteObjects(ctx: S3Context) {
  const { headers, bucket } = ctx.req;
  requireIntegrityHeader(headers);
  await ctx.backend.headBucket(bucket);
  const doc = parseXmlBody(await readSmallBody(ctx));
  const del = doc.Delete;
  if (del === undefined) throw malformedXml();
  const quiet = (childText(del, "Quiet") ?? "false").trim() === "true";
  const objects = childList(del, "Object").map((o) => {
    const key = childText(o, "Key");
    if (key === undefined) throw malformedXml();
    return { key, versionId: childText(o, "VersionId")?.trim(), etag: childText(o, "ETag")?.trim() };
  });
  if (objects.length === 0 || objects.length > listKeysMax) throw malformedXml();
  const bypass = await bypassGovernance(ctx);
  // Deleted concurrently, so the group committer folds them into few transactions.
  const outcomes = await Promise.all(
    objects.map(async ({ key, versionId, etag }) => {
      try {
        checkKey(key);
        // each key as if deleted on its own: its bucket's policy may deny it (or allow an unsigned request)
        await ctx.access.check([versionId === undefined ? "s3:DeleteObject" : "s3:DeleteObjectVersion", ...(bypass ? ["s3:BypassGovernanceRetention"] : [])], bucket, key);
        // (an id no version of the bucket could have is an error entry; a version already gone is deleted, as a retry expects)
        if (versionId !== undefined && !(await canNameVersions(ctx, bucket, versionId))) throw noSuchVersion(key, versionId);
        const outcome = await ctx.backend.deleteObject(bucket, key, ctx.req.nowMs, { versionId, precondition: deleteCondition(key, etag), bypassGovernance: bypass });
        return { key, versionId, outcome };
      } catch (error) {
        if (!(error instanceof S3Error)) throw error;
        return { key, versionId, error: await ctx.access.told(error, bucket) };
      }
    }),
  );
  return xmlResponse(
    x(
      "DeleteResult",
      { xmlns: s3Xmlns },
      outcomes.map((o) => {
        const named = [x("Key", o.key), o.versionId !== undefined ? x("VersionId", o.versionId) : null];
        if (o.error) return x("Error", named, x("Code", o.error.code), x("Message", o.error.message));
        if (quiet) return null;
        // a marker added, or one removed by its version id, is named with its id
        const { deleteMarker, versionId } = o.outcome;
        return x("Deleted", named, deleteMarker ? [x("DeleteMarker", true), x("DeleteMarkerVersionId", versionId ?? "null")] : null);
      }),
    ),
  );
}
