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
  await ctx.backend.createBucket(bucket, ctx.req.nowMs);
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

export async function listBuckets(ctx: S3Context) {
  const buckets = await ctx.backend.listBuckets();
  const owner = ownerOf(ctx);
  return xmlResponse(
    x(
      "ListAllMyBucketsResult",
      { xmlns: s3Xmlns },
      x("Owner", x("ID", owner.id), x("DisplayName", owner.displayName)),
      x("Buckets", buckets.map((b) => x("Bucket", x("Name", b.name), x("CreationDate", isoTime(b.createdMs))))),
    ),
  );
}

export async function getBucketLocation(ctx: S3Context) {
  await ctx.backend.headBucket(ctx.req.bucket);
  // AWS answers an empty constraint for us-east-1.
  return xmlResponse(x("LocationConstraint", { xmlns: s3Xmlns }, ctx.region === "us-east-1" ? "" : ctx.region));
}
