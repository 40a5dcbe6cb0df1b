/** Verifying a request signed in the Authorization header or as a presigned URL. */
import { S3Error } from "../errors.ts";
import { assert } from "../util/assert.ts";
import { canonicalRequestOf, credentialScope, stringToSign, type SignableRequest } from "./canonical.ts";
import { maxClockSkewMs, payloadModes, s3Service, unsignedPayload } from "./constants.ts";
import { hmacHex, signaturesEqual, signingKey } from "./crypto.ts";
import { authorizationOf, headerMap, type HeaderMap } from "./headers.ts";
import {
  headerMalformedPrefix,
  parseAuthorizationWith,
  parsePresignedQuery,
  queryCredentialPrefix,
  queryParam,
  type Credential,
  type ParsedAuth,
} from "./parse.ts";
import { formatIsoSeconds, parseAmzDate } from "./time.ts";

export interface VerifyInput extends SignableRequest {
  nowMs: number;
  region: string;
}

export interface Verified {
  accessKeyId: string;
  /**
   * The payload hash that was signed: a hex SHA-256, UNSIGNED-PAYLOAD, or a STREAMING-... mode.
   * For presigned URLs: UNSIGNED-PAYLOAD unless an X-Amz-Content-Sha256 query parameter or a
   * signed x-amz-content-sha256 header says otherwise.
   */
  payloadHash: string;
  /** The verified request signature (the seed signature of an aws-chunked body). */
  signature: string;
  /** For chunk signatures. */
  signingKey: Buffer;
  scope: string;
  amzDate: string;
}

const presignParams = new Set(["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"]);
const contentSha256 = "x-amz-content-sha256";
const sha256HexPattern = /^[0-9a-fA-F]{64}$/;

function scopeError(presigned: boolean, message: string, details: Record<string, string> = {}, headers: Record<string, string> = {}): S3Error {
  return presigned
    ? new S3Error("AuthorizationQueryParametersError", queryCredentialPrefix + message, details, headers)
    : new S3Error("AuthorizationHeaderMalformed", headerMalformedPrefix + message, details, headers);
}

/**
 * A credential's scope against this server (service s3, its region) and the request's date; `fail`
 * builds the error each way of signing gives.
 */
export function checkCredentialScope(
  credential: Credential,
  amzDate: string,
  region: string,
  fail: (message: string, details?: Record<string, string>, headers?: Record<string, string>) => S3Error,
): void {
  if (credential.service !== s3Service) throw fail(`incorrect service "${credential.service}". This endpoint belongs to "${s3Service}".`);
  if (credential.region !== region) {
    // the header too: a HEAD's error has no body, and SDKs redirect by it
    throw fail(`the region '${credential.region}' is wrong; expecting '${region}'`, { Region: region }, { "x-amz-bucket-region": region });
  }
  if (credential.date !== amzDate.slice(0, 8)) throw fail("Invalid credential date. Date is not the same as X-Amz-Date.");
}

export function unknownAccessKey(accessKeyId: string): S3Error {
  return new S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", { AWSAccessKeyId: accessKeyId });
}

/** SignatureDoesNotMatch, with what s3d signed (the string, and its bytes in hex) for the client to compare. */
export function signatureMismatch(accessKeyId: string, stringToSign: string, provided: string, more: Record<string, string> = {}): S3Error {
  return new S3Error(
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    { AWSAccessKeyId: accessKeyId, StringToSign: stringToSign, SignatureProvided: provided, StringToSignBytes: hexBytes(stringToSign), ...more },
  );
}

function checkPayloadHash(value: string): string {
  if (sha256HexPattern.test(value) || payloadModes.includes(value)) return value;
  throw new S3Error("InvalidArgument", `${contentSha256} must be ${payloadModes.join(", ")} or a valid sha256 value.`, {
    ArgumentName: contentSha256,
    ArgumentValue: value,
  });
}

/** S3 requires x-amz-content-sha256 with header auth; it is the payload line of the canonical request. */
function headerPayloadHash(headers: HeaderMap): string {
  const value = headers.get(contentSha256);
  if (value === undefined) {
    throw new S3Error("InvalidRequest", `Missing required header for this request: ${contentSha256}`);
  }
  return checkPayloadHash(value);
}

/**
 * A presigned URL signs UNSIGNED-PAYLOAD, unless the signer put a hash in the URL (the AWS SDKs
 * hoist x-amz-content-sha256 into an X-Amz-Content-Sha256 parameter) or signed the header.
 */
function presignedPayloadHash(req: VerifyInput, headers: HeaderMap, auth: ParsedAuth): string {
  const fromQuery = queryParam(req.query, "X-Amz-Content-Sha256");
  if (fromQuery !== undefined) return checkPayloadHash(fromQuery);
  const fromHeader = headers.get(contentSha256);
  if (fromHeader !== undefined && auth.signedHeaders.includes(contentSha256)) return checkPayloadHash(fromHeader);
  return unsignedPayload;
}

