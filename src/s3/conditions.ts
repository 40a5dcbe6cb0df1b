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

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const monthNames = months.join("|");
/** IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" */
const imfFixdate = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${monthNames}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
/** obsolete RFC 850 form, "Sunday, 06-Nov-94 08:49:37 GMT" */
const rfc850Date = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-(${monthNames})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
/** obsolete asctime form, "Sun Nov  6 08:49:37 1994" */
const asctimeDate = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${monthNames}) ([ \\d]\\d) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`);

/**
 * An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate or one of the two obsolete forms) in seconds, or
 * undefined when absent or anything else: a recipient must ignore a date it cannot parse, and
 * `Date.parse` takes almost anything ("0", "2001"). A two-digit year more than 50 years ahead of
 * `nowMs` is the century before.
 */
export function httpDateSeconds(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  let parts: [year: number, month: string, day: string, h: string, m: string, s: string] | undefined;
  let match = imfFixdate.exec(value);
  if (match) parts = [Number(match[3]), match[2], match[1], match[4], match[5], match[6]];
  else if ((match = rfc850Date.exec(value))) {
    const nowYear = new Date(nowMs).getUTCFullYear();
    const year = 2000 + Number(match[3]);
    parts = [year > nowYear + 50 ? year - 100 : year, match[2], match[1], match[4], match[5], match[6]];
  } else if ((match = asctimeDate.exec(value))) parts = [Number(match[6]), match[1], match[2].trim(), match[3], match[4], match[5]];
  if (parts === undefined) return undefined;
  const [year, month, day, h, m, sec] = parts;
  const ms = Date.UTC(year, months.indexOf(month), Number(day), Number(h), Number(m), Number(sec));
  const date = new Date(ms);
  // out-of-range fields ("31 Feb", "25:00:00") would roll over into another date: refused
  if (date.getUTCDate() !== Number(day) || date.getUTCHours() !== Number(h) || date.getUTCMinutes() !== Number(m) || date.getUTCSeconds() !== Number(sec)) return undefined;
  return Math.floor(ms / 1000);
}

function preconditionFailed(condition: string): S3Error {
  return new S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", { Condition: condition });
}

/**
 * GET/HEAD: If-Match (else If-Unmodified-Since) failing is 412; then If-None-Match (else
 * If-Modified-Since) failing is 304. When If-Match holds, If-Unmodified-Since is not consulted,
 * and when If-None-Match is present, If-Modified-Since is not: S3's documented precedence. An
 * If-Modified-Since later than `nowMs` is not a valid date for it (RFC 2616 §14.25) and is ignored.
 */
export function evaluateRead(c: ReadConditions, v: Validators, nowMs: number, headerPrefix = ""): ReadVerdict {
  const modifiedSeconds = Math.floor(v.lastModifiedMs / 1000);
  if (c.ifMatch !== undefined) {
    if (!etagListMatches(c.ifMatch, v.etag)) throw preconditionFailed(`${headerPrefix}If-Match`);
  } else {
    const since = httpDateSeconds(c.ifUnmodifiedSince, nowMs);
    if (since !== undefined && modifiedSeconds > since) throw preconditionFailed(`${headerPrefix}If-Unmodified-Since`);
  }
  if (c.ifNoneMatch !== undefined) {
    if (etagListMatches(c.ifNoneMatch, v.etag)) return "not-modified";
  } else {
    const since = httpDateSeconds(c.ifModifiedSince, nowMs);
    if (since !== undefined && since <= nowMs / 1000 && modifiedSeconds <= since) return "not-modified";
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
export function checkCopySource(headers: Record<string, string>, v: Validators, nowMs: number): void {
  const prefix = "x-amz-copy-source-";
  const c = readConditionsFrom(headers, prefix);
  if (evaluateRead(c, v, nowMs, prefix) === "not-modified") {
    throw preconditionFailed(`${prefix}${c.ifNoneMatch !== undefined ? "If-None-Match" : "If-Modified-Since"}`);
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
