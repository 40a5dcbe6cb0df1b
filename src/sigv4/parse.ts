/** Reading the signature's parameters from the Authorization header or a presigned query. */
import { S3Error } from "../errors.ts";
import { algorithm, maxPresignExpiresSec, scopeTerminator } from "./constants.ts";
import { headerMap, type HeaderMap, type HeaderSource } from "./headers.ts";
import { formatAmzDate, parseAmzDate, parseHttpDate } from "./time.ts";

export interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

export interface ParsedAuth {
  credential: Credential;
  /** lowercase, as listed */
  signedHeaders: readonly string[];
  signature: string;
  /** yyyyMMdd'T'HHmmss'Z' */
  amzDate: string;
  /** presigned only */
  expiresSec?: number;
  presigned: boolean;
}

export const headerMalformedPrefix = "The authorization header is malformed; ";
export const queryCredentialPrefix = "Error parsing the X-Amz-Credential parameter; ";
const unsupportedMechanism = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.";
/** Schemes S3 knows but s3d does not verify: SigV2 and SigV4a. */
const knownUnsupportedSchemes = new Set(["AWS", "AWS4-ECDSA-P256-SHA256"]);
const componentNames = new Set(["Credential", "SignedHeaders", "Signature"]);
const queryParamsRequired =
  "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";
const credentialDatePattern = /^\d{8}$/;
const expiresPattern = /^-?\d+$/;

function headerMalformed(message: string): S3Error {
  return new S3Error("AuthorizationHeaderMalformed", headerMalformedPrefix + message);
}

function queryError(message: string): S3Error {
  return new S3Error("AuthorizationQueryParametersError", message);
}

