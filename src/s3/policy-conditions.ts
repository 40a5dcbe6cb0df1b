/**
 * The Condition block of a bucket policy's statement: parsed with S3's refusals, and evaluated
 * against what a request carries (its source address, TLS, time, headers, listing parameters).
 * IAM's rules: every operator of a block must hold, every key of an operator, and any one value of
 * a key; a key the request does not carry fails a positive operator and passes a negated one, and
 * `...IfExists` passes. Keys that s3d cannot know (principals' tags, VPCs, KMS keys), operators
 * on ARNs and binary values, and the set operators (every s3d key has one value) are
 * NotImplemented, never ignored. Pure.
 */
import { isIP } from "node:net";
import { S3Error } from "../errors.ts";
import { isoTimeMs } from "../util/iso-time.ts";
import { globMatches } from "./wildcard.ts";

/** A request's values for condition keys (lowercase names); undefined where the request has none. */
export type ConditionValues = (key: string) => string | undefined;

type Family = "String" | "Numeric" | "Date" | "Bool" | "Ip" | "Null";

interface Operator {
  family: Family;
  /** the test on one request value and one policy value */
  test: (actual: string, expected: string) => boolean;
  /** negated operators (StringNotEquals, NotIpAddress, ...) hold where the key is missing */
  negated: boolean;
}

export interface Condition {
  operator: Operator;
  key: string;
  values: string[];
  ifExists: boolean;
}

const malformed = (message: string) => new S3Error("MalformedPolicy", message);
const notServed = (what: string) => new S3Error("NotImplemented", `${what} in bucket policy conditions is not implemented by s3d`);

const number = (text: string) => (/^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text.trim()) : NaN);

/** A time as IAM takes dates: epoch seconds, or W3C ISO 8601 (UTC unless it names an offset). */
const time = (text: string) => (/^\d{1,12}$/.test(text) ? Number(text) * 1000 : isoTimeMs(text));

function compare(parse: (s: string) => number, holds: (a: number, b: number) => boolean) {
  return (actual: string, expected: string) => {
    const a = parse(actual);
    const b = parse(expected);
    return !Number.isNaN(a) && !Number.isNaN(b) && holds(a, b);
  };
}

const relations: Array<[string, (a: number, b: number) => boolean, boolean]> = [
  ["Equals", (a, b) => a === b, false],
  ["NotEquals", (a, b) => a !== b, true],
  ["LessThan", (a, b) => a < b, false],
  ["LessThanEquals", (a, b) => a <= b, false],
  ["GreaterThan", (a, b) => a > b, false],
  ["GreaterThanEquals", (a, b) => a >= b, false],
];

const operators = new Map<string, Operator>([
  ["StringEquals", { family: "String", test: (a, e) => a === e, negated: false }],
  ["StringNotEquals", { family: "String", test: (a, e) => a !== e, negated: true }],
  ["StringEqualsIgnoreCase", { family: "String", test: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: false }],
  ["StringNotEqualsIgnoreCase", { family: "String", test: (a, e) => a.toLowerCase() !== e.toLowerCase(), negated: true }],
  ["StringLike", { family: "String", test: (a, e) => globMatches(e, a), negated: false }],
  ["StringNotLike", { family: "String", test: (a, e) => !globMatches(e, a), negated: true }],
  ...relations.map(([r, holds, negated]): [string, Operator] => [`Numeric${r}`, { family: "Numeric", test: compare(number, holds), negated }]),
  ...relations.map(([r, holds, negated]): [string, Operator] => [`Date${r}`, { family: "Date", test: compare(time, holds), negated }]),
  ["Bool", { family: "Bool", test: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: false }],
  ["IpAddress", { family: "Ip", test: (a, e) => inCidr(a, e), negated: false }],
  ["NotIpAddress", { family: "Ip", test: (a, e) => !inCidr(a, e), negated: true }],
  ["Null", { family: "Null", test: () => false, negated: false }],
]);

/**
 * The condition keys s3d knows, lowercase, with the operator families that fit them. Any other
 * global key (aws:PrincipalOrgID, aws:SourceVpc, ...) or S3 key (s3:ExistingObjectTag/..., s3:locationconstraint)
 * is NotImplemented: s3d has no organisations, VPCs or object tags in its authorization.
 */
