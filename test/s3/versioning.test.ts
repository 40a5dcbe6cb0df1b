/**
 * Bucket versioning over HTTP, against the built binary: Put/GetBucketVersioning, the version
 * headers of writes and reads, delete markers, ListObjectVersions paging, DeleteObjects by version,
 * copies and tagging by version, the null version of buckets suspended or versioned late, and
 * versions (file-backed ones too) surviving a restart.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { md5Base64, s3, type SignedRequest } from "../support/client.ts";
import { startS3d, type TestServer } from "../support/server.ts";

let server: TestServer;
beforeAll(async () => void (server = await startS3d()));
afterAll(() => server.stop());

type Status = "Enabled" | "Suspended";
type Query = [string, string][];
const xmlns = "http://s3.amazonaws.com/doc/2006-03-01/";
/** S3's form of a version id (opaque to clients, but never "null" and safe on a command line). */
const idPattern = /^[A-Za-z0-9._]{32}$/;
/** Well-formed, but made by no one. */
const missingId = "A".repeat(32);

const req = (r: SignedRequest) => s3(server.endpoint, r);
const vid = (res: Response) => res.headers.get("x-amz-version-id");
const marker = (res: Response) => res.headers.get("x-amz-delete-marker");

const configXml = (status: string, extra = "") => `<VersioningConfiguration xmlns="${xmlns}">${status === "" ? "" : `<Status>${status}</Status>`}${extra}</VersioningConfiguration>`;
const setVersioning = (bucket: string, body: string) => req({ method: "PUT", path: `/${bucket}`, query: [["versioning", ""]], body });
const setStatus = async (bucket: string, status: Status) => expect((await setVersioning(bucket, configXml(status))).status).toBe(200);
/** GetBucketVersioning's VersioningConfiguration element's content. */
async function versioningOf(bucket: string): Promise<string> {
  const res = await req({ method: "GET", path: `/${bucket}`, query: [["versioning", ""]] });
  const xml = await res.text();
  expect([res.status, xml.includes(`<VersioningConfiguration xmlns="${xmlns}"`)]).toEqual([200, true]);
  return inner(xml, "VersioningConfiguration");
}

let buckets = 0;
/** A fresh bucket, its versioning set to `status` (none: never versioned). */
async function newBucket(status?: Status): Promise<string> {
  const bucket = `versioning-${++buckets}`;
  expect((await req({ method: "PUT", path: `/${bucket}` })).status).toBe(200);
  if (status) await setStatus(bucket, status);
  return bucket;
}

const at = (versionId?: string, extra: Query = []): Query => (versionId === undefined ? extra : [["versionId", versionId], ...extra]);
const get = (bucket: string, key: string, versionId?: string, method = "GET") => req({ method, path: `/${bucket}/${key}`, query: at(versionId) });
const del = (bucket: string, key: string, versionId?: string) => req({ method: "DELETE", path: `/${bucket}/${key}`, query: at(versionId) });

/** PUTs `body` and returns the version id it answered with (null: none). */
async function putVersion(bucket: string, key: string, body: string | Uint8Array): Promise<string | null> {
  const res = await req({ method: "PUT", path: `/${bucket}/${key}`, body });
  expect(res.status).toBe(200);
  return vid(res);
}

/** A multipart upload of `parts`, completed; the CompleteMultipartUpload answer. */
async function multipartUpload(bucket: string, key: string, parts: Uint8Array[]): Promise<Response> {
  const uploadId = field(await (await req({ method: "POST", path: `/${bucket}/${key}`, query: [["uploads", ""]] })).text(), "UploadId")!;
  let body = "";
  for (const [i, part] of parts.entries()) {
    const res = await req({ method: "PUT", path: `/${bucket}/${key}`, query: [["partNumber", String(i + 1)], ["uploadId", uploadId]], body: part });
    expect(res.status).toBe(200);
    body += `<Part><PartNumber>${i + 1}</PartNumber><ETag>${res.headers.get("etag")}</ETag></Part>`;
  }
  const done = await req({ method: "POST", path: `/${bucket}/${key}`, query: [["uploadId", uploadId]], body: `<CompleteMultipartUpload>${body}</CompleteMultipartUpload>` });
  expect([done.status, (await done.clone().text()).includes("<CompleteMultipartUploadResult")]).toEqual([200, true]);
  return done;
}

