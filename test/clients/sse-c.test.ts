/**
 * SSE-C (server-side encryption with customer-provided keys) through real clients against dist/s3d,
 * over plain HTTP from 127.0.0.1 (s3d takes keys from loopback clients as S3 takes them over HTTPS):
 * - the AWS CLI v2: `s3 cp` up and down with `--sse-c` (an inline object, a blob, and a 20 MiB
 *   multipart upload read back in ranged parts), refused without the key (400) and with another
 *   (403), `s3api head-object` / `get-object-attributes` with the key's MD5, `s3 ls`, and `s3 cp`
 *   from one key to another (CopyObject, and UploadPartCopy for the multipart object); and, on a
 *   data dir encrypted at rest, keyed objects that answer as SSE-C (not AES256) and open with
 *   their key only, after a crash and restart too;
 * - boto3 1.26 (Debian, Content-MD5) and 1.43 (PATH, CRC32 checksums): put/get/head with
 *   SSECustomerKey (botocore adds the MD5), the errors each read without the right key gets,
 *   upload_file/download_file of a 12 MiB file in 5 MiB parts (then a range across two parts, a
 *   part by number, get_object_attributes), a part without the upload's key, copy_object to a new
 *   key, to no key and in place; and (1.43) put_bucket_encryption blocking SSE-C and unblocking it;
 * - rclone 1.60 with `--s3-sse-customer-algorithm` / `--s3-sse-customer-key-base64`: a small and a
 *   multipart file up and back, against a second s3d serving HTTPS (rclone refuses to send SSE-C
 *   keys over plain HTTP, whatever the host).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { accessKey, binaryPath, secretKey, selfSignedCert, startS3d, type TestServer } from "../support/server.ts";
import { awsArgs, awsCli, boto3Pythons, clientEnv, clientSuite, requireExecutable, run, sha256, sha256File, whichOnPath, writeRandomFile } from "./helpers.ts";

const MiB = 1024 * 1024;
const suite = clientSuite("sse-c");
const { tmp, aws, api, apiFails } = suite;

/** A fresh 32-byte SSE-C key, written to tmp/name: its bytes, path and the base64 MD5 S3 names it by. */
function newKey(name: string): { bytes: Buffer; path: string; md5: string } {
  const bytes = randomBytes(32);
  const path = tmp.file(name);
  writeFileSync(path, bytes);
  return { bytes, path, md5: createHash("md5").update(bytes).digest("base64") };
}

/** An `aws` command that must succeed: its stdout. */
async function awsOk(...args: string[]): Promise<string> {
  const r = await aws(...args);
  expect(r.code, r.describe).toBe(0);
  return r.stdout;
}

/** An `aws` command that must fail: its stderr. */
async function awsFails(...args: string[]): Promise<string> {
  const r = await aws(...args);
  expect(r.code, r.describe).not.toBe(0);
  return r.stderr;
}

