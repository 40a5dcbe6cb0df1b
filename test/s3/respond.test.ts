import { describe, expect, test } from "bun:test";
import { isoTime } from "../../src/s3/respond.ts";

describe("isoTime", () => {
  test("is Date's toISOString for every millisecond, including runs within one second", () => {
    const edges = [0, 1, 999, 1000, -1, -999, -1000, -1001, 1.5, -1.5, 2.999, 253402300799999, 253402300800000, -62167219200001, 1e15];
    const random = Array.from({ length: 20000 }, () => Math.floor((Math.random() - 0.3) * 4e12));
    for (const ms of [...edges, ...random]) {
      // the same second twice and the next millisecond: the remembered second's path
      for (const m of [ms, ms, ms + 1, ms + 7]) expect(isoTime(m)).toBe(new Date(m).toISOString());
    }
  });

  test("throws on a time Date cannot write", () => {
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
    expect(() => isoTime(8.64e15 + 1)).toThrow(RangeError);
  });
});
