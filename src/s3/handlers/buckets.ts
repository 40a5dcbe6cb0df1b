/** Bucket operations: Create, Head, Delete, ListBuckets, GetBucketLocation, bucket tagging, and reads of configurations s3d does not keep. */
import { S3Error, type S3ErrorCode } from "../../errors.ts";
import { checkBucketCreationHeaders } from "../attributes.ts";
import { checkBucketName } from "../names.ts";
import { emptyResponse, isoTime, xmlResponse, type S3Response } from "../respond.ts";
import { childText, parseXmlBody, s3Xmlns, x, malformedXml } from "../xml.ts";
import { grantsName } from "../grants.ts";
import { tagsFromXml, tagsXml } from "../tags.ts";
import { readSmallBody, requireIntegrityHeader } from "./small-body.ts";
import { ownerOf, ownerOnlyAcl, type S3Context } from "./context.ts";

export async function createBucket(ctx: S3Context) {
  const { bucket } = ctx.req;
  checkBucketName(bucket);
  const { objectLock } = checkBucketCreationHeaders(ctx.req.headers);
  const text = await readSmallBody(ctx);
  if (text.trim() !== "") {
    const doc = parseXmlBody(text);
    const config = doc.CreateBucketConfiguration;
    if (config === undefined) throw malformedXml();
    const location = childText(config, "LocationConstraint");
    if (location !== undefined && location !== "" && location !== ctx.region) {
      throw new S3Error("IllegalLocationConstraintException", `The ${location} location constraint is incompatible for the region specific endpoint this request was sent to.`);
    }
  }
  try {
    await ctx.backend.createBucket(bucket, ctx.req.nowMs, { objectLock });
  } catch (error) {
    // S3's legacy rule in us-east-1: creating a bucket you already own there succeeds again; not
    // when asked for Object Lock the bucket lacks (a step that makes a WORM bucket must not pass)
    const again = error instanceof S3Error && error.code === "BucketAlreadyOwnedByYou" && ctx.region === "us-east-1";
    if (!again || (objectLock && (await ctx.backend.headBucket(bucket)).objectLock === undefined)) throw error;
  }
  return emptyResponse(200, { location: `/${bucket}` });
}

export async function headBucket(ctx: S3Context) {
  await ctx.backend.headBucket(ctx.req.bucket);
  return emptyResponse(200, { "x-amz-bucket-region": ctx.region });
}

export async function deleteBucket(ctx: S3Context) {
  await ctx.backend.deleteBucket(ctx.req.bucket);
  ctx.policies.forget(ctx.req.bucket);
  ctx.lifecycles.forget(ctx.req.bucket);
  ctx.websites.forget(ctx.req.bucket);
  return emptyResponse(204);
}

const listBucketsMax = 10_000;

/** ListBuckets, whole or paginated (max-buckets, continuation-token) and filtered (prefix, bucket-region). */
export async function listBuckets(ctx: S3Context) {
  const { params } = ctx.req;
  const prefix = params.get("prefix") ?? "";
  const maxRaw = params.get("max-buckets");
  const max = maxRaw === undefined ? listBucketsMax : /^\d{1,5}$/.test(maxRaw) ? Number(maxRaw) : NaN;
  if (!(max >= 1 && max <= listBucketsMax)) {
    throw new S3Error("InvalidArgument", `max-buckets must be an integer from 1 to ${listBucketsMax}`, { ArgumentName: "max-buckets", ArgumentValue: maxRaw ?? "" });
  }
  const token = params.get("continuation-token");
  const after = token === undefined ? "" : bucketAfterToken(token);
  const region = params.get("bucket-region");
  const { grants } = ctx.access;
  const matching = (await ctx.backend.listBuckets()).filter(
    (b) => b.name.startsWith(prefix) && b.name > after && (region === undefined || region === ctx.region) && (grants === undefined || grantsName(grants, b.name)),
  );
  const page = matching.slice(0, max);
  const owner = ownerOf(ctx);
  return xmlResponse(
    x(
      "ListAllMyBucketsResult",
      { xmlns: s3Xmlns },
      x("Owner", x("ID", owner.id), x("DisplayName", owner.displayName)),
      x("Buckets", page.map((b) => x("Bucket", x("Name", b.name), x("CreationDate", isoTime(b.createdMs)), x("BucketRegion", ctx.region)))),
      matching.length > page.length ? x("ContinuationToken", Buffer.from(page.at(-1)!.name).toString("base64url")) : null,
      params.has("prefix") ? x("Prefix", prefix) : null,
    ),
  );
}

