import { describe, expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { evaluate, isPublic, parseBucketPolicy, resourceArn } from "../../src/s3/bucket-policy.ts";
import { globMatches, globMatchesSomeStartingWith } from "../../src/s3/wildcard.ts";
import { int, pick } from "../sigv4/prng.ts";
import { fuzzIterations, fuzzRandom, mutated } from "../support/fuzz.ts";

const bucket = "site";
const policy = (...statements: unknown[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });
const allow = (action: unknown, resource: unknown, extra: Record<string, unknown> = {}) => ({ Effect: "Allow", Principal: "*", Action: action, Resource: resource, ...extra });
const deny = (action: unknown, resource: unknown) => ({ Effect: "Deny", Principal: { AWS: "*" }, Action: action, Resource: resource });

function refusal(text: string): { code: string; message: string } {
  try {
    parseBucketPolicy(text, bucket);
  } catch (e) {
    if (e instanceof S3Error) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("parseBucketPolicy", () => {
  test("accepts the public-read policy of AWS's guide and mc's download policy, and gives the document back compacted", () => {
    const guide = `{
      "Version": "2012-10-17",
      "Statement": [{ "Sid": "PublicReadGetObject", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::${bucket}/*"] }]
    }`;
    expect(parseBucketPolicy(guide, bucket).document).toBe(JSON.stringify(JSON.parse(guide)));
    const mc = `{"Version":"2012-10-17","Statement":[{"Action":["s3:GetBucketLocation","s3:ListBucket"],"Effect":"Allow","Principal":{"AWS":["*"]},"Resource":["arn:aws:s3:::${bucket}"],"Sid":""},{"Action":["s3:GetObject"],"Effect":"Allow","Principal":{"AWS":["*"]},"Resource":["arn:aws:s3:::${bucket}/*"],"Sid":""}]}`;
    expect(parseBucketPolicy(mc, bucket).statements.length).toBe(2);
    // actions of S3's whole reference, replication and configuration ones included
    expect(parseBucketPolicy(policy(allow(["s3:ReplicateObject", "s3:GetObjectVersionForReplication", "s3:ObjectOwnerOverrideToBucketOwner"], `arn:aws:s3:::${bucket}/*`), allow("s3:GetInventoryConfiguration", `arn:aws:s3:::${bucket}`)), bucket).statements.length).toBe(2);
    // resources with wildcards that take in this bucket, as S3 takes them: "arn:aws:s3:::*" names the bucket and its objects
    for (const resources of [["arn:aws:s3:::*"], ["arn:aws:s3:::*", "arn:aws:s3:::*/*"], ["arn:aws:s3:::s?te/*"], ["arn:aws:s3:::si*"]]) {
      expect(parseBucketPolicy(policy(allow(["s3:GetObject", "s3:ListBucket"], resources)), bucket).statements.length).toBe(1);
    }
    // a single statement, no Version (2008-10-17), actions in any case
    expect(parseBucketPolicy(JSON.stringify({ Statement: allow("S3:GETOBJECT", `arn:aws:s3:::${bucket}/*`) }), bucket).statements.length).toBe(1);
  });

  test("refuses what S3 refuses with MalformedPolicy and its messages", () => {
    const cases: Array<[string, string]> = [
      ["", "Policies must be valid JSON and the first byte must be '{'"],
      [` ${policy(allow("s3:GetObject", `arn:aws:s3:::${bucket}/*`))}`, "Policies must be valid JSON and the first byte must be '{'"],
      ["[1]", "Policies must be valid JSON and the first byte must be '{'"],
      ["{asdf", "This policy contains invalid Json"],
      ["{}", "Missing required field Statement"],
      [JSON.stringify({ Statement: [] }), "Could not parse the policy: Statement is empty!"],
      [JSON.stringify({ Version: "2020-01-01", Statement: [allow("s3:GetObject", `arn:aws:s3:::${bucket}/*`)] }), "The policy must contain a valid version string"],
      [policy({ Principal: "*", Action: "s3:GetObject", Resource: `arn:aws:s3:::${bucket}/*` }), "Missing required field Effect"],
      [policy({ Effect: "Maybe", Principal: "*", Action: "s3:GetObject", Resource: `arn:aws:s3:::${bucket}/*` }), "Invalid effect: Maybe"],
      [policy({ Effect: "Allow", Action: "s3:GetObject", Resource: `arn:aws:s3:::${bucket}/*` }), "Missing required field Principal"],
      [policy(allow("s3:GetObject", `arn:aws:s3:::${bucket}/*`, { Principal: "someone" })), "Invalid policy syntax."],
      // a user is named whole: no wildcards (IAM refuses them in principals), no paths, no empty name
      ...["arn:aws:iam:::user/*", "arn:aws:iam:::user/path/bob", "arn:aws:iam:::user/", "arn:aws:iam:::user/a?c"].map(
        (arn) => [policy(allow("s3:GetObject", `arn:aws:s3:::${bucket}/*`, { Principal: { AWS: arn } })), "Invalid principal in policy"] as [string, string],
      ),
      [policy(allow("s3:GetObjekt", `arn:aws:s3:::${bucket}/*`)), "Policy has invalid action"],
      [policy(allow("ec2:*", `arn:aws:s3:::${bucket}/*`)), "Policy has invalid action"],
      [policy(allow("s3:GetObject", "arn:aws:s3:::other/*")), "Policy has invalid resource"],
      [policy(allow("s3:GetObject", "*")), "Policy has invalid resource"],
      [policy(allow("s3:GetObject", "arn:aws:s3:::other*")), "Policy has invalid resource"],
      [policy(allow("s3:GetObject", ["arn:aws:s3:::*/*", "arn:aws:s3:::site-other/*"])), "Policy has invalid resource"],
      [policy(allow("s3:ListBucket", "arn:aws:s3:::*/*")), "Action does not apply to any resource(s) in statement"],
      [policy(allow("s3:GetObject", `arn:aws:s3:::${bucket}`)), "Action does not apply to any resource(s) in statement"],
      [policy(allow("s3:ListBucket", `arn:aws:s3:::${bucket}/*`)), "Action does not apply to any resource(s) in statement"],
      [policy({ ...allow("s3:GetObject", `arn:aws:s3:::${bucket}/*`), Extra: 1 }), "Unknown field Extra"],
    ];
    for (const [text, message] of cases) expect(refusal(text)).toEqual({ code: "MalformedPolicy", message });
  });

  test("what s3d cannot honour is NotImplemented, never ignored: condition keys it cannot know, principals other than everyone and its users, Not* elements", () => {
    const object = `arn:aws:s3:::${bucket}/*`;
    for (const statement of [
      allow("s3:GetObject", object, { Condition: { StringEquals: { "aws:PrincipalOrgID": "o-123" } } }),
      allow("s3:GetObject", object, { Condition: { ArnLike: { "aws:SourceArn": "arn:aws:cloudfront::1:distribution/*" } } }),
      allow("s3:GetObject", object, { Principal: { AWS: "arn:aws:iam::123456789012:root" } }),
      allow("s3:GetObject", object, { Principal: { AWS: "arn:aws:iam::123456789012:user/alice" } }),
      allow("s3:GetObject", object, { Principal: { AWS: ["arn:aws:iam:::user/alice", "123456789012"] } }),
      allow("s3:GetObject", object, { Principal: { Service: "cloudfront.amazonaws.com" } }),
      allow("s3:GetObject", object, { Principal: { CanonicalUser: "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be" } }),
      { Effect: "Deny", NotPrincipal: { AWS: "*" }, Action: "s3:GetObject", Resource: object },
      { Effect: "Allow", Principal: "*", NotAction: "s3:PutObject", Resource: object },
      { Effect: "Allow", Principal: "*", Action: "s3:GetObject", NotResource: object },
      allow("s3:GetObject", `arn:aws:s3:::${bucket}/home/\${aws:username}/*`),
    ]) {
      expect(refusal(policy(statement)).code).toBe("NotImplemented");
    }
  });

  test("property: any mutation of a policy parses or is refused with an S3 error, never another failure", () => {
    const rand = fuzzRandom(9);
    const valid = policy(allow(["s3:GetObject", "s3:List*"], [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`]), deny("s3:Delete*", `arn:aws:s3:::${bucket}/keep/*`));
    const pieces = ['"', "[", "]", "{", "}", ",", ":", "*", "?", "null", "1", '"Allow"', '"s3:*"', " "];
    for (let i = 0; i < fuzzIterations(2000); i++) {
      const text = mutated(valid, rand, pieces, 4);
      try {
        parseBucketPolicy(text, bucket);
      } catch (e) {
        expect(e).toBeInstanceOf(S3Error);
        expect(["MalformedPolicy", "NotImplemented"]).toContain((e as S3Error).code);
      }
    }
  });
});

describe("globMatches", () => {
  test("property: agrees with a regular expression of the same pattern", () => {
    const rand = fuzzRandom(21);
    const letters = ["a", "b", "/", "*", "?"];
    const word = (max: number, from: string[]) => Array.from({ length: int(rand, max + 1) }, () => pick(rand, from)).join("");
    for (let i = 0; i < fuzzIterations(5000); i++) {
      const pattern = word(6, letters);
      const text = word(8, ["a", "b", "/"]);
      const reference = new RegExp(`^${pattern.replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "s");
      expect(`${pattern} ${text} ${globMatches(pattern, text)}`).toBe(`${pattern} ${text} ${reference.test(text)}`);
    }
  });

  test("a pattern of many stars against a long key that fails takes linear-ish time, not exponential", () => {
    const started = performance.now();
    expect(globMatches(`arn:aws:s3:::${bucket}/${"*a".repeat(12)}*b`, `arn:aws:s3:::${bucket}/${"a".repeat(1024)}`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(200);
  });
});

describe("globMatchesSomeStartingWith", () => {
  test("a resource of 20,000 stars (a 20 KiB policy) is read at once, not in minutes", () => {
    const started = performance.now();
    expect(globMatchesSomeStartingWith(`arn:aws:s3:::${"*".repeat(20_000)}`, `arn:aws:s3:::${"a".repeat(63)}/`)).toBe(true);
    expect(globMatchesSomeStartingWith(`arn:aws:s3:::${"*?".repeat(10_000)}x`, `arn:aws:s3:::${"a".repeat(63)}/`)).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
  });

  test("property: true exactly when the pattern matches the prefix followed by some text (tried up to four characters)", () => {
    const rand = fuzzRandom(22);
    const letters = ["a", "b", "/", "*", "?"];
    const word = (max: number, from: string[]) => Array.from({ length: int(rand, max + 1) }, () => pick(rand, from)).join("");
    const suffixes = [""];
    for (let length = 1; length <= 4; length++) for (const s of suffixes.filter((x) => x.length === length - 1)) for (const c of ["a", "b", "/"]) suffixes.push(s + c);
    for (let i = 0; i < fuzzIterations(1500); i++) {
      const pattern = word(4, letters);
      const prefix = word(5, ["a", "b", "/"]);
      const reference = suffixes.some((suffix) => globMatches(pattern, prefix + suffix));
      expect(`${pattern} ${prefix} ${globMatchesSomeStartingWith(pattern, prefix)}`).toBe(`${pattern} ${prefix} ${reference}`);
    }
  });
});

describe("evaluate", () => {
  const object = (key: string) => resourceArn(bucket, key);
  /** a request that carries no condition keys */
  const none = () => undefined;
  test("an Allow names actions (without regard to case) and resources (exactly, * crossing /)", () => {
    const p = parseBucketPolicy(policy(allow("s3:Get*", `arn:aws:s3:::${bucket}/public/*`)), bucket);
    expect(evaluate(p, ["s3:GetObject"], object("public/a/b.txt"), none, undefined)).toBe("allow");
    expect(evaluate(p, ["s3:GetObject"], object("Public/a.txt"), none, undefined)).toBe("none");
    expect(evaluate(p, ["s3:PutObject"], object("public/a.txt"), none, undefined)).toBe("none");
    // every action a request needs must be allowed
    expect(evaluate(p, ["s3:GetObject", "s3:GetObjectAttributes"], object("public/x"), none, undefined)).toBe("allow");
    expect(evaluate(p, ["s3:GetObject", "s3:PutObject"], object("public/x"), none, undefined)).toBe("none");
    expect(evaluate(undefined, ["s3:GetObject"], object("public/x"), none, undefined)).toBe("none");
    expect(isPublic(p)).toBe(true);
  });

  test("statements naming users apply to those users only; a policy naming only users is not public", () => {
    const p = parseBucketPolicy(
      policy(
        { Effect: "Allow", Principal: { AWS: ["arn:aws:iam:::user/alice", "arn:aws:iam:::user/bob"] }, Action: "s3:GetObject", Resource: `arn:aws:s3:::${bucket}/shared/*` },
        { Effect: "Deny", Principal: { AWS: "arn:aws:iam:::user/bob" }, Action: "s3:GetObject", Resource: `arn:aws:s3:::${bucket}/shared/secret/*` },
      ),
      bucket,
    );
    expect(evaluate(p, ["s3:GetObject"], object("shared/a"), none, "alice")).toBe("allow");
    expect(evaluate(p, ["s3:GetObject"], object("shared/a"), none, "bob")).toBe("allow");
    expect(evaluate(p, ["s3:GetObject"], object("shared/a"), none, "carol")).toBe("none");
    expect(evaluate(p, ["s3:GetObject"], object("shared/a"), none, undefined)).toBe("none");
    expect(evaluate(p, ["s3:GetObject"], object("shared/secret/s"), none, "bob")).toBe("deny");
    expect(evaluate(p, ["s3:GetObject"], object("shared/secret/s"), none, "alice")).toBe("allow");
    expect(isPublic(p)).toBe(false);
    // "*" among users names everyone, as in IAM
    const everyone = parseBucketPolicy(policy(allow("s3:GetObject", `arn:aws:s3:::${bucket}/*`, { Principal: { AWS: ["arn:aws:iam:::user/alice", "*"] } })), bucket);
    expect(evaluate(everyone, ["s3:GetObject"], object("x"), none, undefined)).toBe("allow");
    expect(isPublic(everyone)).toBe(true);
  });

  test("a Deny wins over any Allow; ? is one character", () => {
    const p = parseBucketPolicy(policy(allow("s3:*", `arn:aws:s3:::${bucket}/*`), deny("s3:DeleteObject", `arn:aws:s3:::${bucket}/logs/202?/*`)), bucket);
    expect(evaluate(p, ["s3:DeleteObject"], object("logs/2026/x"), none, undefined)).toBe("deny");
    expect(evaluate(p, ["s3:DeleteObject"], object("logs/20267/x"), none, undefined)).toBe("allow");
    expect(evaluate(p, ["s3:GetObject"], object("logs/2026/x"), none, undefined)).toBe("allow");
    expect(isPublic(parseBucketPolicy(policy(deny("s3:*", `arn:aws:s3:::${bucket}/*`)), bucket))).toBe(false);
  });
});
