/**
 * S3 Object Lock over HTTP, against the built binary: buckets made with Object Lock or given it
 * later (Put/GetObjectLockConfiguration and its default retention), the x-amz-object-lock-* headers
 * of PutObject, CreateMultipartUpload and CopyObject and of GET and HEAD, Put/GetObjectRetention
 * and Put/GetObjectLegalHold, and what a lock keeps deletes (DeleteObject, DeleteObjects,
 * DeleteBucket) from removing, with and without x-amz-bypass-governance-retention.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { md5Base64, s3, type SignedRequest } from "../support/client.ts";
import { startS3d, type TestServer } from "../support/server.ts";

let server: TestServer;
beforeAll(async () => void (server = await startS3d()));
afterAll(() => server.stop());

type Query = [string, string][];
type Lock = { mode?: string; until?: string; hold?: string };
const xmlns = "http://s3.amazonaws.com/doc/2006-03-01/";
const dayMs = 86_400_000;
const lockedOut = "Access Denied because object protected by object lock.";

const req = (r: SignedRequest) => s3(server.endpoint, r);
const vid = (res: Response) => res.headers.get("x-amz-version-id");
const field = (xml: string, element: string) => new RegExp(`<${element}>([^<]*)</${element}>`).exec(xml)?.[1];
/** An ISO 8601 time `ms` from now, as S3 writes one (milliseconds, Z). */
const future = (ms: number) => new Date(Date.now() + ms).toISOString();
/** A request carrying its body's Content-MD5, as every Object Lock write needs. */
const withMd5 = (r: SignedRequest): SignedRequest => ({ ...r, headers: { "content-md5": md5Base64(r.body ?? ""), ...r.headers } });
const send = (r: SignedRequest, md5 = true) => req(md5 ? withMd5(r) : r);
const bypass = { "x-amz-bypass-governance-retention": "true" };
const byId = (versionId?: string): Query => (versionId === undefined ? [] : [["versionId", versionId]]);
const at = (versionId: string | undefined, sub: string): Query => [[sub, ""], ...byId(versionId)];

/** The status and S3 error code of an answer, checked (and its Message, when given); its body. */
async function expectError(res: Response, status: number, code: string, message?: string): Promise<string> {
  const text = await res.text();
  expect({ status: res.status, code: field(text, "Code"), ...(message && { message: field(text, "Message") }) }).toEqual({ status, code, ...(message && { message }) });
  return text;
}

/** A 200 whose body is exactly `expected`. */
const expectBody = async (res: Response, expected: string) => expect([res.status, await res.text()]).toEqual([200, expected]);
/** The root element of an XML answer (its declaration dropped), with the answer's status. */
const document = async (res: Response): Promise<[number, string]> => [res.status, (await res.text()).replace(/^<\?xml[^>]*\?>\s*/, "")];

let buckets = 0;
/** A fresh bucket: made with Object Lock, versioned (Enabled or Suspended), or plain. */
async function newBucket(kind: "lock" | "Enabled" | "Suspended" | "plain" = "lock"): Promise<string> {
  const bucket = `object-lock-${++buckets}`;
  const headers: Record<string, string> = kind === "lock" ? { "x-amz-bucket-object-lock-enabled": "true" } : {};
  expect((await req({ method: "PUT", path: `/${bucket}`, headers })).status).toBe(200);
  if (kind === "Enabled" || kind === "Suspended") expect((await setVersioning(bucket, kind)).status).toBe(200);
  return bucket;
}
const setVersioning = (bucket: string, status: string) =>
  req({ method: "PUT", path: `/${bucket}`, query: [["versioning", ""]], body: `<VersioningConfiguration><Status>${status}</Status></VersioningConfiguration>` });
const versioningOf = async (bucket: string) => field(await (await req({ method: "GET", path: `/${bucket}`, query: [["versioning", ""]] })).text(), "Status");

const configXml = (rule?: string, enabled = "<ObjectLockEnabled>Enabled</ObjectLockEnabled>") =>
  `<ObjectLockConfiguration xmlns="${xmlns}">${enabled}${rule === undefined ? "" : `<Rule>${rule}</Rule>`}</ObjectLockConfiguration>`;
