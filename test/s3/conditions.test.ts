import { expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { checkWrite, etagListMatches, evaluateRead } from "../../src/s3/conditions.ts";
import { fuzzIterations, fuzzRandom } from "../support/fuzz.ts";

const v = { etag: "abc", lastModifiedMs: Date.parse("Wed, 01 Jan 2025 12:00:00 GMT") + 500 };
const before = "Tue, 31 Dec 2024 12:00:00 GMT";
const same = "Wed, 01 Jan 2025 12:00:00 GMT";
const after = "Thu, 02 Jan 2025 12:00:00 GMT";

function verdict(c: Parameters<typeof evaluateRead>[0]): string {
  try {
    return evaluateRead(c, v);
  } catch (e) {
    return (e as S3Error).code;
  }
}

test("ETag lists: quotes, weak tags, several values, *", () => {
  expect(etagListMatches('"abc"', "abc")).toBe(true);
  expect(etagListMatches('W/"abc"', "abc")).toBe(true);
  expect(etagListMatches('"x", "abc"', "abc")).toBe(true);
  expect(etagListMatches("*", "abc")).toBe(true);
  expect(etagListMatches('"abd"', "abc")).toBe(false);
});

test("S3's precedence for GET and HEAD", () => {
  expect(verdict({})).toBe("ok");
  expect(verdict({ ifMatch: '"abc"' })).toBe("ok");
  expect(verdict({ ifMatch: '"zzz"' })).toBe("PreconditionFailed");
  expect(verdict({ ifUnmodifiedSince: before })).toBe("PreconditionFailed");
  expect(verdict({ ifUnmodifiedSince: same })).toBe("ok"); // second granularity
  // If-Match true wins over If-Unmodified-Since false
  expect(verdict({ ifMatch: '"abc"', ifUnmodifiedSince: before })).toBe("ok");
  expect(verdict({ ifNoneMatch: '"abc"' })).toBe("not-modified");
  expect(verdict({ ifNoneMatch: '"zzz"' })).toBe("ok");
  expect(verdict({ ifModifiedSince: same })).toBe("not-modified");
  expect(verdict({ ifModifiedSince: before })).toBe("ok");
  // If-None-Match decides alone when present
  expect(verdict({ ifNoneMatch: '"zzz"', ifModifiedSince: after })).toBe("ok");
  expect(verdict({ ifNoneMatch: '"abc"', ifModifiedSince: before })).toBe("not-modified");
  // 412 before 304
  expect(verdict({ ifMatch: '"zzz"', ifNoneMatch: '"abc"' })).toBe("PreconditionFailed");
  // unparseable dates are ignored
  expect(verdict({ ifModifiedSince: "yesterday", ifUnmodifiedSince: "garbage" })).toBe("ok");
});

test("write conditions", () => {
  const code = (f: () => void) => {
    try {
      f();
      return "ok";
    } catch (e) {
      return (e as S3Error).code;
    }
  };
  expect(code(() => checkWrite({ ifNoneMatchAny: true }, undefined, "k"))).toBe("ok");
  expect(code(() => checkWrite({ ifNoneMatchAny: true }, "abc", "k"))).toBe("PreconditionFailed");
  expect(code(() => checkWrite({ ifMatch: '"abc"' }, "abc", "k"))).toBe("ok");
  expect(code(() => checkWrite({ ifMatch: '"abc"' }, "zzz", "k"))).toBe("PreconditionFailed");
  expect(code(() => checkWrite({ ifMatch: '"abc"' }, undefined, "k"))).toBe("NoSuchKey");
});

test("fuzz: conditional headers never throw anything but PreconditionFailed", () => {
  const rand = fuzzRandom(3);
  const iterations = fuzzIterations(5000);
  const pieces = ['"abc"', "*", "W/", ",", " ", '"', "abc", same, "garbage", "Mon, 99 Foo 2025"];
  const pick = () => (rand() < 0.3 ? undefined : Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pieces[Math.floor(rand() * pieces.length)]).join(""));
  for (let i = 0; i < iterations; i++) {
    const r = verdict({ ifMatch: pick(), ifNoneMatch: pick(), ifModifiedSince: pick(), ifUnmodifiedSince: pick() });
    expect(["ok", "not-modified", "PreconditionFailed"]).toContain(r);
  }
});
