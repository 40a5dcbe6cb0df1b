/**
 * The policy document of a POST Object form: its parsing, and the checks S3 makes of a form
 * against it (expiration, every condition, every field covered by one); S3's refusals of a form.
 * Pure.
 */
import { S3Error } from "../errors.ts";
import { isoTimeMs } from "../util/iso-time.ts";

export type Condition =
  | { op: "eq" | "starts-with"; field: string; value: string; text: string }
  | { op: "content-length-range"; min: number; max: number; text: string };

export interface PostPolicy {
  expirationMs: number;
  conditions: Condition[];
}

/** The sizes a policy allows the file, both ends included. */
export interface LengthRange {
  min: number;
  max: number;
}

/** S3's refusal of a form without a field it needs, named as S3 names it. */
export function missingFormField(name: string): S3Error {
  return new S3Error("InvalidArgument", `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`, {
    ArgumentName: name,
    ArgumentValue: "",
  });
}

const invalidPolicy = (message: string) => new S3Error("InvalidPolicyDocument", `Invalid Policy: ${message}`);
const deniedByPolicy = (message: string) => new S3Error("AccessDenied", `Invalid according to Policy: ${message}`);
/** ISO 8601 in UTC, with or without milliseconds, as the SDKs write it. */
const expirationPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The policy form field (base64 of a JSON document), parsed; InvalidPolicyDocument when it is not one. */
export function parsePolicy(base64: string): PostPolicy {
  const compact = base64.replace(/[\r\n]/g, "");
  if (!base64Pattern.test(compact)) throw invalidPolicy("Invalid Base64 encoding.");
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(compact, "base64").toString("utf8"));
  } catch {
    throw invalidPolicy("Invalid JSON.");
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) throw invalidPolicy("Invalid JSON.");
  const fields = document as Record<string, unknown>;
  const unexpected = Object.keys(fields).find((name) => name !== "expiration" && name !== "conditions");
  if (unexpected !== undefined) throw invalidPolicy(`Unexpected: '${unexpected}'`);
  const { expiration, conditions } = fields;
  if (expiration === undefined) throw invalidPolicy("Policy missing expiration.");
  // (the strict reader: a date that does not exist, February 30 or 24:00, is no expiration)
  const expirationMs = typeof expiration === "string" && expirationPattern.test(expiration) ? isoTimeMs(expiration) : NaN;
  if (Number.isNaN(expirationMs)) throw invalidPolicy(`Invalid 'expiration' value: '${String(expiration)}'`);
  if (!Array.isArray(conditions)) throw invalidPolicy("Policy missing conditions.");
  return { expirationMs, conditions: conditions.map(parseCondition) };
}

function parseCondition(raw: unknown): Condition {
  if (Array.isArray(raw)) {
    const [operation, ...args] = raw;
    if (typeof operation !== "string") throw invalidPolicy("Invalid Condition: missing operation identifier.");
    const op = operation.toLowerCase();
    const text = conditionText(raw);
    if (op === "content-length-range") {
      const [min, max] = args.map((a) => (typeof a === "string" && /^\d+$/.test(a) ? Number(a) : a));
      if (args.length !== 2 || !Number.isSafeInteger(min) || !Number.isSafeInteger(max) || (min as number) < 0) {
        throw invalidPolicy("Invalid content-length-range condition: two whole numbers expected.");
      }
      return { op, min: min as number, max: max as number, text };
    }
    if (op !== "eq" && op !== "starts-with") throw invalidPolicy(`Invalid Condition: unknown operation '${operation}'.`);
    const [field, value] = args;
    if (args.length !== 2 || typeof field !== "string" || typeof value !== "string") {
      throw invalidPolicy(`Invalid Condition: '${operation}' takes a field name and a string.`);
    }
    if (op === "starts-with" && exactOnly.has(field.toLowerCase())) throw invalidPolicy(`Invalid Condition: ${field} can only be matched exactly.`);
    return { op, field: field.toLowerCase(), value, text };
  }
  if (typeof raw === "object" && raw !== null) {
    const entries = Object.entries(raw);
    if (entries.length !== 1) throw invalidPolicy("Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.");
    const [[field, value]] = entries;
    if (typeof value !== "string") throw invalidPolicy("Invalid Simple-Condition: value must be a string.");
    // S3 names a simple condition that fails in its long form
    return { op: "eq", field: `$${field.toLowerCase()}`, value, text: conditionText(["eq", `$${field}`, value]) };
  }
  throw invalidPolicy("Invalid Condition: a condition is an object or an array.");
}

/** Fields S3 matches only exactly (its documentation's table): a prefix of a bucket or a signing field would grant too much. */
const exactOnly = new Set(["$bucket", "$x-amz-algorithm", "$x-amz-credential", "$x-amz-date", "$success_action_status"]);

/** A condition as S3 quotes it in its refusal: `["eq", "$key", "a"]`. */
function conditionText(condition: unknown[]): string {
  return `[${condition.map((part) => JSON.stringify(part)).join(", ")}]`;
}

/**
 * Fields a form may carry with no condition naming them: the signature, the file, the policy
 * itself and x-ignore-* (as S3 documents), and the checksums of the file (x-amz-checksum-*,
 * Content-MD5), which can only make an upload fail, never allow more.
 */
function needsNoCondition(name: string): boolean {
  return name === "x-amz-signature" || name === "file" || name === "policy" || name.startsWith("x-ignore-") ||
    name.startsWith("x-amz-checksum-") || name === "content-md5";
}

/**
 * Checks a form against its policy, as S3 does: not expired, every condition met by the form's
 * field of that name (names without regard to case; `$bucket` by the bucket posted to), and every
 * field but those exempt named by some condition. Returns the file sizes the policy allows.
 * `fields`: lowercase names, values after ${filename} was replaced.
 */
export function checkPolicy(policy: PostPolicy, fields: ReadonlyMap<string, string>, bucket: string, nowMs: number): LengthRange {
  if (nowMs > policy.expirationMs) throw deniedByPolicy("Policy expired.");
  const range: LengthRange = { min: 0, max: Number.MAX_SAFE_INTEGER };
  const covered = new Set<string>();
  for (const condition of policy.conditions) {
    if (condition.op === "content-length-range") {
      range.min = Math.max(range.min, condition.min);
      range.max = Math.min(range.max, condition.max);
      continue;
    }
    // a field is named with its "$"; without it the condition names no field and cannot hold
    const name = condition.field.startsWith("$") ? condition.field.slice(1) : undefined;
    if (name !== undefined) covered.add(name);
    const value = name === "bucket" ? bucket : name === undefined ? undefined : fields.get(name);
    if (value === undefined || !satisfies(condition.op, name!, value, condition.value)) {
      throw deniedByPolicy(`Policy Condition failed: ${condition.text}`);
    }
  }
  const extra = [...fields.keys()].filter((name) => !covered.has(name) && !needsNoCondition(name));
  if (extra.length > 0) throw deniedByPolicy(`Extra input fields: ${extra.join(", ")}`);
  return range;
}

/** Content-Type values with commas are lists for starts-with: every item must begin with the prefix. */
function satisfies(op: "eq" | "starts-with", name: string, value: string, expected: string): boolean {
  if (op === "eq") return value === expected;
  const items = name === "content-type" ? value.split(",").map((item) => item.trim()) : [value];
  return items.every((item) => item.startsWith(expected));
}
