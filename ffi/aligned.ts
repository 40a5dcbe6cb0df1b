/**
 * Memory at an aligned address, for O_DIRECT I/O: the kernel moves such a buffer to and from the
 * device itself, and refuses (EINVAL) one that does not start on a block boundary. JavaScript
 * cannot ask for alignment, so the buffer is allocated one alignment larger and the view starts
 * at the first aligned address inside it (bun:ffi's `ptr` tells where that is).
 */
import { ptr } from "bun:ffi";
import { assert } from "../src/util/assert.ts";

export function alignedBytes(sizeBytes: number, alignmentBytes: number): Uint8Array {
  assert(alignmentBytes > 0 && (alignmentBytes & (alignmentBytes - 1)) === 0, "alignment is a power of two");
  const raw = new Uint8Array(new ArrayBuffer(sizeBytes + alignmentBytes));
  const skip = (alignmentBytes - (ptr(raw) % alignmentBytes)) % alignmentBytes;
  return raw.subarray(skip, skip + sizeBytes);
}

/** Whether `bytes` starts on an `alignmentBytes` boundary. */
export function isAligned(bytes: Uint8Array, alignmentBytes: number): boolean {
  return bytes.length === 0 || ptr(bytes) % alignmentBytes === 0;
}
