/** Bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus (what they mean: ../bucket-policy.ts). */
import { S3Error } from "../../errors.ts";
import { policyConfigName } from "../access.ts";
import { isPublic, parseBucketPolicy, policyBytesMax } from "../bucket-policy.ts";
import { emptyResponse, xmlResponse } from "../respond.ts";
import { s3Xmlns, x } from "../xml.ts";
import type { S3Context } from "./context.ts";
import { readSmallBody } from "./small-body.ts";

const noPolicy = (ctx: S3Context) => new S3Error("NoSuchBucketPolicy", "The bucket policy does not exist", { BucketName: ctx.req.bucket });

/** A policy as sent may be indented: S3 limits its size without the whitespace, and s3d reads this much of it. */
const policyBodyBytesMax = 256 * 1024;

/**
 * PutBucketPolicy: the whole policy, replacing any before; 204 as S3 answers. Content-MD5 is checked
 * when sent, not required: S3 documents it as optional, and s3cmd, minio-js and mc send none.
 */
export async function putBucketPolicy(ctx: S3Context) {
  await ctx.backend.headBucket(ctx.req.bucket);
  const tooLarge = () => new S3Error("MalformedPolicy", `Policies are limited to ${policyBytesMax} bytes without their whitespace`);
  const text = await readSmallBody(ctx, {
    limitBytes: policyBodyBytesMax,
    refusal: (why) => (why === "too large" ? tooLarge() : new S3Error("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'")),
  });
  const policy = parseBucketPolicy(text, ctx.req.bucket);
  if (Buffer.byteLength(policy.document) > policyBytesMax) throw tooLarge();
  if (isPublic(policy) && (await ctx.policies.blocked(ctx.req.bucket, "blockPublicPolicy"))) {
    throw new S3Error("AccessDenied", `Not authorized to perform s3:PutBucketPolicy on resource "arn:aws:s3:::${ctx.req.bucket}" because public policies are blocked by the BlockPublicPolicy block public access setting.`);
  }
  await ctx.policies.store(ctx.req.bucket, policy.document);
  return emptyResponse(204);
}

export async function getBucketPolicy(ctx: S3Context) {
  const policy = await ctx.backend.getBucketConfig(ctx.req.bucket, policyConfigName);
  if (policy === undefined) throw noPolicy(ctx);
  return { status: 200, headers: { "content-type": "application/json" }, body: policy };
}

/** DeleteBucketPolicy: 204, whether or not the bucket had one. */
export async function deleteBucketPolicy(ctx: S3Context) {
  await ctx.policies.store(ctx.req.bucket, undefined);
  return emptyResponse(204);
}

export async function getBucketPolicyStatus(ctx: S3Context) {
  await ctx.backend.headBucket(ctx.req.bucket);
  const policy = await ctx.policies.of(ctx.req.bucket);
  if (policy === undefined) throw noPolicy(ctx);
  return xmlResponse(x("PolicyStatus", { xmlns: s3Xmlns }, x("IsPublic", isPublic(policy) ? "true" : "false")));
}
