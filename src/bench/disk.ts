/**
 * The durable-disk ceiling: what the disk under a directory gives to a writer that fsyncs, with
 * the block size s3d writes (1 MiB), and the rate of small synchronous writes (4 KiB + fdatasync)
 * that bounds a PUT path committing one write at a time.
 */
import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
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
  /** 4 KiB write + fdatasync, one after another */
  smallSyncWritesPerSec: number;
}

const blockBytes = mibBytes;
const smallBytes = 4096;

export function measureDisk(dir: string, fileSizeBytes: number, durationMs: number): DiskReport {
  const work = mkdtempSync(join(dir, "s3d-disk-ceiling-"));
  try {
    const block = new Uint8Array(blockBytes);
    for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
    const rates: number[] = [];
    const seqDeadline = performance.now() + durationMs;
    let totalBytes = 0;
    let totalMs = 0;
    for (let f = 0; f < 2 || (performance.now() < seqDeadline && f < 50); f++) {
      const path = join(work, `seq-${f}`);
      const t0 = performance.now();
      const fd = openSync(path, "w");
      for (let written = 0; written < fileSizeBytes; ) {
        const n = Math.min(blockBytes, fileSizeBytes - written);
        writeSync(fd, block, 0, n);
        written += n;
      }
      fsyncSync(fd);
      closeSync(fd);
      const dirFd = openSync(work, "r");
      fsyncSync(dirFd);
      closeSync(dirFd);
      const ms = performance.now() - t0;
      rates.push(fileSizeBytes / mibBytes / (ms / 1000));
      totalBytes += fileSizeBytes;
      totalMs += ms;
      rmSync(path);
    }
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
    return {
      dir,
      fileSizeBytes,
      blockBytes,
      files: rates.length,
      seqWriteFsyncMibPerSec: round(totalBytes / mibBytes / (totalMs / 1000), 1),
      seqWriteFsyncMibPerSecMax: round(Math.max(...rates), 1),
      smallSyncWritesPerSec: round(count / (smallMs / 1000), 0),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
