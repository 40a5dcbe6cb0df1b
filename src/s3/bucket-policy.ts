/**
 * Bucket policies as far as s3d keeps them: statements that allow or deny S3 actions on the bucket
 * and its objects to everyone ("*") or to s3d users by name (`arn:aws:iam:::user/NAME`, the form
 * Ceph RGW gives its users, with no account). An s3d user without bucket limits may do everything
 * anyway, so an Allow matters to anonymous requests and to users limited to some buckets, and a
 * Deny binds whoever it names, signed or not (a Deny naming "*" binds every caller, as in S3).
 * Parsing (MalformedPolicy with S3's messages), the document GetBucketPolicy gives back, and
 * evaluation. Pure.
 */
import { S3Error } from "../errors.ts";
import { isUserName } from "./auth.ts";
import { conditionsHold, limitsSource, parseConditions, type Condition, type ConditionValues } from "./policy-conditions.ts";
import { globMatches, globMatchesSomeStartingWith } from "./wildcard.ts";

export interface Statement {
  effect: "Allow" | "Deny";
  /** whom it names: everyone, or these s3d users */
  principals: "*" | readonly string[];
  /** action patterns, lowercase ("s3:get*"): actions are named without regard to case */
  actions: string[];
  /** resource patterns ("arn:aws:s3:::bucket" or "arn:aws:s3:::bucket/<key pattern>"), matched exactly */
  resources: string[];
  /** the statement applies only to requests for which all of these hold */
  conditions: Condition[];
}

export interface BucketPolicy {
  statements: Statement[];
  /** what GetBucketPolicy answers: the document as sent, compacted */
  document: string;
}

/** S3's limit on a bucket policy document. */
export const policyBytesMax = 20 * 1024;

const malformed = (message: string) => new S3Error("MalformedPolicy", message);
const notServed = (what: string) =>
  new S3Error("NotImplemented", `${what} in bucket policies ${what.endsWith("s") ? "are" : "is"} not implemented by s3d: its policies name everyone ("*") or its users ("arn:aws:iam:::user/NAME").`);

/**
 * S3's actions on a bucket and on objects (the IAM service reference), lowercase: a policy's
 * patterns must match one of them, and each must apply to one of its statement's resources.
 */
const bucketActions = [
  "s3:createbucket", "s3:deletebucket", "s3:listbucket", "s3:listbucketversions", "s3:listbucketmultipartuploads", "s3:getbucketlocation",
  "s3:getbucketcors", "s3:putbucketcors", "s3:getbuckettagging", "s3:putbuckettagging", "s3:getbucketpolicy", "s3:putbucketpolicy",
  "s3:deletebucketpolicy", "s3:getbucketpolicystatus", "s3:getbucketversioning", "s3:putbucketversioning", "s3:getbucketacl", "s3:putbucketacl",
  "s3:getlifecycleconfiguration", "s3:putlifecycleconfiguration", "s3:getencryptionconfiguration", "s3:putencryptionconfiguration",
  "s3:getbucketwebsite", "s3:putbucketwebsite", "s3:deletebucketwebsite", "s3:getbucketlogging", "s3:putbucketlogging",
  "s3:getaccelerateconfiguration", "s3:putaccelerateconfiguration", "s3:getbucketrequestpayment", "s3:putbucketrequestpayment",
  "s3:getbucketownershipcontrols", "s3:putbucketownershipcontrols", "s3:getbucketpublicaccessblock", "s3:putbucketpublicaccessblock",
  "s3:getreplicationconfiguration", "s3:putreplicationconfiguration", "s3:getbucketobjectlockconfiguration", "s3:putbucketobjectlockconfiguration",
  "s3:getbucketnotification", "s3:putbucketnotification", "s3:getinventoryconfiguration", "s3:putinventoryconfiguration",
  "s3:getmetricsconfiguration", "s3:putmetricsconfiguration", "s3:getanalyticsconfiguration", "s3:putanalyticsconfiguration",
  "s3:getintelligenttieringconfiguration", "s3:putintelligenttieringconfiguration", "s3:listbucketbytags", "s3:getbucketownershipcontrols",
];
const objectActions = [
  "s3:getobject", "s3:getobjectversion", "s3:getobjectattributes", "s3:getobjectversionattributes", "s3:putobject", "s3:deleteobject",
  "s3:deleteobjectversion", "s3:getobjecttagging", "s3:getobjectversiontagging", "s3:putobjecttagging", "s3:putobjectversiontagging",
  "s3:deleteobjecttagging", "s3:deleteobjectversiontagging", "s3:getobjectacl", "s3:getobjectversionacl", "s3:putobjectacl",
  "s3:putobjectversionacl", "s3:abortmultipartupload", "s3:listmultipartuploadparts", "s3:restoreobject", "s3:getobjectretention",
  "s3:putobjectretention", "s3:getobjectlegalhold", "s3:putobjectlegalhold", "s3:bypassgovernanceretention",
  "s3:replicateobject", "s3:replicatedelete", "s3:replicatetags", "s3:getobjectversionforreplication",
  "s3:objectowneroverridetobucketowner", "s3:getobjecttorrent", "s3:getobjectversiontorrent",
];