const retentionRule = (mode: string, period: string) => `<DefaultRetention><Mode>${mode}</Mode>${period}</DefaultRetention>`;
const putConfig = (bucket: string, body: string, md5 = true) => send({ method: "PUT", path: `/${bucket}`, query: [["object-lock", ""]], body }, md5);
const getConfig = (bucket: string) => req({ method: "GET", path: `/${bucket}`, query: [["object-lock", ""]] });

const lockHeaderNames = { mode: "x-amz-object-lock-mode", until: "x-amz-object-lock-retain-until-date", hold: "x-amz-object-lock-legal-hold" } as const;
const lockHeaders = (lock: Lock): Record<string, string> => Object.fromEntries(Object.entries(lock).map(([k, v]) => [lockHeaderNames[k as keyof Lock], v]));
/** What a GET or HEAD says of a version's lock. */
const lockOf = (res: Response): Lock =>
  Object.fromEntries(Object.entries(lockHeaderNames).flatMap(([k, name]) => (res.headers.has(name) ? [[k, res.headers.get(name)!]] : [])));

const put = (bucket: string, key: string, lock: Lock = {}, md5 = true, body = "data") => send({ method: "PUT", path: `/${bucket}/${key}`, body, headers: lockHeaders(lock) }, md5);
/** PUTs `key` with `lock`; the new version's id. */
async function putLocked(bucket: string, key: string, lock: Lock = {}, body = "data"): Promise<string> {
  const res = await put(bucket, key, lock, true, body);
  expect(res.status).toBe(200);
  return vid(res)!;
}
const read = (bucket: string, key: string, versionId?: string, method = "GET") => req({ method, path: `/${bucket}/${key}`, query: byId(versionId) });
const del = (bucket: string, key: string, versionId?: string, headers: Record<string, string> = {}) => req({ method: "DELETE", path: `/${bucket}/${key}`, query: byId(versionId), headers });

const retentionXml = (mode?: string, until?: string) =>
  `<Retention xmlns="${xmlns}">${mode === undefined ? "" : `<Mode>${mode}</Mode>`}${until === undefined ? "" : `<RetainUntilDate>${until}</RetainUntilDate>`}</Retention>`;
const putRetention = (bucket: string, key: string, body: string, o: { versionId?: string; headers?: Record<string, string>; md5?: boolean } = {}) =>
  send({ method: "PUT", path: `/${bucket}/${key}`, query: at(o.versionId, "retention"), body, headers: o.headers }, o.md5);
const getRetention = (bucket: string, key: string, versionId?: string) => req({ method: "GET", path: `/${bucket}/${key}`, query: at(versionId, "retention") });
const holdXml = (status: string) => `<LegalHold xmlns="${xmlns}"><Status>${status}</Status></LegalHold>`;
const putHold = (bucket: string, key: string, status: string, versionId?: string) => send({ method: "PUT", path: `/${bucket}/${key}`, query: at(versionId, "legal-hold"), body: holdXml(status) });
const getHold = (bucket: string, key: string, versionId?: string) => req({ method: "GET", path: `/${bucket}/${key}`, query: at(versionId, "legal-hold") });

/** DeleteObjects of `objects`; the answer's body. */
async function deleteObjects(bucket: string, objects: { key: string; versionId: string }[], headers: Record<string, string> = {}): Promise<string> {
  const body = `<Delete>${objects.map((o) => `<Object><Key>${o.key}</Key><VersionId>${o.versionId}</VersionId></Object>`).join("")}</Delete>`;
  const res = await req(withMd5({ method: "POST", path: `/${bucket}`, query: [["delete", ""]], body, headers }));
  expect(res.status).toBe(200);
  return res.text();
}

