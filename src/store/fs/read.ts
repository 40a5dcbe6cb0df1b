/** Reading a stored object: its inline bytes, or a byte range of its consecutive blob files. */
import type { ByteRange } from "../../s3/range.ts";
import { handOn } from "../../util/chunks.ts";
import { customerKeyRequired } from "../../errors.ts";
import type { ObjectMeta, ObjectReader } from "../backend.ts";
import type { BlobStore } from "./blobs.ts";
import type { CachedObject } from "./row-cache.ts";
import type { Sealing } from "./sealing.ts";

/**
 * A reader of one version as just read from its row. Its blobs are acquired at once (call it in
 * the turn of the read: no commit can remove them in between) and released when it is done.
 * `sealing`: what opens its bytes; "withheld" when the request lacks the key they are sealed with
 * (SSE-C): its metadata can be read, its bytes cannot.
 */
export function objectReader({ row, meta, segments }: CachedObject, blobs: BlobStore, sealing: Sealing | undefined | "withheld"): ObjectReader {
  if (sealing === "withheld") return withheldReader(meta);
  const ids = segments.map(([id]) => id);
  const readSegment = blobs.segmentReader(sealing);
  blobs.acquire(ids);
  let open = true;
  const close = () => {
    if (open) {
      open = false;
      blobs.release(ids);
    }
  };
  // A sealed inline object that fails to open throws here, before any byte is answered.
  const inlineBytes = (inline: Uint8Array, start: number, end: number) =>
    sealing ? sealing.openInline(inline, meta.sizeBytes, start, end) : inline.subarray(start, end);
  /** [start, end) of a range, or of the whole object. */
  const bounds = (range?: ByteRange) => [range?.start ?? 0, range ? range.end + 1 : meta.sizeBytes] as const;
  const stream = (range?: ByteRange) => {
    const [start, end] = bounds(range);
    if (row.inline !== null) {
      close();
      return new Blob([inlineBytes(row.inline, start, end)]).stream();
    }
    return segmentStream(segments, start, end, readSegment, close);
  };
  return {
    meta,
    close,
    stream,
    partRange: (partNumber) => {
      // a completed upload's object has one segment a part, in order
      const sizes = meta.partsCount > 0 ? segments.map(([, size]) => size) : [meta.sizeBytes];
      if (partNumber < 1 || partNumber > sizes.length) return undefined;
      const start = sizes.slice(0, partNumber - 1).reduce((sum, size) => sum + size, 0);
      return { start, end: start + sizes[partNumber - 1] - 1 };
    },
    bytes: async (range) => {
      if (row.inline === null) return new Uint8Array(await new Response(stream(range)).arrayBuffer());
      close();
      return inlineBytes(row.inline, ...bounds(range));
    },
  };
}

/** A reader of a version sealed with a key the request did not give: metadata only. */
function withheldReader(meta: ObjectMeta): ObjectReader {
  const refuse = (): never => {
    throw customerKeyRequired();
  };
  return { meta, close: () => {}, stream: refuse, bytes: async () => refuse(), partRange: () => refuse() };
}

/**
 * Reads plaintext bytes [from, to) of one blob of `sizeBytes` plaintext bytes. A file shorter
 * than its recorded size (or one that fails to open, when sealed) must throw.
 */
export type SegmentReader = (blobId: string, sizeBytes: number, from: number, to: number) => AsyncIterable<Uint8Array>;

/**
 * Streams bytes [start, end) of the concatenation of `segments` (blob id, size). `onDone` runs
 * exactly once: at the end, on error, or when the consumer cancels. A file shorter than its
 * recorded size is an error, never a silently short body.
 */
export function segmentStream(
  segments: ReadonlyArray<readonly [blobId: string, sizeBytes: number]>,
  start: number,
  end: number,
  readSegment: SegmentReader,
  onDone: () => void,
): ReadableStream<Uint8Array> {
  const chunks = rangeChunks(segments, start, end, readSegment);
  let finished = false;
  const finish = () => {
    if (!finished) {
      finished = true;
      onDone();
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await chunks.next();
        if (next.done) {
          finish();
          controller.close();
        } else {
          controller.enqueue(next.value);
        }
      } catch (error) {
        finish();
        controller.error(error);
      }
    },
    async cancel() {
      finish();
      await chunks.return(undefined);
    },
  });
}

async function* rangeChunks(
  segments: ReadonlyArray<readonly [string, number]>,
  start: number,
  end: number,
  readSegment: SegmentReader,
): AsyncGenerator<Uint8Array> {
  let segmentStart = 0;
  for (const [id, sizeBytes] of segments) {
    const segmentEnd = segmentStart + sizeBytes;
    const from = Math.max(start, segmentStart) - segmentStart;
    const to = Math.min(end, segmentEnd) - segmentStart;
    segmentStart = segmentEnd;
    if (to <= from) {
      if (segmentEnd >= end) break;
      continue;
    }
    yield* readSegment(id, sizeBytes, from, to);
  }
}

/** Reads a plain (unencrypted) blob file: the sendfile-friendly path of Bun.file. */
export function plainSegmentReader(pathOf: (blobId: string) => string): SegmentReader {
  return async function* (id, _sizeBytes, from, to) {
    const path = pathOf(id);
    let read = 0;
    for await (const chunk of Bun.file(path).slice(from, to).stream()) {
      read += chunk.length;
      // (each a fresh buffer of Bun's: once written out, its memory can go back at once)
      yield handOn(chunk);
    }
    if (read !== to - from) throw new Error(`blob ${path} is shorter than its metadata says (${read} of ${to - from} bytes)`);
  };
}
