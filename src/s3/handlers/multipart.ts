/** Multipart uploads: Create, UploadPart, Complete, Abort, ListParts, ListMultipartUploads. */
import { S3Error } from "../../errors.ts";
import { checksumAlgorithms, checksumHeader, isCrcAlgorithm, isValidChecksumValue, parseChecksumAlgorithm, type ChecksumAlgorithm } from "../../checksum/index.ts";
import { partBytesMax, type CompletedPart, type ObjectMeta, type Precondition, type UploadChecksum } from "../../store/backend.ts";
import { attributesFromHeaders } from "../attributes.ts";
import { invalidChecksumValue } from "../body.ts";
import { checkKey, partNumberOf } from "../names.ts";
import { originOf } from "../request.ts";
import { emptyResponse, isoTime, quoteEtag, unquoteEtag, xmlResponse } from "../respond.ts";
import { childList, childText, parseXmlBody, s3Xmlns, x, malformedXml } from "../xml.ts";
import { ownerOf, type S3Context } from "./context.ts";
import { encodingOf, markerParam, maxParam } from "./list.ts";
import { preconditionFrom, uploadBody } from "./objects.ts";
import { readSmallBody } from "./small-body.ts";
import { abortHeaders, expirationHeaders } from "./lifecycle.ts";
import { writtenVersionHeader } from "./versioning.ts";
import { checkedWrite, keyHeaders, requestedKey, sealedObjectHeader, writingKey } from "../customer-keys.ts";
import { requireLockIntegrity, writeLock } from "./object-lock.ts";

const listPartsMax = 1000;
const listUploadsMax = 1000;

export function uploadIdOf(ctx: S3Context): string {
  return ctx.req.params.get("uploadId") ?? "";
}

/** x-amz-checksum-algorithm and x-amz-checksum-type of CreateMultipartUpload, checked. */
function uploadChecksumFrom(headers: Record<string, string>): UploadChecksum | undefined {
  const name = headers["x-amz-checksum-algorithm"];
  const typeHeader = headers["x-amz-checksum-type"]?.toUpperCase();
  if (name === undefined) {
    if (typeHeader !== undefined) throw new S3Error("InvalidRequest", "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.");
    return undefined;
  }
  const algorithm = parseChecksumAlgorithm(name);
  if (!algorithm) throw new S3Error("InvalidRequest", `Checksum algorithm ${name} is not supported.`);
  const type = typeHeader ?? (algorithm === "CRC64NVME" ? "FULL_OBJECT" : "COMPOSITE");
  if (type !== "FULL_OBJECT" && type !== "COMPOSITE") throw new S3Error("InvalidRequest", `Checksum type ${type} is not supported.`);
  if (type === "FULL_OBJECT" && !isCrcAlgorithm(algorithm)) throw new S3Error("InvalidRequest", `The FULL_OBJECT checksum type cannot be used with the ${algorithm} algorithm.`);
  if (type === "COMPOSITE" && algorithm === "CRC64NVME") throw new S3Error("InvalidRequest", "The COMPOSITE checksum type cannot be used with the CRC64NVME algorithm.");
  return { algorithm, type };
}

/** ChecksumCRC32 etc. for a checksum value, and its type when given. */
export function checksumElements(checksum: { algorithm: string; value?: string; type?: string } | undefined) {
  if (!checksum) return null;
  return [
    checksum.value !== undefined ? x(`Checksum${checksum.algorithm}`, checksum.value) : null,
    checksum.type !== undefined ? x("ChecksumType", checksum.type) : null,
  ];
}

export async function createMultipartUpload(ctx: S3Context) {
  const { bucket, key, nowMs } = ctx.req;
  checkKey(key);
  const sealedWith = await checkedWrite(ctx.req, ctx.backend);
  const checksum = uploadChecksumFrom(ctx.req.headers);
  const attrs = { ...attributesFromHeaders(ctx.req.headers), lock: await writeLock(ctx, bucket, false) };
  const uploadId = await ctx.backend.createMultipartUpload(bucket, key, attrs, nowMs, checksum, sealedWith?.customerKey);
  const headers: Record<string, string> = checksum ? { "x-amz-checksum-algorithm": checksum.algorithm, "x-amz-checksum-type": checksum.type } : {};
  Object.assign(headers, await abortHeaders(ctx, nowMs), keyHeaders(sealedWith));
  return xmlResponse(
    x("InitiateMultipartUploadResult", { xmlns: s3Xmlns }, x("Bucket", bucket), x("Key", key), x("UploadId", uploadId)),
    200,
    headers,
  );
}