describe("Object Lock configuration", () => {
  test("a bucket made with Object Lock is versioned for good and has Object Lock without a rule; one without has none", async () => {
    const bucket = await newBucket("lock");
    expect(await versioningOf(bucket)).toBe("Enabled");
    expect(await document(await getConfig(bucket))).toEqual([200, configXml()]);
    await expectError(await setVersioning(bucket, "Suspended"), 409, "InvalidBucketState");
    expect((await setVersioning(bucket, "Enabled")).status).toBe(200);
    expect(await versioningOf(bucket)).toBe("Enabled");
    const plain = await newBucket("plain");
    expect((await req({ method: "PUT", path: `/${bucket}-off`, headers: { "x-amz-bucket-object-lock-enabled": "false" } })).status).toBe(200);
    for (const b of [plain, `${bucket}-off`]) await expectError(await getConfig(b), 404, "ObjectLockConfigurationNotFoundError");
  });

  test("PutObjectLockConfiguration needs an integrity header and versioning Enabled; it then enables Object Lock for good", async () => {
    for (const kind of ["plain", "Suspended"] as const) {
      const bucket = await newBucket(kind);
      await expectError(await putConfig(bucket, configXml()), 409, "InvalidBucketState");
      await expectError(await getConfig(bucket), 404, "ObjectLockConfigurationNotFoundError");
    }
    const bucket = await newBucket("Enabled");
    await expectError(await putConfig(bucket, configXml(), false), 400, "InvalidRequest");
    await expectError(await getConfig(bucket), 404, "ObjectLockConfigurationNotFoundError");
    expect((await putConfig(bucket, configXml())).status).toBe(200);
    expect(await document(await getConfig(bucket))).toEqual([200, configXml()]);
    await expectError(await setVersioning(bucket, "Suspended"), 409, "InvalidBucketState");
    await putLocked(bucket, "k", { hold: "ON" });
  });

  test("a default retention of Days or Years in either mode is kept; malformed ones are refused and change nothing; none removes it", async () => {
    const bucket = await newBucket("lock");
    for (const rule of [retentionRule("GOVERNANCE", "<Days>1</Days>"), retentionRule("COMPLIANCE", "<Years>2</Years>"), retentionRule("GOVERNANCE", "<Years>100</Years>")]) {
      expect((await putConfig(bucket, configXml(rule))).status).toBe(200);
      expect(await document(await getConfig(bucket))).toEqual([200, configXml(rule)]);
    }
    const kept = configXml(retentionRule("GOVERNANCE", "<Years>100</Years>"));
    const malformed = [
      configXml(retentionRule("GOVERNANCE", "<Days>1</Days><Years>1</Years>")), configXml(retentionRule("GOVERNANCE", "")),
      configXml(retentionRule("governance", "<Days>1</Days>")), configXml(retentionRule("LEGAL", "<Days>1</Days>")),
      configXml("<DefaultRetention><Days>1</Days></DefaultRetention>"), configXml(""),
      configXml(retentionRule("GOVERNANCE", "<Days>1</Days>"), ""), configXml(undefined, "<ObjectLockEnabled>Disabled</ObjectLockEnabled>"),
    ];
    for (const body of malformed) await expectError(await putConfig(bucket, body), 400, "MalformedXML");
    for (const days of ["0", "-1"]) await expectError(await putConfig(bucket, configXml(retentionRule("COMPLIANCE", `<Days>${days}</Days>`))), 400, "InvalidArgument");
    expect(await document(await getConfig(bucket))).toEqual([200, kept]);
    expect((await putConfig(bucket, configXml())).status).toBe(200);
    expect(await document(await getConfig(bucket))).toEqual([200, configXml()]);
    await putLocked(bucket, "after");
    expect(lockOf(await read(bucket, "after", undefined, "HEAD"))).toEqual({});
  });
});

