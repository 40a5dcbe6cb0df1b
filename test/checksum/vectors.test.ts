/** Known answers: the CRC catalogue check values, AWS SDK and CRT test vectors, NVMe spec values. */
import { describe, expect, test } from "bun:test";
import {
  type ChecksumAlgorithm,
  checksumAlgorithms,
  checksumBase64,
  checksumDigest,
  checksumDigestBytes,
  checksumHeader,
  isValidChecksumValue,
  parseChecksumAlgorithm,
} from "../../src/checksum/index.ts";
import { hex } from "./reference.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const hexOf = (a: ChecksumAlgorithm, data: Uint8Array) => hex(checksumDigest(a, data));

describe("check values for \"123456789\"", () => {
  const check = utf8("123456789");
  test.each([
    ["CRC32", "cbf43926"],
    ["CRC32C", "e3069283"],
    ["CRC64NVME", "ae8b14860a799888"],
    ["SHA1", "f7c3bc1d808e04732adf679965ccc34ca7ae3441"],
    ["SHA256", "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"],
  ] as [ChecksumAlgorithm, string][])("%s", (a, expected) => {
    expect(hexOf(a, check)).toBe(expected);
  });
});

// aws-sdk-js-v3 middleware-flexible-checksums integration test cases (header values as sent).
describe("AWS SDK header values", () => {
  const cases: [string, ChecksumAlgorithm, string][] = [
    ["", "CRC32", "AAAAAA=="],
    ["abc", "CRC32", "NSRBwg=="],
    ["Hello world", "CRC32", "i9aeUg=="],
    ["", "CRC32C", "AAAAAA=="],
    ["abc", "CRC32C", "Nks/tw=="],
    ["Hello world", "CRC32C", "crUfeA=="],
    ["", "CRC64NVME", "AAAAAAAAAAA="],
    ["abc", "CRC64NVME", "BeXKuz/B+us="],
    ["Hello world", "CRC64NVME", "OOJZ0D8xKts="],
    ["", "SHA1", "2jmj7l5rSw0yVb/vlWAYkK/YBwk="],
    ["abc", "SHA1", "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="],
    ["Hello world", "SHA1", "e1AsOh9IyGCa4hLN+2Od7jlnP14="],
    ["", "SHA256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],
    ["abc", "SHA256", "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="],
    ["Hello world", "SHA256", "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="],
  ];
  test.each(cases)("%p %s", (body, a, expected) => {
    expect(checksumBase64(a, utf8(body))).toBe(expected);
    expect(isValidChecksumValue(a, expected)).toBe(true);
  });
});

// aws-c-checksums / aws-crt test values, and the NVMe command set spec's CRC-64 examples.
describe("AWS CRT and NVMe spec values", () => {
  const zeros32 = new Uint8Array(32);
  const counting32 = Uint8Array.from({ length: 32 }, (_, i) => i);
  test.each([
    ["CRC32", zeros32, "190a55ad"],
    ["CRC32", utf8("Hello"), (4157704578).toString(16)],
    ["CRC32", utf8('{"foo":"base64 encoded sha1 checksum"}'), (1195144130).toString(16).padStart(8, "0")],
    ["CRC32C", utf8("Hello"), (2178485787).toString(16)],
    ["CRC32C", utf8('{"foo":"base64 encoded sha1 checksum"}'), (3565301023).toString(16)],
    ["CRC64NVME", zeros32, "cf3473434d4ecf3b"],
    ["CRC64NVME", counting32, "b9d9d4a8492cbd7f"],
    ["CRC64NVME", utf8("aaaaaaaaaa"), "0c1a80036d65c555"],
    ["CRC64NVME", new Uint8Array(4096), "6482d367eb22b64e"],
    ["CRC64NVME", new Uint8Array(4096).fill(0xff), "c0ddba7302eca3ac"],
  ] as [ChecksumAlgorithm, Uint8Array, string][])("%s of %#", (a, data, expected) => {
    expect(hexOf(a, data)).toBe(expected);
  });
});

describe("names and headers", () => {
  test("algorithm list, header names, digest sizes", () => {
    expect([...checksumAlgorithms]).toEqual(["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]);
    expect(checksumAlgorithms.map(checksumHeader)).toEqual([
      "x-amz-checksum-crc32",
      "x-amz-checksum-crc32c",
      "x-amz-checksum-crc64nvme",
      "x-amz-checksum-sha1",
      "x-amz-checksum-sha256",
    ]);
    expect(checksumAlgorithms.map(checksumDigestBytes)).toEqual([4, 4, 8, 20, 32]);
    for (const a of checksumAlgorithms) expect(checksumDigest(a, utf8("x")).length).toBe(checksumDigestBytes(a));
  });

  test("parseChecksumAlgorithm is case-insensitive and strict", () => {
    for (const a of checksumAlgorithms) {
      expect(parseChecksumAlgorithm(a)).toBe(a);
      expect(parseChecksumAlgorithm(a.toLowerCase())).toBe(a);
    }
    expect(parseChecksumAlgorithm("Crc64Nvme")).toBe("CRC64NVME");
    for (const bad of ["", "md5", "MD5", "crc64", "sha-256", " crc32", "crc32 ", "toString", "__proto__", "constructor"]) {
      expect(parseChecksumAlgorithm(bad)).toBeUndefined();
    }
  });
});

describe("isValidChecksumValue", () => {
  test("accepts every computed digest", () => {
    for (const a of checksumAlgorithms) {
      for (const s of ["", "a", "Hello world"]) expect(isValidChecksumValue(a, checksumBase64(a, utf8(s)))).toBe(true);
    }
  });

  test("rejects wrong lengths, missing padding, bad characters, non-canonical trailing bits", () => {
    const bad: [ChecksumAlgorithm, string][] = [
      ["CRC32", ""],
      ["CRC32", "AAAAAA="],
      ["CRC32", "AAAAAA"],
      ["CRC32", "AAAAAAAA"], // 6 bytes
      ["CRC32", "AAAAAAA="], // 5 bytes
      ["CRC32", "AAAAAB=="], // trailing bits set: decodes like AAAAAA==
      ["CRC32", "AAAA AA="],
      ["CRC32", "AAAA-_=="], // base64url alphabet
      ["CRC32", "i9aeUg==\n"],
      ["CRC32C", "AAAAAAAAAAA="], // a CRC64 value
      ["CRC64NVME", "AAAAAA=="],
      ["CRC64NVME", "AAAAAAAAAAB="],
      ["SHA1", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="], // a SHA-256 value
      ["SHA256", "2jmj7l5rSw0yVb/vlWAYkK/YBwk="],
      ["SHA256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"],
    ];
    for (const [a, v] of bad) expect([a, v, isValidChecksumValue(a, v)]).toEqual([a, v, false]);
  });
});
