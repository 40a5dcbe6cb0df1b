/**
 * boto3 1.26 from Debian (/usr/bin/python3, not the pyenv python3 whose newer boto3 sends CRC32
 * headers): a Python script drives the client and prints JSON that the test asserts on.
 */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { clientEnv, clientSuite, requireExecutable, run, sha256, writeRandomFile } from "./helpers.ts";

const pythonPath = "/usr/bin/python3";
const bucket = "boto3-bucket";
const bigBytes = 12 * 1024 * 1024;
const partBytes = 5 * 1024 * 1024;

const script = String.raw`
import sys, json, os, hashlib
import boto3, botocore
from botocore.config import Config
from boto3.s3.transfer import TransferConfig

endpoint, bucket, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
out = {"boto3": boto3.__version__, "botocore": botocore.__version__}
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

def err(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return {"code": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
    return None

def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()

out["create_bucket"] = s3.create_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"]
out["head_bucket"] = s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"]

body = "héllo boto3 ✓\n".encode()
put = s3.put_object(Bucket=bucket, Key="docs/hello.txt", Body=body, ContentType="text/plain; charset=utf-8",
                    Metadata={"color": "blue", "owner-name": "alice"})
out["put_etag"] = put["ETag"]
got = s3.get_object(Bucket=bucket, Key="docs/hello.txt")
out["get"] = {"body_sha256": hashlib.sha256(got["Body"].read()).hexdigest(), "metadata": got["Metadata"],
              "content_type": got["ContentType"], "content_length": got["ContentLength"], "etag": got["ETag"]}
head = s3.head_object(Bucket=bucket, Key="docs/hello.txt")
out["head"] = {"content_length": head["ContentLength"], "etag": head["ETag"], "metadata": head["Metadata"],
               "content_type": head["ContentType"]}

for k in ["docs/a.txt", "docs/sub/b.txt", "docs/sub/c.txt", "docs/other/d.txt", "top.txt"]:
    s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
lst = s3.list_objects_v2(Bucket=bucket, Prefix="docs/", Delimiter="/")
out["list_delim"] = {"keys": [o["Key"] for o in lst.get("Contents", [])],
                     "prefixes": [p["Prefix"] for p in lst.get("CommonPrefixes", [])],
                     "key_count": lst.get("KeyCount"), "truncated": lst["IsTruncated"],
                     "prefix": lst.get("Prefix"), "delimiter": lst.get("Delimiter")}

big = os.path.join(workdir, "big.bin")
back = os.path.join(workdir, "big.back")
cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=2)
s3.upload_file(big, bucket, "big.bin", Config=cfg)
bh = s3.head_object(Bucket=bucket, Key="big.bin")
s3.download_file(bucket, "big.bin", back, Config=cfg)
out["big"] = {"etag": bh["ETag"], "content_length": bh["ContentLength"], "download_sha256": sha256_file(back)}

doomed = ["docs/a.txt", "docs/sub/b.txt", "docs/sub/c.txt", "docs/other/d.txt", "never-existed.txt"]
dres = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in doomed]})
out["delete_objects"] = {"deleted": sorted(d["Key"] for d in dres.get("Deleted", [])), "errors": dres.get("Errors", [])}
out["after_delete_keys"] = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]

# presigned PUT (Content-Type is signed) and GET, used through urllib
import urllib.request, urllib.error
pkey = "presigned/put é+.bin"
payload = os.urandom(4096)
# botocore 1.29 presigns with SigV2 unless told otherwise; s3d speaks SigV4 only
s3v4 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                    config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
put_url = s3v4.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": pkey, "ContentType": "application/x-pre"}, ExpiresIn=300)
get_url = s3v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": pkey}, ExpiresIn=300)
def http(url, method, data=None, headers={}):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers)) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
st, _ = http(put_url, "PUT", payload, {"Content-Type": "application/x-pre"})
gst, gbody = http(get_url, "GET")
wst, wbody = http(put_url, "PUT", b"other", {"Content-Type": "text/html"})
ph = s3.head_object(Bucket=bucket, Key=pkey)
out["presigned"] = {"put_status": st, "get_status": gst, "get_equal": gbody == payload,
                    "wrong_type_status": wst, "wrong_type_body": wbody.decode(errors="replace")[:300],
                    "content_type": ph["ContentType"], "content_length": ph["ContentLength"]}
s3.delete_object(Bucket=bucket, Key=pkey)

out["missing_get"] = err(lambda: s3.get_object(Bucket=bucket, Key="no/such/key"))
try:
    s3.get_object(Bucket=bucket, Key="no/such/key")
    out["missing_raises_NoSuchKey"] = False
except s3.exceptions.NoSuchKey:
    out["missing_raises_NoSuchKey"] = True
out["delete_nonempty_bucket"] = err(lambda: s3.delete_bucket(Bucket=bucket))
lv = s3.list_object_versions(Bucket=bucket)
out["versions"] = sorted([v["Key"], v["VersionId"], v["IsLatest"], v["Size"]] for v in lv.get("Versions", []))
out["delete_markers"] = lv.get("DeleteMarkers", [])
# the usual way to empty a bucket: every version of every object (ListObjectVersions + DeleteObjects)
resource = boto3.resource("s3", endpoint_url=endpoint, region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
resource.Bucket(bucket).object_versions.delete()
out["after_versions_delete"] = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
out["delete_bucket"] = s3.delete_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"]
out["head_deleted_bucket"] = err(lambda: s3.head_bucket(Bucket=bucket))
print(json.dumps(out))
`;


