/**
 * Seals and opens fragments with AES-256-GCM (node:crypto: BoringSSL in Bun). A fragment that
 * fails its tag, was moved, replayed or spliced, raises FragmentIntegrityError: the reader
 * treats the shard as missing and reconstructs from parity. Never returns wrong bytes.
 */
import { createCipheriv, createDecipheriv, type KeyObject } from "node:crypto";
import { assert } from "../util/assert.ts";
import {
  additionalData,
  fragmentBodyBytes,
  fragmentBytes,
  fragmentHeaderBytes,
  fragmentTagBytes,
  nonceOf,
  readHeader,
  writeHeader,
} from "./fragment-layout.ts";

export class FragmentIntegrityError extends Error {
  override name = "FragmentIntegrityError";
}

export interface FragmentPlace {
  readonly objectId: string;
  readonly shardIndex: number;
  readonly fragmentNumber: number;
}

export interface SealInput extends FragmentPlace {
  readonly last: boolean;
  readonly storeId: Uint8Array;
  readonly counter: number;
}

const zeros = new Uint8Array(fragmentBodyBytes);

/** Writes one sealed fragment (fragmentBytes) at out[offset..]. body is 0..8192 bytes. */
export function sealFragment(key: KeyObject, input: SealInput, body: Uint8Array, out: Uint8Array, offset = 0): void {
  assert(body.length <= fragmentBodyBytes, `fragment: body of ${body.length} bytes exceeds ${fragmentBodyBytes}`);
  assert(out.length - offset >= fragmentBytes, "fragment: output buffer too small");
  writeHeader({ ...input, logicalBytes: body.length }, out, offset);
  const header = out.subarray(offset, offset + fragmentHeaderBytes);
  const cipher = createCipheriv("aes-256-gcm", key, nonceOf(out, offset));
  cipher.setAAD(additionalData(header, input.objectId, input.shardIndex, input.fragmentNumber));
  let at = offset + fragmentHeaderBytes;
  const put = (b: Uint8Array) => {
    out.set(b, at);
    at += b.length;
  };
  put(cipher.update(body));
  if (body.length < fragmentBodyBytes) put(cipher.update(zeros.subarray(0, fragmentBodyBytes - body.length)));
  put(cipher.final());
  assert(at === offset + fragmentHeaderBytes + fragmentBodyBytes, "fragment: ciphertext length mismatch");
  out.set(cipher.getAuthTag(), at);
}

export interface OpenExpect extends FragmentPlace {
  /** The counter this fragment must carry (the extent's first counter + fragment number): stops replays. */
  readonly counter?: number;
  readonly storeId?: Uint8Array;
}

/** Opens the fragment at bytes[offset..]; returns its logical body (a fresh buffer). */
export function openFragment(key: KeyObject, expect: OpenExpect, bytes: Uint8Array, offset = 0): Uint8Array {
  const where = `object ${expect.objectId} shard ${expect.shardIndex} fragment ${expect.fragmentNumber}`;
  const fail = (why: string): never => {
    throw new FragmentIntegrityError(`shard store: integrity check failed for ${where}: ${why}`);
  };
  if (bytes.length - offset < fragmentBytes) fail("fragment truncated");
  const h = readHeader(bytes, offset);
  if (typeof h === "string") return fail(`bad header (${h})`);
  if (h.shardIndex !== expect.shardIndex) fail(`header names shard ${h.shardIndex}`);
  if (h.fragmentNumber !== expect.fragmentNumber) fail(`header names fragment ${h.fragmentNumber}`);
  if (expect.counter !== undefined && h.counter !== expect.counter) fail("fragment counter does not match the index (replayed fragment?)");
  if (expect.storeId && Buffer.compare(h.storeId, expect.storeId) !== 0) fail("fragment from another store");
  const header = bytes.subarray(offset, offset + fragmentHeaderBytes);
  const decipher = createDecipheriv("aes-256-gcm", key, nonceOf(bytes, offset));
  decipher.setAAD(additionalData(header, expect.objectId, expect.shardIndex, expect.fragmentNumber));
  const bodyAt = offset + fragmentHeaderBytes;
  decipher.setAuthTag(bytes.subarray(bodyAt + fragmentBodyBytes, bodyAt + fragmentBodyBytes + fragmentTagBytes));
  const plain = decipher.update(bytes.subarray(bodyAt, bodyAt + fragmentBodyBytes));
  try {
    decipher.final();
  } catch {
    fail("authentication tag mismatch (corrupted, moved or wrong key)");
  }
  return plain.subarray(0, h.logicalBytes);
}

/** Header fields of a sealed fragment without opening it (for recovery scans); null if malformed. */
export function peekHeader(bytes: Uint8Array, offset = 0) {
  const h = readHeader(bytes, offset);
  return typeof h === "string" ? null : h;
}
