/**
 * Whether a data dir is encrypted, and with which key: recorded in the `settings` table the
 * first time s3d starts on an empty data dir with a key, and checked at every start. Starting
 * an encrypted data dir without its key or with another one, or starting a data dir that already
 * holds unencrypted objects with a key, is refused: s3d never mixes sealed and plain objects and
 * never serves ciphertext as data. Only key fingerprints are recorded or shown, never the key.
 */
import type { Database } from "bun:sqlite";
import { keyFingerprint } from "../../shard/keys.ts";
import { Sealing } from "./sealing.ts";

/** The sealing scheme of sealing.ts; a data dir recorded with another one is refused. */
export const sealingScheme = "aes-256-gcm 8KiB fragments, hkdf-sha256 per object, v1";

export class EncryptionSetupError extends Error {
  override name = "EncryptionSetupError";
}

const keyFlags = "--encryption-key-file (or S3D_ENCRYPTION_KEY_FILE)";

/**
 * Checks the data dir's encryption record against the key given (if any) and returns the
 * sealing to use, or undefined for a plain data dir. An empty data dir given a key becomes
 * encrypted. The record needs no fsync of its own: the first object written is committed
 * through the same WAL, after it, and the sync that makes that object durable covers it.
 */
export function atRestSetup(db: Database, dataDir: string, masterKey: Uint8Array | undefined): Sealing | undefined {
  const setting = (name: string) => db.query<{ value: string }, [string]>("SELECT value FROM settings WHERE name = ?").get(name)?.value;
  const recordedScheme = setting("encryption");
  const recordedFingerprint = setting("encryption_key_fingerprint");
  const given = masterKey === undefined ? undefined : keyFingerprint(masterKey);
  if (recordedScheme !== undefined) {
    if (recordedScheme !== sealingScheme) {
      throw new EncryptionSetupError(`data dir ${dataDir} is encrypted with a scheme this s3d does not know (${recordedScheme})`);
    }
    if (masterKey === undefined) {
      throw new EncryptionSetupError(`data dir ${dataDir} is encrypted (key fingerprint ${recordedFingerprint}): start s3d with ${keyFlags} naming that key`);
    }
    if (given !== recordedFingerprint) {
      throw new EncryptionSetupError(`data dir ${dataDir} is encrypted with the key of fingerprint ${recordedFingerprint}, but the key given has fingerprint ${given}`);
    }
    return new Sealing(masterKey);
  }
  if (masterKey === undefined) return undefined;
  // (noncurrent versions too: a bucket's every key may be behind a delete marker)
  const holdsData = ["SELECT 1 FROM objects LIMIT 1", "SELECT 1 FROM versions WHERE delete_marker = 0 LIMIT 1", "SELECT 1 FROM parts LIMIT 1"].some((sql) => db.query(sql).get() !== null);
  if (holdsData) {
    throw new EncryptionSetupError(
      `data dir ${dataDir} holds unencrypted objects and s3d does not encrypt them in place: start it without ${keyFlags}, ` +
        `or use the key (fingerprint ${given}) with a new, empty data dir`,
    );
  }
  db.transaction(() => {
    db.query("INSERT INTO settings (name, value) VALUES (?, ?)").run("encryption", sealingScheme);
    db.query("INSERT INTO settings (name, value) VALUES (?, ?)").run("encryption_key_fingerprint", given!);
  })();
  return new Sealing(masterKey);
}