describe("lock headers on writes and reads", () => {
  test("PutObject's mode, retain-until date and legal hold are given back by GET and HEAD, the date in milliseconds", async () => {
    const bucket = await newBucket();
    const cases: [Lock, Lock][] = [
      [{ mode: "GOVERNANCE", until: "2099-01-02T03:04:05Z" }, { mode: "GOVERNANCE", until: "2099-01-02T03:04:05.000Z" }],
      [{ mode: "COMPLIANCE", until: "2099-06-30T12:00:00.250Z", hold: "ON" }, { mode: "COMPLIANCE", until: "2099-06-30T12:00:00.250Z", hold: "ON" }],
      [{ hold: "OFF" }, { hold: "OFF" }],
      [{}, {}],
    ];
    for (const [i, [lock, shown]] of cases.entries()) {
      const versionId = await putLocked(bucket, `k${i}`, lock);
      for (const method of ["GET", "HEAD"]) {
        const res = await read(bucket, `k${i}`, undefined, method);
        expect([res.status, vid(res), lockOf(res)]).toEqual([200, versionId, shown]);
      }
    }
  });

  test("lock headers are refused when malformed, in the past, in a bucket without Object Lock, or without an integrity header", async () => {
    const bucket = await newBucket();
    const later = future(dayMs);
    const invalid: Lock[] = [
      { mode: "GOVERNANCE" }, { until: later }, { mode: "governance", until: later }, { mode: "WORM", until: later },
      { mode: "GOVERNANCE", until: "2099-01-01" }, { mode: "GOVERNANCE", until: "Thu, 01 Jan 2099 00:00:00 GMT" },
      { mode: "COMPLIANCE", until: future(-60_000) }, { hold: "on" }, { hold: "YES" },
    ];
    for (const lock of invalid) await expectError(await put(bucket, "k", lock), 400, "InvalidArgument");
    await expectError(await put(bucket, "k", { mode: "GOVERNANCE", until: later }, false), 400, "InvalidRequest");
    await expectError(await put(bucket, "k", { hold: "ON" }, false), 400, "InvalidRequest");
    const plain = await newBucket("Enabled");
    await expectError(await put(plain, "k", { mode: "GOVERNANCE", until: later }), 400, "InvalidRequest");
    await expectError(await put(plain, "k", { hold: "ON" }), 400, "InvalidRequest");
    for (const b of [bucket, plain]) expect((await read(b, "k", undefined, "HEAD")).status).toBe(404);
    // an x-amz-checksum-* serves as well as Content-MD5
    const body = "checked";
    const checksum = createHash("sha256").update(body).digest("base64");
    expect((await send({ method: "PUT", path: `/${bucket}/k`, body, headers: { ...lockHeaders({ hold: "ON" }), "x-amz-checksum-sha256": checksum } }, false)).status).toBe(200);
  });

  test("a default retention locks new versions from their writing; it needs an integrity header; lock headers override it", async () => {
    const bucket = await newBucket();
    expect((await putConfig(bucket, configXml(retentionRule("GOVERNANCE", "<Days>2</Days>")))).status).toBe(200);
    await expectError(await put(bucket, "k", {}, false), 400, "InvalidRequest");
    await putLocked(bucket, "k");
    const defaulted = lockOf(await read(bucket, "k", undefined, "HEAD"));
    expect(defaulted.mode).toBe("GOVERNANCE");
    expect(Math.abs(Date.parse(defaulted.until!) - (Date.now() + 2 * dayMs))).toBeLessThan(60_000);
    const explicit = { mode: "COMPLIANCE", until: "2099-01-01T00:00:00.000Z" };
    await putLocked(bucket, "k", explicit);
    expect(lockOf(await read(bucket, "k"))).toEqual(explicit);
    await putLocked(bucket, "k", { hold: "ON" });
    const held = lockOf(await read(bucket, "k", undefined, "HEAD"));
    expect([held.mode, held.hold]).toEqual(["GOVERNANCE", "ON"]);
  });
});

