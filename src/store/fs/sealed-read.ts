/**
 * Reads a byte range of a sealed blob: only the fragments that cover the range are read from
 * disk and opened, in batches, into one reused buffer.
 */
import { open } from "node:fs/promises";
import { handOn } from "../../util/chunks.ts";
import type { SegmentReader } from "./read.ts";
import { clip, FragmentOpener, fragmentSpan, type Sealing } from "./sealing.ts";

/** Fragments read from disk per batch (≈ 512 KiB): one read call and one chunk out each. */
const fragmentsPerRead = 64;

export function sealedSegmentReader(sealing: Sealing, pathOf: (blobId: string) => string): SegmentReader {
  return async function* (blobId, sizeBytes, from, to) {
    const path = pathOf(blobId);
    const id = Buffer.from(blobId, "hex");
    const opener = new FragmentOpener(sealing.dataKey(id), id, sizeBytes, `blob ${path}`);
    const [first, last] = fragmentSpan(sizeBytes, from, to);
    const file = await open(path, "r");
    try {
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

async function readFully(file: import("node:fs/promises").FileHandle, into: Buffer, position: number, path: string): Promise<void> {
  let got = 0;
  while (got < into.length) {
    const { bytesRead } = await file.read(into, got, into.length - got, position + got);
    if (bytesRead === 0) throw new Error(`blob ${path} is shorter than its metadata says (${position + got} bytes, fragments up to ${position + into.length} expected)`);
    got += bytesRead;
  }
}