/** "<AKID>/<yyyyMMdd>/<region>/<service>/aws4_request"; region and service are checked by the verifier. */
export function parseCredential(text: string, malformed: (message: string) => S3Error): Credential {
  const parts = text.split("/");
  if (parts.length !== 5 || parts.some((part) => part === "")) {
    throw malformed('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  const [accessKeyId, date, region, service, terminator] = parts;
  if (!credentialDatePattern.test(date)) {
    throw malformed(`incorrect date format "${date}". This date in the credential must be in the format "yyyyMMdd".`);
  }
  if (terminator !== scopeTerminator) {
    throw malformed(`incorrect terminal "${terminator}". This endpoint uses "aws4_request".`);
  }
  return { accessKeyId, date, region, service };
}

/** x-amz-date, or failing that the Date header (AWS allows either), as yyyyMMdd'T'HHmmss'Z'. */
function requestAmzDate(headers: HeaderMap): string {
  const amzDate = headers.get("x-amz-date");
  if (amzDate !== undefined) {
    if (parseAmzDate(amzDate) !== undefined) return amzDate;
  } else {
    const date = headers.get("date");
    const ms = date === undefined ? undefined : parseHttpDate(date);
    if (ms !== undefined) return formatAmzDate(ms);
  }
  throw new S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header");
}

/** An Authorization header as the SDKs write it: the scope part, then the signature. */
const usualAuthorization = /^AWS4-HMAC-SHA256 (Credential=[^\s,]+, ?SignedHeaders=[^\s,]+), ?Signature=([^\s,]+)$/;

/**
 * The Credential and SignedHeaders of the last usual header parsed in full. A client repeats
 * them on every request of a day (only the Signature changes), and parsing them was a quarter
 * of verifying a small request. Frozen: every request that matches shares them.
 */
let lastScope: { text: string; credential: Credential; signedHeaders: readonly string[] } | undefined;

export function parseAuthorizationWith(value: string, headers: HeaderMap): ParsedAuth {
  const usual = usualAuthorization.exec(value);
  if (usual !== null && usual[1] === lastScope?.text) {
    const { credential, signedHeaders } = lastScope;
    return { credential, signedHeaders, signature: usual[2], amzDate: requestAmzDate(headers), presigned: false };
  }
  const parsed = parseAuthorizationInFull(value, headers);
  if (usual !== null) {
    lastScope = { text: usual[1], credential: Object.freeze(parsed.credential), signedHeaders: Object.freeze(parsed.signedHeaders) };
  }
  return parsed;
}

function parseAuthorizationInFull(value: string, headers: HeaderMap): ParsedAuth {
  const text = value.trim();
  const schemeEnd = text.search(/\s/);
  const scheme = schemeEnd < 0 ? text : text.slice(0, schemeEnd);
  if (scheme !== algorithm) {
    if (knownUnsupportedSchemes.has(scheme)) throw new S3Error("InvalidRequest", unsupportedMechanism);
    throw new S3Error("InvalidArgument", "Unsupported Authorization Type", {
      ArgumentName: "Authorization",
      ArgumentValue: value,
    });
  }
  const fields = new Map<string, string>();
  // AWS accepts ", " or "," between components, and stray whitespace around them.
  for (const raw of schemeEnd < 0 ? [] : text.slice(schemeEnd).split(",")) {
    const component = raw.trim();
    if (component === "") continue;
    const eq = component.indexOf("=");
    const name = eq < 0 ? "" : component.slice(0, eq).trim();
    const fieldValue = component.slice(eq + 1).trim();
    if (!componentNames.has(name) || fields.has(name) || fieldValue === "") {
      throw headerMalformed(`the authorization component "${component}" is malformed.`);
    }
    fields.set(name, fieldValue);
  }
  const credential = fields.get("Credential");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw headerMalformed("the authorization header requires three components: Credential, SignedHeaders, and Signature.");
  }
  const names = signedHeaders.split(";").map((name) => name.trim().toLowerCase());
  if (names.some((name) => name === "")) {
    throw headerMalformed(`the authorization component "SignedHeaders=${signedHeaders}" is malformed.`);
  }
  return {
    credential: parseCredential(credential, headerMalformed),
    signedHeaders: names,
    signature,
    amzDate: requestAmzDate(headers),
    presigned: false,
  };
}

/**
 * Parse the Authorization header value (AWS4-HMAC-SHA256 Credential=.../.../.../s3/aws4_request,
 * SignedHeaders=a;b, Signature=hex). amzDate comes from the x-amz-date header, or the Date
 * header when there is none.
 */
export function parseAuthorizationHeader(value: string, headers: HeaderSource): ParsedAuth {
  return parseAuthorizationWith(value, headerMap(headers));
}

/** The first value of a query parameter; names are case-sensitive. */
export function queryParam(query: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  for (const [key, value] of query) if (key === name) return value;
  return undefined;
}

function parseExpiresSec(text: string): number {
  if (!expiresPattern.test(text)) throw queryError("X-Amz-Expires should be a number");
  const expiresSec = Number(text);
  if (expiresSec < 0) throw queryError("X-Amz-Expires must be non-negative");
  if (expiresSec < 1) throw queryError("X-Amz-Expires must be at least 1 second");
  if (expiresSec > maxPresignExpiresSec) {
    throw queryError(
      `X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than ${maxPresignExpiresSec} seconds`,
    );
  }
  return expiresSec;
}

/** Parse presigned query params (X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders, -Signature). */
export function parsePresignedQuery(query: ReadonlyArray<readonly [string, string]>): ParsedAuth {
  const algorithmParam = queryParam(query, "X-Amz-Algorithm");
  if (algorithmParam && algorithmParam !== algorithm) {
    throw queryError(`X-Amz-Algorithm only supports "${algorithm}"`);
  }
  const credential = queryParam(query, "X-Amz-Credential");
  const amzDate = queryParam(query, "X-Amz-Date");
  const expires = queryParam(query, "X-Amz-Expires");
  const signedHeaders = queryParam(query, "X-Amz-SignedHeaders");
  const signature = queryParam(query, "X-Amz-Signature");
  if (!algorithmParam || !credential || !amzDate || !expires || !signedHeaders || !signature) {
    throw queryError(queryParamsRequired);
  }
  const parsedCredential = parseCredential(credential, (message) => queryError(queryCredentialPrefix + message));
  if (parseAmzDate(amzDate) === undefined) {
    throw queryError(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`);
  }
  const names = signedHeaders.split(";").map((name) => name.trim().toLowerCase());
  if (names.some((name) => name === "")) throw queryError(queryParamsRequired);
  return {
    credential: parsedCredential,
    signedHeaders: names,
    signature,
    amzDate,
    expiresSec: parseExpiresSec(expires),
    presigned: true,
  };
}
