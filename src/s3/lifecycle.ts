/**
 * Bucket lifecycle rules and what they decide: when an object expires and when an unfinished
 * multipart upload is aborted (lifecycle-xml.ts reads and writes the document; lifecycle-runner.ts
 * acts on the decisions). Pure: the time comes in as an argument.
 */

export const dayMs = 86_400_000;
/** The latest time a Date can hold: an expiry past it (a rule of 10^8 days) is never. */
const timeMsMax = 8.64e15;

/**
 * What a rule applies to, in the shape it was given: S3 writes it back as it was sent, and a rule
 * with the old form (a Prefix beside Status, not in a Filter) keeps it.
 */
export type LifecycleFilter =
  | { form: "rule-prefix"; prefix: string }
  | { form: "filter"; prefix?: string; tag?: [string, string]; sizeGreaterThanBytes?: number; sizeLessThanBytes?: number }
  | { form: "and"; prefix?: string; tags: Array<[string, string]>; sizeGreaterThanBytes?: number; sizeLessThanBytes?: number };

export interface LifecycleRule {
  id: string;
  enabled: boolean;
  filter: LifecycleFilter;
  expiration?: { days?: number; dateMs?: number; expiredObjectDeleteMarker?: boolean };
  /** versions that stopped being current: removed `noncurrentDays` after, beyond the newest `newerNoncurrentVersions` */
  noncurrentVersionExpiration?: { noncurrentDays?: number; newerNoncurrentVersions?: number };
  abortIncompleteMultipartUploadDays?: number;
}

/** An object as the rules see it; tags undefined when not read (rules with tag filters then cannot decide). */
export interface LifecycleSubject {
  key: string;
  sizeBytes: number;
  lastModifiedMs: number;
  tags?: Record<string, string>;
}

/** A bucket's lifecycle configuration as kept among its configurations (as JSON). */
export interface LifecycleConfig {
  rules: LifecycleRule[];
  /** the x-amz-transition-default-minimum-object-size it was put with; s3d makes no transitions, and gives it back */
  transitionMinimumSize: string;
}

/** The name the configuration is kept under among a bucket's configurations. */
export const lifecycleConfigName = "lifecycle";

export const parseStoredLifecycle = (document: string): LifecycleConfig => JSON.parse(document) as LifecycleConfig;

/** The conditions of a filter, whatever its form. */
export function conditionsOf(filter: LifecycleFilter): { prefix: string; tags: Array<[string, string]>; sizeGreaterThanBytes?: number; sizeLessThanBytes?: number } {
  switch (filter.form) {
    case "rule-prefix":
      return { prefix: filter.prefix, tags: [] };
    case "filter":
      return { prefix: filter.prefix ?? "", tags: filter.tag ? [filter.tag] : [], sizeGreaterThanBytes: filter.sizeGreaterThanBytes, sizeLessThanBytes: filter.sizeLessThanBytes };
    case "and":
      return { prefix: filter.prefix ?? "", tags: filter.tags, sizeGreaterThanBytes: filter.sizeGreaterThanBytes, sizeLessThanBytes: filter.sizeLessThanBytes };
  }
}

/** Whether the rule's filter holds for the object; undefined when that depends on tags not read. */
function applies(rule: LifecycleRule, subject: LifecycleSubject): boolean | undefined {
  const { prefix, tags, sizeGreaterThanBytes, sizeLessThanBytes } = conditionsOf(rule.filter);
  if (!subject.key.startsWith(prefix)) return false;
  if (sizeGreaterThanBytes !== undefined && !(subject.sizeBytes > sizeGreaterThanBytes)) return false;
  if (sizeLessThanBytes !== undefined && !(subject.sizeBytes < sizeLessThanBytes)) return false;
  if (tags.length === 0) return true;
  if (subject.tags === undefined) return undefined;
  const own = subject.tags;
  return tags.every(([k, v]) => Object.hasOwn(own, k) && own[k] === v);
}

/**
 * `days` after `startMs`, rounded up to the next midnight UTC, as S3 counts lifecycle days: an
 * object made on 15 January at 10:30 with a rule of 3 days expires on 19 January at 00:00.
 */
export function afterDays(startMs: number, days: number): number {
  return Math.min(timeMsMax, Math.floor((startMs + days * dayMs) / dayMs) * dayMs + dayMs);
}

export interface Expiry {
  atMs: number;
  ruleId: string;
}

/**
 * When the object expires, by the enabled rule that expires it first; undefined when no rule
 * expires it. "unknown" when the answer depends on tags the subject does not carry.
 */
export function expiryOf(rules: readonly LifecycleRule[], subject: LifecycleSubject): Expiry | undefined | "unknown" {
  return firstAction(rules, subject, (rule) => expirationTimeOf(rule, subject.lastModifiedMs));
}

/** When the rule's Expiration (Days or Date) comes for something last modified at `lastModifiedMs`. */
function expirationTimeOf(rule: LifecycleRule, lastModifiedMs: number): number | undefined {
  const e = rule.expiration;
  if (e?.days !== undefined) return afterDays(lastModifiedMs, e.days);
  return e?.dateMs;
}

