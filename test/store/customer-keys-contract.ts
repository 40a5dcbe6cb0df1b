/**
 * The Backend contract for SSE-C (objects sealed with a key the client keeps): one suite every
 * Backend must pass, beside contract.ts and versions-contract.ts. With the key a sealed object
 * reads back exactly; without it only its metadata does (its bytes: InvalidRequest); another key
 * is AccessDenied; a key for an unsealed object InvalidRequest. ETags are random; parts need their
 * upload's key; checksums are read with the key only (and so ListParts and CompleteMultipartUpload
 * of an upload with a checksum need it); versions keep their own keys; tags and deletes need none.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { S3Error, type S3ErrorCode } from "../../src/errors.ts";
import type { ByteRange } from "../../src/s3/range.ts";
import { partBytesMin, type Backend, type CustomerKey, type IncomingBody, type ObjectAttributes, type ObjectMeta } from "../../src/store/backend.ts";
import { bodyOf, randomBytesSeeded, type BackendUnderTest } from "./contract.ts";

const noAttrs: ObjectAttributes = { headers: {}, userMeta: {}, tags: {} };
const t0 = 1_700_000_000_000;
/** Plaintext bytes of a sealed fragment in the fs backend: ranges are chosen across its boundaries. */
const P = 8192;
const MiB = 1024 * 1024;

export const keyA: CustomerKey = { key: new Uint8Array(randomBytes(32)) };
export const keyB: CustomerKey = { key: new Uint8Array(randomBytes(32)) };

/** Objects of several sizes: empty, tiny, one fragment, several, and larger than an inline row. */
export const sizes = { empty: 0, one: 1, small: 3000, inlineFrags: 20_000, blob: 1.5 * MiB + 3 } as const;
type SizeName = keyof typeof sizes;
const data = Object.fromEntries(Object.entries(sizes).map(([name, n], i) => [name, randomBytesSeeded(n, 100 + i)])) as Record<SizeName, Uint8Array>;

export const md5Hex = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");
export const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("base64");
export const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** A body whose digest carries a SHA-256 checksum, as the S3 layer's does with x-amz-checksum-sha256. */
export function checksummed(bytes: Uint8Array): IncomingBody {
  const body = bodyOf(bytes);
  return { ...body, digest: () => ({ ...body.digest(), checksum: { algorithm: "SHA256", value: sha(bytes), type: "FULL_OBJECT" as const } }) };
}

/** The S3Error an action throws, synchronously or by rejecting. */
async function s3ErrorOf(action: () => unknown): Promise<S3Error> {
  try {
    await action();
  } catch (e) {
    expect(e).toBeInstanceOf(S3Error);
    return e as S3Error;
  }
  throw new Error("expected an S3Error, but the action succeeded");
}

export async function expectRefused(action: () => unknown, code: S3ErrorCode, status: number): Promise<void> {
  const e = await s3ErrorOf(action);
  expect([e.code, e.httpStatus]).toEqual([code, status]);
}

/** The object's bytes (or a range) through stream(), checked to equal bytes()'s. */
export async function read(b: Backend, k: string, customerKey?: CustomerKey, range?: ByteRange, versionId?: string): Promise<Uint8Array> {
  const streamed = new Uint8Array(await new Response((await b.openObject("bkt", k, versionId, customerKey)).stream(range)).arrayBuffer());
  const whole = await (await b.openObject("bkt", k, versionId, customerKey)).bytes(range);
  expect(same(streamed, whole)).toBe(true);
  return streamed;
}

/** Opens without a key: the metadata is there, every way to the bytes is InvalidRequest. */
export async function expectWithheld(b: Backend, k: string, versionId?: string): Promise<ObjectMeta> {
  const reader = await b.openObject("bkt", k, versionId);
  expect(reader.meta.customerKeyCheck).toBeDefined();
  await expectRefused(() => reader.bytes(), "InvalidRequest", 400);
  await expectRefused(() => reader.bytes({ start: 0, end: 0 }), "InvalidRequest", 400);
  await expectRefused(() => reader.stream(), "InvalidRequest", 400);
  await expectRefused(() => reader.stream({ start: 0, end: 0 }), "InvalidRequest", 400);
  await expectRefused(() => reader.partRange(1), "InvalidRequest", 400);
  reader.close();
  return reader.meta;
}

