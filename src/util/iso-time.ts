/**
 * W3C ISO 8601 times, read strictly: a date ("2026-12-06"), or a date and time with seconds and
 * fraction optional, in UTC unless it names an offset ("Z", "+09:00"). Date.parse is no substitute:
 * it rolls 30 February into March, reads "2026-01-01 dec" as December, reads a time without a
 * zone in the server's own, and the years 0 to 99 as 1900 to 1999. Pure.
 */

/** Milliseconds since the epoch; NaN when `text` is not such a time. */
export function isoTimeMs(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(text);
  if (!m) return NaN;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4] ?? "0", m[5] ?? "0", m[6] ?? "0"].map(Number);
  if (hour > 23 || minute > 59 || second > 59) return NaN;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return NaN;
  // (milliseconds from the fraction's first three digits, as digits: 0.289 * 1000 is not 289 in floating point)
  date.setUTCHours(hour, minute, second, Number((m[7] ?? "").padEnd(3, "0").slice(0, 3)));
  const zone = m[8];
  const offsetMs = zone === undefined || zone === "Z" ? 0 : (zone[0] === "-" ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4))) * 60_000;
  return date.getTime() - offsetMs;
}
