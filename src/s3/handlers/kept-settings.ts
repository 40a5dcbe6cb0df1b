/**
 * Writes of settings every s3d bucket has and keeps: no ACLs but the owner's (BucketOwnerEnforced),
 * and, on a server with a master key, SSE-S3 for every object. Tools that set them on each bucket
 * they make (Terraform, CDK) are answered as S3 answers a write that asks for what already holds;
 * one that asks for anything else is refused, never stored and ignored.
 */
import { S3Error } from "../../errors.ts";
import { aclsNotSupported, cannedAcls, ownerOnlyAcls, ownershipKind, ownershipNotImplemented } from "../attributes.ts";
import { bucketEncryptionOf, encryptionConfigName, encryptionTypes, type BucketEncryption, type EncryptionType } from "../bucket-encryption.ts";
import { emptyResponse, xmlResponse } from "../respond.ts";
import { childList, childText, malformedXml, parseXmlBody, s3Xmlns, single, x, type XmlNode } from "../xml.ts";
import { ownerOf, type S3Context } from "./context.ts";
import { readSmallBody, requireIntegrityHeader } from "./small-body.ts";
import { versionParam } from "./versioning.ts";

/** The single child element `name`: none, as more than one, is MalformedXML. */
function one(node: XmlNode | undefined, name: string): XmlNode {
  const found = single(node, name);
  if (found === undefined) throw malformedXml();
  return found;
}

/** PutBucketOwnershipControls: BucketOwnerEnforced, which every s3d bucket is. */
export async function putBucketOwnershipControls(ctx: S3Context) {
  requireIntegrityHeader(ctx.req.headers);
  await ctx.backend.headBucket(ctx.req.bucket);
  const rule = one(parseXmlBody(await readSmallBody(ctx)).OwnershipControls, "Rule");
  const ownership = childText(rule, "ObjectOwnership") ?? "";
  const kind = ownershipKind(ownership);
  if (kind === "unknown") throw malformedXml();
  if (kind === "unsupported") throw ownershipNotImplemented(ownership);
  return emptyResponse(200);
}

export async function getBucketOwnershipControls(ctx: S3Context) {
  await ctx.backend.headBucket(ctx.req.bucket);
  return xmlResponse(x("OwnershipControls", { xmlns: s3Xmlns }, x("Rule", x("ObjectOwnership", "BucketOwnerEnforced"))));
}

/** DeleteBucketOwnershipControls: a bucket without them takes ACLs, which s3d does not implement. */
export async function deleteBucketOwnershipControls(ctx: S3Context): Promise<never> {
  await ctx.backend.headBucket(ctx.req.bucket);
  throw new S3Error("NotImplemented", "Every s3d bucket is BucketOwnerEnforced: without ownership controls it would take ACLs, which s3d does not implement.");
}

/** Whether grant headers name the owner alone, with full control: `x-amz-grant-full-control: id="OWNER"`. */
function ownerGrantHeaders(headers: Record<string, string>, owner: string): boolean {
  const grants = Object.keys(headers).filter((name) => name.startsWith("x-amz-grant-"));
  if (grants.length !== 1 || grants[0] !== "x-amz-grant-full-control") return false;
  return headers["x-amz-grant-full-control"].split(",").every((grantee) => /^\s*id="?([^"]*)"?\s*$/i.exec(grantee)?.[1] === owner);
}

/**
 * PutBucketAcl and PutObjectAcl: an ACL that grants the owner alone (the canned `private` or
 * `bucket-owner-full-control`, the owner's full control in a grant header, or an
 * AccessControlPolicy whose grants are all the owner's FULL_CONTROL), which is what every s3d
 * bucket and object has; any other is AccessControlListNotSupported, as S3 answers on a
 * BucketOwnerEnforced bucket.
 */
export async function putAcl(ctx: S3Context) {
  const { bucket, key, headers } = ctx.req;
  if (key === "") await ctx.backend.headBucket(bucket);
  else (await ctx.backend.openObject(bucket, key, await versionParam(ctx))).close();
  const owner = ownerOf(ctx).id;
  const canned = headers["x-amz-acl"];
  const grantHeaders = Object.keys(headers).some((name) => name.startsWith("x-amz-grant-"));
  const body = await readSmallBody(ctx);
  if (canned !== undefined || grantHeaders) {
    if (body.trim() !== "") throw new S3Error("UnexpectedContent", "This request does not support content");
    if (canned !== undefined && grantHeaders) throw new S3Error("InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed");
    if (canned !== undefined && !cannedAcls.includes(canned)) throw new S3Error("InvalidArgument", "The canned ACL is not valid", { ArgumentName: "x-amz-acl", ArgumentValue: canned });
    if (canned !== undefined ? !ownerOnlyAcls.includes(canned) : !ownerGrantHeaders(headers, owner)) throw aclsNotSupported();
    return emptyResponse(200);
  }
  if (body.trim() === "") throw new S3Error("MissingSecurityHeader", "Your request was missing a required header", { MissingHeaderName: "x-amz-acl" });
  const grants = childList(one(parseXmlBody(body).AccessControlPolicy, "AccessControlList"), "Grant");
  // (an ACL of no grants would take even the owner's: not what holds either)
  const ownersAlone = grants.length > 0 && grants.every((grant) => childText(one(grant, "Grantee"), "ID") === owner && childText(grant, "Permission") === "FULL_CONTROL");
  if (!ownersAlone) throw aclsNotSupported();
  return emptyResponse(200);
}

