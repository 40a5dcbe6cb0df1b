/**
 * Streams a shard (or a byte range of it) back: reads only the fragments the range needs, in
 * batches, opens each (GCM) and yields the logical bytes. Any integrity failure errors the
 * stream with FragmentIntegrityError: never wrong bytes.
 */
import type { KeyObject } from "node:crypto";
import { FragmentIntegrityError, openFragment } from "./fragment-crypto.ts";
import { flagLastFragment, fragmentBodyBytes, fragmentBytes, fragmentCountFor } from "./fragment-layout.ts";
import type { Extent } from "./shard-index.ts";

/** Fragments per read syscall (≈1 MiB). */
export const readBatchFragments = 128;

export interface ByteRange {
  readonly startBytes: number;
  /** Exclusive. */
  readonly endBytes: number;
}

export interface ExtentRead {
  readonly key: KeyObject;
  readonly storeId: Uint8Array;
  readonly extent: Extent;
  readonly read: (relativeOffsetBytes: number, into: Uint8Array) => Promise<void>;
  readonly done: () => void;
}

export function readExtent(r: ExtentRead, range?: ByteRange): ReadableStream<Uint8Array> {
  const e = r.extent;
  const startBytes = range?.startBytes ?? 0;
  const endBytes = range?.endBytes ?? e.logicalBytes;
  if (!(0 <= startBytes && startBytes <= endBytes && endBytes <= e.logicalBytes)) {
    r.done();
    throw new RangeError(`shard store: range ${startBytes}-${endBytes} outside shard of ${e.logicalBytes} bytes`);
  }
  const fragments = fragmentCountFor(e.logicalBytes);
  let next = Math.floor(startBytes / fragmentBodyBytes);
  const stop = endBytes === startBytes ? next : Math.ceil(endBytes / fragmentBodyBytes);
  let finished = false;
  let batch: Uint8Array | undefined;
  const finish = () => {
    if (!finished) {
      finished = true;
      r.done();
    }
  };

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (next >= stop) {
          finish();
          controller.close();
          return;
        }
        const count = Math.min(readBatchFragments, stop - next);
        // The raw batch buffer is reused for the whole stream: only opened bodies leave it.
        batch ??= new Uint8Array(Math.min(readBatchFragments, stop - next) * fragmentBytes);
        const buf = batch.subarray(0, count * fragmentBytes);
        await r.read(next * fragmentBytes, buf);
        // One output chunk per batch (not per fragment): a stream chunk costs far more than a copy.
        const outStart = Math.max(startBytes, next * fragmentBodyBytes);
        const outEnd = Math.min(endBytes, (next + count) * fragmentBodyBytes);
        const out = new Uint8Array(Math.max(0, outEnd - outStart));
        for (let i = 0; i < count; i++, next++) {
          const body = openFragment(
            r.key,
            { objectId: e.objectId, shardIndex: e.shardIndex, fragmentNumber: next, counter: e.counterBase + next, storeId: r.storeId },
            buf,
            i * fragmentBytes,
          );
          const expected = Math.min(fragmentBodyBytes, e.logicalBytes - next * fragmentBodyBytes);
          if (body.length !== expected || (next === fragments - 1) !== isLast(buf, i)) {
            throw new FragmentIntegrityError(
              `shard store: integrity check failed for object ${e.objectId} shard ${e.shardIndex} fragment ${next}: size or last flag disagrees with the index`,
            );
          }
          const base = next * fragmentBodyBytes;
          const from = Math.max(0, startBytes - base);
          const to = Math.min(body.length, endBytes - base);
          if (to > from) out.set(body.subarray(from, to), base + from - outStart);
        }
        if (out.length > 0) controller.enqueue(out);
      } catch (err) {
        finish();
        controller.error(err);
      }
    },
    cancel() {
      finish();
    },
  });
}

function isLast(buf: Uint8Array, slot: number): boolean {
  return (buf[slot * fragmentBytes + 5] & flagLastFragment) !== 0; // flags byte: authenticated once opened
}
