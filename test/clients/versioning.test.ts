/**
 * Bucket versioning through real clients against dist/s3d: the AWS CLI v2 (s3api versioning calls,
 * get by version id, delete markers, copy from a version, Suspended null versions, emptying a
 * versioned bucket), boto3 1.26 and 1.43 (paginated ListObjectVersions with MaxKeys=1,
 * DeleteObjects by version, the resource API's `object_versions`) and rclone (`--s3-versions`).
 * Version ids go to the CLI as `--version-id=ID`, which holds for any id (argparse would take one
 * beginning with "-" for an option; s3d's never do, as AWS's do not).
 */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { accessKey, secretKey } from "../support/server.ts";
import { boto3Pythons, clientEnv, clientSuite, requireExecutable, run, sha256 } from "./helpers.ts";

/** The form of the ids s3d makes (AWS's are opaque too: never "null", never empty). */
const versionIdPattern = /^[A-Za-z0-9._]{32}$/;
const suite = clientSuite("versioning");
const { tmp, aws, api, apiFails } = suite;

const setVersioning = (bucket: string, status: "Enabled" | "Suspended") =>
  api("put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", `Status=${status}`);

/** create-bucket, then versioning Enabled unless told not to. */
async function makeBucket(bucket: string, versioned = true): Promise<void> {
  await api("create-bucket", "--bucket", bucket);
  if (versioned) await setVersioning(bucket, "Enabled");
}

/** Writes random bytes to a file in tmp: its path and sha256. */
async function randomBody(name: string, sizeBytes: number): Promise<{ path: string; sha: string }> {
  const bytes = randomBytes(sizeBytes);
  await Bun.write(tmp.file(name), bytes);
  return { path: tmp.file(name), sha: sha256(bytes) };
}

/** put-object: the VersionId it reports (undefined for none). */
const put = async (bucket: string, key: string, path: string): Promise<string | undefined> =>
  (await api("put-object", "--bucket", bucket, "--key", key, "--body", path)).VersionId;

/** get-object of one version (or the current one): the version id it reports and the sha256 of the bytes downloaded. */
async function download(bucket: string, key: string, versionId?: string): Promise<{ versionId: string; sha: string }> {
  const out = tmp.file(`download-${randomBytes(6).toString("hex")}`);
  const got = await api("get-object", "--bucket", bucket, "--key", key, ...(versionId ? [`--version-id=${versionId}`] : []), out);
  return { versionId: got.VersionId, sha: sha256(readFileSync(out)) };
}

interface Listed { Key: string; VersionId: string; IsLatest: boolean; Size?: number; LastModified: string }

/** list-object-versions: [key, id, latest, size] rows, [key, id, latest] marker rows (in listed order), and the output itself. */
async function versionsOf(bucket: string, ...args: string[]) {
  const raw = await api("list-object-versions", "--bucket", bucket, ...args);
  const versions: Listed[] = raw.Versions ?? [];
  const markers: Listed[] = raw.DeleteMarkers ?? [];
  return { versions: versions.map((v) => [v.Key, v.VersionId, v.IsLatest, v.Size]), markers: markers.map((m) => [m.Key, m.VersionId, m.IsLatest]), raw };
}

/** Rows in a fixed order, for listings whose order the client decides. */
const sorted = (rows: unknown[][]) => rows.map((row) => JSON.stringify(row)).sort();