/** The status and S3 error code of an answer, checked; its body. */
async function expectError(res: Response, status: number, code: string): Promise<string> {
  const text = await res.text();
  expect({ status: res.status, code: field(text, "Code") }).toEqual({ status, code });
  return text;
}

/** A 200 whose body is exactly `expected`. */
async function expectBody(res: Response, expected: Uint8Array | string) {
  const got = Buffer.from(await res.arrayBuffer());
  const want = Buffer.from(expected);
  expect([res.status, got.length, got.equals(want)]).toEqual([200, want.length, true]);
}

/** The names of an XML fragment's top-level elements, in order. */
function childNames(xml: string): string[] {
  const names: string[] = [];
  let depth = 0;
  for (const [, close, name, selfClosing] of xml.matchAll(/<(\/?)([A-Za-z]+)[^>]*?(\/?)>/g)) {
    if (close) depth--;
    else if (depth++ === 0) names.push(name!);
    if (selfClosing) depth--;
  }
  return names;
}
const inner = (xml: string, element: string) => new RegExp(`<${element}[^>]*>([\\s\\S]*)</${element}>`).exec(xml)?.[1] ?? "";
const field = (xml: string, element: string) => new RegExp(`<${element}>([^<]*)</${element}>`).exec(xml)?.[1];

type Listed = { kind: string; key: string; versionId: string; isLatest: boolean; children: string[] };

/** ListObjectVersions, its entries and common prefixes parsed in order. */
async function listVersions(bucket: string, query: Query = []) {
  const res = await req({ method: "GET", path: `/${bucket}`, query: [["versions", ""], ...query] });
  const xml = await res.text();
  expect(res.status).toBe(200);
  const entries: Listed[] = [...xml.matchAll(/<(Version|DeleteMarker)>([\s\S]*?)<\/\1>/g)].map(([, kind, body]) =>
    ({ kind: kind!, key: field(body!, "Key")!, versionId: field(body!, "VersionId")!, isLatest: field(body!, "IsLatest") === "true", children: childNames(body!) }));
  const prefixes = [...xml.matchAll(/<CommonPrefixes><Prefix>([^<]*)<\/Prefix><\/CommonPrefixes>/g)].map(([, p]) => p!);
  return { xml, entries, prefixes, isTruncated: field(xml, "IsTruncated") === "true", nextKeyMarker: field(xml, "NextKeyMarker"), nextVersionIdMarker: field(xml, "NextVersionIdMarker") };
}
const summary = (entries: Listed[]) => entries.map((e) => `${e.kind} ${e.key} ${e.versionId}${e.isLatest ? " latest" : ""}`);

/** DeleteObjects of `objects`; the answer's body. */
async function deleteObjects(bucket: string, objects: { key: string; versionId?: string }[]): Promise<string> {
  const body = `<Delete>${objects.map((o) => `<Object><Key>${o.key}</Key>${o.versionId !== undefined ? `<VersionId>${o.versionId}</VersionId>` : ""}</Object>`).join("")}</Delete>`;
  const res = await req({ method: "POST", path: `/${bucket}`, query: [["delete", ""]], body, headers: { "content-md5": md5Base64(body) } });
  expect(res.status).toBe(200);
  return res.text();
}

describe("PutBucketVersioning and GetBucketVersioning", () => {
  test("a bucket never versioned has no Status; it may go straight to Suspended, then Enabled and back", async () => {
    const bucket = await newBucket();
    expect(await versioningOf(bucket)).toBe("");
    for (const status of ["Suspended", "Enabled", "Suspended"] as const) {
      await setStatus(bucket, status);
      expect(await versioningOf(bucket)).toBe(`<Status>${status}</Status>`);
    }
  });

  test("a bad Status is MalformedXML, none is IllegalVersioningConfigurationException; MfaDelete Enabled is NotImplemented; none changes the status", async () => {
    const bucket = await newBucket("Enabled");
    for (const status of ["enabled", "Disabled", " "]) await expectError(await setVersioning(bucket, configXml(status)), 400, "MalformedXML");
    await expectError(await setVersioning(bucket, configXml("")), 400, "IllegalVersioningConfigurationException");
    await expectError(await setVersioning(bucket, configXml("Suspended", "<MfaDelete>Enabled</MfaDelete>")), 501, "NotImplemented");
    expect(await versioningOf(bucket)).toBe("<Status>Enabled</Status>");
    expect((await setVersioning(bucket, configXml("Suspended", "<MfaDelete>Disabled</MfaDelete>"))).status).toBe(200);
    expect(await versioningOf(bucket)).toBe("<Status>Suspended</Status>");
    await expectError(await setVersioning("versioning-no-such-bucket", configXml("Enabled")), 404, "NoSuchBucket");
  });
});

