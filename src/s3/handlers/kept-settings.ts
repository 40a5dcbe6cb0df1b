/**
 * Writes of settings every s3d bucket has and keeps: no ACLs but the owner's (BucketOwnerEnforced),
 * and, on a server with a master key, SSE-S3 for every object. Tools that set them on each bucket
 * they make (Terraform, CDK) are answered as S3 answers a write that asks for what already holds;
 * one that asks for anything else is refused, never stored and ignored.
 */
import { S3Error } from "../../errors.ts";
import { ownershipRefusal } from "../attributes.ts";
import { emptyResponse } from "../respond.ts";
import { childList, childText, malformedXml, parseXmlBody, type XmlNode } from "../xml.ts";
import { ownerOf, type S3Context } from "./context.ts";
import { readSmallBody, requireIntegrityHeader } from "./small-body.ts";

const aclsRefused = () => new S3Error("AccessControlListNotSupported", "The bucket does not allow ACLs");

/** The single child element `name`, or MalformedXML. */
function one(node: XmlNode | undefined, name: string): XmlNode {
  const list = childList(node, name);
  if (list.length !== 1) throw malformedXml();
  return list[0];
}

/** PutBucketOwnershipControls: BucketOwnerEnforced, which every s3d bucket is. */
export async function putBucketOwnershipControls(ctx: S3Context) {
  requireIntegrityHeader(ctx.req.headers);
  await ctx.backend.headBucket(ctx.req.bucket);
  const rule = one(parseXmlBody(await readSmallBody(ctx)).OwnershipControls, "Rule");
  const ownership = childText(rule, "ObjectOwnership");
  if (ownership === undefined) throw malformedXml();
  const refusal = ownershipRefusal(ownership);
  if (refusal !== undefined) throw refusal.code === "InvalidArgument" ? malformedXml() : refusal;
  return emptyResponse(200);
}

/** DeleteBucketOwnershipControls: a bucket without them takes ACLs, which s3d does not implement. */
export async function deleteBucketOwnershipControls(ctx: S3Context): Promise<never> {
  await ctx.backend.headBucket(ctx.req.bucket);
  throw new S3Error("NotImplemented", "Every s3d bucket is BucketOwnerEnforced: without ownership controls it would take ACLs, which s3d does not implement.");
}

/**
 * PutBucketAcl and PutObjectAcl: an ACL that grants the owner alone (the canned `private` or
 * `bucket-owner-full-control`, or an AccessControlPolicy whose every grant is the owner's
 * FULL_CONTROL), which is what every s3d bucket and object has; any other is
 * AccessControlListNotSupported, as S3 answers on a BucketOwnerEnforced bucket.
 */
export async function putAcl(ctx: S3Context) {
  const { bucket, key, headers } = ctx.req;
  if (key === "") await ctx.backend.headBucket(bucket);
  else (await ctx.backend.openObject(bucket, key)).close();
  const canned = headers["x-amz-acl"];
  const grants = Object.keys(headers).some((name) => name.startsWith("x-amz-grant-"));
  const body = await readSmallBody(ctx);
  if (canned !== undefined || grants) {
    if (body.trim() !== "") throw new S3Error("UnexpectedContent", "This request does not support content");
    if (grants || !["private", "bucket-owner-full-control"].includes(canned!)) throw aclsRefused();
    return emptyResponse(200);
  }
  if (body.trim() === "") throw new S3Error("MissingSecurityHeader", "Your request was missing a required header", { MissingHeaderName: "x-amz-acl" });
  const list = one(parseXmlBody(body).AccessControlPolicy, "AccessControlList");
  const owner = ownerOf(ctx).id;
  const ownersAlone = childList(list, "Grant").every((grant) => childText(one(grant, "Grantee"), "ID") === owner && childText(grant, "Permission") === "FULL_CONTROL");
  if (!ownersAlone) throw aclsRefused();
  return emptyResponse(200);
}

/**
 * PutBucketEncryption: SSE-S3 (AES256) by default, which a server with a master key gives every
 * object already (GetBucketEncryption says so); anything else, or AES256 on a server that stores
 * data unencrypted, is NotImplemented.
 */
export async function putBucketEncryption(ctx: S3Context) {
  requireIntegrityHeader(ctx.req.headers);
  await ctx.backend.headBucket(ctx.req.bucket);
  const rules = childList(parseXmlBody(await readSmallBody(ctx)).ServerSideEncryptionConfiguration, "Rule");
  if (rules.length === 0) throw malformedXml();
  for (const rule of rules) {
    const algorithm = childText(one(rule, "ApplyServerSideEncryptionByDefault"), "SSEAlgorithm");
    if (algorithm === undefined) throw malformedXml();
    if (algorithm === "aws:kms" || algorithm === "aws:kms:dsse") throw new S3Error("NotImplemented", "Server-side encryption with KMS keys is not implemented by s3d.");
    if (algorithm !== "AES256") throw malformedXml();
    if (!ctx.backend.encryptedAtRest) {
      throw new S3Error("NotImplemented", "This server stores objects unencrypted: default encryption (AES256) needs s3d started with an encryption key.");
    }
  }
  return emptyResponse(200);
}

/** DeleteBucketEncryption: 204; S3 falls back to SSE-S3, which is what s3d gives (or does not) anyway. */
export async function deleteBucketEncryption(ctx: S3Context) {
  await ctx.backend.headBucket(ctx.req.bucket);
  return emptyResponse(204);
}
