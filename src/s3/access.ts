/**
 * Who may do what: the S3 actions each operation needs, checked against the bucket's policy
 * (bucket-policy.ts) and the signer's grants (grants.ts). A signed request of a user without bucket
 * limits may do anything the policy does not deny them; a limited user's, what their grants or the
 * policy allow them; an unsigned one only what the policy allows everyone. Policies are read once
 * and kept, per bucket.
 */
import { S3Error } from "../errors.ts";
import { isoTimeMs } from "../util/iso-time.ts";
import type { Backend } from "../store/backend.ts";
import { KeptConfigs } from "./kept-configs.ts";
import { parseCopySource } from "./names.ts";
import type { S3Request } from "./request.ts";
import type { ConditionValues } from "./policy-conditions.ts";
import type { Signer } from "./auth.ts";
import { grantsAllow, grantsAllowAny, permissionsFor, type Grants } from "./grants.ts";
import { allowsSomewhere, evaluate, isPublic, parseBucketPolicy, resourceArn, type BucketPolicy } from "./bucket-policy.ts";
import { parseStoredBlock, publicAccessBlockConfigName, type PublicAccessBlock } from "./public-access-block.ts";
import { asksBypass } from "./object-lock.ts";

/** The name a bucket's policy document is kept under among its configurations. */
export const policyConfigName = "policy";

/**
 * The actions each operation needs, on its bucket or on its object (S3's authorization reference).
 * DeleteObjects names none here: each of its keys is checked as it is deleted (and an unsigned one
 * gets in only where some key may be deleted). Operations not listed need a signature, and for a
 * user limited to some buckets `owner` there (ListBuckets, which shows them only theirs; the
 * policy's and Block Public Access's own management, which a policy cannot open to others).
 */
