/** The parts of an HTTP request the S3 face works with, taken from the raw request line. */
import { S3Error } from "../errors.ts";

export interface S3Request {
  method: string;
  /** raw path as sent, undecoded, without the query */
  rawPath: string;
  /** decoded path, as signed ("/bucket/key with space") */
  decodedPath: string;
  bucket: string;
  key: string;
  /** decoded query pairs in the order received */
  query: Array<[string, string]>;
  /** first value of each query parameter */
  params: Map<string, string>;
  /** header names lowercase; repeated headers joined with "," */
  headers: Record<string, string>;
  body: AsyncIterable<Uint8Array>;
  requestId: string;
  nowMs: number;
  /** "https" when the request came over TLS */
  scheme: "http" | "https";
  /** the client's address as its connection had it when the request came (undefined: already gone) */
  clientAddress: string | undefined;
  /** whether this server takes SSE-C keys over plain HTTP from a client on its machine (--sse-c-over-loopback) */
  keysOverLoopback: boolean;
}

export interface ParsedTarget {
  rawPath: string;
  decodedPath: string;
  bucket: string;
  key: string;
  query: Array<[string, string]>;
}

function decode(s: string, plusIsSpace: boolean): string {
  try {
    return decodeURIComponent(plusIsSpace ? s.replaceAll("+", " ") : s);
  } catch {
    throw new S3Error("InvalidURI", "Couldn't parse the specified URI.");
  }
}

/**
 * The bucket named by a virtual-host-style Host header ("photos.s3.example.test" under domain
 * "s3.example.test"), or undefined for path style (no domain configured, or any other host).
 */
export function bucketFromHost(host: string | undefined, domain: string | undefined): string | undefined {
  if (host === undefined || domain === undefined) return undefined;
  const name = host.replace(/:\d+$/, "").toLowerCase();
  const suffix = `.${domain.toLowerCase()}`;
  return name.endsWith(suffix) && name.length > suffix.length ? name.slice(0, -suffix.length) : undefined;
}

/**
 * The bucket a Host header names and whether it is that bucket's website: a host under
 * `websiteDomain` is, one under `domain` is the S3 API's, and a host under both belongs to the
 * longer one (with --domain s3.web.test and --website-domain web.test, s3.web.test and
 * site.s3.web.test are the API's).
 */
export function addressedBy(host: string | undefined, domain: string | undefined, websiteDomain: string | undefined): { bucket: string | undefined; website: boolean } {
  const name = host?.replace(/:\d+$/, "").toLowerCase();
  const under = (d: string | undefined): d is string => d !== undefined && name !== undefined && (name === d.toLowerCase() || name.endsWith(`.${d.toLowerCase()}`));
  const website = under(websiteDomain) && !(under(domain) && domain.length > websiteDomain.length);
  const bucket = bucketFromHost(host, website ? websiteDomain : domain);
  return { bucket, website: website && bucket !== undefined };
}

/**
 * Splits a request target into bucket, key and query: path style ("/bucket/some%20key?x=1"),
 * or virtual-host style when the Host header named the bucket (then the whole path is the key).
 */
export function parseTarget(target: string, hostBucket?: string): ParsedTarget {
  // absolute form ("http://host/bucket/key", as sent through a proxy): the path is what follows
  // the authority (RFC 9112 §3.2.2)
  const authority = /^https?:\/\/[^/?]*/i.exec(target);
  if (authority) target = target.slice(authority[0].length).replace(/^(?!\/)/, "/");
  const q = target.indexOf("?");
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? "" : target.slice(q + 1);
  if (!rawPath.startsWith("/")) throw new S3Error("InvalidURI", "Couldn't parse the specified URI.");
  const decodedPath = decode(rawPath, false);
  const slash = decodedPath.indexOf("/", 1);
  const bucket = hostBucket ?? (slash < 0 ? decodedPath.slice(1) : decodedPath.slice(1, slash));
  const key = hostBucket !== undefined ? decodedPath.slice(1) : slash < 0 ? "" : decodedPath.slice(slash + 1);
  const query: Array<[string, string]> = [];
  for (const piece of rawQuery.split("&")) {
    if (piece === "") continue;
    const eq = piece.indexOf("=");
    query.push(eq < 0 ? [decode(piece, true), ""] : [decode(piece.slice(0, eq), true), decode(piece.slice(eq + 1), true)]);
  }
  return { rawPath, decodedPath, bucket, key, query };
}

export function firstValues(query: Array<[string, string]>): Map<string, string> {
  const params = new Map<string, string>();
  for (const [k, v] of query) if (!params.has(k)) params.set(k, v);
  return params;
}

/** The scheme and host the request reached this server by: the start of an object's URL. */
export function originOf(req: S3Request): string {
  return `${req.scheme}://${req.headers.host ?? "localhost"}`;
}
