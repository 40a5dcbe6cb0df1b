/**
 * Cutting an object into stripes (ARCHITECTURE.md §5): stripe s holds object bytes
 * [s * K * chunkBytes, (s + 1) * K * chunkBytes), data chunk i of it is bytes
 * [i * chunkBytes, (i + 1) * chunkBytes) of the stripe, and chunk i of every stripe is appended
 * to shard i. The last stripe is zero-padded, so every shard is stripes × chunkBytes long; the
 * object size (kept in metadata) trims the padding on read. Memory is one stripe, whatever the
 * object size. The layout functions are pure.
 */
import { assert } from "../util/assert.ts";
import type { ReedSolomon, Stripe } from "./codec.ts";

export interface StripeLayout {
  readonly dataShards: number;
  readonly chunkBytes: number;
}

/** Stripes needed for an object (an empty object still has one, all padding). */
export function stripeCount(objectBytes: number, layout: StripeLayout): number {
  assert(Number.isSafeInteger(objectBytes) && objectBytes >= 0, `striping: bad object size ${objectBytes}`);
  return Math.max(1, Math.ceil(objectBytes / (layout.dataShards * layout.chunkBytes)));
}

/** Length of every shard (data and parity) of the object. */
export function shardBytesFor(objectBytes: number, layout: StripeLayout): number {
  return stripeCount(objectBytes, layout) * layout.chunkBytes;
}

export interface ChunkSpan {
  readonly stripe: number;
  readonly shard: number;
  /** Byte range inside the shard. */
  readonly shardStartBytes: number;
  readonly shardEndBytes: number;
}

/**
 * The data-shard byte ranges holding object bytes [startBytes, endBytes), in object order: what
 * a range GET must read (and, if a shard is lost, the stripes to reconstruct).
 */
export function spansFor(startBytes: number, endBytes: number, layout: StripeLayout): ChunkSpan[] {
  assert(0 <= startBytes && startBytes <= endBytes, `striping: bad range ${startBytes}-${endBytes}`);
  const { chunkBytes, dataShards } = layout;
  const spans: ChunkSpan[] = [];
  for (let at = startBytes; at < endBytes; ) {
    const chunkIndex = Math.floor(at / chunkBytes); // global chunk number in object order
    const stripe = Math.floor(chunkIndex / dataShards);
    const shard = chunkIndex % dataShards;
    const inChunk = at - chunkIndex * chunkBytes;
    const take = Math.min(chunkBytes - inChunk, endBytes - at);
    spans.push({ stripe, shard, shardStartBytes: stripe * chunkBytes + inChunk, shardEndBytes: stripe * chunkBytes + inChunk + take });
    at += take;
  }
  return spans;
}

/**
 * Reads an object body and yields each stripe encoded: K data + M parity chunks of chunkBytes.
 * The yielded arrays are views into one reused Stripe: consume (write out) each before pulling
 * the next. Throws if the body's length differs from `objectBytes`.
 */
export async function* encodeStripes(
  codec: ReedSolomon,
  chunkBytes: number,
  objectBytes: number,
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<readonly Uint8Array[]> {
  const stripe: Stripe = codec.acquireStripe(chunkBytes);
  try {
    yield* encodeInto(codec, stripe, chunkBytes, objectBytes, body);
  } finally {
    codec.releaseStripe(stripe);
  }
}

async function* encodeInto(
  codec: ReedSolomon,
  stripe: Stripe,
  chunkBytes: number,
  objectBytes: number,
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<readonly Uint8Array[]> {
  const stripeBytes = codec.dataShards * chunkBytes;
  let filled = 0; // bytes of the current stripe
  let seen = 0;
  let emitted = 0;
  const put = (bytes: Uint8Array) => {
    let at = 0;
    while (at < bytes.length) {
      const shard = Math.floor(filled / chunkBytes);
      const inChunk = filled % chunkBytes;
      const take = Math.min(chunkBytes - inChunk, bytes.length - at, stripeBytes - filled);
      stripe.shards[shard].set(bytes.subarray(at, at + take), inChunk);
      at += take;
      filled += take;
      if (filled === stripeBytes) return at;
    }
    return at;
  };
  for await (const chunk of body) {
    seen += chunk.length;
    if (seen > objectBytes) throw new RangeError(`striping: body longer than the declared ${objectBytes} bytes`);
    let at = 0;
    while (at < chunk.length) {
      at += put(chunk.subarray(at));
      if (filled === stripeBytes) {
        stripe.encode();
        yield stripe.shards;
        emitted++;
        filled = 0;
      }
    }
  }
  if (seen !== objectBytes) throw new RangeError(`striping: body ended at ${seen} of ${objectBytes} bytes`);
  if (filled > 0 || emitted === 0) {
    for (let i = 0; i < codec.dataShards; i++) {
      const from = Math.max(0, Math.min(chunkBytes, filled - i * chunkBytes));
      stripe.shards[i].fill(0, from);
    }
    stripe.encode();
    yield stripe.shards;
  }
}

/**
 * Rebuilds one stripe's data from its shards' chunks (null = lost, at most M) and returns the
 * object bytes it holds, trimmed to `objectBytes` for the last stripe.
 */
export function decodeStripe(
  codec: ReedSolomon,
  chunks: (Uint8Array | null)[],
  stripeIndex: number,
  objectBytes: number,
): Uint8Array {
  const full = codec.reconstruct([...chunks], { dataOnly: true });
  const chunkBytes = full[0].length;
  const stripeBytes = codec.dataShards * chunkBytes;
  const bytes = Math.max(0, Math.min(stripeBytes, objectBytes - stripeIndex * stripeBytes));
  const out = new Uint8Array(bytes);
  for (let i = 0; i < codec.dataShards && i * chunkBytes < bytes; i++) {
    out.set(full[i].subarray(0, Math.min(chunkBytes, bytes - i * chunkBytes)), i * chunkBytes);
  }
  return out;
}