const operationActions: Record<string, { actions: string[]; on: "bucket" | "object" }> = {
  GetObject: { actions: ["s3:GetObject"], on: "object" },
  HeadObject: { actions: ["s3:GetObject"], on: "object" },
  GetObjectAttributes: { actions: ["s3:GetObject", "s3:GetObjectAttributes"], on: "object" },
  GetObjectAcl: { actions: ["s3:GetObjectAcl"], on: "object" },
  PutObjectAcl: { actions: ["s3:PutObjectAcl"], on: "object" },
  GetObjectTagging: { actions: ["s3:GetObjectTagging"], on: "object" },
  PutObjectTagging: { actions: ["s3:PutObjectTagging"], on: "object" },
  DeleteObjectTagging: { actions: ["s3:DeleteObjectTagging"], on: "object" },
  PutObject: { actions: ["s3:PutObject"], on: "object" },
  CopyObject: { actions: ["s3:PutObject"], on: "object" },
  CreateMultipartUpload: { actions: ["s3:PutObject"], on: "object" },
  UploadPart: { actions: ["s3:PutObject"], on: "object" },
  UploadPartCopy: { actions: ["s3:PutObject"], on: "object" },
  CompleteMultipartUpload: { actions: ["s3:PutObject"], on: "object" },
  AbortMultipartUpload: { actions: ["s3:AbortMultipartUpload"], on: "object" },
  ListParts: { actions: ["s3:ListMultipartUploadParts"], on: "object" },
  DeleteObject: { actions: ["s3:DeleteObject"], on: "object" },
  DeleteObjects: { actions: [], on: "bucket" },
  ListObjects: { actions: ["s3:ListBucket"], on: "bucket" },
  ListObjectsV2: { actions: ["s3:ListBucket"], on: "bucket" },
  HeadBucket: { actions: ["s3:ListBucket"], on: "bucket" },
  ListObjectVersions: { actions: ["s3:ListBucketVersions"], on: "bucket" },
  ListMultipartUploads: { actions: ["s3:ListBucketMultipartUploads"], on: "bucket" },
  GetBucketLocation: { actions: ["s3:GetBucketLocation"], on: "bucket" },
  CreateBucket: { actions: ["s3:CreateBucket"], on: "bucket" },
  DeleteBucket: { actions: ["s3:DeleteBucket"], on: "bucket" },
  GetBucketCors: { actions: ["s3:GetBucketCORS"], on: "bucket" },
  PutBucketCors: { actions: ["s3:PutBucketCORS"], on: "bucket" },
  DeleteBucketCors: { actions: ["s3:PutBucketCORS"], on: "bucket" },
  GetBucketTagging: { actions: ["s3:GetBucketTagging"], on: "bucket" },
  PutBucketTagging: { actions: ["s3:PutBucketTagging"], on: "bucket" },
  DeleteBucketTagging: { actions: ["s3:PutBucketTagging"], on: "bucket" },
  GetBucketVersioning: { actions: ["s3:GetBucketVersioning"], on: "bucket" },
  PutBucketVersioning: { actions: ["s3:PutBucketVersioning"], on: "bucket" },
  GetBucketAcl: { actions: ["s3:GetBucketAcl"], on: "bucket" },
  GetBucketEncryption: { actions: ["s3:GetEncryptionConfiguration"], on: "bucket" },
  GetBucketLifecycleConfiguration: { actions: ["s3:GetLifecycleConfiguration"], on: "bucket" },
  PutBucketLifecycleConfiguration: { actions: ["s3:PutLifecycleConfiguration"], on: "bucket" },
  DeleteBucketLifecycle: { actions: ["s3:PutLifecycleConfiguration"], on: "bucket" },
  GetBucketWebsite: { actions: ["s3:GetBucketWebsite"], on: "bucket" },
  PutBucketWebsite: { actions: ["s3:PutBucketWebsite"], on: "bucket" },
  DeleteBucketWebsite: { actions: ["s3:DeleteBucketWebsite"], on: "bucket" },
  PutBucketAcl: { actions: ["s3:PutBucketAcl"], on: "bucket" },
  PutBucketOwnershipControls: { actions: ["s3:PutBucketOwnershipControls"], on: "bucket" },
  DeleteBucketOwnershipControls: { actions: ["s3:PutBucketOwnershipControls"], on: "bucket" },
  PutBucketEncryption: { actions: ["s3:PutEncryptionConfiguration"], on: "bucket" },
  DeleteBucketEncryption: { actions: ["s3:PutEncryptionConfiguration"], on: "bucket" },
  GetBucketLogging: { actions: ["s3:GetBucketLogging"], on: "bucket" },
  GetBucketAccelerateConfiguration: { actions: ["s3:GetAccelerateConfiguration"], on: "bucket" },
  GetBucketRequestPayment: { actions: ["s3:GetBucketRequestPayment"], on: "bucket" },
  GetBucketOwnershipControls: { actions: ["s3:GetBucketOwnershipControls"], on: "bucket" },
  GetPublicAccessBlock: { actions: ["s3:GetBucketPublicAccessBlock"], on: "bucket" },
  GetBucketReplication: { actions: ["s3:GetReplicationConfiguration"], on: "bucket" },
  GetObjectLockConfiguration: { actions: ["s3:GetBucketObjectLockConfiguration"], on: "bucket" },
  PutObjectLockConfiguration: { actions: ["s3:PutBucketObjectLockConfiguration"], on: "bucket" },
  GetObjectRetention: { actions: ["s3:GetObjectRetention"], on: "object" },
  PutObjectRetention: { actions: ["s3:PutObjectRetention"], on: "object" },
  GetObjectLegalHold: { actions: ["s3:GetObjectLegalHold"], on: "object" },
  PutObjectLegalHold: { actions: ["s3:PutObjectLegalHold"], on: "object" },
};

/** With a versionId ("null" included), S3 asks for the action's Version form. */
const versionActions: Record<string, string> = {
  "s3:GetObject": "s3:GetObjectVersion",
  "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
  "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
  "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
  "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
  "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
  "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
  "s3:DeleteObject": "s3:DeleteObjectVersion",
};

/**
 * Writes that make a version with what else it may carry: tags (x-amz-tagging) need
 * s3:PutObjectTagging as well, a retention or a legal hold (x-amz-object-lock-*) what setting one
 * needs, as in S3 (else anyone who may write could lock a version beyond its owner's reach).
 */
