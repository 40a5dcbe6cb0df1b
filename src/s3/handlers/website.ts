/** Static website configuration: Put/Get/DeleteBucketWebsite (what it means: ../website.ts; who serves it: ../website-serve.ts). */
import { S3Error } from "../../errors.ts";
import { emptyResponse, xmlResponse } from "../respond.ts";
import { parseStoredWebsite, websiteConfigName, websiteFromXml, websiteXml } from "../website.ts";
import type { S3Context } from "./context.ts";
import { readSmallBody, requireIntegrityHeader } from "./small-body.ts";

/** PutBucketWebsite: the whole configuration, replacing any before (S3 requires an integrity header). */
export async function putBucketWebsite(ctx: S3Context) {
  requireIntegrityHeader(ctx.req.headers);
  await ctx.backend.headBucket(ctx.req.bucket);
  const config = websiteFromXml(await readSmallBody(ctx));
  await ctx.websites.store(ctx.req.bucket, JSON.stringify(config));
  return emptyResponse(200);
}

export async function getBucketWebsite(ctx: S3Context) {
  const stored = await ctx.backend.getBucketConfig(ctx.req.bucket, websiteConfigName);
  if (stored === undefined) throw new S3Error("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration", { BucketName: ctx.req.bucket });
  return xmlResponse(websiteXml(parseStoredWebsite(stored)));
}

/** DeleteBucketWebsite: 204, whether or not the bucket had a configuration. */
export async function deleteBucketWebsite(ctx: S3Context) {
  await ctx.websites.store(ctx.req.bucket, undefined);
  return emptyResponse(204);
}