describe("aws cli v2", () => {
  const bucket = "cli-sse-c";
  const sizes = { inline: 1_000, blob: 300_000, multipart: 20 * MiB } as const;
  const shas: Record<string, string> = {};
  let k1: ReturnType<typeof newKey>;
  let k2: ReturnType<typeof newKey>;
  const sseC = (key: { path: string }) => ["--sse-c", "AES256", "--sse-c-key", `fileb://${key.path}`];
  const apiKey = (key: { path: string }) => ["--sse-customer-algorithm", "AES256", "--sse-customer-key", `fileb://${key.path}`];

  test("s3 cp up and down with --sse-c (inline, blob, 20 MiB multipart); no key 400, another key 403; head-object, get-object-attributes, s3 ls", async () => {
    k1 = newKey("cli-k1");
    k2 = newKey("cli-k2");
    await api("create-bucket", "--bucket", bucket);
    // (the three objects at once: each client call takes a while to start)
    await Promise.all(Object.entries(sizes).map(async ([name, size]) => {
      shas[name] = await writeRandomFile(tmp.file(`cli-${name}`), size);
      await awsOk("s3", "cp", ...sseC(k1), tmp.file(`cli-${name}`), `s3://${bucket}/${name}`);
    }));

    await Promise.all(Object.keys(sizes).map(async (name) => {
      const back = tmp.file(`cli-${name}.back`);
      await awsOk("s3", "cp", ...sseC(k1), `s3://${bucket}/${name}`, back);
      expect(await sha256File(back), name).toBe(shas[name]!);
      // the CLI heads the object before it downloads: a HEAD has no body, so only the status shows
      expect(await awsFails("s3", "cp", `s3://${bucket}/${name}`, tmp.file(`${name}.never`)), name).toContain("(400)");
      expect(await awsFails("s3", "cp", ...sseC(k2), `s3://${bucket}/${name}`, tmp.file(`${name}.never`)), name).toContain("(403)");
    }));
    // a GET has a body: the codes S3 gives
    expect(await apiFails("get-object", "--bucket", bucket, "--key", "blob", tmp.file("never"))).toContain("(InvalidRequest)");
    expect(await apiFails("get-object", "--bucket", bucket, "--key", "blob", ...apiKey(k2), tmp.file("never"))).toContain("(AccessDenied)");
    const got = await api("get-object", "--bucket", bucket, "--key", "inline", ...apiKey(k1), tmp.file("inline.got"));
    expect([got.SSECustomerAlgorithm, got.SSECustomerKeyMD5, got.ContentLength]).toEqual(["AES256", k1.md5, sizes.inline]);
    expect(sha256(await Bun.file(tmp.file("inline.got")).bytes())).toBe(shas.inline!);

    for (const [name, size] of Object.entries(sizes)) {
      expect(await Bun.file(tmp.file(`${name}.never`)).exists(), name).toBe(false);
      const head = await api("head-object", "--bucket", bucket, "--key", name, ...apiKey(k1));
      expect([head.SSECustomerAlgorithm, head.SSECustomerKeyMD5, head.ContentLength], name).toEqual(["AES256", k1.md5, size]);
      // (the ETag of a keyed object is not the MD5 of its bytes, as in S3)
      const md5 = createHash("md5").update(await Bun.file(tmp.file(`cli-${name}`)).bytes()).digest("hex");
      expect(head.ETag, name).not.toBe(`"${md5}"`);
      expect(head.ETag, name).toMatch(name === "multipart" ? /^"[0-9a-f]{32}-3"$/ : /^"[0-9a-f]{32}"$/);
    }
    expect(await apiFails("head-object", "--bucket", bucket, "--key", "inline")).toContain("(400)");
    expect(await apiFails("head-object", "--bucket", bucket, "--key", "inline", ...apiKey(k2))).toContain("(403)");

    // (botocore base64-encodes the key and adds its MD5 for the calls above, not for GetObjectAttributes: here both go as the headers carry them)
    const rawKey = ["--sse-customer-algorithm", "AES256", "--sse-customer-key", k1.bytes.toString("base64"), "--sse-customer-key-md5", k1.md5];
    const attrs = await api("get-object-attributes", "--bucket", bucket, "--key", "multipart", ...rawKey, "--object-attributes", "ObjectSize", "ObjectParts");
    expect([attrs.ObjectSize, attrs.ObjectParts?.TotalPartsCount]).toEqual([sizes.multipart, 3]);
    expect(await apiFails("get-object-attributes", "--bucket", bucket, "--key", "multipart", "--object-attributes", "ObjectSize")).toContain("(InvalidRequest)");

    const listed = (await awsOk("s3", "ls", `s3://${bucket}`)).trim().split("\n").map((line) => line.trim().split(/\s+/).slice(2));
    expect(listed).toEqual([[String(sizes.blob), "blob"], [String(sizes.inline), "inline"], [String(sizes.multipart), "multipart"]]);
  }, 60_000);

  test("s3 cp s3:// to s3:// from one key to another (CopyObject; UploadPartCopy at 20 MiB): the copy opens with the new key only", async () => {
    expect(k1, "the test above made the objects").toBeDefined();
    await Promise.all(["blob", "multipart"].map(async (name) => {
      const copy = `s3://${bucket}/${name}-k2`;
      await awsOk("s3", "cp", "--sse-c-copy-source", "AES256", "--sse-c-copy-source-key", `fileb://${k1.path}`, ...sseC(k2), `s3://${bucket}/${name}`, copy);
      const back = tmp.file(`cli-${name}-k2.back`);
      await awsOk("s3", "cp", ...sseC(k2), copy, back);
      expect(await sha256File(back), name).toBe(shas[name]!);
      expect(await awsFails("s3", "cp", ...sseC(k1), copy, tmp.file("never")), name).toContain("(403)");
      expect(await awsFails("s3", "cp", copy, tmp.file("never")), name).toContain("(400)");
      const head = await api("head-object", "--bucket", bucket, "--key", `${name}-k2`, ...apiKey(k2));
      expect([head.SSECustomerAlgorithm, head.SSECustomerKeyMD5, head.ContentLength], name).toEqual(["AES256", k2.md5, sizes[name as keyof typeof sizes]]);
      // the CLI copies past 8 MiB in 8 MiB parts (UploadPartCopy), below it in one CopyObject
      expect(head.ETag, name).toMatch(name === "multipart" ? /^"[0-9a-f]{32}-3"$/ : /^"[0-9a-f]{32}"$/);
    }));
    // the source still opens with its own key
    const back = tmp.file("cli-blob.again");
    await awsOk("s3", "cp", ...sseC(k1), `s3://${bucket}/blob`, back);
    expect(await sha256File(back)).toBe(shas.blob!);
    // a copy of a keyed source that does not give its key is refused
    expect(await apiFails("copy-object", "--bucket", bucket, "--key", "no-source-key", "--copy-source", `${bucket}/blob`)).toContain("(InvalidRequest)");
  }, 60_000);
});

