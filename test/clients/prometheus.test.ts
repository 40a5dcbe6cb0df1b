/**
 * /_s3d/metrics read by Prometheus itself (Debian's prometheus 2.42): promtool accepts the
 * exposition, and a Prometheus server scraping with the bearer token from a credentials file
 * stores what s3d counted.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import type { Subprocess } from "bun";
import { s3 } from "../support/client.ts";
import { freePort, startS3d, type TestServer } from "../support/server.ts";
import { clientEnv, makeTempDir, requireExecutable, run, type TempDir } from "./helpers.ts";

const token = "prometheus-scrape-token-0123456789";
let server: TestServer;
let tmp: TempDir;
let prometheus: Subprocess | undefined;

beforeAll(async () => {
  tmp = makeTempDir("prometheus");
  writeFileSync(tmp.file("token"), `${token}\n`, { mode: 0o600 });
  server = await startS3d({ args: ["--metrics-token-file", tmp.file("token")] });
});

afterAll(async () => {
  prometheus?.kill();
  await prometheus?.exited;
  await server?.stop();
  tmp?.remove();
});

const scrape = async () => (await fetch(`${server.endpoint}/_s3d/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();

test("promtool check metrics finds nothing wrong in the exposition", async () => {
  requireExecutable("/usr/bin/promtool", "promtool (apt-get install -y prometheus)");
  expect((await s3(server.endpoint, { method: "PUT", path: "/linted" })).status).toBe(200);
  expect((await s3(server.endpoint, { method: "GET", path: "/linted/missing" })).status).toBe(404);
  const checked = await run(["/usr/bin/promtool", "check", "metrics"], { env: clientEnv(tmp), stdin: await scrape() });
  expect(checked.code, checked.describe).toBe(0);
  expect(checked.stdout + checked.stderr).toBe("");
});

test("a Prometheus server scrapes it with the token from a credentials file", async () => {
  requireExecutable("/usr/bin/prometheus", "Prometheus (apt-get install -y prometheus)");
  for (let i = 0; i < 5; i++) expect((await s3(server.endpoint, { method: "PUT", path: `/linted/k${i}`, body: "x" })).status).toBe(200);
  const port = await freePort();
  writeFileSync(
    tmp.file("prometheus.yml"),
    [
      "global:",
      "  scrape_interval: 1s",
      "scrape_configs:",
      "  - job_name: s3d",
      "    metrics_path: /_s3d/metrics",
      "    authorization:",
      `      credentials_file: ${tmp.file("token")}`,
      "    static_configs:",
      `      - targets: ["127.0.0.1:${server.port}"]`,
      "",
    ].join("\n"),
  );
  prometheus = Bun.spawn(
    ["/usr/bin/prometheus", `--config.file=${tmp.file("prometheus.yml")}`, `--storage.tsdb.path=${tmp.file("tsdb")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    { stdout: "ignore", stderr: "pipe" },
  );
  const query = async (promql: string): Promise<string | undefined> => {
    try {
      const answer = (await (await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
      return answer.data.result[0]?.value[1];
    } catch {
      return undefined; // not listening yet
    }
  };
  const deadline = Date.now() + 30_000;
  let puts: string | undefined;
  while (Date.now() < deadline) {
    puts = await query('s3d_requests_total{job="s3d",operation="PutObject",status="200"}');
    if (puts !== undefined) break;
    await Bun.sleep(250);
  }
  expect(puts).toBe("5");
  expect(await query('up{job="s3d"}')).toBe("1");
  expect(await query('s3d_buckets{job="s3d"}')).toBe("1");
  expect(await query('s3d_errors_total{job="s3d",code="NoSuchKey"}')).toBe("1");
}, 60_000);
