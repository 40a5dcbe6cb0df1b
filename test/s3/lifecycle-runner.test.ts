/**
 * The lifecycle runner against the real fs backend, with the clock moved forward: what it deletes
 * and aborts, what it leaves, and that a deletion is decided again inside its commit.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../src/log.ts";
import { dayMs, lifecycleConfigName, type LifecycleConfig, type LifecycleRule } from "../../src/s3/lifecycle.ts";
import { LifecycleRunner } from "../../src/s3/lifecycle-runner.ts";
import type { ObjectAttributes } from "../../src/store/backend.ts";
import { FsBackend } from "../../src/store/fs/backend.ts";
import { bodyOf } from "../store/contract.ts";

const t0 = Date.parse("2026-12-06T10:00:00Z");
let dir: string;
let backend: FsBackend;
let nowMs = t0;
const logged: string[] = [];
const runner = () => new LifecycleRunner(backend, createLogger("info", (line) => logged.push(line)), 60_000, () => nowMs);

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "s3d-lifecycle-"));
  backend = new FsBackend(dir);
  nowMs = t0;
  logged.length = 0;
  await backend.createBucket("bkt", t0);
});

afterEach(async () => {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

const attrs = (tags: Record<string, string> = {}): ObjectAttributes => ({ headers: {}, userMeta: {}, tags });
const put = (key: string, size = 10, tags: Record<string, string> = {}, atMs = t0, bucket = "bkt") =>
  backend.putObject(bucket, key, bodyOf(new Uint8Array(size).fill(7)), attrs(tags), atMs);
const setRules = (rules: Array<Partial<LifecycleRule>>, bucket = "bkt") => {
  const config: LifecycleConfig = {
    rules: rules.map((r, i) => ({ id: `r${i}`, enabled: true, filter: { form: "filter" }, ...r })),
    transitionMinimumSize: "all_storage_classes_128K",
  };
  return backend.setBucketConfig(bucket, lifecycleConfigName, JSON.stringify(config));
};
async function keys(bucket = "bkt"): Promise<string[]> {
  return (await backend.listObjects(bucket, { prefix: "", delimiter: "", after: "", maxKeys: 1000 })).objects.map((o) => o.key);
}

test("objects are deleted once their days have passed (at the next midnight UTC), by prefix, size and tags", async () => {
  await setRules([
    { filter: { form: "rule-prefix", prefix: "logs/" }, expiration: { days: 1 } },
    { filter: { form: "filter", sizeGreaterThanBytes: 100 }, expiration: { days: 3 } },
    { filter: { form: "and", prefix: "tmp/", tags: [["scratch", "yes"]] }, expiration: { days: 1 } },
  ]);
  await put("logs/a");
  await put("logs/b");
  await put("big", 1000);
  await put("small", 50);
  await put("tmp/tagged", 10, { scratch: "yes" });
  await put("tmp/other-value", 10, { scratch: "no" });
  await put("tmp/untagged");
  // 1 day after 10:00 on 12-06 is 10:00 on 12-07: expired from midnight on 12-08
  nowMs = Date.parse("2026-12-07T23:59:59Z");
  expect(await runner().scan()).toEqual({ expired: 0, removedVersions: 0, aborted: 0 });
  nowMs = Date.parse("2026-12-08T00:00:00Z");
  expect(await runner().scan()).toEqual({ expired: 3, removedVersions: 0, aborted: 0 });
  expect(await keys()).toEqual(["big", "small", "tmp/other-value", "tmp/untagged"]);
  nowMs = Date.parse("2026-12-10T00:00:00Z");
  expect(await runner().scan()).toEqual({ expired: 1, removedVersions: 0, aborted: 0 });
  expect(await keys()).toEqual(["small", "tmp/other-value", "tmp/untagged"]);
  expect(logged.some((l) => JSON.parse(l).msg === "lifecycle rules applied" && JSON.parse(l).expired === 1)).toBe(true);
});

test("a date expires every matching object once it has passed, new ones too; disabled rules and other buckets are left", async () => {
  await backend.createBucket("other", t0);
  await setRules([{ expiration: { dateMs: Date.parse("2026-12-07T00:00:00Z") } }, { enabled: false, filter: { form: "filter", prefix: "k" }, expiration: { days: 1 } }]);
  await put("a");
  await put("other-object", 10, {}, t0, "other");
  expect(await runner().scan()).toEqual({ expired: 0, removedVersions: 0, aborted: 0 });
  nowMs = Date.parse("2026-12-07T00:00:00Z");
  await put("made-after-the-date", 10, {}, nowMs);
  expect(await runner().scan()).toEqual({ expired: 2, removedVersions: 0, aborted: 0 });
  expect(await keys()).toEqual([]);
  expect(await keys("other")).toEqual(["other-object"]);
  await setRules([{ enabled: false, expiration: { days: 1 } }]);
  await put("kept");
  nowMs += 100 * dayMs;
  expect(await runner().scan()).toEqual({ expired: 0, removedVersions: 0, aborted: 0 });
  expect(await keys()).toEqual(["kept"]);
});

test("an object written again after the scan listed it is not deleted: the commit decides again", async () => {
  await setRules([{ expiration: { days: 1 } }]);
  await put("k");
  nowMs = t0 + 3 * dayMs;
  // between the listing and the deletion, a client writes the key again
  const listObjects = backend.listObjects.bind(backend);
  backend.listObjects = async (bucket, query) => {
    const page = await listObjects(bucket, query);
    await put("k", 20, {}, nowMs);
    return page;
  };
  expect(await runner().scan()).toEqual({ expired: 0, removedVersions: 0, aborted: 0 });
  const reader = await backend.openObject("bkt", "k");
  reader.close();
  expect([reader.meta.sizeBytes, reader.meta.lastModifiedMs]).toEqual([20, nowMs]);
});

test("uploads are aborted once DaysAfterInitiation have passed, by prefix; completed objects stay", async () => {
  await setRules([{ filter: { form: "filter", prefix: "tmp/" }, abortIncompleteMultipartUploadDays: 2 }]);
  const old = await backend.createMultipartUpload("bkt", "tmp/old", attrs(), t0);
  await backend.uploadPart("bkt", "tmp/old", old, 1, bodyOf(new Uint8Array(100)), t0);
  const elsewhere = await backend.createMultipartUpload("bkt", "keep/old", attrs(), t0);
  const young = await backend.createMultipartUpload("bkt", "tmp/young", attrs(), t0 + 2 * dayMs);
  nowMs = Date.parse("2026-12-09T00:00:00Z"); // 2 days after 12-06 10:00, rounded up
  expect(await runner().scan()).toEqual({ expired: 0, removedVersions: 0, aborted: 1 });
  const left = await backend.listMultipartUploads("bkt", { prefix: "", delimiter: "", keyMarker: "", uploadIdMarker: "", maxUploads: 1000 });
  expect(left.uploads.map((u) => u.uploadId).sort()).toEqual([elsewhere, young].sort());
  await expect(backend.listParts("bkt", "tmp/old", old, 0, 1000)).rejects.toMatchObject({ code: "NoSuchUpload" });
});

test("many objects over several pages are all expired, and a stopped runner stops", async () => {
  await setRules([{ expiration: { days: 1 } }]);
  await Promise.all(Array.from({ length: 2500 }, (_, i) => put(`k${String(i).padStart(5, "0")}`, 1)));
  nowMs = t0 + 5 * dayMs;
  expect(await runner().scan()).toEqual({ expired: 2500, removedVersions: 0, aborted: 0 });
  expect(await keys()).toEqual([]);
  await put("again", 1);
  const stopped = runner();
  await stopped.stop();
  expect(await stopped.scan()).toEqual({ expired: 0, removedVersions: 0, aborted: 0 });
  expect(await keys()).toEqual(["again"]);
});

test("a started runner scans at once and again after each interval; a failed scan is logged and the next one still comes; stop ends it", async () => {
  await setRules([{ expiration: { days: 1 } }]);
  nowMs = t0 + 5 * dayMs;
  await put("first");
  const listBuckets = backend.listBuckets.bind(backend);
  let calls = 0;
  backend.listBuckets = async () => {
    calls++;
    if (calls === 2) throw new Error("the metadata could not be read");
    return listBuckets();
  };
  const scanning = new LifecycleRunner(backend, createLogger("info", (line) => logged.push(line)), 20, () => nowMs);
  scanning.start();
  expect(() => scanning.start()).toThrow();
  const until = async (done: () => boolean) => {
    for (let i = 0; i < 200 && !done(); i++) await Bun.sleep(10);
  };
  await until(() => calls >= 3);
  await put("second");
  await until(() => calls >= 5);
  await scanning.stop();
  const after = calls;
  await Bun.sleep(60);
  expect(calls).toBe(after);
  expect(await keys()).toEqual([]);
  const failures = logged.map((l) => JSON.parse(l)).filter((l) => l.msg === "lifecycle scan failed");
  expect(failures).toHaveLength(1);
  expect(failures[0].error).toContain("the metadata could not be read");
});

test("a bucket whose scan fails is logged, and the buckets after it are still scanned", async () => {
  await backend.createBucket("later", t0);
  await setRules([{ expiration: { days: 1 } }]);
  await setRules([{ expiration: { days: 1 } }], "later");
  await put("a");
  await put("b", 10, {}, t0, "later");
  nowMs = t0 + 5 * dayMs;
  const listObjects = backend.listObjects.bind(backend);
  backend.listObjects = async (bucket, query) => {
    if (bucket === "bkt") throw new Error("disk I/O error");
    return listObjects(bucket, query);
  };
  expect(await runner().scan()).toEqual({ expired: 1, removedVersions: 0, aborted: 0 });
  expect(await keys("later")).toEqual([]);
  expect(logged.some((l) => JSON.parse(l).msg === "lifecycle rules could not be applied" && JSON.parse(l).bucket === "bkt")).toBe(true);
});

test("a scan lets the server serve between pieces of its work: the event loop turns while it reads 3,000 objects' tags", async () => {
  await setRules([{ filter: { form: "filter", tag: ["expire", "yes"] }, expiration: { days: 1 } }]);
  await Promise.all(Array.from({ length: 3000 }, (_, i) => put(`k${i}`, 1, { expire: "no" })));
  nowMs = t0 + 5 * dayMs;
  let turns = 0;
  let ticking = true;
  const tick = () => {
    turns++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const scanned = await runner().scan();
  ticking = false;
  expect(scanned).toEqual({ expired: 0, removedVersions: 0, aborted: 0 });
  // (a turn at least every 100 objects: without the pauses the reads, synchronous in the fs backend, ran in none)
  expect(turns).toBeGreaterThanOrEqual(30);
});

/** Every version of the bucket: [key, version id or "null", delete marker] */
async function versions(): Promise<Array<[string, string, boolean]>> {
  const page = await backend.listObjectVersions("bkt", { prefix: "", delimiter: "", keyMarker: "", versionIdMarker: "", maxKeys: 1000 });
  return page.versions.map((v) => [v.key, v.versionId ?? "null", v.deleteMarker]);
}

