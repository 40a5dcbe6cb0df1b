/**
 * The master key: a file of exactly 32 raw bytes, readable by its owner only. The key is never
 * logged; `keyFingerprint` is what logs and errors show. Each store seals with its own key
 * derived from the master key and the store id (HKDF-SHA256), so two stores never share a
 * (key, nonce) pair even if their random ids collided with different counters.
 */
import { createHash, createSecretKey, hkdfSync, type KeyObject, randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export const masterKeyBytes = 32;
export const keyFileEnv = "S3D_ENCRYPTION_KEY_FILE";
const groupOtherMask = 0o077;

export class KeyFileError extends Error {
  override name = "KeyFileError";
}

/** A short, non-reversible name for a key: safe to log. */
export function keyFingerprint(key: Uint8Array): string {
  return createHash("sha256").update("s3d key fingerprint v1\0").update(key).digest("hex").slice(0, 16);
}

/**
 * Reads and checks a master key file; the opened fd is checked (not the path) so the file cannot
 * change in between. Symlinks are followed (secret mounts are often symlinks); the mode checked is
 * the target's.
 */
export function readMasterKeyFile(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch (e) {
    throw new KeyFileError(`encryption key file ${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new KeyFileError(`encryption key file ${path}: not a regular file`);
    if ((st.mode & groupOtherMask) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
      throw new KeyFileError(`encryption key file ${path}: mode ${mode} lets group or others read it; run: chmod 600 ${path}`);
    }
    if (st.size !== masterKeyBytes) {
      throw new KeyFileError(`encryption key file ${path}: must be exactly ${masterKeyBytes} raw bytes, found ${st.size}`);
    }
    const key = new Uint8Array(masterKeyBytes);
    const n = readSync(fd, key, 0, masterKeyBytes, 0);
    if (n !== masterKeyBytes) throw new KeyFileError(`encryption key file ${path}: short read (${n} bytes)`);
    return key;
  } finally {
    closeSync(fd);
  }
}

export interface LoadedKey {
  readonly key: Uint8Array;
  /** Safe to log; the key itself never is. */
  readonly fingerprint: string;
  readonly path: string;
}

/**
 * The master key for this process: `--encryption-key-file PATH` wins over the
 * S3D_ENCRYPTION_KEY_FILE environment variable; null when neither is set (the caller decides
 * whether that is allowed). The environment is passed in, not read here.
 */
export function loadMasterKey(flagPath: string | undefined, env: Readonly<Record<string, string | undefined>>): LoadedKey | null {
  const path = flagPath ?? env[keyFileEnv];
  if (path === undefined || path === "") return null;
  const key = readMasterKeyFile(path);
  return { key, fingerprint: keyFingerprint(key), path };
}

/**
 * `s3d keygen FILE`: writes 32 random bytes with mode 0600, refusing to overwrite, fsynced with
 * its directory. Returns the fingerprint to print. `random` is injectable for tests.
 */
export async function keygen(path: string, random: (n: number) => Uint8Array = randomBytes): Promise<string> {
  const key = random(masterKeyBytes);
  if (key.length !== masterKeyBytes) throw new KeyFileError(`keygen: random source gave ${key.length} bytes`);
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new KeyFileError(`keygen: ${path} already exists; refusing to overwrite a key`);
    throw new KeyFileError(`keygen: cannot create ${path} (${code ?? e})`);
  }
  try {
    writeSync(fd, key, 0, masterKeyBytes, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const dirFd = openSync(dirname(path), constants.O_RDONLY);
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return keyFingerprint(key);
}

/** The store's sealing key: HKDF-SHA256(master key, salt = store id). */
export function deriveStoreKey(masterKey: Uint8Array, storeId: Uint8Array): KeyObject {
  if (masterKey.length !== masterKeyBytes) throw new KeyFileError(`master key must be ${masterKeyBytes} bytes`);
  const derived = hkdfSync("sha256", masterKey, storeId, "s3d fragment key v1", masterKeyBytes);
  return createSecretKey(new Uint8Array(derived));
}
