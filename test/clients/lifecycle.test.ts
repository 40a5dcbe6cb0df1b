/**
 * Bucket lifecycle through real clients: the AWS CLI (s3api put/get/delete, the Expiration a
 * HEAD reports), boto3 (rules without IDs, And filters, AbortDate on uploads, refusals as
 * ClientError codes), s3cmd (expire, getlifecycle, dellifecycle; it indents its XML) and minio-js.
 * The server scans every second, so a rule with a past Date removes its objects within the test.
 */
import { describe, expect, test } from "bun:test";
import type * as Minio from "minio";
import { accessKey, region, secretKey } from "../support/server.ts";
import { clientEnv, clientSuite, requireExecutable, requireModule, run, s3cmdArgs } from "./helpers.ts";

const pythonPath = "/usr/bin/python3";

const suite = clientSuite("lifecycle", () => ({ args: ["--lifecycle-interval", "1"] }));
const { tmp, aws } = suite;

function s3cmd(...args: string[]) {
  return run([...s3cmdArgs(suite.server.port), ...args], { env: clientEnv(tmp) });
}

/** Waits for the server's scan: the keys under `prefix` until none are left, or 10 s. */
async function keysLeft(bucket: string, prefix: string): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const listed = await aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", prefix);
    const keys = listed.stdout.trim() === "" ? [] : ((JSON.parse(listed.stdout).Contents ?? []) as Array<{ Key: string }>).map((o) => o.Key);
    if (keys.length === 0 || Date.now() > deadline) return keys;
    await Bun.sleep(250);
  }
}

const botoScript = String.raw`
import sys, json
import boto3
from botocore.exceptions import ClientError
endpoint, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
s3.create_bucket(Bucket=bucket)
rules = [
    {"Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "scratch", "Value": "yes"}], "ObjectSizeGreaterThan": 0}}, "Status": "Enabled", "Expiration": {"Days": 1}},
    {"ID": "uploads", "Filter": {"Prefix": "uploads/"}, "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
]
put = s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
obj = s3.put_object(Bucket=bucket, Key="tmp/a", Body=b"scratch", Tagging="scratch=yes")
untagged = s3.put_object(Bucket=bucket, Key="tmp/b", Body=b"kept")
mpu = s3.create_multipart_upload(Bucket=bucket, Key="uploads/big")
refusals = {}
for name, rule in [
    ("no action", {"ID": "x", "Filter": {}, "Status": "Enabled"}),
    ("days 0", {"Filter": {}, "Status": "Enabled", "Expiration": {"Days": 0}}),
    ("abort with tags", {"Filter": {"Tag": {"Key": "a", "Value": "b"}}, "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}),
]:
    try:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
        refusals[name] = "accepted"
    except ClientError as e:
        refusals[name] = e.response["Error"]["Code"]
s3.delete_bucket_lifecycle(Bucket=bucket)
try:
    s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    after_delete = "still there"
except ClientError as e:
    after_delete = e.response["Error"]["Code"]
print(json.dumps({
    "status": put["ResponseMetadata"]["HTTPStatusCode"],
    "rules": got["Rules"],
    "objectExpiration": obj.get("Expiration"),
    "untaggedExpiration": untagged.get("Expiration"),
    "abortDate": mpu["AbortDate"].isoformat(),
    "abortRuleId": mpu["AbortRuleId"],
    "refusals": refusals,
    "afterDelete": after_delete,
}))
`;

