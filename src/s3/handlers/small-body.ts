/** Reading the small XML bodies of control requests, with their size limit and integrity checks. */
import { S3Error } from "../../errors.ts";
import { checksumAlgorithms, checksumHeader } from "../../checksum/index.ts";
import { requestBody } from "../body.ts";
import { malformedXml, xmlBodyBytesMax } from "../xml.ts";
import type { S3Context } from "./context.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a request body of at most `limitBytes` as text, verifying its signed hash, Content-MD5
 * and, unless they name the checksum of the object the request makes (`objectChecksumHeaders`),
 * its x-amz-checksum-* headers. A body that is not UTF-8 is MalformedXML.
 */
export async function readSmallBody(ctx: S3Context, objectChecksumHeaders = false, limitBytes = xmlBodyBytesMax): Promise<string> {
  const tooLarge = () => new S3Error("MalformedXML", "The XML you provided was larger than the maximum allowed size.");
  try {
    const body = requestBody(ctx.req.body, ctx.req.headers, ctx.payload, { limitBytes, lengthRequired: false, objectChecksumHeaders });
    const bytes = new Uint8Array(await new Response(body.stream).arrayBuffer());
    try {
      return strictUtf8.decode(bytes);
    } catch {
      // decoded leniently, a key of invalid bytes would become U+FFFD and name another object
      throw malformedXml();
    }
  } catch (error) {
    if (error instanceof S3Error && error.code === "EntityTooLarge") throw tooLarge();
    throw error;
  }
}

/**
 * The operations S3 requires an integrity header for (DeleteObjects, PutBucketTagging): Content-MD5,
 * or an x-amz-checksum-* (or only its algorithm, for s3d to compute), which the body is then checked against.
 */
export function requireIntegrityHeader(headers: Record<string, string>): void {
  const hasChecksum = checksumAlgorithms.some((a) => headers[checksumHeader(a)] !== undefined) || headers["x-amz-sdk-checksum-algorithm"] !== undefined;
  if (headers["content-md5"] === undefined && !hasChecksum) {
    throw new S3Error("InvalidRequest", "Missing required header for this request: Content-MD5 or x-amz-checksum-*");
  }
}