const versionWrites = new Set(["PutObject", "CreateMultipartUpload", "CopyObject"]);

/** The actions a write's x-amz-tagging and x-amz-object-lock-* headers (or a form's fields) need besides s3:PutObject. */
export function attachedActions(headers: Record<string, string>): string[] {
  const actions: string[] = [];
  if (headers["x-amz-tagging"] !== undefined) actions.push("s3:PutObjectTagging");
  if (headers["x-amz-object-lock-mode"] !== undefined || headers["x-amz-object-lock-retain-until-date"] !== undefined) actions.push("s3:PutObjectRetention");
  if (headers["x-amz-object-lock-legal-hold"] !== undefined) actions.push("s3:PutObjectLegalHold");
  return actions;
}

/** Operations that may override GOVERNANCE retention: with x-amz-bypass-governance-retention they need s3:BypassGovernanceRetention too. */
const bypassingOperations = new Set(["DeleteObject", "PutObjectRetention"]);

/**
 * The actions a request for `operation` needs: the operation's own, in their Version form when it
 * names a version, and s3:PutObjectTagging when it sets tags. Undefined: a signature is needed.
 */
function actionsOf(operation: string, params: ReadonlyMap<string, string>, headers: Record<string, string>): { actions: string[]; on: "bucket" | "object" } | undefined {
  const needs = operationActions[operation];
  if (needs === undefined) return undefined;
  let actions = params.has("versionId") ? needs.actions.map((a) => versionActions[a] ?? a) : needs.actions;
  if (versionWrites.has(operation)) actions = [...actions, ...attachedActions(headers)];
  if (bypassingOperations.has(operation) && asksBypass(headers)) actions = [...actions, "s3:BypassGovernanceRetention"];
  return { actions, on: needs.on };
}

const accessDenied = () => new S3Error("AccessDenied", "Access Denied");

/** What a request may do beyond its own operation (a copy's source, each key of DeleteObjects). */
export interface Access {
  /** whether the request is unsigned (served only as its bucket's policy allows everyone) */
  readonly anonymous: boolean;
  /** the signer's name, which policies may name (undefined when unsigned) */
  readonly user?: string;
  /** what the request carries for policy conditions */
  readonly values: ConditionValues;
  /** the signer's grants, when their configuration limits them to some buckets */
  readonly grants?: Grants;
  /** whether the request may do all of `actions` on the bucket, or the key in it */
  allows(actions: readonly string[], bucket: string, key?: string): Promise<boolean>;
  /** throws AccessDenied unless it `allows` */
  check(actions: readonly string[], bucket: string, key?: string): Promise<void>;
  /**
   * `error` as this request may be told it: that a key or version is missing (NoSuchKey, NoSuchVersion) is told only where the
   * request may list the key's bucket, else it is AccessDenied (as S3 answers).
   */
  told<E>(error: E, bucket: string): Promise<E | S3Error>;
  /** The same caller's access with `more` values, which come first (a body's, read after the headers). */
  withValues(more: ConditionValues): Access;
}

/**
 * The bucket policies of one server, each read from the backend once and kept (`of`, `knownWithout`:
 * then a signed request needs no check, `forget` after a change), and what they let a request do,
 * as far as the buckets' Block Public Access settings (`blocks`, kept the same way) and the
 * server's (`blockedServerWide`: all of them, on every bucket) let them.
 */
export class BucketPolicies extends KeptConfigs<BucketPolicy> {
  private readonly blocks: KeptConfigs<PublicAccessBlock>;

  constructor(backend: Backend, public blockedServerWide = false) {
    super(backend, policyConfigName, parseBucketPolicy);
    this.blocks = new KeptConfigs(backend, publicAccessBlockConfigName, parseStoredBlock);
  }

  /** After a bucket's policy or Block Public Access settings changed, or the bucket came or went. */
  override forget(bucket: string): void {
    super.forget(bucket);
    this.blocks.forget(bucket);
  }

  /** Stores the bucket's Block Public Access settings (undefined: removes them), then forgets what was kept. */
  async storeBlock(bucket: string, document: string | undefined): Promise<void> {
    await this.blocks.store(bucket, document);
    this.forget(bucket);
  }

