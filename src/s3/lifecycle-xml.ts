/** The LifecycleConfiguration document: read with S3's refusals, and written back in the form it was sent. Pure. */
import { S3Error } from "../errors.ts";
import { isoTimeMs } from "../util/iso-time.ts";
import { conditionsOf, dayMs, type LifecycleFilter, type LifecycleRule } from "./lifecycle.ts";
import { checkTags } from "./tags.ts";
import { childList, childNames, childText, malformedXml, parseXmlBody, s3Xmlns, single, x, type Xml, type XmlNode } from "./xml.ts";

/** S3's limits on a configuration. */
export const lifecycleRulesMax = 1000;
const ruleIdCharsMax = 255;
/** a filter's prefix, as long as a key */
const prefixBytesMax = 1024;
const invalidArgument = (message: string) => new S3Error("InvalidArgument", message);
const invalidRequest = (message: string) => new S3Error("InvalidRequest", message);

/** A positive whole number of days (S3 takes up to 2^31-1). */
function days(node: XmlNode, name: string, action: string): number | undefined {
  const text = childText(node, name)?.trim();
  if (text === undefined) return undefined;
  if (!/^-?\d{1,10}$/.test(text)) throw malformedXml();
  const n = Number(text);
  // (past an Integer it does not fit S3's schema)
  if (n > 2_147_483_647) throw malformedXml();
  if (n <= 0) throw invalidArgument(`'${name}' for ${action} action must be a positive integer`);
  return n;
}

/** An object size in bytes (a Long in S3's model, not negative). */
function sizeBytes(node: XmlNode, name: string): number | undefined {
  const text = childText(node, name)?.trim();
  if (text === undefined) return undefined;
  if (!/^\d{1,16}$/.test(text)) throw malformedXml();
  return Number(text);
}

/** An ISO 8601 date, or date and time (UTC unless it names an offset); S3 takes only midnights UTC. */
function midnight(text: string): number {
  const ms = isoTimeMs(text.trim());
  if (Number.isNaN(ms)) throw malformedXml();
  if (ms % dayMs !== 0) throw invalidArgument("'Date' must be at midnight GMT");
  return ms;
}

function tagOf(node: XmlNode): [string, string] {
  const key = childText(node, "Key");
  if (key === undefined) throw malformedXml();
  return [key, childText(node, "Value") ?? ""];
}

function filterOf(rule: XmlNode): LifecycleFilter {
  const rulePrefix = childText(rule, "Prefix");
  const filter = single(rule, "Filter");
  if (rulePrefix !== undefined && filter !== undefined) throw malformedXml();
  if (filter === undefined) {
    if (rulePrefix === undefined) throw malformedXml();
    return { form: "rule-prefix", prefix: rulePrefix };
  }
  const conditions = childNames(filter);
  if (conditions.some((c) => !["Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan", "And"].includes(c))) throw malformedXml();
  // Outside And, a filter holds one condition at most.
  if (conditions.length > 1 || childList(filter, "Tag").length > 1) throw malformedXml();
  const and = single(filter, "And");
  if (and === undefined) {
    const tag = single(filter, "Tag");
    const result: LifecycleFilter = {
      form: "filter",
      prefix: childText(filter, "Prefix"),
      tag: tag === undefined ? undefined : (Object.entries(checkTags([tagOf(tag)]))[0] as [string, string]),
      sizeGreaterThanBytes: sizeBytes(filter, "ObjectSizeGreaterThan"),
      sizeLessThanBytes: sizeBytes(filter, "ObjectSizeLessThan"),
    };
    return result;
  }
  if (childNames(and).some((c) => !["Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan"].includes(c))) throw malformedXml();
  const pairs = childList(and, "Tag").map(tagOf);
  if (new Set(pairs.map(([k]) => k)).size < pairs.length) throw invalidRequest("Duplicate Tag Keys are not allowed.");
  const tags = Object.entries(checkTags(pairs, "Bucket"));
  const result: LifecycleFilter = {
    form: "and",
    prefix: childText(and, "Prefix"),
    tags,
    sizeGreaterThanBytes: sizeBytes(and, "ObjectSizeGreaterThan"),
    sizeLessThanBytes: sizeBytes(and, "ObjectSizeLessThan"),
  };
  const count = (result.prefix !== undefined ? 1 : 0) + tags.length + (result.sizeGreaterThanBytes !== undefined ? 1 : 0) + (result.sizeLessThanBytes !== undefined ? 1 : 0);
  if (count < 2) throw malformedXml();
  return result;
}

