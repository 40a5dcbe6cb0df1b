import { expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { childList, childText, parseXmlBody, x, xmlDocument, xmlBodyBytesMax } from "../../src/s3/xml.ts";
import { fuzzIterations, fuzzRandom } from "../support/fuzz.ts";

test("the builder escapes text and attributes and nests fragments", () => {
  const doc = xmlDocument(x("Root", { xmlns: "a&b" }, x("Key", "<a> & 'b' \"c\""), [x("N", 1), null, x("T", true)]));
  expect(doc).toBe(`<?xml version="1.0" encoding="UTF-8"?>\n<Root xmlns="a&#38;b"><Key>&#60;a&#62; &#38; &#39;b&#39; &#34;c&#34;</Key><N>1</N><T>true</T></Root>`);
});

test("built XML parses back to the same text (round trip of awkward keys)", () => {
  for (const key of ["a&b", "<tag>", "x\ry", "  spaced  ", "0123", "ü/✓", "]]>"]) {
    const parsed = parseXmlBody(xmlDocument(x("Delete", x("Object", x("Key", key)))));
    expect(childText(childList(parsed.Delete, "Object")[0], "Key")).toBe(key);
  }
});

test("malformed, empty, DTD-bearing and oversized bodies are MalformedXML", () => {
  const bad = ["", "<a>", "<a></b>", "not xml", `<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`, `<a>${"x".repeat(xmlBodyBytesMax)}</a>`];
  for (const body of bad) {
    try {
      parseXmlBody(body);
      throw new Error(`accepted: ${body.slice(0, 40)}`);
    } catch (e) {
      expect(e).toBeInstanceOf(S3Error);
      expect((e as S3Error).code).toBe("MalformedXML");
    }
  }
});

test("fuzz: random mutations of a valid body only ever fail with MalformedXML", () => {
  const rand = fuzzRandom(11);
  const iterations = fuzzIterations(5000);
  const base = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"abc"</ETag></Part></CompleteMultipartUpload>`;
  for (let i = 0; i < iterations; i++) {
    const chars = [...base];
    for (let j = 0; j < 3; j++) chars[Math.floor(rand() * chars.length)] = String.fromCharCode(Math.floor(rand() * 128));
    try {
      const doc = parseXmlBody(chars.join(""));
      childList(doc.CompleteMultipartUpload, "Part");
    } catch (e) {
      expect(e).toBeInstanceOf(S3Error);
    }
  }
});
