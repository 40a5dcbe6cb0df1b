/** Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects. */
import { S3Error } from "../../errors.ts";
import { listKeysMax, objectBytesMax, type IncomingBody } from "../../store/backend.ts";
import { attributesFromHeaders, objectHeaders } from "../attributes.ts";
import { requestBody } from "../body.ts";
import { checkKey } from "../names.ts";
import { contentRange, resolveRange } from "../range.ts";
import { emptyResponse, quoteEtag, xmlResponse, type S3Response } from "../respond.ts";
import { childList, childText, parseXmlBody, s3Xmlns, x } from "../xml.ts";
import type { S3Context } from "./context.ts";
import { readSmallBody } from "./small-body.ts";

/** The body of an upload (PutObject, UploadPart), verified against what the client declared. */
export function uploadBody(ctx: S3Context, limitBytes: number): IncomingBody {
  return requestBody(ctx.req.body, ctx.req.headers, ctx.payload, { limitBytes, lengthRequired: true });
}

export async function putObject(ctx: S3Context) {
  const { bucket, key, nowMs } = ctx.req;
  checkKey(key);
  const attrs = attributesFromHeaders(ctx.req.headers);
  const body = uploadBody(ctx, objectBytesMax);
  const meta = await ctx.backend.putObject(bucket, key, body, attrs, nowMs);
  return emptyResponse(200, { etag: quoteEtag(meta.etag) });
}

export async function getObject(ctx: S3Context, withBody = true): Promise<S3Response> {
  const { bucket, key } = ctx.req;
  checkKey(key);
  const reader = await ctx.backend.openObject(bucket, key);
  try {
    const { meta } = reader;
    const headers = objectHeaders(meta);
    const range = resolveRange(ctx.req.headers.range ?? null, meta.sizeBytes);
    const status = range ? 206 : 200;
    if (range) headers["content-range"] = contentRange(range, meta.sizeBytes);
    headers["content-length"] = String(range ? range.end - range.start + 1 : meta.sizeBytes);
    if (!withBody) {
      reader.close();
      return emptyResponse(status, headers);
    }
    return { status, headers, body: reader.stream(range) };
  } catch (error) {
    reader.close();
    throw error;
  }
}

export function headObject(ctx: S3Context) {
  return getObject(ctx, false);
}

export async function deleteObject(ctx: S3Context) {
  checkKey(ctx.req.key);
  await ctx.backend.deleteObject(ctx.req.bucket, ctx.req.key);
  return emptyResponse(204);
}

const checksumHeaderPattern = /^x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)$/;

export async function deleteObjects(ctx: S3Context) {
  const { headers, bucket } = ctx.req;
  const hasChecksum = Object.keys(headers).some((h) => checksumHeaderPattern.test(h));
  if (headers["content-md5"] === undefined && !hasChecksum) {
    throw new S3Error("InvalidRequest", "Missing required header for this request: Content-MD5 or x-amz-checksum-*");
  }
  await ctx.backend.headBucket(bucket);
  const doc = parseXmlBody(await readSmallBody(ctx));
  const del = doc.Delete;
  if (del === undefined) throw new S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.");
  const quiet = (childText(del, "Quiet") ?? "false").trim() === "true";
  const keys = childList(del, "Object").map((o) => childText(o, "Key"));
  if (keys.length === 0 || keys.length > listKeysMax || keys.some((k) => k === undefined)) {
    throw new S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.");
  }
  // Deleted concurrently, so the group committer folds them into few transactions.
  const outcomes = await Promise.all(
    (keys as string[]).map(async (key) => {
      try {
        checkKey(key);
        await ctx.backend.deleteObject(bucket, key);
        return { key };
      } catch (error) {
        if (!(error instanceof S3Error)) throw error;
        return { key, error };
      }
    }),
  );
  return xmlResponse(
    x(
      "DeleteResult",
      { xmlns: s3Xmlns },
      outcomes.map((o) =>
        o.error
          ? x("Error", x("Key", o.key), x("Code", o.error.code), x("Message", o.error.message))
          : quiet
            ? null
            : x("Deleted", x("Key", o.key)),
      ),
    ),
  );
}
