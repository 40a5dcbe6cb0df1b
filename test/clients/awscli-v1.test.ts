/**
 * AWS CLI v1 (the pyenv `aws` first on PATH, botocore 1.4x): it sends `x-amz-checksum-crc32`
 * and `x-amz-sdk-checksum-algorithm` with every PutObject/UploadPart by default.
 */
import { describe, expect, test } from "bun:test";
import { clientEnv, clientSuite, run, sha256File, whichOnPath, writeRandomFile } from "./helpers.ts";

const bucket = "cli-v1-bucket";


/** The `aws` a user gets from PATH, which must be v1 (v2 is tested through /usr/bin/aws). */
function awsV1Path(): string {
  const path = whichOnPath("aws");
  if (!path) throw new Error("AWS CLI v1 is missing: no `aws` on PATH (pip install awscli; for v2 also apt-get install -y awscli python3-boto3 s3cmd)");
  return path;
}

function aws(...args: string[]) {
  return run([awsV1Path(), "--endpoint-url", suite.server.endpoint, ...args], { env: clientEnv(tmp), timeoutMs: 90_000 });
}

const suite = clientSuite("awscli-v1");
const { tmp } = suite;

describe("aws cli v1", () => {
  test("the aws on PATH is v1", async () => {
    const v = await aws("--version");
    expect(v.code, v.describe).toBe(0);
    expect(v.stdout + v.stderr, v.describe).toMatch(/^aws-cli\/1\./);
  });

  test(
    "put and get of a small file round-trip (x-amz-checksum-crc32 on the PUT)",
    async () => {
      const sha = await writeRandomFile(tmp.file("small.bin"), 100_000);
      const mb = await aws("s3", "mb", `s3://${bucket}`);
      expect(mb.code, mb.describe).toBe(0);

      const put = await aws("s3", "cp", "--only-show-errors", "--no-progress", tmp.file("small.bin"), `s3://${bucket}/small.bin`);
      expect(put.code, put.describe).toBe(0);

      const get = await aws("s3", "cp", "--only-show-errors", "--no-progress", `s3://${bucket}/small.bin`, tmp.file("small.back"));
      expect(get.code, get.describe).toBe(0);
      expect(await sha256File(tmp.file("small.back"))).toBe(sha);

      const head = await aws("s3api", "head-object", "--bucket", bucket, "--key", "small.bin", "--output", "json");
      expect(head.code, head.describe).toBe(0);
      const h = JSON.parse(head.stdout);
      expect(h.ContentLength).toBe(100_000);
      expect(h.ETag).toBe(`"${new Bun.CryptoHasher("md5").update(await Bun.file(tmp.file("small.bin")).arrayBuffer()).digest("hex")}"`);
    },
    60_000,
  );

  test(
    "multipart cp (10 MB, CRC32 per part) round-trips",
    async () => {
      const sha = await writeRandomFile(tmp.file("mid.bin"), 10_000_000);
      const put = await aws("s3", "cp", "--only-show-errors", "--no-progress", tmp.file("mid.bin"), `s3://${bucket}/mid.bin`);
      expect(put.code, put.describe).toBe(0);
      const get = await aws("s3", "cp", "--only-show-errors", "--no-progress", `s3://${bucket}/mid.bin`, tmp.file("mid.back"));
      expect(get.code, get.describe).toBe(0);
      expect(await sha256File(tmp.file("mid.back"))).toBe(sha);

      const head = await aws("s3api", "head-object", "--bucket", bucket, "--key", "mid.bin", "--output", "json");
      expect(head.code, head.describe).toBe(0);
      expect(JSON.parse(head.stdout).ETag).toMatch(/^"[0-9a-f]{32}-2"$/);

      const rm = await aws("s3", "rm", "--recursive", "--only-show-errors", `s3://${bucket}/`);
      expect(rm.code, rm.describe).toBe(0);
      const rb = await aws("s3", "rb", `s3://${bucket}`);
      expect(rb.code, rb.describe).toBe(0);
    },
    60_000,
  );
});
