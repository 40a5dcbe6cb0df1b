/** What every S3 operation handler receives. */
import type { Backend } from "../../store/backend.ts";
import type { S3Request } from "../request.ts";
import type { S3Response } from "../respond.ts";

export interface S3Context {
  req: S3Request;
  backend: Backend;
  region: string;
  /** the authenticated access key id */
  accessKeyId: string;
  /** hex SHA-256 the client signed, undefined for UNSIGNED-PAYLOAD */
  payloadSha256: string | undefined;
}

export type Handler = (ctx: S3Context) => Promise<S3Response>;

/** The owner shown in listings: the authenticated user. */
export function ownerOf(ctx: S3Context) {
  return { id: ctx.accessKeyId, displayName: ctx.accessKeyId };
}