function strings(value: unknown, onWrongType: () => S3Error): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.some((v) => typeof v !== "string")) throw onWrongType();
  return list as string[];
}

/** The policy document a PutBucketPolicy sends for `bucket`, checked as S3 checks it. */
export function parseBucketPolicy(text: string, bucket: string): BucketPolicy {
  if (!text.startsWith("{")) throw malformed("Policies must be valid JSON and the first byte must be '{'");
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw malformed("This policy contains invalid Json");
  }
  const top = document as Record<string, unknown>;
  const unknownKey = Object.keys(top).find((k) => !["Version", "Id", "Statement"].includes(k));
  if (unknownKey !== undefined) throw malformed(`Unknown field ${unknownKey}`);
  if (top.Version !== undefined && top.Version !== "2012-10-17" && top.Version !== "2008-10-17") throw malformed("The policy must contain a valid version string");
  if (top.Statement === undefined) throw malformed("Missing required field Statement");
  const raw = Array.isArray(top.Statement) ? top.Statement : [top.Statement];
  if (raw.length === 0) throw malformed("Could not parse the policy: Statement is empty!");
  return { statements: raw.map((s) => parseStatement(s, bucket)), document: JSON.stringify(document) };
}

function parseStatement(raw: unknown, bucket: string): Statement {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw malformed("Invalid policy syntax.");
  const s = raw as Record<string, unknown>;
  const unknownKey = Object.keys(s).find((k) => !["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"].includes(k));
  if (unknownKey !== undefined) throw malformed(`Unknown field ${unknownKey}`);
  for (const [key, what] of [["NotPrincipal", "NotPrincipal"], ["NotAction", "NotAction"], ["NotResource", "NotResource"]]) {
    if (s[key] !== undefined) throw notServed(what);
  }
  if (s.Effect === undefined) throw malformed("Missing required field Effect");
  if (s.Effect !== "Allow" && s.Effect !== "Deny") throw malformed(`Invalid effect: ${String(s.Effect)}`);
  if (s.Principal === undefined) throw malformed("Missing required field Principal");
  const principals = principalsOf(s.Principal);
  if (s.Action === undefined) throw malformed("Missing required field Action");
  if (s.Resource === undefined) throw malformed("Missing required field Resource");
  const actions = strings(s.Action, () => malformed("Policy has invalid action")).map((a) => a.toLowerCase());
  for (const action of actions) {
    if (action !== "*" && !(action.startsWith("s3:") && [...bucketActions, ...objectActions].some((known) => globMatches(action, known)))) {
      throw malformed("Policy has invalid action");
    }
  }
  const resources = strings(s.Resource, () => malformed("Policy has invalid resource"));
  if (resources.some((r) => r.includes("${"))) throw notServed("Policy variables (${...})");
  // an S3 ARN that names this bucket or objects in it; wildcards may name others too (arn:aws:s3:::*)
  const bucketArn = resourceArn(bucket, undefined);
  const namesBucket = (r: string) => globMatches(r, bucketArn);
  const namesObjects = (r: string) => globMatchesSomeStartingWith(r, `${bucketArn}/`);
  if (resources.some((r) => !r.startsWith(s3ArnPrefix) || (!namesBucket(r) && !namesObjects(r)))) throw malformed("Policy has invalid resource");
  const appliesToBucket = resources.some(namesBucket) && actions.some((a) => bucketActions.some((known) => globMatches(a, known)));
  const appliesToObjects = resources.some(namesObjects) && actions.some((a) => objectActions.some((known) => globMatches(a, known)));
  if (!appliesToBucket && !appliesToObjects) throw malformed("Action does not apply to any resource(s) in statement");
  return { effect: s.Effect, principals, actions, resources, conditions: s.Condition === undefined ? [] : parseConditions(s.Condition) };
}