  /** Whether a Block Public Access setting holds for the bucket: its own, or the server's. */
  async blocked(bucket: string, setting: "blockPublicPolicy" | "restrictPublicBuckets"): Promise<boolean> {
    return this.blockedServerWide || (await this.blocks.of(bucket))?.[setting] === true;
  }

  /**
   * The bucket's policy as it applies to a request: for an unsigned one none at all where
   * RestrictPublicBuckets holds and the policy is public (S3 then lets only the owner's account
   * use it, and an unsigned request is nobody's).
   */
  private async policyFor(bucket: string, anonymous: boolean): Promise<BucketPolicy | undefined> {
    const policy = await this.of(bucket);
    if (policy === undefined || !anonymous) return policy;
    return isPublic(policy) && (await this.blocked(bucket, "restrictPublicBuckets")) ? undefined : policy;
  }

  /**
   * A request's access: unsigned requests (no `signer`) only as a policy allows everyone; signed
   * ones unless a policy denies them (naming everyone or them), and, for a user with grants, as far
   * as those reach or a policy allows them. `values` are what the request carries for the
   * policies' conditions (conditionValuesOf).
   */
  accessFor(signer: Signer | undefined, values: ConditionValues): Access {
    const anonymous = signer === undefined;
    const grants = signer?.grants;
    const allows = async (actions: readonly string[], bucket: string, key?: string) => {
      const decision = evaluate(await this.policyFor(bucket, anonymous), actions, resourceArn(bucket, key), values, signer?.name);
      if (decision !== "none") return decision === "allow";
      return !anonymous && (grants === undefined || grantsAllowAny(grants, bucket, permissionsFor(actions, key !== undefined)));
    };
    return {
      anonymous,
      user: signer?.name,
      values,
      grants,
      allows,
      check: async (actions, bucket, key) => {
        if (!(await allows(actions, bucket, key))) throw accessDenied();
      },
      told: async (error, bucket) => {
        // (a missing version tells as much as a missing key)
        const missing = error instanceof S3Error && (error.code === "NoSuchKey" || error.code === "NoSuchVersion");
        const hidden = missing && !(await allows(["s3:ListBucket"], bucket));
        return hidden ? accessDenied() : error;
      },
      withValues: (more) => this.accessFor(signer, (key) => more(key) ?? values(key)),
    };
  }

  /** Checks what the request's operation itself needs on its bucket (and key, for operations on objects). */
  async checkOperation(access: Access, operation: string, req: { bucket: string; key: string; params: ReadonlyMap<string, string>; headers: Record<string, string> }): Promise<void> {
    const needs = actionsOf(operation, req.params, req.headers);
    if (needs === undefined) {
      if (access.anonymous) throw accessDenied();
      // (ListBuckets shows a limited user only their buckets; the rest is the policy API, the owner's)
      if (access.grants !== undefined && req.bucket !== "" && !grantsAllow(access.grants, req.bucket, "owner")) throw accessDenied();
      return;
    }
    if (needs.actions.length > 0) await access.check(needs.actions, req.bucket, needs.on === "object" ? req.key : undefined);
    // DeleteObjects checks each key; unsigned, or by a user whose grants do not let it write there,
    // it is let in only where the policy allows some key to be deleted (else it would learn whether the bucket exists)
    else if ((access.anonymous || (access.grants !== undefined && !grantsAllow(access.grants, req.bucket, "write"))) && !allowsSomewhere(await this.policyFor(req.bucket, access.anonymous), "s3:DeleteObject", access.values, access.user)) {
      throw accessDenied();
    }
  }
}

/** The listings, whose requests carry s3:prefix, s3:delimiter and s3:max-keys. */
const listings = new Set(["ListObjects", "ListObjectsV2", "ListObjectVersions"]);

/**
 * What a request carries for the condition keys policy-conditions.ts knows. `sourceIp` is the
 * connection's peer; `authType` is S3's name for how it was signed (undefined: unsigned).
 */
