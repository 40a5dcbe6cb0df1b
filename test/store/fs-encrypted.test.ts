/**
 * Encryption at rest of the fs backend: the Backend contract against an encrypted data dir,
 * no plaintext anywhere on disk, tampering detected (never wrong bytes), exact ranges across
 * fragment boundaries, and the start-up checks of the data dir's key record.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keyFingerprint } from "../../src/shard/keys.ts";
import { partBytesMin, type ObjectAttributes } from "../../src/store/backend.ts";
import { EncryptionSetupError } from "../../src/store/fs/at-rest.ts";
import { FsBackend, inlineObjectBytesMax } from "../../src/store/fs/backend.ts";
import { fragmentPlainBytes, fragmentSealedBytes, sealedBytes, sealIdBytes, tagBytes } from "../../src/store/fs/sealing.ts";
import { backendContract, bodyOf, randomBytesSeeded } from "./contract.ts";
import { customerKeysContract } from "./customer-keys-contract.ts";
import { allFiles, scratch } from "./scratch.ts";

const key = new Uint8Array(randomBytes(32));
const noAttrs: ObjectAttributes = { headers: {}, userMeta: {}, tags: {} };

async function encryptedUnderTest() {
  const dir = mkdtempSync(join(tmpdir(), "s3d-fsenc-"));
  const backend = new FsBackend(dir, { encryptionKey: key });
  return {
    backend,
    cleanup: async () => {
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

backendContract("fs, encrypted", encryptedUnderTest);
// (SSE-C keys are derived with the master key too)
customerKeysContract("fs, encrypted", encryptedUnderTest);

const { tempDir, kept, closeAll } = scratch("s3d-fsenc-");

/** A backend on `dir` with the test key, another key, or none (null). */
function backendAt(dir: string, encryptionKey: Uint8Array | null = key): FsBackend {
  return kept(new FsBackend(dir, { encryptionKey: encryptionKey ?? undefined }));
}

function blobPaths(dir: string): string[] {
  const root = join(dir, "blobs");
  return readdirSync(root).flatMap((fan) => readdirSync(join(root, fan)).map((name) => join(root, fan, name)));
}

async function read(b: FsBackend, k: string, range?: { start: number; end: number }): Promise<Uint8Array> {
  return new Uint8Array(await new Response((await b.openObject("bkt", k)).stream(range)).arrayBuffer());
}

/** Reads through both stream() and bytes(): each must fail, neither may return bytes. */
async function expectUnreadable(b: FsBackend, k: string, range?: { start: number; end: number }): Promise<void> {
  const streamed = (async () => new Uint8Array(await new Response((await b.openObject("bkt", k)).stream(range)).arrayBuffer()))();
  await expect(streamed).rejects.toThrow(/fragment|shorter|sealed bytes/);
  await expect((await b.openObject("bkt", k)).bytes(range)).rejects.toThrow(/fragment|shorter|sealed bytes/);
}

/** A body made of a recognisable marker, so any plaintext copy on disk can be found. */
const marker = Buffer.from("PLAINTEXT-MARKER-9f2c41/");
function markedBytes(n: number): Uint8Array {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += marker.length) marker.copy(out, i, 0, Math.min(marker.length, n - i));
  return out;
}

async function putMarkedObjects(b: FsBackend): Promise<void> {
  await b.createBucket("bkt", 0);
  await b.putObject("bkt", "small", bodyOf(markedBytes(1000)), noAttrs, 0);
  await b.putObject("bkt", "inline-max", bodyOf(markedBytes(inlineObjectBytesMax)), noAttrs, 0);
  await b.putObject("bkt", "large", bodyOf(markedBytes(300_000), 7000), noAttrs, 0);
  const upload = await b.createMultipartUpload("bkt", "multi", noAttrs, 0);
  const p1 = await b.uploadPart("bkt", "multi", upload, 1, bodyOf(markedBytes(partBytesMin), 1 << 20), 0);
  const p2 = await b.uploadPart("bkt", "multi", upload, 2, bodyOf(markedBytes(5000)), 0);
  await b.completeMultipartUpload("bkt", "multi", upload, [{ partNumber: 1, etag: p1.etag }, { partNumber: 2, etag: p2.etag }], 0);
  // an upload still in progress: its part is object data at rest too
  const pending = await b.createMultipartUpload("bkt", "pending", noAttrs, 0);
  await b.uploadPart("bkt", "pending", pending, 1, bodyOf(markedBytes(100_000)), 0);
}

