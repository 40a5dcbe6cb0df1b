/**
 * POST Object forms as real clients make them: boto3's generate_presigned_post (uploaded with
 * python requests, and with curl -F), minio-js's presignedPostPolicy and @aws-sdk/s3-presigned-post
 * (uploaded with fetch), and a browser submitting an HTML form and a FormData from another origin.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type * as Minio from "minio";
import type * as PresignedPost from "@aws-sdk/s3-presigned-post";
import type * as S3Sdk from "@aws-sdk/client-s3";
import { chromium, type Browser } from "playwright-core";
import { s3 } from "../support/client.ts";
import { accessKey, region, secretKey } from "../support/server.ts";
import { clientEnv, clientSuite, md5Hex, requireExecutable, requireModule, run } from "./helpers.ts";

const bucket = "form-uploads";
const chromiumPath = "/usr/bin/chromium";
const suite = clientSuite("post-forms");
const { tmp } = suite;

beforeAll(async () => {
  expect((await s3(suite.server.endpoint, { method: "PUT", path: `/${bucket}` })).status).toBe(200);
});

async function storedText(key: string): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await s3(suite.server.endpoint, { method: "GET", path: `/${bucket}/${key}` });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** Posts `fields` and then the file with fetch's FormData, as a page's script would. */
function postForm(url: string, fields: Record<string, string>, content: string, filename = "upload.txt"): Promise<Response> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new Blob([content]), filename);
  return fetch(url, { method: "POST", body: form, redirect: "manual" });
}

const botoScript = String.raw`
import sys, json
import boto3, botocore, requests
from botocore.config import Config
endpoint, bucket, path = sys.argv[1], sys.argv[2], sys.argv[3]
# SigV4, as s3d verifies (boto3 signs presigned URLs and posts with SigV2 unless told)
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
out = {"boto3": boto3.__version__}
post = s3.generate_presigned_post(bucket, "boto/${"$"}{filename}",
    Fields={"Content-Type": "text/plain", "x-amz-meta-source": "boto3", "success_action_status": "201"},
    Conditions=[{"Content-Type": "text/plain"}, {"x-amz-meta-source": "boto3"}, {"success_action_status": "201"},
                ["content-length-range", 1, 1000]],
    ExpiresIn=300)
with open(path, "rb") as f:
    r = requests.post(post["url"], data=post["fields"], files={"file": ("from boto.txt", f)})
out["status"], out["body"], out["etag"] = r.status_code, r.text, r.headers.get("ETag")
r = requests.post(post["url"], data=post["fields"], files={"file": ("big.txt", b"x" * 1001)})
out["too_large"] = [r.status_code, r.text]
# curl -F with the same fields: curl builds the multipart body itself
out["fields"] = post["fields"]
out["url"] = post["url"]
print(json.dumps(out))
`;

