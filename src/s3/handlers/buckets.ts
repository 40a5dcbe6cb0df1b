/** Bucket operations: Create, Head, Delete, ListBuckets, GetBucketLocation. */
import { S3Error } from "../../errors.ts";
import { checkBucketName } from "../names.ts";
import { emptyResponse, isoTime, xmlResponse } from "../respond.ts";
import { childText, parseXmlBody, s3Xmlns, x, malformedXml } from "../xml.ts";
import { readSmallBody } from "./small-body.ts";
import { ownerOf, type S3Context } from "./context.ts";

export async function createBucket(ctx: S3Context) {
  const { bucket } = ctx.req;
  checkBucketName(bucket);
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
    await ctx.backend.createBucket(bucket, ctx.req.nowMs);
  } catch (error) {
    // S3's legacy rule in us-east-1: creating a bucket you already own there succeeds again.
    if (!(error instanceof S3Error && error.code === "BucketAlreadyOwnedByYou" && ctx.region === "us-east-1")) throw error;
  }
  return emptyResponse(200, { location: `/${bucket}` });
}

export async function headBucket(ctx: S3Context) {
  await ctx.backend.headBucket(ctx.req.bucket);
  return emptyResponse(200, { "x-amz-bucket-region": ctx.region });
}

export async function deleteBucket(ctx: S3Context) {
  await ctx.backend.deleteBucket(ctx.req.bucket);
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
  const matching = (await ctx.backend.listBuckets()).filter((b) => b.name.startsWith(prefix) && b.name > after && (region === undefined || region === ctx.region));
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
