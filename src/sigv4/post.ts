/**
 * Verifying a POST Object form signed with SigV4: the string to sign is the form's policy field as
 * sent (base64), signed with the key of the credential's scope. Pure.
 */
import { S3Error } from "../errors.ts";
import { algorithm } from "./constants.ts";
import { hmacHex, signaturesEqual, signingKey } from "./crypto.ts";
import { parseCredential } from "./parse.ts";
import { parseAmzDate } from "./time.ts";
import { checkCredentialScope, signatureMismatch, unknownAccessKey } from "./verify.ts";

/** The signing fields of a form, as sent. */
export interface PostFormSignature {
  algorithm: string;
  credential: string;
  amzDate: string;
  signature: string;
  /** the base64 policy document: what was signed */
  policy: string;
}

function invalidField(name: string, value: string, message: string, details: Record<string, string> = {}, headers: Record<string, string> = {}): S3Error {
  return new S3Error("InvalidArgument", message, { ArgumentName: name, ArgumentValue: value, ...details }, headers);
}

/** Verifies a form's signature over its policy; returns the access key id that signed it. */
export function verifyPostForm(form: PostFormSignature, region: string, lookupSecret: (accessKeyId: string) => string | undefined): string {
  if (form.algorithm !== algorithm) throw invalidField("X-Amz-Algorithm", form.algorithm, `X-Amz-Algorithm only supports "${algorithm}"`);
  const credential = parseCredential(form.credential, (message) => invalidField("X-Amz-Credential", form.credential, message));
  if (parseAmzDate(form.amzDate) === undefined) throw invalidField("X-Amz-Date", form.amzDate, "X-Amz-Date must be formated via ISO8601 Long format");
  checkCredentialScope(credential, form.amzDate, region, (message, details, headers) => invalidField("X-Amz-Credential", form.credential, message, details, headers));
  const secret = lookupSecret(credential.accessKeyId);
  if (secret === undefined) throw unknownAccessKey(credential.accessKeyId);
  const expected = hmacHex(signingKey(secret, credential.date, credential.region, credential.service), form.policy);
  if (!signaturesEqual(expected, form.signature)) throw signatureMismatch(credential.accessKeyId, form.policy, form.signature);
  return credential.accessKeyId;
}
