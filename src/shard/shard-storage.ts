/**
 * The contract between a node and its shard storage: the segment store on disk (ShardStore) and
 * an in-memory twin for deterministic tests of the layers above (cluster, repair). Both pass one
 * shared contract suite (test/shard/contract.ts).
 */
import type { ByteRange } from "./shard-read.ts";
import type { ShardBody } from "./shard-write.ts";

export interface ShardStorage {
  /** Stores a shard of exactly `logicalBytes`; resolves once it is durable. Overwrites replace. */
  put(objectId: string, shardIndex: number, logicalBytes: number, body: ShardBody): Promise<void>;
  /**
   * The shard's bytes (or a range of them) as a stream; null when not stored. Drain or cancel
   * the stream: until then it pins the segment it reads from (compaction cannot free it).
   */
  get(objectId: string, shardIndex: number, range?: ByteRange): ReadableStream<Uint8Array> | null;
  /** The shard (or range) in memory; null when not stored. */
  read(objectId: string, shardIndex: number, range?: ByteRange): Promise<Uint8Array | null>;
  sizeOf(objectId: string, shardIndex: number): number | null;
  /** Removes a shard durably; false when it was not stored. */
  delete(objectId: string, shardIndex: number): Promise<boolean>;
  close(): void;
}
