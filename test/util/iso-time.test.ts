import { expect, test } from "bun:test";
import { isoTimeMs } from "../../src/util/iso-time.ts";
import { fuzzIterations, fuzzRandom } from "../support/fuzz.ts";

test("dates and times in UTC unless an offset is named; fractions of a second", () => {
  expect(isoTimeMs("2026-12-06")).toBe(Date.UTC(2026, 11, 6));
  expect(isoTimeMs("2026-12-06T10:20")).toBe(Date.UTC(2026, 11, 6, 10, 20));
  expect(isoTimeMs("2026-12-06T10:20:30")).toBe(Date.UTC(2026, 11, 6, 10, 20, 30));
  expect(isoTimeMs("2026-12-06T10:20:30.250Z")).toBe(Date.UTC(2026, 11, 6, 10, 20, 30, 250));
  expect(isoTimeMs("2026-12-06T19:20:30+09:00")).toBe(Date.UTC(2026, 11, 6, 10, 20, 30));
  expect(isoTimeMs("2026-12-06T00:30:00-01:30")).toBe(Date.UTC(2026, 11, 6, 2, 0));
  expect(new Date(isoTimeMs("0099-01-01")).getUTCFullYear()).toBe(99);
});

test("what is not such a time is NaN: days that do not exist, hours past 23, text around it, other forms", () => {
  for (const text of ["2026-02-30", "2026-13-01", "2026-12-06T24:00", "2026-12-06T10:60", "2026-01-01 dec", " 2026-01-01", "2026-1-1", "20261206", "2026-12-06T10", "2026-12-06Z", "Sun, 06 Dec 2026 00:00:00 GMT", ""]) {
    expect([text, isoTimeMs(text)]).toEqual([text, NaN]);
  }
});

test("property: every instant written as ISO 8601 in UTC or with an offset reads back as itself", () => {
  const rand = fuzzRandom(5);
  const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, "0");
  for (let i = 0; i < fuzzIterations(2000); i++) {
    const ms = Math.floor(rand() * 8e12) * (rand() < 0.1 ? -1 : 1) + Date.UTC(2000, 0, 1);
    expect(isoTimeMs(new Date(ms).toISOString())).toBe(ms);
    const offsetMinutes = Math.floor(rand() * 1680) - 840;
    const local = new Date(ms + offsetMinutes * 60_000);
    const written = `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}.${pad(local.getUTCMilliseconds(), 3)}${offsetMinutes < 0 ? "-" : "+"}${pad(Math.trunc(offsetMinutes / 60))}:${pad(offsetMinutes % 60)}`;
    if (local.getUTCFullYear() < 0 || local.getUTCFullYear() > 9999) continue;
    expect([written, isoTimeMs(written)]).toEqual([written, ms]);
  }
});
