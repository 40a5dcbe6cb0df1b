import { describe, expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { hmacHex, signingKey, verifyPostForm } from "../../src/sigv4/index.ts";
import { int, mulberry32 } from "./prng.ts";

/**
 * A SigV4 POST form signed by an implementation other than s3d's (the npm package s3-post-policy's
 * published example, AWS's example credentials): its policy, as sent, and its signature.
 */
const example = {
  secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  policy:
    "eyJleHBpcmF0aW9uIjoiMjAxMy0wOC0wNlQxMjowMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W3siYWNsIjoicHVibGljLXJlYWQifSxbInN0YXJ0cy13aXRoIiwiJENvbnRlbnQtVHlwZSIsImltYWdlLyJdLFsic3RhcnRzLXdpdGgiLCIka2V5IiwidXNlci91c2VyMS8iXSxbInN0YXJ0cy13aXRoIiwiJHgtYW16LW1ldGEtdGFnIiwiIl0seyJ4LWFtei1tZXRhLXV1aWQiOiIxNDM2NTEyMzY1MTI3NCJ9LHsiYnVja2V0IjoiZXhhbXBsZWJ1Y2tldCJ9LHsieC1hbXotYWxnb3JpdGhtIjoiQVdTNC1ITUFDLVNIQTI1NiJ9LHsieC1hbXotY3JlZGVudGlhbCI6IkFLSUFJT1NGT0ROTjdFWEFNUExFLzIwMTMwODA2L3VzLWVhc3QtMS9zMy9hd3M0X3JlcXVlc3QifSx7IngtYW16LWRhdGUiOiIyMDEzMDgwNlQxMjAwMDBaIn1dfQ==",
  fields: {
    "x-amz-algorithm": "AWS4-HMAC-SHA256",
    "x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20130806/us-east-1/s3/aws4_request",
    "x-amz-date": "20130806T120000Z",
    "x-amz-signature": "5bc8a7be4a6fc6445b94d0f4096f8cf3dfa00303529f8a68ea7dc0c23bb83cd9",
  },
};

const secrets = (id: string) => (id === "AKIAIOSFODNN7EXAMPLE" ? example.secret : undefined);
const fieldsWith = (changes: Record<string, string | undefined> = {}) => {
  const all: Record<string, string | undefined> = { ...example.fields, policy: example.policy, ...changes };
  return new Map(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
};

function refusal(fields: Map<string, string>, region = "us-east-1"): S3Error {
  try {
    verifyPostForm(fields, region, secrets);
  } catch (e) {
    if (e instanceof S3Error) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("verifyPostForm", () => {
  test("accepts a form signed by another implementation, and names who signed it", () => {
    expect(verifyPostForm(fieldsWith(), "us-east-1", secrets)).toBe("AKIAIOSFODNN7EXAMPLE");
  });

  test("the signature is the HMAC of the policy as sent, with the day's signing key", () => {
    const policy = Buffer.from('{"expiration":"2030-01-01T00:00:00Z","conditions":[]}').toString("base64");
    const signature = hmacHex(signingKey(example.secret, "20130806", "us-east-1", "s3"), policy);
    expect(verifyPostForm(fieldsWith({ policy, "x-amz-signature": signature }), "us-east-1", secrets)).toBe("AKIAIOSFODNN7EXAMPLE");
  });

  test("property: any one-character change to the policy or the signature is SignatureDoesNotMatch", () => {
    const rand = mulberry32(11);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    for (let i = 0; i < 200; i++) {
      const field = i % 2 === 0 ? "policy" : "x-amz-signature";
      const original = field === "policy" ? example.policy : example.fields["x-amz-signature"];
      const at = int(rand, original.length);
      const replacement = alphabet[int(rand, alphabet.length)];
      if (replacement === original[at]) continue;
      const changed = original.slice(0, at) + replacement + original.slice(at + 1);
      const error = refusal(fieldsWith({ [field]: changed }));
      expect(error.code).toBe("SignatureDoesNotMatch");
      if (field === "policy") expect(error.details.StringToSign).toBe(changed);
    }
  });

  test("a missing signing field is named as S3 names it", () => {
    for (const [field, name] of [["x-amz-algorithm", "X-Amz-Algorithm"], ["x-amz-credential", "X-Amz-Credential"], ["x-amz-date", "X-Amz-Date"], ["x-amz-signature", "X-Amz-Signature"]]) {
      const error = refusal(fieldsWith({ [field]: undefined }));
      expect([error.code, error.message, error.details.ArgumentName]).toEqual([
        "InvalidArgument",
        `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
        name,
      ]);
    }
  });

  test("refuses the wrong scope, date, key or algorithm", () => {
    expect(refusal(fieldsWith(), "eu-west-1").details).toMatchObject({ ArgumentName: "X-Amz-Credential", Region: "eu-west-1" });
    expect(refusal(fieldsWith({ "x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20130806/us-east-1/sts/aws4_request" })).code).toBe("InvalidArgument");
    expect(refusal(fieldsWith({ "x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20130806/us-east-1" })).code).toBe("InvalidArgument");
    expect(refusal(fieldsWith({ "x-amz-date": "20130807T120000Z" })).message).toBe("Invalid credential date. Date is not the same as X-Amz-Date.");
    expect(refusal(fieldsWith({ "x-amz-date": "2013-08-06" })).details.ArgumentName).toBe("X-Amz-Date");
    expect(refusal(fieldsWith({ "x-amz-credential": "NOBODY/20130806/us-east-1/s3/aws4_request" })).code).toBe("InvalidAccessKeyId");
    expect(refusal(fieldsWith({ "x-amz-algorithm": "AWS4-ECDSA-P256-SHA256" })).details.ArgumentName).toBe("X-Amz-Algorithm");
  });
});
