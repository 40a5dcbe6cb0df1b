/**
 * A public-read bucket made with real clients: the AWS CLI v2 puts the policy (s3api
 * put-bucket-policy) and reads unsigned (--no-sign-request), boto3 reads with botocore's UNSIGNED
 * signature, curl without credentials; a Deny policy refuses the CLI's signed delete; a condition
 * keeps a policy to one network; s3cmd setpolicy and minio-js setBucketPolicy, which send no
 * Content-MD5, set policies too; Block Public Access set by the CLI and boto3 closes a public bucket.
 */
import { describe, expect, test } from "bun:test";
import type * as Minio from "minio";
import { accessKey, region, secretKey } from "../support/server.ts";
import { clientEnv, clientSuite, requireExecutable, requireModule, run, s3cmdArgs } from "./helpers.ts";

const pythonPath = "/usr/bin/python3";
const bucket = "public-downloads";

const suite = clientSuite("anonymous");
const { tmp, aws } = suite;

const unsignedBoto = String.raw`
import sys, json
import boto3
from botocore import UNSIGNED
from botocore.config import Config
endpoint, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}))
out = {"body": s3.get_object(Bucket=bucket, Key="release/app-1.0.tar")["Body"].read().decode()}
try:
    s3.put_object(Bucket=bucket, Key="release/evil", Body=b"x")
    out["put"] = "allowed"
except Exception as e:
    out["put"] = e.response["Error"]["Code"]
print(json.dumps(out))
`;

