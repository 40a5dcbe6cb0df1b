/**
 * Differential test against the AWS SDK's own signer (@smithy/signature-v4, present through the
 * @aws-sdk/client-s3 dev dependency): what the SDK signs, s3d verifies. The request reaches
 * verifyRequest the way the server will build it: path segments percent-decoded, query pairs
 * decoded.
 */
import { describe, expect, test } from "bun:test";
import { createHash, createHmac } from "node:crypto";
import { emptyPayloadHash, sha256Hex, verifyRequest } from "../../src/sigv4/index.ts";
import { int, mulberry32, pick, seedFromEnv, text } from "./prng.ts";

type Signer = {
  sign(request: unknown, options: { signingDate: Date }): Promise<{ headers: Record<string, string> }>;
  presign(request: unknown, options: { signingDate: Date; expiresIn: number }): Promise<{ query: Record<string, string> }>;
};
type SignerClass = new (options: Record<string, unknown>) => Signer;

let SignatureV4: SignerClass | undefined;
try {
  SignatureV4 = (await import("@smithy/signature-v4")).SignatureV4 as unknown as SignerClass;
} catch {
  SignatureV4 = undefined; // the SDK is a dev dependency's dependency; without it, skip
}

/** The SDK's hash interface over node:crypto. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | Uint8Array) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", secret);
  }
  update(data: string | Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/** How the S3 client puts a key on the wire: encodeURIComponent plus !'()*, per segment. */
function sdkEncode(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

const accessKeyId = "AKIDSDKTEST";
const secretAccessKey = "sdk/secret+key";
const region = "eu-central-1";
const host = "127.0.0.1:9000";
const signingDate = new Date(Date.UTC(2025, 6, 14, 10, 20, 30));
const lookup = (id: string) => (id === accessKeyId ? secretAccessKey : undefined);

describe.skipIf(SignatureV4 === undefined)("AWS SDK signer → verifyRequest", () => {
  const signer = () =>
    new SignatureV4!({
      credentials: { accessKeyId, secretAccessKey },
      region,
      service: "s3",
      sha256: NodeSha256,
      uriEscapePath: false,
      applyChecksum: false,
    });

  function randomRequest(seedCase: () => number) {
    const key = text(seedCase, 24, ["/", "//"]) || "k";
    const segments = ["bucket", ...key.split("/")];
    const query: Record<string, string> = {};
    for (let q = int(seedCase, 4); q > 0; q--) query[text(seedCase, 6) || "k"] = text(seedCase, 10);
    return {
      method: pick(seedCase, ["GET", "PUT", "DELETE", "HEAD", "POST"]),
      wirePath: "/" + segments.map(sdkEncode).join("/"),
      decodedPath: "/" + segments.join("/"),
      query,
    };
  }

  test("header-signed requests verify", async () => {
    const seed = seedFromEnv(0x5d6);
    const rng = mulberry32(seed);
    for (let i = 0; i < 200; i++) {
      const r = randomRequest(rng);
      const payloadHash = pick(rng, [emptyPayloadHash, "UNSIGNED-PAYLOAD", sha256Hex(String(i))]);
      const headers: Record<string, string> = { host, "x-amz-content-sha256": payloadHash, "x-amz-meta-n": `v  ${i} ` };
      if (rng() < 0.5) headers["content-type"] = "text/plain";
      const signed = await signer().sign(
        { method: r.method, protocol: "http:", hostname: "127.0.0.1", port: 9000, path: r.wirePath, query: r.query, headers },
        { signingDate },
      );
      const verified = verifyRequest(
        {
          method: r.method,
          decodedPath: r.wirePath.split("/").map(decodeURIComponent).join("/"),
          query: Object.entries(r.query),
          headers: new Headers(signed.headers),
          nowMs: signingDate.getTime(),
          region,
        },
        lookup,
      );
      expect(verified.payloadHash, `seed ${seed} case ${i}`).toBe(payloadHash);
      expect(signed.headers.authorization).toEndWith(`Signature=${verified.signature}`);
    }
  });

  test("presigned URLs verify", async () => {
    const seed = seedFromEnv(0x5d7);
    const rng = mulberry32(seed);
    for (let i = 0; i < 200; i++) {
      const r = randomRequest(rng);
      const presigned = await signer().presign(
        {
          method: r.method,
          protocol: "http:",
          hostname: "127.0.0.1",
          port: 9000,
          path: r.wirePath,
          query: r.query,
          headers: { host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
        },
        { signingDate, expiresIn: 900 },
      );
      const verified = verifyRequest(
        {
          method: r.method,
          decodedPath: r.decodedPath,
          query: Object.entries(presigned.query),
          headers: { host },
          nowMs: signingDate.getTime() + 60_000,
          region,
        },
        lookup,
      );
      expect(verified.payloadHash, `seed ${seed} case ${i}`).toBe("UNSIGNED-PAYLOAD");
    }
  });
});
