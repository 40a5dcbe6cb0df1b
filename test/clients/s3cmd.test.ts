/** s3cmd 2.3 (Debian): signed SHA-256, multipart above 15 MB, checks the ETag against the MD5. */
import { describe, expect, test } from "bun:test";
import { s3 as signed } from "../support/client.ts";
import { clientEnv, clientSuite, md5Hex, run, s3cmdArgs, sha256File, writeRandomFile } from "./helpers.ts";

const bucket = "s3cmd-bucket";
const bigBytes = 20_000_000;


function s3cmd(...args: string[]) {
  return run([...s3cmdArgs(suite.server.port), "--no-progress", ...args], { env: clientEnv(tmp), timeoutMs: 90_000 });
}

const suite = clientSuite("s3cmd");
const { tmp } = suite;

describe("s3cmd", () => {
  test(
    "mb, put small and 20 MB (multipart), ls, get both, del, rb",
    async () => {
      const smallSha = await writeRandomFile(tmp.file("small.bin"), 123_457);
      const bigSha = await writeRandomFile(tmp.file("big.bin"), bigBytes);

      const mb = await s3cmd("mb", `s3://${bucket}`);
      expect(mb.code, mb.describe).toBe(0);
      expect(mb.stdout).toContain(`Bucket 's3://${bucket}/' created`);

      const putSmall = await s3cmd("put", tmp.file("small.bin"), `s3://${bucket}/small.bin`);
      expect(putSmall.code, putSmall.describe).toBe(0);
      const putBig = await s3cmd("put", tmp.file("big.bin"), `s3://${bucket}/dir/big.bin`);
      expect(putBig.code, putBig.describe).toBe(0);
      // s3cmd compares the returned ETag with its MD5 and warns on a mismatch
      expect(putSmall.stderr + putBig.stderr).not.toMatch(/MD5 sums? don't match/i);

      // the big one went multipart (15 MB chunks: 2 parts)
      const head = await signed(suite.server.endpoint, { method: "HEAD", path: `/${bucket}/dir/big.bin` });
      expect(head.status).toBe(200);
      expect(head.headers.get("etag")).toMatch(/^"[0-9a-f]{32}-2"$/);
      expect(head.headers.get("content-length")).toBe(String(bigBytes));
      const headSmall = await signed(suite.server.endpoint, { method: "HEAD", path: `/${bucket}/small.bin` });
      expect(headSmall.headers.get("etag")).toBe(`"${md5Hex(new Uint8Array(await Bun.file(tmp.file("small.bin")).arrayBuffer()))}"`);

      const ls = await s3cmd("ls", "--recursive", `s3://${bucket}`);
      expect(ls.code, ls.describe).toBe(0);
      const rows = ls.stdout
        .trim()
        .split("\n")
        .map((l) => l.trim().split(/\s+/));
      expect(rows.map((r) => [r[2], r[3]])).toEqual([
        [String(bigBytes), `s3://${bucket}/dir/big.bin`],
        ["123457", `s3://${bucket}/small.bin`],
      ]);
      const buckets = await s3cmd("ls");
      expect(buckets.code, buckets.describe).toBe(0);
      expect(buckets.stdout).toContain(`s3://${bucket}`);

      const getSmall = await s3cmd("get", "--force", `s3://${bucket}/small.bin`, tmp.file("small.back"));
      expect(getSmall.code, getSmall.describe).toBe(0);
      expect(await sha256File(tmp.file("small.back"))).toBe(smallSha);
      const getBig = await s3cmd("get", "--force", `s3://${bucket}/dir/big.bin`, tmp.file("big.back"));
      expect(getBig.code, getBig.describe).toBe(0);
      expect(await sha256File(tmp.file("big.back"))).toBe(bigSha);

      const missing = await s3cmd("get", `s3://${bucket}/absent.bin`, tmp.file("absent"));
      expect(missing.code, missing.describe).not.toBe(0);

      const rbFull = await s3cmd("rb", `s3://${bucket}`);
      expect(rbFull.code, rbFull.describe).not.toBe(0);
      expect(rbFull.stderr, rbFull.describe).toContain("BucketNotEmpty");

      const del = await s3cmd("del", `s3://${bucket}/small.bin`, `s3://${bucket}/dir/big.bin`);
      expect(del.code, del.describe).toBe(0);
      const ls2 = await s3cmd("ls", "--recursive", `s3://${bucket}`);
      expect(ls2.code, ls2.describe).toBe(0);
      expect(ls2.stdout.trim()).toBe("");

      const rb = await s3cmd("rb", `s3://${bucket}`);
      expect(rb.code, rb.describe).toBe(0);
      expect(rb.stdout).toContain(`Bucket 's3://${bucket}/' removed`);
      const headBucket = await signed(suite.server.endpoint, { method: "HEAD", path: `/${bucket}` });
      expect(headBucket.status).toBe(404);
    },
    120_000,
  );
});
