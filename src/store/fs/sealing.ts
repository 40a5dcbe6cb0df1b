/**
 * Encryption at rest of the fs backend's object data: AES-256-GCM (node:crypto) in 8 KiB
 * fragments, for blob files and for the small objects kept inline in their metadata row.
 *
 * Why this and not src/shard/fragment-layout.ts: the shard store seals with one key per store
 * and makes nonces unique with a persisted counter, so it carries a 32-byte header per fragment.
 * Here every sealed unit (a blob file, an inline object) already has a random 128-bit id, so:
 *
 * - Data key: HKDF-SHA256(ikm = master key, salt = id, info = "s3d fs object data v1"), one per
 *   blob / inline object. The blob id is the file's name; an inline object's id is stored in
 *   its row, as the first 16 bytes of the `inline` column.
 * - Nonce: the fragment number (96-bit big-endian). Each id is sealed exactly once (blob files
 *   are created with O_EXCL under a fresh random id and never rewritten; an inline object gets a
 *   fresh id per write), so under one data key each nonce is used once. Two ids collide with
 *   probability ~2^-64 after 2^32 objects, and a collision still needs the same fragment number.
 * - AAD: a version tag, the id, the fragment number and a last-fragment flag. A fragment moved,
 *   swapped, spliced from another blob (other key), bit-flipped, or a blob cut at a fragment
 *   boundary (its new last fragment was sealed as "not last") fails to open.
 *
 * On disk a fragment is its ciphertext (8192 bytes, fewer in the last one) followed by its
 * 16-byte tag: no header, since every field is implied by the id and the plaintext size kept in
 * the metadata. Fragment k starts at k × 8208; an empty object is one empty fragment (a tag).
 * Metadata (keys, sizes, ETags, headers, checksums) is not encrypted.
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from "node:crypto";
import { assert } from "../../util/assert.ts";
import { releaseChunk } from "../../util/chunks.ts";

export const fragmentPlainBytes = 8192;
export const tagBytes = 16;
export const fragmentSealedBytes = fragmentPlainBytes + tagBytes;
export const sealIdBytes = 16;
const masterKeyBytes = 32;
const aadVersion = new TextEncoder().encode("s3d fs fragment v1\0");
const keyInfo = "s3d fs object data v1";

/** Data that fails to open: corrupted, moved, truncated or sealed under another key. */
export class SealedDataError extends Error {
  override name = "SealedDataError";
}

/** Fragments of a sealed object of `plainBytes` (an empty one still has one). */
export function fragmentCount(plainBytes: number): number {
  return Math.max(1, Math.ceil(plainBytes / fragmentPlainBytes));
}

/** Bytes a sealed object of `plainBytes` occupies. */
export function sealedBytes(plainBytes: number): number {
  return plainBytes + fragmentCount(plainBytes) * tagBytes;
}

/** Plaintext bytes in fragment `n` of an object of `plainBytes`. */
function fragmentPlainLength(plainBytes: number, n: number): number {
  return Math.min(fragmentPlainBytes, plainBytes - n * fragmentPlainBytes);
}

function nonceOf(n: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(n, 6, 6);
  return nonce;
}

function aadOf(id: Uint8Array, n: number, last: boolean): Buffer {
  const aad = Buffer.alloc(aadVersion.length + sealIdBytes + 9);
  aad.set(aadVersion, 0);
  aad.set(id, aadVersion.length);
  aad.writeUIntBE(n, aadVersion.length + sealIdBytes + 2, 6);
  aad[aad.length - 1] = last ? 1 : 0;
  return aad;
}

/** The master key in use: derives each object's data key. Never logged. */
export class Sealing {
  private readonly master: Uint8Array;

  constructor(masterKey: Uint8Array) {
    assert(masterKey.length === masterKeyBytes, "the master key is 32 bytes");
    this.master = new Uint8Array(masterKey);
  }

  dataKey(id: Uint8Array): KeyObject {
    assert(id.length === sealIdBytes, "sealed ids are 16 bytes");
    return createSecretKey(new Uint8Array(hkdfSync("sha256", this.master, id, keyInfo, masterKeyBytes)));
  }

  /**
   * A sealer for one blob's bytes as they stream in. `releaseChunks`: the chunks pushed are the
   * sealer's alone, and each is released (blob-sinks.ts `releaseChunk`) once all its bytes are sealed.
   */
  streamSealer(id: Uint8Array, releaseChunks = false): StreamSealer {
    return new StreamSealer(this.dataKey(id), id, releaseChunks);
  }

  /** Seals a whole small object: id ‖ fragments (what the `inline` column holds). */
  sealInline(id: Uint8Array, plain: Uint8Array): Uint8Array {
    const sealer = this.streamSealer(id);
    const pieces = [id, ...sealer.push(plain), ...sealer.finish()];
    return Buffer.concat(pieces);
  }

  /** Opens bytes [start, end) of an inline object of `plainBytes`, touching only their fragments. */
  openInline(stored: Uint8Array, plainBytes: number, start: number, end: number): Uint8Array {
    if (stored.length !== sealIdBytes + sealedBytes(plainBytes)) {
      throw new SealedDataError(`an inline object's sealed bytes are ${stored.length} long, expected ${sealIdBytes + sealedBytes(plainBytes)}`);
    }
    const id = stored.subarray(0, sealIdBytes);
    const opener = new FragmentOpener(this.dataKey(id), id, plainBytes, "inline object");
    const [first, last] = fragmentSpan(plainBytes, start, end);
    const pieces: Uint8Array[] = [];
    for (let n = first; n <= last; n++) {
      const at = sealIdBytes + n * fragmentSealedBytes;
      const plain = opener.open(n, stored.subarray(at, at + fragmentPlainLength(plainBytes, n) + tagBytes));
      pieces.push(clip(plain, n, start, end));
    }
    return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
  }
}

