/** Object and bucket tags: the x-amz-tagging header, the Tagging XML document, and AWS's limits. */
import { S3Error } from "../errors.ts";
import { childList, childText, malformedXml, parseXmlBody, s3Xmlns, x, type Xml } from "./xml.ts";

export const tagsPerObjectMax = 10;
export const tagsPerBucketMax = 50;
export const tagKeyCharsMax = 128;
export const tagValueCharsMax = 256;

const invalidTag = (message: string) => new S3Error("InvalidTag", message);

/** What AWS allows in tags: letters, digits and spaces of any script, and + - = . _ : / @ */
const tagText = /^[\p{L}\p{M}\p{N}\p{Zs}+\-=._:/@]*$/u;

/**
 * AWS's limits. Lengths count UTF-16 code units, as S3 stores tags: a letter outside the Basic
 * Multilingual Plane (CJK Extension B, say) takes two of the 128 or 256.
 */
export function checkTags(pairs: Array<[string, string]>, of: "Object" | "Bucket" = "Object"): Record<string, string> {
  const max = of === "Object" ? tagsPerObjectMax : tagsPerBucketMax;
  if (pairs.length > max) throw invalidTag(`${of} tags cannot be greater than ${max}`);
  const tags: Record<string, string> = Object.create(null); // a key such as "__proto__" is a key like any other
  for (const [key, value] of pairs) {
    if (key.length === 0 || key.length > tagKeyCharsMax) throw invalidTag(`The TagKey you have provided is invalid: it must be 1 to ${tagKeyCharsMax} characters`);
    if (value.length > tagValueCharsMax) throw invalidTag(`The TagValue you have provided is too long: at most ${tagValueCharsMax} characters`);
    if (!tagText.test(key)) throw invalidTag("The TagKey you have provided is invalid: letters, digits, spaces and + - = . _ : / @ only");
    if (!tagText.test(value)) throw invalidTag("The TagValue you have provided is invalid: letters, digits, spaces and + - = . _ : / @ only");
    if (key.toLowerCase().startsWith("aws:")) throw invalidTag("Your TagKey cannot be prefixed with aws:");
    if (Object.hasOwn(tags, key)) throw invalidTag("Cannot provide multiple Tags with the same key");
    tags[key] = value;
  }
  return tags;
}

/** x-amz-tagging: a URL query string, "k1=v1&k2=v2". */
export function tagsFromHeader(header: string | undefined): Record<string, string> {
  if (header === undefined || header === "") return {};
  const pairs: Array<[string, string]> = [];
  for (const piece of header.split("&")) {
    if (piece === "") continue;
    const eq = piece.indexOf("=");
    try {
      const decode = (s: string) => decodeURIComponent(s.replaceAll("+", " "));
      pairs.push(eq < 0 ? [decode(piece), ""] : [decode(piece.slice(0, eq)), decode(piece.slice(eq + 1))]);
    } catch {
      throw new S3Error("InvalidArgument", "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.");
    }
  }
  return checkTags(pairs);
}

/** A Tagging document: an object's tags, or with `of` "Bucket" a bucket's (up to 50). */
export function tagsFromXml(text: string, of: "Object" | "Bucket" = "Object"): Record<string, string> {
  const doc = parseXmlBody(text);
  const tagSet = childList(doc.Tagging, "TagSet")[0];
  if (doc.Tagging === undefined || tagSet === undefined) {
    throw malformedXml();
  }
  return checkTags(
    childList(tagSet, "Tag").map((tag) => {
      const key = childText(tag, "Key");
      if (key === undefined) throw new S3Error("MalformedXML", "Each Tag needs a Key.");
      return [key, childText(tag, "Value") ?? ""];
    }),
    of,
  );
}

/** The Tagging document of a tag set, its tags in the order of their keys, as S3 gives them back. */
export function tagsXml(tags: Record<string, string>): Xml {
  const sorted = Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return x("Tagging", { xmlns: s3Xmlns }, x("TagSet", sorted.map(([k, v]) => x("Tag", x("Key", k), x("Value", v)))));
}
