/**
 * Object Lock's documents and headers: a bucket's ObjectLockConfiguration (its default retention),
 * an object's Retention and LegalHold, the x-amz-object-lock-* headers of writes and reads, and the
 * rule for changing a retention. Pure: the time comes in as an argument.
 */
import { S3Error } from "../errors.ts";
import type { DefaultRetention, LockMode, ObjectLock } from "../store/backend.ts";
import { isoTimeMs } from "../util/iso-time.ts";
import { isoTime } from "./respond.ts";
import { childNames, childText, malformedXml, parseXmlBody, s3Xmlns, single, x, type Xml, type XmlNode } from "./xml.ts";

const modes: readonly string[] = ["GOVERNANCE", "COMPLIANCE"] satisfies LockMode[];
/** The longest default retention S3 takes: 100 years (36,500 days). */
const defaultRetentionDaysMax = 36_500;
const defaultRetentionYearsMax = 100;

/** The one root element `name` of a document, with only the children `allowed`. */
function rootOf(text: string, name: string, allowed: readonly string[]): XmlNode {
  const root = parseXmlBody(text)[name];
  if (root === undefined || childNames(root).some((child) => !allowed.includes(child))) throw malformedXml();
  return root;
}

/** PutObjectLockConfiguration's document: Object Lock enabled, and the default retention if it has a rule. */
export function objectLockConfigFromXml(text: string): DefaultRetention | undefined {
  const root = rootOf(text, "ObjectLockConfiguration", ["ObjectLockEnabled", "Rule"]);
  if (childText(root, "ObjectLockEnabled")?.trim() !== "Enabled") throw malformedXml();
  const rule = single(root, "Rule");
  if (rule === undefined) return undefined;
  if (childNames(rule).some((child) => child !== "DefaultRetention")) throw malformedXml();
  const retention = single(rule, "DefaultRetention");
  if (retention === undefined || childNames(retention).some((child) => !["Mode", "Days", "Years"].includes(child))) throw malformedXml();
  const mode = childText(retention, "Mode")?.trim();
  const days = childText(retention, "Days")?.trim();
  const years = childText(retention, "Years")?.trim();
  if (mode === undefined || !modes.includes(mode) || (days === undefined) === (years === undefined)) throw malformedXml();
  const [name, value, max] = days !== undefined ? ["Days", days, defaultRetentionDaysMax] : ["Years", years!, defaultRetentionYearsMax];
  const period = /^-?\d{1,10}$/.test(value) ? Number(value) : NaN;
  if (Number.isNaN(period)) throw malformedXml();
  if (period <= 0) throw new S3Error("InvalidArgument", "Default retention period must be a positive integer value.", { ArgumentName: name, ArgumentValue: value });
  if (period > max) throw new S3Error("InvalidArgument", "Default retention period too large.", { ArgumentName: name, ArgumentValue: value });
  return { mode: mode as LockMode, ...(name === "Days" ? { days: period } : { years: period }) };
}

export function objectLockConfigXml(defaultRetention: DefaultRetention | undefined): Xml {
  const rule = defaultRetention && x(
    "Rule",
    x("DefaultRetention", x("Mode", defaultRetention.mode), defaultRetention.days !== undefined ? x("Days", defaultRetention.days) : x("Years", defaultRetention.years!)),
  );
  return x("ObjectLockConfiguration", { xmlns: s3Xmlns }, x("ObjectLockEnabled", "Enabled"), rule ?? null);
}

/** An ISO 8601 time a client gives (a date, a time and a zone; no 31 February), in the future. */
function futureTime(value: string, nowMs: number, argument: string, invalid: () => S3Error): number {
  const ms = /T.*(Z|[+-]\d\d:\d\d)$/.test(value) ? isoTimeMs(value) : NaN;
  if (Number.isNaN(ms)) throw invalid();
  if (ms <= nowMs) throw new S3Error("InvalidArgument", "The retain until date must be in the future!", { ArgumentName: argument, ArgumentValue: value });
  return ms;
}