const suite = clientSuite("boto3");
const { tmp } = suite;

describe("boto3 (Debian python3)", () => {
  test(
    "bucket, objects with metadata, delimiter listing, multipart transfer, presigned PUT/GET, delete_objects, errors",
    async () => {
      requireExecutable(pythonPath, "Debian python3 (/usr/bin/python3)");
      const probe = await run([pythonPath, "-c", "import boto3"], { env: clientEnv(tmp) });
      if (probe.code !== 0) throw new Error(`boto3 is missing for /usr/bin/python3: apt-get install -y awscli python3-boto3 s3cmd\n${probe.describe}`);

      await writeRandomFile(tmp.file("big.bin"), bigBytes);
      const bigData = new Uint8Array(await Bun.file(tmp.file("big.bin")).arrayBuffer());
      await Bun.write(tmp.file("script.py"), script);

      const r = await run([pythonPath, tmp.file("script.py"), suite.server.endpoint, bucket, tmp.path], { env: clientEnv(tmp), timeoutMs: 90_000 });
      expect(r.code, r.describe).toBe(0);
      let out: any;
      try {
        out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      } catch {
        throw new Error(`script printed no JSON\n${r.describe}`);
      }
      const why = `${JSON.stringify(out, null, 1)}\nstderr: ${r.stderr}`;

      expect(out.boto3, why).toMatch(/^1\./);
      expect(out.create_bucket, why).toBe(200);
      expect(out.head_bucket, why).toBe(200);

      const body = Buffer.from("héllo boto3 ✓\n");
      const md5 = `"${createHash("md5").update(body).digest("hex")}"`;
      expect(out.put_etag, why).toBe(md5);
      expect(out.get, why).toEqual({
        body_sha256: sha256(body),
        metadata: { color: "blue", "owner-name": "alice" },
        content_type: "text/plain; charset=utf-8",
        content_length: body.length,
        etag: md5,
      });
      expect(out.head, why).toEqual({
        content_length: body.length,
        etag: md5,
        metadata: { color: "blue", "owner-name": "alice" },
        content_type: "text/plain; charset=utf-8",
      });

      expect(out.list_delim, why).toEqual({
        keys: ["docs/a.txt", "docs/hello.txt"],
        prefixes: ["docs/other/", "docs/sub/"],
        key_count: 4,
        truncated: false,
        prefix: "docs/",
        delimiter: "/",
      });

      // 12 MiB in 5 MiB parts: 5 + 5 + 2
      const outer = createHash("md5");
      for (let off = 0; off < bigBytes; off += partBytes) outer.update(createHash("md5").update(bigData.subarray(off, off + partBytes)).digest());
      expect(out.big, why).toEqual({ etag: `"${outer.digest("hex")}-3"`, content_length: bigBytes, download_sha256: sha256(bigData) });

      // S3 reports a key that did not exist as deleted too
      expect(out.delete_objects, why).toEqual({
        deleted: ["docs/a.txt", "docs/other/d.txt", "docs/sub/b.txt", "docs/sub/c.txt", "never-existed.txt"],
        errors: [],
      });
      expect(out.after_delete_keys, why).toEqual(["big.bin", "docs/hello.txt", "top.txt"]);

      expect(out.presigned, why).toMatchObject({
        put_status: 200,
        get_status: 200,
        get_equal: true,
        wrong_type_status: 403,
        content_type: "application/x-pre",
        content_length: 4096,
      });
      expect(out.presigned.wrong_type_body, why).toContain("<Code>SignatureDoesNotMatch</Code>");

      expect(out.missing_get, why).toEqual({ code: "NoSuchKey", status: 404 });
      expect(out.missing_raises_NoSuchKey, why).toBe(true);
      expect(out.delete_nonempty_bucket, why).toEqual({ code: "BucketNotEmpty", status: 409 });
      expect(out.versions, why).toEqual([["big.bin", "null", true, bigBytes], ["docs/hello.txt", "null", true, body.length], ["top.txt", "null", true, 7]]);
      expect(out.delete_markers, why).toEqual([]);
      expect(out.after_versions_delete, why).toEqual([]);
      expect(out.delete_bucket, why).toBe(204);
      // HEAD has no body: botocore reports the status as the code
      expect(out.head_deleted_bucket, why).toEqual({ code: "404", status: 404 });
    },
    120_000,
  );
});
