/** Reading the small XML (or JSON) bodies of control requests, with their size limit and integrity checks. */
import { S3Error } from "../../errors.ts";
import { checksumAlgorithms, checksumHeader } from "../../checksum/index.ts";
import { requestBody } from "../body.ts";
import { malformedXml, xmlBodyBytesMax } from "../xml.ts";
import type { S3Context } from "./context.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export interface SmallBodyOptions {
  /** x-amz-checksum-* headers are the checksum of the object the request makes (CompleteMultipartUpload), not of this body */
  objectChecksumHeaders?: boolean;
  limitBytes?: number;
  /** the refusal of a body too large or not UTF-8 (default: MalformedXML) */
  refusal?: (why: "too large" | "not UTF-8") => S3Error;
}

const xmlRefusal = (why: "too large" | "not UTF-8") =>
  why === "too large" ? new S3Error("MalformedXML", "The XML you provided was larger than the maximum allowed size.") : malformedXml();

/**
 * Reads a request body of at most `limitBytes` as text, verifying its signed hash, Content-MD5
 * and, unless `objectChecksumHeaders`, its x-amz-checksum-* headers. A body that is not UTF-8 is
 * refused: decoded leniently, a key of invalid bytes would become U+FFFD and name another object.
 */
export async function readSmallBody(ctx: S3Context, options: SmallBodyOptions = {}): Promise<string> {
  const { objectChecksumHeaders = false, limitBytes = xmlBodyBytesMax, refusal = xmlRefusal } = options;
  try {
    const body = requestBody(ctx.req.body, ctx.req.headers, ctx.payload, { limitBytes, lengthRequired: false, objectChecksumHeaders });
    const bytes = new Uint8Array(await new Response(body.stream).arrayBuffer());
    try {
      return strictUtf8.decode(bytes);
    } catch {
      throw refusal("not UTF-8");
    }
  } catch (error) {
    if (error instanceof S3Error && error.code === "EntityTooLarge") throw refusal("too large");
    throw error;
  }
}

/**
 * The operations S3 requires an integrity header for (DeleteObjects, PutBucketTagging): Content-MD5,
 * or an x-amz-checksum-* (or only its algorithm, for s3d to compute), which the body is then checked against.
 */
export function requireIntegrityHeader(headers: Record<string, string>, message = "Missing required header for this request: Content-MD5 or x-amz-checksum-*"): void {
  const hasChecksum = checksumAlgorithms.some((a) => headers[checksumHeader(a)] !== undefined) || headers["x-amz-sdk-checksum-algorithm"] !== undefined;
  if (headers["content-md5"] === undefined && !hasChecksum) throw new S3Error("InvalidRequest", message);
}
