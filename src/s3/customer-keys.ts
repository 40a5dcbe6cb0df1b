/**
 * SSE-C, the S3 face: the key a client sends in `x-amz-server-side-encryption-customer-*` headers
 * (`x-amz-copy-source-…` for a copy's source), checked as S3 checks it, and the headers that
 * answer it. The store seals with the key and keeps only a salted check of it (store/fs/customer-keys.ts).
 *
 * S3 takes these keys over HTTPS only. s3d also takes them from a client on this machine
 * (loopback), where the key never crosses a network: an edge box's own tools, tests.
 */
import { createHash } from "node:crypto";
import { isLoopback } from "../config.ts";
import { checkWriteHeaders } from "./attributes.ts";
import { customerKeyRequired, S3Error } from "../errors.ts";
import type { Backend, CustomerKey, ObjectMeta } from "../store/backend.ts";
import { refuseBlockedCustomerKeys } from "./bucket-encryption.ts";
import type { S3Request } from "./request.ts";

const keyBytes = 32;
const base64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A key a request came with, and the MD5 of it that its answer carries. */
export interface RequestedKey {
  customerKey: CustomerKey;
  /** base64 MD5 of the key */
  keyMd5: string;
}

/** Which of a request's keys: its object's, or (CopyObject, UploadPartCopy) its source's. */
export type KeyRole = "object" | "source";

const prefixes: Record<KeyRole, string> = {
  object: "x-amz-server-side-encryption-customer-",
  source: "x-amz-copy-source-server-side-encryption-customer-",
};

const refused = (message: string, details: Record<string, string> = {}) => new S3Error("InvalidArgument", message, details);

/**
 * The key the request gives for `role`, or undefined when it gives none. A write must send the
 * key's MD5; a read may leave it out, as S3 lets it.
 */
export function requestedKey(req: S3Request, role: KeyRole, write: boolean): RequestedKey | undefined {
  if (!carriesKey(req, role)) return undefined;
  const prefix = prefixes[role];
  const algorithm = req.headers[`${prefix}algorithm`];
  const key = req.headers[`${prefix}key`];
  const md5 = req.headers[`${prefix}key-md5`];
  if (req.scheme !== "https" && !(req.keysOverLoopback && isLoopback(req.clientAddress ?? ""))) {
    throw refused("Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.");
  }
  if (role === "object" && req.headers["x-amz-server-side-encryption"] !== undefined) {
    throw refused("Server Side Encryption with Customer provided key is incompatible with the encryption method specified");
  }
  if (algorithm === undefined) throw refused("Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.");
  if (algorithm !== "AES256") {
    throw new S3Error("InvalidEncryptionAlgorithmError", "The Encryption request you specified is not valid. Supported value: AES256.", { ArgumentName: `${prefix}algorithm`, ArgumentValue: algorithm });
  }
  if (key === undefined) throw refused("Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.");
  const bytes = base64.test(key) ? Buffer.from(key, "base64") : undefined;
  if (bytes === undefined || bytes.length !== keyBytes) throw refused("The secret key was invalid for the specified algorithm.");
  const keyMd5 = createHash("md5").update(bytes).digest("base64");
  if (md5 === undefined && write) throw refused("Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.");
  if (md5 !== undefined && md5 !== keyMd5) throw refused("The calculated MD5 hash of the key did not match the hash that was provided.");
  return { customerKey: { key: new Uint8Array(bytes) }, keyMd5 };
}

/** Whether the request sends any of the SSE-C headers for `role`, valid or not. */
function carriesKey(req: S3Request, role: KeyRole): boolean {
  const prefix = prefixes[role];
  return req.headers[`${prefix}algorithm`] !== undefined || req.headers[`${prefix}key`] !== undefined || req.headers[`${prefix}key-md5`] !== undefined;
}

/**
 * The SSE-C key a request that writes an object gives (PutObject, POST Object, CopyObject, and
 * every request of a multipart upload), as `requestedKey` takes it; a bucket that blocks SSE-C
 * refuses any such request that carries one, before the key is looked at, as S3 does.
 */
export async function writingKey(req: S3Request, backend: Backend, write = true): Promise<RequestedKey | undefined> {
  if (carriesKey(req, "object")) await refuseBlockedCustomerKeys(backend, req.bucket);
  return requestedKey(req, "object", write);
}

/**
 * What a write that makes a version (PutObject, POST Object, CopyObject, CreateMultipartUpload)
 * asks for, checked: its SSE-C key (`writingKey`), and then the rest (`checkWriteHeaders`). The key
 * comes first: SSE-C with x-amz-server-side-encryption is a conflict (InvalidArgument) on any
 * server, before SSE-S3 on a server without a master key is NotImplemented.
 */
export async function checkedWrite(req: S3Request, backend: Backend): Promise<RequestedKey | undefined> {
  const sealedWith = await writingKey(req, backend);
  checkWriteHeaders(req.headers, backend.encryptedAtRest);
  return sealedWith;
}

/** The headers that tell a client which key its object is sealed with (none without one). */
export function keyHeaders(requested: RequestedKey | undefined): Record<string, string> {
  if (requested === undefined) return {};
  return { "x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-server-side-encryption-customer-key-MD5": requested.keyMd5 };
}

/**
 * The header that says an object is sealed with a client's key, for an answer that has no key to
 * echo (CompleteMultipartUpload, whose request need not carry it): S3 says nothing there, but
 * x-amz-server-side-encryption: AES256 would be wrong.
 */
export function sealedObjectHeader(meta: ObjectMeta): Record<string, string> {
  return meta.customerKeyCheck === undefined ? {} : { "x-amz-server-side-encryption-customer-algorithm": "AES256" };
}

/** Whether an answer is about an object sealed with a client's key (it carries `keyHeaders` or `sealedObjectHeader`). */
export const sealedWithCustomerKey = (response: { headers: Record<string, string> }): boolean =>
  response.headers["x-amz-server-side-encryption-customer-algorithm"] !== undefined;

/**
 * Refuses a read of the bytes (or the attributes) of a version sealed with a key the request
 * does not give, before anything is answered: a HEAD has no body to fail in.
 */
export function requireKeyFor(meta: ObjectMeta, requested: RequestedKey | undefined): void {
  if (meta.customerKeyCheck !== undefined && requested === undefined) throw customerKeyRequired();
}