describe("aws cli v2", () => {
  test("enable, a version per put, get each by id, delete marker, remove it, delete the current version, survive a crash", async () => {
    const bucket = "cli-versions";
    await makeBucket(bucket, false);
    expect(await api("get-bucket-versioning", "--bucket", bucket)).toEqual({});
    await setVersioning(bucket, "Enabled");
    expect(await api("get-bucket-versioning", "--bucket", bucket)).toEqual({ Status: "Enabled" });

    const bodies = await Promise.all([0, 1, 2].map((i) => randomBody(`body${i}`, 70_000 + i)));
    const ids: string[] = [];
    for (const body of bodies) ids.push((await put(bucket, "doc.bin", body.path))!);
    expect(new Set(ids).size, ids.join()).toBe(3);
    for (const id of ids) expect(id).toMatch(versionIdPattern);
    const listed = await versionsOf(bucket);
    expect(listed.versions).toEqual([["doc.bin", ids[2], true, 70_002], ["doc.bin", ids[1], false, 70_001], ["doc.bin", ids[0], false, 70_000]]);
    expect(listed.markers).toEqual([]);
    for (const [i, id] of ids.entries()) expect(await download(bucket, "doc.bin", id)).toEqual({ versionId: id, sha: bodies[i]!.sha });
    expect(await download(bucket, "doc.bin")).toEqual({ versionId: ids[2]!, sha: bodies[2]!.sha });

    const deleted = await api("delete-object", "--bucket", bucket, "--key", "doc.bin");
    expect(deleted.DeleteMarker).toBe(true);
    const marker: string = deleted.VersionId;
    expect(marker).toMatch(versionIdPattern);
    expect(ids).not.toContain(marker);
    const head = await aws("--debug", "s3api", "head-object", "--bucket", bucket, "--key", "doc.bin");
    expect(head.code, head.describe).not.toBe(0);
    expect(head.stderr).toContain("An error occurred (404) when calling the HeadObject operation");
    // (--debug logs the response headers)
    for (const header of ["'x-amz-delete-marker': 'true'", `'x-amz-version-id': '${marker}'`]) expect(head.stderr).toContain(header);
    expect(await apiFails("get-object", "--bucket", bucket, "--key", "doc.bin", tmp.file("none"))).toContain("(NoSuchKey)");
    expect(await apiFails("get-object", "--bucket", bucket, "--key", "doc.bin", `--version-id=${marker}`, tmp.file("none"))).toContain("(MethodNotAllowed)");
    const afterDelete = await versionsOf(bucket);
    expect(afterDelete.markers).toEqual([["doc.bin", marker, true]]);
    expect(afterDelete.versions.map((v) => v[2])).toEqual([false, false, false]);
    expect((await api("list-objects-v2", "--bucket", bucket)).Contents).toBeUndefined();

    // removing the marker by its id brings the last version back
    expect(await api("delete-object", "--bucket", bucket, "--key", "doc.bin", `--version-id=${marker}`)).toEqual({ DeleteMarker: true, VersionId: marker });
    expect(await download(bucket, "doc.bin")).toEqual({ versionId: ids[2]!, sha: bodies[2]!.sha });
    // removing the current version by its id makes the one before it current
    expect(await api("delete-object", "--bucket", bucket, "--key", "doc.bin", `--version-id=${ids[2]}`)).toEqual({ VersionId: ids[2] });
    expect((await api("head-object", "--bucket", bucket, "--key", "doc.bin")).VersionId).toBe(ids[1]);
    const before = await versionsOf(bucket);
    expect(before.versions).toEqual([["doc.bin", ids[1], true, 70_001], ["doc.bin", ids[0], false, 70_000]]);

    await suite.server.crash();
    await suite.server.restart();
    expect((await versionsOf(bucket)).raw).toEqual(before.raw);
    expect(await download(bucket, "doc.bin", ids[0])).toEqual({ versionId: ids[0]!, sha: bodies[0]!.sha });
  }, 120_000);

  test("copy-object from a version (and from the null one); Suspended writes, copies and deletes the null version", async () => {
    const bucket = "cli-suspended";
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((n) => randomBody(`s-${n}`, 5_000)));
    await makeBucket(bucket, false);
    expect(await put(bucket, "k", a!.path)).toBeUndefined();
    await setVersioning(bucket, "Enabled");
    const v1 = (await put(bucket, "k", b!.path))!;
    expect(v1).toMatch(versionIdPattern);
    for (const [source, body] of [["null", a!], [v1, b!]] as const) {
      const copied = await api("copy-object", "--bucket", bucket, "--key", `copy-of-${source}`, "--copy-source", `${bucket}/k?versionId=${source}`);
      expect(copied.CopySourceVersionId).toBe(source);
      expect(copied.VersionId).toMatch(versionIdPattern);
      expect(await download(bucket, `copy-of-${source}`)).toEqual({ versionId: copied.VersionId, sha: body.sha });
    }

    await setVersioning(bucket, "Suspended");
    expect(await api("get-bucket-versioning", "--bucket", bucket)).toEqual({ Status: "Suspended" });
    expect(await put(bucket, "k", c!.path)).toBeUndefined();
    // the new null version replaced the old one (a's bytes are gone)
    expect((await versionsOf(bucket, "--prefix", "k")).versions).toEqual([["k", "null", true, 5_000], ["k", v1, false, 5_000]]);
    expect(await download(bucket, "k", "null")).toEqual({ versionId: "null", sha: c!.sha });
    const copiedSuspended = await api("copy-object", "--bucket", bucket, "--key", "suspended-copy", "--copy-source", `${bucket}/k?versionId=${v1}`);
    expect([copiedSuspended.VersionId, copiedSuspended.CopySourceVersionId]).toEqual([undefined, v1]);

    expect(await api("delete-object", "--bucket", bucket, "--key", "k")).toEqual({ DeleteMarker: true, VersionId: "null" });
    const after = await versionsOf(bucket, "--prefix", "k");
    expect([after.versions, after.markers]).toEqual([[["k", v1, false, 5_000]], [["k", "null", true]]]);
  }, 120_000);

  test("s3 rm --recursive leaves versions: BucketNotEmpty until delete-objects removes every version and marker", async () => {
    const bucket = "cli-empty-me";
    await makeBucket(bucket);
    const keys = ["a.txt", "dir/a b+c é.txt", "dir/sub/z"];
    const body = await randomBody("small", 100);
    for (const key of keys) for (let i = 0; i < 2; i++) await put(bucket, key, body.path);

    const rm = await aws("s3", "rm", "--recursive", `s3://${bucket}`);
    expect(rm.code, rm.describe).toBe(0);
    expect(rm.stdout.trim().split("\n").sort()).toEqual(keys.map((k) => `delete: s3://${bucket}/${k}`).sort());
    expect((await api("list-objects-v2", "--bucket", bucket)).Contents).toBeUndefined();
    expect(await apiFails("delete-bucket", "--bucket", bucket)).toContain("(BucketNotEmpty)");

    const listed = await versionsOf(bucket, "--page-size", "2");
    expect(listed.versions).toHaveLength(6);
    expect(listed.markers.map((m) => [m[0], m[2]])).toEqual(keys.map((k) => [k, true]));
    const everything = [...listed.raw.Versions, ...listed.raw.DeleteMarkers].map((v: Listed) => ({ Key: v.Key, VersionId: v.VersionId }));
    await Bun.write(tmp.file("delete-all.json"), JSON.stringify({ Objects: everything }));
    const removed = await api("delete-objects", "--bucket", bucket, "--delete", `file://${tmp.file("delete-all.json")}`);
    expect(removed.Errors).toBeUndefined();
    expect(sorted(removed.Deleted.map((d: Listed & { DeleteMarker?: boolean }) => [d.Key, d.VersionId, d.DeleteMarker ?? false]))).toEqual(
      sorted([...listed.versions.map((v) => [v[0], v[1], false]), ...listed.markers.map((m) => [m[0], m[1], true])]),
    );
    expect((await versionsOf(bucket)).raw).toEqual({});
    await api("delete-bucket", "--bucket", bucket);
    expect(await apiFails("head-bucket", "--bucket", bucket)).toContain("(404)");
  }, 120_000);

  test("delete-objects naming versions already gone answers Deleted (idempotent, as in S3 and as s3d's DeleteObject)", async () => {
    const bucket = "cli-idempotent";
    await makeBucket(bucket);
    const body = await randomBody("idem", 10);
    const ids = [(await put(bucket, "k", body.path))!, (await put(bucket, "k", body.path))!];
    const expected = ids.map((id) => ({ Key: "k", VersionId: id }));
    await Bun.write(tmp.file("idem.json"), JSON.stringify({ Objects: expected }));
    expect(await api("delete-objects", "--bucket", bucket, "--delete", `file://${tmp.file("idem.json")}`)).toEqual({ Deleted: expected });
    // DeleteObject of a version that is gone is a 204 naming it ...
    expect(await api("delete-object", "--bucket", bucket, "--key", "k", `--version-id=${ids[0]}`)).toEqual({ VersionId: ids[0] });
    // ... and so is each such entry of DeleteObjects in S3
    const again = await api("delete-objects", "--bucket", bucket, "--delete", `file://${tmp.file("idem.json")}`);
    expect({ Deleted: again.Deleted, Errors: again.Errors }).toEqual({ Deleted: expected, Errors: undefined });
  }, 60_000);
});

