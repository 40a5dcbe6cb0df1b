import { expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { contentRange, resolveRange } from "../../src/s3/range.ts";
import { fuzzIterations, fuzzRandom } from "../support/fuzz.ts";

test("the three forms of a byte range", () => {
  expect(resolveRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
  expect(resolveRange("bytes=90-", 100)).toEqual({ start: 90, end: 99 });
  expect(resolveRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
  expect(resolveRange("bytes=-1000", 100)).toEqual({ start: 0, end: 99 });
  expect(resolveRange("bytes=50-1000", 100)).toEqual({ start: 50, end: 99 });
  expect(resolveRange("bytes=99-99", 100)).toEqual({ start: 99, end: 99 });
  // positions past any safe integer still compare exactly
  expect(resolveRange("bytes=0-99999999999999999999", 100)).toEqual({ start: 0, end: 99 });
  expect(resolveRange("bytes=-99999999999999999999", 100)).toEqual({ start: 0, end: 99 });
  expect(contentRange({ start: 90, end: 99 }, 100)).toBe("bytes 90-99/100");
});

test("headers S3 ignores: absent, other units, malformed, several ranges, backwards", () => {
  for (const h of [null, "", "bytes=", "bytes=-", "items=0-1", "bytes=a-b", "bytes=0-1,3-4", "bytes=5-1", "bytes 0-1", "bytes=99999999999999999999-99999999999999999998"]) {
    expect(resolveRange(h, 100)).toBeUndefined();
  }
});

test("unsatisfiable ranges are InvalidRange (416)", () => {
  for (const [h, size] of [["bytes=100-", 100], ["bytes=100-200", 100], ["bytes=-0", 100], ["bytes=0-0", 0], ["bytes=-5", 0], ["bytes=99999999999999999999-", 100], ["bytes=99999999999999999999-99999999999999999999", 100]] as const) {
    try {
      resolveRange(h, size);
      throw new Error(`${h} on ${size} bytes was accepted`);
    } catch (e) {
      expect(e).toBeInstanceOf(S3Error);
      expect((e as S3Error).code).toBe("InvalidRange");
      expect((e as S3Error).httpStatus).toBe(416);
    }
  }
});

test("property: any accepted range lies within the object; fuzzed headers never throw anything but InvalidRange", () => {
  const rand = fuzzRandom(7);
  const iterations = fuzzIterations(20_000);
  const pieces = ["bytes", "=", "-", "0", "1", "9", "12", " ", ",", "x", "99999999999999999999"];
  for (let i = 0; i < iterations; i++) {
    let h = "";
    const n = Math.floor(rand() * 6);
    for (let j = 0; j < n; j++) h += pieces[Math.floor(rand() * pieces.length)];
    const size = Math.floor(rand() * 50);
    try {
      const r = resolveRange(h, size);
      if (r) {
        expect(r.start).toBeGreaterThanOrEqual(0);
        expect(r.end).toBeGreaterThanOrEqual(r.start);
        expect(r.end).toBeLessThan(size);
      }
    } catch (e) {
      expect((e as S3Error).code).toBe("InvalidRange");
    }
  }
});
