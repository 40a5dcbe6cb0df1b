/** The process's own figures under the names Prometheus's client libraries give them (Linux: /proc). */
import { readdirSync, readFileSync } from "node:fs";
import { CounterOf, Gauge, type MetricFamily } from "./metrics.ts";

/** Descriptors open now; NaN where /proc cannot be read. */
function openFds(): number {
  try {
    // (the directory read holds one of its own)
    return readdirSync("/proc/self/fd").length - 1;
  } catch {
    return NaN;
  }
}

/** The process's soft limit of open files (RLIMIT_NOFILE), from /proc; 1024 where that cannot be read. */
export function openFilesLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) ? soft : 1024;
  } catch {
    return 1024;
  }
}

export function processMetrics(): MetricFamily[] {
  const startSeconds = Math.round(Date.now() - process.uptime() * 1000) / 1000;
  return [
    new CounterOf("process_cpu_seconds_total", "User and system CPU time the process has used, in seconds.", () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    }),
    new Gauge("process_resident_memory_bytes", "Resident memory of the process, in bytes.", () => process.memoryUsage().rss),
    new Gauge("process_start_time_seconds", "When the process started, in seconds since the Unix epoch.", () => startSeconds),
    new Gauge("process_open_fds", "File descriptors the process has open.", openFds),
    new Gauge("process_max_fds", "The process's limit of open file descriptors.", openFilesLimit),
  ];
}
