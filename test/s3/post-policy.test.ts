import { describe, expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { checkPolicy, parsePolicy, type PostPolicy } from "../../src/s3/post-policy.ts";
import { int } from "../sigv4/prng.ts";
import { fuzzIterations, fuzzRandom, mutated } from "../support/fuzz.ts";

const b64 = (document: unknown) => Buffer.from(typeof document === "string" ? document : JSON.stringify(document)).toString("base64");
const nowMs = Date.parse("2026-12-06T12:00:00Z");
const future = "2026-12-06T13:00:00.000Z";

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (e) {
    if (e instanceof S3Error) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error("expected a refusal");
}

const policyOf = (conditions: unknown[], expiration = future): PostPolicy => parsePolicy(b64({ expiration, conditions }));
const form = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe("parsePolicy", () => {
  test("reads the expiration with or without milliseconds, and each form of condition", () => {
    const policy = parsePolicy(b64({
      expiration: "2026-12-06T13:00:00Z",
      conditions: [{ bucket: "b" }, ["starts-with", "$Key", "up/"], ["EQ", "$acl", "private"], ["content-length-range", 1, "100"]],
    }));
    expect(policy.expirationMs).toBe(Date.parse("2026-12-06T13:00:00Z"));
    expect(policy.conditions).toEqual([
      { op: "eq", field: "$bucket", value: "b", text: '["eq", "$bucket", "b"]' },
      { op: "starts-with", field: "$key", value: "up/", text: '["starts-with", "$Key", "up/"]' },
      { op: "eq", field: "$acl", value: "private", text: '["EQ", "$acl", "private"]' },
      { op: "content-length-range", min: 1, max: 100, text: '["content-length-range", 1, "100"]' },
    ]);
  });

  test("refuses what is not a policy document with InvalidPolicyDocument and S3's messages", () => {
    const cases: Array<[string, string]> = [
      ["%%%", "Invalid Policy: Invalid Base64 encoding."],
      [b64("{not json"), "Invalid Policy: Invalid JSON."],
      [b64("[1]"), "Invalid Policy: Invalid JSON."],
      [b64({ expiration: future, conditions: [], statement: 1 }), "Invalid Policy: Unexpected: 'statement'"],
      [b64({ conditions: [] }), "Invalid Policy: Policy missing expiration."],
      [b64({ expiration: "2026-12-06 13:00:00", conditions: [] }), "Invalid Policy: Invalid 'expiration' value: '2026-12-06 13:00:00'"],
      [b64({ expiration: "2026-12-06T13:00:00+02:00", conditions: [] }), "Invalid Policy: Invalid 'expiration' value: '2026-12-06T13:00:00+02:00'"],
      [b64({ expiration: future }), "Invalid Policy: Policy missing conditions."],
      [b64({ expiration: "2030-02-30T00:00:00Z", conditions: [] }), "Invalid Policy: Invalid 'expiration' value: '2030-02-30T00:00:00Z'"],
      [b64({ expiration: future, conditions: [["starts-with", "$bucket", ""]] }), "Invalid Policy: Invalid Condition: $bucket can only be matched exactly."],
      [b64({ expiration: future, conditions: [["starts-with", "$X-Amz-Credential", "AK"]] }), "Invalid Policy: Invalid Condition: $X-Amz-Credential can only be matched exactly."],
      [b64({ expiration: future, conditions: [{ a: "1", b: "2" }] }), "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."],
      [b64({ expiration: future, conditions: [{ a: 1 }] }), "Invalid Policy: Invalid Simple-Condition: value must be a string."],
      [b64({ expiration: future, conditions: [[1, "$a", "b"]] }), "Invalid Policy: Invalid Condition: missing operation identifier."],
    ];
    for (const [policy, message] of cases) expect(refusal(() => parsePolicy(policy))).toEqual({ code: "InvalidPolicyDocument", message });
    for (const bad of [["content-length-range", -1, 5], ["content-length-range", 1], ["content-length-range", "a", 5], ["between", "$key", "a"], ["eq", "$key"], ["eq", "$key", 5], "text"]) {
      expect(refusal(() => policyOf([bad])).code).toBe("InvalidPolicyDocument");
    }
  });
});

describe("parsePolicy, fuzzed", () => {
  test("property: any mutation of a policy either parses or is InvalidPolicyDocument, never another failure", () => {
    const rand = fuzzRandom(5);
    const valid = JSON.stringify({ expiration: future, conditions: [{ bucket: "b" }, ["starts-with", "$key", "up/"], ["content-length-range", 1, 10], ["eq", "$acl", "private"]] });
    const pieces = ['"', "[", "]", "{", "}", ",", ":", "-1", "1e999", "null", "true", '"$"', '""', "\\u0000", " "];
    for (let i = 0; i < fuzzIterations(2000); i++) {
      const text = mutated(valid, rand, pieces, 4);
      const encoded = rand() < 0.9 ? b64(text) : b64(text).slice(0, -1 - int(rand, 3));
      try {
        const policy = parsePolicy(encoded);
        expect(Number.isFinite(policy.expirationMs)).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(S3Error);
        expect((e as S3Error).code).toBe("InvalidPolicyDocument");
      }
    }
  });
});

describe("checkPolicy", () => {
  const signed = { "x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-credential": "AK/20261206/us-east-1/s3/aws4_request", "x-amz-date": "20261206T120000Z", policy: "p", "x-amz-signature": "s" };
  const signedConditions = [{ "x-amz-algorithm": "AWS4-HMAC-SHA256" }, { "x-amz-credential": "AK/20261206/us-east-1/s3/aws4_request" }, { "x-amz-date": "20261206T120000Z" }];

  test("a form that meets every condition passes, and the size range is the tightest of them", () => {
    const policy = policyOf([{ bucket: "photos" }, ["starts-with", "$key", "user/"], ["content-length-range", 10, 1000], ["content-length-range", 0, 500], ...signedConditions]);
    expect(checkPolicy(policy, form({ ...signed, key: "user/a.jpg" }), "photos", nowMs)).toEqual({ min: 10, max: 500 });
  });

  test("names are matched without regard to case, values exactly", () => {
    const policy = policyOf([["starts-with", "$Content-Type", "image/"], { "X-Amz-Meta-Tag": "Blue" }, ["eq", "$KEY", "k"], ...signedConditions]);
    expect(checkPolicy(policy, form({ ...signed, key: "k", "content-type": "image/png", "x-amz-meta-tag": "Blue" }), "b", nowMs).max).toBe(Number.MAX_SAFE_INTEGER);
    expect(refusal(() => checkPolicy(policy, form({ ...signed, key: "k", "content-type": "image/png", "x-amz-meta-tag": "blue" }), "b", nowMs))).toEqual({
      code: "AccessDenied",
      message: 'Invalid according to Policy: Policy Condition failed: ["eq", "$X-Amz-Meta-Tag", "Blue"]',
    });
  });

  test("a condition fails for a field the form does not send, even starts-with an empty prefix", () => {
    const policy = policyOf([["starts-with", "$Content-Type", ""], { key: "k" }, ...signedConditions]);
    expect(refusal(() => checkPolicy(policy, form({ ...signed, key: "k" }), "b", nowMs)).message).toBe('Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", ""]');
    expect(checkPolicy(policy, form({ ...signed, key: "k", "content-type": "anything" }), "b", nowMs).min).toBe(0);
  });

  test("$bucket is the bucket posted to, whatever a bucket field says; a name without $ never holds", () => {
    const policy = policyOf([{ bucket: "photos" }, { key: "k" }, ...signedConditions]);
    expect(refusal(() => checkPolicy(policy, form({ ...signed, key: "k", bucket: "photos" }), "other", nowMs)).message).toBe('Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "photos"]');
    expect(checkPolicy(policy, form({ ...signed, key: "k", bucket: "photos" }), "photos", nowMs).min).toBe(0);
    expect(refusal(() => checkPolicy(policyOf([["eq", "key", "k"], ...signedConditions]), form({ ...signed, key: "k" }), "b", nowMs)).code).toBe("AccessDenied");
  });

  test("a Content-Type list must begin with the prefix in every item", () => {
    const policy = policyOf([["starts-with", "$content-type", "image/"], { key: "k" }, ...signedConditions]);
    expect(checkPolicy(policy, form({ ...signed, key: "k", "content-type": "image/jpeg, image/png" }), "b", nowMs).min).toBe(0);
    expect(refusal(() => checkPolicy(policy, form({ ...signed, key: "k", "content-type": "image/jpeg,text/html" }), "b", nowMs)).code).toBe("AccessDenied");
    // other fields are one string
    const keyPolicy = policyOf([["starts-with", "$key", "a/"], ...signedConditions]);
    expect(checkPolicy(keyPolicy, form({ ...signed, key: "a/x,b/y" }), "b", nowMs).min).toBe(0);
  });

  test("every field needs a condition, but the signature, policy, file, x-ignore-* and the file's checksums", () => {
    const policy = policyOf([{ key: "k" }, ...signedConditions]);
    const exempt = { "x-ignore-note": "n", "x-amz-checksum-crc32": "AAAAAA==", "content-md5": "x" };
    expect(checkPolicy(policy, form({ ...signed, ...exempt, key: "k" }), "b", nowMs).min).toBe(0);
    expect(refusal(() => checkPolicy(policy, form({ ...signed, key: "k", acl: "private", "x-amz-meta-a": "1" }), "b", nowMs))).toEqual({
      code: "AccessDenied",
      message: "Invalid according to Policy: Extra input fields: acl, x-amz-meta-a",
    });
    // the signing fields are fields like any other
    expect(refusal(() => checkPolicy(policyOf([{ key: "k" }]), form({ ...signed, key: "k" }), "b", nowMs)).message).toBe(
      "Invalid according to Policy: Extra input fields: x-amz-algorithm, x-amz-credential, x-amz-date",
    );
  });

  test("an expired policy is refused before its conditions", () => {
    const policy = policyOf([{ key: "other" }], "2026-12-06T11:59:59Z");
    expect(refusal(() => checkPolicy(policy, form({ key: "k" }), "b", nowMs))).toEqual({ code: "AccessDenied", message: "Invalid according to Policy: Policy expired." });
    expect(checkPolicy(policyOf([{ key: "k" }], "2026-12-06T12:00:00Z"), form({ key: "k" }), "b", nowMs).min).toBe(0);
  });
});