describe("bucket lifecycle with real clients", () => {
  test("aws cli: put, get, the Expiration a HEAD reports, a past Date's objects removed, delete", async () => {
    const bucket = "lifecycle-cli";
    expect((await aws("s3", "mb", `s3://${bucket}`)).code).toBe(0);
    await Bun.write(tmp.file("f.txt"), "log line\n");
    for (const key of ["logs/old.txt", "logs/also-old.txt", "data/kept.txt"]) expect((await aws("s3", "cp", tmp.file("f.txt"), `s3://${bucket}/${key}`)).code).toBe(0);
    const configuration = {
      Rules: [
        { ID: "expire logs", Filter: { Prefix: "logs/" }, Status: "Enabled", Expiration: { Date: "2020-01-01T00:00:00Z" } },
        { ID: "month", Filter: {}, Status: "Enabled", Expiration: { Days: 30 } },
      ],
    };
    await Bun.write(tmp.file("lifecycle.json"), JSON.stringify(configuration));
    const put = await aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket, "--lifecycle-configuration", `file://${tmp.file("lifecycle.json")}`);
    expect(put.code, put.describe).toBe(0);
    const got = await aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket);
    expect(got.code, got.describe).toBe(0);
    expect(JSON.parse(got.stdout).Rules).toEqual([
      { ID: "expire logs", Filter: { Prefix: "logs/" }, Status: "Enabled", Expiration: { Date: "2020-01-01T00:00:00+00:00" } },
      { ID: "month", Filter: {}, Status: "Enabled", Expiration: { Days: 30 } },
    ]);
    const head = await aws("s3api", "head-object", "--bucket", bucket, "--key", "data/kept.txt");
    const madeMs = Date.parse(JSON.parse(head.stdout).LastModified);
    const expiry = new Date(Math.floor((madeMs + 30 * 86_400_000) / 86_400_000) * 86_400_000 + 86_400_000).toUTCString();
    expect(JSON.parse(head.stdout).Expiration).toBe(`expiry-date="${expiry}", rule-id="month"`);

    expect(await keysLeft(bucket, "logs/")).toEqual([]);
    // (kept: the scan that emptied logs/ found it 30 days from expiring)
    expect(await keysLeft(bucket, "data/")).toEqual(["data/kept.txt"]);
    expect((await aws("s3api", "delete-bucket-lifecycle", "--bucket", bucket)).code).toBe(0);
    const gone = await aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain("NoSuchLifecycleConfiguration");
  }, 120_000);

  test("boto3: rules without IDs, And filters, Expiration on PUT, AbortDate on uploads, refusals", async () => {
    requireExecutable(pythonPath, "Debian python3 (/usr/bin/python3)");
    const boto = await run([pythonPath, "-c", botoScript, suite.server.endpoint, "lifecycle-boto"], { env: clientEnv(tmp) });
    expect(boto.code, boto.describe).toBe(0);
    const out = JSON.parse(boto.stdout);
    expect(out.status).toBe(200);
    expect(out.rules[0].ID).toMatch(/^[a-z0-9]{48}$/);
    expect(out.rules[0].Filter).toEqual({ And: { Prefix: "tmp/", Tags: [{ Key: "scratch", Value: "yes" }], ObjectSizeGreaterThan: 0 } });
    expect(out.rules[1]).toEqual({ ID: "uploads", Filter: { Prefix: "uploads/" }, Status: "Enabled", AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 } });
    expect(out.objectExpiration).toMatch(new RegExp(`^expiry-date="[A-Z][a-z]{2}, \\d\\d [A-Z][a-z]{2} \\d{4} 00:00:00 GMT", rule-id="${out.rules[0].ID}"$`));
    expect(out.untaggedExpiration).toBeNull();
    expect(out.abortDate).toMatch(/T00:00:00\+00:00$/);
    expect(out.abortRuleId).toBe("uploads");
    expect(out.refusals).toEqual({ "no action": "InvalidRequest", "days 0": "InvalidArgument", "abort with tags": "InvalidRequest" });
    expect(out.afterDelete).toBe("NoSuchLifecycleConfiguration");
  }, 60_000);

  test("s3cmd: expire by days and by a past date (its objects removed), getlifecycle, dellifecycle", async () => {
    const bucket = "lifecycle-s3cmd";
    expect((await s3cmd("mb", `s3://${bucket}`)).code).toBe(0);
    const byDays = await s3cmd("expire", `s3://${bucket}`, "--expiry-days=3", "--expiry-prefix=logs/");
    expect(byDays.code, byDays.describe).toBe(0);
    const shown = await s3cmd("getlifecycle", `s3://${bucket}`);
    expect(shown.code, shown.describe).toBe(0);
    expect(shown.stdout.replace(/\s+/g, "")).toContain("<Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>3</Days></Expiration>");
    await Bun.write(tmp.file("old.txt"), "old");
    expect((await s3cmd("put", tmp.file("old.txt"), `s3://${bucket}/old/a.txt`)).code).toBe(0);
    expect((await s3cmd("put", tmp.file("old.txt"), `s3://${bucket}/new/a.txt`)).code).toBe(0);
    const byDate = await s3cmd("expire", `s3://${bucket}`, "--expiry-date=2020-01-01T00:00:00.000Z", "--expiry-prefix=old/");
    expect(byDate.code, byDate.describe).toBe(0);
    expect(await keysLeft(bucket, "old/")).toEqual([]);
    // (no rule names new/)
    expect(await keysLeft(bucket, "new/")).toEqual(["new/a.txt"]);
    expect((await s3cmd("dellifecycle", `s3://${bucket}`)).code).toBe(0);
    const none = await s3cmd("getlifecycle", `s3://${bucket}`);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain("NoSuchLifecycleConfiguration");
  }, 120_000);

  test("minio-js: setBucketLifecycle, getBucketLifecycle, removeBucketLifecycle", async () => {
    const minio = await requireModule<typeof Minio>("minio");
    const client = new minio.Client({ endPoint: "127.0.0.1", port: suite.server.port, useSSL: false, accessKey, secretKey, pathStyle: true, region });
    const bucket = "lifecycle-minio";
    await client.makeBucket(bucket);
    await client.setBucketLifecycle(bucket, {
      Rule: [{ ID: "tmp files", Status: "Enabled", Filter: { Prefix: "tmp/" }, Expiration: { Days: 5 } }],
    } as unknown as Minio.LifecycleConfig);
    // (minio-js gives a lone rule as an object, not an array of one)
    const got = [((await client.getBucketLifecycle(bucket)) as unknown as { Rule: unknown }).Rule].flat();
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ ID: "tmp files", Status: "Enabled", Filter: { Prefix: "tmp/" }, Expiration: { Days: 5 } });
    await client.removeBucketLifecycle(bucket);
    expect(client.getBucketLifecycle(bucket)).rejects.toMatchObject({ code: "NoSuchLifecycleConfiguration" });
  }, 60_000);
});
