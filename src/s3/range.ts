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
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || sizeBytes === 0) throw unsatisfiable(header, sizeBytes);
    return { start: Math.max(0, sizeBytes - suffix), end: sizeBytes - 1 };
  }
  const start = Number(first);
  const end = last === "" ? sizeBytes - 1 : Number(last);
  if (!Number.isSafeInteger(start) || (last !== "" && !Number.isSafeInteger(Number(last)))) return undefined;
  if (last !== "" && end < start) return undefined;
  if (start >= sizeBytes) throw unsatisfiable(header, sizeBytes);
  return { start, end: Math.min(end, sizeBytes - 1) };
}

function unsatisfiable(header: string, sizeBytes: number): S3Error {
  return new S3Error("InvalidRange", "The requested range is not satisfiable", {
    RangeRequested: header,
    ActualObjectSize: String(sizeBytes),
  });
}

export function contentRange(range: ByteRange, sizeBytes: number): string {
  return `bytes ${range.start}-${range.end}/${sizeBytes}`;
}