export async function uploadPart(ctx: S3Context) {
  const { bucket, key, params, nowMs } = ctx.req;
  const partNumber = partNumberOf(params.get("partNumber"));
  const { checksum: uploadChecksum, lock } = await ctx.backend.uploadSettings(bucket, key, uploadIdOf(ctx));
  requireLockIntegrity(ctx.req.headers, "Put Part", lock, (await ctx.backend.headBucket(bucket)).objectLock);
  const sealedWith = await writingKey(ctx.req, ctx.backend);
  const body = uploadBody(ctx, partBytesMax, uploadChecksum?.algorithm as ChecksumAlgorithm | undefined);
  const part = await ctx.backend.uploadPart(bucket, key, uploadIdOf(ctx), partNumber, body, nowMs, sealedWith?.customerKey);
  const checksum = body.digest().checksum;
  // the part's own checksum; unlike an object's, S3 sends no checksum type with it
  return emptyResponse(200, {
    etag: quoteEtag(part.etag),
    ...(checksum ? { [checksumHeader(checksum.algorithm as ChecksumAlgorithm)]: checksum.value } : {}),
    ...keyHeaders(sealedWith),
  });
}

export async function completeMultipartUpload(ctx: S3Context) {
  const { bucket, key, nowMs } = ctx.req;
  const doc = parseXmlBody(await readSmallBody(ctx, { objectChecksumHeaders: true }));
  const root = doc.CompleteMultipartUpload;
  if (root === undefined) throw malformedXml();
  const parts: CompletedPart[] = childList(root, "Part").map((p) => {
    const etag = childText(p, "ETag");
    if (etag === undefined) throw new S3Error("MalformedXML", "Each Part needs a PartNumber and an ETag.");
    const listed = checksumAlgorithms.map((a) => childText(p, `Checksum${a}`)).find((v) => v !== undefined);
    return { partNumber: partNumberOf(childText(p, "PartNumber"), "PartNumber"), etag: unquoteEtag(etag), checksum: listed?.trim() };
  });
  const conditional = preconditionFrom(ctx);
  const { headers } = ctx.req;
  const claimed = checksumAlgorithms.find((a) => headers[checksumHeader(a)] !== undefined);
  // (a value that is no digest at all is refused as such, before any part is looked at; a composite one may end in "-<parts>")
  if (claimed !== undefined && !isValidChecksumValue(claimed, headers[checksumHeader(claimed)].trim().replace(/-\d+$/, ""))) throw invalidChecksumValue(claimed);
  const claimedType = headers["x-amz-checksum-type"]?.toUpperCase();
  const claimedSize = objectSizeFrom(headers["x-amz-mp-object-size"]);
  // What the completion says of the whole object must match what the parts make: its size, its
  // checksum type, and its checksum (a composite one with or without its "-<parts>" suffix).
  const checkClaims = (next: ObjectMeta) => {
    if (claimedSize !== undefined && claimedSize !== next.sizeBytes) {
      throw new S3Error("InvalidRequest", `The provided x-amz-mp-object-size ${claimedSize} does not match the size of the parts, ${next.sizeBytes}.`);
    }
    if (claimedType !== undefined && claimedType !== next.checksum?.type) {
      throw new S3Error("BadDigest", `The checksum type ${claimedType} does not match the checksum type the upload was created with.`);
    }
    if (claimed === undefined) return;
    const sent = headers[checksumHeader(claimed)].trim();
    const made = next.checksum?.algorithm === claimed ? next.checksum.value : undefined;
    if (made === undefined || (sent !== made && sent !== made.replace(/-\d+$/, ""))) {
      throw new S3Error("BadDigest", `The ${claimed} you specified did not match the calculated checksum.`);
    }
  };
  const precondition: Precondition = (current, next) => {
    conditional?.(current, next);
    checkClaims(next);
  };
  // (the key is needed where the upload has a checksum: its parts' are sealed with it)
  const sealedWith = await writingKey(ctx.req, ctx.backend, false);
  const meta = await ctx.backend.completeMultipartUpload(bucket, key, uploadIdOf(ctx), parts, nowMs, precondition, sealedWith?.customerKey);
  // (a completion sent again is answered with the object the first made, which its claims must match too)
  checkClaims(meta);
  return xmlResponse(
    x(
      "CompleteMultipartUploadResult",
      { xmlns: s3Xmlns },
      // the object's URL: this request's own path names it, as the client encoded it
      x("Location", `${originOf(ctx.req)}${ctx.req.rawPath}`),
      x("Bucket", bucket),
      x("Key", key),
      x("ETag", quoteEtag(meta.etag)),
      checksumElements(meta.checksum),
    ),
    200,
    { ...(await expirationHeaders(ctx, meta)), ...writtenVersionHeader(meta.versionId), ...sealedObjectHeader(meta) },
  );
}

