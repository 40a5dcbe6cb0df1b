/** Bucket CORS: Put/Get/DeleteBucketCors and the unauthenticated OPTIONS preflight. */
import { S3Error } from "../../errors.ts";
import type { Backend } from "../../store/backend.ts";
import { corsFromXml, corsHeaders, corsXml, matchCors, requestedHeaders, type CorsRule } from "../cors.ts";
import { emptyResponse, xmlResponse } from "../respond.ts";
import type { S3Context } from "./context.ts";
import { readSmallBody } from "./small-body.ts";

const corsConfigName = "cors";

export async function corsRulesOf(backend: Backend, bucket: string): Promise<CorsRule[] | undefined> {
  const stored = await backend.getBucketConfig(bucket, corsConfigName);
  return stored === undefined ? undefined : (JSON.parse(stored) as CorsRule[]);
}

/** S3's limit on a CORS configuration document. */
const corsDocumentBytesMax = 64 * 1024;

export async function putBucketCors(ctx: S3Context) {
  const rules = corsFromXml(await readSmallBody(ctx, { limitBytes: corsDocumentBytesMax }));
  await ctx.backend.setBucketConfig(ctx.req.bucket, corsConfigName, JSON.stringify(rules));
  return emptyResponse(200);
}

export async function getBucketCors(ctx: S3Context) {
  const rules = await corsRulesOf(ctx.backend, ctx.req.bucket);
  if (rules === undefined) {
    throw new S3Error("NoSuchCORSConfiguration", "The CORS configuration does not exist", { BucketName: ctx.req.bucket });
  }
  return xmlResponse(corsXml(rules));
}

export async function deleteBucketCors(ctx: S3Context) {
  await ctx.backend.setBucketConfig(ctx.req.bucket, corsConfigName, undefined);
  return emptyResponse(204);
}

/** OPTIONS: answered from the bucket's rules, without a signature (browsers send none). */
export async function preflight(ctx: S3Context) {
  const { headers, bucket } = ctx.req;
  const origin = headers.origin;
  const method = headers["access-control-request-method"];
  if (origin === undefined) throw new S3Error("BadRequest", "Insufficient information. Origin request header needed.");
  if (method === undefined) throw new S3Error("BadRequest", "Insufficient information. Access-Control-Request-Method request header needed.");
  const requested = requestedHeaders(headers["access-control-request-headers"]);
  const rules = await corsRulesOf(ctx.backend, bucket);
  if (rules === undefined) throw new S3Error("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.");
  const rule = matchCors(rules, origin, method, requested);
  if (!rule) throw new S3Error("AccessForbidden", "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.");
  return emptyResponse(200, corsHeaders(rule, origin, requested, true));
}
