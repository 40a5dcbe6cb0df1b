/**
 * The in-memory twin of ShardStore: same contract, same argument checks and errors, no disk,
 * no crypto. For deterministic tests of the layers above; `corrupt` simulates bit rot.
 */
import { FragmentIntegrityError } from "./fragment-crypto.ts";
import { objectIdBytesMax, shardIndexMax } from "./fragment-layout.ts";
import type { ByteRange } from "./shard-read.ts";
import type { ShardStorage } from "./shard-storage.ts";
import { type ShardBody, ShardBodyLengthError } from "./shard-write.ts";

/** Bytes per chunk of a streamed read: the same granularity as the disk store's batches. */
export const memoryReadChunkBytes = 1024 * 1024;

export class MemoryShardStore implements ShardStorage {
  private readonly shards = new Map<string, { bytes: Uint8Array; corrupt: boolean }>();
  private closed = false;

  async put(objectId: string, shardIndex: number, logicalBytes: number, body: ShardBody): Promise<void> {
    this.check(objectId, shardIndex);
    if (!Number.isSafeInteger(logicalBytes) || logicalBytes < 0) throw new RangeError(`shard store: bad shard size ${logicalBytes}`);
    const bytes = new Uint8Array(logicalBytes);
    let received = 0;
    const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = body instanceof Uint8Array ? [body] : (body as AsyncIterable<Uint8Array>);
    for await (const chunk of chunks) {
      if (received + chunk.length > logicalBytes) {
        throw new ShardBodyLengthError(`shard store: body of shard ${shardIndex} of ${objectId} is longer than the declared ${logicalBytes} bytes`);
      }
      bytes.set(chunk, received);
      received += chunk.length;
    }
    if (received !== logicalBytes) {
      throw new ShardBodyLengthError(`shard store: body of shard ${shardIndex} of ${objectId} ended at ${received} of ${logicalBytes} bytes`);
    }
    this.shards.set(key(objectId, shardIndex), { bytes, corrupt: false });
  }

  get(objectId: string, shardIndex: number, range?: ByteRange): ReadableStream<Uint8Array> | null {
    this.check(objectId, shardIndex);
    const found = this.shards.get(key(objectId, shardIndex));
    if (!found) return null;
    const size = found.bytes.length;
    const start = range?.startBytes ?? 0;
    const end = range?.endBytes ?? size;
    if (!(0 <= start && start <= end && end <= size)) {
      throw new RangeError(`shard store: range ${start}-${end} outside shard of ${size} bytes`);
    }
    const { bytes, corrupt } = found;
    let at = start;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (corrupt) {
          controller.error(new FragmentIntegrityError(`shard store: integrity check failed for object ${objectId} shard ${shardIndex}: simulated corruption`));
          return;
        }
        if (at >= end) {
          controller.close();
          return;
        }
        const next = Math.min(end, at + memoryReadChunkBytes);
        controller.enqueue(bytes.slice(at, next));
        at = next;
      },
    });
  }

  async read(objectId: string, shardIndex: number, range?: ByteRange): Promise<Uint8Array | null> {
    const stream = this.get(objectId, shardIndex, range);
    return stream ? new Uint8Array(await new Response(stream).arrayBuffer()) : null;
  }

  sizeOf(objectId: string, shardIndex: number): number | null {
    return this.shards.get(key(objectId, shardIndex))?.bytes.length ?? null;
  }

  async delete(objectId: string, shardIndex: number): Promise<boolean> {
    this.check(objectId, shardIndex);
    return this.shards.delete(key(objectId, shardIndex));
  }

  /** Test hook: every later read of this shard fails its integrity check. */
  corrupt(objectId: string, shardIndex: number): void {
    const found = this.shards.get(key(objectId, shardIndex));
    if (found) found.corrupt = true;
  }

  close(): void {
    this.closed = true;
  }

  private check(objectId: string, shardIndex: number): void {
    if (this.closed) throw new Error("shard store: closed");
    const idBytes = Buffer.byteLength(objectId);
    if (idBytes < 1 || idBytes > objectIdBytesMax) throw new RangeError(`shard store: object id must be 1..${objectIdBytesMax} bytes`);
    if (!Number.isInteger(shardIndex) || shardIndex < 0 || shardIndex > shardIndexMax) {
      throw new RangeError(`shard store: shard index ${shardIndex} out of range 0..${shardIndexMax}`);
    }
  }
}

function key(objectId: string, shardIndex: number): string {
  return `${shardIndex}\0${objectId}`;
}
