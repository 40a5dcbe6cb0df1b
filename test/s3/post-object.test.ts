/**
 * POST Object against the built binary: browser-style form uploads signed with a POST policy,
 * what they store, how they are answered, and every refusal leaving the bucket as it was.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { connect } from "node:net";
import { errorCode, postPolicyFields, rawRequest, s3 } from "../support/client.ts";
import { accessKey, startS3d, type TestServer } from "../support/server.ts";

const bucket = "forms";
const domain = "s3.forms.test";
let server: TestServer;

beforeAll(async () => {
  server = await startS3d({ args: ["--domain", domain] });
  expect((await s3(server.endpoint, { method: "PUT", path: `/${bucket}` })).status).toBe(200);
});

afterAll(async () => {
  await server?.stop();
});

const md5Hex = (data: Uint8Array | string) => createHash("md5").update(data).digest("hex");

/** Posts a form: `fields` in order, then the file (when given), then `after` (which S3 ignores). */
const signedFields = (conditions: unknown[], options: { expiresInMs?: number; secret?: string; bucketName?: string } = {}) =>
  postPolicyFields(options.bucketName ?? bucket, conditions, options);

function post(fields: Record<string, string>, file?: { filename: string; content: Uint8Array | string }, options: { after?: Record<string, string>; bucketName?: string } = {}) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  if (file) form.append("file", new Blob([file.content]), file.filename);
  for (const [name, value] of Object.entries(options.after ?? {})) form.append(name, value);
  return fetch(`${server.endpoint}/${options.bucketName ?? bucket}`, { method: "POST", body: form, redirect: "manual" });
}

async function stored(key: string): Promise<Response> {
  return s3(server.endpoint, { method: "GET", path: `/${bucket}/${key}` });
}

async function expectRefusal(res: Response, status: number, code: string): Promise<string> {
  const body = await res.text();
  expect({ status: res.status, code: /<Code>([^<]*)<\/Code>/.exec(body)?.[1] }).toEqual({ status, code });
  return body;
}

