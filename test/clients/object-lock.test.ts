/**
 * Object Lock through real clients against dist/s3d: the AWS CLI v2 (a bucket created with Object
 * Lock, its default retention, COMPLIANCE and GOVERNANCE versions with a legal hold, retention and
 * legal-hold calls, deletes refused or bypassed, versioning that cannot be suspended, a multipart
 * `s3 cp` taking the default retention, locks kept over a crash), s3cmd (its PUT and parts, with
 * no integrity header, refused as S3 refuses them), and boto3 1.26 and 1.43 (the integrity header each
 * sends with lock parameters, a GOVERNANCE retention shortened with a bypass, DeleteObjects of a
 * batch with locked entries, a retention that runs out).
 * Version ids go to the CLI as `--version-id=ID`.
 */
import { describe, expect, test } from "bun:test";
import { boto3Pythons, clientEnv, clientSuite, requireExecutable, run, s3cmdArgs, writeRandomFile } from "./helpers.ts";

const lockedMessage = "Access Denied because object protected by object lock.";
const dayMs = 86_400_000;
const suite = clientSuite("object-lock");
const { tmp, aws, api } = suite;

/** An `aws s3api` call that must fail with `code`: its message. */
async function apiFails(code: string, ...args: string[]): Promise<string> {
  const stderr = await suite.apiFails(...args);
  const m = /An error occurred \(([^)]*)\) when calling the \w+ operation: (.*)/.exec(stderr);
  expect(m?.[1], stderr).toBe(code);
  return m![2]!.trim();
}

/** A whole-second time `offsetMs` from now (lock dates travel in headers as whole seconds). */
const wholeSecondsFromNow = (offsetMs: number) => Math.floor(Date.now() / 1000) * 1000 + offsetMs;
const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");
/** How the CLI prints a whole-second time. */
const cliTime = (ms: number) => new Date(ms).toISOString().replace(".000Z", "+00:00");
const lockFields = (head: any) => [head.ObjectLockMode, head.ObjectLockRetainUntilDate, head.ObjectLockLegalHoldStatus];

