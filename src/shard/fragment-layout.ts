/**
 * The on-disk fragment, the unit of the shard store: 32-byte header + 8 KiB body + 16-byte GCM
 * tag = 8240 bytes. Pure layout code: no I/O, no clock, no randomness.
 *
 * Header (big-endian):
 *   0  magic "s3dF"         4  version (1)        5  flags (bit 0: last fragment of the shard)
 *   6  shard index u16      8  fragment number u32
 *  12  logical body bytes u32 (0..8192, 0 only for an empty shard; the body is zero-padded to 8192)
 *  16  store id (6 bytes)  22  fragment counter (48-bit)   -- bytes 16..28 are the GCM nonce
 *  28  reserved, zero
 */
import { assert } from "../util/assert.ts";

export const fragmentHeaderBytes = 32;
export const fragmentBodyBytes = 8192;
export const fragmentTagBytes = 16;
export const fragmentBytes = fragmentHeaderBytes + fragmentBodyBytes + fragmentTagBytes;
export const storeIdBytes = 6;
export const nonceBytes = 12;
/** 48-bit counter: 2^48 fragments of 8 KiB = 2 EiB per store before the nonce space runs out. */
export const fragmentCounterMax = 2 ** 48 - 1;
export const shardIndexMax = 0xffff;
export const objectIdBytesMax = 1024;

const magic = 0x73336446; // "s3dF"
const utf8 = new TextEncoder();
const version = 1;
export const flagLastFragment = 1;

export interface FragmentHeader {
  readonly shardIndex: number;
  readonly fragmentNumber: number;
  readonly logicalBytes: number;
  readonly last: boolean;
  readonly storeId: Uint8Array;
  readonly counter: number;
}

export function writeHeader(h: FragmentHeader, out: Uint8Array, offset = 0): void {
  assert(h.shardIndex >= 0 && h.shardIndex <= shardIndexMax, `fragment: shard index ${h.shardIndex} out of range`);
  assert(h.fragmentNumber >= 0 && h.fragmentNumber <= 0xffffffff, `fragment: number ${h.fragmentNumber} out of range`);
  assert(h.logicalBytes >= 0 && h.logicalBytes <= fragmentBodyBytes, `fragment: logical size ${h.logicalBytes} out of range`);
  assert(h.storeId.length === storeIdBytes, "fragment: store id must be 6 bytes");
  assert(Number.isInteger(h.counter) && h.counter >= 0 && h.counter <= fragmentCounterMax, "fragment: counter out of range");
  const v = new DataView(out.buffer, out.byteOffset + offset, fragmentHeaderBytes);
  v.setUint32(0, magic);
  v.setUint8(4, version);
  v.setUint8(5, h.last ? flagLastFragment : 0);
  v.setUint16(6, h.shardIndex);
  v.setUint32(8, h.fragmentNumber);
  v.setUint32(12, h.logicalBytes);
  out.set(h.storeId, offset + 16);
  v.setUint16(22, Math.floor(h.counter / 2 ** 32));
  v.setUint32(24, h.counter >>> 0);
  v.setUint32(28, 0);
}

/** Parses a header; returns a reason string instead of throwing so the caller can name the fragment. */
export function readHeader(bytes: Uint8Array, offset = 0): FragmentHeader | string {
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, fragmentHeaderBytes);
  if (v.getUint32(0) !== magic) return "bad magic";
  if (v.getUint8(4) !== version) return `unknown version ${v.getUint8(4)}`;
  const flags = v.getUint8(5);
  if ((flags & ~flagLastFragment) !== 0) return `unknown flags 0x${flags.toString(16)}`;
  if (v.getUint32(28) !== 0) return "reserved bytes not zero";
  const logicalBytes = v.getUint32(12);
  if (logicalBytes > fragmentBodyBytes) return `logical size ${logicalBytes} out of range`;
  return {
    shardIndex: v.getUint16(6),
    fragmentNumber: v.getUint32(8),
    logicalBytes,
    last: (flags & flagLastFragment) !== 0,
    storeId: bytes.slice(offset + 16, offset + 16 + storeIdBytes),
    counter: v.getUint16(22) * 2 ** 32 + v.getUint32(24),
  };
}

/** The nonce is the header's bytes 16..28: store id then counter. */
export function nonceOf(fragment: Uint8Array, offset = 0): Uint8Array {
  return fragment.subarray(offset + 16, offset + 16 + nonceBytes);
}

/**
 * Additional authenticated data: the whole header plus where the fragment must live (object id,
 * shard index, fragment number). A fragment copied to any other place fails its tag.
 */
export function additionalData(header: Uint8Array, objectId: string, shardIndex: number, fragmentNumber: number): Uint8Array {
  const id = utf8.encode(objectId);
  assert(id.length >= 1 && id.length <= objectIdBytesMax, `fragment: object id must be 1..${objectIdBytesMax} bytes`);
  const out = new Uint8Array(fragmentHeaderBytes + 2 + id.length + 2 + 4);
  out.set(header.subarray(0, fragmentHeaderBytes), 0);
  const v = new DataView(out.buffer);
  v.setUint16(fragmentHeaderBytes, id.length);
  out.set(id, fragmentHeaderBytes + 2);
  v.setUint16(fragmentHeaderBytes + 2 + id.length, shardIndex);
  v.setUint32(fragmentHeaderBytes + 4 + id.length, fragmentNumber);
  return out;
}

/** Fragments needed for a shard of `logicalBytes` (an empty shard still has one fragment). */
export function fragmentCountFor(logicalBytes: number): number {
  return Math.max(1, Math.ceil(logicalBytes / fragmentBodyBytes));
}
