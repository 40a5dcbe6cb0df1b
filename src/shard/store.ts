/**
 * The shard store of one node: append-only, preallocated segment files holding sealed
 * fragments, and a bun:sqlite index that is the commit point. A put is acknowledged after its
 * bytes are fdatasynced and its index row committed; a crash at any instant leaves only
 * acknowledged shards visible (bytes past a segment's committed tail are reused on restart).
 */
import { randomBytes } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { closeSync, constants, mkdirSync, openSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { enospc, LibcError, tryLockExclusive } from "../../ffi/libc.ts";
import { assert } from "../util/assert.ts";
import { compactLiveFractionMax, compactSegment } from "./compaction.ts";
import { FragmentCounter } from "./fragment-counter.ts";
import { fragmentBytes, fragmentCountFor, objectIdBytesMax, shardIndexMax, storeIdBytes } from "./fragment-layout.ts";
import { GroupCommitter } from "./group-commit.ts";
import { deriveStoreKey, keyFingerprint } from "./keys.ts";
import { SegmentFiles } from "./segment-files.ts";
import type { ShardStorage } from "./shard-storage.ts";
import { type ByteRange, readExtent } from "./shard-read.ts";
import { type Extent, type IndexOp, ShardIndex } from "./shard-index.ts";
import { type ShardBody, writeExtent } from "./shard-write.ts";

export const segmentBytesMaxDefault = 4 * 1024 ** 3;
/** Above this fraction of capacity the store reports near-full. */
export const nearFullFraction = 0.9;
/** Below this much free space on the filesystem the store reports near-full. */
export const nearFullDiskAvailableBytes = 1024 ** 3;
const formatVersion = 1;

export class InsufficientStorageError extends Error {
  override name = "InsufficientStorageError";
}

export interface ShardStoreOptions {
  readonly dir: string;
  readonly masterKey: Uint8Array;
  readonly segmentBytesMax?: number;
  /** Total segment bytes this store may use; writes beyond it fail with InsufficientStorageError. */
  readonly capacityBytes?: number;
  /** Run the data fdatasync off the event loop (default) or inline through bun:ffi. */
  readonly syncOffLoop?: boolean;
  /** Randomness for the store id (injected for tests). */
  readonly random?: (n: number) => Uint8Array;
}

export interface ShardStoreStats {
  readonly segments: number;
  /** Segment bytes consumed by extents (live or dead) */
  readonly usedBytes: number;
  readonly liveBytes: number;
  readonly shards: number;
  readonly capacityBytes: number;
  readonly nearFull: boolean;
  /** Free bytes on the filesystem holding the segments (for unprivileged users). */
  readonly diskAvailableBytes: number;
  readonly commits: number;
}

interface SegmentState {
  /** Reserved end: past the committed tail while writes are in flight. */
  tailBytes: number;
  liveBytes: number;
  /** Writers and readers using the segment: it is never freed under them. */
  pins: number;
}

export class ShardStore implements ShardStorage {
  readonly storeId: Uint8Array;
  readonly keyFingerprint: string;
  private readonly index: ShardIndex;
  private readonly files: SegmentFiles;
  private readonly key: KeyObject;
  private readonly counter: FragmentCounter;
  private readonly committer: GroupCommitter;
  private readonly segments = new Map<number, SegmentState>();
  private readonly segmentBytesMax: number;
  private readonly capacityBytes: number;
  private active = 0;
  private closed = false;
  private readonly lockFd: number;
  private compacting = false;

  constructor(options: ShardStoreOptions) {
    this.segmentBytesMax = options.segmentBytesMax ?? segmentBytesMaxDefault;
    this.capacityBytes = options.capacityBytes ?? Number.POSITIVE_INFINITY;
    assert(this.segmentBytesMax >= fragmentBytes, `shard store: segmentBytesMax must be at least ${fragmentBytes}`);
    const segmentDir = join(options.dir, "segments");
    mkdirSync(segmentDir, { recursive: true });
    // One process per store: two would hand out the same extents. The lock dies with the process.
    this.lockFd = openSync(join(options.dir, "LOCK"), constants.O_RDWR | constants.O_CREAT, 0o600);
    if (tryLockExclusive(this.lockFd) === "busy") {
      closeSync(this.lockFd);
      throw new Error(`shard store ${options.dir} is in use by another process (LOCK is held)`);
    }
    this.index = new ShardIndex(join(options.dir, "index.sqlite"));
    this.files = new SegmentFiles(segmentDir, this.segmentBytesMax);
    this.keyFingerprint = keyFingerprint(options.masterKey);

    const storedId = this.index.getMeta("storeId");
    if (storedId === null) {
      this.storeId = new Uint8Array((options.random ?? randomBytes)(storeIdBytes));
      assert(this.storeId.length === storeIdBytes, "shard store: random source gave a short store id");
      this.index.setMetaAll([["storeId", this.storeId], ["keyFingerprint", this.keyFingerprint], ["formatVersion", formatVersion], ["counterHigh", 0]]);
    } else {
      this.storeId = new Uint8Array(storedId as Uint8Array);
      const version = Number(this.index.getMeta("formatVersion"));
      if (version !== formatVersion) {
        this.closeFiles();
        throw new Error(`shard store ${options.dir}: on-disk format ${version} is not the supported ${formatVersion}`);
      }
      const fp = this.index.getMeta("keyFingerprint");
      if (fp !== this.keyFingerprint) {
        this.closeFiles();
        throw new Error(`shard store ${options.dir}: master key fingerprint ${this.keyFingerprint} does not match the store's ${fp}`);
      }
    }
    this.key = deriveStoreKey(options.masterKey, this.storeId);
    this.counter = new FragmentCounter(Number(this.index.getMeta("counterHigh") ?? 0), (high) => this.index.setMeta("counterHigh", high));
    this.committer = new GroupCommitter(
      options.syncOffLoop === false ? (s) => this.files.datasync(s) : (s) => this.files.datasyncOffLoop(s),
      (ops) => this.apply(ops),
    );
    this.recover();
  }

  /** Drops segment files the index never committed (orphans), opens the rest. */
  private recover(): void {
    const rows = this.index.segments();
    const known = new Set(rows.map((r) => r.id));
    for (const id of this.files.listOnDisk()) if (!known.has(id)) this.files.remove(id);
    for (const r of rows) {
      this.files.open(r.id);
      this.segments.set(r.id, { tailBytes: r.tailBytes, liveBytes: r.liveBytes, pins: 0 });
      this.active = Math.max(this.active, r.id);
    }
    // A crash after compaction moved everything out but before the file was freed: free it now.
    for (const id of [...this.segments.keys()]) this.maybeFree(id);
  }

  /** Writes one shard and resolves once it is durable. `logicalBytes` is the exact body length. */
  async put(objectId: string, shardIndex: number, logicalBytes: number, body: ShardBody): Promise<void> {
    this.checkOpen();
    checkPlace(objectId, shardIndex);
    assert(Number.isSafeInteger(logicalBytes) && logicalBytes >= 0, `shard store: bad shard size ${logicalBytes}`);
    const fragments = fragmentCountFor(logicalBytes);
    const lengthBytes = fragments * fragmentBytes;
    const { segment, offsetBytes } = this.reserve(lengthBytes);
    const state = this.segments.get(segment)!;
    state.pins++;
    try {
      const counterBase = this.counter.reserve(fragments);
      await writeExtent(
        {
          key: this.key,
          storeId: this.storeId,
          objectId,
          shardIndex,
          logicalBytes,
          counterBase,
          write: (rel, bytes) => this.files.write(segment, offsetBytes + rel, bytes),
        },
        body,
      );
      const extent: Extent = { objectId, shardIndex, segment, offsetBytes, lengthBytes, logicalBytes, counterBase };
      await this.committer.submit([{ put: extent }], [segment]);
    } finally {
      state.pins--;
      this.maybeFree(segment);
    }
  }

  /** A stream of the shard's bytes (or a range of them); null when the shard is not stored. */
  get(objectId: string, shardIndex: number, range?: ByteRange): ReadableStream<Uint8Array> | null {
    this.checkOpen();
    checkPlace(objectId, shardIndex);
    const extent = this.index.get(objectId, shardIndex);
    if (!extent) return null;
    const state = this.segments.get(extent.segment);
    assert(state, `shard store: index points at unknown segment ${extent.segment}`);
    state.pins++;
    return readExtent(
      {
        key: this.key,
        storeId: this.storeId,
        extent,
        read: (rel, into) => this.files.read(extent.segment, extent.offsetBytes + rel, into),
        done: () => {
          state.pins--;
          this.maybeFree(extent.segment);
        },
      },
      range,
    );
  }

  /** The whole shard in memory (shards are bounded by the segment size): for tests and small shards. */
  async read(objectId: string, shardIndex: number, range?: ByteRange): Promise<Uint8Array | null> {
    const stream = this.get(objectId, shardIndex, range);
    return stream ? new Uint8Array(await new Response(stream).arrayBuffer()) : null;
  }

  /** Size of a stored shard, or null. */
  sizeOf(objectId: string, shardIndex: number): number | null {
    return this.index.get(objectId, shardIndex)?.logicalBytes ?? null;
  }

  /** Removes a shard durably; resolves false when it was not stored. */
  async delete(objectId: string, shardIndex: number): Promise<boolean> {
    this.checkOpen();
    checkPlace(objectId, shardIndex);
    if (!this.index.get(objectId, shardIndex)) return false;
    await this.committer.submit([{ del: { objectId, shardIndex } }], []);
    return true;
  }

  /**
   * Compacts every segment (except the active one) whose live fraction is under the threshold;
   * frees it once nothing points into it. One compaction runs at a time.
   */
  async compact(liveFractionMax = compactLiveFractionMax): Promise<{ segments: number; movedBytes: number }> {
    this.checkOpen();
    if (this.compacting) return { segments: 0, movedBytes: 0 };
    this.compacting = true;
    let segments = 0;
    let movedBytes = 0;
    try {
      const victims = [...this.segments.entries()].filter(
        ([id, s]) => id !== this.active && s.tailBytes > 0 && s.liveBytes < s.tailBytes * liveFractionMax,
      );
      for (const [id, state] of victims) {
        state.pins++;
        try {
          movedBytes += await compactSegment(
            {
              extentsIn: (seg) => this.index.extentsIn(seg),
              reserve: (lengthBytes, avoid) => {
                const r = this.reserve(lengthBytes, avoid, true);
                const target = this.segments.get(r.segment)!;
                target.pins++;
                return { ...r, release: () => (target.pins--, this.maybeFree(r.segment)) };
              },
              read: (seg, off, into) => this.files.read(seg, off, into),
              write: (seg, off, bytes) => this.files.write(seg, off, bytes),
              commit: (ops, segs) => this.committer.submit(ops, segs),
            },
            id,
          );
          segments++;
        } finally {
          state.pins--;
          this.maybeFree(id);
        }
      }
    } finally {
      this.compacting = false;
    }
    return { segments, movedBytes };
  }

  stats(): ShardStoreStats {
    const usedBytes = this.usedBytes();
    const diskAvailableBytes = this.diskAvailableBytes();
    let liveBytes = 0;
    for (const s of this.segments.values()) liveBytes += s.liveBytes;
    return {
      segments: this.segments.size,
      usedBytes,
      liveBytes,
      shards: this.index.extentCount(),
      capacityBytes: this.capacityBytes,
      nearFull: usedBytes >= this.capacityBytes * nearFullFraction || diskAvailableBytes < nearFullDiskAvailableBytes,
      diskAvailableBytes,
      commits: this.committer.commits,
    };
  }

  /** The next fragment counter this store would use (monotonic across restarts). */
  get nextFragmentCounter(): number {
    return this.counter.nextCounter;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeFiles();
  }

  private closeFiles(): void {
    this.files.close();
    this.index.close();
    closeSync(this.lockFd); // releases the lock
  }

  /**
   * Space for an extent in the active segment (a fresh one when it is full or is `avoid`).
   * Compaction may go past the capacity limit (not past the disk): what it copies is at most half
   * of the segment it then frees, and refusing it would leave a full store unable to recover.
   */
  private reserve(lengthBytes: number, avoid = 0, compaction = false): { segment: number; offsetBytes: number } {
    if (lengthBytes > this.segmentBytesMax) {
      throw new RangeError(`shard store: a shard of ${lengthBytes} bytes on disk exceeds the segment size ${this.segmentBytesMax}`);
    }
    let state = this.segments.get(this.active);
    const fresh = !state || state.tailBytes + lengthBytes > this.segmentBytesMax || this.active === avoid;
    const used = this.usedBytes() + (fresh && state ? this.segmentBytesMax - state.tailBytes : 0);
    if (!compaction && used + lengthBytes > this.capacityBytes) {
      throw new InsufficientStorageError(
        `shard store: full: ${used} of ${this.capacityBytes} bytes used, ${lengthBytes} more needed`,
      );
    }
    if (fresh) {
      this.active++;
      this.files.create(this.active); // file and directory entry durable before the row names it
      this.index.addSegment(this.active);
      state = { tailBytes: 0, liveBytes: 0, pins: 0 };
      this.segments.set(this.active, state);
    }
    const offsetBytes = state!.tailBytes;
    try {
      this.files.ensureAllocated(this.active, offsetBytes + lengthBytes);
    } catch (e) {
      if (e instanceof LibcError && e.errno === enospc) {
        throw new InsufficientStorageError(`shard store: disk full: cannot preallocate ${lengthBytes} bytes in ${this.files.dir}`);
      }
      throw e;
    }
    state!.tailBytes += lengthBytes;
    return { segment: this.active, offsetBytes };
  }

  private diskAvailableBytes(): number {
    const fs = statfsSync(this.files.dir);
    return fs.bavail * fs.bsize;
  }

  private usedBytes(): number {
    let used = 0;
    for (const s of this.segments.values()) used += s.tailBytes;
    return used;
  }

  private apply(ops: IndexOp[]): void {
    const { dead, live } = this.index.commit(ops);
    for (const e of live) this.segments.get(e.segment)!.liveBytes += e.lengthBytes;
    for (const d of dead) this.segments.get(d.segment)!.liveBytes -= d.lengthBytes;
    for (const d of dead) this.maybeFree(d.segment);
  }

  /** A segment that is not the active one, holds nothing live and is unused is deleted. */
  private maybeFree(segment: number): void {
    const s = this.segments.get(segment);
    if (!s || segment === this.active || s.liveBytes > 0 || s.pins > 0 || this.closed) return;
    this.index.dropSegment(segment); // the row goes first: a crash in between leaves an orphan file, collected on open
    this.files.remove(segment);
    this.segments.delete(segment);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error("shard store: closed");
  }
}

function checkPlace(objectId: string, shardIndex: number): void {
  const idBytes = Buffer.byteLength(objectId);
  if (idBytes < 1 || idBytes > objectIdBytesMax) throw new RangeError(`shard store: object id must be 1..${objectIdBytesMax} bytes`);
  if (!Number.isInteger(shardIndex) || shardIndex < 0 || shardIndex > shardIndexMax) {
    throw new RangeError(`shard store: shard index ${shardIndex} out of range 0..${shardIndexMax}`);
  }
}
