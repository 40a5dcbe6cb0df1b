/** The root user's credentials: from the environment, or generated once and kept in the data dir. */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { isAccessKey, isSecretKey } from "./config.ts";
import type { User } from "./s3/auth.ts";

export const credentialsFileName = "root-credentials.json";

export interface RootCredentials {
  user: User;
  source: "environment" | "generated" | "data-dir";
  file: string | undefined;
}

/** The root user's keys obey the rules of every user's ([[users]] in the config). */
function checkRoot(accessKey: unknown, secretKey: unknown, accessKeyName: string, secretKeyName: string): void {
  if (!isAccessKey(accessKey)) throw new Error(`${accessKeyName} must be 3 to 128 letters, digits or _.+-`);
  if (!isSecretKey(secretKey)) throw new Error(`${secretKeyName} must be 8 to 256 characters`);
}

const accessKeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

function generate(): User {
  const bytes = randomBytes(20);
  const accessKey = Array.from(bytes, (b) => accessKeyAlphabet[b % accessKeyAlphabet.length]).join("");
  return { name: "root", accessKey, secretKey: randomBytes(30).toString("base64url") };
}

export function rootCredentials(dataDir: string, env: Record<string, string | undefined>): RootCredentials {
  const accessKey = env.S3D_ACCESS_KEY;
  const secretKey = env.S3D_SECRET_KEY;
  if (accessKey !== undefined || secretKey !== undefined) {
    if (!accessKey || !secretKey) throw new Error("S3D_ACCESS_KEY and S3D_SECRET_KEY go together: set both or neither");
    checkRoot(accessKey, secretKey, "S3D_ACCESS_KEY", "S3D_SECRET_KEY");
    return { user: { name: "root", accessKey, secretKey }, source: "environment", file: undefined };
  }
  const file = join(dataDir, credentialsFileName);
  if (existsSync(file)) {
    let stored: unknown;
    try {
      stored = JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
      throw new Error(`${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const { accessKey: storedKey, secretKey: storedSecret } = (typeof stored === "object" && stored !== null ? stored : {}) as Record<string, unknown>;
    checkRoot(storedKey, storedSecret, `${file}: accessKey`, `${file}: secretKey`);
    return { user: { name: "root", accessKey: storedKey as string, secretKey: storedSecret as string }, source: "data-dir", file };
  }
  const user = generate();
  writeFileSync(file, JSON.stringify({ accessKey: user.accessKey, secretKey: user.secretKey }, null, 2) + "\n", { mode: 0o600, flag: "wx" });
  chmodSync(file, 0o600);
  return { user, source: "generated", file };
}