test("versioned: Expiration adds a delete marker; NoncurrentVersionExpiration removes versions days after they stopped being current, beyond the newest N", async () => {
  await backend.setBucketVersioning("bkt", "Enabled");
  await setRules([
    { filter: { form: "filter", prefix: "docs/" }, expiration: { days: 10 }, noncurrentVersionExpiration: { noncurrentDays: 2, newerNoncurrentVersions: 1 } },
    { filter: { form: "filter", prefix: "tagged/", tag: ["keep", "no"] }, noncurrentVersionExpiration: { noncurrentDays: 1 } },
  ]);
  // three versions of docs/a: v1 noncurrent from 12-06 10:00, v2 from 12-07 10:00, v3 current
  const v1 = await put("docs/a", 10, {}, t0);
  const v2 = await put("docs/a", 20, {}, t0 + dayMs);
  const v3 = await put("docs/a", 30, {}, t0 + dayMs);
  const t1 = await put("tagged/x", 10, { keep: "no" }, t0);
  const t2 = await put("tagged/y", 10, { keep: "yes" }, t0);
  await put("tagged/x", 10, {}, t0);
  await put("tagged/y", 10, {}, t0);
  const id = (m: { versionId?: string }) => m.versionId!;
  // 2 days after 12-07 10:00 ends at midnight 12-10; v2 is kept as the one newer noncurrent version
  nowMs = Date.parse("2026-12-09T23:59:59Z");
  expect(await runner().scan()).toEqual({ expired: 0, removedVersions: 1, aborted: 0 });
  expect(await versions()).toEqual([
    ["docs/a", id(v3), false],
    ["docs/a", id(v2), false],
    ["docs/a", id(v1), false],
    ...(await versions()).filter(([key]) => key.startsWith("tagged/")),
  ]);
  // (the tagged version expired after one day, its tag read from the version itself)
  expect((await versions()).filter(([key]) => key.startsWith("tagged/")).map(([key, v]) => [key, v])).toEqual([
    ["tagged/x", expect.any(String)],
    ["tagged/y", expect.any(String)],
    ["tagged/y", id(t2)],
  ]);
  expect((await versions()).some(([, v]) => v === id(t1))).toBe(false);
  nowMs = Date.parse("2026-12-10T00:00:00Z");
  expect(await runner().scan()).toEqual({ expired: 0, removedVersions: 1, aborted: 0 });
  expect((await versions()).filter(([key]) => key === "docs/a").map(([, v]) => v)).toEqual([id(v3), id(v2)]);
  // the current version expires 10 days after it was written: a delete marker hides it (nothing is
  // lost), and v2, no longer the newest noncurrent version, goes in the same pass
  nowMs = Date.parse("2026-12-18T00:00:00Z");
  expect(await runner().scan()).toEqual({ expired: 1, removedVersions: 1, aborted: 0 });
  const docs = (await versions()).filter(([key]) => key === "docs/a");
  expect(docs.map(([, v, marker]) => [v === id(v3) ? v : "marker", marker])).toEqual([
    ["marker", true],
    [id(v3), false],
  ]);
});