describe("version ids of writes and reads", () => {
  test("an Enabled bucket's PUTs get new ids, concurrent ones too; GET and HEAD name the version read", async () => {
    const bucket = await newBucket("Enabled");
    const v1 = await putVersion(bucket, "k", "one");
    const v2 = await putVersion(bucket, "k", "two");
    expect([idPattern.test(v1!), idPattern.test(v2!), v1 === v2]).toEqual([true, true, false]);
    for (const method of ["GET", "HEAD"]) expect([vid(await get(bucket, "k", undefined, method)), vid(await get(bucket, "k", v1!, method))]).toEqual([v2, v1]);
    await expectBody(await get(bucket, "k", v1!), "one");
    await expectBody(await get(bucket, "k"), "two");
    const racers = await Promise.all(Array.from({ length: 8 }, (_, i) => putVersion(bucket, "race", `racer ${i}`)));
    expect(new Set(racers).size).toBe(8);
    const listed = (await listVersions(bucket, [["prefix", "race"]])).entries;
    expect<unknown[]>([listed.length, listed.filter((e) => e.isLatest).length, new Set(listed.map((e) => e.versionId))]).toEqual([8, 1, new Set(racers)]);
    for (const [i, id] of racers.entries()) await expectBody(await get(bucket, "race", id!), `racer ${i}`);
  });

  test("a Suspended or never-versioned bucket's writes have no id; reads say null only where versioning was set", async () => {
    const suspended = await newBucket("Suspended");
    const plain = await newBucket();
    expect([await putVersion(suspended, "k", "s"), await putVersion(plain, "k", "p")]).toEqual([null, null]);
    for (const method of ["GET", "HEAD"]) {
      expect([vid(await get(suspended, "k", undefined, method)), vid(await get(suspended, "k", "null", method))]).toEqual(["null", "null"]);
      expect([vid(await get(plain, "k", undefined, method)), vid(await get(plain, "k", "null", method))]).toEqual([null, null]);
    }
    await expectBody(await get(plain, "k", "null"), "p");
    for (const bucket of [suspended, plain]) {
      expect(vid(await multipartUpload(bucket, "mp", [Buffer.from("parts")]))).toBeNull();
      const copied = await req({ method: "PUT", path: `/${bucket}/copy`, headers: { "x-amz-copy-source": `/${bucket}/k` } });
      expect([copied.status, vid(copied)]).toEqual([200, null]);
    }
  });

  test("the null version: written before versioning, kept as noncurrent when enabled, replaced by a Suspended bucket's PUTs", async () => {
    const bucket = await newBucket();
    await putVersion(bucket, "k", "before");
    await setStatus(bucket, "Enabled");
    const v1 = await putVersion(bucket, "k", "after");
    expect(summary((await listVersions(bucket)).entries)).toEqual([`Version k ${v1} latest`, "Version k null"]);
    const res = await get(bucket, "k", "null");
    expect(vid(res)).toBe("null");
    await expectBody(res, "before");
    await setStatus(bucket, "Suspended");
    // the first replaces a noncurrent null version, the second the current one
    for (const body of ["first null", "second null"]) {
      await putVersion(bucket, "k", body);
      expect(summary((await listVersions(bucket)).entries)).toEqual(["Version k null latest", `Version k ${v1}`]);
    }
    await expectBody(await get(bucket, "k", "null"), "second null");
    await expectBody(await get(bucket, "k", v1!), "after");
    // enabled again: the null version becomes noncurrent, not replaced
    await setStatus(bucket, "Enabled");
    const v3 = await putVersion(bucket, "k", "third");
    expect(summary((await listVersions(bucket)).entries)).toEqual([`Version k ${v3} latest`, "Version k null", `Version k ${v1}`]);
  });

  test("large versions and a multipart upload: each version reads back its exact bytes", async () => {
    const bucket = await newBucket("Enabled");
    const bodies = [randomBytes(1000), randomBytes(200 * 1024), randomBytes(300 * 1024 + 7)];
    const ids = [];
    for (const body of bodies) ids.push(await putVersion(bucket, "big", body));
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(70 * 1024)];
    const multipartId = vid(await multipartUpload(bucket, "big", parts));
    expect(multipartId).toMatch(idPattern);
    expect(new Set([...ids, multipartId]).size).toBe(4);
    for (const [i, body] of bodies.entries()) {
      await expectBody(await get(bucket, "big", ids[i]!), body);
      expect((await get(bucket, "big", ids[i]!, "HEAD")).headers.get("content-length")).toBe(String(body.length));
    }
    const ranged = await req({ method: "GET", path: `/${bucket}/big`, query: at(ids[1]!), headers: { range: "bytes=70000-70009" } });
    expect([ranged.status, vid(ranged), Buffer.from(await ranged.arrayBuffer()).equals(bodies[1]!.subarray(70000, 70010))]).toEqual([206, ids[1], true]);
    await expectBody(await get(bucket, "big"), Buffer.concat(parts));
    expect(vid(await get(bucket, "big", undefined, "HEAD"))).toBe(multipartId);
  });
});

