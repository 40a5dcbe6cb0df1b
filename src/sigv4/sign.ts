/** The client side: signing requests (s3d bench, tests) the way SDKs do. */
import { assert } from "../util/assert.ts";
import { canonicalRequestOf, credentialScope, stringToSign, type SignableRequest } from "./canonical.ts";
import { algorithm, maxPresignExpiresSec, s3Service, unsignedPayload } from "./constants.ts";
import { hmacHex, signingKey } from "./crypto.ts";
import { canonicalQuery } from "./encode.ts";
import { headerMap } from "./headers.ts";
import { queryParam } from "./parse.ts";
import { formatAmzDate } from "./time.ts";

/** Headers a proxy may add, drop or rewrite on the way; signing them would break the signature. */
const unsignableHeaders = new Set([
  "authorization",
  "connection",
  "expect",
  "keep-alive",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "user-agent",
  "x-amzn-trace-id",
]);

export interface SigningCredentials {
  accessKeyId: string;
  secretKey: string;
  region: string;
  nowMs: number;
}

/**
 * Sign a request: returns the headers to add (authorization, x-amz-date, x-amz-content-sha256).
 * Every header of req.headers is signed except the hop-by-hop ones above; host must be among them.
 */
export function signHeaders(req: SignableRequest & SigningCredentials & { payloadHash: string }): Record<string, string> {
  assert(Number.isFinite(req.nowMs), "signHeaders needs a finite nowMs");
  const amzDate = formatAmzDate(req.nowMs);
  const date = amzDate.slice(0, 8);
  const headers = new Map(headerMap(req.headers));
  assert(headers.has("host"), "signHeaders needs a host header");
  headers.set("x-amz-date", amzDate);
  headers.set("x-amz-content-sha256", req.payloadHash);
  const signed = [...headers.keys()].filter((name) => !unsignableHeaders.has(name)).sort();
  const scope = credentialScope(date, req.region, s3Service);
  const canonical = canonicalRequestOf(req, headers, signed, req.payloadHash);
  const signature = hmacHex(signingKey(req.secretKey, date, req.region, s3Service), stringToSign(amzDate, scope, canonical));
  return {
    authorization: `${algorithm} Credential=${req.accessKeyId}/${scope}, SignedHeaders=${signed.join(";")}, Signature=${signature}`,
    "x-amz-date": amzDate,
    "x-amz-content-sha256": req.payloadHash,
  };
}

/**
 * Build a presigned URL's query (returned encoded, ready to append after "?"): req.query plus the
 * X-Amz-* parameters, in canonical order, X-Amz-Signature last. Only host is signed; the payload
 * is UNSIGNED-PAYLOAD unless req.query carries an X-Amz-Content-Sha256 (as the AWS SDKs do).
 */
export function presignQuery(req: {
  method: string;
  decodedPath: string;
  host: string;
  query?: [string, string][];
  accessKeyId: string;
  secretKey: string;
  region: string;
  nowMs: number;
  expiresSec: number;
}): string {
  assert(Number.isFinite(req.nowMs), "presignQuery needs a finite nowMs");
  assert(
    Number.isInteger(req.expiresSec) && req.expiresSec >= 1 && req.expiresSec <= maxPresignExpiresSec,
    `presignQuery expiresSec must be an integer in 1..${maxPresignExpiresSec}`,
  );
  const amzDate = formatAmzDate(req.nowMs);
  const date = amzDate.slice(0, 8);
  const scope = credentialScope(date, req.region, s3Service);
  const query: [string, string][] = [
    ...(req.query ?? []),
    ["X-Amz-Algorithm", algorithm],
    ["X-Amz-Credential", `${req.accessKeyId}/${scope}`],
    ["X-Amz-Date", amzDate],
    ["X-Amz-Expires", String(req.expiresSec)],
    ["X-Amz-SignedHeaders", "host"],
  ];
  const headers = new Map([["host", req.host]]);
  const payloadHash = queryParam(query, "X-Amz-Content-Sha256") ?? unsignedPayload;
  const canonical = canonicalRequestOf({ method: req.method, decodedPath: req.decodedPath, query }, headers, ["host"], payloadHash);
  const signature = hmacHex(signingKey(req.secretKey, date, req.region, s3Service), stringToSign(amzDate, scope, canonical));
  return `${canonicalQuery(query)}&X-Amz-Signature=${signature}`;
}