export function customerKeysContract(name: string, make: () => Promise<BackendUnderTest>): void {
  describe(`Backend SSE-C contract: ${name}`, () => {
    const open: BackendUnderTest[] = [];
    afterEach(async () => {
      for (const sut of open.splice(0)) await sut.cleanup();
    });

    async function fresh(): Promise<{ b: Backend }> {
      const sut = await make();
      open.push(sut);
      await sut.backend.createBucket("bkt", t0);
      return { b: sut.backend };
    }

    async function putAll(b: Backend, customerKey: CustomerKey) {
      const metas = {} as Record<SizeName, ObjectMeta>;
      for (const name of Object.keys(sizes) as SizeName[]) metas[name] = await b.putObject("bkt", name, bodyOf(data[name], MiB), noAttrs, t0, undefined, customerKey);
      return metas;
    }

    test("a sealed object reads back exactly with its key, whole and in ranges across fragments", async () => {
      const { b } = await fresh();
      const metas = await putAll(b, keyA);
      for (const name of Object.keys(sizes) as SizeName[]) {
        expect([name, metas[name].sizeBytes, metas[name].customerKeyCheck !== undefined]).toEqual([name, sizes[name], true]);
        expect([name, same(await read(b, name, keyA), data[name])]).toEqual([name, true]);
      }
      for (const name of ["inlineFrags", "blob"] as const) {
        const n = sizes[name];
        for (const r of [{ start: P - 3, end: P + 2 }, { start: 1, end: n - 2 }, { start: n - 1, end: n - 1 }]) {
          expect([name, r, same(await read(b, name, keyA, r), data[name].subarray(r.start, r.end + 1))]).toEqual([name, r, true]);
        }
      }
    });

    test("the ETag is 32 random hex digits, not the MD5, and differs between PUTs of the same bytes and key", async () => {
      const { b } = await fresh();
      const first = await putAll(b, keyA);
      const second = await putAll(b, keyA);
      const listed = new Map((await b.listObjects("bkt", { prefix: "", delimiter: "", after: "", maxKeys: 100 })).objects.map((o) => [o.key, o.etag]));
      for (const name of Object.keys(sizes) as SizeName[]) {
        const etag = first[name].etag;
        expect(etag).toMatch(/^[0-9a-f]{32}$/);
        expect(etag).not.toBe(md5Hex(data[name]));
        expect(second[name].etag).toMatch(/^[0-9a-f]{32}$/);
        expect(second[name].etag).not.toBe(etag);
        expect(listed.get(name)).toBe(second[name].etag);
      }
      // and an object without a key keeps its MD5 ETag
      expect((await b.putObject("bkt", "plain", bodyOf(data.small), noAttrs, t0)).etag).toBe(md5Hex(data.small));
    });

    test("without the key only metadata reads; another key is AccessDenied; a key for an unkeyed object is InvalidRequest", async () => {
      const { b } = await fresh();
      const attrs: ObjectAttributes = { headers: { "content-type": "text/x-secret" }, userMeta: { owner: "me" }, tags: { team: "blue" } };
      for (const name of ["small", "blob"] as const) {
        await b.putObject("bkt", name, bodyOf(data[name], MiB), attrs, t0, undefined, keyA);
        const meta = await expectWithheld(b, name);
        expect([meta.sizeBytes, meta.headers, meta.userMeta, meta.tags, meta.partsCount]).toEqual([sizes[name], attrs.headers, attrs.userMeta, attrs.tags, 0]);
        await expectRefused(() => b.openObject("bkt", name, undefined, keyB), "AccessDenied", 403);
        // a key of the right length but one bit off
        const flipped = new Uint8Array(keyA.key);
        flipped[31] ^= 1;
        await expectRefused(() => b.openObject("bkt", name, undefined, { key: flipped }), "AccessDenied", 403);
        // the refusals changed nothing: the right key still reads it
        expect(same(await read(b, name, keyA), data[name])).toBe(true);
      }
      await b.putObject("bkt", "unkeyed-inline", bodyOf(data.small), noAttrs, t0);
      await b.putObject("bkt", "unkeyed-blob", bodyOf(data.blob, MiB), noAttrs, t0);
      for (const k of ["unkeyed-inline", "unkeyed-blob"]) {
        await expectRefused(() => b.openObject("bkt", k, undefined, keyA), "InvalidRequest", 400);
        const reader = await b.openObject("bkt", k);
        expect(reader.meta.customerKeyCheck).toBeUndefined();
        reader.close();
      }
      expect(same(await read(b, "unkeyed-blob"), data.blob)).toBe(true);
    });

    test("a customerKeyCheck passed in with the attributes is the store's to set: ignored on a PUT without a key", async () => {
      const { b } = await fresh();
      const keyed = await b.putObject("bkt", "keyed", bodyOf(data.small), noAttrs, t0, undefined, keyA);
      const copiedAttrs: ObjectAttributes = { ...noAttrs, customerKeyCheck: keyed.customerKeyCheck };
      const plain = await b.putObject("bkt", "copy", bodyOf(data.small), copiedAttrs, t0);
      expect(plain.customerKeyCheck).toBeUndefined();
      expect(same(await read(b, "copy"), data.small)).toBe(true);
      await expectRefused(() => b.openObject("bkt", "copy", undefined, keyA), "InvalidRequest", 400);
      // with a key, the check is a fresh one (salted): never the one passed in
      const rekeyed = await b.putObject("bkt", "rekeyed", bodyOf(data.small), copiedAttrs, t0, undefined, keyA);
      expect(rekeyed.customerKeyCheck).toBeDefined();
      expect(rekeyed.customerKeyCheck).not.toBe(keyed.customerKeyCheck);
      expect(same(await read(b, "rekeyed", keyA), data.small)).toBe(true);
    });

    test("multipart: parts need the upload's key, the object is sealed with it, its ETag ends in -N", async () => {
      const { b } = await fresh();
      const p1 = randomBytesSeeded(partBytesMin + 3, 21);
      const p2 = randomBytesSeeded(2 * P + 9, 22);
      const upload = await b.createMultipartUpload("bkt", "mp", { ...noAttrs, tags: { t: "1" } }, t0, undefined, keyA);
      await expectRefused(() => b.uploadPart("bkt", "mp", upload, 1, bodyOf(p1, MiB), t0), "InvalidRequest", 400);
      await expectRefused(() => b.uploadPart("bkt", "mp", upload, 1, bodyOf(p1, MiB), t0, keyB), "InvalidRequest", 400);
      const e1 = await b.uploadPart("bkt", "mp", upload, 1, bodyOf(p1, MiB), t0, keyA);
      const e2 = await b.uploadPart("bkt", "mp", upload, 2, bodyOf(p2), t0, keyA);
      for (const [part, info] of [[p1, e1], [p2, e2]] as const) {
        expect(info.etag).toMatch(/^[0-9a-f]{32}$/);
        expect(info.etag).not.toBe(md5Hex(part));
        expect(info.sizeBytes).toBe(part.length);
      }
      const listed = await b.listParts("bkt", "mp", upload, 0, 10);
      expect(listed.parts.map((p) => [p.partNumber, p.etag, p.sizeBytes])).toEqual([[1, e1.etag, p1.length], [2, e2.etag, p2.length]]);
      expect(listed.upload.customerKeyCheck).toBeDefined();
      const meta = await b.completeMultipartUpload("bkt", "mp", upload, [{ partNumber: 1, etag: e1.etag }, { partNumber: 2, etag: e2.etag }], t0);
      expect(meta.etag).toMatch(/^[0-9a-f]{32}-2$/);
      expect(meta.partsCount).toBe(2);
      expect(meta.customerKeyCheck).toBeDefined();
      const whole = Buffer.concat([p1, p2]);
      expect(same(await read(b, "mp", keyA), whole)).toBe(true);
      // a range across the part boundary, and the parts' ranges
      const across = { start: p1.length - P - 2, end: p1.length + P + 2 };
      expect(same(await read(b, "mp", keyA, across), whole.subarray(across.start, across.end + 1))).toBe(true);
      const reader = await b.openObject("bkt", "mp", undefined, keyA);
      expect([reader.partRange(1), reader.partRange(2), reader.partRange(3)]).toEqual([{ start: 0, end: p1.length - 1 }, { start: p1.length, end: whole.length - 1 }, undefined]);
      expect(same(await reader.bytes(reader.partRange(2)), p2)).toBe(true);
      // without the key: metadata (tags, parts count) only; another key: AccessDenied
      const withheld = await expectWithheld(b, "mp");
      expect([withheld.partsCount, withheld.tags, withheld.etag]).toEqual([2, { t: "1" }, meta.etag]);
      await expectRefused(() => b.openObject("bkt", "mp", undefined, keyB), "AccessDenied", 403);

      // an upload made without a key refuses a part that comes with one, and takes one without
      const plainUpload = await b.createMultipartUpload("bkt", "plain-mp", noAttrs, t0);
      await expectRefused(() => b.uploadPart("bkt", "plain-mp", plainUpload, 1, bodyOf(p2), t0, keyA), "InvalidRequest", 400);
      const plainPart = await b.uploadPart("bkt", "plain-mp", plainUpload, 1, bodyOf(p2), t0);
      expect(plainPart.etag).toBe(md5Hex(p2));
      await b.completeMultipartUpload("bkt", "plain-mp", plainUpload, [{ partNumber: 1, etag: plainPart.etag }], t0);
      expect(same(await read(b, "plain-mp"), p2)).toBe(true);
      await expectRefused(() => b.openObject("bkt", "plain-mp", undefined, keyA), "InvalidRequest", 400);
    });

    test("additional checksums of keyed objects and parts are read with the key only; listing and completing parts need it", async () => {
      const { b } = await fresh();
      const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("base64");
      /** A body whose digest carries a SHA-256 checksum, as the S3 layer's does with x-amz-checksum-sha256. */
      const checksummed = (bytes: Uint8Array): IncomingBody => {
        const body = bodyOf(bytes);
        return { ...body, digest: () => ({ ...body.digest(), checksum: { algorithm: "SHA256", value: sha(bytes), type: "FULL_OBJECT" as const } }) };
      };
      const small = randomBytesSeeded(2000, 71);
      await b.putObject("bkt", "ck", checksummed(small), noAttrs, t0, undefined, keyA);
      expect((await b.openObject("bkt", "ck")).meta.checksum).toBeUndefined();
      expect((await b.openObject("bkt", "ck", undefined, keyA)).meta.checksum).toEqual({ algorithm: "SHA256", value: sha(small), type: "FULL_OBJECT" });
      // (the row cache keeps the metadata without it)
      expect((await b.openObject("bkt", "ck")).meta.checksum).toBeUndefined();

      const parts = [randomBytesSeeded(partBytesMin, 72), randomBytesSeeded(1000, 73)];
      const uploadId = await b.createMultipartUpload("bkt", "mp", noAttrs, t0, { algorithm: "SHA256", type: "COMPOSITE" }, keyA);
      const infos = [];
      for (const [i, part] of parts.entries()) infos.push(await b.uploadPart("bkt", "mp", uploadId, i + 1, checksummed(part), t0, keyA));
      expect(infos.map((p) => p.checksum)).toEqual(parts.map(sha));
      // listing the parts or completing the upload needs the key: the parts' checksums are sealed with it
      await expectRefused(() => b.listParts("bkt", "mp", uploadId, 0, 10), "InvalidRequest", 400);
      await expectRefused(() => b.listParts("bkt", "mp", uploadId, 0, 10, keyB), "InvalidRequest", 400);
      expect((await b.listParts("bkt", "mp", uploadId, 0, 10, keyA)).parts.map((p) => p.checksum)).toEqual(parts.map(sha));
      const completed = infos.map((p) => ({ partNumber: p.partNumber, etag: p.etag, checksum: p.checksum }));
      await expectRefused(() => b.completeMultipartUpload("bkt", "mp", uploadId, completed, t0), "InvalidRequest", 400);
      const meta = await b.completeMultipartUpload("bkt", "mp", uploadId, completed, t0, undefined, keyA);
      expect(meta.checksum?.algorithm).toBe("SHA256");
      expect((await b.openObject("bkt", "mp", undefined, keyA)).meta.checksum).toEqual(meta.checksum);
      expect((await b.openObject("bkt", "mp")).meta.checksum).toBeUndefined();

      // an object without a key keeps its checksum as before
      await b.putObject("bkt", "plain", checksummed(small), noAttrs, t0);
      expect((await b.openObject("bkt", "plain")).meta.checksum?.value).toBe(sha(small));
    });

    test("versioning: each version opens only with its own key, noncurrent or promoted back", async () => {
      const { b } = await fresh();
      await b.setBucketVersioning("bkt", "Enabled");
      const v1 = await b.putObject("bkt", "k", bodyOf(data.blob, MiB), noAttrs, t0, undefined, keyA);
      const v2 = await b.putObject("bkt", "k", bodyOf(data.small), noAttrs, t0 + 1, undefined, keyB);
      const v3 = await b.putObject("bkt", "k", bodyOf(data.one), noAttrs, t0 + 2);
      expect(new Set([v1.versionId, v2.versionId, v3.versionId]).size).toBe(3);
      // the current one has no key
      expect(same(await read(b, "k"), data.one)).toBe(true);
      await expectRefused(() => b.openObject("bkt", "k", undefined, keyA), "InvalidRequest", 400);
      // the noncurrent ones, by version id
      expect(same(await read(b, "k", keyA, undefined, v1.versionId), data.blob)).toBe(true);
      expect(same(await read(b, "k", keyA, { start: P - 1, end: 3 * P }, v1.versionId), data.blob.subarray(P - 1, 3 * P + 1))).toBe(true);
      expect(same(await read(b, "k", keyB, undefined, v2.versionId), data.small)).toBe(true);
      await expectRefused(() => b.openObject("bkt", "k", v1.versionId, keyB), "AccessDenied", 403);
      await expectRefused(() => b.openObject("bkt", "k", v2.versionId, keyA), "AccessDenied", 403);
      expect((await expectWithheld(b, "k", v1.versionId)).versionId).toBe(v1.versionId);
      expect((await expectWithheld(b, "k", v2.versionId)).sizeBytes).toBe(sizes.small);
      // v3 removed: v2 is current again, with its key
      await b.deleteObject("bkt", "k", t0 + 3, { versionId: v3.versionId });
      expect(same(await read(b, "k", keyB), data.small)).toBe(true);
      await expectRefused(() => b.openObject("bkt", "k", undefined, keyA), "AccessDenied", 403);
      await expectWithheld(b, "k");
      // a delete marker on top: the keyed versions are still there by id
      await b.deleteObject("bkt", "k", t0 + 4);
      await expectRefused(() => b.openObject("bkt", "k", undefined, keyB), "NoSuchKey", 404);
      expect(same(await read(b, "k", keyA, undefined, v1.versionId), data.blob)).toBe(true);
      expect(same(await read(b, "k", keyB, undefined, v2.versionId), data.small)).toBe(true);
    });

    test("unversioned overwrites switch between keyed and unkeyed; tags and deletes need no key", async () => {
      const { b } = await fresh();
      await b.putObject("bkt", "k", bodyOf(data.small), noAttrs, t0, undefined, keyA);
      expect(same(await read(b, "k", keyA), data.small)).toBe(true); // (now in the row cache)
      await b.putObject("bkt", "k", bodyOf(data.inlineFrags), noAttrs, t0);
      expect(same(await read(b, "k"), data.inlineFrags)).toBe(true);
      await expectRefused(() => b.openObject("bkt", "k", undefined, keyA), "InvalidRequest", 400);
      await b.putObject("bkt", "k", bodyOf(data.blob, MiB), noAttrs, t0, undefined, keyB);
      await expectRefused(() => b.openObject("bkt", "k", undefined, keyA), "AccessDenied", 403);
      expect(same(await read(b, "k", keyB), data.blob)).toBe(true);

      // tags: set and read without the key, on the current and on a noncurrent version
      expect(await b.setObjectTags("bkt", "k", { color: "red" })).toBeUndefined();
      expect((await expectWithheld(b, "k")).tags).toEqual({ color: "red" });
      expect(same(await read(b, "k", keyB), data.blob)).toBe(true);
      const reader = await b.openObject("bkt", "k", undefined, keyB);
      expect(reader.meta.tags).toEqual({ color: "red" });
      reader.close();

      await b.setBucketVersioning("bkt", "Enabled");
      const v1 = await b.putObject("bkt", "v", bodyOf(data.small), noAttrs, t0, undefined, keyA);
      await b.putObject("bkt", "v", bodyOf(data.small), noAttrs, t0 + 1, undefined, keyB);
      expect(await b.setObjectTags("bkt", "v", { old: "yes" }, v1.versionId)).toBe(v1.versionId);
      expect((await expectWithheld(b, "v", v1.versionId)).tags).toEqual({ old: "yes" });
      expect(same(await read(b, "v", keyA, undefined, v1.versionId), data.small)).toBe(true);

      // a delete needs no key either
      await b.deleteObject("bkt", "k", t0 + 2, { versionId: "null" });
      await expectRefused(() => b.openObject("bkt", "k", undefined, keyB), "NoSuchKey", 404);
    });
  });
}
