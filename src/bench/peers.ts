/**
 * Pure helpers of the side-by-side run (compare.ts): the figure each cell is judged by, whether
 * s3d is ahead of a peer on it, the CPU of a multi-process peer over a generator's measured
 * window, and how much RAM a memstore OSD needs for the cells.
 */
import { readFileSync } from "node:fs";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface CellShape {
  op: "put" | "get" | "multipart" | "list";
  sizeBytes: number;
  concurrency: number;
  objects: number;
  durationMs: number;
}

/** The subset of a generator report the verdicts read. */
export interface ReportFigures {
  opsPerSec: number;
  mibPerSec: number;
  errors: number;
  verified: boolean;
  extra: Record<string, number>;
}

/** The figure a cell is judged by: keys/s for LIST, MiB/s for 1 MiB and up, op/s below. */
export function headlineOf(cell: CellShape, r: ReportFigures): { value: number; unit: string } {
  if (cell.op === "list") return { value: r.extra.keysPerSec ?? 0, unit: "keys/s" };
  if (cell.op === "multipart" || cell.sizeBytes >= MiB) return { value: r.mibPerSec, unit: "MiB/s" };
  return { value: r.opsPerSec, unit: "op/s" };
}

export type Verdict =
  | { kind: "not-run" }
  | { kind: "s3d-failed" }
  | { kind: "peer-failed" }
  | { kind: "compared"; ahead: boolean; ratio: number };

/**
 * Is s3d ahead of the peer on this cell? A run with errors or failed verification does not count
 * as a figure: a failed s3d is never ahead, a failed peer is beaten by a clean s3d.
 * undefined: that target did not run the cell; null: it ran and produced no report.
 */
export function verdictOf(cell: CellShape, s3d: ReportFigures | null | undefined, peer: ReportFigures | null | undefined): Verdict {
  if (peer === undefined) return { kind: "not-run" };
  const clean = (r: ReportFigures | null | undefined): r is ReportFigures => r != null && r.errors === 0 && r.verified;
  if (!clean(s3d)) return { kind: "s3d-failed" };
  if (!clean(peer)) return { kind: "peer-failed" };
  const a = headlineOf(cell, s3d).value;
  const b = headlineOf(cell, peer).value;
  return { kind: "compared", ahead: a > b, ratio: b > 0 ? a / b : Number.POSITIVE_INFINITY };
}

export function verdictText(v: Verdict): string {
  switch (v.kind) {
    case "not-run":
      return "–";
    case "s3d-failed":
      return "**no** (s3d failed)";
    case "peer-failed":
      return "yes (peer failed)";
    case "compared": {
      const ratio = Number.isFinite(v.ratio) ? `${v.ratio.toFixed(2)}x` : "peer 0";
      return v.ahead ? `yes (${ratio})` : `**no** (${ratio})`;
    }
  }
}

/** s3d is ahead on this cell (a failed peer counts as beaten). */
export function isAhead(v: Verdict): boolean {
  return v.kind === "peer-failed" || (v.kind === "compared" && v.ahead);
}

export interface CpuSample {
  /** performance.now() of the reading */
  atMs: number;
  /** cumulative utime + stime in clock ticks, by process name */
  ticks: Record<string, number>;
}

/** Cumulative ticks of one process at time t, linearly between the samples around it. */
function ticksAt(samples: CpuSample[], name: string, t: number): number | undefined {
  const usable = samples.filter((s) => s.ticks[name] !== undefined);
  if (usable.length < 2 || t < usable[0].atMs || t > usable[usable.length - 1].atMs) return undefined;
  for (let i = 1; i < usable.length; i++) {
    const a = usable[i - 1];
    const b = usable[i];
    if (t <= b.atMs) {
      const span = b.atMs - a.atMs;
      const f = span > 0 ? (t - a.atMs) / span : 1;
      return a.ticks[name] + f * (b.ticks[name] - a.ticks[name]);
    }
  }
  return undefined;
}

/**
 * CPU of each sampled process over [startMs, endMs], as % of one core (clock ticks of 10 ms), and
 * their total; undefined when the samples do not cover the window.
 */
export function cpuOverWindow(samples: CpuSample[], startMs: number, endMs: number, tickMs = 10): { total: number; byProcess: Record<string, number> } | undefined {
  if (!(endMs > startMs) || samples.length === 0) return undefined;
  const byProcess: Record<string, number> = {};
  let total = 0;
  for (const name of Object.keys(samples[0].ticks)) {
    const a = ticksAt(samples, name, startMs);
    const b = ticksAt(samples, name, endMs);
    if (a === undefined || b === undefined) return undefined;
    const percent = Math.round((((b - a) * tickMs) / (endMs - startMs)) * 100);
    byProcess[name] = percent;
    total += percent;
  }
  return { total, byProcess };
}

/**
 * Where a generator's measured phase sat in this process's clock, from the spawn and exit times and
 * its report. The end is anchored on the exit (measured phase, then cleanup, then exit) except for
 * multipart, which reads its upload back between the two: there the start is anchored on the spawn
 * plus the process start-up seen in earlier cells (startupMs) plus the prepare phase.
 */
export function measuredWindow(
  op: CellShape["op"],
  spawnedAtMs: number,
  exitedAtMs: number,
  report: { prepareMs: number; durationMs: number; cleanupMs: number },
  startupMs: number,
): { startMs: number; endMs: number; startupMs: number | undefined } {
  if (op === "multipart") {
    const startMs = spawnedAtMs + startupMs + report.prepareMs;
    return { startMs, endMs: startMs + report.durationMs, startupMs: undefined };
  }
  const endMs = exitedAtMs - report.cleanupMs;
  const startMs = endMs - report.durationMs;
  return { startMs, endMs, startupMs: Math.max(0, startMs - report.prepareMs - spawnedAtMs) };
}

/** utime + stime of a process in clock ticks (USER_HZ = 100), or undefined when it is gone. */
export function procCpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/**
 * RAM for a memstore OSD that holds the cells' data. RGW keeps an object of up to 4 MiB in its head
 * (rewritten in place); larger objects' tails become garbage when overwritten or deleted, and its
 * collector (configured in rgw.ts) frees them some 5-15 s later. So: the largest set one cell keeps,
 * plus every large object the cells write (PUT at an assumed 512 MiB/s at most, the GET cells'
 * objects, the multipart uploads) as if none were collected yet, plus 2 GiB (the quick run's OSD
 * peaked at 2.7 GiB resident with 3 GiB), rounded up to whole GiB and bounded to 2-6 GiB (a full
 * memstore answers errors, which the tables show).
 */
export function memstoreBytesFor(cells: CellShape[]): number {
  const headMax = 4 * MiB;
  let live = 0;
  let garbage = 0;
  for (const c of cells) {
    live = Math.max(live, c.sizeBytes * (c.op === "multipart" ? 1 : c.objects));
    if (c.sizeBytes <= headMax) continue;
    const written = 512 * MiB * (c.durationMs / 1000);
    if (c.op === "put") garbage += written;
    else if (c.op === "get") garbage += c.sizeBytes * c.objects;
    else if (c.op === "multipart") garbage += Math.max(c.sizeBytes, written);
  }
  return Math.min(6 * GiB, Math.max(2 * GiB, Math.ceil((live + garbage + 2 * GiB) / GiB) * GiB));
}
