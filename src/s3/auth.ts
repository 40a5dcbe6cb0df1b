/** Authentication of S3 requests: SigV4 (header or presigned) against the configured users. */
import { S3Error } from "../errors.ts";
import {
  authorizationOf,
  payloadModes,
  streamingSignedPayload,
  streamingSignedPayloadTrailer,
  streamingUnsignedPayloadTrailer,
  unsignedPayload,
  verifyPostForm,
  verifyRequest,
  type Verified,
} from "../sigv4/index.ts";
import { missingFormField } from "./post-policy.ts";
import type { PayloadClaim } from "./body.ts";
import type { S3Request } from "./request.ts";
import type { Grants } from "./grants.ts";

export interface User {
  name: string;
  accessKey: string;
  secretKey: string;
  /** the buckets the user may use, and how; undefined: all, as root (grants.ts) */
  grants?: Grants;
}

/** A user's name as IAM allows it, which bucket policies name users by (arn:aws:iam:::user/NAME). */
export function isUserName(value: string): boolean {
  return /^[\w+=,.@-]{1,64}$/.test(value);
}

/** Who signed a request, as access decisions need them: a policy may name them, grants may limit them. */
export type Signer = Pick<User, "name" | "grants">;

export interface Authenticated {
  accessKeyId: string;
  payload: PayloadClaim;
}

/** SigV2 (query or form), which S3's newer regions refuse too. */
const sigV2Refused = () => new S3Error("InvalidRequest", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.");
/** s3d issues no temporary credentials: a session token is one it cannot honour, never ignored. */
const sessionTokenRefused = () => new S3Error("InvalidToken", "The provided token is malformed or otherwise invalid.");

/** Query parameters that carry a signature (SigV4 presigned, SigV2) or a session token. */
const signingParams = ["X-Amz-Credential", "X-Amz-Signature", "X-Amz-Algorithm", "X-Amz-Security-Token", "AWSAccessKeyId", "Signature"];

export class Authenticator {
  private secrets = new Map<string, string>();
  private signers = new Map<string, Signer>();

  constructor(users: readonly User[], private readonly region: string) {
    this.setUsers(users);
  }

  /** Replaces every user at once (a configuration reloaded): requests after it are checked against these. */
  setUsers(users: readonly User[]): void {
    this.secrets = new Map(users.map((u) => [u.accessKey, u.secretKey]));
    this.signers = new Map(users.map((u) => [u.accessKey, { name: u.name, grants: u.grants }]));
  }

  /** The user with this access key (one a signature was verified for: always a user's). */
  signerOf(accessKeyId: string): Signer {
    const signer = this.signers.get(accessKeyId);
    if (signer === undefined) throw new S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
    return signer;
  }

  /**
   * Whether a request carries no signature of any kind, nor a session token: such a request is
   * served only as far as its bucket's policy allows everyone.
   */
  isUnsigned(req: S3Request): boolean {
    return authorizationOf(req.headers.authorization) === undefined && req.headers["x-amz-security-token"] === undefined && !signingParams.some((name) => req.params.has(name));
  }

  /**
   * What an unsigned request's body is, from its own x-amz-content-sha256: a hash to check, the
   * unsigned aws-chunked framing to decode, or plain bytes. A signed streaming mode cannot be
   * verified without a signature and is refused.
   */
  unsignedPayload(req: S3Request): PayloadClaim {
    const claimed = req.headers["x-amz-content-sha256"];
    if (claimed === undefined || claimed === unsignedPayload) return { kind: "unsigned" };
    if (claimed === streamingUnsignedPayloadTrailer) return { kind: "chunked", signing: undefined, trailer: true };
    if (/^[0-9a-fA-F]{64}$/.test(claimed)) return { kind: "sha256", hex: claimed };
    throw new S3Error("InvalidRequest", `An unsigned request cannot send its payload as ${claimed}.`);
  }

  authenticate(req: S3Request): Authenticated {
    if (req.params.has("AWSAccessKeyId") && req.params.has("Signature")) {
      throw sigV2Refused();
    }
    if (req.headers["x-amz-security-token"] !== undefined || req.params.has("X-Amz-Security-Token")) {
      throw sessionTokenRefused();
    }
    const verified = verifyRequest(
      { method: req.method, decodedPath: req.decodedPath, query: req.query, headers: req.headers, nowMs: req.nowMs, region: this.region },
      (accessKeyId) => this.secrets.get(accessKeyId),
    );
    return { accessKeyId: verified.accessKeyId, payload: payloadClaim(verified) };
  }

  /**
   * A POST Object form, signed in its fields (the request's headers and query are not read): the
   * access key id that signed its policy, or undefined for a form without a policy, which is
   * anonymous (stored only where its bucket's policy allows everyone). `fields`: by lowercase name.
   */
  authenticateForm(fields: ReadonlyMap<string, string>): string | undefined {
    if (fields.has("awsaccesskeyid") || fields.has("signature")) {
      throw sigV2Refused();
    }
    if (fields.has("x-amz-security-token")) throw sessionTokenRefused();
    const policy = fields.get("policy");
    if (policy === undefined) return undefined;
    const required = (name: string) => {
      const value = fields.get(name.toLowerCase());
      if (value === undefined) throw missingFormField(name);
      return value;
    };
    const signature = { algorithm: required("X-Amz-Algorithm"), credential: required("X-Amz-Credential"), amzDate: required("X-Amz-Date"), signature: required("X-Amz-Signature"), policy };
    return verifyPostForm(signature, this.region, (accessKeyId) => this.secrets.get(accessKeyId));
  }
}

function payloadClaim(v: Verified): PayloadClaim {
  const signing = { signingKey: v.signingKey, amzDate: v.amzDate, scope: v.scope, seedSignature: v.signature };
  switch (v.payloadHash) {
    case unsignedPayload:
      return { kind: "unsigned" };
    case streamingSignedPayload:
      return { kind: "chunked", signing, trailer: false };
    case streamingSignedPayloadTrailer:
      return { kind: "chunked", signing, trailer: true };
    case streamingUnsignedPayloadTrailer:
      return { kind: "chunked", signing: undefined, trailer: true };
  }
  if (payloadModes.includes(v.payloadHash)) {
    throw new S3Error("NotImplemented", `The payload mode ${v.payloadHash} (SigV4a) is not implemented by s3d.`);
  }
  return { kind: "sha256", hex: v.payloadHash };
}
