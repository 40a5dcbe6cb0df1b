/**
 * A data dir whose filesystem is below the free-space floor (here: a floor larger than any disk)
 * refuses new object data with 507 InsufficientStorage, loses nothing, and keeps serving reads,
 * deletes and metadata.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { errorCode, s3 } from "../support/client.ts";
import { startS3d, type TestServer } from "../support/server.ts";

let roomy: TestServer;
let full: TestServer;
const bucket = "space";

beforeAll(async () => {
  roomy = await startS3d();
  expect((await s3(roomy.endpoint, { method: "PUT", path: `/${bucket}` })).status).toBe(200);
  expect((await s3(roomy.endpoint, { method: "PUT", path: `/${bucket}/kept`, body: "stored while there was room" })).status).toBe(200);
  roomy.process.kill();
  await roomy.process.exited;
  const dataDir = roomy.dataDir;
  full = await startS3d({ dataDir, args: ["--min-free", "1000TiB"] });
});
afterAll(async () => {
  await full.stop();
});

test("PUT of any size and UploadPart answer 507 InsufficientStorage", async () => {
  for (const body of ["x", "y".repeat(200_000)]) {
    const res = await s3(full.endpoint, { method: "PUT", path: `/${bucket}/new`, body });
    expect(res.status).toBe(507);
    expect(await errorCode(res)).toBe("InsufficientStorage");
  }
  const created = await s3(full.endpoint, { method: "POST", path: `/${bucket}/multi`, query: [["uploads", ""]] });
  expect(created.status).toBe(200); // metadata only
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await created.text())![1];
  const part = await s3(full.endpoint, { method: "PUT", path: `/${bucket}/multi`, query: [["partNumber", "1"], ["uploadId", uploadId]], body: "part" });
  expect(part.status).toBe(507);
  expect(await errorCode(part)).toBe("InsufficientStorage");
  expect((await s3(full.endpoint, { method: "DELETE", path: `/${bucket}/multi`, query: [["uploadId", uploadId]] })).status).toBe(204);
  expect((await s3(full.endpoint, { method: "GET", path: `/${bucket}/new` })).status).toBe(404);
});

test("reads and deletes keep working, and the stored object is intact", async () => {
  const res = await s3(full.endpoint, { method: "GET", path: `/${bucket}/kept` });
  expect(await res.text()).toBe("stored while there was room");
  expect((await s3(full.endpoint, { method: "DELETE", path: `/${bucket}/kept` })).status).toBe(204);
  expect((await s3(full.endpoint, { method: "GET", path: `/${bucket}/kept` })).status).toBe(404);
});