describe("aws cli v2", () => {
  test("create with Object Lock, default retention, COMPLIANCE + legal hold, GOVERNANCE bypass, versioning stays Enabled, locks survive a crash", async () => {
    const bucket = "cli-lock";
    await Bun.write(tmp.file("body"), "locked bytes\n");
    const body = tmp.file("body");
    await api("create-bucket", "--bucket", bucket, "--object-lock-enabled-for-bucket");
    expect(await api("get-bucket-versioning", "--bucket", bucket)).toEqual({ Status: "Enabled" });
    expect(await api("get-object-lock-configuration", "--bucket", bucket)).toEqual({ ObjectLockConfiguration: { ObjectLockEnabled: "Enabled" } });
    const config = { ObjectLockEnabled: "Enabled", Rule: { DefaultRetention: { Mode: "GOVERNANCE", Days: 1 } } };
    await api("put-object-lock-configuration", "--bucket", bucket, "--object-lock-configuration", JSON.stringify(config));
    expect(await api("get-object-lock-configuration", "--bucket", bucket)).toEqual({ ObjectLockConfiguration: config });

    // COMPLIANCE with a legal hold, from the request's headers
    const until = wholeSecondsFromNow(3_600_000);
    const c = (await api("put-object", "--bucket", bucket, "--key", "compliant", "--body", body, "--object-lock-mode", "COMPLIANCE",
      "--object-lock-retain-until-date", iso(until), "--object-lock-legal-hold-status", "ON")).VersionId;
    const cv = ["--bucket", bucket, "--key", "compliant", `--version-id=${c}`];
    expect(lockFields(await api("head-object", ...cv))).toEqual(["COMPLIANCE", cliTime(until), "ON"]);
    expect(await api("get-object-retention", ...cv)).toEqual({ Retention: { Mode: "COMPLIANCE", RetainUntilDate: cliTime(until) } });
    expect(await api("get-object-legal-hold", ...cv)).toEqual({ LegalHold: { Status: "ON" } });
    expect(await apiFails("AccessDenied", "delete-object", ...cv, "--bypass-governance-retention")).toBe(lockedMessage);
    await api("put-object-legal-hold", ...cv, "--legal-hold", "Status=OFF");
    expect(await api("get-object-legal-hold", ...cv)).toEqual({ LegalHold: { Status: "OFF" } });
    expect(lockFields(await api("head-object", ...cv))).toEqual(["COMPLIANCE", cliTime(until), "OFF"]);
    // COMPLIANCE binds the root user too: no delete, no shorter date, no switch to GOVERNANCE, bypass or not
    expect(await apiFails("AccessDenied", "delete-object", ...cv, "--bypass-governance-retention")).toBe(lockedMessage);
    expect(await apiFails("AccessDenied", "put-object-retention", ...cv, "--retention", `Mode=COMPLIANCE,RetainUntilDate=${iso(until - 60_000)}`)).toBe(lockedMessage);
    expect(await apiFails("AccessDenied", "put-object-retention", ...cv, "--bypass-governance-retention", "--retention", `Mode=GOVERNANCE,RetainUntilDate=${iso(until)}`)).toBe(lockedMessage);
    await api("put-object-retention", ...cv, "--retention", `Mode=COMPLIANCE,RetainUntilDate=${iso(until + dayMs)}`);
    expect(await api("get-object-retention", ...cv)).toEqual({ Retention: { Mode: "COMPLIANCE", RetainUntilDate: cliTime(until + dayMs) } });

    // GOVERNANCE from the bucket's default (1 day from the write), no legal hold
    const before = Date.now();
    const g = (await api("put-object", "--bucket", bucket, "--key", "governed", "--body", body)).VersionId;
    const after = Date.now();
    const gv = ["--bucket", bucket, "--key", "governed", `--version-id=${g}`];
    const [mode, gUntil, hold] = lockFields(await api("head-object", ...gv));
    expect([mode, hold]).toEqual(["GOVERNANCE", undefined]);
    expect(Date.parse(gUntil)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + dayMs);
    expect(Date.parse(gUntil)).toBeLessThanOrEqual(after + dayMs);
    expect(await apiFails("NoSuchObjectLockConfiguration", "get-object-legal-hold", ...gv)).toBe("The specified object does not have a ObjectLock configuration");
    expect(await apiFails("AccessDenied", "delete-object", ...gv)).toBe(lockedMessage);
    expect(await apiFails("AccessDenied", "put-object-retention", ...gv, "--retention", `Mode=GOVERNANCE,RetainUntilDate=${iso(until)}`)).toBe(lockedMessage);
    await api("put-object-retention", ...gv, "--bypass-governance-retention", "--retention", `Mode=GOVERNANCE,RetainUntilDate=${iso(until)}`);
    expect(lockFields(await api("head-object", ...gv))).toEqual(["GOVERNANCE", cliTime(until), undefined]);

    // a delete without a version id only adds a marker; the locked version stays
    const marker = await api("delete-object", "--bucket", bucket, "--key", "compliant");
    expect(marker.DeleteMarker).toBe(true);
    const listed = await api("list-object-versions", "--bucket", bucket, "--prefix", "compliant");
    expect(listed.Versions.map((v: any) => [v.VersionId, v.IsLatest])).toEqual([[c, false]]);
    expect(listed.DeleteMarkers.map((m: any) => [m.VersionId, m.IsLatest])).toEqual([[marker.VersionId, true]]);

    expect(await apiFails("InvalidBucketState", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Suspended"))
      .toBe("An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.");
    expect(await api("get-bucket-versioning", "--bucket", bucket)).toEqual({ Status: "Enabled" });

    // the locks are in the store: after kill -9 and a restart they still hold
    await suite.server.crash();
    await suite.server.restart();
    expect(lockFields(await api("head-object", ...cv))).toEqual(["COMPLIANCE", cliTime(until + dayMs), "OFF"]);
    expect(await apiFails("AccessDenied", "delete-object", ...gv)).toBe(lockedMessage);
    expect(await api("delete-object", ...gv, "--bypass-governance-retention")).toEqual({ VersionId: g });
    expect(await apiFails("404", "head-object", ...gv)).toBe("Not Found");
  }, 120_000);

  test("a multipart `s3 cp` takes the default retention, s3cmd's PUT and parts without Content-MD5 do not; lock parameters need an Object Lock bucket, and Object Lock needs versioning", async () => {
    const bucket = "cli-lock-default";
    await api("create-bucket", "--bucket", bucket, "--object-lock-enabled-for-bucket");
    await api("put-object-lock-configuration", "--bucket", bucket, "--object-lock-configuration", '{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"COMPLIANCE","Years":1}}}');
    await writeRandomFile(tmp.file("big"), 9 << 20);
    const start = Date.now();
    const cp = await aws("s3", "cp", "--no-progress", tmp.file("big"), `s3://${bucket}/big`);
    expect(cp.code, cp.describe).toBe(0);
    const head = await api("head-object", "--bucket", bucket, "--key", "big");
    expect([head.ETag.endsWith('-2"'), head.ObjectLockMode, head.ObjectLockLegalHoldStatus]).toEqual([true, "COMPLIANCE", undefined]);
    const untilMs = Date.parse(head.ObjectLockRetainUntilDate);
    expect(untilMs).toBeGreaterThanOrEqual(start - 1000 + 365 * dayMs);
    expect(untilMs).toBeLessThanOrEqual(Date.now() + 365 * dayMs);
    expect(await apiFails("AccessDenied", "delete-object", "--bucket", bucket, "--key", "big", `--version-id=${head.VersionId}`, "--bypass-governance-retention")).toBe(lockedMessage);
    await Bun.write(tmp.file("small"), "x");
    // s3cmd signs its payload's SHA-256 but sends no Content-MD5: S3 refuses a PUT, or a part, of an object that takes a retention
    for (const [file, what] of [[tmp.file("small"), "Put Object"], [tmp.file("big"), "Put Part"]]) {
      const s3cmd = await run([...s3cmdArgs(suite.server.port), "put", "--multipart-chunk-size-mb=5", file!, `s3://${bucket}/s3cmd`], { env: clientEnv(tmp) });
      expect(s3cmd.code, s3cmd.describe).not.toBe(0);
      expect(s3cmd.stderr, s3cmd.describe).toContain(`400 (InvalidRequest): Content-MD5 OR x-amz-checksum- HTTP header is required for ${what} requests with Object Lock parameters`);
    }

    await api("create-bucket", "--bucket", "cli-no-lock");
    const lockArgs = ["--object-lock-mode", "GOVERNANCE", "--object-lock-retain-until-date", iso(wholeSecondsFromNow(3_600_000))];
    expect(await apiFails("InvalidRequest", "put-object", "--bucket", "cli-no-lock", "--key", "k", "--body", tmp.file("small"), ...lockArgs)).toBe("Bucket is missing ObjectLockConfiguration");
    expect(await apiFails("InvalidArgument", "delete-object", "--bucket", "cli-no-lock", "--key", "k", "--bypass-governance-retention"))
      .toBe("x-amz-bypass-governance-retention is only applicable to Object Lock enabled buckets.");
    expect(await apiFails("ObjectLockConfigurationNotFoundError", "get-object-lock-configuration", "--bucket", "cli-no-lock")).toBe("Object Lock configuration does not exist for this bucket");
    expect(await apiFails("InvalidBucketState", "put-object-lock-configuration", "--bucket", "cli-no-lock", "--object-lock-configuration", '{"ObjectLockEnabled":"Enabled"}'))
      .toBe("Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration");
    expect(await apiFails("InvalidArgument", "put-object", "--bucket", bucket, "--key", "k", "--body", tmp.file("small"), "--object-lock-mode", "GOVERNANCE", "--object-lock-retain-until-date", "2020-01-01T00:00:00Z"))
      .toBe("The retain until date must be in the future!");
  }, 120_000);
});

const botoScript = String.raw`
import sys, json, time, hashlib, datetime
import boto3, botocore
from botocore.config import Config
endpoint, b = sys.argv[1], sys.argv[2]
def client(**extra):
    cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **extra)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=cfg)
    s3.meta.events.register("before-send.s3", lambda request, **kw: sent.append({k.lower(): (v.decode() if isinstance(v, bytes) else v)
        for k, v in request.headers.items() if k.lower().startswith(("content-md5", "x-amz-checksum", "x-amz-sdk-checksum", "x-amz-bypass"))}))
    return s3
sent = []
s3 = client()
def err(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return [e.response["Error"]["Code"], e.response["Error"]["Message"]]
utc = datetime.timezone.utc
now = datetime.datetime.now(utc).replace(microsecond=0)
hour, later = now + datetime.timedelta(hours=1), now + datetime.timedelta(hours=2)
out = {"hour": hour.isoformat(), "later": later.isoformat(), "sent": {}}
s3.create_bucket(Bucket=b, ObjectLockEnabledForBucket=True)
out["versioning"] = s3.get_bucket_versioning(Bucket=b).get("Status")
out["config"] = s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
def put(key, name, **kw):
    sent.clear()
    r = s3.put_object(Bucket=b, Key=key, Body=b"locked " + key.encode(), **kw)
    out["sent"][name] = sent[-1]
    return r["VersionId"], r.get("ChecksumSHA256")
c, _ = put("c", "default", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=hour)
g1, sha = put("g", "sha256", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=later, ChecksumAlgorithm="SHA256")
out["sha256"] = [sha, __import__("base64").b64encode(hashlib.sha256(b"locked g").digest()).decode()]
g2, _ = put("g", "legal_hold", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=later, ObjectLockLegalHoldStatus="ON")
free, _ = put("free", "unlocked")
shown = lambda v: v.isoformat() if isinstance(v, datetime.datetime) else str(v)
head = lambda k, v: [shown(s3.head_object(Bucket=b, Key=k, VersionId=v).get(f)) for f in ("ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus")]
out["head"] = {"c": head("c", c), "g1": head("g", g1), "g2": head("g", g2), "free": head("free", free)}
out["shorten"] = err(lambda: s3.put_object_retention(Bucket=b, Key="g", VersionId=g1, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": hour}))
sent.clear()
s3.put_object_retention(Bucket=b, Key="g", VersionId=g1, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": hour}, BypassGovernanceRetention=True)
out["sent"]["bypass"] = sent[-1]
ret = s3.get_object_retention(Bucket=b, Key="g", VersionId=g1)["Retention"]
out["retention"] = [ret["Mode"], ret["RetainUntilDate"].isoformat()]
s3.put_object_legal_hold(Bucket=b, Key="c", VersionId=c, LegalHold={"Status": "ON"})
out["legal_hold"] = [s3.get_object_legal_hold(Bucket=b, Key="c", VersionId=c)["LegalHold"]["Status"], head("c", c)[2]]
batch = {"Objects": [{"Key": "c", "VersionId": c}, {"Key": "g", "VersionId": g1}, {"Key": "g", "VersionId": g2}, {"Key": "free", "VersionId": free}]}
rows = lambda entries: sorted([e["Key"], e["VersionId"], e.get("Code"), e.get("Message")] for e in entries or [])
r = s3.delete_objects(Bucket=b, Delete={"Objects": batch["Objects"][1:2]})
out["no_bypass"] = [rows(r.get("Deleted")), rows(r.get("Errors"))]
r = s3.delete_objects(Bucket=b, Delete=batch, BypassGovernanceRetention=True)
out["bypass"] = [rows(r.get("Deleted")), rows(r.get("Errors"))]
s3.put_object_legal_hold(Bucket=b, Key="g", VersionId=g2, LegalHold={"Status": "OFF"})
r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "g", "VersionId": g2}]}, BypassGovernanceRetention=True)
out["released"] = [rows(r.get("Deleted")), rows(r.get("Errors"))]
# a COMPLIANCE retention 2-3 s long: refused until it runs out, then deleted
soon = datetime.datetime.now(utc).replace(microsecond=0) + datetime.timedelta(seconds=3)
e, _ = put("e", "expiring", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=soon)
out["expiring_early"] = err(lambda: s3.delete_object(Bucket=b, Key="e", VersionId=e, BypassGovernanceRetention=True))
time.sleep(max(0, (soon - datetime.datetime.now(utc)).total_seconds()) + 0.5)
out["expiring_late"] = s3.delete_object(Bucket=b, Key="e", VersionId=e).get("VersionId") == e
left = s3.list_object_versions(Bucket=b)
out["left"] = sorted([v["Key"], v["VersionId"]] for v in left.get("Versions", []))
out["ids"] = {"c": c, "g1": g1, "g2": g2, "free": free}
# botocore >= 1.36 can send no checksum at all (request_checksum_calculation): S3 refuses lock parameters then
if tuple(int(p) for p in botocore.__version__.split(".")[:2]) >= (1, 36):
    s3 = client(request_checksum_calculation="when_required")
    sent.clear()
    out["when_required"] = err(lambda: s3.put_object(Bucket=b, Key="w", Body=b"w", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=hour))
    out["sent"]["when_required"] = sent[-1]
print(json.dumps(out))
`;

describe("boto3", () => {
  for (const [what, python, name] of boto3Pythons) {
    test(`boto3 ${what}: lock parameters with its checksums, bypassed GOVERNANCE, delete_objects with locked entries, a retention running out`, async () => {
      requireExecutable(python, `python3 for boto3 ${what}`);
      const r = await run([python, "-c", botoScript, suite.server.endpoint, `boto-lock-${name}`], { env: clientEnv(tmp), timeoutMs: 90_000 });
      expect(r.code, r.describe).toBe(0);
      const out = JSON.parse(r.stdout);
      const { c, g1, g2, free } = out.ids;
      expect([out.versioning, out.config]).toEqual(["Enabled", { ObjectLockEnabled: "Enabled" }]);
      // what each boto3 sends as the integrity header S3 requires with lock parameters
      const md5 = (text: string) => new Bun.CryptoHasher("md5").update(text).digest("base64");
      const crc32 = (text: string) => Buffer.from(Uint32Array.of(Bun.hash.crc32(text)).buffer).reverse().toString("base64");
      expect(out.sent.default).toEqual(name === "debian" ? { "content-md5": md5("locked c") } : { "x-amz-checksum-crc32": crc32("locked c"), "x-amz-sdk-checksum-algorithm": "CRC32" });
      expect(out.sent.sha256["x-amz-checksum-sha256"]).toBe(out.sha256[1]);
      expect(out.sha256[0]).toBe(out.sha256[1]);
      // boto3 1.26 spells the bypass "True", 1.43 "true"
      expect(out.sent.bypass["x-amz-bypass-governance-retention"]).toBe(name === "debian" ? "True" : "true");
      expect(out.head).toEqual({
        c: ["COMPLIANCE", out.hour, "None"], g1: ["GOVERNANCE", out.later, "None"], g2: ["GOVERNANCE", out.later, "ON"], free: ["None", "None", "None"],
      });
      expect(out.shorten).toEqual(["AccessDenied", lockedMessage]);
      expect(out.retention).toEqual(["GOVERNANCE", out.hour]);
      expect(out.legal_hold).toEqual(["ON", "ON"]);
      expect(out.no_bypass).toEqual([[], [["g", g1, "AccessDenied", lockedMessage]]]);
      const sorted = (rows: unknown[][]) => rows.map((row) => JSON.stringify(row)).sort();
      expect(out.bypass.map(sorted)).toEqual([
        sorted([["free", free, null, null], ["g", g1, null, null]]),
        sorted([["c", c, "AccessDenied", lockedMessage], ["g", g2, "AccessDenied", lockedMessage]]),
      ]);
      expect(out.released).toEqual([[["g", g2, null, null]], []]);
      expect(out.expiring_early).toEqual(["AccessDenied", lockedMessage]);
      expect(out.expiring_late).toBe(true);
      expect(out.left).toEqual([["c", c]]);
      if (name === "path") {
        expect(out.sent.when_required).toEqual({});
        expect(out.when_required).toEqual(["InvalidRequest", "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters"]);
      } else expect(out.when_required).toBeUndefined();
    }, 120_000);
  }
});
