/**
 * Compaction: a segment whose live fraction fell under a threshold has its live extents copied
 * verbatim to the active segment (fragments are bound to object, shard, fragment number and
 * counter, never to a position, so they stay valid), then the index is repointed in one commit
 * per batch, each move conditional on the row still pointing at the old copy. The old file is
 * freed only after no row points into it. A crash at any point leaves either the old or the new
 * copy indexed; an uncommitted copy is bytes past the committed tail, reused on restart.
 */
import type { Extent, IndexOp } from "./shard-index.ts";

/** Segments with less than this fraction of their used bytes live are compacted. */
export const compactLiveFractionMax = 0.5;
/** Bytes copied per read/write syscall pair (a whole number of fragments is not needed: extents are copied raw). */
export const compactCopyBatchBytes = 1024 * 1024;
/** Bytes moved per index commit: one fdatasync + one transaction per batch. */
export const compactCommitBatchBytes = 32 * 1024 * 1024;

export interface CompactionContext {
  extentsIn(segment: number): Extent[];
  /** Reserves space in the active segment (never `avoid`) and pins it until release. */
  reserve(lengthBytes: number, avoid: number): { segment: number; offsetBytes: number; release(): void };
  read(segment: number, offsetBytes: number, into: Uint8Array): Promise<void>;
  write(segment: number, offsetBytes: number, bytes: Uint8Array): Promise<void>;
  commit(ops: IndexOp[], segments: number[]): Promise<void>;
}

/** Moves every live extent out of `segment`; returns the bytes copied. */
export async function compactSegment(ctx: CompactionContext, segment: number): Promise<number> {
  const buf = new Uint8Array(compactCopyBatchBytes);
  let moved = 0;
  let ops: IndexOp[] = [];
  let targets = new Set<number>();
  let releases: (() => void)[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (ops.length === 0) return;
    const [batch, segs, rel] = [ops, [...targets], releases];
    ops = [];
    targets = new Set();
    releases = [];
    pendingBytes = 0;
    try {
      await ctx.commit(batch, segs);
    } finally {
      for (const r of rel) r();
    }
  };
  for (const from of ctx.extentsIn(segment)) {
    const to = ctx.reserve(from.lengthBytes, segment);
    releases.push(to.release);
    for (let done = 0; done < from.lengthBytes; done += buf.length) {
      const part = buf.subarray(0, Math.min(buf.length, from.lengthBytes - done));
      await ctx.read(segment, from.offsetBytes + done, part);
      await ctx.write(to.segment, to.offsetBytes + done, part);
    }
    ops.push({ move: { from, to: { ...from, segment: to.segment, offsetBytes: to.offsetBytes } } });
    targets.add(to.segment);
    moved += from.lengthBytes;
    pendingBytes += from.lengthBytes;
    if (pendingBytes >= compactCommitBatchBytes) await flush();
  }
  await flush();
  return moved;
}
