/** Structured logging: one JSON object a line on stderr, filtered by level. */
import { writeSync } from "node:fs";

export const logLevels = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof logLevels)[number];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(level: LogLevel, write: (line: string) => void = bufferedStderr()): Logger {
  const threshold = logLevels.indexOf(level);
  const emit = (lvl: LogLevel) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (logLevels.indexOf(lvl) < threshold) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }) + "\n");
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/**
 * Writes to stderr once per turn of the event loop instead of once per line (one write per
 * request was a tenth of a small GET's cost), and at once when the process exits.
 */
export function bufferedStderr(): (line: string) => void {
  let pending: string[] = [];
  const take = () => {
    const text = pending.join("");
    pending = [];
    return text;
  };
  process.on("exit", () => {
    if (pending.length > 0) writeSync(2, take());
  });
  return (line) => {
    if (pending.length === 0) setImmediate(() => process.stderr.write(take()));
    pending.push(line);
  };
}