describe("POST Object", () => {
  test("stores the file under the form's key with its attributes; 204 with the ETag and the object's URL", async () => {
    const content = "quarterly numbers\n";
    const res = await post(
      {
        key: "reports/${filename}",
        "Content-Type": "text/plain",
        "Cache-Control": "max-age=60",
        "x-amz-meta-Color": "blue",
        tagging: "<Tagging><TagSet><Tag><Key>team</Key><Value>finance</Value></Tag></TagSet></Tagging>",
        ...signedFields([["starts-with", "$key", "reports/"], ["starts-with", "$Content-Type", "text/"], { "cache-control": "max-age=60" }, { "x-amz-meta-color": "blue" }, ["starts-with", "$tagging", ""]]),
      },
      // browsers may send a whole path: only its last segment is the file's name
      { filename: "C:\\Users\\me\\q3.txt", content },
    );
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect(res.headers.get("etag")).toBe(`"${md5Hex(content)}"`);
    expect(res.headers.get("location")).toBe(`${server.endpoint}/${bucket}/reports%2Fq3.txt`);
    const object = await stored("reports/q3.txt");
    expect(object.status).toBe(200);
    expect(await object.text()).toBe(content);
    expect(object.headers.get("content-type")).toBe("text/plain");
    expect(object.headers.get("cache-control")).toBe("max-age=60");
    expect(object.headers.get("x-amz-meta-color")).toBe("blue");
    expect(object.headers.get("x-amz-tagging-count")).toBe("1");
  });

  test("a form sealed with the client's key (SSE-C fields): answered with the key's MD5, readable only with the key", async () => {
    const key = Buffer.alloc(32, 0x5c);
    const sealing = {
      "x-amz-server-side-encryption-customer-algorithm": "AES256",
      "x-amz-server-side-encryption-customer-key": key.toString("base64"),
      "x-amz-server-side-encryption-customer-key-MD5": createHash("md5").update(key).digest("base64"),
    };
    const conditions = [{ key: "sealed/form.txt" }, ...Object.entries(sealing).map(([name, value]) => ({ [name]: value }))];
    const res = await post({ key: "sealed/form.txt", ...sealing, ...signedFields(conditions) }, { filename: "form.txt", content: "sealed by a form" });
    expect(res.status).toBe(204);
    expect(res.headers.get("x-amz-server-side-encryption-customer-key-md5")).toBe(sealing["x-amz-server-side-encryption-customer-key-MD5"]);
    expect(res.headers.get("etag")).not.toBe(`"${md5Hex("sealed by a form")}"`);
    await expectRefusal(await stored("sealed/form.txt"), 400, "InvalidRequest");
    const read = await s3(server.endpoint, { method: "GET", path: `/${bucket}/sealed/form.txt`, headers: sealing });
    expect([read.status, await read.text()]).toEqual([200, "sealed by a form"]);
    // a key field that is not 256 bits stores nothing
    const bad = { ...sealing, "x-amz-server-side-encryption-customer-key": Buffer.alloc(16).toString("base64") };
    const badConditions = [{ key: "sealed/bad.txt" }, ...Object.entries(bad).map(([name, value]) => ({ [name]: value }))];
    await expectRefusal(await post({ key: "sealed/bad.txt", ...bad, ...signedFields(badConditions) }, { filename: "bad.txt", content: "x" }), 400, "InvalidArgument");
    expect((await stored("sealed/bad.txt")).status).toBe(404);
  });

  test("success_action_status 201 answers a PostResponse document; 200 an empty body; others 204", async () => {
    const created = await post({ key: "status/created.txt", success_action_status: "201", ...signedFields([{ key: "status/created.txt" }, { success_action_status: "201" }]) }, { filename: "f", content: "x" });
    expect(created.status).toBe(201);
    const etag = `"${md5Hex("x")}"`;
    const location = `${server.endpoint}/${bucket}/status%2Fcreated.txt`;
    expect(await created.text()).toBe(
      `<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>${location}</Location><Bucket>${bucket}</Bucket><Key>status/created.txt</Key><ETag>&#34;${md5Hex("x")}&#34;</ETag></PostResponse>`,
    );
    expect(created.headers.get("etag")).toBe(etag);
    for (const [status, expected] of [["200", 200], ["404", 204], ["", 204]] as const) {
      const res = await post({ key: "status/other.txt", success_action_status: status, ...signedFields([{ key: "status/other.txt" }, { success_action_status: status }]) }, { filename: "f", content: "y" });
      expect([res.status, await res.text()]).toEqual([expected, ""]);
    }
  });

  test("success_action_redirect answers 303 to that URL with the bucket, key and ETag in its query", async () => {
    const target = "https://app.example/done?session=1";
    const res = await post({ key: "redirected/a b.txt", success_action_redirect: target, ...signedFields([{ key: "redirected/a b.txt" }, { success_action_redirect: target }]) }, { filename: "f", content: "z" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${target}&bucket=${bucket}&key=redirected%2Fa+b.txt&etag=%22${md5Hex("z")}%22`);
    // a URL a header cannot carry as written goes out serialized; the query goes before a fragment
    const unicode = await post({ key: "redirected/c.txt", success_action_redirect: "https://例え.jp/ダン?q=ü#top", ...signedFields([{ key: "redirected/c.txt" }, ["starts-with", "$success_action_redirect", ""]]) }, { filename: "f", content: "z" });
    expect(unicode.status).toBe(303);
    expect(unicode.headers.get("location")).toBe(`https://xn--r8jz45g.jp/%E3%83%80%E3%83%B3?q=%C3%BC&bucket=${bucket}&key=redirected%2Fc.txt&etag=%22${md5Hex("z")}%22#top`);
    // a value that is not a URL is ignored, as S3 ignores it
    const relative = await post({ key: "redirected/b.txt", redirect: "/done", ...signedFields([{ key: "redirected/b.txt" }, { redirect: "/done" }]) }, { filename: "f", content: "z" });
    expect(relative.status).toBe(204);
  });

  test("virtual-host style: the form goes to the bucket's host, and Location names the object there", async () => {
    const form = new FormData();
    for (const [name, value] of Object.entries({ key: "vhost/a b.txt", ...signedFields([{ key: "vhost/a b.txt" }]) })) form.append(name, value);
    form.append("file", new Blob(["hosted"]), "f");
    // (serialized by hand: fetch would send the Host of the URL it connects to)
    const serialized = new Response(form);
    const host = `${bucket}.${domain}:${server.port}`;
    const res = await rawRequest(server.endpoint, "POST", "/", { host, "content-type": serialized.headers.get("content-type")! }, new Uint8Array(await serialized.arrayBuffer()));
    expect(res.status).toBe(204);
    expect(res.headers.get("location")).toBe(`http://${host}/vhost%2Fa%20b.txt`);
    expect(await (await stored("vhost/a b.txt")).text()).toBe("hosted");
  });

  test("a large file streams through: 24 MiB stored exactly", async () => {
    const content = new Uint8Array(24 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
    const res = await post({ key: "large.bin", ...signedFields([{ key: "large.bin" }]) }, { filename: "large.bin", content });
    expect(res.status).toBe(204);
    expect(res.headers.get("etag")).toBe(`"${md5Hex(content)}"`);
    const back = new Uint8Array(await (await stored("large.bin")).arrayBuffer());
    expect(back.length).toBe(content.length);
    expect(md5Hex(back)).toBe(md5Hex(content));
  });

  test("a field's condition, an uncovered field, an expired policy or a bad signature is refused and stores nothing", async () => {
    const file = { filename: "f", content: "never stored" };
    const wrongValue = await expectRefusal(await post({ key: "refused/a", "Content-Type": "text/html", ...signedFields([{ key: "refused/a" }, ["starts-with", "$Content-Type", "image/"]]) }, file), 403, "AccessDenied");
    expect(wrongValue).toContain("<Message>Invalid according to Policy: Policy Condition failed: [&#34;starts-with&#34;, &#34;$Content-Type&#34;, &#34;image/&#34;]</Message>");
    expect(await expectRefusal(await post({ key: "refused/a", acl: "private", ...signedFields([{ key: "refused/a" }]) }, file), 403, "AccessDenied")).toContain("Extra input fields: acl");
    expect(await expectRefusal(await post({ key: "refused/a", ...signedFields([{ key: "refused/a" }], { expiresInMs: -1000 }) }, file), 403, "AccessDenied")).toContain("Policy expired.");
    await expectRefusal(await post({ key: "refused/a", ...signedFields([{ key: "refused/a" }], { secret: "not-the-secret" }) }, file), 403, "SignatureDoesNotMatch");
    // a policy for another bucket
    await expectRefusal(await post({ key: "refused/a", ...signedFields([{ key: "refused/a" }], { bucketName: "elsewhere" }) }, file), 403, "AccessDenied");
    // no policy at all: anonymous, which a bucket without a policy does not allow
    await expectRefusal(await post({ key: "refused/a" }, file), 403, "AccessDenied");
    // SigV2 fields
    await expectRefusal(await post({ key: "refused/a", AWSAccessKeyId: accessKey, policy: "e30=", signature: "c2ln" }, file), 400, "InvalidRequest");
    expect((await stored("refused/a")).status).toBe(404);
  });

  test("bucket policy conditions read a form as a form: signed or not, and its fields where a PUT has headers", async () => {
    const putPolicy = (statements: unknown[]) => s3(server.endpoint, { method: "PUT", path: `/${bucket}`, query: [["policy", ""]], body: JSON.stringify({ Statement: statements }) });
    const objects = `arn:aws:s3:::${bucket}/*`;
    const file = { filename: "f.txt", content: "form" };
    // everyone may write, but only with a signature: an anonymous form is not signed
    expect((await putPolicy([{ Effect: "Allow", Principal: "*", Action: "s3:PutObject", Resource: objects, Condition: { StringEquals: { "s3:signatureversion": "AWS4-HMAC-SHA256" } } }])).status).toBe(204);
    await expectRefusal(await post({ key: "cond/anonymous" }, file), 403, "AccessDenied");
    expect((await post({ key: "cond/signed", ...signedFields([{ key: "cond/signed" }]) }, file)).status).toBe(204);
    // a Deny on a missing storage class reads the form's field
    expect((await putPolicy([{ Effect: "Deny", Principal: "*", Action: "s3:PutObject", Resource: objects, Condition: { StringNotEquals: { "s3:x-amz-storage-class": "STANDARD" } } }])).status).toBe(204);
    await expectRefusal(await post({ key: "cond/no-class", ...signedFields([{ key: "cond/no-class" }]) }, file), 403, "AccessDenied");
    const withClass = await post({ key: "cond/class", "x-amz-storage-class": "STANDARD", ...signedFields([{ key: "cond/class" }, { "x-amz-storage-class": "STANDARD" }]) }, file);
    expect(withClass.status).toBe(204);
    expect((await s3(server.endpoint, { method: "DELETE", path: `/${bucket}`, query: [["policy", ""]] })).status).toBe(204);
  });

  test("a form without its key or file, or not a form at all, is refused as S3 refuses it", async () => {
    const fields = signedFields([{ key: "k" }]);
    const noKey = await expectRefusal(await post(fields, { filename: "f", content: "x" }), 400, "InvalidArgument");
    expect(noKey).toContain("Bucket POST must contain a field named &#39;key&#39;.");
    // fields after the file are not read: a key there is no key
    await expectRefusal(await post(fields, { filename: "f", content: "x" }, { after: { key: "k" } }), 400, "InvalidArgument");
    expect(await expectRefusal(await post({ key: "k", ...fields }), 400, "InvalidArgument")).toContain("<ArgumentName>file</ArgumentName>");
    const notAForm = await fetch(`${server.endpoint}/${bucket}`, { method: "POST", body: "key=k", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(await expectRefusal(notAForm, 412, "PreconditionFailed")).toContain("<Condition>Bucket POST must be of the enclosure-type multipart/form-data</Condition>");
    const noBoundary = await fetch(`${server.endpoint}/${bucket}`, { method: "POST", body: "x", headers: { "content-type": "multipart/form-data" } });
    await expectRefusal(noBoundary, 400, "MalformedPOSTRequest");
    await expectRefusal(await post({ key: "k", ...signedFields([{ key: "k" }], { bucketName: "no-such-bucket" }) }, { filename: "f", content: "x" }, { bucketName: "no-such-bucket" }), 404, "NoSuchBucket");
  });

  test("a field that sets a header must be a header's name, and its value free of control characters: else InvalidArgument", async () => {
    const unsendable: Array<[string, string]> = [["Content-Type", "text/plain\r\nx-injected: 1"], ["Cache-Control", "max-age=1\x00"], ["x-amz-meta-two words", "v"]];
    for (const [name, value] of unsendable) {
      const res = await post({ key: "headers.txt", [name]: value, ...signedFields([{ key: "headers.txt" }, ["starts-with", `$${name}`, ""]]) }, { filename: "f", content: "x" });
      await expectRefusal(res, 400, "InvalidArgument");
    }
    // metadata values are any text: answered as an RFC 2047 word
    const res = await post({ key: "headers.txt", "x-amz-meta-city": "Zürich 日本", ...signedFields([{ key: "headers.txt" }, ["starts-with", "$x-amz-meta-city", ""]]) }, { filename: "f", content: "x" });
    expect(res.status).toBe(204);
    expect((await stored("headers.txt")).headers.get("x-amz-meta-city")).toBe(`=?UTF-8?B?${Buffer.from("Zürich 日本").toString("base64")}?=`);
  });

  test("${filename} is kept as written when the file part names no file; a file's name in any script reaches Content-Disposition as UTF-8", async () => {
    const boundary = "----no-filename";
    const fields = { key: "literal/${filename}", ...signedFields([["starts-with", "$key", "literal/"]]) };
    const body = [
      ...Object.entries(fields).map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
      `--${boundary}\r\nContent-Disposition: form-data; name="file"\r\n\r\ncontent\r\n--${boundary}--\r\n`,
    ].join("");
    const res = await fetch(`${server.endpoint}/${bucket}`, { method: "POST", body, headers: { "content-type": `multipart/form-data; boundary=${boundary}` } });
    expect(res.status).toBe(204);
    expect(await (await stored("literal/${filename}")).text()).toBe("content");

    const disposition = await post(
      { key: "named/${filename}", "Content-Disposition": 'attachment; filename="${filename}"', ...signedFields([["starts-with", "$key", "named/"], ["starts-with", "$Content-Disposition", "attachment"]]) },
      { filename: "отчёт 日本.txt", content: "x" },
    );
    expect(disposition.status).toBe(204);
    // the header's bytes, read back as UTF-8
    const header = (await stored("named/отчёт 日本.txt")).headers.get("content-disposition")!;
    expect(Buffer.from(header, "latin1").toString("utf8")).toBe('attachment; filename="отчёт 日本.txt"');
  });

  test("fields before the file past 20 KiB: MaxPostPreDataLengthExceeded", async () => {
    const res = await post({ key: "k", "x-ignore-padding": "p".repeat(21 * 1024), ...signedFields([{ key: "k" }]) }, { filename: "f", content: "x" });
    expect(await expectRefusal(res, 400, "MaxPostPreDataLengthExceeded")).toContain("<MaxPostPreDataLengthBytes>20480</MaxPostPreDataLengthBytes>");
  });

  test("a file outside content-length-range is refused and the object it would replace is kept", async () => {
    const conditions = [{ key: "ranged.txt" }, ["content-length-range", 2, 10]];
    expect((await post({ key: "ranged.txt", ...signedFields(conditions) }, { filename: "f", content: "original" })).status).toBe(204);
    const large = await expectRefusal(await post({ key: "ranged.txt", ...signedFields(conditions) }, { filename: "f", content: "much too long" }), 400, "EntityTooLarge");
    expect(large).toContain("<MaxSizeAllowed>10</MaxSizeAllowed>");
    const small = await expectRefusal(await post({ key: "ranged.txt", ...signedFields(conditions) }, { filename: "f", content: "x" }), 400, "EntityTooSmall");
    expect(small).toContain("<ProposedSize>1</ProposedSize><MinSizeAllowed>2</MinSizeAllowed>");
    expect(await (await stored("ranged.txt")).text()).toBe("original");
  });

  test("a body cut off inside the file, or whose file never ends, stores nothing and the server serves on", async () => {
    expect((await post({ key: "cut.bin", ...signedFields([{ key: "cut.bin" }]) }, { filename: "f", content: "kept" })).status).toBe(204);
    const boundary = "----cut-boundary";
    const head = Object.entries({ key: "cut.bin", ...signedFields([{ key: "cut.bin" }]) })
      .map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)
      .join("");
    const fileStart = `${head}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n${"d".repeat(100_000)}`;
    const { host, port } = new URL(server.endpoint);
    // the connection closes with half the declared body sent
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), new URL(server.endpoint).hostname, () => {
        socket.write(`POST /${bucket} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${fileStart.length * 2}\r\n\r\n${fileStart}`);
        setTimeout(() => socket.destroy(), 200);
      });
      socket.on("close", () => resolve());
      socket.on("error", reject);
    });
    // the whole body arrives, but the file's closing boundary never does
    const unterminated = await fetch(`${server.endpoint}/${bucket}`, { method: "POST", body: fileStart, headers: { "content-type": `multipart/form-data; boundary=${boundary}` } });
    await expectRefusal(unterminated, 400, "MalformedPOSTRequest");
    // (the cut request ends on the server's side some time after the client's socket closed)
    for (let i = 0; i < 10; i++) {
      expect(await (await stored("cut.bin")).text()).toBe("kept");
      await Bun.sleep(50);
    }
    expect(await errorCode(await stored("no-such-key"))).toBe("NoSuchKey");
  });
});

test("a form whose fields drip in slower than the deadline is answered RequestTimeout and its connection closed", async () => {
  // with --idle-timeout 2 the fields' deadline is 2 s; each byte below re-arms the idle timer
  const slow = await startS3d({ args: ["--idle-timeout", "2"] });
  try {
    const { hostname, port, host } = new URL(slow.endpoint);
    const started = performance.now();
    const answer = await new Promise<string>((resolve, reject) => {
      let received = "";
      let timer: Timer | undefined;
      const socket = connect(Number(port), hostname, () => {
        socket.write(`POST /${bucket} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n`);
        timer = setInterval(() => socket.write("x"), 300);
      });
      socket.on("data", (c: Buffer) => (received += c.toString()));
      socket.on("close", () => {
        clearInterval(timer);
        resolve(received);
      });
      socket.on("error", (error) => {
        clearInterval(timer);
        received === "" ? reject(error) : resolve(received);
      });
    });
    expect(answer).toStartWith("HTTP/1.1 400");
    expect(answer).toContain("<Code>RequestTimeout</Code>");
    expect(performance.now() - started).toBeLessThan(6000);
  } finally {
    await slow.stop();
  }
}, 30_000);
