/**
 * Reads a byte range of a sealed blob: only the fragments that cover the range are read from
 * disk and opened, in batches. A range of a few batches opens on the main thread, into one reused
 * buffer; a longer one opens on the pool's threads (open-pool.ts), a few batches ahead of the one
 * going out, so that reading, opening and sending overlap on the machine's cores.
 */
import { open, type FileHandle } from "node:fs/promises";
import { handOn } from "../../util/chunks.ts";
import { settledLater } from "./blob-sinks.ts";
import { fragmentsPerBatch, type OpenPool } from "./open-pool.ts";
import type { SegmentReader } from "./read.ts";
import { clip, FragmentOpener, fragmentPlainBytes, fragmentSpan, type Sealing } from "./sealing.ts";

/** Fragments read from disk per batch (≈ 512 KiB): one read call and one chunk out each. */
const fragmentsPerRead = fragmentsPerBatch;
/** Ranges of more batches than this open on the pool's threads. */
const pooledBatchesMin = 2;
/** Batches a pooled read has opening at once, ahead of the one it sends. */
const pooledBatchesAhead = 8;

export function sealedSegmentReader(sealing: Sealing, pathOf: (blobId: string) => string, pool?: OpenPool): SegmentReader {
  return async function* (blobId, sizeBytes, from, to) {
    const path = pathOf(blobId);
    const id = Buffer.from(blobId, "hex");
    const opener = new FragmentOpener(sealing.dataKey(id), id, sizeBytes, `blob ${path}`);
    const [first, last] = fragmentSpan(sizeBytes, from, to);
    const batches = Math.ceil((last - first + 1) / fragmentsPerRead);
    const file = await open(path, "r");
    try {
      if (pool !== undefined && batches > pooledBatchesMin) {
        yield* pooledBatches(pool, file, opener, sealing.dataKeyBytes(id), id, from, to, path);
        return;
      }
      let buffer: Buffer | undefined;
      for (let n = first; n <= last; ) {
        const batchLast = Math.min(last, n + fragmentsPerRead - 1);
        const diskStart = opener.extent(n).offset;
        const lastExtent = opener.extent(batchLast);
        const diskBytes = lastExtent.offset + lastExtent.length - diskStart;
        if (buffer === undefined || buffer.length < diskBytes) buffer = Buffer.allocUnsafe(diskBytes);
        const region = buffer.subarray(0, diskBytes);
        await readFully(file, region, diskStart, path);
        const pieces: Uint8Array[] = [];
        for (; n <= batchLast; n++) {
          const { offset, length } = opener.extent(n);
          const at = offset - diskStart;
          pieces.push(clip(opener.open(n, region.subarray(at, at + length)), n, from, to));
        }
        // (a batch's plaintext, joined, is a fresh buffer of the consumer's alone: it may go back once written out)
        yield pieces.length === 1 ? pieces[0] : handOn(Buffer.concat(pieces));
      }
    } finally {
      await file.close();
    }
  };
}

/**
 * The batches of plaintext [from, to), each opened on the pool while the ones after it are read
 * and sent to it, up to `pooledBatchesAhead` at once. A batch that does not open fails the read
 * when its turn comes; the batches still opening are left to finish unheard.
 */
async function* pooledBatches(pool: OpenPool, file: FileHandle, opener: FragmentOpener, dataKey: Uint8Array, sealId: Uint8Array, from: number, to: number, path: string): AsyncGenerator<Uint8Array> {
  const [first, last] = fragmentSpan(opener.plainBytes, from, to);
  const opening: Array<{ first: number; plain: Promise<Uint8Array> }> = [];
  let next = first;
  const startNext = async () => {
    const batchLast = Math.min(last, next + fragmentsPerRead - 1);
    const diskStart = opener.extent(next).offset;
    const lastExtent = opener.extent(batchLast);
    const sealedBytes = lastExtent.offset + lastExtent.length - diskStart;
    const sealed = pool.sealedBuffer();
    await readFully(file, sealed.subarray(0, sealedBytes), diskStart, path);
    const request = { dataKey, sealId, plainBytes: opener.plainBytes, count: opener.count, first: next, last: batchLast, sealed, sealedBytes, what: `blob ${path}` };
    opening.push({ first: next, plain: settledLater(pool.open(request)) });
    next = batchLast + 1;
  };
  while (next <= last || opening.length > 0) {
    while (next <= last && opening.length < pooledBatchesAhead) await startNext();
    const batch = opening.shift()!;
    const plain = await batch.plain;
    // the batch's plaintext starts at its first fragment's: clip it to the range
    const batchStart = batch.first * fragmentPlainBytes;
    const clipped = plain.subarray(Math.max(from - batchStart, 0), Math.min(to - batchStart, plain.length));
    yield clipped.length === plain.length ? handOn(plain) : clipped;
  }
}

async function readFully(file: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  let got = 0;
  while (got < into.length) {
    const { bytesRead } = await file.read(into, got, into.length - got, position + got);
    if (bytesRead === 0) throw new Error(`blob ${path} is shorter than its metadata says (${position + got} bytes, fragments up to ${position + into.length} expected)`);
    got += bytesRead;
  }
}
