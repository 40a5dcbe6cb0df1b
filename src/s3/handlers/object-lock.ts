/**
 * Object Lock: Put/GetObjectLockConfiguration, Put/GetObjectRetention, Put/GetObjectLegalHold, the
 * lock a write gives its version, and the bypass a delete may ask for (the documents and rules
 * themselves: ../object-lock.ts; what the lock forbids is enforced by the store, ../../store/locks.ts).
 */
import { S3Error } from "../../errors.ts";
import type { BucketInfo, ObjectLock } from "../../store/backend.ts";
import type { LockChange } from "../../store/locks.ts";
import { lockConditionValues } from "../access.ts";
import {
  asksBypass,
  legalHoldFromXml,
  legalHoldXml,
  lockFromHeaders,
  objectLockConfigFromXml,
  objectLockConfigXml,
  retentionFromXml,
  retentionXml,
} from "../object-lock.ts";
import { emptyResponse, xmlResponse } from "../respond.ts";
import type { S3Context } from "./context.ts";
import { readSmallBody, requireIntegrityHeader } from "./small-body.ts";
import { versionHeader, versionParam, versionRead } from "./versioning.ts";

/** PutObjectLockConfiguration: enables Object Lock (versioning must be Enabled) and sets or removes the default retention. */
export async function putObjectLockConfiguration(ctx: S3Context) {
  requireIntegrityHeader(ctx.req.headers);
  await ctx.backend.headBucket(ctx.req.bucket);
  const defaultRetention = objectLockConfigFromXml(await readSmallBody(ctx));
  await ctx.backend.setBucketObjectLock(ctx.req.bucket, defaultRetention);
  return emptyResponse(200);
}

export async function getObjectLockConfiguration(ctx: S3Context) {
  const { objectLock } = await ctx.backend.headBucket(ctx.req.bucket);
  if (objectLock === undefined) {
    throw new S3Error("ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket", { BucketName: ctx.req.bucket });
  }
  return xmlResponse(objectLockConfigXml(objectLock.defaultRetention));
}

/** The retention and legal hold APIs need a bucket with Object Lock. */
async function requireObjectLock(ctx: S3Context): Promise<void> {
  if ((await ctx.backend.headBucket(ctx.req.bucket)).objectLock === undefined) {
    throw new S3Error("InvalidRequest", "Bucket is missing Object Lock Configuration");
  }
}

/** A version's Object Lock, read for GetObjectRetention and GetObjectLegalHold. */
async function readLock(ctx: S3Context): Promise<{ lock: ObjectLock; headers: Record<string, string> }> {
  await requireObjectLock(ctx);
  const { meta, headers } = await versionRead(ctx);
  return { lock: meta.lock ?? {}, headers };
}

const noLockConfiguration = () => new S3Error("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock configuration");

/** Changes a version's lock (the store decides by Object Lock's rules); answers 200 with the version's id. */
async function changeLock(ctx: S3Context, change: LockChange, bypass = false) {
  requireIntegrityHeader(ctx.req.headers);
  await requireObjectLock(ctx);
  const versionId = await ctx.backend.setObjectLock(ctx.req.bucket, ctx.req.key, await versionParam(ctx), change, { nowMs: ctx.req.nowMs, bypassGovernance: bypass });
  return emptyResponse(200, await versionHeader(ctx, ctx.req.bucket, versionId));
}

/**
 * PutObjectRetention and PutObjectLegalHold's document, read, and then the operation's access
 * checked with what it asks (Object Lock's condition keys; the router leaves the check to this).
 * A document that cannot be read is refused once the access without it holds.
 */
async function lockDocument<T>(ctx: S3Context, operation: string, parse: (text: string) => T, asked: (document: T) => Parameters<typeof lockConditionValues>[0]): Promise<T> {
  let document: T;
  try {
    document = parse(await readSmallBody(ctx));
  } catch (error) {
    await ctx.policies.checkOperation(ctx.access, operation, ctx.req);
    throw error;
  }
  await ctx.policies.checkOperation(ctx.access.withValues(lockConditionValues(asked(document), ctx.req.nowMs)), operation, ctx.req);
  return document;
}

