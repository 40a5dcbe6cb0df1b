/**
 * AWS CLI v2 (Debian's /usr/bin/aws 2.9) against dist/s3d: high-level `s3` commands (multipart
 * upload above 8 MiB, download, ls, presign, rm, rb) and `s3api` (head-object, paginated
 * list-objects-v2 over awkward keys).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { awsArgs, clientEnv, clientSuite, run, sha256File, writeRandomFile, xmlErrorCode } from "./helpers.ts";

const bucket = "cli-v2-bucket";
const listBucket = "cli-v2-list";
const bigBytes = 20 * 1024 * 1024;
/** awscli's default multipart_chunksize */
const partBytes = 8 * 1024 * 1024;

const suite = clientSuite("awscli-v2");
const { tmp } = suite;
let bigSha = "";
let bigMultipartEtag = "";

function aws(...args: string[]) {
  return run([...awsArgs(suite.server.endpoint), ...args], { env: clientEnv(tmp), timeoutMs: 90_000 });
}

/** The ETag S3 gives a multipart object: md5 of the parts' binary md5s, "-", part count. */
function multipartEtag(data: Uint8Array, partSize: number): string {
  const outer = createHash("md5");
  let parts = 0;
  for (let off = 0; off < data.length; off += partSize, parts++) {
    outer.update(createHash("md5").update(data.subarray(off, off + partSize)).digest());
  }
  return `"${outer.digest("hex")}-${parts}"`;
}

beforeAll(async () => {
  bigSha = await writeRandomFile(tmp.file("big.bin"), bigBytes);
  bigMultipartEtag = multipartEtag(new Uint8Array(await Bun.file(tmp.file("big.bin")).arrayBuffer()), partBytes);
});

