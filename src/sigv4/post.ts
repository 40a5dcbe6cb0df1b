/**
 * Verifying a POST Object form signed with SigV4: the string to sign is the form's policy field as
 * sent (base64), signed with the key of the credential's scope. Pure.
 */
import { S3Error } from "../errors.ts";
import { algorithm, s3Service } from "./constants.ts";
import { hmacHex, signaturesEqual, signingKey } from "./crypto.ts";
import { parseCredential } from "./parse.ts";
import { parseAmzDate } from "./time.ts";
import { hexBytes } from "./verify.ts";

/** The form's fields by lowercase name. */
export type FormFields = ReadonlyMap<string, string>;

/** S3's refusal of a form without a field it needs, named as S3 names it. */
export function missingFormField(name: string): S3Error {
  return new S3Error("InvalidArgument", `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`, {
    ArgumentName: name,
    ArgumentValue: "",
  });
}

function invalidField(name: string, value: string, message: string, details: Record<string, string> = {}): S3Error {
  return new S3Error("InvalidArgument", message, { ArgumentName: name, ArgumentValue: value, ...details });
}

/** Verifies the form's x-amz-* signature fields over its policy; returns the access key id that signed it. */
export function verifyPostForm(fields: FormFields, region: string, lookupSecret: (accessKeyId: string) => string | undefined): string {
  const policy = fields.get("policy");
  if (policy === undefined) throw new Error("verifyPostForm needs a policy field");
  const required = (name: string) => {
    const value = fields.get(name.toLowerCase());
    if (value === undefined) throw missingFormField(name);
    return value;
  };
  const signedWith = required("X-Amz-Algorithm");
  if (signedWith !== algorithm) throw invalidField("X-Amz-Algorithm", signedWith, `X-Amz-Algorithm only supports "${algorithm}"`);
  const credentialText = required("X-Amz-Credential");
  const credential = parseCredential(credentialText, (message) => invalidField("X-Amz-Credential", credentialText, message));
  const amzDate = required("X-Amz-Date");
  const signature = required("X-Amz-Signature");
  if (credential.service !== s3Service) {
    throw invalidField("X-Amz-Credential", credentialText, `incorrect service "${credential.service}". This endpoint belongs to "${s3Service}".`);
  }
  if (credential.region !== region) {
    throw invalidField("X-Amz-Credential", credentialText, `the region '${credential.region}' is wrong; expecting '${region}'`, { Region: region });
  }
  if (parseAmzDate(amzDate) === undefined) throw invalidField("X-Amz-Date", amzDate, "X-Amz-Date must be formated via ISO8601 Long format");
  if (credential.date !== amzDate.slice(0, 8)) {
    throw invalidField("X-Amz-Credential", credentialText, "Invalid credential date. Date is not the same as X-Amz-Date.");
  }
  const secret = lookupSecret(credential.accessKeyId);
  if (secret === undefined) {
    throw new S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", { AWSAccessKeyId: credential.accessKeyId });
  }
  const expected = hmacHex(signingKey(secret, credential.date, credential.region, credential.service), policy);
  if (!signaturesEqual(expected, signature)) {
    throw new S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.", {
      AWSAccessKeyId: credential.accessKeyId,
      StringToSign: policy,
      SignatureProvided: signature,
      StringToSignBytes: hexBytes(policy),
    });
  }
  return credential.accessKeyId;
}
