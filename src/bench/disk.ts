/**
 * The durable-disk ceiling: what the disk under a directory gives to a writer that fsyncs, with
 * the block size s3d writes (1 MiB), through the page cache and around it (O_DIRECT, as s3d
 * writes large blobs), and the rate of small synchronous writes (4 KiB + fdatasync) that bounds a
 * PUT path committing one write at a time.
 *
 * Beside it, what s3d's own storage path gives (`measureBlobStore`): blobs written at once by
 * its blob store, as concurrent uploads write them, with no HTTP and no hashing.
 */
import { closeSync, constants, fdatasyncSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { alignedBytes } from "../../ffi/aligned.ts";
import { BlobStore } from "../store/fs/blobs.ts";
import { directAlignmentBytes, directWritesWork } from "../store/fs/blob-sinks.ts";
import { round } from "./stats.ts";
import { mibBytes } from "../util/units.ts";

export interface DiskReport {
  dir: string;
  fileSizeBytes: number;
  blockBytes: number;
  files: number;
  /** sequential 1 MiB writes then fsync of file and directory, per file, averaged over all files */
  seqWriteFsyncMibPerSec: number;
  /** best single file */
  seqWriteFsyncMibPerSecMax: number;
  /** the same with O_DIRECT writes, in files taking turns with the others; undefined where the filesystem refuses O_DIRECT */
  seqWriteDirectMibPerSec?: number;
  seqWriteDirectMibPerSecMax?: number;
  /** the better of the two averages: the disk's durable sequential write bandwidth */
  seqWriteBestMibPerSec: number;
  /** 4 KiB write + fdatasync, one after another */
  smallSyncWritesPerSec: number;
  /** with `blobStreams`: that many blobs of `fileSizeBytes` written at once by s3d's blob store */
  blobStore?: BlobStoreReport;
}

export interface BlobStoreReport {
  streams: number;
  blobs: number;
  mibPerSec: number;
}

const blockBytes = mibBytes;
const smallBytes = 4096;

export function measureDisk(dir: string, fileSizeBytes: number, durationMs: number): DiskReport {
  const work = mkdtempSync(join(dir, "s3d-disk-ceiling-"));
  try {
    const block = alignedBytes(blockBytes, directAlignmentBytes);
    for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
    const ways = fileSizeBytes % directAlignmentBytes === 0 && directWritesWork(work) ? [false, true] : [false];
    const rates = new Map(ways.map((direct) => [direct, [] as number[]]));
    const seqDeadline = performance.now() + durationMs;
    // files take turns between the ways, so that both see the same disk even when its speed drifts
    for (let f = 0; f < 2 * ways.length || (performance.now() < seqDeadline && f < 100); f++) {
      const direct = ways[f % ways.length];
      const ms = writeFileDurably(join(work, `seq-${f}`), block, fileSizeBytes, direct);
      rates.get(direct)!.push(fileSizeBytes / mibBytes / (ms / 1000));
    }
    const mean = (r: number[] | undefined) => (r === undefined ? undefined : round(r.length / r.reduce((sum, x) => sum + 1 / x, 0), 1));
    const best = (r: number[] | undefined) => (r === undefined ? undefined : round(Math.max(...r), 1));
    const small = block.subarray(0, smallBytes);
    const fd = openSync(join(work, "small"), "w");
    let count = 0;
    const t0 = performance.now();
    const smallDeadline = t0 + Math.min(durationMs, 3000);
    while (performance.now() < smallDeadline) {
      writeSync(fd, small, 0, smallBytes);
      fdatasyncSync(fd);
      count++;
    }
    const smallMs = performance.now() - t0;
    closeSync(fd);
    const buffered = mean(rates.get(false))!;
    const direct = mean(rates.get(true));
    return {
      dir,
      fileSizeBytes,
      blockBytes,
      files: [...rates.values()].reduce((n, r) => n + r.length, 0),
      seqWriteFsyncMibPerSec: buffered,
      seqWriteFsyncMibPerSecMax: best(rates.get(false))!,
      seqWriteDirectMibPerSec: direct,
      seqWriteDirectMibPerSecMax: best(rates.get(true)),
      seqWriteBestMibPerSec: Math.max(buffered, direct ?? 0),
      smallSyncWritesPerSec: round(count / (smallMs / 1000), 0),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Body chunks of the blob-store measure: what a loopback upload hands s3d's sink at a time. */
const bodyChunkBytes = 64 * 1024;

/**
 * s3d's storage path alone: `streams` blobs of `sizeBytes` written at once by a BlobStore in a
 * temporary directory under `dir`, each made durable, then retired as an overwritten object's
 * blob is (so later ones are written over spares, as in a PUT cell that reuses its keys), until
 * `durationMs` has passed. The body is the same bytes each time, in 64 KiB chunks, never hashed.
 */
export async function measureBlobStore(dir: string, streams: number, sizeBytes: number, durationMs: number): Promise<BlobStoreReport> {
  const work = mkdtempSync(join(dir, "s3d-blob-ceiling-"));
  const store = new BlobStore(work);
  const source = new Uint8Array(sizeBytes);
  for (let i = 0; i < source.length; i++) source[i] = (i * 2654435761) >>> 24;
  const body = () => {
    let at = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= sizeBytes) return controller.close();
        controller.enqueue(source.subarray(at, (at += bodyChunkBytes)));
      },
    });
  };
  try {
    let blobs = 0;
    const t0 = performance.now();
    const deadline = t0 + durationMs;
    const writer = async () => {
      do {
        const id = store.newId();
        await store.write(id, body(), sizeBytes);
        store.remove([id]);
        blobs++;
      } while (performance.now() < deadline);
    };
    await Promise.all(Array.from({ length: streams }, writer));
    const seconds = (performance.now() - t0) / 1000;
    return { streams, blobs, mibPerSec: round((blobs * sizeBytes) / mibBytes / seconds, 1) };
  } finally {
    await store.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Writes a file of `fileSizeBytes` in `block`s, then fsyncs it and its directory; returns the milliseconds taken. */
function writeFileDurably(path: string, block: Uint8Array, fileSizeBytes: number, direct: boolean): number {
  const t0 = performance.now();
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (direct ? constants.O_DIRECT : 0), 0o600);
  for (let written = 0; written < fileSizeBytes; ) {
    const n = Math.min(block.length, fileSizeBytes - written);
    writeSync(fd, block, 0, n);
    written += n;
  }
  fsyncSync(fd);
  closeSync(fd);
  const dirFd = openSync(join(path, ".."), "r");
  fsyncSync(dirFd);
  closeSync(dirFd);
  const ms = performance.now() - t0;
  rmSync(path);
  return ms;
}