describe("aws cli v2, data dir encrypted at rest too (--encryption-key-file)", () => {
  let encrypted: TestServer;
  const cli = awsCli(() => encrypted.endpoint, () => tmp);

  beforeAll(async () => {
    const masterKey = tmp.file("master.key");
    const keygen = await run([binaryPath, "keygen", masterKey], { env: clientEnv(tmp) });
    expect(keygen.code, keygen.describe).toBe(0);
    encrypted = await startS3d({ args: ["--encryption-key-file", masterKey] });
  });

  afterAll(async () => {
    await encrypted?.stop();
  });

  test("a keyed object says SSE-C (not the data dir's AES256), a plain one AES256; after a crash and restart each opens with its key only", async () => {
    const bucket = "cli-sse-c-at-rest";
    const [k1, k2] = [newKey("rest-k1"), newKey("rest-k2")];
    const withKey = (key: { path: string }) => ["--sse-customer-algorithm", "AES256", "--sse-customer-key", `fileb://${key.path}`];
    await cli.api("create-bucket", "--bucket", bucket);
    const bodies = { inline: 2_000, blob: 300_000 };
    const shas: Record<string, string> = {};
    for (const [name, size] of Object.entries(bodies)) {
      shas[name] = await writeRandomFile(tmp.file(`rest-${name}`), size);
      const put = await cli.api("put-object", "--bucket", bucket, "--key", name, "--body", tmp.file(`rest-${name}`), ...withKey(k1));
      expect([put.SSECustomerAlgorithm, put.SSECustomerKeyMD5, put.ServerSideEncryption], name).toEqual(["AES256", k1.md5, undefined]);
    }
    await Bun.write(tmp.file("rest-plain"), "plain bytes\n");
    expect((await cli.api("put-object", "--bucket", bucket, "--key", "plain", "--body", tmp.file("rest-plain"))).ServerSideEncryption).toBe("AES256");

    await encrypted.crash();
    await encrypted.restart();
    for (const [name, size] of Object.entries(bodies)) {
      const head = await cli.api("head-object", "--bucket", bucket, "--key", name, ...withKey(k1));
      expect([head.SSECustomerAlgorithm, head.SSECustomerKeyMD5, head.ServerSideEncryption, head.ContentLength], name).toEqual(["AES256", k1.md5, undefined, size]);
      const out = tmp.file(`rest-${name}.back`);
      await cli.api("get-object", "--bucket", bucket, "--key", name, ...withKey(k1), out);
      expect(await sha256File(out), name).toBe(shas[name]!);
      expect(await cli.apiFails("get-object", "--bucket", bucket, "--key", name, ...withKey(k2), tmp.file("never")), name).toContain("(AccessDenied)");
      expect(await cli.apiFails("get-object", "--bucket", bucket, "--key", name, tmp.file("never")), name).toContain("(InvalidRequest)");
    }
    const plain = await cli.api("get-object", "--bucket", bucket, "--key", "plain", tmp.file("rest-plain.back"));
    expect([plain.ServerSideEncryption, plain.SSECustomerAlgorithm]).toEqual(["AES256", undefined]);
    expect(await Bun.file(tmp.file("rest-plain.back")).text()).toBe("plain bytes\n");
  }, 60_000);
});

