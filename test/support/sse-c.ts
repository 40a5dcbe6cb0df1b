/** SSE-C request headers for tests: a client's key, and the three headers that carry it. */
import { createHash } from "node:crypto";
import type { KeyRole } from "../../src/s3/customer-keys.ts";

/** The headers' prefix for an object's key and for a copy source's. */
export const customerKeyPrefixes: Record<KeyRole, string> = {
  object: "x-amz-server-side-encryption-customer-",
  source: "x-amz-copy-source-server-side-encryption-customer-",
};

/** 32 fixed bytes, one per name. */
export const keyOf = (name: string) => createHash("sha256").update(name).digest();
export const md5b64 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("base64");

/**
 * The three headers (lowercase names) that give `key` for `role`; `change` replaces one's value,
 * or with null leaves it out.
 */
export function customerKeyHeaders(key: Uint8Array, role: KeyRole = "object", change: { algorithm?: string | null; key?: string | null; md5?: string | null } = {}): Record<string, string> {
  const values = {
    algorithm: change.algorithm === undefined ? "AES256" : change.algorithm,
    key: change.key === undefined ? Buffer.from(key).toString("base64") : change.key,
    "key-md5": change.md5 === undefined ? md5b64(key) : change.md5,
  };
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) if (value !== null) out[`${customerKeyPrefixes[role]}${name}`] = value;
  return out;
}