describe("PutObjectRetention and PutObjectLegalHold", () => {
  test("need a bucket with Object Lock and an integrity header; a version never given one has none to get", async () => {
    const plain = await newBucket("Enabled");
    await putLocked(plain, "k");
    await expectError(await putRetention(plain, "k", retentionXml("GOVERNANCE", future(dayMs))), 400, "InvalidRequest");
    await expectError(await putHold(plain, "k", "ON"), 400, "InvalidRequest");
    const bucket = await newBucket();
    await putLocked(bucket, "k");
    await expectError(await getRetention(bucket, "k"), 404, "NoSuchObjectLockConfiguration");
    await expectError(await getHold(bucket, "k"), 404, "NoSuchObjectLockConfiguration");
    await expectError(await putRetention(bucket, "k", retentionXml("GOVERNANCE", future(dayMs)), { md5: false }), 400, "InvalidRequest");
    for (const body of [retentionXml("GOVERNANCE"), retentionXml(undefined, future(dayMs)), retentionXml("FOREVER", future(dayMs))]) {
      await expectError(await putRetention(bucket, "k", body), 400, "MalformedXML");
    }
    await expectError(await putRetention(bucket, "k", retentionXml("GOVERNANCE", future(-60_000))), 400, "InvalidArgument");
    for (const status of ["on", "MAYBE", ""]) await expectError(await putHold(bucket, "k", status), 400, "MalformedXML");
    await expectError(await getRetention(bucket, "k"), 404, "NoSuchObjectLockConfiguration");
  });

  test("GOVERNANCE may be extended by anyone; shortened or removed only with the bypass", async () => {
    const bucket = await newBucket();
    const versionId = await putLocked(bucket, "k");
    const [soon, later, latest] = [future(dayMs), future(2 * dayMs), future(3 * dayMs)];
    const set = (until: string | undefined, headers?: Record<string, string>) => putRetention(bucket, "k", retentionXml(until && "GOVERNANCE", until), { headers });
    const done = await set(later);
    expect([done.status, vid(done)]).toEqual([200, versionId]);
    expect(await document(await getRetention(bucket, "k"))).toEqual([200, retentionXml("GOVERNANCE", later)]);
    expect((await set(latest)).status).toBe(200);
    await expectError(await set(soon), 403, "AccessDenied", lockedOut);
    await expectError(await set(undefined), 403, "AccessDenied");
    await expectError(await set(soon, { "x-amz-bypass-governance-retention": "false" }), 403, "AccessDenied");
    expect(lockOf(await read(bucket, "k", undefined, "HEAD"))).toEqual({ mode: "GOVERNANCE", until: latest });
    expect((await set(soon, bypass)).status).toBe(200);
    expect(lockOf(await read(bucket, "k", undefined, "HEAD"))).toEqual({ mode: "GOVERNANCE", until: soon });
    expect((await set(undefined, bypass)).status).toBe(200);
    await expectError(await getRetention(bucket, "k"), 404, "NoSuchObjectLockConfiguration");
    expect(lockOf(await read(bucket, "k", undefined, "HEAD"))).toEqual({});
  });

  test("COMPLIANCE may only be extended: shortening, removing or changing its mode is refused even with the bypass", async () => {
    const bucket = await newBucket();
    const until = future(2 * dayMs);
    await putLocked(bucket, "k", { mode: "COMPLIANCE", until });
    for (const body of [retentionXml("COMPLIANCE", future(dayMs)), retentionXml(), retentionXml("GOVERNANCE", future(3 * dayMs))]) {
      await expectError(await putRetention(bucket, "k", body, { headers: bypass }), 403, "AccessDenied", lockedOut);
    }
    expect(await document(await getRetention(bucket, "k"))).toEqual([200, retentionXml("COMPLIANCE", until)]);
    const extended = future(4 * dayMs);
    expect((await putRetention(bucket, "k", retentionXml("COMPLIANCE", extended))).status).toBe(200);
    expect(await document(await getRetention(bucket, "k"))).toEqual([200, retentionXml("COMPLIANCE", extended)]);
  });

  test("retention and legal hold act on the version named, or the current one; a delete marker named is MethodNotAllowed", async () => {
    const bucket = await newBucket();
    const v1 = await putLocked(bucket, "k", {}, "one");
    const v2 = await putLocked(bucket, "k", {}, "two");
    const until = future(dayMs);
    expect((await putRetention(bucket, "k", retentionXml("GOVERNANCE", until), { versionId: v1 })).status).toBe(200);
    expect((await putHold(bucket, "k", "ON")).status).toBe(200);
    expect(await document(await getHold(bucket, "k", v2))).toEqual([200, holdXml("ON")]);
    expect(lockOf(await read(bucket, "k", v1, "HEAD"))).toEqual({ mode: "GOVERNANCE", until });
    expect(lockOf(await read(bucket, "k", v2, "HEAD"))).toEqual({ hold: "ON" });
    await expectError(await getHold(bucket, "k", v1), 404, "NoSuchObjectLockConfiguration");
    await expectError(await getRetention(bucket, "k", v2), 404, "NoSuchObjectLockConfiguration");
    expect((await putHold(bucket, "k", "OFF", v2)).status).toBe(200);
    expect(await document(await getHold(bucket, "k"))).toEqual([200, holdXml("OFF")]);
    const marker = vid(await del(bucket, "k"))!;
    for (const res of [
      await putRetention(bucket, "k", retentionXml("GOVERNANCE", until), { versionId: marker }),
      await getRetention(bucket, "k", marker),
      await putHold(bucket, "k", "ON", marker),
      await getHold(bucket, "k", marker),
    ]) await expectError(res, 405, "MethodNotAllowed");
  });
});