/** The start of both boto3 scripts: a client of the endpoint in argv[1], path style, no retries; `err` gives a call's error code and status. */
const botoPrelude = String.raw`
import sys, json, hashlib, os, base64
import boto3, botocore
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
def err(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
    return "no error"
`;

const botoScript = String.raw`${botoPrelude}
from boto3.s3.transfer import TransferConfig
b, workdir = sys.argv[2], sys.argv[3]
sha = lambda data: hashlib.sha256(data).hexdigest()
def sha_file(p):
    with open(p, "rb") as f:
        return sha(f.read())
K1, K2 = os.urandom(32), os.urandom(32)
key = lambda k: {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": k}
source_key = lambda k: {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": k}
sealed = lambda r: [r.get("SSECustomerAlgorithm"), r.get("SSECustomerKeyMD5")]
body = os.urandom(200_000)
key_md5 = lambda k: base64.b64encode(hashlib.md5(k).digest()).decode()
out = {"md5": {"K1": key_md5(K1), "K2": key_md5(K2)}, "body": sha(body)}
s3.create_bucket(Bucket=b)

put = s3.put_object(Bucket=b, Key="doc", Body=body, **key(K1))
out["put"] = sealed(put)
got = s3.get_object(Bucket=b, Key="doc", **key(K1))
out["get"] = [sha(got["Body"].read()), got["ContentLength"]] + sealed(got)
out["get_range"] = sha(s3.get_object(Bucket=b, Key="doc", Range="bytes=1000-1999", **key(K1))["Body"].read()) == sha(body[1000:2000])
out["head"] = sealed(s3.head_object(Bucket=b, Key="doc", **key(K1)))
out["get_no_key"] = err(lambda: s3.get_object(Bucket=b, Key="doc"))
out["get_other_key"] = err(lambda: s3.get_object(Bucket=b, Key="doc", **key(K2)))
out["head_no_key"] = err(lambda: s3.head_object(Bucket=b, Key="doc"))
s3.put_object(Bucket=b, Key="plain", Body=b"plain")
out["plain_with_key"] = err(lambda: s3.get_object(Bucket=b, Key="plain", **key(K1)))

# 12 MiB in 5 MiB parts up (CreateMultipartUpload, UploadPart), and back in ranged GETs
big, back = os.path.join(workdir, "big.bin"), os.path.join(workdir, "big-%s.back" % b)
cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=2)
s3.upload_file(big, b, "big", ExtraArgs=key(K1), Config=cfg)
bh = s3.head_object(Bucket=b, Key="big", **key(K1))
s3.download_file(b, "big", back, ExtraArgs=key(K1), Config=cfg)
out["big"] = [bh["ContentLength"], bh["ETag"][-3:], sha_file(back)] + sealed(bh)
out["big_no_key"] = err(lambda: s3.download_file(b, "big", back + ".never", Config=cfg))
with open(big, "rb") as f:
    big_bytes = f.read()
MiB = 1024 * 1024
# a range across the boundary of parts 1 and 2, and part 2 by number
ranged = s3.get_object(Bucket=b, Key="big", Range="bytes=%d-%d" % (5 * MiB - 1000, 5 * MiB + 999), **key(K1))
part2 = s3.get_object(Bucket=b, Key="big", PartNumber=2, **key(K1))
out["big_ranges"] = [sha(ranged["Body"].read()) == sha(big_bytes[5 * MiB - 1000:5 * MiB + 1000]),
                     part2["ContentLength"], part2.get("PartsCount"), sha(part2["Body"].read()) == sha(big_bytes[5 * MiB:10 * MiB])]
# (botocore encodes the key and adds its MD5 for GetObjectAttributes in no version: given as the headers carry them)
raw_key = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": base64.b64encode(K1).decode(), "SSECustomerKeyMD5": out["md5"]["K1"]}
attrs = s3.get_object_attributes(Bucket=b, Key="big", ObjectAttributes=["ObjectSize", "ObjectParts"], **raw_key)
out["big_attributes"] = [attrs["ObjectSize"], attrs["ObjectParts"]["TotalPartsCount"]]
out["big_attributes_no_key"] = err(lambda: s3.get_object_attributes(Bucket=b, Key="big", ObjectAttributes=["ObjectSize"]))

# every part of an upload made with a key must come with it
mpu = s3.create_multipart_upload(Bucket=b, Key="parts", **key(K1))
out["mpu"] = sealed(mpu)
out["part_no_key"] = err(lambda: s3.upload_part(Bucket=b, Key="parts", UploadId=mpu["UploadId"], PartNumber=1, Body=b"x"))
out["part_other_key"] = err(lambda: s3.upload_part(Bucket=b, Key="parts", UploadId=mpu["UploadId"], PartNumber=1, Body=b"x", **key(K2)))
part = s3.upload_part(Bucket=b, Key="parts", UploadId=mpu["UploadId"], PartNumber=1, Body=b"one part", **key(K1))
out["part"] = sealed(part)
s3.complete_multipart_upload(Bucket=b, Key="parts", UploadId=mpu["UploadId"], MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
out["parts_get"] = s3.get_object(Bucket=b, Key="parts", **key(K1))["Body"].read().decode()

# copies: to another key, to no key, and refused without the source's key
c2 = s3.copy_object(Bucket=b, Key="copy-k2", CopySource={"Bucket": b, "Key": "doc"}, **source_key(K1), **key(K2))
out["copy_k2"] = sealed(c2)
out["copy_k2_get"] = sha(s3.get_object(Bucket=b, Key="copy-k2", **key(K2))["Body"].read())
out["copy_k2_old_key"] = err(lambda: s3.get_object(Bucket=b, Key="copy-k2", **key(K1)))
s3.copy_object(Bucket=b, Key="copy-plain", CopySource={"Bucket": b, "Key": "doc"}, **source_key(K1))
plain = s3.get_object(Bucket=b, Key="copy-plain")
out["copy_plain_get"] = [sha(plain["Body"].read())] + sealed(plain)
out["copy_no_source_key"] = err(lambda: s3.copy_object(Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "doc"}, **key(K2)))
out["copy_wrong_source_key"] = err(lambda: s3.copy_object(Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "doc"}, **source_key(K2)))
# in place, to a new key (a change of encryption: allowed)
s3.copy_object(Bucket=b, Key="doc", CopySource={"Bucket": b, "Key": "doc"}, **source_key(K1), **key(K2))
out["rekeyed"] = [sha(s3.get_object(Bucket=b, Key="doc", **key(K2))["Body"].read()), err(lambda: s3.get_object(Bucket=b, Key="doc", **key(K1)))]
print(json.dumps(out))
`;

