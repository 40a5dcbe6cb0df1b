/**
 * Users limited to some buckets, through real clients: the AWS CLI and s3cmd list only the
 * buckets a user is granted, read where it may read, and get AccessDenied where it may not write;
 * a bucket policy naming the user lets it in under a prefix of another bucket.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { awsArgs, clientEnv, clientSuite, run, s3cmdArgs } from "./helpers.ts";

const reader = { accessKey: "CLIREADER", secretKey: "cli-reader-secret" };
const suite = clientSuite("users", (tmp) => {
  writeFileSync(tmp.file("s3d.toml"), `[[users]]\nname = "reader"\naccess_key = "${reader.accessKey}"\nsecret_key = "${reader.secretKey}"\nbuckets = { "reports-*" = "read" }\n`);
  return { args: ["--config", tmp.file("s3d.toml")] };
});
const { tmp } = suite;

function aws(asReader: boolean, ...args: string[]) {
  const env = clientEnv(tmp, asReader ? { AWS_ACCESS_KEY_ID: reader.accessKey, AWS_SECRET_ACCESS_KEY: reader.secretKey } : {});
  return run([...awsArgs(suite.server.endpoint), ...args], { env, timeoutMs: 60_000 });
}

describe("users limited to some buckets, with real clients", () => {
  test("aws cli and s3cmd as a reader: only its buckets listed, reads allowed, writes refused", async () => {
    for (const bucket of ["reports-2026", "payroll"]) expect((await aws(false, "s3", "mb", `s3://${bucket}`)).code).toBe(0);
    await Bun.write(tmp.file("q4.csv"), "quarter,revenue\n4,100\n");
    expect((await aws(false, "s3", "cp", tmp.file("q4.csv"), "s3://reports-2026/q4.csv")).code).toBe(0);

    const listed = await aws(true, "s3", "ls");
    expect(listed.code, listed.describe).toBe(0);
    expect(listed.stdout).toContain("reports-2026");
    expect(listed.stdout).not.toContain("payroll");
    const read = await aws(true, "s3", "cp", "s3://reports-2026/q4.csv", tmp.file("back.csv"));
    expect(read.code, read.describe).toBe(0);
    expect(await Bun.file(tmp.file("back.csv")).text()).toBe("quarter,revenue\n4,100\n");
    const write = await aws(true, "s3", "cp", tmp.file("q4.csv"), "s3://reports-2026/forged.csv");
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain("AccessDenied");
    const other = await aws(true, "s3", "ls", "s3://payroll");
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain("AccessDenied");

    const s3cmd = await run([...s3cmdArgs(suite.server.port, reader), "ls"], { env: clientEnv(tmp) });
    expect(s3cmd.code, s3cmd.describe).toBe(0);
    expect(s3cmd.stdout).toContain("s3://reports-2026");
    expect(s3cmd.stdout).not.toContain("payroll");
  }, 120_000);

  test("a bucket policy put by the aws cli names the reader: it may then write under its own prefix of a bucket it has no grant on", async () => {
    expect((await aws(false, "s3", "mb", "s3://shared-drop")).code).toBe(0);
    await Bun.write(tmp.file("drop.txt"), "dropped by the reader\n");
    const before = await aws(true, "s3", "cp", tmp.file("drop.txt"), "s3://shared-drop/reader/drop.txt");
    expect(before.stderr).toContain("AccessDenied");
    const policy = { Statement: [{ Effect: "Allow", Principal: { AWS: ["arn:aws:iam:::user/reader"] }, Action: ["s3:PutObject", "s3:GetObject"], Resource: "arn:aws:s3:::shared-drop/reader/*" }] };
    await Bun.write(tmp.file("user-policy.json"), JSON.stringify(policy));
    const put = await aws(false, "s3api", "put-bucket-policy", "--bucket", "shared-drop", "--policy", `file://${tmp.file("user-policy.json")}`);
    expect(put.code, put.describe).toBe(0);
    const status = await aws(false, "s3api", "get-bucket-policy-status", "--bucket", "shared-drop");
    expect(JSON.parse(status.stdout).PolicyStatus.IsPublic).toBe(false);
    const drop = await aws(true, "s3", "cp", tmp.file("drop.txt"), "s3://shared-drop/reader/drop.txt");
    expect(drop.code, drop.describe).toBe(0);
    const elsewhere = await aws(true, "s3", "cp", tmp.file("drop.txt"), "s3://shared-drop/other/drop.txt");
    expect(elsewhere.stderr).toContain("AccessDenied");
    const back = await aws(false, "s3", "cp", "s3://shared-drop/reader/drop.txt", "-");
    expect(back.stdout).toBe("dropped by the reader\n");
  }, 120_000);
});
