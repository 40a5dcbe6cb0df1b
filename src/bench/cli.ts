/** `s3d bench ...`: the load generator, the null server and the disk ceiling behind one command. */
import { parseBenchArgs, usage, UsageError, type RunOptions } from "./args.ts";
import { measureBlobStore, measureDisk } from "./disk.ts";
import { startNullServer } from "./null-server.ts";
import { runBench, type Progress, type RunReport } from "./run.ts";
import { formatSize, mibBytes } from "../util/units.ts";

export async function benchMain(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`s3d bench: ${error.message}\n\n${usage}`);
    return 2;
  }
  if (options.mode === "help") {
    process.stdout.write(usage);
    return 0;
  }
  if (options.mode === "disk-ceiling") {
    const report = measureDisk(options.dir, options.sizeBytes, options.durationMs);
    if (options.blobStreams > 0) report.blobStore = await measureBlobStore(options.dir, options.blobStreams, options.sizeBytes, options.durationMs);
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      process.stdout.write(
        `disk ${report.dir}: sequential ${formatSize(report.fileSizeBytes)} in ${formatSize(report.blockBytes)} writes + fsync: ` +
          `${report.seqWriteFsyncMibPerSec} MiB/s (best ${report.seqWriteFsyncMibPerSecMax}), ` +
          `with O_DIRECT ${report.seqWriteDirectMibPerSec === undefined ? "refused here" : `${report.seqWriteDirectMibPerSec} MiB/s (best ${report.seqWriteDirectMibPerSecMax})`}, ${report.files} files; ` +
          `4KiB write + fdatasync: ${report.smallSyncWritesPerSec}/s` +
          (report.blobStore ? `; ${report.blobStore.streams} blobs at once through s3d's blob store: ${report.blobStore.mibPerSec} MiB/s` : "") +
          "\n",
      );
    }
    return 0;
  }
  if (options.mode === "null-server") {
    const server = await startNullServer(options);
    // The bench script reads this line to learn the port.
    process.stdout.write(`null server (${options.engine}${options.hash ? ", hashing uploads" : ""}) listening on ${server.url}\n`);
    await new Promise<void>((done) => {
      process.once("SIGINT", done);
      process.once("SIGTERM", done);
    });
    await server.close();
    return 0;
  }
  return await load(options);
}

async function load(options: RunOptions): Promise<number> {
  const tty = process.stderr.isTTY === true;
  const progress = tty
    ? (p: Progress) => {
        const s = p.elapsedMs / 1000;
        const line = `${p.phase} ${formatSize(options.sizeBytes)} c=${options.concurrency}  ${s.toFixed(1)}s  ` +
          `${p.ops} ops  ${(p.ops / Math.max(s, 0.001)).toFixed(0)} ops/s  ${(p.bytes / mibBytes / Math.max(s, 0.001)).toFixed(1)} MiB/s  errors ${p.errors}`;
        process.stderr.write(`\r\x1b[2K${line}`);
      }
    : undefined;
  let report: RunReport;
  try {
    report = await runBench(options, progress);
  } catch (error) {
    if (tty) process.stderr.write("\r\x1b[2K");
    const code = (error as { code?: string }).code;
    process.stderr.write(`s3d bench: the run could not start or finish: ${code ? `${code}: ` : ""}${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  if (tty) process.stderr.write("\r\x1b[2K");
  if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else process.stdout.write(formatReport(report));
  if (!report.verified) {
    process.stderr.write("s3d bench: VERIFICATION FAILED: the server returned data that differs from what was written\n");
    return 1;
  }
  return report.errors === 0 ? 0 : 1;
}

export function formatReport(r: RunReport): string {
  const lines = [
    `${r.op} ${formatSize(r.sizeBytes)} x ${r.objects} objects, concurrency ${r.concurrency}, ${(r.durationMs / 1000).toFixed(1)} s, client ${r.client}, payload ${r.payload}${r.sseC ? ", SSE-C" : ""}`,
    `  ${r.ops} ops   ${r.opsPerSec} ops/s   ${r.mibPerSec} MiB/s`,
    `  latency ms: p50 ${r.latency.p50Ms}  p90 ${r.latency.p90Ms}  p99 ${r.latency.p99Ms}  max ${r.latency.maxMs}`,
    `  generator CPU ${r.clientCpuPercent}% of a core${r.serverCpuPercent === undefined ? "" : `, server CPU ${r.serverCpuPercent}%`}`,
  ];
  if (Object.keys(r.extra).length > 0) lines.push(`  ${Object.entries(r.extra).map(([k, v]) => `${k} ${v}`).join("  ")}`);
  lines.push(`  errors ${r.errors}${r.errors > 0 ? `: ${Object.entries(r.errorsByCode).map(([k, v]) => `${k} ${v}`).join(", ")}` : ""}`);
  for (const example of r.errorExamples) lines.push(`    ${example}`);
  lines.push(`  verified: ${r.verified ? "yes" : "NO"}`);
  return `${lines.join("\n")}\n`;
}

if (import.meta.main) {
  benchMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`s3d bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