const knownKeys = new Map<string, Family[]>([
  ["aws:sourceip", ["Ip"]],
  ["aws:securetransport", ["Bool"]],
  ["aws:currenttime", ["Date"]],
  ["aws:epochtime", ["Date", "Numeric"]],
  ["aws:useragent", ["String"]],
  ["aws:referer", ["String"]],
  ["s3:prefix", ["String"]],
  ["s3:delimiter", ["String"]],
  ["s3:max-keys", ["Numeric"]],
  ["s3:authtype", ["String"]],
  ["s3:signatureversion", ["String"]],
  ["s3:x-amz-acl", ["String"]],
  ["s3:x-amz-content-sha256", ["String"]],
  ["s3:x-amz-copy-source", ["String"]],
  ["s3:x-amz-metadata-directive", ["String"]],
  ["s3:x-amz-server-side-encryption", ["String"]],
  ["s3:x-amz-server-side-encryption-customer-algorithm", ["String"]],
  ["s3:x-amz-storage-class", ["String"]],
  // what a write asks its version's Object Lock to be (PutObject's headers, PutObjectRetention's and PutObjectLegalHold's documents)
  ["s3:object-lock-mode", ["String"]],
  ["s3:object-lock-retain-until-date", ["Date"]],
  ["s3:object-lock-remaining-retention-days", ["Numeric"]],
  ["s3:object-lock-legal-hold", ["String"]],
]);

/** A Condition block as S3 takes it: {"Operator": {"key": value or [values]}}. */
export function parseConditions(block: unknown): Condition[] {
  if (typeof block !== "object" || block === null || Array.isArray(block)) throw malformed("Invalid Condition block");
  const conditions: Condition[] = [];
  for (const [written, keys] of Object.entries(block)) {
    // Set operators are for keys with many values; every key s3d knows has one, and on those
    // ForAllValues holds for a request without the key at all: refused rather than a trap.
    if (/^(ForAnyValue|ForAllValues):/.test(written)) throw notServed(`The set operator ${written} (s3d's condition keys each have one value)`);
    const ifExists = written.endsWith("IfExists");
    const name = ifExists ? written.slice(0, -"IfExists".length) : written;
    const operator = operators.get(name);
    if (operator === undefined) {
      if (/^(Arn|Binary)/.test(name)) throw notServed(`The operator ${written}`);
      throw malformed(`Invalid Condition type : ${written}`);
    }
    if (ifExists && operator.family === "Null") throw malformed(`Invalid Condition type : ${written}`);
    if (typeof keys !== "object" || keys === null || Array.isArray(keys) || Object.keys(keys).length === 0) throw malformed(`Invalid Condition block for ${written}`);
    for (const [keyName, value] of Object.entries(keys)) {
      const key = keyName.toLowerCase();
      const families = knownKeys.get(key);
      if (families === undefined) throw notServed(`The condition key ${keyName}`);
      const values = (Array.isArray(value) ? value : [value]).map((v) => (typeof v === "number" || typeof v === "boolean" ? String(v) : v));
      if (values.length === 0 || values.some((v) => typeof v !== "string")) throw malformed(`Invalid Condition value for ${keyName}`);
      if (values.some((v: string) => v.includes("${"))) throw notServed("Policy variables (${...})");
      checkValues(operator, name, keyName, families, values as string[]);
      conditions.push({ operator, key, values: values as string[], ifExists });
    }
  }
  return conditions;
}

function checkValues(operator: Operator, name: string, keyName: string, families: Family[], values: string[]): void {
  const bad = () => malformed(`Invalid Condition value for ${name} ${keyName}: ${values.join(", ")}`);
  if (operator.family !== "Null" && !families.includes(operator.family)) throw malformed(`The operator ${name} cannot be used with ${keyName}`);
  switch (operator.family) {
    case "Ip":
      if (values.some((v) => cidrOf(v) === undefined)) throw bad();
      return;
    case "Numeric":
      if (values.some((v) => Number.isNaN(number(v)))) throw bad();
      return;
    case "Date":
      if (values.some((v) => Number.isNaN(time(v)))) throw bad();
      return;
    case "Bool":
    case "Null":
      if (values.some((v) => v.toLowerCase() !== "true" && v.toLowerCase() !== "false")) throw bad();
      return;
    case "String":
      return;
  }
}

