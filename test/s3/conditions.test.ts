import { expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { checkWrite, etagListMatches, evaluateRead, httpDateSeconds } from "../../src/s3/conditions.ts";
import { fuzzIterations, fuzzRandom } from "../support/fuzz.ts";

const v = { etag: "abc", lastModifiedMs: Date.parse("Wed, 01 Jan 2025 12:00:00 GMT") + 500 };
const before = "Tue, 31 Dec 2024 12:00:00 GMT";
const same = "Wed, 01 Jan 2025 12:00:00 GMT";
const after = "Thu, 02 Jan 2025 12:00:00 GMT";
const nowMs = Date.parse("2025-06-01T00:00:00Z");

function verdict(c: Parameters<typeof evaluateRead>[0]): string {
  try {
    return evaluateRead(c, v, nowMs);
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
  // so are numbers and partial dates, which Date.parse would take (If-Unmodified-Since: 0 was a 412)
  for (const notADate of ["0", "1", "-1", "2001", "Dec 2000", "2025-01-02T12:00:00Z", "Wed, 01 Jan 2025 12:00:00 +0000"]) {
    expect(verdict({ ifUnmodifiedSince: notADate })).toBe("ok");
    expect(verdict({ ifModifiedSince: notADate })).toBe("ok");
  }
  // an If-Modified-Since in the future is not valid: the object is served
  expect(verdict({ ifModifiedSince: "Fri, 01 Jan 2100 00:00:00 GMT" })).toBe("ok");
});

test("HTTP-dates: the three forms of RFC 9110, nothing else", () => {
  const seconds = Date.parse("1994-11-06T08:49:37Z") / 1000;
  expect(httpDateSeconds("Sun, 06 Nov 1994 08:49:37 GMT", nowMs)).toBe(seconds);
  expect(httpDateSeconds("Sunday, 06-Nov-94 08:49:37 GMT", nowMs)).toBe(seconds);
  expect(httpDateSeconds("Sun Nov  6 08:49:37 1994", nowMs)).toBe(seconds);
  // a two-digit year more than 50 years ahead is the century before
  expect(httpDateSeconds("Thursday, 01-Jan-26 00:00:00 GMT", nowMs)).toBe(Date.parse("2026-01-01T00:00:00Z") / 1000);
  expect(httpDateSeconds("Friday, 01-Jan-99 00:00:00 GMT", nowMs)).toBe(Date.parse("1999-01-01T00:00:00Z") / 1000);
  for (const bad of [
    undefined,
    "",
    "Sun, 6 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 UTC",
    "sun, 06 nov 1994 08:49:37 gmt",
    "Sun, 31 Feb 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 24:00:00 GMT",
    "Sun, 06 Nov 1994 08:60:37 GMT",
    " Sun, 06 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT x",
  ]) {
    expect(httpDateSeconds(bad, nowMs)).toBeUndefined();
  }
});

test("fuzz: an HTTP-date is parsed back to the second it was made from", () => {
  const rand = fuzzRandom(11);
  for (let i = 0; i < fuzzIterations(2000); i++) {
    const ms = Math.floor(rand() * Date.parse("2199-12-31T00:00:00Z"));
    expect(httpDateSeconds(new Date(ms).toUTCString(), nowMs)).toBe(Math.floor(ms / 1000));
  }
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