describe("deletes of locked versions", () => {
  test("a version under COMPLIANCE, under GOVERNANCE without the bypass, or under a legal hold is not deleted by id", async () => {
    const bucket = await newBucket();
    const until = future(dayMs);
    const compliance = await putLocked(bucket, "c", { mode: "COMPLIANCE", until }, "c");
    const governance = await putLocked(bucket, "g", { mode: "GOVERNANCE", until }, "g");
    const held = await putLocked(bucket, "h", { hold: "ON" }, "h");
    for (const [key, versionId, headers] of [["c", compliance, bypass], ["g", governance, {}], ["h", held, bypass]] as const) {
      await expectError(await del(bucket, key, versionId, headers), 403, "AccessDenied", lockedOut);
      await expectBody(await read(bucket, key, versionId), key);
    }
    const gone = await del(bucket, "g", governance, bypass);
    expect([gone.status, vid(gone)]).toEqual([204, governance]);
    expect((await read(bucket, "g", governance, "HEAD")).status).toBe(404);
    expect((await putHold(bucket, "h", "OFF")).status).toBe(200);
    expect((await del(bucket, "h", held)).status).toBe(204);
  });

  test("a delete without versionId hides a locked version behind a marker; an overwrite makes a new version; the locked one stays", async () => {
    const bucket = await newBucket();
    const lock = { mode: "COMPLIANCE", until: future(dayMs), hold: "ON" };
    const locked = await putLocked(bucket, "k", { mode: lock.mode, until: lock.until }, "locked");
    expect((await putHold(bucket, "k", "ON")).status).toBe(200);
    const marker = await del(bucket, "k");
    expect([marker.status, marker.headers.get("x-amz-delete-marker"), (await read(bucket, "k")).status]).toEqual([204, "true", 404]);
    const newer = await putLocked(bucket, "k", {}, "newer");
    expect(newer).not.toBe(locked);
    await expectBody(await read(bucket, "k"), "newer");
    const old = await read(bucket, "k", locked);
    expect(lockOf(old)).toEqual(lock);
    await expectBody(old, "locked");
    await expectError(await del(bucket, "k", locked, bypass), 403, "AccessDenied");
    expect((await del(bucket, "k", newer)).status).toBe(204);
  });

  test("DeleteObjects deletes what it may and answers AccessDenied for each locked version", async () => {
    const bucket = await newBucket();
    const until = future(dayMs);
    const free = await putLocked(bucket, "free");
    const compliance = await putLocked(bucket, "c", { mode: "COMPLIANCE", until });
    const governance = await putLocked(bucket, "g", { mode: "GOVERNANCE", until });
    const held = await putLocked(bucket, "h", { hold: "ON" });
    const objects = [{ key: "free", versionId: free }, { key: "c", versionId: compliance }, { key: "g", versionId: governance }, { key: "h", versionId: held }];
    const refused = (key: string, versionId: string) => `<Error><Key>${key}</Key><VersionId>${versionId}</VersionId><Code>AccessDenied</Code><Message>${lockedOut}</Message></Error>`;
    const text = await deleteObjects(bucket, objects);
    expect(text).toContain(`<Deleted><Key>free</Key><VersionId>${free}</VersionId></Deleted>`);
    for (const o of objects.slice(1)) expect(text).toContain(refused(o.key, o.versionId));
    const bypassed = await deleteObjects(bucket, objects.slice(1), bypass);
    expect(bypassed).toContain(`<Deleted><Key>g</Key><VersionId>${governance}</VersionId></Deleted>`);
    for (const o of [objects[1]!, objects[3]!]) expect(bypassed).toContain(refused(o.key, o.versionId));
    expect([(await read(bucket, "c", compliance, "HEAD")).status, (await read(bucket, "g", governance, "HEAD")).status]).toEqual([200, 404]);
  });

  test("the bypass header is InvalidArgument in a bucket without Object Lock; a bucket holding locked versions is BucketNotEmpty", async () => {
    const plain = await newBucket("Enabled");
    const versionId = await putLocked(plain, "k");
    await expectError(await del(plain, "k", versionId, bypass), 400, "InvalidArgument");
    await expectBody(await read(plain, "k", versionId), "data");
    const bucket = await newBucket();
    const locked = await putLocked(bucket, "k", { mode: "COMPLIANCE", until: future(dayMs) });
    await del(bucket, "k");
    await expectError(await req({ method: "DELETE", path: `/${bucket}` }), 409, "BucketNotEmpty");
    expect((await read(bucket, "k", locked, "HEAD")).status).toBe(200);
  });

  test("once its retain-until date has passed, a COMPLIANCE version may be deleted", async () => {
    const bucket = await newBucket();
    const until = future(2_000);
    const versionId = await putLocked(bucket, "k", { mode: "COMPLIANCE", until });
    await expectError(await del(bucket, "k", versionId), 403, "AccessDenied");
    await Bun.sleep(Math.max(0, Date.parse(until) - Date.now()) + 300);
    expect(lockOf(await read(bucket, "k", versionId, "HEAD"))).toEqual({ mode: "COMPLIANCE", until });
    expect((await del(bucket, "k", versionId)).status).toBe(204);
    expect((await read(bucket, "k", versionId, "HEAD")).status).toBe(404);
  });
});