describe("POST Object with real clients", () => {
  for (const python of ["/usr/bin/python3", "python3"]) {
    test(`boto3 generate_presigned_post, posted by requests and by curl -F (${python})`, async () => {
      if (python.startsWith("/")) requireExecutable(python, "Debian python3 (/usr/bin/python3)");
      const file = tmp.file("boto.txt");
      await Bun.write(file, "uploaded through a boto3 POST policy\n");
      const result = await run([python, "-c", botoScript, suite.server.endpoint, bucket, file], { env: clientEnv(tmp) });
      if (result.code !== 0) throw new Error(result.describe);
      const out = JSON.parse(result.stdout);
      const etag = `"${md5Hex("uploaded through a boto3 POST policy\n")}"`;
      expect(out.status).toBe(201);
      expect(out.body).toContain(`<Key>boto/from boto.txt</Key>`);
      expect(out.etag).toBe(etag);
      expect(out.too_large[0]).toBe(400);
      expect(out.too_large[1]).toContain("<Code>EntityTooLarge</Code>");
      const object = await storedText("boto/from boto.txt");
      expect([object.status, object.body, object.headers.get("content-type"), object.headers.get("x-amz-meta-source")]).toEqual([
        200, "uploaded through a boto3 POST policy\n", "text/plain", "boto3",
      ]);

      const curlArgs = Object.entries(out.fields as Record<string, string>).flatMap(([name, value]) => ["--form-string", `${name}=${value}`]);
      await Bun.write(tmp.file("curl.txt"), "posted by curl\n");
      const curl = await run(["curl", "-sS", "-o", tmp.file("curl.out"), "-w", "%{http_code}", ...curlArgs, "-F", `file=@${tmp.file("curl.txt")};filename=curl upload.txt`, out.url], { env: clientEnv(tmp) });
      expect(curl.stdout).toBe("201");
      expect((await storedText("boto/curl upload.txt")).body).toBe("posted by curl\n");
    }, 60_000);
  }

  test("minio-js presignedPostPolicy, posted with fetch", async () => {
    const minio = await requireModule<typeof Minio>("minio");
    const client = new minio.Client({ endPoint: "127.0.0.1", port: suite.server.port, useSSL: false, accessKey, secretKey, pathStyle: true, region });
    const policy = client.newPostPolicy();
    policy.setBucket(bucket);
    policy.setKey("minio/report.csv");
    policy.setContentType("text/csv");
    policy.setContentLengthRange(1, 1024);
    policy.setUserMetaData({ origin: "minio-js" });
    policy.setExpires(new Date(Date.now() + 300_000));
    const { postURL, formData } = await client.presignedPostPolicy(policy);
    const res = await postForm(postURL, formData, "a,b\n1,2\n");
    expect(res.status).toBe(204);
    expect(res.headers.get("etag")).toBe(`"${md5Hex("a,b\n1,2\n")}"`);
    const object = await storedText("minio/report.csv");
    expect([object.body, object.headers.get("content-type"), object.headers.get("x-amz-meta-origin")]).toEqual(["a,b\n1,2\n", "text/csv", "minio-js"]);
    // the policy bounds the key: another one is refused
    const res2 = await postForm(postURL, { ...formData, key: "minio/other.csv" }, "x");
    expect(res2.status).toBe(403);
    expect(await res2.text()).toContain("Policy Condition failed");
  });

  test("@aws-sdk/s3-presigned-post createPresignedPost, posted with fetch", async () => {
    const sdk = await requireModule<typeof S3Sdk>("@aws-sdk/client-s3");
    const { createPresignedPost } = await requireModule<typeof PresignedPost>("@aws-sdk/s3-presigned-post");
    const client = new sdk.S3Client({ endpoint: suite.server.endpoint, region, forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } });
    const { url, fields } = await createPresignedPost(client, {
      Bucket: bucket,
      Key: "sdk/${filename}",
      Conditions: [["starts-with", "$Content-Type", "image/"], ["content-length-range", 1, 4096]],
      Fields: { "Content-Type": "image/svg+xml" },
      Expires: 300,
    });
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"/>';
    const res = await postForm(url, fields, svg, "logo.svg");
    expect(res.status).toBe(204);
    const object = await storedText("sdk/logo.svg");
    expect([object.body, object.headers.get("content-type")]).toEqual([svg, "image/svg+xml"]);
    client.destroy();
  });

  test("a browser submits an HTML form from another origin and follows the redirect; a script posts a FormData", async () => {
    if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install -y chromium`);
    const sdk = await requireModule<typeof S3Sdk>("@aws-sdk/client-s3");
    const { createPresignedPost } = await requireModule<typeof PresignedPost>("@aws-sdk/s3-presigned-post");
    const client = new sdk.S3Client({ endpoint: suite.server.endpoint, region, forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } });
    let page: ReturnType<typeof Bun.serve> | undefined;
    let browser: Browser | undefined;
    try {
      page = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("<!doctype html><title>uploaded</title>", { headers: { "content-type": "text/html" } }) });
      const origin = `http://127.0.0.1:${page.port}`;
      const cors = `<CORSConfiguration><CORSRule><AllowedOrigin>${origin}</AllowedOrigin><AllowedMethod>POST</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader></CORSRule></CORSConfiguration>`;
      expect((await s3(suite.server.endpoint, { method: "PUT", path: `/${bucket}`, query: [["cors", ""]], body: cors })).status).toBe(200);
      const redirect = `${origin}/done`;
      const signed = await createPresignedPost(client, {
        Bucket: bucket,
        Key: "browser/${filename}",
        Fields: { success_action_redirect: redirect },
        Expires: 300,
      });
      browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
      const tab = await browser.newPage();
      await tab.goto(`${origin}/`);
      const inputs = Object.entries(signed.fields).map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`).join("");
      await tab.setContent(`<form id="f" method="post" enctype="multipart/form-data" action="${signed.url}">${inputs}<input type="file" name="file"></form>`);
      await tab.setInputFiles('input[type="file"]', { name: "photo.txt", mimeType: "text/plain", buffer: Buffer.from("chosen in a file input") });
      await Promise.all([tab.waitForURL(/\/done\?/), tab.locator("#f").evaluate((form) => (form as unknown as { submit(): void }).submit())]);
      const landed = new URL(tab.url());
      expect(Object.fromEntries(landed.searchParams)).toEqual({ bucket, key: "browser/photo.txt", etag: `"${md5Hex("chosen in a file input")}"` });
      expect((await storedText("browser/photo.txt")).body).toBe("chosen in a file input");

      const scripted = await createPresignedPost(client, { Bucket: bucket, Key: "browser/scripted.txt", Expires: 300 });
      await tab.goto(`${origin}/`);
      const result = await tab.evaluate(async ({ url, fields }) => {
        const form = new FormData();
        for (const [name, value] of Object.entries(fields)) form.append(name, value);
        form.append("file", new Blob(["posted by fetch"]), "scripted.txt");
        const res = await fetch(url, { method: "POST", body: form });
        return { status: res.status, etag: res.headers.get("etag") };
      }, scripted);
      expect(result).toEqual({ status: 204, etag: `"${md5Hex("posted by fetch")}"` });
      expect((await storedText("browser/scripted.txt")).body).toBe("posted by fetch");
    } finally {
      await browser?.close();
      page?.stop(true);
      client.destroy();
    }
  }, 60_000);
});
