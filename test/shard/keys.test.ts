import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyFileError, keyFingerprint, keygen, readMasterKeyFile } from "../../src/shard/keys.ts";

const dir = mkdtempSync(join(tmpdir(), "s3d-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("master key file", () => {
  test("keygen writes 32 bytes with mode 0600 and a fingerprint that is not the key", async () => {
    const path = join(dir, "k1");
    const fp = await keygen(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const key = readMasterKeyFile(path);
    expect(key.length).toBe(32);
    expect(fp).toBe(keyFingerprint(key));
    expect(fp).toHaveLength(16);
    expect(Buffer.from(key).toString("hex")).not.toContain(fp);
  });

  test("keygen refuses to overwrite", async () => {
    const path = join(dir, "k2");
    await keygen(path, () => new Uint8Array(32).fill(1));
    await expect(keygen(path)).rejects.toThrow("already exists");
    expect(readMasterKeyFile(path)).toEqual(new Uint8Array(32).fill(1));
  });

  test("a group- or other-readable key file is refused", () => {
    const path = join(dir, "k3");
    writeFileSync(path, new Uint8Array(32), { mode: 0o600 });
    for (const mode of [0o640, 0o604, 0o660]) {
      chmodSync(path, mode);
      expect(() => readMasterKeyFile(path)).toThrow(KeyFileError);
      expect(() => readMasterKeyFile(path)).toThrow("chmod 600");
    }
    chmodSync(path, 0o400);
    expect(readMasterKeyFile(path).length).toBe(32);
  });

  test("a key file of the wrong size or missing is refused with a clear message", () => {
    const path = join(dir, "k4");
    writeFileSync(path, "not a key\n", { mode: 0o600 });
    expect(() => readMasterKeyFile(path)).toThrow("exactly 32 raw bytes, found 10");
    expect(() => readMasterKeyFile(join(dir, "nope"))).toThrow("cannot open (ENOENT)");
  });
});

test("a symlinked key file is followed and its target's mode is checked", async () => {
  const { symlinkSync } = await import("node:fs");
  const target = join(dir, "target");
  await keygen(target);
  const link = join(dir, "link");
  symlinkSync(target, link);
  expect(readMasterKeyFile(link)).toEqual(readMasterKeyFile(target));
  chmodSync(target, 0o644);
  expect(() => readMasterKeyFile(link)).toThrow("lets group or others read it");
});

test("loadMasterKey: the flag wins over the environment; neither means null", async () => {
  const { loadMasterKey } = await import("../../src/shard/keys.ts");
  const a = join(dir, "flag-key");
  const b = join(dir, "env-key");
  const fpA = await keygen(a);
  const fpB = await keygen(b);
  expect(loadMasterKey(a, { S3D_ENCRYPTION_KEY_FILE: b })?.fingerprint).toBe(fpA);
  expect(loadMasterKey(undefined, { S3D_ENCRYPTION_KEY_FILE: b })?.fingerprint).toBe(fpB);
  expect(loadMasterKey(undefined, {})).toBeNull();
});