describe("multipart uploads and copies", () => {
  /** CreateMultipartUpload of `key` with `lock`'s headers; the upload's id. */
  async function createUpload(bucket: string, key: string, lock: Lock): Promise<string> {
    const created = await req({ method: "POST", path: `/${bucket}/${key}`, query: [["uploads", ""]], headers: lockHeaders(lock) });
    expect(created.status).toBe(200);
    return field(await created.text(), "UploadId")!;
  }
  const uploadPart = (bucket: string, key: string, uploadId: string, body: string, md5 = true) =>
    send({ method: "PUT", path: `/${bucket}/${key}`, query: [["partNumber", "1"], ["uploadId", uploadId]], body }, md5);

  test("CreateMultipartUpload's lock headers lock the completed object", async () => {
    const bucket = await newBucket();
    const lock = { mode: "COMPLIANCE", until: future(dayMs), hold: "ON" };
    const uploadId = await createUpload(bucket, "mp", lock);
    const etag = (await uploadPart(bucket, "mp", uploadId, "part one")).headers.get("etag");
    const body = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`;
    const done = await req({ method: "POST", path: `/${bucket}/mp`, query: [["uploadId", uploadId]], body });
    expect([done.status, etag?.startsWith('"')]).toEqual([200, true]);
    const res = await read(bucket, "mp", vid(done)!);
    expect(lockOf(res)).toEqual(lock);
    await expectBody(res, "part one");
    await expectError(await del(bucket, "mp", vid(done)!, bypass), 403, "AccessDenied");
    const plain = await newBucket("Enabled");
    await expectError(await req({ method: "POST", path: `/${plain}/mp`, query: [["uploads", ""]], headers: lockHeaders(lock) }), 400, "InvalidRequest");
  });

  // as S3 answers it for UploadPart as for PutObject (reported against S3 by go-cloud #3249,
  // aws-sdk-java #2851, alpakka #2773, redpanda connect #2923, s3cmd #1436)
  test("UploadPart of an upload with Object Lock parameters (its own or a default retention) needs an integrity header", async () => {
    const bucket = await newBucket();
    const explicit = await createUpload(bucket, "mp", { mode: "GOVERNANCE", until: future(dayMs) });
    expect((await putConfig(bucket, configXml(retentionRule("GOVERNANCE", "<Days>1</Days>")))).status).toBe(200);
    const defaulted = await createUpload(bucket, "mp", {});
    const message = "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Part requests with Object Lock parameters";
    for (const uploadId of [explicit, defaulted]) {
      await expectError(await uploadPart(bucket, "mp", uploadId, "part", false), 400, "InvalidRequest", message);
      expect((await uploadPart(bucket, "mp", uploadId, "part")).status).toBe(200);
    }
  });

  test("a copy carries the lock its own headers ask for, never its source's", async () => {
    const bucket = await newBucket();
    const source = await putLocked(bucket, "src", { mode: "COMPLIANCE", until: future(2 * dayMs), hold: "ON" }, "source");
    const copy = (key: string, lock: Lock, to = bucket) =>
      req({ method: "PUT", path: `/${to}/${key}`, headers: { "x-amz-copy-source": `/${bucket}/src?versionId=${source}`, ...lockHeaders(lock) } });
    const own = { mode: "GOVERNANCE", until: future(dayMs) };
    const withLock = await copy("with-lock", own);
    expect([withLock.status, lockOf(await read(bucket, "with-lock", undefined, "HEAD"))]).toEqual([200, own]);
    expect((await copy("without", {})).status).toBe(200);
    const bare = await read(bucket, "without");
    expect(lockOf(bare)).toEqual({});
    await expectBody(bare, "source");
    expect((await del(bucket, "with-lock", vid(withLock)!, bypass)).status).toBe(204);
    const plain = await newBucket("Enabled");
    await expectError(await copy("k", own, plain), 400, "InvalidRequest");
  });
});

test("Object Lock configurations and version locks survive a crash and restart", async () => {
  const bucket = await newBucket();
  const rule = retentionRule("COMPLIANCE", "<Days>3</Days>");
  expect((await putConfig(bucket, configXml(rule))).status).toBe(200);
  const versionId = await putLocked(bucket, "k", { hold: "ON" });
  const before = lockOf(await read(bucket, "k", undefined, "HEAD"));
  await server.crash();
  await server.restart();
  expect(await document(await getConfig(bucket))).toEqual([200, configXml(rule)]);
  expect(lockOf(await read(bucket, "k", versionId, "HEAD"))).toEqual(before);
  await expectError(await del(bucket, "k", versionId, bypass), 403, "AccessDenied");
  await expectError(await setVersioning(bucket, "Suspended"), 409, "InvalidBucketState");
});

test("CreateBucket asking for Object Lock of a bucket that exists without it is refused, even in us-east-1 where a plain create succeeds again", async () => {
  const plain = "plain-not-worm";
  expect((await req({ method: "PUT", path: `/${plain}` })).status).toBe(200);
  await expectError(await req({ method: "PUT", path: `/${plain}`, headers: { "x-amz-bucket-object-lock-enabled": "true" } }), 409, "BucketAlreadyOwnedByYou");
  expect((await req({ method: "PUT", path: `/${plain}` })).status).toBe(200);
  const worm = "already-worm";
  expect((await req({ method: "PUT", path: `/${worm}`, headers: { "x-amz-bucket-object-lock-enabled": "true" } })).status).toBe(200);
  expect((await req({ method: "PUT", path: `/${worm}`, headers: { "x-amz-bucket-object-lock-enabled": "true" } })).status).toBe(200);
});