describe("CompleteMultipartUpload sent again", () => {
  test("answers 200 with the same ETag and version, also once a newer version stands; other parts are NoSuchUpload", async () => {
    const bucket = await newBucket("Enabled");
    const uploadId = field(await (await req({ method: "POST", path: `/${bucket}/mp`, query: [["uploads", ""]] })).text(), "UploadId")!;
    const part = await req({ method: "PUT", path: `/${bucket}/mp`, query: [["partNumber", "1"], ["uploadId", uploadId]], body: "the parts" });
    const completion = (etag: string) => `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`;
    const complete = (etag = part.headers.get("etag")!) => req({ method: "POST", path: `/${bucket}/mp`, query: [["uploadId", uploadId]], body: completion(etag) });
    const answer = async (res: Response) => ({ status: res.status, version: vid(res), etag: field(await res.text(), "ETag") });
    const first = await answer(await complete());
    expect([first.status, idPattern.test(first.version ?? "")]).toEqual([200, true]);
    expect(await answer(await complete())).toEqual(first);
    // what it says of the object must hold of the one the first made
    const claiming = await req({ method: "POST", path: `/${bucket}/mp`, query: [["uploadId", uploadId]], body: completion(part.headers.get("etag")!), headers: { "x-amz-mp-object-size": "5" } });
    await expectError(claiming, 400, "InvalidRequest");
    await putVersion(bucket, "mp", "newer");
    expect(await answer(await complete())).toEqual(first);
    await expectBody(await get(bucket, "mp", first.version!), Buffer.from("the parts"));
    await expectError(await complete(`"${"0".repeat(32)}"`), 404, "NoSuchUpload");
    // the version it made removed for good: the upload is told gone
    expect((await del(bucket, "mp", first.version!)).status).toBe(204);
    await expectError(await complete(), 404, "NoSuchUpload");
  });
});