/** x-amz-mp-object-size: the size the client expects the completed object to have. */
function objectSizeFrom(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const size = /^\d{1,16}$/.test(header.trim()) ? Number(header.trim()) : NaN;
  if (!Number.isSafeInteger(size)) throw new S3Error("InvalidArgument", "x-amz-mp-object-size must be a whole number of bytes.", { ArgumentName: "x-amz-mp-object-size", ArgumentValue: header });
  return size;
}

export async function abortMultipartUpload(ctx: S3Context) {
  await ctx.backend.abortMultipartUpload(ctx.req.bucket, ctx.req.key, uploadIdOf(ctx));
  return emptyResponse(204);
}

export async function listParts(ctx: S3Context) {
  const { bucket, key, params } = ctx.req;
  const marker = markerParam(params.get("part-number-marker"), "part-number-marker");
  const maxParts = maxParam(params.get("max-parts"), "max-parts", listPartsMax);
  const page = await ctx.backend.listParts(bucket, key, uploadIdOf(ctx), marker, maxParts, requestedKey(ctx.req, "object", false)?.customerKey);
  const owner = x("ID", ownerOf(ctx).id);
  return xmlResponse(
    x(
      "ListPartsResult",
      { xmlns: s3Xmlns },
      x("Bucket", bucket),
      x("Key", key),
      x("UploadId", page.upload.uploadId),
      x("Initiator", owner),
      x("Owner", owner),
      x("StorageClass", "STANDARD"),
      page.upload.checksum ? [x("ChecksumAlgorithm", page.upload.checksum.algorithm), x("ChecksumType", page.upload.checksum.type)] : null,
      x("PartNumberMarker", marker),
      page.isTruncated ? x("NextPartNumberMarker", page.nextPartNumberMarker) : null,
      x("MaxParts", maxParts),
      x("IsTruncated", page.isTruncated),
      page.parts.map((p) =>
        x(
          "Part",
          x("PartNumber", p.partNumber),
          x("LastModified", isoTime(p.lastModifiedMs)),
          x("ETag", quoteEtag(p.etag)),
          x("Size", p.sizeBytes),
          p.checksum !== undefined && page.upload.checksum ? x(`Checksum${page.upload.checksum.algorithm}`, p.checksum) : null,
        ),
      ),
    ),
    200,
    await abortHeaders(ctx, page.upload.initiatedMs),
  );
}

export async function listMultipartUploads(ctx: S3Context) {
  const { bucket, params } = ctx.req;
  const enc = encodingOf(params);
  const query = {
    prefix: params.get("prefix") ?? "",
    delimiter: params.get("delimiter") ?? "",
    keyMarker: params.get("key-marker") ?? "",
    uploadIdMarker: params.get("upload-id-marker") ?? "",
    maxUploads: maxParam(params.get("max-uploads"), "max-uploads", listUploadsMax),
  };
  const page = await ctx.backend.listMultipartUploads(bucket, query);
  const owner = x("ID", ownerOf(ctx).id);
  return xmlResponse(
    x(
      "ListMultipartUploadsResult",
      { xmlns: s3Xmlns },
      x("Bucket", bucket),
      x("KeyMarker", enc(query.keyMarker)),
      x("UploadIdMarker", query.uploadIdMarker),
      page.isTruncated ? x("NextKeyMarker", enc(page.nextKeyMarker ?? "")) : null,
      page.isTruncated ? x("NextUploadIdMarker", page.nextUploadIdMarker ?? "") : null,
      query.delimiter !== "" ? x("Delimiter", enc(query.delimiter)) : null,
      x("Prefix", enc(query.prefix)),
      x("MaxUploads", query.maxUploads),
      x("IsTruncated", page.isTruncated),
      params.has("encoding-type") ? x("EncodingType", "url") : null,
      page.uploads.map((u) =>
        x(
          "Upload",
          x("Key", enc(u.key)),
          x("UploadId", u.uploadId),
          x("Initiator", owner),
          x("Owner", owner),
          x("StorageClass", "STANDARD"),
          x("Initiated", isoTime(u.initiatedMs)),
          u.checksum ? [x("ChecksumAlgorithm", u.checksum.algorithm), x("ChecksumType", u.checksum.type)] : null,
        ),
      ),
      page.commonPrefixes.map((p) => x("CommonPrefixes", x("Prefix", enc(p)))),
    ),
  );
}
