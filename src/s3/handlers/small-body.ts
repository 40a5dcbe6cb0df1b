/** Reading the small XML bodies of control requests, with their size limit and integrity checks. */
import { S3Error } from "../../errors.ts";
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