test("versioned: an expired object delete marker (its key's only version left) is removed; one in front of versions is kept", async () => {
  await backend.setBucketVersioning("bkt", "Enabled");
  await setRules([{ filter: { form: "filter" }, expiration: { expiredObjectDeleteMarker: true }, noncurrentVersionExpiration: { noncurrentDays: 1 } }]);
  await put("lone", 10, {}, t0);
  await backend.deleteObject("bkt", "lone", t0);
  await put("kept", 10, {}, t0);
  await backend.deleteObject("bkt", "kept", t0);
  // the first pass removes the noncurrent versions once a day has passed; the markers are then alone
  nowMs = Date.parse("2026-12-06T12:00:00Z");
  expect(await runner().scan()).toEqual({ expired: 0, removedVersions: 0, aborted: 0 });
  nowMs = Date.parse("2026-12-08T00:00:00Z");
  expect(await runner().scan()).toEqual({ expired: 0, removedVersions: 2, aborted: 0 });
  expect((await versions()).map(([key, , marker]) => [key, marker])).toEqual([
    ["kept", true],
    ["lone", true],
  ]);
  expect(await runner().scan()).toEqual({ expired: 0, removedVersions: 2, aborted: 0 });
  expect(await versions()).toEqual([]);
});

test("versioned with Object Lock: a locked noncurrent version outlives its rule, quietly, until its retention ends", async () => {
  await backend.createBucket("locked", t0, { objectLock: true });
  await setRules([{ filter: { form: "filter" }, noncurrentVersionExpiration: { noncurrentDays: 1 } }], "locked");
  const until = Date.parse("2026-12-20T00:00:00Z");
  const old = await backend.putObject("locked", "k", bodyOf(new Uint8Array(10)), { ...attrs(), lock: { mode: "COMPLIANCE", retainUntilMs: until } }, t0);
  await backend.putObject("locked", "k", bodyOf(new Uint8Array(20)), attrs(), t0);
  const listed = async () => (await backend.listObjectVersions("locked", { prefix: "", delimiter: "", keyMarker: "", versionIdMarker: "", maxKeys: 10 })).versions.map((v) => v.versionId);
  nowMs = Date.parse("2026-12-10T00:00:00Z");
  // (skipped by the listing's lock: no write, not even a refused one, is committed for it)
  const writes = () => backend.metrics().find((m) => m.name === "s3d_metadata_writes_total")!.render();
  const before = writes();
  expect((await runner().scan()).removedVersions).toBe(0);
  expect(writes()).toBe(before);
  expect(await listed()).toContain(old.versionId);
  expect(logged.some((l) => JSON.parse(l).level === "warn")).toBe(false);
  nowMs = until;
  expect((await runner().scan()).removedVersions).toBe(1);
  expect(await listed()).not.toContain(old.versionId);
});

