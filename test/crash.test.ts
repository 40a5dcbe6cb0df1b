/**
 * Durability (ARCHITECTURE §3): kill -9 the server during 32 concurrent PUTs, restart it, and
 * check that every acknowledged object reads back byte-identical and nothing half-written shows.
 * Run twice: with plain object files, and with encryption at rest (sealed blobs and rows); and once
 * in a versioned bucket, where every acknowledged version must survive, current or not.
 */
import { afterAll, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inlineObjectBytesMax } from "../src/store/fs/backend.ts";
import { directBlobBytesMin } from "../src/store/fs/blob-sinks.ts";
import { s3 } from "./support/client.ts";
import { startS3d, type TestServer } from "./support/server.ts";
import { mulberry32 } from "./sigv4/prng.ts";

const servers: TestServer[] = [];
const keyDir = mkdtempSync(join(tmpdir(), "s3d-crash-key-"));
afterAll(async () => {
  for (const s of servers) await s.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

const writers = 32;
const bucket = "crash-test";

function contentFor(key: string, sizeBytes: number): Uint8Array {
  const rand = mulberry32(Number.parseInt(createHash("sha1").update(key).digest("hex").slice(0, 8), 16));
  const out = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i += 4) {
    const v = (rand() * 2 ** 32) >>> 0;
    out[i] = v & 0xff;
    out[i + 1] = (v >>> 8) & 0xff;
    out[i + 2] = (v >>> 16) & 0xff;
    out[i + 3] = v >>> 24;
  }
  return out;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function encryptionArgs(): string[] {
  const keyFile = join(keyDir, "master.key");
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  return ["--encryption-key-file", keyFile];
}

for (const mode of ["plain", "encrypted"] as const) {
  test(`kill -9 during 32 concurrent PUTs loses no acknowledged object and shows no partial one (${mode})`, async () => {
    const s3d = await startS3d({ args: mode === "encrypted" ? encryptionArgs() : [] });
    servers.push(s3d);
    const { endpoint } = s3d;
    expect((await s3(endpoint, { method: "PUT", path: `/${bucket}` })).status).toBe(200);

    const attempted = new Map<string, string>(); // key → sha256 of what was sent
    const acknowledged = new Map<string, string>();
    let acknowledgedDirect = 0;
    const sizes = mulberry32(99);
    let killed = false;
    const writer = async (w: number) => {
      for (let i = 0; !killed; i++) {
        // overwrites of a shared key and fresh keys, small and large bodies
        const key = i % 3 === 0 ? `shared-${w % 4}` : `w${w}/obj-${i}`;
        // every tenth write is large enough to bypass the page cache (O_DIRECT)
        const size = i % 10 === 5 ? directBlobBytesMin + Math.floor(sizes() * 4_000_000) : Math.floor(sizes() * (i % 5 === 0 ? 3_000_000 : 60_000));
        const body = contentFor(`${key}#${w}#${i}`, size);
        const digest = sha(body);
        attempted.set(`${key}#${digest}`, digest);
        try {
          const res = await s3(endpoint, { method: "PUT", path: `/${bucket}/${key}`, body });
          if (res.status === 200) {
            acknowledged.set(key, digest);
            if (size >= directBlobBytesMin) acknowledgedDirect++;
          }
        } catch {
          return; // the server died under us
        }
      }
    };
    const running = Array.from({ length: writers }, (_, w) => writer(w));
    // the kill comes after 1.5 s of writes and once a direct write has been acknowledged (a slow
    // machine, encrypting, may need longer for the first of those)
    await Bun.sleep(1500);
    for (const deadline = Date.now() + 20_000; acknowledgedDirect === 0 && Date.now() < deadline; ) await Bun.sleep(50);
    killed = true;
    await s3d.crash();
    await Promise.all(running);
    expect(acknowledged.size).toBeGreaterThan(writers);
    expect(acknowledgedDirect).toBeGreaterThan(0);

    await s3d.restart();
    // Every acknowledged write survives byte for byte. A shared key may hold a newer write
    // that was committed but whose acknowledgement was lost in the crash: it must be whole.
    for (const [key, digest] of acknowledged) {
      const res = await s3(endpoint, { method: "GET", path: `/${bucket}/${key}` });
      expect(res.status).toBe(200);
      const got = sha(new Uint8Array(await res.arrayBuffer()));
      if (key.startsWith("shared-")) expect(attempted.has(`${key}#${got}`)).toBe(true);
      else expect(got).toBe(digest);
    }
    // Every key that is listed reads back as one whole write that was attempted.
    const listed: string[] = [];
    let token: string | undefined;
    do {
      const query: [string, string][] = [["list-type", "2"]];
      if (token) query.push(["continuation-token", token]);
      const text = await (await s3(endpoint, { method: "GET", path: `/${bucket}`, query })).text();
      listed.push(...[...text.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]));
      token = /<NextContinuationToken>([^<]+)</.exec(text)?.[1];
    } while (token);
    for (const key of listed) {
      const got = sha(new Uint8Array(await (await s3(endpoint, { method: "GET", path: `/${bucket}/${key}` })).arrayBuffer()));
      expect(attempted.has(`${key}#${got}`)).toBe(true);
    }
    // Orphans of interrupted writes were collected at start-up: what is left are the files of
    // the listed objects that are too large to live in their metadata row.
    const blobs = readdirSync(join(s3d.dataDir, "blobs")).flatMap((d) => readdirSync(join(s3d.dataDir, "blobs", d)));
    const fileBacked = await Promise.all(
      listed.map(async (key) => Number((await s3(endpoint, { method: "HEAD", path: `/${bucket}/${key}` })).headers.get("content-length")) > inlineObjectBytesMax),
    );
    expect(blobs.length).toBe(fileBacked.filter(Boolean).length);
  }, 60_000);

  // 8-10 MiB objects are written directly, 1-3 MiB ones through the page cache: both over spares
  for (const [sizes, minBytes] of [["8-10 MiB", directBlobBytesMin], ["1-3 MiB", 1024 * 1024]] as const)
  test(`kill -9 while ${sizes} objects are overwritten, each written over the blob its key's last version left, loses no acknowledged one (${mode})`, async () => {
    const s3d = await startS3d({ args: mode === "encrypted" ? encryptionArgs() : [] });
    servers.push(s3d);
    const { endpoint } = s3d;
    expect((await s3(endpoint, { method: "PUT", path: `/${bucket}` })).status).toBe(200);
    const keys = 8;
    const lastAcknowledged = new Map<string, string>();
    /** the write whose answer the crash may have cut off, per key */
    const inFlight = new Map<string, string>();
    let overwrites = 0;
    let killed = false;
    const random = mulberry32(7);
    const writer = async (w: number) => {
      const key = `big-${w}`;
      for (let i = 0; !killed; i++) {
        const body = contentFor(`${key}#${i}`, minBytes + Math.floor(random() * 2_000_000));
        inFlight.set(key, sha(body));
        let res: Response;
        try {
          res = await s3(endpoint, { method: "PUT", path: `/${bucket}/${key}`, body });
        } catch {
          return; // the server died under us
        }
        expect(res.status).toBe(200);
        if (lastAcknowledged.has(key)) overwrites++;
        lastAcknowledged.set(key, sha(body));
      }
    };
    const running = Array.from({ length: keys }, (_, w) => writer(w));
    // every key overwritten a few times: from the second overwrite on, the blob is written over a spare
    for (const deadline = Date.now() + 30_000; overwrites < 3 * keys && Date.now() < deadline; ) await Bun.sleep(20);
    expect(overwrites).toBeGreaterThanOrEqual(3 * keys);
    killed = true;
    await s3d.crash();
    await Promise.all(running);

    await s3d.restart();
    for (const [key, digest] of lastAcknowledged) {
      const res = await s3(endpoint, { method: "GET", path: `/${bucket}/${key}` });
      expect(res.status).toBe(200);
      // the last acknowledged version, or the one after it, committed as the server died
      expect([digest, inFlight.get(key)]).toContain(sha(new Uint8Array(await res.arrayBuffer())));
    }
    // the spares and the interrupted writes' files were collected at start-up
    const blobs = readdirSync(join(s3d.dataDir, "blobs")).flatMap((d) => readdirSync(join(s3d.dataDir, "blobs", d)));
    expect(blobs.length).toBe(keys);
  }, 60_000);
}

test("kill -9 during overwrites and deletes in a versioned bucket loses no acknowledged version, and start-up keeps the noncurrent versions' files", async () => {
  const s3d = await startS3d();
  servers.push(s3d);
  const { endpoint } = s3d;
  const versioned = "crash-versions";
  expect((await s3(endpoint, { method: "PUT", path: `/${versioned}` })).status).toBe(200);
  const enable = `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`;
  expect((await s3(endpoint, { method: "PUT", path: `/${versioned}`, query: [["versioning", ""]], body: enable })).status).toBe(200);
  /** version id → [key, sha256 of its bytes, or "marker"] */
  const acknowledged = new Map<string, [string, string]>();
  let killed = false;
  const sizes = mulberry32(11);
  const writer = async (w: number) => {
    for (let i = 0; !killed; i++) {
      const key = `k${w % 6}`;
      try {
        if (i % 7 === 6) {
          const res = await s3(endpoint, { method: "DELETE", path: `/${versioned}/${key}` });
          if (res.status === 204) acknowledged.set(res.headers.get("x-amz-version-id")!, [key, "marker"]);
          continue;
        }
        // small (inline) and file-backed versions
        const body = contentFor(`${key}#${w}#${i}`, Math.floor(sizes() * (i % 3 === 0 ? 400_000 : 20_000)));
        const res = await s3(endpoint, { method: "PUT", path: `/${versioned}/${key}`, body });
        if (res.status === 200) acknowledged.set(res.headers.get("x-amz-version-id")!, [key, sha(body)]);
      } catch {
        return; // the server died under us
      }
    }
  };
  const running = Array.from({ length: 16 }, (_, w) => writer(w));
  await Bun.sleep(1500);
  killed = true;
  await s3d.crash();
  await Promise.all(running);
  expect(acknowledged.size).toBeGreaterThan(16);

  await s3d.restart();
  for (const [versionId, [key, digest]] of acknowledged) {
    const res = await s3(endpoint, { method: "GET", path: `/${versioned}/${key}`, query: [["versionId", versionId]] });
    if (digest === "marker") expect([res.status, res.headers.get("x-amz-delete-marker")]).toEqual([405, "true"]);
    else expect([res.status, sha(new Uint8Array(await res.arrayBuffer()))]).toEqual([200, digest]);
  }
  const listedIds = new Set<string>();
  for (let markers: [string, string][] = [], page = 0; page < 100; page++) {
    const listing = await (await s3(endpoint, { method: "GET", path: `/${versioned}`, query: [["versions", ""], ...markers] })).text();
    for (const m of listing.matchAll(/<VersionId>([^<]+)<\/VersionId>/g)) listedIds.add(m[1]);
    const [next, nextVersion] = [/<NextKeyMarker>([^<]+)</.exec(listing)?.[1], /<NextVersionIdMarker>([^<]+)</.exec(listing)?.[1]];
    if (next === undefined) break;
    markers = [["key-marker", next], ["version-id-marker", nextVersion!]];
  }
  for (const versionId of acknowledged.keys()) expect(listedIds.has(versionId)).toBe(true);
}, 60_000);