describe("boto3", () => {
  let bigSha: Promise<string> | undefined;
  for (const [what, python, name] of boto3Pythons) {
    test(`boto3 ${what}: put/get/head with a key, 400/403 without the right one, 12 MiB upload_file/download_file, parts, copies`, async () => {
      requireExecutable(python, `python3 for boto3 ${what}`);
      bigSha ??= writeRandomFile(tmp.file("big.bin"), 12 * MiB);
      const expectedBig = await bigSha;
      const r = await run([python, "-c", botoScript, suite.server.endpoint, `boto-sse-c-${name}`, tmp.path], { env: clientEnv(tmp), timeoutMs: 60_000 });
      expect(r.code, r.describe).toBe(0);
      const out = JSON.parse(r.stdout);
      const why = `${JSON.stringify(out, null, 1)}\nstderr: ${r.stderr}`;
      const k1 = ["AES256", out.md5.K1];
      const k2 = ["AES256", out.md5.K2];
      expect(out.put, why).toEqual(k1);
      expect(out.get, why).toEqual([out.body, 200_000, ...k1]);
      expect(out.get_range, why).toBe(true);
      expect(out.head, why).toEqual(k1);
      expect(out.get_no_key, why).toEqual(["InvalidRequest", 400]);
      expect(out.get_other_key, why).toEqual(["AccessDenied", 403]);
      // (HEAD has no body: botocore reports the status as the code)
      expect(out.head_no_key, why).toEqual(["400", 400]);
      expect(out.plain_with_key, why).toEqual(["InvalidRequest", 400]);

      expect(out.big, why).toEqual([12 * MiB, "-3\"", expectedBig, ...k1]);
      expect(out.big_no_key, why).toEqual(["400", 400]);
      expect(out.big_ranges, why).toEqual([true, 5 * MiB, 3, true]);
      expect(out.big_attributes, why).toEqual([12 * MiB, 3]);
      expect(out.big_attributes_no_key, why).toEqual(["InvalidRequest", 400]);

      expect([out.mpu, out.part], why).toEqual([k1, k1]);
      expect(out.part_no_key, why).toEqual(["InvalidRequest", 400]);
      expect(out.part_other_key, why).toEqual(["InvalidRequest", 400]);
      expect(out.parts_get, why).toBe("one part");

      expect(out.copy_k2, why).toEqual(k2);
      expect(out.copy_k2_get, why).toBe(out.body);
      expect(out.copy_k2_old_key, why).toEqual(["AccessDenied", 403]);
      expect(out.copy_plain_get, why).toEqual([out.body, null, null]);
      expect(out.copy_no_source_key, why).toEqual(["InvalidRequest", 400]);
      expect(out.copy_wrong_source_key, why).toEqual(["AccessDenied", 403]);
      expect(out.rekeyed, why).toEqual([out.body, ["AccessDenied", 403]]);
    }, 60_000);
  }
});