/** A version of an object in a versioned bucket, as the rules see it. */
export interface VersionSubject extends LifecycleSubject {
  deleteMarker: boolean;
  isLatest: boolean;
  /** when a newer version took its place (noncurrent versions) */
  noncurrentSinceMs?: number;
  /** how many noncurrent versions of the key are newer than this one */
  newerNoncurrent: number;
  /** a latest delete marker with no other version of its key: an expired object delete marker */
  lone: boolean;
}

/**
 * When a rule removes a version for good: a noncurrent one by NoncurrentVersionExpiration (its
 * days counted from when it stopped being current, beyond the newest NewerNoncurrentVersions),
 * an expired object delete marker (the key's only version left) by ExpiredObjectDeleteMarker at
 * once, or by Expiration's Days or Date as an object would be. The current object version is
 * never one: expiring it adds a delete marker (`expiryOf`).
 */
export function versionExpiryOf(rules: readonly LifecycleRule[], subject: VersionSubject): Expiry | undefined | "unknown" {
  if (subject.isLatest && !(subject.deleteMarker && subject.lone)) return undefined;
  return firstAction(rules, subject, (rule) => {
    if (subject.isLatest) return rule.expiration?.expiredObjectDeleteMarker === true ? subject.lastModifiedMs : expirationTimeOf(rule, subject.lastModifiedMs);
    const noncurrent = rule.noncurrentVersionExpiration;
    if (noncurrent?.noncurrentDays === undefined || subject.noncurrentSinceMs === undefined) return undefined;
    if (noncurrent.newerNoncurrentVersions !== undefined && subject.newerNoncurrent < noncurrent.newerNoncurrentVersions) return undefined;
    return afterDays(subject.noncurrentSinceMs, noncurrent.noncurrentDays);
  });
}

/**
 * The enabled rule whose action (`timeOf`: when it acts, or undefined when it has none for the
 * subject) comes first; "unknown" when that depends on tags the subject does not carry.
 */
function firstAction(rules: readonly LifecycleRule[], subject: LifecycleSubject, timeOf: (rule: LifecycleRule) => number | undefined): Expiry | undefined | "unknown" {
  let first: Expiry | undefined;
  /** the earliest time among rules that hold only if the subject has tags it does not carry */
  let firstUndecidedMs = Infinity;
  for (const rule of rules) {
    if (!rule.enabled) continue;
    const atMs = timeOf(rule);
    if (atMs === undefined) continue;
    const holds = applies(rule, subject);
    if (holds === false) continue;
    if (atMs >= timeMsMax) continue;
    if (holds === undefined) firstUndecidedMs = Math.min(firstUndecidedMs, atMs);
    else if (first === undefined || atMs < first.atMs) first = { atMs, ruleId: rule.id };
  }
  // (a rule with tags that would expire the object later cannot change the answer)
  return firstUndecidedMs < (first?.atMs ?? Infinity) ? "unknown" : first;
}

/** When an unfinished multipart upload of `key`, started at `initiatedMs`, is aborted by the rules; undefined: never. */
export function uploadAbortOf(rules: readonly LifecycleRule[], key: string, initiatedMs: number): Expiry | undefined {
  let first: Expiry | undefined;
  for (const rule of rules) {
    const after = rule.abortIncompleteMultipartUploadDays;
    if (!rule.enabled || after === undefined) continue;
    // (rules that abort uploads have neither tags nor sizes: S3 refuses both with the action)
    if (!key.startsWith(conditionsOf(rule.filter).prefix)) continue;
    const atMs = afterDays(initiatedMs, after);
    if (atMs < timeMsMax && (first === undefined || atMs < first.atMs)) first = { atMs, ruleId: rule.id };
  }
  return first;
}

const expires = (r: LifecycleRule) => r.enabled && (r.expiration?.days !== undefined || r.expiration?.dateMs !== undefined);
const aborts = (r: LifecycleRule) => r.enabled && r.abortIncompleteMultipartUploadDays !== undefined;
/** rules that remove versions for good: noncurrent ones, or expired object delete markers */
const removesVersions = (r: LifecycleRule) =>
  expires(r) || (r.enabled && (r.noncurrentVersionExpiration?.noncurrentDays !== undefined || r.expiration?.expiredObjectDeleteMarker === true));
const scanned = { objects: expires, uploads: aborts, versions: removesVersions };

/** Whether any enabled rule can expire objects, remove versions or abort uploads (a bucket whose rules cannot needs no scan). */
export function hasActions(rules: readonly LifecycleRule[]): boolean {
  return rules.some((r) => removesVersions(r) || aborts(r));
}

/**
 * The key prefixes a scan must list to find every object (or upload) the rules may act on, none
 * inside another: a bucket whose rules name only "logs/" is not listed whole.
 */
export function prefixesToScan(rules: readonly LifecycleRule[], of: keyof typeof scanned): string[] {
  const prefixes = rules.filter(scanned[of]).map((r) => conditionsOf(r.filter).prefix).sort();
  const kept: string[] = [];
  for (const prefix of prefixes) if (!kept.some((k) => prefix.startsWith(k))) kept.push(prefix);
  return kept;
}
