/**
 * Conditional requests (RFC 9110 §13 as S3 applies it). Pure: the object's ETag and
 * modification time come in, a verdict goes out.
 */
import { S3Error } from "../errors.ts";

export interface Validators {
  /** unquoted */
  etag: string;
  lastModifiedMs: number;
}

export interface ReadConditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}

/** "ok" to serve, "not-modified" for 304, or a 412 PreconditionFailed thrown. */
export type ReadVerdict = "ok" | "not-modified";

/** Whether an If-Match / If-None-Match list ("*", `"a", W/"b"`) names the ETag. */
export function etagListMatches(list: string, etag: string): boolean {
  return list.split(",").some((item) => {
    const tag = item.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
    return tag === "*" || tag === etag;
  });
}

/** An HTTP date in seconds, or undefined when absent or unparseable (then it is ignored). */
function httpDateSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

function preconditionFailed(condition: string): S3Error {
  return new S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", { Condition: condition });
}

/**
 * GET/HEAD: If-Match (else If-Unmodified-Since) failing is 412; then If-None-Match (else
 * If-Modified-Since) failing is 304. When If-Match holds, If-Unmodified-Since is not consulted,
 * and when If-None-Match is present, If-Modified-Since is not: S3's documented precedence.
 */
export function evaluateRead(c: ReadConditions, v: Validators): ReadVerdict {
  const modifiedSeconds = Math.floor(v.lastModifiedMs / 1000);
  if (c.ifMatch !== undefined) {
    if (!etagListMatches(c.ifMatch, v.etag)) throw preconditionFailed("If-Match");
  } else {
    const since = httpDateSeconds(c.ifUnmodifiedSince);
    if (since !== undefined && modifiedSeconds > since) throw preconditionFailed("If-Unmodified-Since");
  }
  if (c.ifNoneMatch !== undefined) {
    if (etagListMatches(c.ifNoneMatch, v.etag)) return "not-modified";
  } else {
    const since = httpDateSeconds(c.ifModifiedSince);
    if (since !== undefined && modifiedSeconds <= since) return "not-modified";
  }
  return "ok";
}

export function readConditionsFrom(headers: Record<string, string>, prefix = ""): ReadConditions {
  return {
    ifMatch: headers[`${prefix}if-match`],
    ifNoneMatch: headers[`${prefix}if-none-match`],
    ifModifiedSince: headers[`${prefix}if-modified-since`],
    ifUnmodifiedSince: headers[`${prefix}if-unmodified-since`],
  };
}

/** CopyObject's x-amz-copy-source-if-*: every failure is 412, none is 304. */
export function checkCopySource(headers: Record<string, string>, v: Validators): void {
  const c = readConditionsFrom(headers, "x-amz-copy-source-");
  if (evaluateRead(c, v) === "not-modified") {
    throw preconditionFailed(c.ifNoneMatch !== undefined ? "x-amz-copy-source-If-None-Match" : "x-amz-copy-source-If-Modified-Since");
  }
}

/** A condition on the current version of a key, checked inside the write's commit. */
export interface WriteCondition {
  /** If-None-Match: * — the key must not exist */
  ifNoneMatchAny?: boolean;
  /** If-Match — the key must exist with one of these ETags */
  ifMatch?: string;
}

export function writeConditionFrom(headers: Record<string, string>): WriteCondition | undefined {
  const ifNoneMatch = headers["if-none-match"];
  const ifMatch = headers["if-match"];
  if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== "*") {
    throw new S3Error("NotImplemented", "If-None-Match on writes supports only the value *.");
  }
  return { ifNoneMatchAny: ifNoneMatch !== undefined, ifMatch };
}

/** Checks a write condition against the key's current ETag (undefined when the key is absent). */
export function checkWrite(c: WriteCondition | undefined, currentEtag: string | undefined, key: string): void {
  if (!c) return;
  if (c.ifNoneMatchAny && currentEtag !== undefined) throw preconditionFailed("If-None-Match");
  if (c.ifMatch !== undefined) {
    if (currentEtag === undefined) throw new S3Error("NoSuchKey", "The specified key does not exist.", { Key: key });
    if (!etagListMatches(c.ifMatch, currentEtag)) throw preconditionFailed("If-Match");
  }
}
