/** The two date forms SigV4 meets: ISO 8601 basic (x-amz-date) and RFC 1123 (Date). Pure. */

const amzDatePattern = /^\d{8}T\d{6}Z$/;
const httpDatePattern =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (?:GMT|UTC?|[+-]0000)$/;
const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** 20130524T000000Z for an instant in ms since the epoch. */
export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
}

/** 2013-05-24T00:00:00Z, the form S3 uses for ServerTime in its errors. */
export function formatIsoSeconds(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z") : "";
}

/** The last string parseAmzDate accepted: requests signed in the same second share it. */
let lastAmzDate = { text: "", ms: 0 };

/** ms since the epoch of a yyyyMMdd'T'HHmmss'Z' string, or undefined if it is not a real instant. */
export function parseAmzDate(s: string): number | undefined {
  if (s === lastAmzDate.text) return lastAmzDate.ms;
  if (!amzDatePattern.test(s)) return undefined;
  const ms = Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(9, 11), +s.slice(11, 13), +s.slice(13, 15));
  // Date.UTC rolls 20130230 over to March; a round trip rejects such dates (and years < 100).
  if (!Number.isFinite(ms) || formatAmzDate(ms) !== s) return undefined;
  lastAmzDate = { text: s, ms };
  return ms;
}

/**
 * ms since the epoch of an RFC 1123 date ("Fri, 24 May 2013 00:00:00 GMT"), or undefined. The zone
 * is UTC however it is written: GMT, UT, UTC, +0000, or -0000 (Python's email.utils, which botocore
 * signs a Date header with).
 */
export function parseHttpDate(s: string): number | undefined {
  const m = httpDatePattern.exec(s);
  if (m === null) return undefined;
  const [, day, month, year, hh, mm, ss] = m;
  const ms = Date.UTC(+year, months.indexOf(month), +day, +hh, +mm, +ss);
  // As in parseAmzDate, a round trip rejects rolled-over fields (31 Feb, 24:00, years < 100).
  const t = new Date(ms);
  const exact = t.getUTCFullYear() === +year && t.getUTCDate() === +day && t.getUTCHours() === +hh &&
    t.getUTCMinutes() === +mm && t.getUTCSeconds() === +ss;
  return exact ? ms : undefined;
}