const botoScript = String.raw`
import sys, json, hashlib, os
import boto3, botocore
from botocore.config import Config
endpoint, b = sys.argv[1], sys.argv[2]
cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=cfg)
sha = lambda data: hashlib.sha256(data).hexdigest()
def err(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        h = e.response["ResponseMetadata"]["HTTPHeaders"]
        return [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], h.get("x-amz-delete-marker"), h.get("x-amz-version-id")]
put = lambda body: s3.put_object(Bucket=b, Key="doc", Body=body).get("VersionId")
status = lambda s: s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": s})
bodies = {n: os.urandom(3000 + i) for i, n in enumerate("ABCDM")}
out = {"expected": {n: sha(v) for n, v in bodies.items()}}
s3.create_bucket(Bucket=b)
out["unversioned"] = [put(bodies["A"]), s3.get_bucket_versioning(Bucket=b).get("Status")]
status("Enabled"); vB = put(bodies["B"])
status("Suspended"); out["suspended_put"] = put(bodies["C"])  # replaces A as the null version
status("Enabled"); vD = put(bodies["D"])
mpu = s3.create_multipart_upload(Bucket=b, Key="mp")
part = s3.upload_part(Bucket=b, Key="mp", UploadId=mpu["UploadId"], PartNumber=1, Body=bodies["M"])
vM = s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=mpu["UploadId"],
                                  MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})["VersionId"]
deleted = s3.delete_object(Bucket=b, Key="mp")
mM = deleted["VersionId"]
out["ids"] = {"B": vB, "D": vD, "M": vM, "marker": mM, "marker_flag": deleted["DeleteMarker"]}
out["pages"] = []
for page in s3.get_paginator("list_object_versions").paginate(Bucket=b, MaxKeys=1):
    rows = [[v["Key"], v["VersionId"], v["IsLatest"], "version"] for v in page.get("Versions", [])]
    rows += [[v["Key"], v["VersionId"], v["IsLatest"], "marker"] for v in page.get("DeleteMarkers", [])]
    out["pages"].append({"rows": rows, "next": [page.get("NextKeyMarker"), page.get("NextVersionIdMarker")]})
def get(key, **version):
    r = s3.get_object(Bucket=b, Key=key, **version)
    return [sha(r["Body"].read()), r["VersionId"]]
out["got"] = {n: get("doc", VersionId=v) for n, v in [("B", vB), ("C", "null"), ("D", vD)]}
out["get_deleted"] = err(lambda: s3.get_object(Bucket=b, Key="mp"))
out["head_deleted"] = err(lambda: s3.head_object(Bucket=b, Key="mp"))
out["get_marker"] = err(lambda: s3.get_object(Bucket=b, Key="mp", VersionId=mM))
dres = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "doc", "VersionId": vB}, {"Key": "mp", "VersionId": mM}]})
out["delete_objects"] = [dres.get("Deleted"), dres.get("Errors")]
out["got"]["M"] = get("mp")  # its marker removed
out["get_gone"] = err(lambda: s3.get_object(Bucket=b, Key="doc", VersionId=vB))
out["bucket_not_empty"] = err(lambda: s3.delete_bucket(Bucket=b))
bucket = boto3.resource("s3", endpoint_url=endpoint, region_name="us-east-1", config=cfg).Bucket(b)
out["resource_all"] = [[v.object_key, v.id, v.is_latest] for v in bucket.object_versions.all()]
out["resource_deleted"] = sum(len(r.get("Deleted", [])) for r in bucket.object_versions.delete())
left = s3.list_object_versions(Bucket=b)
out["left"] = [left.get("Versions"), left.get("DeleteMarkers")]
out["delete_bucket"] = s3.delete_bucket(Bucket=b)["ResponseMetadata"]["HTTPStatusCode"]
print(json.dumps(out))
`;