/** PutObjectRetention: a retention that holds may only be extended in its mode, or changed with a bypass (GOVERNANCE). */
export async function putObjectRetention(ctx: S3Context) {
  const retention = await lockDocument(ctx, "PutObjectRetention", (text) => retentionFromXml(text, ctx.req.nowMs), (r) => ({
    mode: r.mode,
    retainUntil: r.retainUntilMs === undefined ? undefined : new Date(r.retainUntilMs).toISOString(),
  }));
  const bypass = await bypassGovernance(ctx);
  return changeLock(ctx, { retention }, bypass);
}

export async function getObjectRetention(ctx: S3Context) {
  const { lock, headers } = await readLock(ctx);
  if (lock.mode === undefined) throw noLockConfiguration();
  return xmlResponse(retentionXml(lock), 200, headers);
}

export async function putObjectLegalHold(ctx: S3Context) {
  const on = await lockDocument(ctx, "PutObjectLegalHold", legalHoldFromXml, (hold) => ({ legalHold: hold ? "ON" : "OFF" }));
  return changeLock(ctx, { legalHold: on });
}

export async function getObjectLegalHold(ctx: S3Context) {
  const { lock, headers } = await readLock(ctx);
  if (lock.legalHold === undefined) throw noLockConfiguration();
  return xmlResponse(legalHoldXml(lock.legalHold), 200, headers);
}

/**
 * The Object Lock a write asks for its new version in `bucket`, in its x-amz-object-lock-* headers
 * (a form's fields, for a POST); the store adds the bucket's default retention inside the commit
 * (store/locks.ts). A bucket without Object Lock takes none. A write whose request carries the
 * bytes (`bodyChecked`: PutObject) and whose version gets a lock must carry an integrity header,
 * as S3 requires.
 */
export async function writeLock(ctx: S3Context, bucket: string, bodyChecked: boolean, headers = ctx.req.headers): Promise<ObjectLock | undefined> {
  const { nowMs } = ctx.req;
  const requested = lockFromHeaders(headers, nowMs);
  const { objectLock } = await ctx.backend.headBucket(bucket);
  if (objectLock === undefined) {
    if (requested !== undefined) throw new S3Error("InvalidRequest", "Bucket is missing ObjectLockConfiguration");
    return undefined;
  }
  if (bodyChecked) requireLockIntegrity(headers, "Put Object", requested, objectLock);
  return requested;
}

/**
 * S3 asks an integrity header of a request that carries a version's bytes (PutObject; each
 * UploadPart, "Put Part") when the version gets a lock, its own (`requested`) or its bucket's default.
 */
export function requireLockIntegrity(headers: Record<string, string>, request: "Put Object" | "Put Part", requested: ObjectLock | undefined, bucketLock: BucketInfo["objectLock"]): void {
  if (requested === undefined && bucketLock?.defaultRetention === undefined) return;
  requireIntegrityHeader(headers, `Content-MD5 OR x-amz-checksum- HTTP header is required for ${request} requests with Object Lock parameters`);
}

/**
 * x-amz-bypass-governance-retention: whether a delete or retention change may override GOVERNANCE
 * retention (its permission, s3:BypassGovernanceRetention, is checked with the request's). Only
 * a bucket with Object Lock takes it, as in S3.
 */
export async function bypassGovernance(ctx: S3Context): Promise<boolean> {
  if (ctx.req.headers["x-amz-bypass-governance-retention"] === undefined) return false;
  if ((await ctx.backend.headBucket(ctx.req.bucket)).objectLock === undefined) {
    throw new S3Error("InvalidArgument", "x-amz-bypass-governance-retention is only applicable to Object Lock enabled buckets.", { ArgumentName: "x-amz-bypass-governance-retention" });
  }
  return asksBypass(ctx.req.headers);
}