/** How a policy names an s3d user: an IAM user ARN with no account, as Ceph RGW names its users. */
const userArnPrefix = "arn:aws:iam:::user/";

/**
 * Whom a statement names: everyone ("*", {"AWS": "*"}, {"AWS": ["*"]}; "*" among others is
 * everyone too, as in IAM) or s3d users by name ({"AWS": "arn:aws:iam:::user/NAME"} or a list).
 * A name that is no user's names nobody: users come and go with the configuration.
 */
function principalsOf(principal: unknown): "*" | string[] {
  if (principal === "*") return "*";
  if (typeof principal === "string") throw malformed("Invalid policy syntax.");
  if (typeof principal !== "object" || principal === null || Array.isArray(principal)) throw malformed("Invalid policy syntax.");
  const kinds = Object.keys(principal);
  if (kinds.length !== 1 || kinds[0] !== "AWS") throw notServed(`A principal of type ${kinds.find((k) => k !== "AWS") ?? "none"}`);
  const names = strings((principal as Record<string, unknown>).AWS, () => malformed("Invalid policy syntax."));
  if (names.includes("*")) return "*";
  return names.map((arn) => {
    if (!arn.startsWith(userArnPrefix)) throw notServed(`The principal ${JSON.stringify(arn.slice(0, 100))}`);
    const user = arn.slice(userArnPrefix.length);
    // (a user is named whole: no wildcards, which IAM refuses in principals, and no paths)
    if (!isUserName(user)) throw malformed("Invalid principal in policy");
    return user;
  });
}

/** Whether a statement names the requester: `user` is the signer's name, undefined when unsigned. */
function names(s: Statement, user: string | undefined): boolean {
  return s.principals === "*" || (user !== undefined && s.principals.includes(user));
}

const s3ArnPrefix = "arn:aws:s3:::";

/** The ARN a policy's resources name: the bucket's, or one of its objects'. */
export function resourceArn(bucket: string, key: string | undefined): string {
  return key === undefined ? `${s3ArnPrefix}${bucket}` : `${s3ArnPrefix}${bucket}/${key}`;
}

/**
 * What a policy says of a request for all of `actions` on `resource`: "deny" when a Deny statement
 * names any of them, "allow" when Allow statements name every one, "none" otherwise. A statement
 * counts only where its conditions hold for the request's `values`.
 */
export function evaluate(policy: BucketPolicy | undefined, actions: readonly string[], resource: string, values: ConditionValues, user: string | undefined): "allow" | "deny" | "none" {
  if (policy === undefined) return "none";
  const applies = (s: Statement, action: string) =>
    names(s, user) && s.actions.some((a) => globMatches(a, action.toLowerCase())) && s.resources.some((r) => globMatches(r, resource)) && conditionsHold(s.conditions, values);
  if (policy.statements.some((s) => s.effect === "Deny" && actions.some((a) => applies(s, a)))) return "deny";
  return actions.every((a) => policy.statements.some((s) => s.effect === "Allow" && applies(s, a))) ? "allow" : "none";
}

/** Whether some Allow statement naming the requester, whose conditions hold, names `action` on any of the bucket's resources. */
export function allowsSomewhere(policy: BucketPolicy | undefined, action: string, values: ConditionValues, user: string | undefined): boolean {
  return (
    policy?.statements.some((s) => s.effect === "Allow" && names(s, user) && s.actions.some((a) => globMatches(a, action.toLowerCase())) && conditionsHold(s.conditions, values)) ?? false
  );
}

/**
 * Whether a policy opens anything to everyone (GetBucketPolicyStatus): an Allow naming "*", unless
 * its conditions keep it to some source addresses, which S3 does not count as public.
 */
export function isPublic(policy: BucketPolicy): boolean {
  return policy.statements.some((s) => s.effect === "Allow" && s.principals === "*" && !limitsSource(s.conditions));
}