/** The fragments [first, last] that cover plaintext [start, end); an empty read checks fragment 0. */
export function fragmentSpan(plainBytes: number, start: number, end: number): [number, number] {
  assert(0 <= start && start <= end && end <= plainBytes, "sealed read within the object");
  if (end === start) return [0, plainBytes === 0 ? 0 : -1];
  return [Math.floor(start / fragmentPlainBytes), Math.floor((end - 1) / fragmentPlainBytes)];
}

/** The part of fragment `n`'s plaintext inside [start, end). */
export function clip(plain: Uint8Array, n: number, start: number, end: number): Uint8Array {
  const fragmentStart = n * fragmentPlainBytes;
  const from = Math.max(start - fragmentStart, 0);
  const to = Math.min(end - fragmentStart, plain.length);
  return from === 0 && to === plain.length ? plain : plain.subarray(from, to);
}

/**
 * Seals a stream of plaintext chunks into fragments, without copying them: a fragment is sealed
 * once the bytes after it have arrived (or the stream has ended), because whether it is the last
 * one is part of its AAD. Returns the sealed pieces (ciphertext and tags) in order.
 */
export class StreamSealer {
  /** Plaintext not sealed yet: views of the pushed chunks, the first one possibly cut. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private next = 0;
  private finished = false;
  /** With `releaseChunks`: the pushed chunks not sealed to their last byte yet, whole, oldest first. */
  private unreleased: Uint8Array[] = [];
  private unreleasedBytes = 0;

  constructor(
    private readonly key: KeyObject,
    private readonly id: Uint8Array,
    private readonly releaseChunks = false,
  ) {}

  push(chunk: Uint8Array): Uint8Array[] {
    assert(!this.finished, "sealer used after finish");
    if (chunk.length === 0) return [];
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.releaseChunks) {
      this.unreleased.push(chunk);
      this.unreleasedBytes += chunk.length;
    }
    const out: Uint8Array[] = [];
    while (this.pendingBytes > fragmentPlainBytes) this.seal(fragmentPlainBytes, false, out);
    this.releaseSealed();
    return out;
  }

  finish(): Uint8Array[] {
    assert(!this.finished, "sealer finished twice");
    this.finished = true;
    const out: Uint8Array[] = [];
    this.seal(this.pendingBytes, true, out);
    this.releaseSealed();
    return out;
  }

  /**
   * Releases the chunks whose every byte has been sealed: `pending` holds no view of them any more.
   * The pending bytes are the last ones pushed, so the oldest unreleased chunk is sealed once the
   * chunks after it hold at least as many bytes.
   */
  private releaseSealed(): void {
    while (this.unreleased.length > 0 && this.unreleasedBytes - this.unreleased[0].length >= this.pendingBytes) {
      const chunk = this.unreleased.shift()!;
      this.unreleasedBytes -= chunk.length;
      releaseChunk(chunk);
    }
  }

  private seal(plainBytes: number, last: boolean, out: Uint8Array[]): void {
    const cipher = createCipheriv("aes-256-gcm", this.key, nonceOf(this.next));
    cipher.setAAD(aadOf(this.id, this.next, last));
    this.next++;
    let left = plainBytes;
    while (left > 0) {
      const head = this.pending[0];
      if (head.length <= left) {
        this.pending.shift();
        out.push(cipher.update(head));
        left -= head.length;
      } else {
        out.push(cipher.update(head.subarray(0, left)));
        this.pending[0] = head.subarray(left);
        left = 0;
      }
    }
    this.pendingBytes -= plainBytes;
    const tail = cipher.final();
    if (tail.length > 0) out.push(tail);
    out.push(cipher.getAuthTag());
  }
}

/** Opens the fragments of one sealed object whose plaintext size (from its metadata) is known. */
export class FragmentOpener {
  readonly count: number;

  constructor(
    private readonly key: KeyObject,
    private readonly id: Uint8Array,
    private readonly plainBytes: number,
    private readonly what: string,
  ) {
    this.count = fragmentCount(plainBytes);
  }

  /** Where fragment `n` lies in the sealed bytes: [offset, offset + length). */
  extent(n: number): { offset: number; length: number } {
    return { offset: n * fragmentSealedBytes, length: fragmentPlainLength(this.plainBytes, n) + tagBytes };
  }

  /** Opens fragment `n` (ciphertext ‖ tag); a fresh buffer of its plaintext. */
  open(n: number, sealed: Uint8Array): Uint8Array {
    const expected = fragmentPlainLength(this.plainBytes, n);
    if (sealed.length !== expected + tagBytes) this.fail(n, `${sealed.length} sealed bytes, expected ${expected + tagBytes}`);
    const decipher = createDecipheriv("aes-256-gcm", this.key, nonceOf(n));
    decipher.setAAD(aadOf(this.id, n, n === this.count - 1));
    decipher.setAuthTag(sealed.subarray(expected));
    const plain = decipher.update(sealed.subarray(0, expected));
    try {
      decipher.final();
    } catch {
      this.fail(n, "authentication failed (corrupted, moved, truncated or sealed under another key)");
    }
    return plain;
  }

  private fail(n: number, why: string): never {
    throw new SealedDataError(`${this.what}: fragment ${n} of ${this.count} does not open: ${why}`);
  }
}