export function conditionValuesOf(
  req: S3Request,
  operation: string,
  sourceIp: string | undefined,
  authType: "REST-HEADER" | "REST-QUERY-STRING" | "POST" | undefined,
): ConditionValues {
  return (key) => {
    switch (key) {
      case "aws:sourceip":
        return sourceIp;
      case "aws:securetransport":
        return req.scheme === "https" ? "true" : "false";
      case "aws:currenttime":
        return new Date(req.nowMs).toISOString();
      case "aws:epochtime":
        return String(Math.floor(req.nowMs / 1000));
      case "aws:useragent":
        return req.headers["user-agent"];
      case "aws:referer":
        return req.headers.referer;
      case "s3:prefix":
      case "s3:delimiter":
      case "s3:max-keys":
        return listings.has(operation) ? req.params.get(key.slice("s3:".length)) : undefined;
      case "s3:authtype":
        return authType;
      case "s3:signatureversion":
        return authType === undefined ? undefined : "AWS4-HMAC-SHA256";
      case "s3:x-amz-copy-source":
        return copySourceValue(req.headers["x-amz-copy-source"]);
      case "s3:object-lock-mode":
      case "s3:object-lock-retain-until-date":
      case "s3:object-lock-remaining-retention-days":
      case "s3:object-lock-legal-hold": {
        // (PutObjectRetention and PutObjectLegalHold take them from their documents alone: handlers/object-lock.ts)
        if (!versionWrites.has(operation)) return undefined;
        const { headers } = req;
        const asked = { mode: headers["x-amz-object-lock-mode"], retainUntil: headers["x-amz-object-lock-retain-until-date"], legalHold: headers["x-amz-object-lock-legal-hold"] };
        return lockConditionValues(asked, req.nowMs)(key);
      }
      default:
        // s3:x-amz-acl, s3:x-amz-storage-class, ...: the request header of that name
        return key.startsWith("s3:x-amz-") ? req.headers[key.slice("s3:".length)] : undefined;
    }
  };
}

const dayMs = 24 * 60 * 60 * 1000;

/**
 * Object Lock's condition keys, from what a request asks its version's lock to be: a mode, a
 * retain-until date (ISO 8601) and a legal hold (ON, OFF). The remaining retention is counted in
 * whole days, a part of a day as one: 10 days and an hour is 11.
 */
export function lockConditionValues(asked: { mode?: string; retainUntil?: string; legalHold?: string }, nowMs: number): ConditionValues {
  return (key) => {
    switch (key) {
      case "s3:object-lock-mode":
        return asked.mode;
      case "s3:object-lock-retain-until-date":
        return asked.retainUntil;
      case "s3:object-lock-remaining-retention-days": {
        const untilMs = asked.retainUntil === undefined ? NaN : isoTimeMs(asked.retainUntil);
        return Number.isNaN(untilMs) ? undefined : String(Math.ceil((untilMs - nowMs) / dayMs));
      }
      case "s3:object-lock-legal-hold":
        return asked.legalHold;
    }
    return undefined;
  };
}

/**
 * A copy's source as policies name it, "bucket/key", decoded: the header itself can name one
 * source many ways ("/b/k", "b%2Fk"), and a Deny on one of them must catch them all. A header that
 * names no source is no value (the copy is refused before it reads anything).
 */
function copySourceValue(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  try {
    const { bucket, key } = parseCopySource(header);
    return `${bucket}/${key}`;
  } catch {
    return undefined;
  }
}

/**
 * A POST Object form's values: whether it is signed is known only once its fields are read, and
 * the settings S3's x-amz-* keys name come as fields (`fieldHeaders`, as headersOfFields makes them).
 */
export function formConditionValues(request: ConditionValues, signed: boolean, fieldHeaders: Record<string, string>): ConditionValues {
  return (key) => {
    if (key === "s3:authtype") return signed ? "POST" : undefined;
    if (key === "s3:signatureversion") return signed ? "AWS4-HMAC-SHA256" : undefined;
    if (key.startsWith("s3:x-amz-")) return fieldHeaders[key.slice("s3:".length)];
    return request(key);
  };
}
