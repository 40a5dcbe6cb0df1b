/**
 * What the S3 face counts of the requests it answers, and who may read /_s3d/metrics: a scraper
 * with the configured bearer token (Prometheus's `authorization: credentials_file`), or a request
 * signed by a user without bucket limits (`curl --aws-sigv4`). Nobody else: the figures name
 * operations and error codes, not buckets or keys, but they still tell how the server is used.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { S3Error } from "../errors.ts";
import { Counter, Histogram, latencyBucketsSeconds, type MetricFamily } from "../util/metrics.ts";

export const metricsPath = "/_s3d/metrics";
export const metricsContentType = "text/plain; version=0.0.4; charset=utf-8";

/** Compares two secrets in time that tells nothing of either, their lengths included: their digests are compared. */
function sameSecret(a: string, b: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** A bearer token s3d accepts: printable ASCII without spaces, long enough not to be guessed. */
export const isMetricsToken = (token: string) => /^[\x21-\x7e]{16,4096}$/.test(token);

/** One answered request, as the access log records it. */
export interface Served {
  operation: string;
  status: number;
  /** from its arrival to the end of its answer (undefined: not known, it was never served as a request) */
  seconds?: number;
  /** the body bytes the request declared */
  bytesIn: number;
  /** the body bytes written in answer */
  bytesOut: number;
  /** the S3 error code answered, if it was one */
  errorCode?: string;
}

export class RequestMetrics {
  private readonly requests = new Counter("s3d_requests_total", "Requests answered, by S3 operation and HTTP status.", ["operation", "status"]);
  private readonly durations = new Histogram("s3d_request_duration_seconds", "Time from a request's arrival to the end of its answer, by S3 operation.", latencyBucketsSeconds, ["operation"]);
  private readonly errors = new Counter("s3d_errors_total", "S3 errors answered, by code.", ["code"]);
  private readonly received = new Counter("s3d_received_bytes_total", "Body bytes of the requests answered with success (as they declared them), by S3 operation.", ["operation"]);
  private readonly sent = new Counter("s3d_sent_bytes_total", "Body bytes written in answer, by S3 operation.", ["operation"]);
  private readonly cuts = new Counter(
    "s3d_requests_cut_total",
    "Requests cut short, by S3 operation: the client went away before its answer was complete, or a streamed body failed mid-way.",
    ["operation"],
  );
  readonly families: readonly MetricFamily[] = [this.requests, this.durations, this.errors, this.received, this.sent, this.cuts];

  served(r: Served): void {
    this.requests.inc([r.operation, String(r.status)]);
    if (r.seconds !== undefined) this.durations.observe(r.seconds, [r.operation]);
    if (r.errorCode !== undefined) this.errors.inc([r.errorCode]);
    // (a POST form's 303 redirect is its success)
    if (r.status < 400 && r.bytesIn > 0) this.received.inc([r.operation], r.bytesIn);
    if (r.bytesOut > 0) this.sent.inc([r.operation], r.bytesOut);
  }

  /** A request cut short (counted beside `served` when its answer began). */
  cut(operation: string): void {
    this.cuts.inc([operation]);
  }
}

/**
 * Refuses a scrape that is neither `Authorization: Bearer <token>` with the configured token nor
 * signed by a user without bucket limits (`signedByUnlimitedUser` throws the signature's own
 * refusal, as any S3 request gets it).
 */
export function checkScrape(authorization: string | undefined, token: string | undefined, signedByUnlimitedUser: () => boolean): void {
  const accessDenied = () => new S3Error("AccessDenied", "Access Denied");
  // (an auth scheme's name is case-insensitive, RFC 9110 §11.1)
  if (authorization !== undefined && /^bearer /i.test(authorization)) {
    const bearer = authorization.slice("bearer ".length).trim();
    if (token === undefined || !sameSecret(bearer, token)) throw accessDenied();
    return;
  }
  if (!signedByUnlimitedUser()) throw accessDenied();
}
