/**
 * The Backend contract for object versions: one suite every Backend must pass, beside contract.ts.
 * Its core is a model of S3 versioning (each key's versions, newest first) that random operations
 * run against, checked after every step through reads and ListObjectVersions.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import type { Backend, ListedVersion, ObjectAttributes, VersioningStatus } from "../../src/store/backend.ts";
import { mulberry32 } from "../sigv4/prng.ts";
import { bodyOf, randomBytesSeeded, type BackendUnderTest } from "./contract.ts";

const noAttrs: ObjectAttributes = { headers: {}, userMeta: {}, tags: {} };
const t0 = 1_700_000_000_000;

async function refusal(p: Promise<unknown>): Promise<S3Error> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(S3Error);
    return error as S3Error;
  }
  throw new Error("expected a refusal, but it succeeded");
}

async function bytesOf(b: Backend, key: string, versionId?: string): Promise<Buffer> {
  const reader = await b.openObject("bkt", key, versionId);
  return Buffer.from(await reader.bytes());
}

/** Every version of the bucket, through pages of `maxKeys`. */
async function allVersions(b: Backend, maxKeys: number): Promise<ListedVersion[]> {
  const out: ListedVersion[] = [];
  let keyMarker = "";
  let versionIdMarker = "";
  for (let pages = 0; pages < 1000; pages++) {
    const page = await b.listObjectVersions("bkt", { prefix: "", delimiter: "", keyMarker, versionIdMarker, maxKeys });
    out.push(...page.versions);
    if (!page.isTruncated) return out;
    keyMarker = page.nextKeyMarker!;
    versionIdMarker = page.nextVersionIdMarker!;
  }
  throw new Error("listing did not end");
}

/** A model version: its id (undefined: null), whether it is a delete marker, and the bytes of an object. */
interface ModelVersion {
  id: string | undefined;
  marker: boolean;
  bytes?: Uint8Array;
}

