/** Bucket versioning: Put/GetBucketVersioning, and the version headers every object operation answers with. */
import { S3Error } from "../../errors.ts";
import { isVersionId, type ObjectMeta, type VersioningStatus } from "../../store/backend.ts";
import { emptyResponse, xmlResponse } from "../respond.ts";
import { childNames, childText, malformedXml, parseXmlBody, s3Xmlns, x } from "../xml.ts";
import type { S3Context } from "./context.ts";
import { readSmallBody } from "./small-body.ts";

const statuses: readonly string[] = ["Enabled", "Suspended"] satisfies VersioningStatus[];

/**
 * PutBucketVersioning: Enabled or Suspended (a bucket never goes back to unversioned, as in S3).
 * MfaDelete needs an MFA device, which s3d has none of: `Disabled`, what holds, is accepted;
 * `Enabled` is NotImplemented.
 */
export async function putBucketVersioning(ctx: S3Context) {
  await ctx.backend.headBucket(ctx.req.bucket);
  const doc = parseXmlBody(await readSmallBody(ctx));
  const config = doc.VersioningConfiguration;
  if (config === undefined || childNames(config).some((name) => name !== "Status" && name !== "MfaDelete")) throw malformedXml();
  const status = childText(config, "Status")?.trim();
  const mfaDelete = childText(config, "MfaDelete")?.trim();
  if (mfaDelete !== undefined && mfaDelete !== "Disabled") {
    if (mfaDelete !== "Enabled") throw malformedXml();
    throw new S3Error("NotImplemented", "s3d has no MFA devices: MfaDelete cannot be enabled.");
  }
  if (status === undefined) throw new S3Error("IllegalVersioningConfigurationException", "The Versioning element must be specified");
  if (!statuses.includes(status)) throw malformedXml();
  await ctx.backend.setBucketVersioning(ctx.req.bucket, status as VersioningStatus);
  return emptyResponse(200);
}

/** GetBucketVersioning: no Status until versioning was first set, as in S3. */
export async function getBucketVersioning(ctx: S3Context) {
  const { versioning } = await ctx.backend.headBucket(ctx.req.bucket);
  return xmlResponse(x("VersioningConfiguration", { xmlns: s3Xmlns }, versioning !== undefined ? x("Status", versioning) : null));
}

/**
 * The `x-amz-version-id` an answer about a stored version carries: in a bucket that has had
 * versioning set, every object is a version ("null" for the null version); in one never
 * versioned, none (even for `?versionId=null`), as S3 answers.
 */
export async function versionHeader(ctx: S3Context, bucket: string, versionId: string | undefined): Promise<Record<string, string>> {
  const { versioning } = await ctx.backend.headBucket(bucket);
  return versioning === undefined ? {} : { "x-amz-version-id": versionId ?? "null" };
}

/** The `x-amz-version-id` of a write: a new version's id; none for the null version (suspended, or never versioned), as S3 answers. */
export function writtenVersionHeader(versionId: string | undefined): Record<string, string> {
  return versionId === undefined ? {} : { "x-amz-version-id": versionId };
}

/**
 * The version a request names (`?versionId=`, its form checked by the router). A bucket never
 * versioned has only null versions: any other id is one S3 would not have made for it.
 */
export async function versionParam(ctx: S3Context): Promise<string | undefined> {
  const versionId = ctx.req.params.get("versionId");
  if (versionId !== undefined) await checkVersionIn(ctx, ctx.req.bucket, versionId);
  return versionId;
}

/** The metadata of the version a request names (or of the current one), with the version header its answer carries. */
export async function versionRead(ctx: S3Context): Promise<{ meta: ObjectMeta; headers: Record<string, string> }> {
  const reader = await ctx.backend.openObject(ctx.req.bucket, ctx.req.key, await versionParam(ctx));
  reader.close();
  return { meta: reader.meta, headers: await versionHeader(ctx, ctx.req.bucket, reader.meta.versionId) };
}

/** Refuses a version id other than "null" for a bucket never versioned (InvalidArgument, as S3). */
export async function checkVersionIn(ctx: S3Context, bucket: string, versionId: string, argument = "versionId"): Promise<void> {
  if (await canNameVersions(ctx, bucket, versionId)) return;
  throw new S3Error("InvalidArgument", "Invalid version id specified", { ArgumentName: argument, ArgumentValue: versionId });
}

/** Whether `versionId` could name a version of the bucket: "null", or an id s3d makes where the bucket has had versioning. */
export async function canNameVersions(ctx: S3Context, bucket: string, versionId: string): Promise<boolean> {
  return versionId === "null" || (isVersionId(versionId) && (await ctx.backend.headBucket(bucket)).versioning !== undefined);
}