describe("boto3", () => {
  for (const [what, python, name] of boto3Pythons) {
    test(`boto3 ${what}: a null version between others, MaxKeys=1 pages, markers, delete_objects, object_versions.delete()`, async () => {
      requireExecutable(python, `python3 for boto3 ${what}`);
      const r = await run([python, "-c", botoScript, suite.server.endpoint, `boto-versions-${name}`], { env: clientEnv(tmp), timeoutMs: 90_000 });
      expect(r.code, r.describe).toBe(0);
      const out = JSON.parse(r.stdout);
      const { B, D, M, marker } = out.ids;
      expect([out.unversioned, out.suspended_put, out.ids.marker_flag]).toEqual([[null, null], null, true]);
      for (const id of [B, D, M, marker]) expect(id).toMatch(versionIdPattern);
      expect(new Set([B, D, M, marker]).size).toBe(4);
      // one entry a page, newest first within a key: the null version keeps its place between B and D
      expect(out.pages).toEqual([
        { rows: [["doc", D, true, "version"]], next: ["doc", D] },
        { rows: [["doc", "null", false, "version"]], next: ["doc", "null"] },
        { rows: [["doc", B, false, "version"]], next: ["doc", B] },
        { rows: [["mp", marker, true, "marker"]], next: ["mp", marker] },
        { rows: [["mp", M, false, "version"]], next: [null, null] },
      ]);
      expect(out.get_deleted).toEqual(["NoSuchKey", 404, "true", marker]);
      expect(out.head_deleted).toEqual(["404", 404, "true", marker]);
      expect(out.get_marker).toEqual(["MethodNotAllowed", 405, "true", marker]);
      expect(out.delete_objects).toEqual([[{ Key: "doc", VersionId: B }, { Key: "mp", VersionId: marker, DeleteMarker: true, DeleteMarkerVersionId: marker }], null]);
      expect(out.got).toEqual({ B: [out.expected.B, B], C: [out.expected.C, "null"], D: [out.expected.D, D], M: [out.expected.M, M] });
      expect(out.get_gone).toEqual(["NoSuchVersion", 404, null, null]);
      expect(out.bucket_not_empty).toEqual(["BucketNotEmpty", 409, null, null]);
      expect(sorted(out.resource_all)).toEqual(sorted([["doc", D, true], ["doc", "null", false], ["mp", M, true]]));
      expect([out.resource_deleted, out.left, out.delete_bucket]).toEqual([3, [null, null], 204]);
    }, 120_000);
  }
});

