import { describe, expect, test } from "bun:test";
import { canonicalQuery, canonicalUri, uriEncode } from "../../src/sigv4/index.ts";
import { mulberry32, seedFromEnv, text } from "./prng.ts";

describe("uriEncode", () => {
  test.each([
    ["", ""],
    ["AZaz09-_.~", "AZaz09-_.~"],
    ["a b", "a%20b"],
    ["a+b=c", "a%2Bb%3Dc"],
    ["100%", "100%25"],
    ["%2F", "%252F"],
    ["!'()*", "%21%27%28%29%2A"],
    ["ü", "%C3%BC"],
    ["ሴ", "%E1%88%B4"],
    ["😀", "%F0%9F%98%80"],
    ["\u0000\u007f", "%00%7F"],
  ])("%j → %j", (input, encoded) => {
    expect(uriEncode(input, true)).toBe(encoded);
  });

  test("'/' kept only when encodeSlash is false", () => {
    expect(uriEncode("a/b c", true)).toBe("a%2Fb%20c");
    expect(uriEncode("a/b c", false)).toBe("a/b%20c");
    expect(uriEncode("a/b", false)).toBe("a/b");
  });

  test("a lone surrogate encodes as U+FFFD instead of throwing", () => {
    expect(uriEncode("a\ud800b", true)).toBe("a%EF%BF%BDb");
    expect(uriEncode("\udc00", false)).toBe("%EF%BF%BD");
  });
});

describe("canonicalUri", () => {
  test.each([
    ["", "/"],
    ["/", "/"],
    ["/bucket", "/bucket"],
    ["/bucket/key with space", "/bucket/key%20with%20space"],
    ["/bucket/a+b=c", "/bucket/a%2Bb%3Dc"],
    ["/bucket/100%/x", "/bucket/100%25/x"],
    ["/bucket/~user/file.txt", "/bucket/~user/file.txt"],
    ["/bucket/ü/中文", "/bucket/%C3%BC/%E4%B8%AD%E6%96%87"],
    ["/bucket//double//", "/bucket//double//"],
    ["/bucket/../x/./y", "/bucket/../x/./y"],
    ["/bucket/test$file.text", "/bucket/test%24file.text"],
    ["bucket/key", "/bucket/key"],
  ])("%j → %j", (path, uri) => {
    expect(canonicalUri(path)).toBe(uri);
  });

  test("property: segments decode back, only unreserved, '/' and %XX appear", () => {
    const seed = seedFromEnv(0x5147);
    const rng = mulberry32(seed);
    for (let i = 0; i < 2000; i++) {
      const path = "/" + text(rng, 40, ["/", "//", "..", "."]);
      const uri = canonicalUri(path);
      const context = `seed ${seed}, case ${i}, path ${JSON.stringify(path)}`;
      expect(uri, context).toMatch(/^(?:[A-Za-z0-9\-_.~/]|%[0-9A-F]{2})*$/);
      const decoded = uri.split("/").map((segment) => decodeURIComponent(segment));
      expect(decoded, context).toEqual(path.split("/"));
    }
  });
});

describe("canonicalQuery", () => {
  test("encodes names and values, '/' included, sorts by encoded name then value", () => {
    expect(
      canonicalQuery([
        ["prefix", "a/b c"],
        ["list-type", "2"],
        ["a", "z"],
        ["a", "+"],
        ["uploads", ""],
        ["B", "1"],
      ]),
    ).toBe("B=1&a=%2B&a=z&list-type=2&prefix=a%2Fb%20c&uploads=");
  });

  test("sorting is on the encoded form, byte order", () => {
    // "~" (0x7E) sorts after "%" (0x25), though "~" < "ü" before encoding.
    expect(canonicalQuery([["~", "1"], ["ü", "2"]])).toBe("%C3%BC=2&~=1");
  });

  test("empty", () => {
    expect(canonicalQuery([])).toBe("");
  });
});
