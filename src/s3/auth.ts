/** Authentication of S3 requests: SigV4 (header or presigned) against the configured users. */
import { S3Error } from "../errors.ts";
import { payloadModes, unsignedPayload, verifyRequest } from "../sigv4/index.ts";
import type { S3Request } from "./request.ts";

export interface User {
  name: string;
  accessKey: string;
  secretKey: string;
}

export interface Authenticated {
  accessKeyId: string;
  /** hex SHA-256 the body must match, or undefined when the payload is unsigned */
  payloadSha256: string | undefined;
}

export class Authenticator {
  private readonly secrets: Map<string, string>;

  constructor(users: readonly User[], private readonly region: string) {
    this.secrets = new Map(users.map((u) => [u.accessKey, u.secretKey]));
  }

  authenticate(req: S3Request): Authenticated {
    const verified = verifyRequest(
      { method: req.method, decodedPath: req.decodedPath, query: req.query, headers: req.headers, nowMs: req.nowMs, region: this.region },
      (accessKeyId) => this.secrets.get(accessKeyId),
    );
    const mode = verified.payloadHash;
    if (mode !== unsignedPayload && payloadModes.includes(mode)) {
      throw new S3Error("NotImplemented", `The payload mode ${mode} (aws-chunked) is not implemented by s3d yet.`);
    }
    return { accessKeyId: verified.accessKeyId, payloadSha256: mode === unsignedPayload ? undefined : mode };
  }
}
