/**
 * A disk that fills from outside s3d, on a real filesystem: a small tmpfs mounted for the test
 * (so it needs root, which CI has). An upload that meets the full disk mid-body is answered 507;
 * with no byte free, deletes and aborts still work (s3d keeps a reserve file to give back for
 * them); s3d starts on a full disk; nothing stored is lost.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statfsSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signHeaders, unsignedPayload } from "../../src/sigv4/index.ts";
import { errorCode, md5Base64, s3 } from "../support/client.ts";
import { accessKey, region, secretKey, startS3d, type TestServer } from "../support/server.ts";

const mountDir = mkdtempSync(join(tmpdir(), "s3d-full-disk-"));
const hog = join(mountDir, "hog");
const bucket = "full";
let server: TestServer;
let uploadId: string;
const kept = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);

function run(argv: string[]): void {
  const r = Bun.spawnSync(argv, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr.toString()}`);
}

/** Takes every byte the filesystem has left (an upload in flight may be taking some too). */
function fillDisk(): void {
  rmSync(hog, { force: true });
  rmSync(`${hog}-rest`, { force: true });
  const fs = statfsSync(mountDir);
  run(["fallocate", "-l", String(Math.max(4096, fs.bavail * fs.bsize - 1024 * 1024)), hog]);
  // the rest in small writes, until the filesystem refuses (dd then fails, as it should)
  Bun.spawnSync(["dd", "if=/dev/zero", `of=${hog}-rest`, "bs=4096"], { stderr: "ignore" });
  expect(statfsSync(mountDir).bavail).toBe(0);
}

function freeDisk(): void {
  rmSync(hog, { force: true });
  rmSync(`${hog}-rest`, { force: true });
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("this test mounts a tmpfs: run it as root (CI does)");
  run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mountDir]);
  server = await startS3d({ dataDir: join(mountDir, "data"), args: ["--min-free", "1MiB"] });
  expect((await s3(server.endpoint, { method: "PUT", path: `/${bucket}` })).status).toBe(200);
  expect((await s3(server.endpoint, { method: "PUT", path: `/${bucket}/kept`, body: kept })).status).toBe(200);
  expect((await s3(server.endpoint, { method: "PUT", path: `/${bucket}/also-kept`, body: "small" })).status).toBe(200);
  const created = await s3(server.endpoint, { method: "POST", path: `/${bucket}/open-upload`, query: [["uploads", ""]] });
  uploadId = /<UploadId>([^<]+)</.exec(await created.text())![1];
});

afterAll(async () => {
  await server?.stop();
  Bun.spawnSync(["umount", mountDir]);
  rmSync(mountDir, { recursive: true, force: true });
});

/**
 * A PUT of `totalBytes` whose body is sent in 256 KiB pieces, calling `midway` once `pauseAfter`
 * bytes are out; resolves to the answer (which may come before the whole body was sent).
 */
function pacedPut(key: string, totalBytes: number, pauseAfter: number, midway: () => void): Promise<{ status: number; body: string }> {
  const url = new URL(server.endpoint);
  const headers: Record<string, string> = { host: url.host, "content-length": String(totalBytes) };
  const signed = signHeaders({ method: "PUT", decodedPath: `/${bucket}/${key}`, query: [], headers, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), payloadHash: unsignedPayload });
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method: "PUT", path: `/${bucket}/${key}`, headers: { ...headers, ...signed } }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.on("close", () => reject(new Error("the connection closed without an answer")));
    const piece = new Uint8Array(256 * 1024).fill(0x61);
    let sent = 0;
    const next = () => {
      if (req.destroyed || sent >= totalBytes) return void req.end();
      if (sent >= pauseAfter && sent - piece.length < pauseAfter) {
        try {
          midway();
        } catch (error) {
          req.destroy();
          return reject(error);
        }
      }
      sent += piece.length;
      req.write(piece, () => setTimeout(next, 5));
    };
    next();
  });
}

test("an upload that meets the full disk mid-body is answered 507 InsufficientStorage, not left hanging", async () => {
  for (const [key, sizeBytes] of [["written-directly", 24 * 1024 * 1024], ["through-page-cache", 4 * 1024 * 1024]] as const) {
    const answer = await Promise.race([
      pacedPut(key, sizeBytes, 1024 * 1024, fillDisk),
      Bun.sleep(15_000).then(() => ({ status: 0, body: "no answer within 15 s" })),
    ]);
    expect(answer.status, answer.body).toBe(507);
    expect(answer.body).toContain("<Code>InsufficientStorage</Code>");
    expect((await s3(server.endpoint, { method: "GET", path: `/${bucket}/${key}` })).status).toBe(404);
    freeDisk();
  }
});

test("with no byte free, reads, deletes and aborts still work, and s3d starts", async () => {
  fillDisk();
  const got = await s3(server.endpoint, { method: "GET", path: `/${bucket}/kept` });
  expect(new Uint8Array(await got.arrayBuffer())).toEqual(kept);
  // (an object small enough to live in its metadata row may still fit in the log's free pages)
  const put = await s3(server.endpoint, { method: "PUT", path: `/${bucket}/refused`, body: new Uint8Array(300_000) });
  expect(await errorCode(put)).toBe("InsufficientStorage");
  // the reserve's bytes make room for the abort's commit
  expect((await s3(server.endpoint, { method: "DELETE", path: `/${bucket}/open-upload`, query: [["uploadId", uploadId]] })).status).toBe(204);

  // the disk fills again, taking those bytes too; s3d is killed and starts on it
  fillDisk();
  await server.crash();
  await server.restart();
  expect((await s3(server.endpoint, { method: "GET", path: `/${bucket}/also-kept` })).status).toBe(200);
  expect((await s3(server.endpoint, { method: "DELETE", path: `/${bucket}/kept` })).status).toBe(204);
  const body = "<Delete><Object><Key>also-kept</Key></Object></Delete>";
  const deleted = await s3(server.endpoint, { method: "POST", path: `/${bucket}`, query: [["delete", ""]], body, headers: { "content-md5": md5Base64(body) } });
  expect(await deleted.text()).toContain("<Deleted><Key>also-kept</Key></Deleted>");
  expect((await s3(server.endpoint, { method: "GET", path: `/${bucket}/kept` })).status).toBe(404);

  freeDisk();
  expect((await s3(server.endpoint, { method: "PUT", path: `/${bucket}/after`, body: "room again" })).status).toBe(200);
});
