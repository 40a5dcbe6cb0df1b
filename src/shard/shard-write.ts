/**
 * Cuts a shard body into fragments, seals them and writes them in large batches into the
 * extent reserved for it. Knows nothing of the index: the store commits the row afterwards.
 */
import type { KeyObject } from "node:crypto";
import { sealFragment } from "./fragment-crypto.ts";
import { fragmentBodyBytes, fragmentBytes, fragmentCountFor } from "./fragment-layout.ts";

/** Fragments per write syscall: ≈1 MiB, few syscalls and aligned-size batches. */
export const writeBatchFragments = 128;

export type ShardBody = Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export class ShardBodyLengthError extends Error {
  override name = "ShardBodyLengthError";
}

export interface ExtentWrite {
  readonly key: KeyObject;
  readonly storeId: Uint8Array;
  readonly objectId: string;
  readonly shardIndex: number;
  readonly logicalBytes: number;
  readonly counterBase: number;
  /** Writes sealed fragments at a byte offset relative to the extent start. */
  readonly write: (relativeOffsetBytes: number, bytes: Uint8Array) => Promise<void>;
}

async function* chunks(body: ShardBody): AsyncIterable<Uint8Array> {
  if (body instanceof Uint8Array) {
    yield body;
    return;
  }
  yield* body as AsyncIterable<Uint8Array>;
}

export async function writeExtent(w: ExtentWrite, body: ShardBody): Promise<void> {
  const fragments = fragmentCountFor(w.logicalBytes);
  const batch = new Uint8Array(Math.min(fragments, writeBatchFragments) * fragmentBytes);
  const stage = new Uint8Array(fragmentBodyBytes);
  let staged = 0;
  let fragment = 0;
  let batchFirst = 0;
  let received = 0;
  const wantFor = (n: number) => Math.min(fragmentBodyBytes, w.logicalBytes - n * fragmentBodyBytes);

  /** Seals the next fragment into the batch; returns the batch write when the batch is complete. */
  const seal = (bodyBytes: Uint8Array): Promise<void> | undefined => {
    const slot = fragment - batchFirst;
    sealFragment(
      w.key,
      {
        objectId: w.objectId,
        shardIndex: w.shardIndex,
        fragmentNumber: fragment,
        last: fragment === fragments - 1,
        storeId: w.storeId,
        counter: w.counterBase + fragment,
      },
      bodyBytes,
      batch,
      slot * fragmentBytes,
    );
    fragment++;
    if (fragment - batchFirst === writeBatchFragments || fragment === fragments) {
      const from = batchFirst;
      batchFirst = fragment;
      return w.write(from * fragmentBytes, batch.subarray(0, (fragment - from) * fragmentBytes));
    }
    return undefined;
  };

  for await (const chunk of chunks(w.logicalBytes === 0 ? new Uint8Array(0) : body)) {
    received += chunk.length;
    if (received > w.logicalBytes) {
      throw new ShardBodyLengthError(`shard store: body of shard ${w.shardIndex} of ${w.objectId} is longer than the declared ${w.logicalBytes} bytes`);
    }
    let at = 0;
    while (at < chunk.length) {
      const want = wantFor(fragment);
      if (staged === 0 && chunk.length - at >= want) {
        const written = seal(chunk.subarray(at, at + want)); // whole fragment in the chunk: no staging copy
        if (written) await written;
        at += want;
        continue;
      }
      const take = Math.min(want - staged, chunk.length - at);
      stage.set(chunk.subarray(at, at + take), staged);
      staged += take;
      at += take;
      if (staged === want) {
        const written = seal(stage.subarray(0, want));
        if (written) await written;
        staged = 0;
      }
    }
  }
  if (received !== w.logicalBytes) {
    throw new ShardBodyLengthError(`shard store: body of shard ${w.shardIndex} of ${w.objectId} ended at ${received} of ${w.logicalBytes} bytes`);
  }
  if (w.logicalBytes === 0) await seal(new Uint8Array(0)); // an empty shard is one empty fragment
}
