/** The canonical request and the string to sign. */
import { algorithm, scopeTerminator } from "./constants.ts";
import { sha256Hex } from "./crypto.ts";
import { canonicalQuery, canonicalUri } from "./encode.ts";
import { canonicalHeaderValue, headerMap, type HeaderMap, type HeaderSource } from "./headers.ts";

export interface SignableRequest {
  method: string;
  /** e.g. "/bucket/key with space" */
  decodedPath: string;
  /** decoded pairs, in the order received */
  query: ReadonlyArray<readonly [string, string]>;
  /** names case-insensitive */
  headers: HeaderSource;
}

/**
 * A server's HTTP stack may swallow "Expect: 100-continue" before the handler sees it, while the
 * client signed it; that is the one value a signed-but-absent header can only have had.
 * (A Map, not an object literal: a signed header named "constructor" must not find Object's.)
 */
const absentHeaderValues: ReadonlyMap<string, string> = new Map([["expect", "100-continue"]]);

/**
 * The canonical form of frozen lists seen before: the parser hands out one frozen list per
 * client scope, and a frozen list cannot change under its remembered form.
 */
const canonicalNamesOf = new WeakMap<readonly string[], readonly string[]>();

/** Signed header names as the canonical form wants them: lowercase, sorted, once each. */
export function canonicalSignedHeaders(signedHeaders: readonly string[]): readonly string[] {
  const remembered = canonicalNamesOf.get(signedHeaders);
  if (remembered !== undefined) return remembered;
  const names = Object.freeze([...new Set(signedHeaders.map((name) => name.trim().toLowerCase()))].sort());
  if (Object.isFrozen(signedHeaders)) canonicalNamesOf.set(signedHeaders, names);
  return names;
}

/**
 * A signed header missing from the request counts as an empty value: the signature then only
 * matches if the client signed it empty, which is what it sent.
 */
export function canonicalRequestOf(
  req: Omit<SignableRequest, "headers">,
  headers: HeaderMap,
  signedHeaders: readonly string[],
  payloadHash: string,
): string {
  const names = canonicalSignedHeaders(signedHeaders);
  let block = "";
  for (const name of names) {
    block += `${name}:${canonicalHeaderValue(headers.get(name) ?? absentHeaderValues.get(name) ?? "")}\n`;
  }
  return [req.method, canonicalUri(req.decodedPath), canonicalQuery(req.query), block, names.join(";"), payloadHash].join("\n");
}

export function canonicalRequest(req: SignableRequest, signedHeaders: string[], payloadHash: string): string {
  return canonicalRequestOf(req, headerMap(req.headers), signedHeaders, payloadHash);
}

/** "20130524/us-east-1/s3/aws4_request" */
export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/${scopeTerminator}`;
}

export function stringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return `${algorithm}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
}
