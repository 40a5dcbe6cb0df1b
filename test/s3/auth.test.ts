import { describe, expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { Authenticator } from "../../src/s3/auth.ts";
import { example } from "../sigv4/post-example.ts";

describe("Authenticator.authenticateForm", () => {
  const authenticator = new Authenticator([{ name: "root", accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: example.secret }], "us-east-1");
  const fields = (changes: Record<string, string | undefined> = {}) => {
    const all: Record<string, string | undefined> = { ...example.fields, policy: example.policy, ...changes };
    return new Map(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
  };
  const refusalOf = (form: Map<string, string>) => {
    try {
      authenticator.authenticateForm(form);
    } catch (e) {
      if (e instanceof S3Error) return e;
      throw e;
    }
    throw new Error("expected a refusal");
  };

  test("takes the signing fields by their lowercase names", () => {
    expect(authenticator.authenticateForm(fields())).toBe("AKIAIOSFODNN7EXAMPLE");
  });

  test("a missing signing field is named as S3 names it; no policy is anonymous; SigV2 and session tokens are refused", () => {
    for (const [field, name] of [["x-amz-algorithm", "X-Amz-Algorithm"], ["x-amz-credential", "X-Amz-Credential"], ["x-amz-date", "X-Amz-Date"], ["x-amz-signature", "X-Amz-Signature"]]) {
      const error = refusalOf(fields({ [field]: undefined }));
      expect([error.code, error.message, error.details.ArgumentName]).toEqual([
        "InvalidArgument",
        `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
        name,
      ]);
    }
    // no policy: an anonymous form
    expect(authenticator.authenticateForm(fields({ policy: undefined }))).toBeUndefined();
    expect(refusalOf(fields({ awsaccesskeyid: "AKIAIOSFODNN7EXAMPLE", signature: "c2ln" })).code).toBe("InvalidRequest");
    expect(refusalOf(fields({ "x-amz-security-token": "token" })).code).toBe("InvalidToken");
  });
});
