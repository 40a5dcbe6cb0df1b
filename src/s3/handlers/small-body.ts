/** Reading the small XML bodies of control requests, with their size limit and integrity checks. */
import { S3Error } from "../../errors.ts";
import { requestBody } from "../body.ts";
import { xmlBodyBytesMax } from "../xml.ts";
import type { S3Context } from "./context.ts";

/**
 * Reads a request body of at most `limitBytes` as text, verifying its signed hash, Content-MD5
 * and, unless they name the checksum of the object the request makes (`objectChecksumHeaders`),
 * its x-amz-checksum-* headers.
 */
export async function readSmallBody(ctx: S3Context, objectChecksumHeaders = false, limitBytes = xmlBodyBytesMax): Promise<string> {
  const tooLarge = () => new S3Error("MalformedXML", "The XML you provided was larger than the maximum allowed size.");
  try {
    const body = requestBody(ctx.req.body, ctx.req.headers, ctx.payload, { limitBytes, lengthRequired: false, objectChecksumHeaders });
    return await new Response(body.stream).text();
  } catch (error) {
    if (error instanceof S3Error && error.code === "EntityTooLarge") throw tooLarge();
    throw error;
  }
}