/**
 * PutBucketEncryption: SSE-S3 (AES256) by default, which a server with a master key gives every
 * object already, and the encryption types writes may not use (`BlockedEncryptionTypes`: SSE-C,
 * or NONE to unblock); whether it asked for a bucket key is kept, to be given back as set. Any
 * other default, or AES256 on a server that stores data unencrypted, is refused. A rule may name
 * blocked types alone.
 */
export async function putBucketEncryption(ctx: S3Context) {
  requireIntegrityHeader(ctx.req.headers);
  await ctx.backend.headBucket(ctx.req.bucket);
  const rule = one(parseXmlBody(await readSmallBody(ctx)).ServerSideEncryptionConfiguration, "Rule");
  const byDefault = single(rule, "ApplyServerSideEncryptionByDefault");
  const blockedTypes = single(rule, "BlockedEncryptionTypes");
  if (byDefault === undefined && blockedTypes === undefined) throw malformedXml();
  if (byDefault !== undefined) checkDefaultEncryption(byDefault, ctx.backend.encryptedAtRest);
  const bucketKey = childText(rule, "BucketKeyEnabled");
  if (bucketKey !== undefined && bucketKey !== "true" && bucketKey !== "false") throw malformedXml();
  const config: BucketEncryption = { bucketKeyEnabled: bucketKey === "true", blocked: blockedTypes === undefined ? undefined : blockedTypesOf(blockedTypes) };
  await ctx.backend.setBucketConfig(ctx.req.bucket, encryptionConfigName, JSON.stringify(config));
  return emptyResponse(200);
}

/** ApplyServerSideEncryptionByDefault: AES256, on a server that encrypts at rest. */
function checkDefaultEncryption(byDefault: XmlNode, encryptedAtRest: boolean): void {
  const algorithm = childText(byDefault, "SSEAlgorithm");
  if (algorithm === "aws:kms" || algorithm === "aws:kms:dsse") throw new S3Error("NotImplemented", "Server-side encryption with KMS keys is not implemented by s3d.");
  if (algorithm !== "AES256") throw malformedXml();
  if (childText(byDefault, "KMSMasterKeyID") !== undefined) throw new S3Error("InvalidArgument", "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse");
  if (!encryptedAtRest) throw new S3Error("NotImplemented", "This server stores objects unencrypted: default encryption (AES256) needs s3d started with an encryption key.");
}

/** BlockedEncryptionTypes: one or more of SSE-C and NONE, not both. */
function blockedTypesOf(node: XmlNode): EncryptionType[] {
  const types = childList(node, "EncryptionType").map((type) => (typeof type === "string" ? type : ""));
  if (types.length === 0 || types.some((type) => !(encryptionTypes as readonly string[]).includes(type))) throw malformedXml();
  const named = [...new Set(types)] as EncryptionType[];
  if (named.length > 1) throw new S3Error("InvalidArgument", "The encryption type NONE cannot be combined with other encryption types.", { ArgumentName: "EncryptionType", ArgumentValue: named.join(",") });
  return named;
}

/**
 * GetBucketEncryption: AES256 when s3d encrypts at rest (every bucket then has it), with the bucket
 * key as last put, and the blocked encryption types put. A bucket of a server without a master key
 * has a configuration only where one blocked some type.
 */
export async function getBucketEncryption(ctx: S3Context) {
  const stored = await bucketEncryptionOf(ctx.backend, ctx.req.bucket);
  const encrypted = ctx.backend.encryptedAtRest;
  if (!encrypted && stored?.blocked === undefined) throw new S3Error("ServerSideEncryptionConfigurationNotFoundError", "The server side encryption configuration was not found", { BucketName: ctx.req.bucket });
  const rule = x(
    "Rule",
    encrypted ? [x("ApplyServerSideEncryptionByDefault", x("SSEAlgorithm", "AES256")), x("BucketKeyEnabled", stored?.bucketKeyEnabled === true)] : null,
    stored?.blocked === undefined ? null : x("BlockedEncryptionTypes", stored.blocked.map((type) => x("EncryptionType", type))),
  );
  return xmlResponse(x("ServerSideEncryptionConfiguration", { xmlns: s3Xmlns }, rule));
}

/** DeleteBucketEncryption: 204; S3 falls back to SSE-S3, which is what s3d gives (or does not) anyway. */
export async function deleteBucketEncryption(ctx: S3Context) {
  await ctx.backend.setBucketConfig(ctx.req.bucket, encryptionConfigName, undefined);
  return emptyResponse(204);
}
