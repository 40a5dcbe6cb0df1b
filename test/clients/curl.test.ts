/**
 * curl 7.88 with its built-in SigV4 (--aws-sigv4). curl sends no x-amz-content-sha256 of its
 * own, so the tests add UNSIGNED-PAYLOAD as S3 users do.
 */
import { describe, expect, test } from "bun:test";
import { accessKey, secretKey } from "../support/server.ts";
import { clientEnv, clientSuite, requireExecutable, run, sha256File, writeRandomFile, xmlErrorCode } from "./helpers.ts";

const curlPath = "/usr/bin/curl";
const bucket = "curl-bucket";


interface CurlResult {
  status: number;
  body: string;
  headers: string;
  describe: string;
}

/** curl with SigV4 signing unless sign is false; -w prints the status as the last line. */
async function curl(args: string[], sign = true): Promise<CurlResult> {
  requireExecutable(curlPath, "curl (/usr/bin/curl)");
  const auth = sign ? ["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", `${accessKey}:${secretKey}`, "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"] : [];
  const headerFile = tmp.file(`headers-${crypto.randomUUID()}`);
  const r = await run([curlPath, "-sS", "-D", headerFile, "-w", "\n%{http_code}", ...auth, ...args], { env: clientEnv(tmp), timeoutMs: 30_000 });
  expect(r.code, r.describe).toBe(0);
  const lines = r.stdout.split("\n");
  const status = Number(lines.pop());
  const headers = await Bun.file(headerFile).text();
  return { status, body: lines.join("\n"), headers, describe: `${r.describe}\nheaders: ${headers}` };
}

function header(headers: string, name: string): string | undefined {
  const re = new RegExp(`^${name}:\\s*(.*?)\\s*$`, "im");
  return re.exec(headers)?.[1];
}

const suite = clientSuite("curl");
const { tmp } = suite;

describe("curl --aws-sigv4", () => {
  test("PUT bucket, PUT file, GET, Range GET, DELETE", async () => {
    const sha = await writeRandomFile(tmp.file("file.bin"), 70_000);
    const data = new Uint8Array(await Bun.file(tmp.file("file.bin")).arrayBuffer());
    const url = `${suite.server.endpoint}/${bucket}`;

    const mb = await curl(["-X", "PUT", url]);
    expect(mb.status, mb.describe).toBe(200);

    const put = await curl(["-T", tmp.file("file.bin"), `${url}/dir/file.bin`]);
    expect(put.status, put.describe).toBe(200);
    expect(header(put.headers, "etag")).toBe(`"${new Bun.CryptoHasher("md5").update(data).digest("hex")}"`);

    const get = await curl(["-o", tmp.file("file.back"), `${url}/dir/file.bin`]);
    expect(get.status, get.describe).toBe(200);
    expect(await sha256File(tmp.file("file.back"))).toBe(sha);
    expect(header(get.headers, "content-length")).toBe("70000");

    const range = await curl(["-H", "Range: bytes=2-5", "-o", tmp.file("range.back"), `${url}/dir/file.bin`]);
    expect(range.status, range.describe).toBe(206);
    expect(header(range.headers, "content-range")).toBe("bytes 2-5/70000");
    expect(header(range.headers, "content-length")).toBe("4");
    expect(Buffer.from(await Bun.file(tmp.file("range.back")).arrayBuffer()).equals(Buffer.from(data.subarray(2, 6)))).toBe(true);

    const unsatisfiable = await curl(["-H", "Range: bytes=70000-70010", `${url}/dir/file.bin`]);
    expect(unsatisfiable.status, unsatisfiable.describe).toBe(416);
    expect(xmlErrorCode(unsatisfiable.body), unsatisfiable.describe).toBe("InvalidRange");

    const list = await curl([`${url}?list-type=2&prefix=dir%2F`]);
    expect(list.status, list.describe).toBe(200);
    expect(list.body).toContain("<Key>dir/file.bin</Key>");
    expect(list.body).toContain("<Size>70000</Size>");

    const del = await curl(["-X", "DELETE", `${url}/dir/file.bin`]);
    expect(del.status, del.describe).toBe(204);
    const gone = await curl([`${url}/dir/file.bin`]);
    expect(gone.status, gone.describe).toBe(404);
    expect(xmlErrorCode(gone.body), gone.describe).toBe("NoSuchKey");

    const rb = await curl(["-X", "DELETE", url]);
    expect(rb.status, rb.describe).toBe(204);
    const noBucket = await curl([`${url}/dir/file.bin`]);
    expect(noBucket.status, noBucket.describe).toBe(404);
    expect(xmlErrorCode(noBucket.body), noBucket.describe).toBe("NoSuchBucket");
  });

  test("without auth: 403 AccessDenied XML; wrong secret: SignatureDoesNotMatch; no content hash: InvalidRequest", async () => {
    const url = `${suite.server.endpoint}/${bucket}-anon`;
    const mb = await curl(["-X", "PUT", url]);
    expect(mb.status, mb.describe).toBe(200);

    for (const args of [[`${url}/k`], ["-X", "PUT", `${suite.server.endpoint}/${bucket}-anon2`], [`${suite.server.endpoint}/`], ["-T", "-", `${url}/k`]]) {
      const anon = await curl(args, false);
      expect(anon.status, anon.describe).toBe(403);
      expect(header(anon.headers, "content-type"), anon.describe).toContain("xml");
      expect(xmlErrorCode(anon.body), anon.describe).toBe("AccessDenied");
    }

    const wrong = await curl(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", `${accessKey}:wrong-secret`, "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", `${url}/k`], false);
    expect(wrong.status, wrong.describe).toBe(403);
    expect(xmlErrorCode(wrong.body), wrong.describe).toBe("SignatureDoesNotMatch");

    // S3 requires x-amz-content-sha256 on header-signed requests
    const noHash = await curl(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", `${accessKey}:${secretKey}`, `${url}/k`], false);
    expect(noHash.status, noHash.describe).toBe(400);
    expect(xmlErrorCode(noHash.body), noHash.describe).toBe("InvalidRequest");

    const rb = await curl(["-X", "DELETE", url]);
    expect(rb.status, rb.describe).toBe(204);
  });
});