describe("delete markers", () => {
  test("a DELETE without versionId adds a marker (even for a key never written; markers stack); reads are NoSuchKey, or 405 naming the marker", async () => {
    const bucket = await newBucket("Enabled");
    const v1 = await putVersion(bucket, "k", "one");
    const first = await del(bucket, "k");
    const m1 = vid(first)!;
    expect([first.status, marker(first), idPattern.test(m1)]).toEqual([204, "true", true]);
    for (const method of ["GET", "HEAD"]) {
      const res = await get(bucket, "k", undefined, method);
      expect([res.status, marker(res), vid(res)]).toEqual([404, "true", m1]);
      if (method === "GET") expect(field(await res.text(), "Code")).toBe("NoSuchKey");
    }
    for (const method of ["GET", "HEAD"]) {
      const res = await get(bucket, "k", m1, method);
      expect([res.status, marker(res), vid(res), res.headers.get("allow")]).toEqual([405, "true", m1, "DELETE"]);
      expect(Math.abs(Date.parse(res.headers.get("last-modified") ?? "") - Date.now())).toBeLessThan(60_000);
      if (method === "GET") {
        const body = await res.text();
        expect([field(body, "Code"), field(body, "Method"), field(body, "ResourceType")]).toEqual(["MethodNotAllowed", "GET", "DeleteMarker"]);
      }
    }
    // the operations on a version's subresources name their own method, as S3's answer does
    const tagging = `<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>`;
    for (const method of ["PUT", "DELETE"]) {
      const res = await req({ method, path: `/${bucket}/k`, query: at(m1, [["tagging", ""]]), body: method === "PUT" ? tagging : undefined });
      const body = await res.text();
      expect([res.status, field(body, "Code"), field(body, "Method"), field(body, "ResourceType")]).toEqual([405, "MethodNotAllowed", method, "DeleteMarker"]);
    }
    const second = await del(bucket, "k");
    const never = await del(bucket, "never-written");
    for (const res of [second, never]) expect([res.status, marker(res), idPattern.test(vid(res) ?? "")]).toEqual([204, "true", true]);
    expect(summary((await listVersions(bucket)).entries)).toEqual([
      `DeleteMarker k ${vid(second)} latest`, `DeleteMarker k ${m1}`, `Version k ${v1}`, `DeleteMarker never-written ${vid(never)} latest`,
    ]);
  });

  test("a DELETE by versionId removes that version or marker for good; a missing one is NoSuchVersion to GET and echoed by DELETE", async () => {
    const bucket = await newBucket("Enabled");
    const v1 = await putVersion(bucket, "k", "one");
    const v2 = await putVersion(bucket, "k", "two");
    const m = vid(await del(bucket, "k"))!;
    const markerGone = await del(bucket, "k", m);
    expect([markerGone.status, marker(markerGone), vid(markerGone)]).toEqual([204, "true", m]);
    await expectBody(await get(bucket, "k"), "two");
    const versionGone = await del(bucket, "k", v2!);
    expect([versionGone.status, marker(versionGone), vid(versionGone)]).toEqual([204, null, v2]);
    const text = await expectError(await get(bucket, "k", v2!), 404, "NoSuchVersion");
    expect<unknown[]>([field(text, "Key"), field(text, "VersionId")]).toEqual(["k", v2]);
    await expectBody(await get(bucket, "k"), "one");
    const missing = await del(bucket, "k", missingId);
    expect([missing.status, marker(missing), vid(missing)]).toEqual([204, null, missingId]);
    expect(summary((await listVersions(bucket)).entries)).toEqual([`Version k ${v1} latest`]);
    for (const method of ["GET", "HEAD", "DELETE"]) expect((await get(bucket, "k", "not+a/version", method)).status).toBe(400);
    await expectError(await del(bucket, "k", "abc"), 400, "InvalidArgument");
  });

  test("a Suspended bucket's DELETE makes a null marker in place of the null version", async () => {
    const bucket = await newBucket("Enabled");
    const v1 = await putVersion(bucket, "k", "versioned");
    await setStatus(bucket, "Suspended");
    await putVersion(bucket, "k", "null version");
    const res = await del(bucket, "k");
    expect([res.status, marker(res), vid(res)]).toEqual([204, "true", "null"]);
    expect(summary((await listVersions(bucket)).entries)).toEqual(["DeleteMarker k null latest", `Version k ${v1}`]);
    const read = await get(bucket, "k");
    expect([read.status, marker(read), vid(read)]).toEqual([404, "true", "null"]);
  });

  test("DeleteObjects: markers added and removed by id, versions removed, a missing version deleted, a malformed id NoSuchVersion", async () => {
    const bucket = await newBucket("Enabled");
    await putVersion(bucket, "a", "a");
    const m = vid(await del(bucket, "b"))!;
    const c1 = await putVersion(bucket, "c", "c1");
    await putVersion(bucket, "c", "c2");
    const text = await deleteObjects(bucket, [{ key: "a" }, { key: "b", versionId: m }, { key: "c", versionId: c1! }, { key: "c", versionId: missingId }, { key: "c", versionId: "abc" }]);
    const added = (await listVersions(bucket, [["prefix", "a"]])).entries[0]!;
    expect([added.kind, added.isLatest]).toEqual(["DeleteMarker", true]);
    expect(text).toContain(`<Deleted><Key>a</Key><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>${added.versionId}</DeleteMarkerVersionId></Deleted>`);
    expect(text).toContain(`<Deleted><Key>b</Key><VersionId>${m}</VersionId><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>${m}</DeleteMarkerVersionId></Deleted>`);
    expect(text).toContain(`<Deleted><Key>c</Key><VersionId>${c1}</VersionId></Deleted>`);
    // as S3 answers a retried delete of a version already gone
    expect(text).toContain(`<Deleted><Key>c</Key><VersionId>${missingId}</VersionId></Deleted>`);
    expect(text).toContain(`<Error><Key>c</Key><VersionId>abc</VersionId><Code>NoSuchVersion</Code>`);
    expect((await listVersions(bucket, [["prefix", "b"]])).entries).toEqual([]);
    expect((await listVersions(bucket, [["prefix", "c"]])).entries.length).toBe(1);
  });

  test("DeleteBucket is BucketNotEmpty while only noncurrent versions or markers remain", async () => {
    const bucket = await newBucket("Enabled");
    const v1 = await putVersion(bucket, "k", "one");
    const m = vid(await del(bucket, "k"))!;
    await expectError(await req({ method: "DELETE", path: `/${bucket}` }), 409, "BucketNotEmpty");
    await del(bucket, "k", v1!);
    await expectError(await req({ method: "DELETE", path: `/${bucket}` }), 409, "BucketNotEmpty");
    await del(bucket, "k", m);
    expect((await req({ method: "DELETE", path: `/${bucket}` })).status).toBe(204);
  });
});