function filesWithMarker(dir: string): string[] {
  return allFiles(dir).filter((f) => readFileSync(f).includes(marker));
}

describe("no plaintext at rest", () => {
  test("with a key, no file under the data dir (blobs, sqlite database, its WAL) holds object bytes", async () => {
    const dir = tempDir();
    const b = backendAt(dir);
    await putMarkedObjects(b);
    expect(allFiles(dir).some((f) => f.endsWith("meta.sqlite-wal"))).toBe(true);
    expect(filesWithMarker(dir)).toEqual([]); // while running: the WAL holds the recent rows
    await closeAll();
    expect(filesWithMarker(dir)).toEqual([]); // after the checkpoint into the database file
    const again = backendAt(dir);
    expect(Buffer.compare(await read(again, "multi"), Buffer.concat([markedBytes(partBytesMin), markedBytes(5000)]))).toBe(0);
    expect(Buffer.compare(await read(again, "small"), markedBytes(1000))).toBe(0);
  });

  test("the same scan finds the marker in a data dir without a key (the scan can fail)", async () => {
    const dir = tempDir();
    await putMarkedObjects(backendAt(dir, null));
    await closeAll();
    const found = filesWithMarker(dir);
    expect(found.some((f) => f.endsWith("meta.sqlite"))).toBe(true);
    expect(found.filter((f) => f.includes("/blobs/")).length).toBe(4);
  });

  test("sealed sizes on disk: plaintext plus one tag per 8 KiB fragment, an id before inline bytes", async () => {
    const dir = tempDir();
    const b = backendAt(dir);
    await b.createBucket("bkt", 0);
    await b.putObject("bkt", "large", bodyOf(randomBytesSeeded(100_001, 1), 3000), noAttrs, 0);
    await b.putObject("bkt", "small", bodyOf(randomBytesSeeded(8193, 2)), noAttrs, 0);
    const [blob] = blobPaths(dir);
    expect(statSync(blob).size).toBe(100_001 + 13 * tagBytes);
    expect(sealedBytes(100_001)).toBe(100_001 + 13 * tagBytes);
    await closeAll();
    const db = new Database(join(dir, "meta.sqlite"));
    const row = db.query<{ inline: Uint8Array; size: number }, []>("SELECT inline, size FROM objects WHERE inline IS NOT NULL").get()!;
    db.close();
    expect(row.size).toBe(8193);
    expect(row.inline.length).toBe(sealIdBytes + 8193 + 2 * tagBytes);
  });
});

