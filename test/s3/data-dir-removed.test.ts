/**
 * A data dir removed while s3d runs: SQLite would go on committing to files no path leads to, so
 * writes would be acknowledged and lost at the next start. s3d refuses them instead, and its
 * health check says why.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { errorCode, s3 } from "../support/client.ts";
import { startS3d, type TestServer } from "../support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startS3d();
  expect((await s3(server.endpoint, { method: "PUT", path: "/kept" })).status).toBe(200);
});
afterAll(async () => {
  await server.stop();
});

test("metadata writes are refused, not acknowledged, and the health check answers 503", async () => {
  expect((await fetch(`${server.endpoint}/_s3d/health`)).status).toBe(200);
  rmSync(server.dataDir, { recursive: true, force: true });
  for (const request of [
    { method: "PUT", path: "/new-bucket" },
    { method: "PUT", path: "/kept/key", body: "small" },
    { method: "POST", path: "/kept/upload", query: [["uploads", ""]] as [string, string][] },
  ]) {
    const res = await s3(server.endpoint, request);
    expect([request.path, res.status, await errorCode(res)]).toEqual([request.path, 500, "InternalError"]);
  }
  const health = await fetch(`${server.endpoint}/_s3d/health`);
  expect(health.status).toBe(503);
  expect(await health.text()).toContain("the data dir was removed while s3d ran");
});
