/** RFC 2047 encoded words in x-amz-meta-* values: decoded when stored, used when a value is not ASCII. */
import { describe, expect, test } from "bun:test";
import { decodeEncodedWords, encodeForHeader } from "../../src/s3/encoded-words.ts";
import { fuzzIterations, fuzzRandom } from "../support/fuzz.ts";

describe("decodeEncodedWords", () => {
  test("B and Q words in UTF-8 and ISO-8859-1, in any case; text around them kept", () => {
    expect(decodeEncodedWords("=?UTF-8?B?aGVsbG8=?=")).toBe("hello");
    expect(decodeEncodedWords("=?utf-8?q?caf=C3=A9?=")).toBe("café");
    expect(decodeEncodedWords("=?ISO-8859-1?Q?caf=E9_cr=E8me?=")).toBe("café crème");
    expect(decodeEncodedWords("before =?UTF-8?B?4piD?= after")).toBe("before ☃ after");
    expect(decodeEncodedWords("=?UTF-8*en?Q?a?=")).toBe("a");
    // a leading U+FEFF is text, not a byte-order mark to drop
    expect(decodeEncodedWords("=?UTF-8?B?77u/?=")).toBe("\ufeff");
  });

  test("whitespace between two words is dropped, elsewhere kept", () => {
    expect(decodeEncodedWords("=?UTF-8?Q?a?= \t =?UTF-8?Q?b?=")).toBe("ab");
    expect(decodeEncodedWords("=?UTF-8?Q?a?= x =?UTF-8?Q?b?=")).toBe("a x b");
  });

  test("what is not a well-formed word in a known charset stays as it was", () => {
    for (const value of ["=?UTF-8?B?not base64!?=", "=?UTF-8?Q?bad=ZZ?=", "=?KOI8-R?Q?a?=", "=?UTF-8?X?a?=", "=?UTF-8?B?/w==?=", "a=?b", "plain", "=??="]) {
      expect(decodeEncodedWords(value)).toBe(value);
    }
  });
});

describe("encodeForHeader", () => {
  test("printable ASCII is sent as it is; anything else as one UTF-8 B word, as S3 answers", () => {
    expect(encodeForHeader("plain value\twith tab")).toBe("plain value\twith tab");
    expect(encodeForHeader("")).toBe("");
    // é as one ISO-8859-1 byte on the wire
    expect(encodeForHeader("é")).toBe("=?UTF-8?B?w6k=?=");
    // ö sent as raw UTF-8 (c3 b6) reaches s3d as two characters: S3 answers =?UTF-8?B?w4PCtg==?=
    expect(encodeForHeader("\u00c3\u00b6")).toBe("=?UTF-8?B?w4PCtg==?=");
    expect(encodeForHeader("line\nbreak")).toBe("=?UTF-8?B?bGluZQpicmVhaw==?=");
    // whitespace at either end, which HTTP would trim away
    expect(encodeForHeader(" a ")).toBe("=?UTF-8?B?IGEg?=");
  });

  test("property: whatever is stored comes back through a client that decodes the word", () => {
    const random = fuzzRandom(2047);
    const alphabet = ["a", " ", "=", "?", "_", "\t", "\n", "\x7f", "é", "ÿ", "☃", "𝄞", "=?", "?="];
    for (let i = 0; i < fuzzIterations(2000); i++) {
      let value = "";
      const length = Math.floor(random() * 12);
      for (let j = 0; j < length; j++) value += alphabet[Math.floor(random() * alphabet.length)];
      const sent = encodeForHeader(value);
      expect(sent).toMatch(/^[\x20-\x7e\t]*$/);
      if (sent !== value) expect(decodeEncodedWords(sent)).toBe(value);
    }
  });
});