describe("tampering is detected, never returned as data", () => {
  const size = 10 * fragmentPlainBytes + 123; // 11 fragments, the last one short

  async function withOneBlob(): Promise<{ dir: string; b: FsBackend; data: Uint8Array; blob: string }> {
    const dir = tempDir();
    const b = backendAt(dir);
    await b.createBucket("bkt", 0);
    const data = randomBytesSeeded(size, 3);
    await b.putObject("bkt", "k", bodyOf(data), noAttrs, 0);
    const [blob] = blobPaths(dir);
    expect(Buffer.compare(await read(b, "k"), data)).toBe(0);
    return { dir, b, data, blob };
  }

  test("a flipped byte anywhere in a blob file (ciphertext or tag, first or last fragment)", async () => {
    const { b, blob } = await withOneBlob();
    const original = readFileSync(blob);
    const last = original.length - 1;
    for (const at of [0, 5000, fragmentPlainBytes, fragmentPlainBytes + 3, fragmentSealedBytes, 4 * fragmentSealedBytes + 77, last - tagBytes, last]) {
      const bad = Buffer.from(original);
      bad[at] ^= 0x01;
      writeFileSync(blob, bad);
      await expectUnreadable(b, "k");
    }
    writeFileSync(blob, original);
    expect((await read(b, "k")).length).toBe(size);
  });

  test("a range read fails when a fragment it covers is flipped, and reads fragments it does not touch", async () => {
    const { b, blob, data } = await withOneBlob();
    const bad = readFileSync(blob);
    bad[3 * fragmentSealedBytes + 10] ^= 0x80; // inside fragment 3
    writeFileSync(blob, bad);
    await expectUnreadable(b, "k", { start: 3 * fragmentPlainBytes + 5, end: 3 * fragmentPlainBytes + 6 });
    await expectUnreadable(b, "k", { start: fragmentPlainBytes, end: 5 * fragmentPlainBytes });
    // fragments 0..2 are intact and authentic
    expect(Buffer.compare(await read(b, "k", { start: 0, end: 3 * fragmentPlainBytes - 1 }), data.subarray(0, 3 * fragmentPlainBytes))).toBe(0);
  });

  test("two fragments swapped within a blob", async () => {
    const { b, blob } = await withOneBlob();
    const original = readFileSync(blob);
    const swapped = Buffer.from(original);
    original.copy(swapped, 2 * fragmentSealedBytes, 5 * fragmentSealedBytes, 6 * fragmentSealedBytes);
    original.copy(swapped, 5 * fragmentSealedBytes, 2 * fragmentSealedBytes, 3 * fragmentSealedBytes);
    writeFileSync(blob, swapped);
    await expectUnreadable(b, "k");
    await expectUnreadable(b, "k", { start: 2 * fragmentPlainBytes, end: 2 * fragmentPlainBytes + 10 });
  });

  test("a blob cut at a fragment boundary: short against its metadata, and its new last fragment was not sealed as last", async () => {
    const { dir, b, blob } = await withOneBlob();
    truncateSync(blob, 6 * fragmentSealedBytes);
    await expectUnreadable(b, "k");
    // even with the metadata edited to the cut size, the cut shows: fragment 5 was sealed as "not last"
    await closeAll();
    const db = new Database(join(dir, "meta.sqlite"));
    const row = db.query<{ segments: string }, []>("SELECT segments FROM objects").get()!;
    const [[id]] = JSON.parse(row.segments) as [string, number][];
    db.query("UPDATE objects SET size = ?, segments = ?").run(6 * fragmentPlainBytes, JSON.stringify([[id, 6 * fragmentPlainBytes]]));
    db.close();
    const reopened = backendAt(dir);
    await expectUnreadable(reopened, "k");
    await expectUnreadable(reopened, "k", { start: 6 * fragmentPlainBytes - 1, end: 6 * fragmentPlainBytes - 1 });
  });

  test("one blob file copied over another (same size, same key, other id)", async () => {
    const { b, blob } = await withOneBlob();
    await b.putObject("bkt", "other", bodyOf(randomBytesSeeded(size, 4)), noAttrs, 0);
    const otherBlob = blobPaths(join(blob, "../../..")).find((p) => p !== blob)!;
    writeFileSync(blob, readFileSync(otherBlob));
    await expectUnreadable(b, "k");
    expect((await read(b, "other")).length).toBe(size); // the source still reads
  });

  test("a flipped byte in an inline row; an inline row moved onto a bigger or smaller object", async () => {
    const dir = tempDir();
    const b = backendAt(dir);
    await b.createBucket("bkt", 0);
    const data = randomBytesSeeded(20_000, 5);
    await b.putObject("bkt", "small", bodyOf(data), noAttrs, 0);
    await b.putObject("bkt", "empty", bodyOf(new Uint8Array()), noAttrs, 0);
    await b.putObject("bkt", "other", bodyOf(randomBytesSeeded(30_000, 6)), noAttrs, 0);
    await closeAll();
    const edit = (sql: string, ...args: (string | Uint8Array)[]) => {
      const db = new Database(join(dir, "meta.sqlite"));
      db.query(sql).run(...args);
      db.close();
    };
    const inlineOf = (k: string) => {
      const db = new Database(join(dir, "meta.sqlite"));
      const v = db.query<{ inline: Uint8Array }, [Uint8Array]>("SELECT inline FROM objects WHERE key = ?").get(Buffer.from(k))!.inline;
      db.close();
      return Buffer.from(v);
    };
    const original = inlineOf("small");
    for (const at of [0, sealIdBytes, sealIdBytes + 9000, original.length - 1]) {
      const bad = Buffer.from(original);
      bad[at] ^= 0x04;
      edit("UPDATE objects SET inline = ? WHERE key = ?", bad, Buffer.from("small"));
      const b2 = backendAt(dir);
      await expectUnreadable(b2, "small");
      // a range reads only its fragments: one in fragment 0 fails when the id or fragment 0 is hit
      if (at < sealIdBytes + fragmentSealedBytes) await expectUnreadable(b2, "small", { start: 0, end: 0 });
      else expect(Buffer.compare(Buffer.from(await (await b2.openObject("bkt", "small")).bytes({ start: 0, end: 99 })), data.subarray(0, 100))).toBe(0);
      await closeAll();
    }
    const emptyBad = inlineOf("empty");
    emptyBad[emptyBad.length - 1] ^= 1;
    edit("UPDATE objects SET inline = ? WHERE key = ?", emptyBad, Buffer.from("empty"));
    edit("UPDATE objects SET inline = ? WHERE key = ?", inlineOf("other"), Buffer.from("small"));
    const b3 = backendAt(dir);
    await expectUnreadable(b3, "small"); // other's sealed bytes under small's size
    await expectUnreadable(b3, "empty");
  });
});

