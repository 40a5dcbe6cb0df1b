/**
 * SSE-C in the fs backend: objects sealed with a key the client sends with every request for
 * them, and that s3d never stores.
 *
 * - Sealing: the same fragments as encryption at rest (sealing.ts), under a master key derived
 *   from the client's: HKDF-SHA256(ikm = client key, salt = the data dir's master key, or none,
 *   info = "s3d sse-c v1"). With encryption at rest, opening such an object needs both keys.
 *   Every blob and inline object has its own data key under it, as with the data dir's key.
 * - Check: what the row keeps to tell the right key from a wrong one before any byte is opened:
 *   a random salt and HMAC-SHA256(derived key, salt). The salt makes two objects under one key
 *   look unrelated; the key cannot be recovered from it.
 * - ETag: not the plaintext's MD5, which would tell anyone who may list the bucket whether an
 *   object holds a guessed content; as S3's, 32 random hex digits (`customerKeyedEtag`).
 * - Additional checksums (x-amz-checksum-*) of the object and of its parts tell as much (a CRC of
 *   a few bytes can be inverted): their columns are sealed too (`sealColumn`), and read only with
 *   the key, as S3 answers them only with it.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { S3Error } from "../../errors.ts";
import { assert } from "../../util/assert.ts";
import type { CustomerKey } from "../backend.ts";
import { fragmentSealedBytes, sealIdBytes, tagBytes, Sealing } from "./sealing.ts";

const keyBytes = 32;
const saltBytes = 16;
const checkVersion = "v1";
const checkLabel = "s3d sse-c key check v1";

const sealedColumnPrefix = "sealed:";

/** Whether a metadata column holds text sealed with a client's key (`CustomerSealing.sealColumn`). */
export const isSealedColumn = (column: string): boolean => column.startsWith(sealedColumnPrefix);

/** The ETag of an object or part sealed with a client's key: random, like S3's. */
export const customerKeyedEtag = (): string => randomBytes(16).toString("hex");

/** One client key, derived for this data dir: seals what it protects, and checks a key against it. */
export class CustomerSealing {
  readonly sealing: Sealing;
  private readonly derived: Uint8Array;

  constructor(customerKey: CustomerKey, dataDirKey: Uint8Array | undefined) {
    assert(customerKey.key.length === keyBytes, "a customer key is 256 bits");
    this.derived = new Uint8Array(hkdfSync("sha256", customerKey.key, dataDirKey ?? new Uint8Array(0), "s3d sse-c v1", keyBytes));
    this.sealing = new Sealing(this.derived);
  }

  /** A fresh check of this key, for a new object's or upload's row. */
  newCheck(): string {
    const salt = randomBytes(saltBytes);
    return `${checkVersion}:${salt.toString("base64")}:${this.mac(salt).toString("base64")}`;
  }

  /** Whether `check` was made with this key. */
  matches(check: string): boolean {
    const [version, salt, mac] = check.split(":");
    if (version !== checkVersion || salt === undefined || mac === undefined) return false;
    const expected = this.mac(Buffer.from(salt, "base64"));
    const given = Buffer.from(mac, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** `text` (a checksum) sealed for a metadata column, under a fresh id of its own. */
  sealColumn(text: string): string {
    const sealed = this.sealing.sealInline(randomBytes(sealIdBytes), Buffer.from(text, "utf8"));
    return sealedColumnPrefix + Buffer.from(sealed).toString("base64");
  }

  /** The text of a column `sealColumn` made (SealedDataError if it does not open). */
  openColumn(column: string): string {
    assert(isSealedColumn(column), "a sealed column");
    const stored = Buffer.from(column.slice(sealedColumnPrefix.length), "base64");
    assert(stored.length <= sealIdBytes + fragmentSealedBytes, "a sealed column is one fragment");
    const plainBytes = stored.length - sealIdBytes - tagBytes;
    return Buffer.from(this.sealing.openInline(stored, plainBytes, 0, plainBytes)).toString("utf8");
  }

  private mac(salt: Uint8Array): Buffer {
    return createHmac("sha256", this.derived).update(checkLabel).update(salt).digest();
  }
}

/** Client keys as this data dir derives them (with its own key, when it has one). */
export class CustomerKeys {
  private readonly dataDirKey: Uint8Array | undefined;

  constructor(dataDirKey: Uint8Array | undefined) {
    this.dataDirKey = dataDirKey === undefined ? undefined : new Uint8Array(dataDirKey);
  }

  /** The sealing of a new object or upload: its row gets `newCheck()`. */
  forNew(customerKey: CustomerKey): CustomerSealing {
    return new CustomerSealing(customerKey, this.dataDirKey);
  }

  /**
   * What opens the bytes of a version whose row has `check`, given the key the request came with:
   * the client key's sealing, undefined when the row has none (its bytes are the data dir's), or
   * "withheld" when the request has no key for a version that needs one (its metadata is still
   * read: tags, locks). Refuses, as S3 does, another key than the version's (403) and a key for a
   * version without one (400).
   */
  forObject(check: string | undefined, customerKey: CustomerKey | undefined): CustomerSealing | "withheld" | undefined {
    if (check === undefined) {
      if (customerKey !== undefined) throw new S3Error("InvalidRequest", "The encryption parameters are not applicable to this object.");
      return undefined;
    }
    if (customerKey === undefined) return "withheld";
    const sealing = this.forNew(customerKey);
    if (!sealing.matches(check)) throw new S3Error("AccessDenied", "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.");
    return sealing;
  }

  /** The same for a part of an upload whose row has `check`: every part comes with the upload's key, or none. */
  forPart(check: string | undefined, customerKey: CustomerKey | undefined): CustomerSealing | undefined {
    if (check !== undefined && customerKey === undefined) {
      throw new S3Error("InvalidRequest", "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.");
    }
    const sealing = customerKey && this.forNew(customerKey);
    if (sealing !== undefined && (check === undefined || !sealing.matches(check))) {
      throw new S3Error("InvalidRequest", "The provided encryption parameters did not match the ones used originally.");
    }
    return sealing;
  }
}