function ruleOf(node: XmlNode, newId: () => string): LifecycleRule {
  for (const name of childNames(node)) {
    if (!["ID", "Status", "Prefix", "Filter", "Expiration", "Transition", "NoncurrentVersionExpiration", "NoncurrentVersionTransition", "AbortIncompleteMultipartUpload"].includes(name)) {
      throw malformedXml();
    }
  }
  const id = childText(node, "ID");
  if (id !== undefined && id.length > ruleIdCharsMax) throw invalidArgument(`ID length should not exceed allowed limit of ${ruleIdCharsMax}`);
  const status = childText(node, "Status");
  if (status !== "Enabled" && status !== "Disabled") throw malformedXml();
  const filter = filterOf(node);
  const { prefix, tags, sizeGreaterThanBytes, sizeLessThanBytes } = conditionsOf(filter);
  if (Buffer.byteLength(prefix) > prefixBytesMax) throw invalidRequest(`The maximum size of a prefix is ${prefixBytesMax}.`);
  if (sizeGreaterThanBytes !== undefined && sizeLessThanBytes !== undefined && sizeGreaterThanBytes >= sizeLessThanBytes) {
    throw invalidArgument("ObjectSizeGreaterThan must be less than ObjectSizeLessThan");
  }
  if (childList(node, "Transition").length > 0 || childList(node, "NoncurrentVersionTransition").length > 0) {
    throw new S3Error("NotImplemented", "s3d keeps every object in the STANDARD storage class: lifecycle transitions are not supported");
  }
  const rule: LifecycleRule = { id: id === undefined || id === "" ? newId() : id, enabled: status === "Enabled", filter };

  const expiration = single(node, "Expiration");
  if (expiration !== undefined) {
    const dateText = childText(expiration, "Date");
    const marker = childText(expiration, "ExpiredObjectDeleteMarker")?.trim();
    const expiry = {
      days: days(expiration, "Days", "Expiration"),
      dateMs: dateText === undefined ? undefined : midnight(dateText),
      expiredObjectDeleteMarker: marker === undefined ? undefined : marker === "true" ? true : marker === "false" ? false : badMarker(),
    };
    const given = [expiry.days, expiry.dateMs, expiry.expiredObjectDeleteMarker].filter((v) => v !== undefined).length;
    if (given !== 1) throw malformedXml();
    if (expiry.expiredObjectDeleteMarker !== undefined && tags.length > 0) throw invalidRequest("ExpiredObjectDeleteMarker cannot be specified with Tags.");
    rule.expiration = expiry;
  }
  const noncurrent = single(node, "NoncurrentVersionExpiration");
  if (noncurrent !== undefined) {
    const newer = childText(noncurrent, "NewerNoncurrentVersions")?.trim();
    if (newer !== undefined && (!/^\d{1,3}$/.test(newer) || Number(newer) < 1 || Number(newer) > 100)) {
      throw invalidArgument("NewerNoncurrentVersions must be between 1 and 100");
    }
    const noncurrentDays = days(noncurrent, "NoncurrentDays", "NoncurrentVersionExpiration");
    if (noncurrentDays === undefined) throw malformedXml();
    rule.noncurrentVersionExpiration = { noncurrentDays, newerNoncurrentVersions: newer === undefined ? undefined : Number(newer) };
  }
  const abort = single(node, "AbortIncompleteMultipartUpload");
  if (abort !== undefined) {
    const after = days(abort, "DaysAfterInitiation", "AbortIncompleteMultipartUpload");
    if (after === undefined) throw malformedXml();
    if (tags.length > 0) throw invalidRequest("AbortIncompleteMultipartUpload cannot be specified with Tags.");
    if (sizeGreaterThanBytes !== undefined || sizeLessThanBytes !== undefined) throw invalidRequest("AbortIncompleteMultipartUpload cannot be specified with Object Size.");
    rule.abortIncompleteMultipartUploadDays = after;
  }
  if (!rule.expiration && !rule.noncurrentVersionExpiration && rule.abortIncompleteMultipartUploadDays === undefined) {
    throw invalidRequest("At least one action needs to be specified in a rule.");
  }
  return rule;
}

