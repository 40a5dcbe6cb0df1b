/**
 * XML for the S3 face: a tiny hyperscript-style builder for responses, and a guarded
 * fast-xml-parser front for request bodies (size-limited, no DTDs, values kept as strings).
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { S3Error } from "../errors.ts";

export const s3Xmlns = "http://s3.amazonaws.com/doc/2006-03-01/";
/** Largest request XML body accepted: a DeleteObjects of 1000 keys of 1024 bytes, with room. */
export const xmlBodyBytesMax = 2 * 1024 * 1024;

/** A built XML fragment: already escaped, safe to nest. */
export class Xml {
  constructor(readonly text: string) {}
}

type Child = Xml | string | number | bigint | boolean | null | undefined | Child[];

const needsEscape = /[&<>"'\r\x00-\x08\x0B\x0C\x0E-\x1F]/;
const escapeEach = new RegExp(needsEscape.source, "g");

/**
 * Text for an element or attribute. Control characters go out as character references, as S3
 * writes them: XML 1.0 has no way to carry them, and a raw one breaks the whole document, where a
 * reference fails only strict parsers (encoding-type=url is the way for such keys).
 */
export function escapeXml(s: string): string {
  // Most names and values have nothing to escape: test once instead of replacing.
  return needsEscape.test(s) ? s.replace(escapeEach, (c) => `&#${c.charCodeAt(0)};`) : s;
}

function render(child: Child, out: string[]): void {
  if (child === null || child === undefined || child === false) return;
  if (child instanceof Xml) out.push(child.text);
  else if (Array.isArray(child)) for (const c of child) render(c, out);
  else out.push(escapeXml(String(child)));
}

/**
 * x("Key", "a&b") → <Key>a&amp;b</Key>; attributes as a leading plain object. A lone value child
 * (text, number or boolean) is the element's text, `false` included; among other children `false`,
 * null and undefined are left out, for children that are there only on a condition.
 */
export function x(name: string, ...children: Child[]): Xml;
export function x(name: string, attrs: Record<string, string>, ...children: Child[]): Xml;
export function x(name: string, ...rest: unknown[]): Xml {
  let attrs = "";
  const first = rest[0];
  // The common leaf: one text, number or boolean child (a listing builds six of these per key).
  if (rest.length === 1 && (typeof first === "string" || typeof first === "number" || typeof first === "boolean")) {
    return new Xml(`<${name}>${escapeXml(String(first))}</${name}>`);
  }
  if (first !== null && typeof first === "object" && !(first instanceof Xml) && !Array.isArray(first)) {
    for (const [k, v] of Object.entries(first as Record<string, string>)) attrs += ` ${k}="${escapeXml(v)}"`;
    rest = rest.slice(1);
  }
  const out: string[] = [];
  render(rest as Child[], out);
  return new Xml(`<${name}${attrs}>${out.join("")}</${name}>`);
}

export function xmlDocument(root: Xml): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root.text}`;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  // decodes numeric character references; named ones beyond XML's five never get here (charactersWellFormed)
  htmlEntities: true,
  ignoreDeclaration: true,
  removeNSPrefix: true,
});

/** S3's answer to a request body that is not the XML document the operation expects. */
export function malformedXml(): S3Error {
  return new S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.");
}

export type XmlNode = string | { [name: string]: XmlNode | XmlNode[] };

/** Characters XML 1.0 allows nowhere in a document, not even written as a character reference. */
const illegalChar = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Sections where "&" is plain text: CDATA, comments and processing instructions. */
const literalSections = /<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
/** Every "&" outside those sections, with the reference it starts if it is one XML 1.0 defines. */
const ampersand = /&(?:#([0-9]+);|#x([0-9a-fA-F]+);|(?:amp|lt|gt|quot|apos);)?/g;

/** Whether a character reference names a character XML 1.0 allows (so `&#0;` and `&#xD800;` do not). */
function isXmlChar(codePoint: number): boolean {
  if (codePoint < 0x20) return codePoint === 0x9 || codePoint === 0xa || codePoint === 0xd;
  return codePoint <= 0xd7ff || (codePoint >= 0xe000 && codePoint <= 0xfffd) || (codePoint >= 0x10000 && codePoint <= 0x10ffff);
}

/**
 * Whether the body's characters and references are those of well-formed XML 1.0: no control
 * characters, and no "&" but the five predefined entities and references to allowed characters.
 * The parser alone is lenient there: it dropped `&#0;`, so `<Key>a&#0;b</Key>` named the key "ab".
 */
function charactersWellFormed(text: string): boolean {
  if (illegalChar.test(text)) return false;
  for (const m of text.replace(literalSections, "").matchAll(ampersand)) {
    if (m[0] === "&") return false;
    const digits = m[1] ?? m[2];
    if (digits !== undefined && !isXmlChar(Number.parseInt(digits, m[1] !== undefined ? 10 : 16))) return false;
  }
  return true;
}

/**
 * Parses a request body; anything that is not well-formed, too large or uses a DTD is MalformedXML,
 * and so is what the parser itself refuses (an element named `__proto__`, nesting too deep).
 */
export function parseXmlBody(text: string): Record<string, XmlNode> {
  if (Buffer.byteLength(text) > xmlBodyBytesMax) {
    throw new S3Error("MalformedXML", "The XML you provided was larger than the maximum allowed size.");
  }
  if (/<!DOCTYPE|<!ENTITY/i.test(text) || text.trim() === "" || !charactersWellFormed(text) || XMLValidator.validate(text) !== true) throw malformedXml();
  try {
    return parser.parse(text) as Record<string, XmlNode>;
  } catch {
    throw malformedXml();
  }
}

/** Children named `name` of an element, as an array whatever their count. */
export function childList(node: XmlNode | undefined, name: string): XmlNode[] {
  if (node === undefined || typeof node === "string") return [];
  const v = node[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** The single child `name`, or undefined when there is none: more than one is malformed. */
export function single(node: XmlNode | undefined, name: string): XmlNode | undefined {
  const list = childList(node, name);
  if (list.length > 1) throw malformedXml();
  return list[0];
}

/** Names of the child elements of an element; text beside them may only be whitespace (a document's indentation). */
export function childNames(node: XmlNode | undefined): string[] {
  if (node === undefined || typeof node === "string") return [];
  const text = node["#text"];
  if (text !== undefined && (typeof text !== "string" || text.trim() !== "")) throw malformedXml();
  return Object.keys(node).filter((name) => name !== "#text");
}

/** Text content of child `name`, or undefined. An element with children is not text. */
export function childText(node: XmlNode | undefined, name: string): string | undefined {
  if (node === undefined || typeof node === "string") return undefined;
  const v = node[name];
  if (v === undefined) return undefined;
  if (typeof v === "string") return v;
  if (Array.isArray(v)) throw new S3Error("MalformedXML", `The XML you provided has more than one ${name} element.`);
  // an empty element parses as "" already; an object here means nested markup
  throw new S3Error("MalformedXML", `The XML element ${name} must hold text.`);
}