export function versionsContract(name: string, make: () => Promise<BackendUnderTest>): void {
  describe(`Backend versions contract: ${name}`, () => {
    let sut: BackendUnderTest;
    let b: Backend;
    beforeEach(async () => {
      sut = await make();
      b = sut.backend;
      await b.createBucket("bkt", t0);
    });
    afterEach(async () => {
      await sut.cleanup();
    });

    test("a bucket's versioning starts unset, is set, and never goes back", async () => {
      expect((await b.headBucket("bkt")).versioning).toBeUndefined();
      await b.setBucketVersioning("bkt", "Suspended");
      expect((await b.headBucket("bkt")).versioning).toBe("Suspended");
      await b.setBucketVersioning("bkt", "Enabled");
      expect((await b.headBucket("bkt")).versioning).toBe("Enabled");
      expect((await refusal(b.setBucketVersioning("none", "Enabled"))).code).toBe("NoSuchBucket");
    });

    test("enabled: overwrites keep every version, a delete adds a marker, and removing versions brings older ones back", async () => {
      await b.putObject("bkt", "k", bodyOf(Buffer.from("before")), noAttrs, t0);
      await b.setBucketVersioning("bkt", "Enabled");
      const large = randomBytesSeeded(200_000, 1); // a blob file, not an inline row
      const v1 = await b.putObject("bkt", "k", bodyOf(large), noAttrs, t0 + 1000);
      const v2 = await b.putObject("bkt", "k", bodyOf(Buffer.from("second")), noAttrs, t0 + 2000);
      expect(v1.versionId).toMatch(/^[A-Za-z0-9._]{32}$/);
      expect(v2.versionId).not.toBe(v1.versionId);
      expect((await bytesOf(b, "k")).toString()).toBe("second");
      expect((await bytesOf(b, "k", v1.versionId)).equals(large)).toBe(true);
      expect((await bytesOf(b, "k", "null")).toString()).toBe("before");
      expect((await b.openObject("bkt", "k", v1.versionId)).meta.versionId).toBe(v1.versionId);

      const deleted = await b.deleteObject("bkt", "k", t0 + 3000);
      expect(deleted.deleteMarker).toBe(true);
      const current = await refusal(b.openObject("bkt", "k"));
      expect([current.code, current.headers["x-amz-delete-marker"], current.headers["x-amz-version-id"]]).toEqual(["NoSuchKey", "true", deleted.versionId!]);
      const named = await refusal(b.openObject("bkt", "k", deleted.versionId));
      expect([named.code, named.headers["x-amz-delete-marker"], named.headers.allow]).toEqual(["MethodNotAllowed", "true", "DELETE"]);
      expect((await refusal(b.openObject("bkt", "k", "A".repeat(32)))).code).toBe("NoSuchVersion");

      const listed = await allVersions(b, 1000);
      expect(listed.map((v) => [v.versionId, v.isLatest, v.deleteMarker])).toEqual([
        [deleted.versionId, true, true],
        [v2.versionId, false, false],
        [v1.versionId, false, false],
        [undefined, false, false],
      ]);
      expect(listed.map((v) => v.lastModifiedMs)).toEqual([t0 + 3000, t0 + 2000, t0 + 1000, t0]);
      expect(listed.map((v) => v.noncurrentSinceMs)).toEqual([undefined, t0 + 3000, t0 + 2000, t0 + 1000]);
      expect((await refusal(b.deleteBucket("bkt"))).code).toBe("BucketNotEmpty");

      // the marker removed: the newest version is current again; then the current one removed
      expect(await b.deleteObject("bkt", "k", t0, { versionId: deleted.versionId })).toEqual({ versionId: deleted.versionId, deleteMarker: true });
      expect((await bytesOf(b, "k")).toString()).toBe("second");
      expect(await b.deleteObject("bkt", "k", t0, { versionId: v2.versionId })).toEqual({ versionId: v2.versionId, deleteMarker: false });
      expect((await bytesOf(b, "k")).equals(large)).toBe(true);
      // a version already gone: nothing happens, as S3 answers a retried delete
      expect(await b.deleteObject("bkt", "k", t0, { versionId: v2.versionId })).toEqual({ versionId: v2.versionId, deleteMarker: false });
      expect((await bytesOf(b, "k")).equals(large)).toBe(true);
      // tags of a noncurrent version and of the current one are their own
      expect(await b.setObjectTags("bkt", "k", { old: "1" }, "null")).toBeUndefined();
      expect(await b.setObjectTags("bkt", "k", { cur: "1" })).toBe(v1.versionId);
      expect((await b.openObject("bkt", "k", "null")).meta.tags).toEqual({ old: "1" });
      expect((await b.openObject("bkt", "k")).meta.tags).toEqual({ cur: "1" });
      for (const v of [v1.versionId, "null"]) await b.deleteObject("bkt", "k", t0, { versionId: v });
      expect(await allVersions(b, 1000)).toEqual([]);
      await b.deleteBucket("bkt");
    });

    test("suspended: writes and deletes replace the null version, wherever it is, and keep the others", async () => {
      await b.setBucketVersioning("bkt", "Enabled");
      const v1 = await b.putObject("bkt", "k", bodyOf(Buffer.from("one")), noAttrs, t0);
      await b.setBucketVersioning("bkt", "Suspended");
      const n1 = await b.putObject("bkt", "k", bodyOf(randomBytesSeeded(100_000, 2)), noAttrs, t0 + 1);
      expect(n1.versionId).toBeUndefined();
      const n2 = await b.putObject("bkt", "k", bodyOf(Buffer.from("null two")), noAttrs, t0 + 2);
      expect(n2.versionId).toBeUndefined();
      expect((await allVersions(b, 1000)).map((v) => [v.versionId, v.isLatest])).toEqual([
        [undefined, true],
        [v1.versionId, false],
      ]);
      expect(await b.deleteObject("bkt", "k", t0 + 3)).toEqual({ versionId: "null", deleteMarker: true });
      expect((await allVersions(b, 1000)).map((v) => [v.versionId, v.deleteMarker])).toEqual([
        [undefined, true],
        [v1.versionId, false],
      ]);
      // enabled again: a new version hides the null marker, which stays a version of its own
      await b.setBucketVersioning("bkt", "Enabled");
      const v3 = await b.putObject("bkt", "k", bodyOf(Buffer.from("three")), noAttrs, t0 + 4);
      await b.setBucketVersioning("bkt", "Suspended");
      await b.putObject("bkt", "k", bodyOf(Buffer.from("null three")), noAttrs, t0 + 5);
      expect((await allVersions(b, 1000)).map((v) => [v.versionId, v.deleteMarker, v.isLatest])).toEqual([
        [undefined, false, true],
        [v3.versionId, false, false],
        [v1.versionId, false, false],
      ]);
    });

    test("random writes, deletes and version removals agree with a model of S3 versioning, read and listed", async () => {
      const rand = mulberry32(20261207);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
      const keys = ["a", "a/b", "b", "c\u00e9", "d"];
      const model = new Map<string, ModelVersion[]>();
      let status: VersioningStatus | undefined;
      let now = t0;
      for (let step = 0; step < 160; step++) {
        now += 1000;
        const key = pick(keys);
        const versions = model.get(key) ?? [];
        const op = rand();
        if (op < 0.05) {
          status = pick(["Enabled", "Suspended"] as const);
          await b.setBucketVersioning("bkt", status);
        } else if (op < 0.5) {
          const bytes = rand() < 0.2 ? randomBytesSeeded(70_000 + step, step) : Buffer.from(`step ${step}`);
          const meta = await b.putObject("bkt", key, bodyOf(bytes), noAttrs, now);
          expect(meta.versionId === undefined).toBe(status !== "Enabled");
          const kept = status === undefined ? [] : status === "Suspended" ? versions.filter((v) => v.id !== undefined) : versions;
          model.set(key, [{ id: meta.versionId, marker: false, bytes }, ...kept]);
        } else if (op < 0.75) {
          const outcome = await b.deleteObject("bkt", key, now);
          if (status === undefined) model.set(key, []);
          else {
            const kept = status === "Suspended" ? versions.filter((v) => v.id !== undefined) : versions;
            model.set(key, [{ id: outcome.versionId === "null" ? undefined : outcome.versionId, marker: true }, ...kept]);
            expect(outcome.deleteMarker).toBe(true);
          }
        } else if (versions.length > 0) {
          const target = pick(versions);
          const outcome = await b.deleteObject("bkt", key, now, { versionId: target.id ?? "null" });
          expect(outcome).toEqual({ versionId: status === undefined ? undefined : (target.id ?? "null"), deleteMarker: target.marker });
          model.set(key, versions.filter((v) => v !== target));
        }
        if (step % 8 !== 7) continue;
        // reads: the current version of each key, and each version by its id
        for (const k of keys) {
          const vs = model.get(k) ?? [];
          if (vs.length === 0 || vs[0].marker) {
            const refused = await refusal(b.openObject("bkt", k));
            expect(refused.code).toBe("NoSuchKey");
            expect(refused.headers["x-amz-delete-marker"] ?? "none").toBe(vs.length > 0 ? "true" : "none");
          } else {
            expect((await bytesOf(b, k)).equals(Buffer.from(vs[0].bytes!))).toBe(true);
          }
          for (const v of vs) {
            if (v.marker) expect((await refusal(b.openObject("bkt", k, v.id ?? "null"))).code).toBe("MethodNotAllowed");
            else expect((await bytesOf(b, k, v.id ?? "null")).equals(Buffer.from(v.bytes!))).toBe(true);
          }
        }
        // the listing, in pages of every size from one up
        const expected = [...keys].sort().flatMap((k) => (model.get(k) ?? []).map((v, i) => [k, v.id, v.marker, i === 0]));
        const listed = await allVersions(b, 1 + Math.floor(rand() * 4));
        expect(listed.map((v) => [v.key, v.versionId, v.deleteMarker, v.isLatest])).toEqual(expected);
      }
    });

    test("Object Lock: enabled with versioning, it keeps versions from removal (legal hold, COMPLIANCE, GOVERNANCE without a bypass) until it ends", async () => {
      expect((await refusal(b.setBucketObjectLock("bkt", undefined))).code).toBe("InvalidBucketState");
      // a lock asked of a bucket without Object Lock is refused inside the write's commit
      expect((await refusal(b.putObject("bkt", "x", bodyOf(Buffer.from("x")), { ...noAttrs, lock: { legalHold: true } }, t0))).code).toBe("InvalidRequest");
      await b.createBucket("locked", t0, { objectLock: true });
      expect(await b.headBucket("locked")).toMatchObject({ versioning: "Enabled", objectLock: {} });
      expect((await refusal(b.setBucketVersioning("locked", "Suspended"))).code).toBe("InvalidBucketState");
      await b.setBucketObjectLock("locked", { mode: "GOVERNANCE", days: 1 });
      expect((await b.headBucket("locked")).objectLock).toEqual({ defaultRetention: { mode: "GOVERNANCE", days: 1 } });
      const put = (key: string, lock: ObjectAttributes["lock"]) => b.putObject("locked", key, bodyOf(Buffer.from(key)), { ...noAttrs, lock }, t0);
      const until = t0 + 10_000;
      const compliance = await put("c", { mode: "COMPLIANCE", retainUntilMs: until });
      const governance = await put("g", { mode: "GOVERNANCE", retainUntilMs: until });
      const held = await put("h", { legalHold: true });
      expect((await b.openObject("locked", "c")).meta.lock).toEqual({ mode: "COMPLIANCE", retainUntilMs: until });
      // a version that asks for no retention gets the bucket's default, counted from its making
      expect(held.lock).toEqual({ legalHold: true, mode: "GOVERNANCE", retainUntilMs: t0 + 86_400_000 });
      const remove = (key: string, versionId: string | undefined, nowMs: number, bypassGovernance = false) =>
        b.deleteObject("locked", key, nowMs, { versionId, bypassGovernance });
      // hiding a locked version behind a delete marker is allowed; removing it is not
      expect((await remove("c", undefined, t0)).deleteMarker).toBe(true);
      for (const [key, id, bypass] of [["c", compliance.versionId, true], ["g", governance.versionId, false], ["h", held.versionId, true]] as const) {
        expect((await refusal(remove(key, id, t0 + 1, bypass))).code).toBe("AccessDenied");
      }
      expect(Buffer.from(await (await b.openObject("locked", "g")).bytes()).toString()).toBe("g");
      await remove("g", governance.versionId, t0 + 1, true);
      expect((await refusal(b.openObject("locked", "g"))).code).toBe("NoSuchKey");
      // once the retention has passed the version may go; a legal hold stays until it is lifted
      await remove("c", compliance.versionId, until);
      expect((await refusal(remove("h", held.versionId, until))).code).toBe("AccessDenied");
      const at = { nowMs: t0 + 1, bypassGovernance: false };
      // a retention that holds is only extended; COMPLIANCE binds even with a bypass
      const retention = (mode: "GOVERNANCE" | "COMPLIANCE", retainUntilMs: number) => ({ retention: { mode, retainUntilMs } });
      expect((await refusal(b.setObjectLock("locked", "h", undefined, retention("GOVERNANCE", t0 + 2), at))).code).toBe("AccessDenied");
      await b.setObjectLock("locked", "h", undefined, retention("GOVERNANCE", t0 + 2), { ...at, bypassGovernance: true });
      await b.setObjectLock("locked", "h", undefined, retention("GOVERNANCE", t0 + 86_400_000), at);
      expect(await b.setObjectLock("locked", "h", undefined, { legalHold: false }, at)).toBe(held.versionId);
      expect((await b.openObject("locked", "h")).meta.lock).toEqual({ legalHold: false, mode: "GOVERNANCE", retainUntilMs: t0 + 86_400_000 });
      expect((await refusal(remove("h", held.versionId, until))).code).toBe("AccessDenied");
      await remove("h", held.versionId, until, true);
      expect(await b.setObjectLock("locked", "none", undefined, { legalHold: true }, at).catch((e: S3Error) => e.code)).toBe("NoSuchKey");
    });

    test("ListObjectVersions: prefixes, delimiters and markers", async () => {
      await b.setBucketVersioning("bkt", "Enabled");
      const ids: Record<string, string[]> = {};
      for (const key of ["a/1", "a/2", "b", "b", "b", "c"]) {
        const meta = await b.putObject("bkt", key, bodyOf(Buffer.from(key)), noAttrs, t0);
        (ids[key] ??= []).unshift(meta.versionId!);
      }
      const list = (keyMarker: string, versionIdMarker: string, delimiter = "", maxKeys = 1000) =>
        b.listObjectVersions("bkt", { prefix: "", delimiter, keyMarker, versionIdMarker, maxKeys });
      // a key marker alone skips all of that key's versions; with a version id, those up to it
      expect((await list("b", "")).versions.map((v) => v.key)).toEqual(["c"]);
      expect((await list("b", ids.b[0])).versions.map((v) => v.versionId)).toEqual([ids.b[1], ids.b[2], ids.c[0]]);
      expect((await list("b", ids.b[2])).versions.map((v) => v.versionId)).toEqual([ids.c[0]]);
      const rolled = await list("", "", "/", 2);
      expect([rolled.commonPrefixes, rolled.versions.map((v) => v.versionId), rolled.isTruncated]).toEqual([["a/"], [ids.b[0]], true]);
      expect([rolled.nextKeyMarker, rolled.nextVersionIdMarker]).toEqual(["b", ids.b[0]]);
      const atPrefix = await list("", "", "/", 1);
      expect([atPrefix.nextKeyMarker, atPrefix.nextVersionIdMarker]).toEqual(["a/", undefined]);
      const under = await b.listObjectVersions("bkt", { prefix: "a/", delimiter: "", keyMarker: "", versionIdMarker: "", maxKeys: 1000 });
      expect(under.versions.map((v) => v.key)).toEqual(["a/1", "a/2"]);
    });
  });
}
