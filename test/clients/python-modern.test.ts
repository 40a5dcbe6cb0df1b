/**
 * The newer Python stack already on the image: python3 with boto3 1.43 and the AWS CLI v1 1.45
 * (the `aws` first on PATH). Both send CRC32 checksums by default (headers or aws-chunked
 * trailers). Put, multipart, copy, conditional and tagging round trips.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { clientEnv, clientSuite, run, sha256File, whichOnPath, writeRandomFile } from "./helpers.ts";

const suite = clientSuite("python-modern");
const { tmp } = suite;

const script = String.raw`
import sys, json, hashlib
import boto3, botocore
from botocore.config import Config
from boto3.s3.transfer import TransferConfig

endpoint, bucket, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
out = {"boto3": boto3.__version__}

def code(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    return "ok"

s3.create_bucket(Bucket=bucket)
body = b"modern python " * 1000
put = s3.put_object(Bucket=bucket, Key="plain", Body=body, Tagging="env=test&team=s3d")
out["put_crc32"] = put.get("ChecksumCRC32")
got = s3.get_object(Bucket=bucket, Key="plain", ChecksumMode="ENABLED")
out["get_equal"] = got["Body"].read() == body
out["get_crc32"] = got.get("ChecksumCRC32")
out["tag_count"] = got.get("TagCount")
out["tags"] = sorted((t["Key"], t["Value"]) for t in s3.get_object_tagging(Bucket=bucket, Key="plain")["TagSet"])
s3.put_object_tagging(Bucket=bucket, Key="plain", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
out["tags_after_put"] = [(t["Key"], t["Value"]) for t in s3.get_object_tagging(Bucket=bucket, Key="plain")["TagSet"]]
s3.delete_object_tagging(Bucket=bucket, Key="plain")
out["tags_after_delete"] = s3.get_object_tagging(Bucket=bucket, Key="plain")["TagSet"]

out["if_none_match_create"] = code(lambda: s3.put_object(Bucket=bucket, Key="once", Body=b"1", IfNoneMatch="*"))
out["if_none_match_again"] = code(lambda: s3.put_object(Bucket=bucket, Key="once", Body=b"2", IfNoneMatch="*"))
etag = s3.head_object(Bucket=bucket, Key="once")["ETag"]
out["get_if_none_match"] = code(lambda: s3.get_object(Bucket=bucket, Key="once", IfNoneMatch=etag))
out["get_if_match_wrong"] = code(lambda: s3.get_object(Bucket=bucket, Key="once", IfMatch='"nope"'))

s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "plain"},
               MetadataDirective="REPLACE", ContentType="text/x-copied", Metadata={"k": "v"})
head = s3.head_object(Bucket=bucket, Key="copy")
out["copy_type"] = head["ContentType"]
out["copy_meta"] = head["Metadata"]
out["copy_equal"] = s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == body

src = workdir + "/big.bin"
s3.upload_file(src, bucket, "big", Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
s3.download_file(bucket, "big", workdir + "/big.back")
out["big_etag"] = s3.head_object(Bucket=bucket, Key="big")["ETag"]
# the whole file's CRC32 given to a multipart transfer: boto3 sends it with the completion
import base64, zlib
data = open(src, "rb").read()
whole = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
out["full_object_upload"] = code(lambda: s3.upload_file(src, bucket, "big-crc", ExtraArgs={"ChecksumCRC32": whole},
                                                    Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)))
out["full_object_crc32"] = s3.head_object(Bucket=bucket, Key="big-crc", ChecksumMode="ENABLED").get("ChecksumCRC32") == whole
print(json.dumps(out))
`;

test("boto3 1.43 (python3 on the image): checksums, tagging, conditionals, copy, multipart", async () => {
  const python = whichOnPath("python3");
  expect(python).toBeDefined();
  const scriptPath = join(tmp.path, "modern.py");
  await Bun.write(scriptPath, script);
  const bigSha = await writeRandomFile(join(tmp.path, "big.bin"), 12 * 1024 * 1024);
  const r = await run([python!, scriptPath, suite.server.endpoint, "py-modern", tmp.path], { env: clientEnv(tmp), timeoutMs: 120_000 });
  expect(r.code, r.describe).toBe(0);
  const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  const { checksumBase64 } = await import("../../src/checksum/index.ts");
  const body = Buffer.from("modern python ".repeat(1000));
  expect(out).toMatchObject({
    put_crc32: checksumBase64("CRC32", body),
    get_equal: true,
    get_crc32: checksumBase64("CRC32", body),
    tag_count: 2,
    tags: [["env", "test"], ["team", "s3d"]],
    tags_after_put: [["only", "one"]],
    tags_after_delete: [],
    if_none_match_create: "ok",
    if_none_match_again: "PreconditionFailed",
    get_if_none_match: "304",
    get_if_match_wrong: "PreconditionFailed",
    copy_type: "text/x-copied",
    copy_meta: { k: "v" },
    copy_equal: true,
    full_object_upload: "ok",
    full_object_crc32: true,
  });
  expect(out.big_etag).toMatch(/^"[0-9a-f]{32}-3"$/);
  expect(await sha256File(join(tmp.path, "big.back"))).toBe(bigSha);
}, 180_000);

test("AWS CLI v1 1.45: cp (multipart), tagging, copy-object", async () => {
  const aws = whichOnPath("aws");
  expect(aws).toBeDefined();
  const env = clientEnv(tmp);
  const cli = (...args: string[]) => run([aws!, "--endpoint-url", suite.server.endpoint, ...args], { env, timeoutMs: 120_000 });
  expect((await cli("s3", "mb", "s3://cli-v1-modern")).code).toBe(0);
  const src = join(tmp.path, "cli.bin");
  const sha = await writeRandomFile(src, 10 * 1024 * 1024);
  const cp = await cli("s3", "cp", "--only-show-errors", src, "s3://cli-v1-modern/a/cli.bin");
  expect(cp.code, cp.describe).toBe(0);
  const tag = await cli("s3api", "put-object-tagging", "--bucket", "cli-v1-modern", "--key", "a/cli.bin", "--tagging", "TagSet=[{Key=color,Value=red}]");
  expect(tag.code, tag.describe).toBe(0);
  const tags = await cli("s3api", "get-object-tagging", "--bucket", "cli-v1-modern", "--key", "a/cli.bin");
  expect(JSON.parse(tags.stdout).TagSet).toEqual([{ Key: "color", Value: "red" }]);
  const copy = await cli("s3api", "copy-object", "--bucket", "cli-v1-modern", "--key", "b/copy.bin", "--copy-source", "cli-v1-modern/a/cli.bin");
  expect(copy.code, copy.describe).toBe(0);
  const back = join(tmp.path, "cli.back");
  expect((await cli("s3", "cp", "--only-show-errors", "s3://cli-v1-modern/b/copy.bin", back)).code).toBe(0);
  expect(await sha256File(back)).toBe(sha);
}, 180_000);
