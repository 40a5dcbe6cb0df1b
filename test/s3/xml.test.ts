import { expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { childList, childText, parseXmlBody, x, xmlDocument, xmlBodyBytesMax } from "../../src/s3/xml.ts";
import { fuzzIterations, fuzzRandom } from "../support/fuzz.ts";

test("the builder escapes text and attributes and nests fragments", () => {
  const doc = xmlDocument(x("Root", { xmlns: "a&b" }, x("Key", "<a> & 'b' \"c\""), [x("N", 1), null, x("T", true)]));
  expect(doc).toBe(`<?xml version="1.0" encoding="UTF-8"?>\n<Root xmlns="a&#38;b"><Key>&#60;a&#62; &#38; &#39;b&#39; &#34;c&#34;</Key><N>1</N><T>true</T></Root>`);
});

test("control characters are written as character references, as S3 writes them", () => {
  expect(x("Key", "a\u0001b\u001fc\td\ne").text).toBe("<Key>a&#1;b&#31;c\td\ne</Key>");
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

test("a lone boolean child is the element's text, false included; false among other children is left out", () => {
  expect(x("IsTruncated", false).text).toBe("<IsTruncated>false</IsTruncated>");
  expect(x("IsTruncated", true).text).toBe("<IsTruncated>true</IsTruncated>");
  expect(x("P", x("A", 1), false, null).text).toBe("<P><A>1</A></P>");
});

test("references to characters XML 1.0 forbids, entities it does not define, control characters and what the parser refuses are MalformedXML", () => {
  const bad = [
    "<Key>a&#0;b</Key>",
    "<Key>a&#1;b</Key>",
    "<Key>&#x1F;</Key>",
    "<Key>&#xD800;</Key>",
    "<Key>&#xFFFE;</Key>",
    "<Key>&#x110000;</Key>",
    "<Key>&#99999999999999999999;</Key>",
    "<Key>&nbsp;</Key>",
    "<Key>&copy;</Key>",
    "<Key>a & b</Key>",
    "<Key>a&amp b</Key>",
    "<Key>x\u0001y</Key>",
    "<Key>\uFFFF</Key>",
    "<Tagging><constructor/><TagSet/></Tagging>",
    "<Tagging><__proto__>x</__proto__></Tagging>",
    `<Tagging>${"<a>".repeat(200)}${"</a>".repeat(200)}</Tagging>`,
  ];
  for (const body of bad) {
    let code: string | undefined;
    try {
      parseXmlBody(body);
    } catch (e) {
      code = e instanceof S3Error ? e.code : String(e);
    }
    expect(`${body.slice(0, 40)}: ${code}`).toBe(`${body.slice(0, 40)}: MalformedXML`);
  }
});

test("the five entities, references to allowed characters (leading zeros, astral), CDATA and comments parse to their text", () => {
  const cases: [string, string][] = [
    ["<Key>&amp;&lt;&gt;&quot;&apos;</Key>", `&<>"'`],
    ["<Key>&#65;&#x42;&#0067;&#x1F600;&#9;&#10;&#13;</Key>", "ABC😀\t\n\r"],
    ["<Key><![CDATA[a & b < c]]></Key>", "a & b < c"],
    ["<Key>a<!-- & -->b</Key>", "ab"],
  ];
  for (const [body, text] of cases) expect(childText(parseXmlBody(body), "Key")).toBe(text);
});

test("fuzz: random mutations of a valid body only ever fail with MalformedXML", () => {
  const rand = fuzzRandom(11);
  const iterations = fuzzIterations(5000);
  const snippets = ["&#0;", "&#x", "&#65;", "&amp;", "&nbsp;", "<__proto__>", "<constructor/>", "<![CDATA[", "]]>", "<!--", "\uD800", "✓", "<a>".repeat(120)];
  const base = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"abc"</ETag></Part></CompleteMultipartUpload>`;
  for (let i = 0; i < iterations; i++) {
    const chars = [...base];
    for (let j = 0; j < 3; j++) {
      const at = Math.floor(rand() * chars.length);
      chars[at] = rand() < 0.8 ? String.fromCharCode(Math.floor(rand() * 128)) : snippets[Math.floor(rand() * snippets.length)];
    }
    try {
      const doc = parseXmlBody(chars.join(""));
      childList(doc.CompleteMultipartUpload, "Part");
    } catch (e) {
      expect(e instanceof S3Error ? e.code : String(e)).toBe("MalformedXML");
    }
  }
});