/** The bucket name a ListBuckets continuation token carries (the last one of the page before). */
function bucketAfterToken(token: string): string {
  const name = Buffer.from(token, "base64url").toString();
  if (token === "" || Buffer.from(name).toString("base64url") !== token) {
    throw new S3Error("InvalidArgument", "The continuation token provided is incorrect", { ArgumentName: "continuation-token" });
  }
  return name;
}

export async function getBucketLocation(ctx: S3Context) {
  await ctx.backend.headBucket(ctx.req.bucket);
  // AWS answers an empty constraint for us-east-1.
  return xmlResponse(x("LocationConstraint", { xmlns: s3Xmlns }, ctx.region === "us-east-1" ? "" : ctx.region));
}

const taggingConfigName = "tagging";

/** PutBucketTagging: the bucket's whole tag set (up to 50), replacing any before; an empty one removes them. */
export async function putBucketTagging(ctx: S3Context) {
  requireIntegrityHeader(ctx.req.headers);
  const tags = tagsFromXml(await readSmallBody(ctx), "Bucket");
  await ctx.backend.setBucketConfig(ctx.req.bucket, taggingConfigName, Object.keys(tags).length > 0 ? JSON.stringify(tags) : undefined);
  return emptyResponse(204);
}

export async function getBucketTagging(ctx: S3Context) {
  const stored = await ctx.backend.getBucketConfig(ctx.req.bucket, taggingConfigName);
  if (stored === undefined) notSet(ctx, "NoSuchTagSet", "The TagSet does not exist");
  return xmlResponse(tagsXml(JSON.parse(stored) as Record<string, string>));
}

export async function deleteBucketTagging(ctx: S3Context) {
  await ctx.backend.setBucketConfig(ctx.req.bucket, taggingConfigName, undefined);
  return emptyResponse(204);
}

/**
 * Reads of bucket configurations s3d does not keep (tools such as Terraform, rclone and s3cmd ask
 * for them), answered as S3 answers for a bucket where each was never set: a document that says
 * so, or the configuration's own "not found" error. The sub-resource each answers, and how.
 */
const unsetConfigurations: Record<string, { operation: string; answer: (ctx: S3Context) => S3Response }> = {
  accelerate: { operation: "GetBucketAccelerateConfiguration", answer: () => xmlResponse(x("AccelerateConfiguration", { xmlns: s3Xmlns })) },
  logging: { operation: "GetBucketLogging", answer: () => xmlResponse(x("BucketLoggingStatus", { xmlns: s3Xmlns })) },
  requestPayment: { operation: "GetBucketRequestPayment", answer: () => xmlResponse(x("RequestPaymentConfiguration", { xmlns: s3Xmlns }, x("Payer", "BucketOwner"))) },
  // no ACLs: every bucket is BucketOwnerEnforced, its owner the only grantee
  acl: { operation: "GetBucketAcl", answer: (ctx) => xmlResponse(ownerOnlyAcl(ctx)) },
  replication: { operation: "GetBucketReplication", answer: (ctx) => notSet(ctx, "ReplicationConfigurationNotFoundError", "The replication configuration was not found") },
};

function notSet(ctx: S3Context, code: S3ErrorCode, message: string): never {
  throw new S3Error(code, message, { BucketName: ctx.req.bucket });
}

/** The sub-resource of a bucket GET that reads a configuration s3d does not keep, if it is one. */
export function unsetConfigurationOf(params: Map<string, string>): { operation: string; handler: (ctx: S3Context) => Promise<S3Response> } | undefined {
  const name = Object.keys(unsetConfigurations).find((n) => params.has(n));
  if (name === undefined) return undefined;
  const { operation, answer } = unsetConfigurations[name];
  return {
    operation,
    handler: async (ctx) => {
      await ctx.backend.headBucket(ctx.req.bucket);
      return answer(ctx);
    },
  };
}
