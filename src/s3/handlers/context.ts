/** What every S3 operation handler receives. */
import type { Backend } from "../../store/backend.ts";
import type { PayloadClaim } from "../body.ts";
import type { S3Request } from "../request.ts";
import type { S3Response } from "../respond.ts";

export interface S3Context {
  req: S3Request;
  backend: Backend;
  region: string;
  /** the authenticated access key id */
  accessKeyId: string;
  /** what the signature says about the body */
  payload: PayloadClaim;
}

export type Handler = (ctx: S3Context) => Promise<S3Response>;

/** The owner shown in listings: the authenticated user. */
export function ownerOf(ctx: S3Context) {
  return { id: ctx.accessKeyId, displayName: ctx.accessKeyId };
}