describe("ListObjectVersions", () => {
  /** a: two versions under a marker; b: one version; c: a marker alone. Newest first within each key. */
  async function populated() {
    const bucket = await newBucket("Enabled");
    const a1 = await putVersion(bucket, "a", "a1");
    const a2 = await putVersion(bucket, "a", "a2");
    const am = vid(await del(bucket, "a"));
    const b1 = await putVersion(bucket, "b", "b1");
    const cm = vid(await del(bucket, "c"));
    const all = [`DeleteMarker a ${am} latest`, `Version a ${a2}`, `Version a ${a1}`, `Version b ${b1} latest`, `DeleteMarker c ${cm} latest`];
    return { bucket, a1, a2, am, all };
  }

  test("versions and markers interleave by key, newest first, each element's children in S3's order", async () => {
    const { bucket, all } = await populated();
    const { xml, entries } = await listVersions(bucket);
    expect(summary(entries)).toEqual(all);
    expect(childNames(inner(xml, "ListVersionsResult"))).toEqual(["Name", "Prefix", "KeyMarker", "VersionIdMarker", "MaxKeys", "IsTruncated", "DeleteMarker", "Version", "Version", "Version", "DeleteMarker"]);
    expect(entries[0]!.children).toEqual(["Key", "VersionId", "IsLatest", "LastModified", "Owner"]);
    expect(entries[1]!.children).toEqual(["Key", "VersionId", "IsLatest", "LastModified", "ETag", "Size", "Owner", "StorageClass"]);
    const delimited = await listVersions(bucket, [["delimiter", "/"], ["max-keys", "2"]]);
    expect(childNames(inner(delimited.xml, "ListVersionsResult")).slice(0, 9)).toEqual([
      "Name", "Prefix", "KeyMarker", "VersionIdMarker", "NextKeyMarker", "NextVersionIdMarker", "MaxKeys", "Delimiter", "IsTruncated",
    ]);
  });

  test("max-keys counts markers; a page resumes after its last entry, or after a whole key for a key marker alone", async () => {
    const { bucket, a1, a2, am, all } = await populated();
    const page = await listVersions(bucket, [["max-keys", "2"]]);
    expect(summary(page.entries)).toEqual(all.slice(0, 2));
    expect<unknown[]>([page.isTruncated, page.nextKeyMarker, page.nextVersionIdMarker]).toEqual([true, "a", a2]);
    const rest = await listVersions(bucket, [["key-marker", "a"], ["version-id-marker", a2!]]);
    expect([summary(rest.entries), rest.isTruncated, rest.nextKeyMarker, rest.nextVersionIdMarker]).toEqual([all.slice(2), false, undefined, undefined]);
    expect<unknown[]>([field(rest.xml, "KeyMarker"), field(rest.xml, "VersionIdMarker")]).toEqual(["a", a2]);
    expect(summary((await listVersions(bucket, [["key-marker", "a"], ["version-id-marker", am!]])).entries)).toEqual(all.slice(1));
    expect(summary((await listVersions(bucket, [["key-marker", "a"], ["version-id-marker", a1!]])).entries)).toEqual(all.slice(3));
    expect(summary((await listVersions(bucket, [["key-marker", "a"]])).entries)).toEqual(all.slice(3));
    await expectError(await req({ method: "GET", path: `/${bucket}`, query: [["versions", ""], ["version-id-marker", a1!]] }), 400, "InvalidArgument");
  });

  test("paging with any small max-keys, with or without a delimiter, returns every entry exactly once", async () => {
    const { bucket, all } = await populated();
    // a null version among them, and keys a delimiter rolls up
    await setStatus(bucket, "Suspended");
    await putVersion(bucket, "b", "b null");
    await setStatus(bucket, "Enabled");
    const b2 = await putVersion(bucket, "b", "b2");
    const nested = [await putVersion(bucket, "d/1", "x"), await putVersion(bucket, "d/1", "y"), await putVersion(bucket, "d/2", "z")];
    const flat = [...all.slice(0, 3), `Version b ${b2} latest`, "Version b null", all[3]!.replace(" latest", ""), all[4]!];
    const full = [...flat, `Version d/1 ${nested[1]} latest`, `Version d/1 ${nested[0]}`, `Version d/2 ${nested[2]} latest`];
    expect(summary((await listVersions(bucket)).entries)).toEqual(full);
    for (const [delimiter, expected, prefixes] of [["", full, []], ["/", flat, ["d/"]]] as const) {
      for (const maxKeys of [1, 2, 3]) {
        const seen: string[] = [];
        const seenPrefixes: string[] = [];
        let query: Query = delimiter === "" ? [] : [["delimiter", delimiter]];
        for (let pages = 0; pages < 30; pages++) {
          const page = await listVersions(bucket, [["max-keys", String(maxKeys)], ...query]);
          expect(page.entries.length + page.prefixes.length).toBeLessThanOrEqual(maxKeys);
          seen.push(...summary(page.entries));
          seenPrefixes.push(...page.prefixes);
          if (!page.isTruncated) break;
          const last = page.entries.at(-1);
          if (delimiter === "") expect([page.nextKeyMarker, page.nextVersionIdMarker]).toEqual([last!.key, last!.versionId]);
          query = [...query.filter(([name]) => name === "delimiter"), ["key-marker", page.nextKeyMarker!]];
          if (page.nextVersionIdMarker !== undefined) query.push(["version-id-marker", page.nextVersionIdMarker]);
        }
        expect({ maxKeys, delimiter, seen, seenPrefixes }).toEqual({ maxKeys, delimiter, seen: [...expected], seenPrefixes: [...prefixes] });
      }
    }
  });
});