/** The Object Lock a write asks for in its x-amz-object-lock-* headers (undefined: none). */
export function lockFromHeaders(headers: Record<string, string>, nowMs: number): ObjectLock | undefined {
  const mode = headers["x-amz-object-lock-mode"];
  const until = headers["x-amz-object-lock-retain-until-date"];
  const hold = headers["x-amz-object-lock-legal-hold"];
  if (mode === undefined && until === undefined && hold === undefined) return undefined;
  const lock: ObjectLock = {};
  if ((mode === undefined) !== (until === undefined)) {
    const missing = mode === undefined ? "x-amz-object-lock-mode" : "x-amz-object-lock-retain-until-date";
    throw new S3Error("InvalidArgument", "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied", { ArgumentName: missing });
  }
  if (mode !== undefined && until !== undefined) {
    if (!modes.includes(mode)) throw new S3Error("InvalidArgument", "Unknown wormMode directive.", { ArgumentName: "x-amz-object-lock-mode", ArgumentValue: mode });
    const invalid = () => new S3Error("InvalidArgument", "The retain until date must be provided in ISO 8601 format", { ArgumentName: "x-amz-object-lock-retain-until-date", ArgumentValue: until });
    lock.mode = mode as LockMode;
    lock.retainUntilMs = futureTime(until, nowMs, "x-amz-object-lock-retain-until-date", invalid);
  }
  if (hold !== undefined) {
    if (hold !== "ON" && hold !== "OFF") throw new S3Error("InvalidArgument", "Legal Hold must be either of 'ON' or 'OFF'", { ArgumentName: "x-amz-object-lock-legal-hold", ArgumentValue: hold });
    lock.legalHold = hold === "ON";
  }
  return lock;
}

/** Whether a request asks to override GOVERNANCE retention (x-amz-bypass-governance-retention: true, in any case). */
export const asksBypass = (headers: Record<string, string>) => headers["x-amz-bypass-governance-retention"]?.toLowerCase() === "true";

/** What GET and HEAD say of a version's Object Lock (the legal hold only once one was set, as S3). */
export function lockHeaders(lock: ObjectLock | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (lock?.mode !== undefined && lock.retainUntilMs !== undefined) {
    headers["x-amz-object-lock-mode"] = lock.mode;
    headers["x-amz-object-lock-retain-until-date"] = isoTime(lock.retainUntilMs);
  }
  if (lock?.legalHold !== undefined) headers["x-amz-object-lock-legal-hold"] = lock.legalHold ? "ON" : "OFF";
  return headers;
}

/** PutObjectRetention's document: a mode and a date, or neither (the retention removed). */
export function retentionFromXml(text: string, nowMs: number): Pick<ObjectLock, "mode" | "retainUntilMs"> {
  const root = rootOf(text, "Retention", ["Mode", "RetainUntilDate"]);
  const mode = childText(root, "Mode")?.trim();
  const until = childText(root, "RetainUntilDate")?.trim();
  if (mode === undefined && until === undefined) return {};
  if (mode === undefined || until === undefined || !modes.includes(mode)) throw malformedXml();
  return { mode: mode as LockMode, retainUntilMs: futureTime(until, nowMs, "RetainUntilDate", malformedXml) };
}

export function retentionXml(lock: ObjectLock): Xml {
  return x("Retention", { xmlns: s3Xmlns }, x("Mode", lock.mode!), x("RetainUntilDate", isoTime(lock.retainUntilMs!)));
}

/** PutObjectLegalHold's document: ON or OFF. */
export function legalHoldFromXml(text: string): boolean {
  const status = childText(rootOf(text, "LegalHold", ["Status"]), "Status")?.trim();
  if (status !== "ON" && status !== "OFF") throw malformedXml();
  return status === "ON";
}

export function legalHoldXml(on: boolean): Xml {
  return x("LegalHold", { xmlns: s3Xmlns }, x("Status", on ? "ON" : "OFF"));
}
