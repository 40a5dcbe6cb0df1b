/** Response shapes of the S3 face, independent of the HTTP server below. */
import { S3Error } from "../errors.ts";
import { x, xmlDocument, type Xml } from "./xml.ts";

export interface S3Response {
  status: number;
  headers: Record<string, string>;
  body?: string | Uint8Array | ReadableStream<Uint8Array>;
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
  return withBody ? xmlResponse(root, error.httpStatus) : emptyResponse(error.httpStatus);
}

/** S3's timestamp format in XML: ISO 8601 with milliseconds. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

export function httpTime(ms: number): string {
  return new Date(ms).toUTCString();
}

export const quoteEtag = (etag: string): string => `"${etag}"`;
export const unquoteEtag = (etag: string): string => etag.trim().replace(/^"(.*)"$/, "$1");
