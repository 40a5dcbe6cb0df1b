/**
 * rclone 1.60 (Debian), provider "Other": UNSIGNED-PAYLOAD with Content-MD5, the modification time
 * in x-amz-meta-mtime, multipart uploads that keep the whole file's MD5 in x-amz-meta-md5chksum,
 * ranged reads, server-side copies, and `check`, which compares every size and MD5.
 */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { accessKey, secretKey } from "../support/server.ts";
import { s3 as signed } from "../support/client.ts";
import { clientEnv, clientSuite, md5Hex, requireExecutable, run, sha256File, writeRandomFile } from "./helpers.ts";

const rclonePath = "/usr/bin/rclone";
const bucket = "rclone-bucket";


/** rclone with a remote named "s3d" configured from the environment only (no config file, no secret in argv). */
function rclone(args: string[], stdin?: string) {
  requireExecutable(rclonePath, "rclone (/usr/bin/rclone)");
  const env = clientEnv(tmp, {
    RCLONE_CONFIG: tmp.file("no-such-rclone.conf"),
    RCLONE_CONFIG_S3D_TYPE: "s3",
    RCLONE_CONFIG_S3D_PROVIDER: "Other",
    RCLONE_CONFIG_S3D_ACCESS_KEY_ID: accessKey,
    RCLONE_CONFIG_S3D_SECRET_ACCESS_KEY: secretKey,
    RCLONE_CONFIG_S3D_ENDPOINT: suite.server.endpoint,
    RCLONE_CONFIG_S3D_FORCE_PATH_STYLE: "true",
    RCLONE_CONFIG_S3D_REGION: "us-east-1",
  });
  // small multipart thresholds, so that a 12 MB file goes up in three parts
  return run([rclonePath, "--quiet", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", ...args], { env, stdin, timeoutMs: 90_000 });
}

const suite = clientSuite("rclone");
const { tmp } = suite;

describe("rclone", () => {
  test(
    "mkdir, copy a tree (one file multipart), lsjson with MD5s and times, check, ranged cat, server-side copy, sync with deletion, purge",
    async () => {
      const src = tmp.file("src");
      mkdirSync(`${src}/sub`, { recursive: true });
      // text, so that ranges of it can be compared as the strings rclone prints
      const smallText = randomBytes(61_729).toString("hex") + "\n";
      writeFileSync(`${src}/small.bin`, smallText);
      const bigSha = await writeRandomFile(`${src}/big.bin`, 12_000_000);
      writeFileSync(`${src}/sub/a.txt`, "hello from rclone\n");
      const mtime = new Date("2024-02-29T12:34:56.789Z");
      utimesSync(`${src}/small.bin`, mtime, mtime);

      const mkdir = await rclone(["mkdir", `s3d:${bucket}`]);
      expect(mkdir.code, mkdir.describe).toBe(0);
      expect((await signed(suite.server.endpoint, { method: "HEAD", path: `/${bucket}` })).status).toBe(200);

      const copy = await rclone(["copy", src, `s3d:${bucket}/dir`]);
      expect(copy.code, copy.describe).toBe(0);
      // the 12 MB file went up in 5 MB parts; rclone keeps its MD5 in metadata
      const headBig = await signed(suite.server.endpoint, { method: "HEAD", path: `/${bucket}/dir/big.bin` });
      expect(headBig.headers.get("etag")).toMatch(/^"[0-9a-f]{32}-3"$/);
      const bigMd5 = md5Hex(readFileSync(`${src}/big.bin`));
      expect(headBig.headers.get("x-amz-meta-md5chksum")).toBe(Buffer.from(bigMd5, "hex").toString("base64"));

      const listing = await rclone(["lsjson", "--recursive", "--files-only", "--hash", `s3d:${bucket}/dir`]);
      expect(listing.code, listing.describe).toBe(0);
      const entries = (JSON.parse(listing.stdout) as { Path: string; Size: number; ModTime: string; Hashes: { md5: string } }[]).sort((a, b) => a.Path.localeCompare(b.Path));
      expect(entries.map((e) => [e.Path, e.Size, e.Hashes.md5])).toEqual([
        ["big.bin", 12_000_000, bigMd5],
        ["small.bin", smallText.length, md5Hex(readFileSync(`${src}/small.bin`))],
        ["sub/a.txt", 18, md5Hex("hello from rclone\n")],
      ]);
      // the modification time comes back from x-amz-meta-mtime, to the millisecond at least
      expect(new Date(entries[1].ModTime).getTime()).toBe(mtime.getTime());

      // every size and MD5 compared, both ways
      const check = await rclone(["check", src, `s3d:${bucket}/dir`]);
      expect(check.code, check.describe).toBe(0);

      const ranged = await rclone(["cat", "--offset", "100", "--count", "1000", `s3d:${bucket}/dir/small.bin`]);
      expect(ranged.code, ranged.describe).toBe(0);
      expect(ranged.stdout).toBe(smallText.slice(100, 1100));
      const tail = await rclone(["cat", "--tail", "7", `s3d:${bucket}/dir/sub/a.txt`]);
      expect(tail.stdout).toBe("rclone\n");

      // server-side copy of the multipart object (CopyObject), then a download of the copy
      const serverCopy = await rclone(["copyto", `s3d:${bucket}/dir/big.bin`, `s3d:${bucket}/copy.bin`]);
      expect(serverCopy.code, serverCopy.describe).toBe(0);
      const back = await rclone(["copyto", `s3d:${bucket}/copy.bin`, tmp.file("copy.back")]);
      expect(back.code, back.describe).toBe(0);
      expect(await sha256File(tmp.file("copy.back"))).toBe(bigSha);
      const smallBack = await rclone(["copyto", `s3d:${bucket}/dir/small.bin`, tmp.file("small.back")]);
      expect(smallBack.code, smallBack.describe).toBe(0);
      expect(readFileSync(tmp.file("small.back"), "utf8")).toBe(smallText);

      // sync: a changed file is uploaded again, a removed one deleted on the server
      rmSync(`${src}/big.bin`);
      writeFileSync(`${src}/sub/a.txt`, "changed\n");
      const sync = await rclone(["sync", src, `s3d:${bucket}/dir`]);
      expect(sync.code, sync.describe).toBe(0);
      const afterSync = await rclone(["lsf", "--recursive", "--files-only", `s3d:${bucket}`]);
      expect(afterSync.stdout.trim().split("\n").sort()).toEqual(["copy.bin", "dir/small.bin", "dir/sub/a.txt"]);
      const changed = await signed(suite.server.endpoint, { method: "GET", path: `/${bucket}/dir/sub/a.txt` });
      expect(await changed.text()).toBe("changed\n");

      // an upload of unknown length from stdin
      const rcat = await rclone(["rcat", `s3d:${bucket}/streamed.txt`], "streamed through rcat\n");
      expect(rcat.code, rcat.describe).toBe(0);
      expect(await (await signed(suite.server.endpoint, { method: "GET", path: `/${bucket}/streamed.txt` })).text()).toBe("streamed through rcat\n");

      // (a missing key is an empty directory to rclone, as on AWS; a missing bucket is an error)
      const missing = await rclone(["lsf", "s3d:no-such-bucket"]);
      expect(missing.code, missing.describe).toBe(3); // rclone's "directory not found"

      const purge = await rclone(["purge", `s3d:${bucket}`]);
      expect(purge.code, purge.describe).toBe(0);
      expect((await signed(suite.server.endpoint, { method: "HEAD", path: `/${bucket}` })).status).toBe(404);
    },
    120_000,
  );
});
