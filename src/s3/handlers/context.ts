/** What every S3 operation handler receives. */
import type { Backend } from "../../store/backend.ts";
import type { Access, BucketPolicies } from "../access.ts";
import type { PayloadClaim } from "../body.ts";
import type { Signer } from "../auth.ts";
import type { KeptConfigs } from "../kept-configs.ts";
import type { LifecycleConfig } from "../lifecycle.ts";
import type { S3Request } from "../request.ts";
import type { S3Response } from "../respond.ts";
import type { WebsiteConfig } from "../website.ts";
import { s3Xmlns, x } from "../xml.ts";

export interface S3Context {
  req: S3Request;
  backend: Backend;
  region: string;
  /** the authenticated access key id ("" for an unsigned request) */
  accessKeyId: string;
  /** what the signature says about the body */
  payload: PayloadClaim;
  formAuth: FormAuth;
  /** the server's bucket policies (their handlers change them) */
  policies: BucketPolicies;
  /** the server's lifecycle configurations, kept (their handlers change them) */
  lifecycles: KeptConfigs<LifecycleConfig>;
  /** the server's website configurations, kept (their handlers change them) */
  websites: KeptConfigs<WebsiteConfig>;
  /** what this request may do beyond its operation, which the server has checked */
  access: Access;
}

/** What POST Object, signed in its body rather than its headers, needs of the server. */
export interface FormAuth {
  /** the access key id that signed the form's policy, undefined for an anonymous form; fields by lowercase name (Authenticator.authenticateForm) */
  authenticate(fields: ReadonlyMap<string, string>): string | undefined;
  /** the form's signer: their name, which policies may name, and their grants, when their configuration limits them */
  signerOf(accessKeyId: string): Signer;
  /** how long the fields before the form's file may take to arrive, read as they are before any signature is checked */
  fieldsDeadlineMs: number;
}

export type Handler = (ctx: S3Context) => Promise<S3Response>;

/** The owner shown in listings: the authenticated user. */
export function ownerOf(ctx: S3Context) {
  return { id: ctx.accessKeyId, displayName: ctx.accessKeyId };
}

/** An ACL that grants the owner everything and nobody else anything: what every s3d bucket and object has. */
export function ownerOnlyAcl(ctx: S3Context) {
  const owner = ownerOf(ctx);
  const ownerXml = [x("ID", owner.id), x("DisplayName", owner.displayName)];
  const grantee = x("Grantee", { "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance", "xsi:type": "CanonicalUser" }, ownerXml);
  return x("AccessControlPolicy", { xmlns: s3Xmlns }, x("Owner", ownerXml), x("AccessControlList", x("Grant", grantee, x("Permission", "FULL_CONTROL"))));
}