const blockingScript = String.raw`${botoPrelude}
b = sys.argv[2]
key = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}
blocking = lambda t: {"Rules": [{"BlockedEncryptionTypes": {"EncryptionType": [t]}}]}
out = {}
s3.create_bucket(Bucket=b)
s3.put_object(Bucket=b, Key="before", Body=b"sealed before", **key)
s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=blocking("SSE-C"))
out["config"] = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"]
out["put"] = err(lambda: s3.put_object(Bucket=b, Key="after", Body=b"x", **key))
out["mpu"] = err(lambda: s3.create_multipart_upload(Bucket=b, Key="after", **key))
out["read_before"] = s3.get_object(Bucket=b, Key="before", **key)["Body"].read().decode()
s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=blocking("NONE"))
out["put_unblocked"] = s3.put_object(Bucket=b, Key="after", Body=b"x", **key)["ResponseMetadata"]["HTTPStatusCode"]
print(json.dumps(out))
`;

test("boto3 1.43: put_bucket_encryption blocks SSE-C (BlockedEncryptionTypes): keyed writes AccessDenied, keyed reads go on, NONE unblocks", async () => {
  const python = whichOnPath("python3") ?? "(python3 is not on PATH)";
  requireExecutable(python, "python3 with boto3 1.43");
  const r = await run([python, "-c", blockingScript, suite.server.endpoint, "boto-sse-c-blocked"], { env: clientEnv(tmp), timeoutMs: 60_000 });
  expect(r.code, r.describe).toBe(0);
  expect(JSON.parse(r.stdout), r.describe).toEqual({
    config: [{ BlockedEncryptionTypes: { EncryptionType: ["SSE-C"] } }],
    put: ["AccessDenied", 403],
    mpu: ["AccessDenied", 403],
    read_before: "sealed before",
    put_unblocked: 200,
  });
});

