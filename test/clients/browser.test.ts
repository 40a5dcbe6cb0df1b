/**
 * A real browser (Debian's chromium, driven by playwright-core) uploads with a presigned URL
 * from a page on another origin: the CORS preflight and the actual requests must pass.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { presignQuery } from "../../src/sigv4/index.ts";
import { s3 } from "../support/client.ts";
import { accessKey, region, secretKey, startS3d, type TestServer } from "../support/server.ts";

const chromiumPath = "/usr/bin/chromium";
let server: TestServer;
let page: ReturnType<typeof Bun.serve>;
let browser: Browser;
const bucket = "browser-uploads";

beforeAll(async () => {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install -y chromium`);
  server = await startS3d();
  page = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("<!doctype html><title>uploader</title>", { headers: { "content-type": "text/html" } }) });
  await s3(server.endpoint, { method: "PUT", path: `/${bucket}` });
  const cors = `<CORSConfiguration><CORSRule><AllowedOrigin>http://127.0.0.1:${page.port}</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader></CORSRule></CORSConfiguration>`;
  expect((await s3(server.endpoint, { method: "PUT", path: `/${bucket}`, query: [["cors", ""]], body: cors })).status).toBe(200);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    // playwright gives the browser a fresh temporary profile of its own
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  page?.stop(true);
  await server?.stop();
});

function presigned(method: string, key: string): string {
  const host = new URL(server.endpoint).host;
  return `${server.endpoint}/${bucket}/${key}?${presignQuery({ method, decodedPath: `/${bucket}/${key}`, host, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), expiresSec: 300 })}`;
}

test("a page on another origin PUTs with a presigned URL and reads the object back", async () => {
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${page.port}/`);
  const putUrl = presigned("PUT", "from-browser.txt");
  const getUrl = presigned("GET", "from-browser.txt");
  const result = await tab.evaluate(
    async ({ putUrl, getUrl }) => {
      // content-type text/x-custom is not a "simple" header value: the browser must preflight
      const put = await fetch(putUrl, { method: "PUT", body: "uploaded by a browser", headers: { "content-type": "text/x-custom" } });
      const get = await fetch(getUrl);
      return { putStatus: put.status, etag: put.headers.get("etag"), getStatus: get.status, body: await get.text() };
    },
    { putUrl, getUrl },
  );
  expect(result).toMatchObject({ putStatus: 200, getStatus: 200, body: "uploaded by a browser" });
  expect(result.etag).toMatch(/^"[0-9a-f]{32}"$/);
  const stored = await s3(server.endpoint, { method: "GET", path: `/${bucket}/from-browser.txt` });
  expect(stored.headers.get("content-type")).toBe("text/x-custom");
  expect(await stored.text()).toBe("uploaded by a browser");
  await tab.close();
}, 60_000);

test("a page on an origin the rules do not name is stopped by the browser", async () => {
  const other = Bun.serve({ hostname: "127.0.0.2", port: 0, fetch: () => new Response("<!doctype html>", { headers: { "content-type": "text/html" } }) });
  try {
    const tab = await browser.newPage();
    await tab.goto(`http://127.0.0.2:${other.port}/`);
    const outcome = await tab.evaluate(async (url) => {
      try {
        await fetch(url, { method: "PUT", body: "x", headers: { "content-type": "text/x-custom" } });
        return "allowed";
      } catch {
        return "blocked";
      }
    }, presigned("PUT", "foreign.txt"));
    expect(outcome).toBe("blocked");
    expect((await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/foreign.txt` })).status).toBe(404);
    await tab.close();
  } finally {
    other.stop(true);
  }
}, 60_000);