function badMarker(): never {
  throw malformedXml();
}

/** A LifecycleConfiguration document; rules without an ID get one from `newId`. */
export function lifecycleFromXml(text: string, newId: () => string): LifecycleRule[] {
  const doc = parseXmlBody(text);
  const config = doc.LifecycleConfiguration;
  if (config === undefined || childNames(doc).length !== 1) throw malformedXml();
  const nodes = childList(config, "Rule");
  if (nodes.length === 0 || childNames(config).some((n) => n !== "Rule")) throw malformedXml();
  if (nodes.length > lifecycleRulesMax) throw invalidRequest(`Lifecycle configuration cannot have more than ${lifecycleRulesMax} rules.`);
  const rules = nodes.map((n) => ruleOf(n, newId));
  const ids = new Set<string>();
  for (const r of rules) {
    if (ids.has(r.id)) throw invalidArgument("Rule ID must be unique. Found same ID for more than one rule");
    ids.add(r.id);
  }
  return rules;
}
const isoDate = (ms: number) => new Date(ms).toISOString();

function filterXml(filter: LifecycleFilter): Xml {
  const tagXml = ([k, v]: [string, string]) => x("Tag", x("Key", k), x("Value", v));
  const sizes = (f: { sizeGreaterThanBytes?: number; sizeLessThanBytes?: number }) => [
    f.sizeGreaterThanBytes !== undefined ? x("ObjectSizeGreaterThan", f.sizeGreaterThanBytes) : null,
    f.sizeLessThanBytes !== undefined ? x("ObjectSizeLessThan", f.sizeLessThanBytes) : null,
  ];
  switch (filter.form) {
    case "rule-prefix":
      return x("Prefix", filter.prefix);
    case "filter":
      return x("Filter", filter.prefix !== undefined ? x("Prefix", filter.prefix) : null, filter.tag ? tagXml(filter.tag) : null, sizes(filter));
    case "and":
      return x("Filter", x("And", filter.prefix !== undefined ? x("Prefix", filter.prefix) : null, filter.tags.map(tagXml), sizes(filter)));
  }
}

export function lifecycleXml(rules: LifecycleRule[]): Xml {
  return x(
    "LifecycleConfiguration",
    { xmlns: s3Xmlns },
    rules.map((r) =>
      x(
        "Rule",
        x("ID", r.id),
        filterXml(r.filter),
        x("Status", r.enabled ? "Enabled" : "Disabled"),
        r.expiration
          ? x(
              "Expiration",
              r.expiration.days !== undefined ? x("Days", r.expiration.days) : null,
              r.expiration.dateMs !== undefined ? x("Date", isoDate(r.expiration.dateMs)) : null,
              r.expiration.expiredObjectDeleteMarker !== undefined ? x("ExpiredObjectDeleteMarker", r.expiration.expiredObjectDeleteMarker) : null,
            )
          : null,
        r.noncurrentVersionExpiration
          ? x(
              "NoncurrentVersionExpiration",
              r.noncurrentVersionExpiration.noncurrentDays !== undefined ? x("NoncurrentDays", r.noncurrentVersionExpiration.noncurrentDays) : null,
              r.noncurrentVersionExpiration.newerNoncurrentVersions !== undefined ? x("NewerNoncurrentVersions", r.noncurrentVersionExpiration.newerNoncurrentVersions) : null,
            )
          : null,
        r.abortIncompleteMultipartUploadDays !== undefined ? x("AbortIncompleteMultipartUpload", x("DaysAfterInitiation", r.abortIncompleteMultipartUploadDays)) : null,
      ),
    ),
  );
}