describe("rclone", () => {
  const rclonePath = "/usr/bin/rclone";
  async function rclone(...args: string[]): Promise<string> {
    requireExecutable(rclonePath, "rclone (/usr/bin/rclone)");
    const remote = { TYPE: "s3", PROVIDER: "Other", ACCESS_KEY_ID: accessKey, SECRET_ACCESS_KEY: secretKey, ENDPOINT: suite.server.endpoint, FORCE_PATH_STYLE: "true", REGION: "us-east-1" };
    const env = clientEnv(tmp, { RCLONE_CONFIG: tmp.file("no-such-rclone.conf"), ...Object.fromEntries(Object.entries(remote).map(([k, v]) => [`RCLONE_CONFIG_S3D_${k}`, v])) });
    const r = await run([rclonePath, "--quiet", ...args], { env, timeoutMs: 60_000 });
    expect(r.code, r.describe).toBe(0);
    return r.stdout;
  }
  /** rclone's name for an old version: -vYYYY-MM-DD-HHMMSS-mmm (its LastModified) before the key's extension. */
  function versionName(key: string, lastModified: string): string {
    const t = new Date(lastModified).toISOString();
    const stamp = `${t.slice(0, 10)}-${t.slice(11, 13)}${t.slice(14, 16)}${t.slice(17, 19)}-${t.slice(20, 23)}`;
    return key.replace(/(\.[^./]*)?$/, (ext) => `-v${stamp}${ext}`);
  }

  test("backend versioning, copy of every version with --s3-versions, backend cleanup-hidden", async () => {
    const bucket = "rclone-versions";
    const contents = { f1: "first version\n", f2: "second, longer version\n", g: "deleted later\n" };
    for (const [name, text] of Object.entries(contents)) await Bun.write(tmp.file(`${name}.txt`), text);
    await rclone("mkdir", `s3d:${bucket}`);
    expect((await rclone("backend", "versioning", `s3d:${bucket}`)).trim()).toBe("Unversioned");
    expect((await rclone("backend", "versioning", `s3d:${bucket}`, "Enabled")).trim()).toBe("Enabled");
    expect(await api("get-bucket-versioning", "--bucket", bucket)).toEqual({ Status: "Enabled" });
    await rclone("copyto", tmp.file("f1.txt"), `s3d:${bucket}/d/f.txt`);
    await rclone("copyto", tmp.file("f2.txt"), `s3d:${bucket}/d/f.txt`);
    await rclone("copyto", tmp.file("g.txt"), `s3d:${bucket}/d/g.txt`);
    await rclone("deletefile", `s3d:${bucket}/d/g.txt`);
    expect((await rclone("lsf", "-R", "--files-only", `s3d:${bucket}`)).trim()).toBe("d/f.txt");

    const { raw } = await versionsOf(bucket);
    const version = (key: string, latest: boolean) => (raw.Versions as Listed[]).find((v) => v.Key === key && v.IsLatest === latest)!;
    const oldName = (key: string) => versionName(key.slice("d/".length), version(key, false).LastModified);
    // every version downloaded: the old ones under rclone's -v<time> names, with their own bytes
    await rclone("copy", "--s3-versions", `s3d:${bucket}`, tmp.file("rclone-out"));
    const dir = tmp.file("rclone-out/d");
    expect(Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(`${dir}/${f}`, "utf8")]))).toEqual({
      [oldName("d/f.txt")]: contents.f1, "f.txt": contents.f2, [oldName("d/g.txt")]: contents.g,
    });

    await rclone("backend", "cleanup-hidden", `s3d:${bucket}`);
    const after = await versionsOf(bucket);
    expect([after.versions, after.markers]).toEqual([[["d/f.txt", version("d/f.txt", true).VersionId, true, 23]], []]);
  }, 120_000);
});
