/** Streams a byte range of an object stored as consecutive blob files. */
import { handOn } from "../../util/chunks.ts";

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
