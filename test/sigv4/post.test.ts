import { describe, expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { hmacHex, signingKey, verifyPostForm, type PostFormSignature } from "../../src/sigv4/index.ts";
import { example } from "./post-example.ts";
import { int, mulberry32 } from "./prng.ts";


const secrets = (id: string) => (id === "AKIAIOSFODNN7EXAMPLE" ? example.secret : undefined);
const signed: PostFormSignature = {
  algorithm: example.fields["x-amz-algorithm"],
  credential: example.fields["x-amz-credential"],
  amzDate: example.fields["x-amz-date"],
  signature: example.fields["x-amz-signature"],
  policy: example.policy,
};
const formWith = (changes: Partial<PostFormSignature> = {}): PostFormSignature => ({ ...signed, ...changes });

function refusal(form: PostFormSignature, region = "us-east-1"): S3Error {
  try {
    verifyPostForm(form, region, secrets);
  } catch (e) {
    if (e instanceof S3Error) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("verifyPostForm", () => {
  test("accepts a form signed by another implementation, and names who signed it", () => {
    expect(verifyPostForm(formWith(), "us-east-1", secrets)).toBe("AKIAIOSFODNN7EXAMPLE");
  });

  test("the signature is the HMAC of the policy as sent, with the day's signing key", () => {
    const policy = Buffer.from('{"expiration":"2030-01-01T00:00:00Z","conditions":[]}').toString("base64");
    const signature = hmacHex(signingKey(example.secret, "20130806", "us-east-1", "s3"), policy);
    expect(verifyPostForm(formWith({ policy, signature }), "us-east-1", secrets)).toBe("AKIAIOSFODNN7EXAMPLE");
  });

  test("property: any one-character change to the policy or the signature is SignatureDoesNotMatch", () => {
    const rand = mulberry32(11);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    for (let i = 0; i < 200; i++) {
      const field = i % 2 === 0 ? "policy" : "signature";
      const original = signed[field];
      const at = int(rand, original.length);
      const replacement = alphabet[int(rand, alphabet.length)];
      if (replacement === original[at]) continue;
      const changed = original.slice(0, at) + replacement + original.slice(at + 1);
      const error = refusal(formWith({ [field]: changed }));
      expect(error.code).toBe("SignatureDoesNotMatch");
      if (field === "policy") expect(error.details.StringToSign).toBe(changed);
    }
  });

  test("refuses the wrong scope, date, key or algorithm", () => {
    expect(refusal(formWith(), "eu-west-1").details).toMatchObject({ ArgumentName: "X-Amz-Credential", Region: "eu-west-1" });
    expect(refusal(formWith({ credential: "AKIAIOSFODNN7EXAMPLE/20130806/us-east-1/sts/aws4_request" })).code).toBe("InvalidArgument");
    expect(refusal(formWith({ credential: "AKIAIOSFODNN7EXAMPLE/20130806/us-east-1" })).code).toBe("InvalidArgument");
    expect(refusal(formWith({ amzDate: "20130807T120000Z" })).message).toBe("Invalid credential date. Date is not the same as X-Amz-Date.");
    expect(refusal(formWith({ amzDate: "2013-08-06" })).details.ArgumentName).toBe("X-Amz-Date");
    expect(refusal(formWith({ credential: "NOBODY/20130806/us-east-1/s3/aws4_request" })).code).toBe("InvalidAccessKeyId");
    expect(refusal(formWith({ algorithm: "AWS4-ECDSA-P256-SHA256" })).details.ArgumentName).toBe("X-Amz-Algorithm");
  });
});