describe("CopyObject by version", () => {
  test("copies the version named (or the current one), naming it and the new version; never a delete marker", async () => {
    const bucket = await newBucket("Enabled");
    const plain = await newBucket();
    const copy = (to: string, source: string) => req({ method: "PUT", path: `/${to}/dst`, headers: { "x-amz-copy-source": source } });
    const v1 = await putVersion(bucket, "src", "one");
    const v2 = await putVersion(bucket, "src", "two");
    const old = await copy(bucket, `/${bucket}/src?versionId=${v1}`);
    expect([old.status, old.headers.get("x-amz-copy-source-version-id"), idPattern.test(vid(old) ?? ""), [v1, v2].includes(vid(old))]).toEqual([200, v1, true, false]);
    const copied = await get(bucket, "dst");
    expect(vid(copied)).toBe(vid(old));
    await expectBody(copied, "one");
    const current = await copy(plain, `/${bucket}/src`);
    expect([current.status, current.headers.get("x-amz-copy-source-version-id"), vid(current)]).toEqual([200, v2, null]);
    await expectBody(await get(plain, "dst"), "two");
    const m = vid(await del(bucket, "src"))!;
    await expectError(await copy(plain, `/${bucket}/src?versionId=${m}`), 400, "InvalidRequest");
    await expectError(await copy(plain, `/${bucket}/src`), 404, "NoSuchKey");
    await expectBody(await get(plain, "dst"), "two");
  });

  // S3's documented way to restore a version: copy it onto its own key (the COPY directive, nothing else changed)
  test("a copy of an older version onto its own key restores it as a new current version", async () => {
    const bucket = await newBucket("Enabled");
    const v1 = await putVersion(bucket, "k", "one");
    await putVersion(bucket, "k", "two");
    const restored = await req({ method: "PUT", path: `/${bucket}/k`, headers: { "x-amz-copy-source": `/${bucket}/k?versionId=${v1}` } });
    expect([restored.status, restored.headers.get("x-amz-copy-source-version-id"), idPattern.test(vid(restored) ?? "")]).toEqual([200, v1, true]);
    await expectBody(await get(bucket, "k"), "one");
    expect((await listVersions(bucket)).entries.length).toBe(3);
  });
});

