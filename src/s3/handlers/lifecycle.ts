/** Bucket lifecycle: Put/Get/DeleteBucketLifecycleConfiguration (what the rules mean: ../lifecycle.ts; who acts on them: ../lifecycle-runner.ts). */
import { randomInt } from "node:crypto";
import { S3Error } from "../../errors.ts";
import type { ObjectMeta } from "../../store/backend.ts";
import { expiryOf, lifecycleConfigName, parseStoredLifecycle, uploadAbortOf, type Expiry, type LifecycleConfig, type LifecycleRule } from "../lifecycle.ts";
import { lifecycleFromXml, lifecycleXml } from "../lifecycle-xml.ts";
import { emptyResponse, httpTime, xmlResponse } from "../respond.ts";
import type { S3Context } from "./context.ts";
import { readSmallBody, requireIntegrityHeader } from "./small-body.ts";

const transitionMinimumSizeHeader = "x-amz-transition-default-minimum-object-size";
const transitionMinimumSizes = ["all_storage_classes_128K", "varies_by_storage_class"];

/** An ID for a rule sent without one: 48 lowercase letters and digits, as S3 makes them. */
function newRuleId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let id = "";
  for (let i = 0; i < 48; i++) id += alphabet[randomInt(alphabet.length)];
  return id;
}

/** PutBucketLifecycleConfiguration: the whole configuration, replacing any before (S3 requires an integrity header). */
export async function putBucketLifecycle(ctx: S3Context) {
  requireIntegrityHeader(ctx.req.headers);
  const transitionMinimumSize = ctx.req.headers[transitionMinimumSizeHeader] ?? transitionMinimumSizes[0];
  if (!transitionMinimumSizes.includes(transitionMinimumSize)) {
    throw new S3Error("InvalidArgument", `${transitionMinimumSizeHeader} must be one of ${transitionMinimumSizes.join(", ")}`, {
      ArgumentName: transitionMinimumSizeHeader,
      ArgumentValue: transitionMinimumSize,
    });
  }
  await ctx.backend.headBucket(ctx.req.bucket);
  const config: LifecycleConfig = { rules: lifecycleFromXml(await readSmallBody(ctx), newRuleId), transitionMinimumSize };
  await ctx.lifecycles.store(ctx.req.bucket, JSON.stringify(config));
  return emptyResponse(200, { [transitionMinimumSizeHeader]: transitionMinimumSize });
}

export async function getBucketLifecycle(ctx: S3Context) {
  const stored = await ctx.backend.getBucketConfig(ctx.req.bucket, lifecycleConfigName);
  if (stored === undefined) {
    throw new S3Error("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", { BucketName: ctx.req.bucket });
  }
  const config = parseStoredLifecycle(stored);
  return xmlResponse(lifecycleXml(config.rules), 200, { [transitionMinimumSizeHeader]: config.transitionMinimumSize });
}

/** DeleteBucketLifecycle: 204, whether or not the bucket had a configuration. */
export async function deleteBucketLifecycle(ctx: S3Context) {
  await ctx.lifecycles.store(ctx.req.bucket, undefined);
  return emptyResponse(204);
}

/**
 * Headers that tell what the bucket's rules decide, or none. They go out with answers to writes
 * already committed: a failure to read the rules costs the headers, not the answer.
 */
async function headersOf(ctx: S3Context, decide: (rules: LifecycleRule[]) => Record<string, string>): Promise<Record<string, string>> {
  try {
    // (kept in memory: most buckets have none, and the answer is then at hand)
    const rules = (await ctx.lifecycles.of(ctx.req.bucket))?.rules;
    return rules ? decide(rules) : {};
  } catch {
    return {};
  }
}

/** x-amz-expiration, when the bucket's rules expire the object (S3 sends it on PUT, GET, HEAD, copies and completions). */
export function expirationHeaders(ctx: S3Context, meta: ObjectMeta): Promise<Record<string, string>> {
  return headersOf(ctx, (rules): Record<string, string> => {
    const expiry = expiryOf(rules, meta);
    return expiry === undefined || expiry === "unknown" ? {} : { "x-amz-expiration": expirationHeader(expiry) };
  });
}

/** x-amz-abort-date and x-amz-abort-rule-id, when the bucket's rules abort the upload (CreateMultipartUpload, ListParts). */
export function abortHeaders(ctx: S3Context, initiatedMs: number): Promise<Record<string, string>> {
  return headersOf(ctx, (rules): Record<string, string> => {
    const abort = uploadAbortOf(rules, ctx.req.key, initiatedMs);
    return abort === undefined ? {} : { "x-amz-abort-date": httpTime(abort.atMs), "x-amz-abort-rule-id": encodeURIComponent(abort.ruleId) };
  });
}

/** The x-amz-expiration header's value: the expiry as an HTTP date and the rule's ID, URL-encoded, as S3 writes it. */
export function expirationHeader(expiry: Expiry): string {
  return `expiry-date="${httpTime(expiry.atMs)}", rule-id="${encodeURIComponent(expiry.ruleId)}"`;
}