describe("anonymous access through a bucket policy, with real clients", () => {
  test("aws cli puts a public-read policy; the cli, boto3 and curl read unsigned and cannot write", async () => {
    expect((await aws("s3", "mb", `s3://${bucket}`)).code).toBe(0);
    await Bun.write(tmp.file("app.tar"), "release bytes\n");
    expect((await aws("s3", "cp", tmp.file("app.tar"), `s3://${bucket}/release/app-1.0.tar`)).code).toBe(0);
    const policy = JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Sid: "PublicRead", Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: `arn:aws:s3:::${bucket}/release/*` }],
    });
    await Bun.write(tmp.file("policy.json"), policy);
    const put = await aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", `file://${tmp.file("policy.json")}`);
    expect(put.code, put.describe).toBe(0);
    const got = await aws("s3api", "get-bucket-policy", "--bucket", bucket);
    expect(JSON.parse(JSON.parse(got.stdout).Policy)).toEqual(JSON.parse(policy));

    const download = await aws("s3", "cp", "--no-sign-request", `s3://${bucket}/release/app-1.0.tar`, tmp.file("back.tar"));
    expect(download.code, download.describe).toBe(0);
    expect(await Bun.file(tmp.file("back.tar")).text()).toBe("release bytes\n");
    const upload = await aws("s3", "cp", "--no-sign-request", tmp.file("app.tar"), `s3://${bucket}/release/evil.tar`);
    expect(upload.code).not.toBe(0);
    expect(upload.stderr).toContain("AccessDenied");

    requireExecutable(pythonPath, "Debian python3 (/usr/bin/python3)");
    const boto = await run([pythonPath, "-c", unsignedBoto, suite.server.endpoint, bucket], { env: clientEnv(tmp) });
    expect(boto.code, boto.describe).toBe(0);
    expect(JSON.parse(boto.stdout)).toEqual({ body: "release bytes\n", put: "AccessDenied" });

    const curl = await run(["curl", "-sS", "-w", " %{http_code}", `${suite.server.endpoint}/${bucket}/release/app-1.0.tar`], { env: clientEnv(tmp) });
    expect(curl.stdout).toBe("release bytes\n 200");
  }, 120_000);

  test("s3cmd setpolicy and minio-js setBucketPolicy (no Content-MD5) open a bucket to curl", async () => {
    const other = "public-by-s3cmd";
    expect((await aws("s3", "mb", `s3://${other}`)).code).toBe(0);
    await Bun.write(tmp.file("page.html"), "<p>public</p>");
    expect((await aws("s3", "cp", tmp.file("page.html"), `s3://${other}/page.html`)).code).toBe(0);
    const curlStatus = async () => (await run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", `${suite.server.endpoint}/${other}/page.html`], { env: clientEnv(tmp) })).stdout;
    expect(await curlStatus()).toBe("403");

    const policy = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: `arn:aws:s3:::${other}/*` }] });
    await Bun.write(tmp.file("s3cmd-policy.json"), policy);
    const s3cmd = (...args: string[]) => run([...s3cmdArgs(suite.server.port), ...args], { env: clientEnv(tmp) });
    const set = await s3cmd("setpolicy", tmp.file("s3cmd-policy.json"), `s3://${other}`);
    expect(set.code, set.describe).toBe(0);
    expect(await curlStatus()).toBe("200");
    expect((await s3cmd("delpolicy", `s3://${other}`)).code).toBe(0);
    expect(await curlStatus()).toBe("403");

    const minio = await requireModule<typeof Minio>("minio");
    const client = new minio.Client({ endPoint: "127.0.0.1", port: suite.server.port, useSSL: false, accessKey, secretKey, pathStyle: true, region });
    await client.setBucketPolicy(other, policy);
    expect(JSON.parse(await client.getBucketPolicy(other))).toEqual(JSON.parse(policy));
    expect(await curlStatus()).toBe("200");
  }, 60_000);

  test("conditions: aws cli puts a policy public to one network only; curl from loopback reads, from elsewhere it would not", async () => {
    const lan = "lan-only";
    expect((await aws("s3", "mb", `s3://${lan}`)).code).toBe(0);
    await Bun.write(tmp.file("doc.txt"), "for the office\n");
    expect((await aws("s3", "cp", tmp.file("doc.txt"), `s3://${lan}/doc.txt`)).code).toBe(0);
    const curlStatus = async () => (await run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", `${suite.server.endpoint}/${lan}/doc.txt`], { env: clientEnv(tmp) })).stdout;
    const withSource = (cidr: string) =>
      JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: `arn:aws:s3:::${lan}/*`, Condition: { IpAddress: { "aws:SourceIp": [cidr] } } }] });
    for (const [cidr, status, isPublic] of [["127.0.0.0/8", "200", false], ["192.0.2.0/24", "403", false], ["0.0.0.0/0", "200", true]] as const) {
      await Bun.write(tmp.file("cond.json"), withSource(cidr));
      const put = await aws("s3api", "put-bucket-policy", "--bucket", lan, "--policy", `file://${tmp.file("cond.json")}`);
      expect(put.code, put.describe).toBe(0);
      expect(await curlStatus()).toBe(status);
      const policyStatus = await aws("s3api", "get-bucket-policy-status", "--bucket", lan);
      expect(JSON.parse(policyStatus.stdout).PolicyStatus.IsPublic).toBe(isPublic);
    }
    await Bun.write(tmp.file("vpc.json"), JSON.stringify({ Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: `arn:aws:s3:::${lan}/*`, Condition: { StringEquals: { "aws:SourceVpce": "vpce-1" } } }] }));
    const unsupported = await aws("s3api", "put-bucket-policy", "--bucket", lan, "--policy", `file://${tmp.file("vpc.json")}`);
    expect(unsupported.code).not.toBe(0);
    expect(unsupported.stderr).toContain("NotImplemented");
  }, 60_000);

  test("a Deny refuses the owner's signed delete; deleting the policy lifts it", async () => {
    const policy = JSON.stringify({ Statement: [{ Effect: "Deny", Principal: { AWS: "*" }, Action: "s3:DeleteObject", Resource: `arn:aws:s3:::${bucket}/release/*` }] });
    await Bun.write(tmp.file("deny.json"), policy);
    expect((await aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", `file://${tmp.file("deny.json")}`)).code).toBe(0);
    const refused = await aws("s3", "rm", `s3://${bucket}/release/app-1.0.tar`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("AccessDenied");
    expect((await aws("s3api", "delete-bucket-policy", "--bucket", bucket)).code).toBe(0);
    expect((await aws("s3", "rm", `s3://${bucket}/release/app-1.0.tar`)).code).toBe(0);
  }, 60_000);

  test("Block Public Access: the cli and boto3 set it, a public policy is refused, one in place stops serving unsigned requests", async () => {
    const blocked = "blocked-downloads";
    expect((await aws("s3", "mb", `s3://${blocked}`)).code).toBe(0);
    await Bun.write(tmp.file("blocked.txt"), "blocked bytes\n");
    expect((await aws("s3", "cp", tmp.file("blocked.txt"), `s3://${blocked}/f.txt`)).code).toBe(0);
    const none = await aws("s3api", "get-public-access-block", "--bucket", blocked);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain("NoSuchPublicAccessBlockConfiguration");
    const set = await aws("s3api", "put-public-access-block", "--bucket", blocked, "--public-access-block-configuration", "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true");
    expect(set.code, set.describe).toBe(0);
    const got = await aws("s3api", "get-public-access-block", "--bucket", blocked);
    expect(JSON.parse(got.stdout).PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: false });
    await Bun.write(tmp.file("blocked-policy.json"), JSON.stringify({ Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: `arn:aws:s3:::${blocked}/*` }] }));
    const refused = await aws("s3api", "put-bucket-policy", "--bucket", blocked, "--policy", `file://${tmp.file("blocked-policy.json")}`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("AccessDenied");
    expect((await aws("s3api", "delete-public-access-block", "--bucket", blocked)).code).toBe(0);
    expect((await aws("s3api", "put-bucket-policy", "--bucket", blocked, "--policy", `file://${tmp.file("blocked-policy.json")}`)).code).toBe(0);
    const curl = () => run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", `${suite.server.endpoint}/${blocked}/f.txt`], { env: clientEnv(tmp) });
    expect((await curl()).stdout).toBe("200");

    requireExecutable(pythonPath, "Debian python3 (/usr/bin/python3)");
    const script = String.raw`
import sys, json
import boto3
endpoint, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
print(json.dumps(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]))
`;
    const boto = await run([pythonPath, "-c", script, suite.server.endpoint, blocked], { env: clientEnv(tmp) });
    expect(boto.code, boto.describe).toBe(0);
    expect(JSON.parse(boto.stdout)).toEqual({ BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: true });
    expect((await curl()).stdout).toBe("403");
    expect((await aws("s3", "cp", `s3://${blocked}/f.txt`, tmp.file("blocked-back.txt"))).code).toBe(0);
    expect(await Bun.file(tmp.file("blocked-back.txt")).text()).toBe("blocked bytes\n");
  }, 120_000);
});