describe("aws cli v2", () => {
  test("client is installed", () => {
    expect(awsArgs(suite.server.endpoint)[0]).toBe("/usr/bin/aws");
  });

  test(
    "s3 mb, multipart cp up, ls, cp down, head-object, presign, rm, rb",
    async () => {
      const mb = await aws("s3", "mb", `s3://${bucket}`);
      expect(mb.code, mb.describe).toBe(0);
      expect(mb.stdout).toContain(`make_bucket: ${bucket}`);

      const up = await aws("s3", "cp", "--only-show-errors", "--no-progress", tmp.file("big.bin"), `s3://${bucket}/dir/big.bin`);
      expect(up.code, up.describe).toBe(0);

      const ls = await aws("s3", "ls", `s3://${bucket}/dir/`);
      expect(ls.code, ls.describe).toBe(0);
      const line = ls.stdout.split("\n").find((l) => l.endsWith(" big.bin"));
      expect(line, ls.describe).toBeDefined();
      expect(line!.trim().split(/\s+/)[2], ls.describe).toBe(String(bigBytes));

      const down = await aws("s3", "cp", "--only-show-errors", "--no-progress", `s3://${bucket}/dir/big.bin`, tmp.file("big.back"));
      expect(down.code, down.describe).toBe(0);
      expect(await sha256File(tmp.file("big.back"))).toBe(bigSha);

      const head = await aws("s3api", "head-object", "--bucket", bucket, "--key", "dir/big.bin", "--output", "json");
      expect(head.code, head.describe).toBe(0);
      const h = JSON.parse(head.stdout);
      expect(h.ContentLength).toBe(bigBytes);
      // 20 MiB in 8 MiB parts: 8 + 8 + 4
      expect(h.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
      expect(h.ETag).toBe(bigMultipartEtag);

      // presigned GET, fetched by curl
      const pre = await aws("s3", "presign", `s3://${bucket}/dir/big.bin`, "--expires-in", "300");
      expect(pre.code, pre.describe).toBe(0);
      const url = pre.stdout.trim();
      expect(url).toContain("X-Amz-Signature=");
      const curl = await run(["curl", "-sS", "-o", tmp.file("presigned.out"), "-w", "%{http_code}", url], { env: clientEnv(tmp) });
      expect(curl.code, curl.describe).toBe(0);
      expect(curl.stdout, curl.describe).toBe("200");
      expect(await sha256File(tmp.file("presigned.out"))).toBe(bigSha);

      // tampered: another key under the same signature, and a longer expiry than was signed
      for (const bad of [url.replace("/dir/big.bin?", "/dir/other.bin?"), url.replace("X-Amz-Expires=300", "X-Amz-Expires=3000")]) {
        expect(bad).not.toBe(url);
        const res = await fetch(bad);
        const body = await res.text();
        expect(res.status, body).toBe(403);
        expect(xmlErrorCode(body), body).toBe("SignatureDoesNotMatch");
      }

      // expired: signed for 1 second
      const short = await aws("s3", "presign", `s3://${bucket}/dir/big.bin`, "--expires-in", "1");
      expect(short.code, short.describe).toBe(0);
      await Bun.sleep(2_100);
      const expired = await fetch(short.stdout.trim());
      const expiredBody = await expired.text();
      expect(expired.status, expiredBody).toBe(403);
      expect(xmlErrorCode(expiredBody), expiredBody).toBe("AccessDenied");
      expect(expiredBody).toContain("expired");

      const rbFull = await aws("s3", "rb", `s3://${bucket}`);
      expect(rbFull.code, `rb of a non-empty bucket must fail\n${rbFull.describe}`).not.toBe(0);
      expect(rbFull.stderr).toContain("BucketNotEmpty");

      const rm = await aws("s3", "rm", "--only-show-errors", `s3://${bucket}/dir/big.bin`);
      expect(rm.code, rm.describe).toBe(0);
      const gone = await aws("s3api", "head-object", "--bucket", bucket, "--key", "dir/big.bin");
      expect(gone.code, gone.describe).not.toBe(0);
      expect(gone.stderr).toContain("404");

      const rb = await aws("s3", "rb", `s3://${bucket}`);
      expect(rb.code, rb.describe).toBe(0);
      expect(rb.stdout).toContain(`remove_bucket: ${bucket}`);
      const ls2 = await aws("s3", "ls");
      expect(ls2.code, ls2.describe).toBe(0);
      expect(ls2.stdout).not.toContain(bucket);
    },
    120_000,
  );

  test(
    "s3api list-objects-v2 --page-size 2 returns every awkward key exactly once",
    async () => {
      const keys = ["plain.txt", "with space.txt", "plus+sign.txt", "eq=ual&amp.txt", "unicodé/日本語.txt", "a//b", "emoji-😀", "percent%2F.txt"];
      const mb = await aws("s3", "mb", `s3://${listBucket}`);
      expect(mb.code, mb.describe).toBe(0);
      await Bun.write(tmp.file("small.txt"), "small body\n");
      for (const key of keys) {
        const put = await aws("s3api", "put-object", "--bucket", listBucket, "--key", key, "--body", tmp.file("small.txt"), "--output", "json");
        expect(put.code, put.describe).toBe(0);
      }

      // the CLI follows NextContinuationToken itself and fails if a token repeats
      const list = await aws("s3api", "list-objects-v2", "--bucket", listBucket, "--page-size", "2", "--output", "json");
      expect(list.code, list.describe).toBe(0);
      const listed: string[] = JSON.parse(list.stdout).Contents.map((o: { Key: string }) => o.Key);
      expect(listed.length, list.stdout).toBe(keys.length);
      expect(new Set(listed).size).toBe(keys.length);
      expect([...listed].sort()).toEqual([...keys].sort());
      // binary (UTF-8 byte) order, as S3 lists
      const byteOrder = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      expect(listed).toEqual(byteOrder);

      // drive the pages by hand: 3 items at a time over pages of 2, resuming with NextToken
      const seen: string[] = [];
      let token: string | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await aws("s3api", "list-objects-v2", "--bucket", listBucket, "--page-size", "2", "--max-items", "3", "--output", "json", ...(token ? ["--starting-token", token] : []));
        expect(page.code, page.describe).toBe(0);
        const out = JSON.parse(page.stdout);
        seen.push(...(out.Contents ?? []).map((o: { Key: string }) => o.Key));
        token = out.NextToken;
        if (!token) break;
      }
      expect(token).toBeUndefined();
      expect(seen).toEqual(byteOrder);

      // prefix with a non-ASCII component
      const pre = await aws("s3api", "list-objects-v2", "--bucket", listBucket, "--prefix", "unicodé/", "--output", "json");
      expect(pre.code, pre.describe).toBe(0);
      expect(JSON.parse(pre.stdout).Contents.map((o: { Key: string }) => o.Key)).toEqual(["unicodé/日本語.txt"]);

      // each key reads back by its own name
      for (const key of keys) {
        const get = await aws("s3api", "get-object", "--bucket", listBucket, "--key", key, tmp.file("got.txt"), "--output", "json");
        expect(get.code, `${key}\n${get.describe}`).toBe(0);
        expect(await Bun.file(tmp.file("got.txt")).text()).toBe("small body\n");
      }

      const rm = await aws("s3", "rm", "--recursive", "--only-show-errors", `s3://${listBucket}/`);
      expect(rm.code, rm.describe).toBe(0);
      const rb = await aws("s3", "rb", `s3://${listBucket}`);
      expect(rb.code, rb.describe).toBe(0);
    },
    120_000,
  );

  test("s3api writes of the settings every bucket has, as Terraform makes them: ownership controls, a private ACL; default encryption refused here", async () => {
    const settled = "cli-v2-settled";
    expect((await aws("s3", "mb", `s3://${settled}`)).code).toBe(0);
    const ownership = await aws("s3api", "put-bucket-ownership-controls", "--bucket", settled, "--ownership-controls", "Rules=[{ObjectOwnership=BucketOwnerEnforced}]");
    expect(ownership.code, ownership.describe).toBe(0);
    const acl = await aws("s3api", "put-bucket-acl", "--bucket", settled, "--acl", "private");
    expect(acl.code, acl.describe).toBe(0);
    await Bun.write(tmp.file("settled.txt"), "settled\n");
    expect((await aws("s3", "cp", "--only-show-errors", tmp.file("settled.txt"), `s3://${settled}/settled.txt`)).code).toBe(0);
    const objectAcl = await aws("s3api", "put-object-acl", "--bucket", settled, "--key", "settled.txt", "--acl", "bucket-owner-full-control");
    expect(objectAcl.code, objectAcl.describe).toBe(0);
    const publicAcl = await aws("s3api", "put-object-acl", "--bucket", settled, "--key", "settled.txt", "--acl", "public-read");
    expect(publicAcl.stderr).toContain("AccessControlListNotSupported");
    const sse = await aws("s3api", "put-bucket-encryption", "--bucket", settled, "--server-side-encryption-configuration", '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}');
    expect(sse.stderr).toContain("NotImplemented");
  }, 60_000);

  test("s3 cp --website-redirect: kept with the object, shown by head-object", async () => {
    const redirects = "cli-v2-redirects";
    expect((await aws("s3", "mb", `s3://${redirects}`)).code).toBe(0);
    await Bun.write(tmp.file("old.html"), "<p>moved</p>\n");
    const cp = await aws("s3", "cp", "--only-show-errors", "--website-redirect", "/new.html", tmp.file("old.html"), `s3://${redirects}/old.html`);
    expect(cp.code, cp.describe).toBe(0);
    const head = await aws("s3api", "head-object", "--bucket", redirects, "--key", "old.html", "--output", "json");
    expect(head.code, head.describe).toBe(0);
    expect(JSON.parse(head.stdout).WebsiteRedirectLocation).toBe("/new.html");
    const bad = await aws("s3", "cp", "--only-show-errors", "--website-redirect", "new.html", tmp.file("old.html"), `s3://${redirects}/bad.html`);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("InvalidArgument");
  }, 60_000);
});
