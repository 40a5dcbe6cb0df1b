/** HTTP Range header parsing for GET (RFC 9110 §14, as S3 applies it: one range only). Pure. */
import { S3Error } from "../errors.ts";

export interface ByteRange {
  start: number;
  /** inclusive */
  end: number;
}

const rangeHeaderBytesMax = 256;

/**
 * Resolves a Range header against an object size. Returns undefined when the header should be
 * ignored (absent, not a bytes range, syntactically invalid, or several ranges: S3 then serves
 * the whole object with 200), a range when satisfiable, and throws InvalidRange (416) when not.
 */
export function resolveRange(header: string | null, sizeBytes: number): ByteRange | undefined {
  if (header === null || header.length > rangeHeaderBytesMax) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return undefined;
  const [, first, last] = m;
  if (first === "" && last === "") return undefined;
  // Positions of any length are compared exactly: one past every object is past this one's end.
  const size = BigInt(sizeBytes);
  if (first === "") {
    const suffix = BigInt(last);
    if (suffix === 0n || sizeBytes === 0) throw unsatisfiable(header, sizeBytes);
    return { start: suffix >= size ? 0 : Number(size - suffix), end: sizeBytes - 1 };
  }
  const start = BigInt(first);
  const end = last === "" ? undefined : BigInt(last);
  if (end !== undefined && end < start) return undefined;
  if (start >= size) throw unsatisfiable(header, sizeBytes);
  return { start: Number(start), end: end === undefined || end >= size ? sizeBytes - 1 : Number(end) };
}

/** InvalidRange, with the Content-Range that tells the client the object's size (RFC 9110 §15.5.17). */
function unsatisfiable(header: string, sizeBytes: number): S3Error {
  return new S3Error("InvalidRange", "The requested range is not satisfiable", { RangeRequested: header, ActualObjectSize: String(sizeBytes) }, { "content-range": `bytes */${sizeBytes}` });
}

export function contentRange(range: ByteRange, sizeBytes: number): string {
  return `bytes ${range.start}-${range.end}/${sizeBytes}`;
}
