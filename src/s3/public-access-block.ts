/**
 * S3 Block Public Access: settings that keep a bucket from being opened to everyone, whatever its
 * policy says. s3d has no ACLs (every bucket is BucketOwnerEnforced, and ACLs that grant anything
 * are refused), so of the four settings two act: BlockPublicPolicy refuses a public policy, and
 * RestrictPublicBuckets takes every unsigned access from a bucket whose policy is public.
 * A server-wide setting (`block_public_access`) acts as all four on every bucket, as S3's
 * account-level settings do. Pure.
 */
import { S3Error } from "../errors.ts";
import { childText, malformedXml, parseXmlBody, s3Xmlns, x, type Xml } from "./xml.ts";

/** The name the configuration is kept under among a bucket's configurations. */
export const publicAccessBlockConfigName = "publicAccessBlock";

export interface PublicAccessBlock {
  blockPublicAcls: boolean;
  ignorePublicAcls: boolean;
  blockPublicPolicy: boolean;
  restrictPublicBuckets: boolean;
}

/** The settings in the order S3 writes them, with their element names. */
const elements: ReadonlyArray<[keyof PublicAccessBlock, string]> = [
  ["blockPublicAcls", "BlockPublicAcls"],
  ["ignorePublicAcls", "IgnorePublicAcls"],
  ["blockPublicPolicy", "BlockPublicPolicy"],
  ["restrictPublicBuckets", "RestrictPublicBuckets"],
];

/** The four settings, each as `value` says. */
function settings(value: (setting: keyof PublicAccessBlock, element: string) => boolean): PublicAccessBlock {
  return Object.fromEntries(elements.map(([setting, element]) => [setting, value(setting, element)])) as unknown as PublicAccessBlock;
}

/**
 * A PublicAccessBlockConfiguration document. A setting left out is off, as in S3, but one at least
 * must be given (InvalidRequest, as S3 answers); a value other than true or false, an element S3
 * does not define, or one given twice is MalformedXML.
 */
export function publicAccessBlockFromXml(document: string): PublicAccessBlock {
  const root = parseXmlBody(document).PublicAccessBlockConfiguration;
  if (root === undefined) throw malformedXml();
  // (only whitespace beside the settings: a document's indentation)
  const names = typeof root === "string" ? [] : Object.keys(root).filter((name) => name !== "#text");
  const text = typeof root === "string" ? root : root["#text"];
  if (names.some((name) => !elements.some(([, known]) => known === name)) || (text !== undefined && (typeof text !== "string" || text.trim() !== ""))) throw malformedXml();
  if (names.length === 0) throw new S3Error("InvalidRequest", "Must specify at least one configuration.");
  return settings((_, element) => {
    const value = childText(root, element)?.trim();
    if (value !== undefined && value !== "true" && value !== "false") throw malformedXml();
    return value === "true";
  });
}

export function publicAccessBlockXml(block: PublicAccessBlock): Xml {
  return x("PublicAccessBlockConfiguration", { xmlns: s3Xmlns }, ...elements.map(([setting, element]) => x(element, block[setting])));
}

/** A configuration as kept (JSON of the four settings). */
export function parseStoredBlock(stored: string): PublicAccessBlock {
  const kept = JSON.parse(stored) as Partial<PublicAccessBlock>;
  return settings((setting) => kept[setting] === true);
}
