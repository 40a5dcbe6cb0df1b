/**
 * Prefix/delimiter listing over any ordered key source, shared by every backend. Pure: the
 * source is a synchronous scan function. Keys are ordered by their UTF-8 bytes, as S3 lists them.
 */
import { assert } from "../util/assert.ts";

export interface ListedRow {
  key: string;
  /** tie-breaker for rows sharing a key (upload id); "" where keys are unique */
  sub: string;
}

/** A position in the ordering: rows strictly after (keyBytes, sub). */
export interface ListCursor {
  keyBytes: Uint8Array;
  sub: string;
}

/** Rows with the prefix, strictly after the cursor, in order, at most `limit` of them. */
export type ListScan<T extends ListedRow> = (after: ListCursor, limit: number) => T[];

export type ListEntry<T> = { row: T; prefix?: undefined } | { prefix: string; row?: undefined };

export interface ListResult<T> {
  entries: ListEntry<T>[];
  isTruncated: boolean;
}

const scanBatchRows = 1000;
/** 0xFF never occurs in UTF-8: appended to a prefix it sorts after every key that has the prefix. */
const afterEveryExtension = 0xff;

export const utf8 = (s: string): Uint8Array => Buffer.from(s, "utf8");

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** Whether a key (as bytes) lies in [prefixBytes, prefixEnd): starts with the prefix `cursorPastPrefix` ends. */
export function inKeyRange(keyBytes: Uint8Array, prefixBytes: Uint8Array, prefixEnd: Uint8Array): boolean {
  return compareBytes(keyBytes, prefixBytes) >= 0 && compareBytes(keyBytes, prefixEnd) < 0;
}

/** The cursor that skips every key starting with `prefix`. */
export function cursorPastPrefix(prefix: string): ListCursor {
  const bytes = utf8(prefix);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  out[bytes.length] = afterEveryExtension;
  return { keyBytes: out, sub: "" };
}

/**
 * Lists up to `maxEntries` entries (rows and common prefixes together) after `start`. A key
 * that rolls up into a common prefix which sorts at or before `start` is skipped: that prefix
 * was already returned by an earlier page, so following the markers yields each entry once.
 */
export function listEntries<T extends ListedRow>(
  scan: ListScan<T>,
  options: { prefix: string; delimiter: string; start: ListCursor; maxEntries: number },
): ListResult<T> {
  const { prefix, delimiter, start, maxEntries } = options;
  assert(maxEntries >= 0, "maxEntries must not be negative");
  // S3 answers max-keys=0 with an empty, untruncated page (no token to follow).
  if (maxEntries === 0) return { entries: [], isTruncated: false };
  const entries: ListEntry<T>[] = [];
  let cursor = start;
  while (true) {
    const rows = scan(cursor, scanBatchRows);
    let reseek = false;
    // The cursor moves past the batch's last listed row once, after the loop: encoding every
    // key of a page to bytes on the way was a tenth of a listing's time.
    let lastRow: T | undefined;
    for (const row of rows) {
      assert(row.key.startsWith(prefix), "scan returned a row outside the prefix");
      const rolledUp = delimiter === "" ? -1 : row.key.indexOf(delimiter, prefix.length);
      if (rolledUp >= 0) {
        const commonPrefix = row.key.slice(0, rolledUp + delimiter.length);
        cursor = cursorPastPrefix(commonPrefix);
        reseek = true;
        if (compareBytes(utf8(commonPrefix), start.keyBytes) > 0) {
          if (entries.length === maxEntries) return { entries, isTruncated: true };
          entries.push({ prefix: commonPrefix });
        }
        break;
      }
      if (entries.length === maxEntries) return { entries, isTruncated: true };
      entries.push({ row });
      lastRow = row;
    }
    if (!reseek && rows.length < scanBatchRows) return { entries, isTruncated: false };
    if (!reseek) cursor = { keyBytes: utf8(lastRow!.key), sub: lastRow!.sub };
  }
}