test("tagging with a versionId acts on that version, without one on the current version; each answer names it", async () => {
  const bucket = await newBucket("Enabled");
  const v1 = await putVersion(bucket, "k", "one");
  const v2 = await putVersion(bucket, "k", "two");
  /** [status, x-amz-version-id, tags] of a tagging request; PUT sets `age` to `tag`. */
  const tagging = async (method: string, versionId?: string, tag?: string) => {
    const body = tag === undefined ? undefined : `<Tagging><TagSet><Tag><Key>age</Key><Value>${tag}</Value></Tag></TagSet></Tagging>`;
    const res = await req({ method, path: `/${bucket}/k`, query: at(versionId, [["tagging", ""]]), body });
    return [res.status, vid(res), [...(await res.text()).matchAll(/<Value>([^<]*)<\/Value>/g)].map(([, v]) => v)];
  };
  expect(await tagging("PUT", v1!, "old")).toEqual([200, v1, []]);
  expect(await tagging("PUT", undefined, "new")).toEqual([200, v2, []]);
  expect(await tagging("GET", v1!)).toEqual([200, v1, ["old"]]);
  expect(await tagging("GET")).toEqual([200, v2, ["new"]]);
  expect(await tagging("DELETE", v1!)).toEqual([204, v1, []]);
  expect(await tagging("GET", v1!)).toEqual([200, v1, []]);
  expect(await tagging("GET", v2!)).toEqual([200, v2, ["new"]]);
  expect(await tagging("DELETE")).toEqual([204, v2, []]);
  expect(await tagging("GET")).toEqual([200, v2, []]);
});

test("versions, file-backed ones too, delete markers and the bucket's status survive a crash and restart", async () => {
  const bucket = await newBucket();
  const nullBody = randomBytes(100 * 1024);
  const large = randomBytes(150 * 1024);
  await putVersion(bucket, "k", nullBody);
  await setStatus(bucket, "Enabled");
  const v1 = await putVersion(bucket, "k", large);
  await putVersion(bucket, "k", "small");
  const m = vid(await del(bucket, "k"));
  await server.crash();
  await server.restart();
  expect(await versioningOf(bucket)).toBe("<Status>Enabled</Status>");
  const current = await get(bucket, "k", undefined, "HEAD");
  expect([current.status, marker(current), vid(current)]).toEqual([404, "true", m]);
  await expectBody(await get(bucket, "k", "null"), nullBody);
  await expectBody(await get(bucket, "k", v1!), large);
  expect(summary((await listVersions(bucket)).entries).length).toBe(4);
});