/**
 * S3 refuses a request whose host, or any x-amz-* header it carries, is outside the signature
 * (x-amz-content-sha256 excepted: with header auth it is signed anyway as the payload line).
 */
function checkSignedHeaders(auth: ParsedAuth, headers: HeaderMap): void {
  const signed = auth.signedHeaders; // a handful of names: a Set would cost more than it saves
  const notSigned: string[] = signed.includes("host") ? [] : ["host"];
  for (const name of headers.keys()) {
    if (name.startsWith("x-amz-") && name !== contentSha256 && !signed.includes(name)) notSigned.push(name);
  }
  if (notSigned.length > 0) {
    throw new S3Error("AccessDenied", "There were headers present in the request which were not signed", {
      HeadersNotSigned: notSigned.sort().join(", "),
    });
  }
}

function checkTime(auth: ParsedAuth, nowMs: number): void {
  const requestMs = parseAmzDate(auth.amzDate);
  assert(requestMs !== undefined, "parsed amzDate is a valid date");
  if (auth.expiresSec === undefined) {
    if (Math.abs(nowMs - requestMs) > maxClockSkewMs) {
      throw new S3Error("RequestTimeTooSkewed", "The difference between the request time and the current time is too large.", {
        RequestTime: auth.amzDate,
        ServerTime: formatIsoSeconds(nowMs),
        MaxAllowedSkewMilliseconds: String(maxClockSkewMs),
      });
    }
    return;
  }
  if (requestMs - nowMs > maxClockSkewMs) throw new S3Error("AccessDenied", "Request is not valid yet");
  const expiresMs = requestMs + auth.expiresSec * 1000;
  if (nowMs > expiresMs) {
    throw new S3Error("AccessDenied", "Request has expired", {
      "X-Amz-Expires": String(auth.expiresSec),
      Expires: formatIsoSeconds(expiresMs),
      ServerTime: formatIsoSeconds(nowMs),
    });
  }
}

/** A string's UTF-8 bytes in hex, space-separated: how S3 shows what it signed in SignatureDoesNotMatch. */
function hexBytes(s: string): string {
  return Buffer.from(s, "utf8").toString("hex").replace(/(..)(?!$)/g, "$1 ");
}

/**
 * Verify a request signed in the Authorization header or as a presigned URL.
 * lookupSecret returns the secret key for an access key id, or undefined.
 */
export function verifyRequest(input: VerifyInput, lookupSecret: (accessKeyId: string) => string | undefined): Verified {
  assert(Number.isFinite(input.nowMs), "verifyRequest needs a finite nowMs");
  const headers = headerMap(input.headers);
  const authorization = authorizationOf(headers.get("authorization"));
  const presigned = input.query.some(([name]) => presignParams.has(name));
  if (authorization !== undefined && presigned) {
    throw new S3Error(
      "InvalidArgument",
      "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
      { ArgumentName: "Authorization", ArgumentValue: authorization },
    );
  }
  if (authorization === undefined && !presigned) throw new S3Error("AccessDenied", "Access Denied");

  const auth = authorization !== undefined ? parseAuthorizationWith(authorization, headers) : parsePresignedQuery(input.query);
  checkCredentialScope(auth.credential, auth.amzDate, input.region, (message, details, headers) => scopeError(auth.presigned, message, details, headers));
  const payloadHash = auth.presigned ? presignedPayloadHash(input, headers, auth) : headerPayloadHash(headers);
  checkSignedHeaders(auth, headers);
  const { accessKeyId, date, region, service } = auth.credential;
  const secret = lookupSecret(accessKeyId);
  if (secret === undefined) throw unknownAccessKey(accessKeyId);
  checkTime(auth, input.nowMs);

  const query = auth.presigned ? input.query.filter(([name]) => name !== "X-Amz-Signature") : input.query;
  const canonical = canonicalRequestOf({ method: input.method, decodedPath: input.decodedPath, query }, headers, auth.signedHeaders, payloadHash);
  const scope = credentialScope(date, region, service);
  const toSign = stringToSign(auth.amzDate, scope, canonical);
  const key = signingKey(secret, date, region, service);
  const signature = hmacHex(key, toSign);
  if (!signaturesEqual(signature, auth.signature)) {
    throw signatureMismatch(accessKeyId, toSign, auth.signature, { CanonicalRequest: canonical, CanonicalRequestBytes: hexBytes(canonical) });
  }
  return { accessKeyId, payloadHash, signature, signingKey: key, scope, amzDate: auth.amzDate };
}
