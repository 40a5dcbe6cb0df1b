/** Response shapes of the S3 face, independent of the HTTP server below. */
import { S3Error } from "../errors.ts";
import { x, xmlDocument, type Xml } from "./xml.ts";

export interface S3Response {
  status: number;
  headers: Record<string, string>;
  body?: string | Uint8Array | ReadableStream<Uint8Array>;
}

/**
 * Whether `value` can be sent as a header's value: HTTP/1.1 field text is tab, visible ASCII and
 * ISO-8859-1 (RFC 9110 §5.5). Node's writeHead throws on anything else.
 */
export function isHeaderValue(value: string): boolean {
  return !/[^\t\x20-\x7e\x80-\xff]/.test(value);
}

export function xmlResponse(root: Xml, status = 200, headers: Record<string, string> = {}): S3Response {
  return { status, headers: { "content-type": "application/xml", ...headers }, body: xmlDocument(root) };
}

export function emptyResponse(status = 200, headers: Record<string, string> = {}): S3Response {
  return { status, headers };
}

export function errorResponse(error: S3Error, resource: string, requestId: string, withBody: boolean): S3Response {
  const root = x(
    "Error",
    x("Code", error.code),
    x("Message", error.message),
    Object.entries(error.details).map(([name, value]) => x(name, value)),
    x("Resource", resource),
    x("RequestId", requestId),
  );
  return withBody ? xmlResponse(root, error.httpStatus, error.headers) : emptyResponse(error.httpStatus, { ...error.headers });
}

/** The second isoTime formatted last, and its text up to the seconds. */
let isoSecond = Number.NaN;
let isoSecondText = "";

/**
 * S3's timestamp format in XML, ISO 8601 with milliseconds: `new Date(ms).toISOString()`, with the
 * date and time formatted once per second (a listing page writes a thousand of these, mostly of
 * objects written within the same few seconds).
 */
export function isoTime(ms: number): string {
  ms = Math.trunc(ms); // as Date does
  const second = Math.floor(ms / 1000);
  if (second === isoSecond) {
    const millis = ms - second * 1000;
    return `${isoSecondText}${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`;
  }
  const text = new Date(ms).toISOString();
  // Years beyond 9999 (or before 0) are written longer: those are never remembered.
  if (text.length === 24) {
    isoSecond = second;
    isoSecondText = text.slice(0, 20);
  }
  return text;
}

export function httpTime(ms: number): string {
  return new Date(ms).toUTCString();
}

export const quoteEtag = (etag: string): string => `"${etag}"`;
export const unquoteEtag = (etag: string): string => etag.trim().replace(/^"(.*)"$/, "$1");