describe("ranges across fragment boundaries return exact bytes", () => {
  const P = fragmentPlainBytes;
  const cases = (n: number): Array<[number, number]> => {
    const points = [0, 1, P - 1, P, P + 1, 2 * P - 1, 2 * P, 2 * P + 1, n - P - 1, n - 2, n - 1].filter((x) => x >= 0 && x < n);
    const out: Array<[number, number]> = [[0, n - 1], [0, 0], [n - 1, n - 1]];
    for (const s of points) for (const e of points) if (s <= e) out.push([s, e]);
    return out;
  };

  test("inline, blob and multipart objects, through stream() and bytes()", async () => {
    const dir = tempDir();
    const b = backendAt(dir);
    await b.createBucket("bkt", 0);
    const objects: Record<string, Uint8Array> = {
      "inline-3frag": randomBytesSeeded(3 * P + 100, 11),
      "inline-exact": randomBytesSeeded(4 * P, 12),
      "inline-1": randomBytesSeeded(1, 13),
      blob: randomBytesSeeded(9 * P + 4321, 14),
      "blob-exact": randomBytesSeeded(12 * P, 15),
      "blob-many": randomBytesSeeded(200 * P + 17, 16), // more than one read batch
    };
    for (const [k, v] of Object.entries(objects)) await b.putObject("bkt", k, bodyOf(v, 5000), noAttrs, 0);
    const upload = await b.createMultipartUpload("bkt", "multi", noAttrs, 0);
    const p1 = randomBytesSeeded(partBytesMin + 5, 17);
    const p2 = randomBytesSeeded(3 * P + 1, 18);
    const e1 = await b.uploadPart("bkt", "multi", upload, 1, bodyOf(p1, 1 << 20), 0);
    const e2 = await b.uploadPart("bkt", "multi", upload, 2, bodyOf(p2), 0);
    await b.completeMultipartUpload("bkt", "multi", upload, [{ partNumber: 1, etag: e1.etag }, { partNumber: 2, etag: e2.etag }], 0);
    objects.multi = Buffer.concat([p1, p2]);
    for (const [k, v] of Object.entries(objects)) {
      const ranges = cases(v.length);
      if (k === "multi") ranges.push([partBytesMin - 1, partBytesMin + 10], [partBytesMin + 4, partBytesMin + 5], [partBytesMin - P, partBytesMin + P + 6]);
      for (const [s, e] of ranges) {
        const want = v.subarray(s, e + 1);
        expect([k, s, e, Buffer.compare(await read(b, k, { start: s, end: e }), want)]).toEqual([k, s, e, 0]);
        const viaBytes = await (await b.openObject("bkt", k)).bytes({ start: s, end: e });
        expect([k, s, e, Buffer.compare(Buffer.from(viaBytes), want)]).toEqual([k, s, e, 0]);
      }
      expect(Buffer.compare(await read(b, k), v)).toBe(0);
      expect(Buffer.compare(Buffer.from(await (await b.openObject("bkt", k)).bytes()), v)).toBe(0);
    }
  });
});

