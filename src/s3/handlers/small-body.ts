/** Reading the small XML bodies of control requests, with their size limit and integrity checks. */
import { S3Error } from "../../errors.ts";
import { incomingBody } from "../body.ts";
import { xmlBodyBytesMax } from "../xml.ts";
import type { S3Context } from "./context.ts";

/** Reads a request body of at most xmlBodyBytesMax as text, verifying its signed hash and Content-MD5. */
export async function readSmallBody(ctx: S3Context): Promise<string> {
  const lengthHeader = ctx.req.headers["content-length"];
  const expectedBytes = lengthHeader === undefined ? undefined : Number(lengthHeader);
  if (expectedBytes !== undefined && expectedBytes > xmlBodyBytesMax) {
    throw new S3Error("MalformedXML", "The XML you provided was larger than the maximum allowed size.");
  }
  const body = incomingBody(ctx.req.body, {
    expectedBytes,
    limitBytes: xmlBodyBytesMax,
    sha256Hex: ctx.payloadSha256,
    contentMd5: ctx.req.headers["content-md5"],
  });
  try {
    return await new Response(body.stream).text();
  } catch (error) {
    if (error instanceof S3Error && error.code === "EntityTooLarge") {
      throw new S3Error("MalformedXML", "The XML you provided was larger than the maximum allowed size.");
    }
    throw error;
  }
}