/** Whether every condition holds for a request carrying `values`. */
export function conditionsHold(conditions: readonly Condition[], values: ConditionValues): boolean {
  return conditions.every((c) => holds(c, values(c.key)));
}

function holds(c: Condition, actual: string | undefined): boolean {
  if (c.operator.family === "Null") return c.values.some((v) => (v.toLowerCase() === "true") === (actual === undefined));
  // IAM: a key the request lacks matches no value, so a positive operator fails and a negated one
  // (StringNotEquals, NotIpAddress, ...) holds; ...IfExists holds whatever the operator
  if (actual === undefined) return c.ifExists || c.operator.negated;
  // a negated operator holds when the value matches none of the policy's values
  return c.operator.negated ? c.values.every((e) => c.operator.test(actual, e)) : c.values.some((e) => c.operator.test(actual, e));
}

/**
 * Whether the conditions keep a statement to some source addresses, so that S3 would not call it
 * public (GetBucketPolicyStatus): an IpAddress whose every block is an IPv4 /8 or narrower, or an
 * IPv6 /32 or narrower. Wider blocks, IfExists and NotIpAddress let in callers from anywhere.
 */
export function limitsSource(conditions: readonly Condition[]): boolean {
  const narrow = (v: string) => {
    const cidr = cidrOf(v);
    return cidr !== undefined && cidr.bits >= (cidr.bytes.length === 4 ? 8 : 32);
  };
  return conditions.some((c) => c.key === "aws:sourceip" && c.operator.family === "Ip" && !c.operator.negated && !c.ifExists && c.values.every(narrow));
}

interface Cidr {
  /** the address's bytes (4 or 16) */
  bytes: number[];
  bits: number;
}

/**
 * An address or CIDR block, v4 or v6; undefined when it is neither. An IPv4-mapped IPv6 block of
 * /96 or narrower is its IPv4 block, so that it matches IPv4 clients as written.
 */
function cidrOf(text: string): Cidr | undefined {
  const [address, prefix, ...rest] = text.trim().split("/");
  // (zone ids, "fe80::1%eth0", name an interface of the machine that wrote them, not an address)
  if (rest.length > 0 || address.includes("%")) return undefined;
  const bytes = addressBytes(address);
  if (bytes === undefined) return undefined;
  const bits = prefix === undefined ? bytes.length * 8 : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (!(bits >= 0 && bits <= bytes.length * 8)) return undefined;
  return isMappedV4(bytes) && bits >= 96 ? { bytes: bytes.slice(12), bits: bits - 96 } : { bytes, bits };
}

/** ::ffff:a.b.c.d, the form in which a dual-stack socket shows an IPv4 peer. */
function isMappedV4(bytes: number[]): boolean {
  return bytes.length === 16 && bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

/** "a.b.c.d" as the two IPv6 groups it takes the place of. */
function v4AsGroups(dotted: string): string {
  const [a, b, c, d] = dotted.split(".").map(Number);
  return `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

function addressBytes(address: string): number[] | undefined {
  const kind = isIP(address);
  if (kind === 4) return address.split(".").map(Number);
  if (kind !== 6 || address.includes("%")) return undefined;
  // an IPv4 tail ("::ffff:10.0.0.1") becomes its two groups
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  const text = v4 ? address.slice(0, -v4[1].length) + v4AsGroups(v4[1]) : address;
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = [...front, ...Array(8 - front.length - back.length).fill(0), ...back];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/**
 * Whether `address` (the request's source) lies in `block`. An IPv4-mapped IPv6 source is its IPv4
 * address, and only IPv4 blocks hold it: an IPv6 block such as ::/32 would otherwise take in every
 * IPv4 client of a dual-stack socket while counting as narrow (limitsSource), where AWS, which never
 * shows an IPv4 client as IPv6, takes in none.
 */
function inCidr(address: string, block: string): boolean {
  const cidr = cidrOf(block);
  let bytes = addressBytes(address);
  if (cidr === undefined || bytes === undefined) return false;
  if (isMappedV4(bytes)) bytes = bytes.slice(12);
  if (bytes.length !== cidr.bytes.length) return false;
  for (let bit = 0; bit < cidr.bits; bit++) {
    const mask = 0x80 >> bit % 8;
    if ((bytes[bit >> 3] & mask) !== (cidr.bytes[bit >> 3] & mask)) return false;
  }
  return true;
}