test("versioned: a version that became current after the scan listed it is not removed (decided again inside the commit)", async () => {
  await backend.setBucketVersioning("bkt", "Enabled");
  await setRules([{ filter: { form: "filter" }, noncurrentVersionExpiration: { noncurrentDays: 1 } }]);
  const v1 = await put("k", 10, {}, t0);
  const v2 = await put("k", 20, {}, t0);
  // right after the scan lists the versions, a client removes v2: v1 is current again
  const list = backend.listObjectVersions.bind(backend);
  backend.listObjectVersions = async (bucket, query) => {
    const page = await list(bucket, query);
    await backend.deleteObject("bkt", "k", t0, { versionId: v2.versionId });
    return page;
  };
  nowMs = t0 + 10 * dayMs;
  expect((await runner().scan()).removedVersions).toBe(0);
  expect((await backend.openObject("bkt", "k")).meta.versionId).toBe(v1.versionId);
});

test("versioned: a key with more due versions than a listing page holds loses them all in one pass", async () => {
  await backend.setBucketVersioning("bkt", "Enabled");
  await setRules([{ filter: { form: "filter" }, noncurrentVersionExpiration: { noncurrentDays: 1 } }]);
  for (let i = 0; i < 1005; i += 100) await Promise.all(Array.from({ length: Math.min(100, 1005 - i) }, () => put("k", 4, {}, t0)));
  nowMs = t0 + 10 * dayMs;
  expect((await runner().scan()).removedVersions).toBe(1004);
  expect((await backend.listObjectVersions("bkt", { prefix: "", delimiter: "", keyMarker: "", versionIdMarker: "", maxKeys: 10 })).versions.length).toBe(1);
}, 60_000);