describe("rclone (over HTTPS: it will not send SSE-C keys over plain HTTP)", () => {
  const rclonePath = "/usr/bin/rclone";
  const bucket = "rclone-sse-c";
  let tlsServer: TestServer;
  let cert: { cert: string; key: string; ca: string };

  beforeAll(async () => {
    cert = selfSignedCert(tmp.path);
    tlsServer = await startS3d({ tls: cert });
  });

  afterAll(async () => {
    await tlsServer?.stop();
  });

  test("--s3-sse-customer-algorithm / --s3-sse-customer-key-base64: a small and a 12 MB multipart file up and back; the key is required", async () => {
    requireExecutable(rclonePath, "rclone (/usr/bin/rclone)");
    const key = newKey("rclone-key");
    const remote = { TYPE: "s3", PROVIDER: "Other", ACCESS_KEY_ID: accessKey, SECRET_ACCESS_KEY: secretKey, ENDPOINT: tlsServer.endpoint, FORCE_PATH_STYLE: "true", REGION: "us-east-1" };
    const env = clientEnv(tmp, { RCLONE_CONFIG: tmp.file("no-such-rclone.conf"), ...Object.fromEntries(Object.entries(remote).map(([k, v]) => [`RCLONE_CONFIG_S3D_${k}`, v])) });
    const rclone = async (...args: string[]) => {
      const r = await run([rclonePath, "--quiet", "--ca-cert", cert.cert, "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M",
        "--s3-sse-customer-algorithm", "AES256", "--s3-sse-customer-key-base64", key.bytes.toString("base64"), ...args], { env, timeoutMs: 60_000 });
      expect(r.code, r.describe).toBe(0);
      return r.stdout;
    };
    /** The AWS CLI against the HTTPS server, trusting its certificate. */
    const headObject = (name: string, ...args: string[]) =>
      run([...awsArgs(tlsServer.endpoint), "--ca-bundle", cert.cert, "s3api", "head-object", "--bucket", bucket, "--key", name, ...args, "--output", "json"], { env: clientEnv(tmp) });
    const files = { "small.bin": 50_000, "big.bin": 12_000_000 };
    const shas: Record<string, string> = {};
    for (const [name, size] of Object.entries(files)) shas[name] = await writeRandomFile(tmp.file(`rclone-${name}`), size);

    await rclone("mkdir", `s3d:${bucket}`);
    for (const [name, size] of Object.entries(files)) {
      await rclone("copyto", tmp.file(`rclone-${name}`), `s3d:${bucket}/${name}`);
      await rclone("copyto", `s3d:${bucket}/${name}`, tmp.file(`rclone-${name}.back`));
      expect(await sha256File(tmp.file(`rclone-${name}.back`)), name).toBe(shas[name]!);
      // rclone really sealed it with the key: without it the object does not open
      const bare = await headObject(name);
      expect(bare.code, bare.describe).not.toBe(0);
      expect(bare.stderr, name).toContain("(400)");
      const head = await headObject(name, "--sse-customer-algorithm", "AES256", "--sse-customer-key", `fileb://${key.path}`);
      expect(head.code, head.describe).toBe(0);
      const { SSECustomerKeyMD5, ContentLength } = JSON.parse(head.stdout);
      expect([SSECustomerKeyMD5, ContentLength], name).toEqual([key.md5, size]);
    }
    expect((await rclone("lsf", `s3d:${bucket}`)).trim().split("\n").sort()).toEqual(["big.bin", "small.bin"]);
  }, 60_000);
});
