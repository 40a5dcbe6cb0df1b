/**
 * A static website made with the AWS CLI (`aws s3 website`, `s3 sync`, a public-read policy) and
 * visited with curl at the bucket's website host, resolved to loopback as DNS would.
 */
import { expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { clientEnv, clientSuite, run } from "./helpers.ts";

const domain = "web.clients.test";
const bucket = "cli-site";

const suite = clientSuite("website", () => ({ args: ["--website-domain", domain] }));
const { tmp, aws } = suite;

/** curl at http://BUCKET.DOMAIN:PORT/PATH, the name resolved to 127.0.0.1: status, then body. */
const curl = (path: string) =>
  run(["curl", "-sS", "--resolve", `${bucket}.${domain}:${suite.server.port}:127.0.0.1`, "-w", "\n%{http_code} %{redirect_url}", `http://${bucket}.${domain}:${suite.server.port}${path}`], { env: clientEnv(tmp) });

test("aws s3 website and s3 sync make a site that curl visits: index, subdirectory, error document", async () => {
  mkdirSync(tmp.file("site/guide"), { recursive: true });
  writeFileSync(tmp.file("site/index.html"), "<h1>welcome</h1>");
  writeFileSync(tmp.file("site/guide/index.html"), "<h1>guide</h1>");
  writeFileSync(tmp.file("site/error.html"), "<h1>not here</h1>");
  expect((await aws("s3", "mb", `s3://${bucket}`)).code).toBe(0);
  const sync = await aws("s3", "sync", "--only-show-errors", tmp.file("site"), `s3://${bucket}/`);
  expect(sync.code, sync.describe).toBe(0);
  const website = await aws("s3", "website", `s3://${bucket}/`, "--index-document", "index.html", "--error-document", "error.html");
  expect(website.code, website.describe).toBe(0);
  const shown = await aws("s3api", "get-bucket-website", "--bucket", bucket);
  expect(JSON.parse(shown.stdout)).toEqual({ IndexDocument: { Suffix: "index.html" }, ErrorDocument: { Key: "error.html" } });
  writeFileSync(tmp.file("policy.json"), JSON.stringify({ Statement: [{ Effect: "Allow", Principal: "*", Action: ["s3:GetObject", "s3:ListBucket"], Resource: [`arn:aws:s3:::${bucket}/*`, `arn:aws:s3:::${bucket}`] }] }));
  expect((await aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", `file://${tmp.file("policy.json")}`)).code).toBe(0);

  expect((await curl("/")).stdout).toBe("<h1>welcome</h1>\n200 ");
  expect((await curl("/guide/")).stdout).toBe("<h1>guide</h1>\n200 ");
  expect((await curl("/guide")).stdout).toBe(`\n302 http://${bucket}.${domain}:${suite.server.port}/guide/`);
  expect((await curl("/missing.html")).stdout).toBe("<h1>not here</h1>\n404 ");
  const deleted = await aws("s3api", "delete-bucket-website", "--bucket", bucket);
  expect(deleted.code, deleted.describe).toBe(0);
  expect((await curl("/")).stdout).toContain("NoSuchWebsiteConfiguration");
}, 120_000);
