/** Block Public Access: Put/Get/DeletePublicAccessBlock (what the settings do: ../public-access-block.ts). */
import { S3Error } from "../../errors.ts";
import { parseStoredBlock, publicAccessBlockConfigName, publicAccessBlockFromXml, publicAccessBlockXml } from "../public-access-block.ts";
import { emptyResponse, xmlResponse } from "../respond.ts";
import type { S3Context } from "./context.ts";
import { readSmallBody, requireIntegrityHeader } from "./small-body.ts";

/** PutPublicAccessBlock: the four settings, replacing any before; 200 as S3 answers (which requires an integrity header). */
export async function putPublicAccessBlock(ctx: S3Context) {
  requireIntegrityHeader(ctx.req.headers);
  await ctx.backend.headBucket(ctx.req.bucket);
  const block = publicAccessBlockFromXml(await readSmallBody(ctx));
  await ctx.policies.storeBlock(ctx.req.bucket, JSON.stringify(block));
  return emptyResponse(200);
}

/** GetPublicAccessBlock: the bucket's own settings (the server-wide setting is not shown, as S3 shows no account's). */
export async function getPublicAccessBlock(ctx: S3Context) {
  const stored = await ctx.backend.getBucketConfig(ctx.req.bucket, publicAccessBlockConfigName);
  if (stored === undefined) {
    throw new S3Error("NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found", { BucketName: ctx.req.bucket });
  }
  return xmlResponse(publicAccessBlockXml(parseStoredBlock(stored)));
}

/** DeletePublicAccessBlock: 204, whether or not the bucket had settings. */
export async function deletePublicAccessBlock(ctx: S3Context) {
  await ctx.policies.storeBlock(ctx.req.bucket, undefined);
  return emptyResponse(204);
}