describe("the data dir records its key; start-up checks it", () => {
  test("an empty data dir given a key becomes encrypted; the same key opens it again", async () => {
    const dir = tempDir();
    const b = backendAt(dir);
    await b.createBucket("bkt", 0);
    await b.putObject("bkt", "k", bodyOf(randomBytesSeeded(100_000, 1)), noAttrs, 0);
    await closeAll();
    const again = backendAt(dir);
    expect((await read(again, "k")).length).toBe(100_000);
  });

  test("without the key, with another key: refused, naming fingerprints, never the key", async () => {
    const dir = tempDir();
    await backendAt(dir).createBucket("bkt", 0);
    await closeAll();
    expect(() => backendAt(dir, null)).toThrow(EncryptionSetupError);
    expect(() => backendAt(dir, null)).toThrow(`is encrypted (key fingerprint ${keyFingerprint(key)})`);
    const other = new Uint8Array(randomBytes(32));
    let message = "";
    try {
      backendAt(dir, other);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(`key of fingerprint ${keyFingerprint(key)}, but the key given has fingerprint ${keyFingerprint(other)}`);
    expect(message).not.toContain(Buffer.from(key).toString("hex"));
    // a refusal releases the data dir: the right key opens it straight after
    backendAt(dir);
  });

  test("a key on a data dir with unencrypted objects, versions or parts is refused; on one with only buckets it is accepted", async () => {
    const withObject = tempDir();
    const plain = backendAt(withObject, null);
    await plain.createBucket("bkt", 0);
    await plain.putObject("bkt", "k", bodyOf(randomBytesSeeded(10, 1)), noAttrs, 0);
    const withPart = tempDir();
    const plain2 = backendAt(withPart, null);
    await plain2.createBucket("bkt", 0);
    const upload = await plain2.createMultipartUpload("bkt", "k", noAttrs, 0);
    await plain2.uploadPart("bkt", "k", upload, 1, bodyOf(randomBytesSeeded(100_000, 1)), 0);
    // every key behind a delete marker: its versions are unencrypted objects too
    const withVersion = tempDir();
    const plain3 = backendAt(withVersion, null);
    await plain3.createBucket("bkt", 0);
    await plain3.setBucketVersioning("bkt", "Enabled");
    await plain3.putObject("bkt", "k", bodyOf(randomBytesSeeded(10, 1)), noAttrs, 0);
    await plain3.deleteObject("bkt", "k", 1);
    const bucketsOnly = tempDir();
    await backendAt(bucketsOnly, null).createBucket("bkt", 0);
    await closeAll();
    for (const dir of [withObject, withPart, withVersion]) {
      expect(() => backendAt(dir)).toThrow(`holds unencrypted objects`);
      expect(() => backendAt(dir)).toThrow(keyFingerprint(key));
      backendAt(dir, null); // still opens without a key
      await closeAll();
    }
    const b = backendAt(bucketsOnly);
    await b.putObject("bkt", "k", bodyOf(markedBytes(5000)), noAttrs, 0);
    await closeAll();
    expect(filesWithMarker(bucketsOnly)).toEqual([]);
    expect(() => backendAt(bucketsOnly, null)).toThrow(EncryptionSetupError);
  });

  test("the orphan sweep keeps sealed blobs that metadata points at and removes the rest", async () => {
    const dir = tempDir();
    const b = backendAt(dir);
    await b.createBucket("bkt", 0);
    await b.putObject("bkt", "k", bodyOf(randomBytesSeeded(100_000, 1)), noAttrs, 0);
    await closeAll();
    writeFileSync(join(dir, "blobs", "ab", "ab".padEnd(32, "0")), "orphan");
    const again = backendAt(dir);
    expect(again.collectOrphans()).toBe(1);
    expect(Buffer.compare(await read(again, "k"), randomBytesSeeded(100_000, 1))).toBe(0);
  });
});
