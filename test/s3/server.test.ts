/** The S3 face of the built binary, driven over HTTP: errors, auth, bad input, protocol details. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { presignQuery } from "../../src/sigv4/index.ts";
import { s3, md5Base64 } from "../support/client.ts";
import { accessKey, region, secretKey, startS3d, type TestServer } from "../support/server.ts";

let server: TestServer;
const bucket = "server-tests";

beforeAll(async () => {
  server = await startS3d();
  expect((await s3(server.endpoint, { method: "PUT", path: `/${bucket}` })).status).toBe(200);
});
afterAll(async () => {
  await server.stop();
});

async function put(key: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  return s3(server.endpoint, { method: "PUT", path: `/${bucket}/${key}`, body, headers });
}
async function getText(key: string) {
  const res = await s3(server.endpoint, { method: "GET", path: `/${bucket}/${key}` });
  return { status: res.status, text: await res.text() };
}

async function expectError(res: Response, status: number, code: string) {
  const text = await res.text();
  expect({ status: res.status, code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1] }).toEqual({ status, code });
  expect(text).toContain("<RequestId>");
  expect(text).toContain("<Resource>");
  expect(text).not.toContain("    at "); // no stack trace
  expect(res.headers.get("x-amz-request-id")).toMatch(/^[0-9A-F]{16}$/);
}

describe("health and authentication", () => {
  test("health answers without credentials", async () => {
    const res = await fetch(`${server.endpoint}/_s3d/health`);
    expect(res.status).toBe(200);
  });

  test("no signature, wrong secret, unknown key, skewed clock", async () => {
    await expectError(await fetch(`${server.endpoint}/${bucket}`), 403, "AccessDenied");
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${bucket}`, secret: "wrong-secret" }), 403, "SignatureDoesNotMatch");
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${bucket}`, accessKeyId: "NOSUCHKEY" }), 403, "InvalidAccessKeyId");
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${bucket}`, nowMs: Date.now() - 16 * 60_000 }), 403, "RequestTimeTooSkewed");
    // a session token s3d never issued, signed in or added: refused, not ignored
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${bucket}`, headers: { "x-amz-security-token": "FQoGZXIvYXdzEXAMPLE" } }), 400, "InvalidToken");
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${bucket}`, query: [["X-Amz-Security-Token", "FQoGZXIvYXdzEXAMPLE"]] }), 400, "InvalidToken");
  });

  test("presigned URLs: valid, expired, tampered, too long-lived", async () => {
    await put("presigned", "hello");
    const host = new URL(server.endpoint).host;
    const sign = (nowMs: number, expiresSec: number) =>
      presignQuery({ method: "GET", decodedPath: `/${bucket}/presigned`, host, accessKeyId: accessKey, secretKey, region, nowMs, expiresSec });
    const ok = await fetch(`${server.endpoint}/${bucket}/presigned?${sign(Date.now(), 60)}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("hello");
    await expectError(await fetch(`${server.endpoint}/${bucket}/presigned?${sign(Date.now() - 120_000, 60)}`), 403, "AccessDenied");
    await expectError(await fetch(`${server.endpoint}/${bucket}/other?${sign(Date.now(), 60)}`), 403, "SignatureDoesNotMatch");
    await expectError(await fetch(`${server.endpoint}/${bucket}/presigned?AWSAccessKeyId=${accessKey}&Expires=9999999999&Signature=abc`), 400, "InvalidRequest");
    const tooLong = sign(Date.now(), 60).replace("X-Amz-Expires=60", "X-Amz-Expires=604801");
    expect((await fetch(`${server.endpoint}/${bucket}/presigned?${tooLong}`)).status).toBe(400);
  });

  test("the idle timeout counts traffic both ways: a download still flowing outlasts it, one nobody reads does not", async () => {
    const own = await startS3d({ args: ["--idle-timeout", "1"] });
    try {
      const bigBytes = 24 * 1024 * 1024;
      expect((await s3(own.endpoint, { method: "PUT", path: "/idle-bucket" })).status).toBe(200);
      expect((await s3(own.endpoint, { method: "PUT", path: "/idle-bucket/big", body: Buffer.alloc(bigBytes, 7) })).status).toBe(200);
      const url = new URL(own.endpoint);
      const { signHeaders } = await import("../../src/sigv4/index.ts");
      // A plain socket in Python, whose reads are what the server's writes wait for (Bun's paused
      // sockets keep reading underneath): after its first bytes it stops reading for `stall` s,
      // then reads to the end, sleeping `pause` s after each MiB.
      const reader = String.raw`
import socket, sys, time
port, head, stall, pause = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(head.encode())
s.settimeout(20)
got, step, started = 0, 0, time.time()
while True:
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    if got == 0:
        time.sleep(stall)
    got += len(chunk)
    step += len(chunk)
    if step >= 1 << 20:
        step = 0
        time.sleep(pause)
print(got, round(time.time() - started, 1))
`;
      const get = async (stallS: number, pauseS: number) => {
        const headers = { host: url.host, connection: "close" };
        const signed = signHeaders({ method: "GET", decodedPath: "/idle-bucket/big", query: [], headers, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), payloadHash: "UNSIGNED-PAYLOAD" });
        const head = `GET /idle-bucket/big HTTP/1.1\r\n${Object.entries({ ...headers, ...signed }).map(([k, v]) => `${k}: ${v}`).join("\r\n")}\r\n\r\n`;
        const run = Bun.spawn(["python3", "-c", reader, String(own.port), head, String(stallS), String(pauseS)], { stdout: "pipe", stderr: "pipe" });
        const [out, err] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
        expect(err).toBe("");
        const [bytes, seconds] = out.trim().split(" ").map(Number);
        return { bytes, seconds };
      };
      // a download read steadily for a few seconds, every pause shorter than the timeout: whole
      const slow = await get(0, 0.15);
      expect(slow.bytes).toBeGreaterThan(bigBytes);
      expect(slow.seconds).toBeGreaterThan(2);
      // a reader that stops taking bytes for longer than the timeout: cut
      const stalled = await get(3, 0);
      expect(stalled.bytes).toBeLessThan(bigBytes);

      // an upload whose body stops arriving: 400 RequestTimeout, as S3 answers (SDKs retry it),
      // the connection closed, nothing stored, even when the rest of the body comes after
      const headers = { host: url.host, "content-length": "100" };
      const signed = signHeaders({ method: "PUT", decodedPath: "/idle-bucket/stalled", query: [], headers, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), payloadHash: "UNSIGNED-PAYLOAD" });
      const head = `PUT /idle-bucket/stalled HTTP/1.1\r\n${Object.entries({ ...headers, ...signed }).map(([k, v]) => `${k}: ${v}`).join("\r\n")}\r\n\r\n`;
      const startedMs = Date.now();
      const answer = await new Promise<string>((done) => {
        let said = "";
        const sock = connect(own.port, "127.0.0.1", () => sock.write(`${head}${"a".repeat(26)}`));
        sock.on("data", (d) => {
          said += d.toString();
          sock.write("b".repeat(74)); // the rest, too late
        });
        sock.on("close", () => done(said));
        sock.on("error", () => {});
        setTimeout(() => sock.destroy(), 10_000);
      });
      expect(answer).toStartWith("HTTP/1.1 400");
      expect(answer).toContain("<Code>RequestTimeout</Code>");
      expect(answer.toLowerCase()).toContain("connection: close");
      expect(Date.now() - startedMs).toBeLessThan(5000);
      expect((await s3(own.endpoint, { method: "HEAD", path: "/idle-bucket/stalled" })).status).toBe(404);
      expect(own.logs()).not.toContain("internal error");
    } finally {
      await own.stop();
    }
  });

  test("Expect: 100-continue: the body is asked for only after the signature checks out", async () => {
    const url = new URL(server.endpoint);
    const { signHeaders } = await import("../../src/sigv4/index.ts");
    const body = "continued body";
    /** Sends the head, then the body once "100 Continue" arrives; returns everything the server said. */
    const exchange = (secret: string) =>
      new Promise<string>((done) => {
        const headers = { host: url.host, "content-length": String(body.length), expect: "100-continue" };
        const signed = signHeaders({ method: "PUT", decodedPath: `/${bucket}/continued`, query: [], headers, accessKeyId: accessKey, secretKey: secret, region, nowMs: Date.now(), payloadHash: "UNSIGNED-PAYLOAD" });
        const head = Object.entries({ ...headers, ...signed }).map(([k, v]) => `${k}: ${v}`).join("\r\n");
        let said = "";
        const sock = connect(server.port, "127.0.0.1", () => sock.write(`PUT /${bucket}/continued HTTP/1.1\r\n${head}\r\n\r\n`));
        sock.on("data", (d) => {
          said += d.toString();
          if (said.startsWith("HTTP/1.1 100") && !said.includes("\r\n\r\nHTTP/1.1 ") && said.endsWith("\r\n\r\n")) sock.write(body);
          if (/HTTP\/1\.1 [2-5]\d\d[\s\S]*\r\n\r\n/.test(said)) setTimeout(() => sock.destroy(), 50);
        });
        sock.on("close", () => done(said));
        sock.on("error", () => {});
      });
    const refused = await exchange("wrong-secret");
    expect(refused).toStartWith("HTTP/1.1 403");
    expect(refused).not.toContain("100 Continue");
    expect(refused.toLowerCase()).toContain("connection: close");
    const allowed = await exchange(secretKey);
    expect(allowed).toStartWith("HTTP/1.1 100 Continue");
    // an unsigned retention change, checked once its document is read, is refused at once where no policy could let it in
    const unsignedRetention = await new Promise<string>((done) => {
      let said = "";
      const sock = connect(server.port, "127.0.0.1", () => sock.write(`PUT /${bucket}/continued?retention HTTP/1.1\r\nhost: ${url.host}\r\ncontent-length: 100\r\nexpect: 100-continue\r\n\r\n`));
      sock.on("data", (d) => {
        said += d.toString();
        if (/\r\n\r\n/.test(said)) sock.destroy();
      });
      sock.on("close", () => done(said));
      sock.on("error", () => {});
    });
    expect(unsignedRetention).toStartWith("HTTP/1.1 403");
    expect(allowed).toContain("HTTP/1.1 200");
    expect(await (await s3(server.endpoint, { method: "GET", path: `/${bucket}/continued` })).text()).toBe(body);
  });

  test("an Expect other than 100-continue (empty, or garbage) is served as if absent, as S3 serves it, not 417", async () => {
    const url = new URL(server.endpoint);
    const { signHeaders } = await import("../../src/sigv4/index.ts");
    for (const expectation of ["", "200"]) {
      const body = `expected ${expectation}`;
      const headers = { host: url.host, "content-length": String(body.length), expect: expectation };
      const signed = signHeaders({ method: "PUT", decodedPath: `/${bucket}/expect`, query: [], headers, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), payloadHash: "UNSIGNED-PAYLOAD" });
      const head = Object.entries({ ...headers, ...signed }).map(([k, v]) => `${k}: ${v}`).join("\r\n");
      const said = await new Promise<string>((done) => {
        let text = "";
        const sock = connect(server.port, "127.0.0.1", () => sock.write(`PUT /${bucket}/expect HTTP/1.1\r\n${head}\r\n\r\n${body}`));
        sock.on("data", (d) => {
          text += d.toString();
          if (/\r\n\r\n/.test(text)) sock.destroy();
        });
        sock.on("close", () => done(text));
        sock.on("error", () => {});
      });
      expect(`${JSON.stringify(expectation)}: ${said.split("\r\n")[0]}`).toBe(`${JSON.stringify(expectation)}: HTTP/1.1 200 OK`);
      expect(await (await s3(server.endpoint, { method: "GET", path: `/${bucket}/expect` })).text()).toBe(body);
    }
  });

  test("requests pipelined on one connection take effect in order: a DELETE behind a PUT, a small PUT behind a large one", async () => {
    const url = new URL(server.endpoint);
    const { signHeaders } = await import("../../src/sigv4/index.ts");
    /** One signed request, head and body, as bytes. */
    const wire = (method: string, key: string, body: Uint8Array) => {
      const headers = { host: url.host, "content-length": String(body.length) };
      const signed = signHeaders({ method, decodedPath: `/${bucket}/${key}`, query: [], headers, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), payloadHash: "UNSIGNED-PAYLOAD" });
      const head = Object.entries({ ...headers, ...signed }).map(([k, v]) => `${k}: ${v}`).join("\r\n");
      return Buffer.concat([Buffer.from(`${method} /${bucket}/${key} HTTP/1.1\r\n${head}\r\n\r\n`), body]);
    };
    /** Sends the requests in one write; resolves with the status lines of the answers, in order. */
    const pipelined = (requests: Buffer[]) =>
      new Promise<string[]>((done) => {
        let said = "";
        const sock = connect(server.port, "127.0.0.1", () => sock.write(Buffer.concat(requests)));
        sock.on("data", (d) => {
          said += d.toString("latin1");
          if ((said.match(/^HTTP\/1\.1 \d+/gm) ?? []).length === requests.length) sock.destroy();
        });
        sock.on("close", () => done(said.match(/^HTTP\/1\.1 \d+/gm) ?? []));
        sock.on("error", () => {});
      });
    const large = new Uint8Array(4 * 1024 * 1024).fill(7);
    for (let round = 0; round < 3; round++) {
      expect(await pipelined([wire("PUT", "piped-del", large), wire("DELETE", "piped-del", new Uint8Array())])).toEqual(["HTTP/1.1 200", "HTTP/1.1 204"]);
      expect((await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/piped-del` })).status).toBe(404);
      expect(await pipelined([wire("PUT", "piped-put", large), wire("PUT", "piped-put", Buffer.from("last"))])).toEqual(["HTTP/1.1 200", "HTTP/1.1 200"]);
      expect(await (await s3(server.endpoint, { method: "GET", path: `/${bucket}/piped-put` })).text()).toBe("last");
    }
    // bytes sent past a body's Content-Length are a malformed request of their own: answered (an
    // S3 error) after the request before them, not instead of its answer
    expect(await pipelined([wire("PUT", "piped-short", Buffer.from("abcdefghij")), Buffer.from("klmnopqrstuvwxyz")])).toEqual(["HTTP/1.1 200", "HTTP/1.1 400"]);
    expect(await (await s3(server.endpoint, { method: "GET", path: `/${bucket}/piped-short` })).text()).toBe("abcdefghij");

    // a connection closed with requests still waiting their turn: they are dropped, not served to nobody
    const logged = await startS3d({ args: ["--log-level", "info"] });
    try {
      await s3(logged.endpoint, { method: "PUT", path: `/${bucket}` });
      await s3(logged.endpoint, { method: "PUT", path: `/${bucket}/piped-read`, body: new Uint8Array(512 * 1024) });
      const get = (key: string) => {
        const headers = { host: new URL(logged.endpoint).host };
        const signed = signHeaders({ method: "GET", decodedPath: `/${bucket}/${key}`, query: [], headers, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), payloadHash: "UNSIGNED-PAYLOAD" });
        return Buffer.from(`GET /${bucket}/${key} HTTP/1.1\r\n${Object.entries({ ...headers, ...signed }).map(([k, v]) => `${k}: ${v}`).join("\r\n")}\r\n\r\n`);
      };
      // 200 GETs of 512 KiB whose answers are never read: s3d's writes stall after a few
      const sock = connect(logged.port, "127.0.0.1", () => sock.write(Buffer.concat(Array.from({ length: 200 }, () => get("piped-read")))));
      sock.on("error", () => {});
      await Bun.sleep(500);
      sock.destroy();
      await Bun.sleep(1500);
      const answered = logged.logs().split("\n").filter((line) => line.includes('"resource":"/server-tests/piped-read"') && line.includes('"method":"GET"'));
      expect(answered.length).toBeLessThan(50);
    } finally {
      await logged.stop();
    }
  });

  test("headers named like an object's built-in properties are headers like any other", async () => {
    // request headers are kept in a record by name: "constructor" must not find Object's own
    const odd = JSON.parse('{"constructor": "c", "__proto__": "p", "toString": "t", "x-amz-meta-constructor": "m", "x-amz-meta-__proto__": "mp"}');
    const res = await put("odd-headers", "odd", { ...odd, "x-amz-tagging": "__proto__=tp&constructor=tc" });
    expect(res.status).toBe(200);
    const got = await s3(server.endpoint, { method: "GET", path: `/${bucket}/odd-headers`, headers: odd });
    expect([got.status, got.headers.get("x-amz-meta-constructor"), got.headers.get("x-amz-meta-__proto__"), got.headers.get("x-amz-tagging-count"), await got.text()])
      .toEqual([200, "m", "mp", "2", "odd"]);
    const tagging = await (await s3(server.endpoint, { method: "GET", path: `/${bucket}/odd-headers`, query: [["tagging", ""]] })).text();
    expect(tagging).toContain("<Tag><Key>__proto__</Key><Value>tp</Value></Tag>");
    expect(tagging).toContain("<Tag><Key>constructor</Key><Value>tc</Value></Tag>");
  });
});

describe("objects over HTTP", () => {
  test("PUT and GET carry content headers, user metadata, ETag and Last-Modified", async () => {
    const sent = {
      "content-type": "text/x-test",
      "cache-control": "no-cache",
      "content-disposition": "attachment",
      "content-language": "fr",
      "content-encoding": "identity",
      expires: "Wed, 21 Oct 2037 07:28:00 GMT",
      "x-amz-meta-colour": "blue",
    };
    const res = await put("meta", "body!", sent);
    expect(res.status).toBe(200);
    const etag = `"${createHash("md5").update("body!").digest("hex")}"`;
    expect(res.headers.get("etag")).toBe(etag);
    const got = await s3(server.endpoint, { method: "GET", path: `/${bucket}/meta` });
    expect(got.status).toBe(200);
    const expected: Record<string, string> = { ...sent, etag, "content-length": "5", "accept-ranges": "bytes" };
    expect(Object.fromEntries(Object.keys(expected).map((h) => [h, got.headers.get(h)]))).toEqual(expected);
    expect(Date.parse(got.headers.get("last-modified")!)).toBeGreaterThan(Date.now() - 60_000);
    expect(await got.text()).toBe("body!");
    const head = await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/meta` });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("5");
  });

  test("x-amz-website-redirect-location is kept and answered, never copied with the metadata; appends are refused", async () => {
    const redirect = "x-amz-website-redirect-location";
    expect((await put("redirected", "r", { [redirect]: "/elsewhere.html" })).status).toBe(200);
    for (const method of ["GET", "HEAD"]) expect((await s3(server.endpoint, { method, path: `/${bucket}/redirected` })).headers.get(redirect)).toBe("/elsewhere.html");
    for (const bad of ["elsewhere.html", "ftp://host/x", `/${"x".repeat(2048)}`]) await expectError(await put("redirected-bad", "r", { [redirect]: bad }), 400, "InvalidArgument");
    expect((await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/redirected-bad` })).status).toBe(404);
    const copy = (key: string, headers: Record<string, string>) => s3(server.endpoint, { method: "PUT", path: `/${bucket}/${key}`, headers: { "x-amz-copy-source": `/${bucket}/redirected`, ...headers } });
    expect((await copy("redirected-copy", {})).status).toBe(200);
    expect((await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/redirected-copy` })).headers.get(redirect)).toBeNull();
    expect((await copy("redirected-copy", { [redirect]: "https://example.test/" })).status).toBe(200);
    expect((await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/redirected-copy` })).headers.get(redirect)).toBe("https://example.test/");
    // naming a redirect changes the object: a copy onto itself with it is allowed
    expect((await copy("redirected", { [redirect]: "/moved.html" })).status).toBe(200);
    expect((await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/redirected` })).headers.get(redirect)).toBe("/moved.html");
    await expectError(await put("appended", "tail", { "x-amz-write-offset-bytes": "0" }), 501, "NotImplemented");
    expect((await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/appended` })).status).toBe(404);
  });

  test("ranges: 206 with Content-Range, 416 InvalidRange", async () => {
    await put("range", "0123456789");
    const cases: Array<[string, number, string, string | null]> = [
      ["bytes=2-5", 206, "2345", "bytes 2-5/10"],
      ["bytes=7-", 206, "789", "bytes 7-9/10"],
      ["bytes=-3", 206, "789", "bytes 7-9/10"],
      ["bytes=0-1,4-5", 200, "0123456789", null],
    ];
    for (const [range, status, body, contentRange] of cases) {
      const res = await s3(server.endpoint, { method: "GET", path: `/${bucket}/range`, headers: { range } });
      expect({ range, status: res.status, body: await res.text(), cr: res.headers.get("content-range") }).toEqual({ range, status, body, cr: contentRange });
    }
    const unsatisfiable = await s3(server.endpoint, { method: "GET", path: `/${bucket}/range`, headers: { range: "bytes=10-" } });
    expect(unsatisfiable.headers.get("content-range")).toBe("bytes */10");
    await expectError(unsatisfiable, 416, "InvalidRange");
    const head = await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/range`, headers: { range: "bytes=10-" } });
    expect([head.status, head.headers.get("content-range")]).toEqual([416, "bytes */10"]);
  });

  test("missing things: NoSuchKey, NoSuchBucket, DELETE of a missing key is 204", async () => {
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${bucket}/nope` }), 404, "NoSuchKey");
    await expectError(await s3(server.endpoint, { method: "GET", path: "/no-such-bucket/k" }), 404, "NoSuchBucket");
    expect((await s3(server.endpoint, { method: "DELETE", path: `/${bucket}/nope` })).status).toBe(204);
    const head = await s3(server.endpoint, { method: "HEAD", path: `/${bucket}/nope` });
    expect(head.status).toBe(404);
    expect(await head.text()).toBe("");
  });

  test("payload integrity: signed SHA-256 and Content-MD5 mismatches store nothing", async () => {
    await put("integrity", "original");
    await expectError(await s3(server.endpoint, { method: "PUT", path: `/${bucket}/integrity`, body: "tampered", payloadHash: createHash("sha256").update("other").digest("hex") }), 400, "XAmzContentSHA256Mismatch");
    await expectError(await put("integrity", "tampered", { "content-md5": md5Base64("other") }), 400, "BadDigest");
    await expectError(await put("integrity", "tampered", { "content-md5": "not-base64!" }), 400, "InvalidDigest");
    expect(await getText("integrity")).toEqual({ status: 200, text: "original" });
    expect((await put("integrity", "fine", { "content-md5": md5Base64("fine") })).status).toBe(200);
    expect((await s3(server.endpoint, { method: "PUT", path: `/${bucket}/unsigned`, body: "u", unsigned: true })).status).toBe(200);
  });

  test("names and sizes: invalid buckets, long keys, too much metadata, too many headers", async () => {
    for (const name of ["ab", "Upper", "a_b", "192.168.1.1", "xn--abc"]) {
      await expectError(await s3(server.endpoint, { method: "PUT", path: `/${name}` }), 400, "InvalidBucketName");
    }
    await expectError(await put("k".repeat(1025), "x"), 400, "KeyTooLongError");
    expect((await put("k".repeat(1024), "x")).status).toBe(200);
    await expectError(await put("meta-big", "x", { "x-amz-meta-big": "v".repeat(2100) }), 400, "MetadataTooLarge");
    const many: Record<string, string> = {};
    for (let i = 0; i < 20; i++) many[`x-filler-${i}`] = "f".repeat(500);
    await expectError(await put("headers-big", "x", many), 400, "RequestHeaderSectionTooLarge");
    const huge = await fetch(`${server.endpoint}/${bucket}/k`, { headers: { "x-huge": "h".repeat(100_000) } });
    expect(huge.status).toBe(431);
    expect(await huge.text()).toContain("<Code>RequestHeaderSectionTooLarge</Code>");
  });

  test("keys that look like paths stay keys inside the data dir", async () => {
    const keys = ["../../etc/passwd", "a//b", "./x", "..", "%2e%2e/y", "sp ace+plus=eq~tilde", "ünï/cødé"];
    for (const key of keys) {
      const res = await put(key, `content of ${key}`);
      expect({ key, status: res.status }).toEqual({ key, status: 200 });
    }
    for (const key of keys) expect(await getText(key)).toEqual({ status: 200, text: `content of ${key}` });
    expect(existsSync(join(server.dataDir, "..", "..", "etc", "passwd-s3d"))).toBe(false);
    const blobs = readdirSync(join(server.dataDir, "blobs")).flatMap((d) => readdirSync(join(server.dataDir, "blobs", d)));
    expect(blobs.every((name) => /^[0-9a-f]{32}$/.test(name))).toBe(true);
    const list = await s3(server.endpoint, { method: "GET", path: `/${bucket}`, query: [["list-type", "2"], ["prefix", "../"]] });
    expect(await list.text()).toContain("<Key>../../etc/passwd</Key>");
  });

  test("a client that disconnects mid-PUT stores nothing; the server keeps serving", async () => {
    const { port } = server;
    await new Promise<void>((done) => {
      const sock = connect(port, "127.0.0.1", () => {
        sock.write(`PUT /${bucket}/half HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 1000000\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n\r\n`);
        sock.write("x".repeat(1000));
        setTimeout(() => sock.destroy(), 50);
      });
      sock.on("close", () => done());
      sock.on("error", () => {});
    });
    // unauthenticated anyway; now an authenticated one that is cut off
    const url = new URL(server.endpoint);
    const signed = await import("../../src/sigv4/index.ts").then((m) =>
      m.signHeaders({ method: "PUT", decodedPath: `/${bucket}/half`, query: [], headers: { host: url.host, "content-length": "1000000" }, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), payloadHash: "UNSIGNED-PAYLOAD" }),
    );
    await new Promise<void>((done) => {
      const sock = connect(port, "127.0.0.1", () => {
        const head = Object.entries({ host: url.host, "content-length": "1000000", ...signed }).map(([k, v]) => `${k}: ${v}`).join("\r\n");
        sock.write(`PUT /${bucket}/half HTTP/1.1\r\n${head}\r\n\r\n`);
        sock.write("y".repeat(300_000));
        setTimeout(() => sock.destroy(), 100);
      });
      sock.on("close", () => done());
      sock.on("error", () => {});
    });
    await new Promise<void>((done) => {
      const sock = connect(port, "127.0.0.1", () => {
        const head = Object.entries({ host: url.host, "content-length": "1000000", ...signed }).map(([k, v]) => `${k}: ${v}`).join("\r\n");
        sock.end(`PUT /${bucket}/half HTTP/1.1\r\n${head}\r\n\r\nshort body, then end of stream`);
        setTimeout(() => sock.destroy(), 500);
      });
      sock.on("close", () => done());
      sock.on("error", () => {});
    });
    // a small body (read whole, not streamed to a file), cut off and then ended early
    const small = await import("../../src/sigv4/index.ts").then((m) =>
      m.signHeaders({ method: "PUT", decodedPath: `/${bucket}/small-half`, query: [], headers: { host: url.host, "content-length": "10000" }, accessKeyId: accessKey, secretKey, region, nowMs: Date.now(), payloadHash: "UNSIGNED-PAYLOAD" }),
    );
    const smallHead = Object.entries({ host: url.host, "content-length": "10000", ...small }).map(([k, v]) => `${k}: ${v}`).join("\r\n");
    for (const cut of ["destroy", "end"] as const) {
      await new Promise<void>((done) => {
        const sock = connect(port, "127.0.0.1", () => {
          sock.write(`PUT /${bucket}/small-half HTTP/1.1\r\n${smallHead}\r\n\r\n${"z".repeat(3000)}`);
          setTimeout(() => (cut === "destroy" ? sock.destroy() : sock.end()), 50);
          setTimeout(() => sock.destroy(), 500);
        });
        sock.on("close", () => done());
        sock.on("error", () => {});
      });
    }
    await Bun.sleep(100);
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${bucket}/half` }), 404, "NoSuchKey");
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${bucket}/small-half` }), 404, "NoSuchKey");
    expect((await fetch(`${server.endpoint}/_s3d/health`)).status).toBe(200);
    expect(server.logs()).not.toContain("internal error");
  });
});

describe("XML requests", () => {
  test("malformed and oversized XML bodies are MalformedXML", async () => {
    const init = await s3(server.endpoint, { method: "POST", path: `/${bucket}/mp`, query: [["uploads", ""]] });
    const uploadId = /<UploadId>([^<]+)</.exec(await init.text())![1];
    for (const body of ["<CompleteMultipartUpload><Part>", "garbage", "<Other/>", `<!DOCTYPE x [<!ENTITY a "b">]><CompleteMultipartUpload/>`]) {
      await expectError(await s3(server.endpoint, { method: "POST", path: `/${bucket}/mp`, query: [["uploadId", uploadId]], body }), 400, "MalformedXML");
    }
    const big = `<CompleteMultipartUpload>${"<Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>".repeat(60_000)}</CompleteMultipartUpload>`;
    const res = await s3(server.endpoint, { method: "POST", path: `/${bucket}/mp`, query: [["uploadId", uploadId]], body: big });
    await expectError(res, 400, "MalformedXML");
  });

  test("a body that is not UTF-8 is MalformedXML: its bytes never become U+FFFD and name another key", async () => {
    await put("\ufffd\ufffd", "not to be deleted");
    const body = Buffer.concat([Buffer.from("<Delete><Object><Key>"), Buffer.from([0xff, 0xfe]), Buffer.from("</Key></Object></Delete>")]);
    await expectError(await s3(server.endpoint, { method: "POST", path: `/${bucket}`, query: [["delete", ""]], body, headers: { "content-md5": createHash("md5").update(body).digest("base64") } }), 400, "MalformedXML");
    expect(await getText("\ufffd\ufffd")).toEqual({ status: 200, text: "not to be deleted" });
  });

  test("DeleteObjects: needs Content-MD5 or a checksum header, verifies the MD5, honours Quiet", async () => {
    await put("d1", "1");
    await put("d2", "2");
    const body = `<Delete><Object><Key>d1</Key></Object><Object><Key>d2</Key></Object><Object><Key>${"k".repeat(1100)}</Key></Object></Delete>`;
    await expectError(await s3(server.endpoint, { method: "POST", path: `/${bucket}`, query: [["delete", ""]], body }), 400, "InvalidRequest");
    await expectError(await s3(server.endpoint, { method: "POST", path: `/${bucket}`, query: [["delete", ""]], body, headers: { "content-md5": md5Base64("x") } }), 400, "BadDigest");
    const res = await s3(server.endpoint, { method: "POST", path: `/${bucket}`, query: [["delete", ""]], body, headers: { "content-md5": md5Base64(body) } });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain("<Deleted><Key>d1</Key></Deleted>");
    expect(text).toContain("<Deleted><Key>d2</Key></Deleted>");
    expect(text).toContain("<Code>KeyTooLongError</Code>");
    const quiet = `<Delete><Quiet>true</Quiet><Object><Key>d1</Key></Object></Delete>`;
    const q = await s3(server.endpoint, { method: "POST", path: `/${bucket}`, query: [["delete", ""]], body: quiet, headers: { "x-amz-checksum-crc32": "AAAAAA==" } });
    expect(await q.text()).not.toContain("<Deleted>");
  });
});

test("ListParts markers and page sizes: 0 to 2^31-1 as S3 reads them; max-parts=0 is an empty page, not a truncated one", async () => {
  const init = await (await s3(server.endpoint, { method: "POST", path: `/${bucket}/marked`, query: [["uploads", ""]] })).text();
  const uploadId = /<UploadId>([^<]+)</.exec(init)![1];
  for (const n of ["1", "2"]) await s3(server.endpoint, { method: "PUT", path: `/${bucket}/marked`, query: [["partNumber", n], ["uploadId", uploadId]], body: `part ${n}` });
  const parts = (query: [string, string][]) => s3(server.endpoint, { method: "GET", path: `/${bucket}/marked`, query: [["uploadId", uploadId], ...query] });
  const fromZero = await (await parts([["part-number-marker", "0"]])).text();
  expect([...fromZero.matchAll(/<PartNumber>(\d+)</g)].map((m) => m[1])).toEqual(["1", "2"]);
  expect(await (await parts([["part-number-marker", "2147483647"]])).text()).not.toContain("<Part>");
  await expectError(await parts([["part-number-marker", "2147483648"]]), 400, "InvalidArgument");
  const none = await (await parts([["max-parts", "0"]])).text();
  expect(none).toContain("<IsTruncated>false</IsTruncated>");
  expect(none).not.toContain("NextPartNumberMarker");
  const list = (maxKeys: string) => s3(server.endpoint, { method: "GET", path: `/${bucket}`, query: [["list-type", "2"], ["max-keys", maxKeys]] });
  expect((await list("2147483647")).status).toBe(200);
  await expectError(await list("2147483648"), 400, "InvalidArgument");
  await expectError(await list("99999999999999999999"), 400, "InvalidArgument");
  await s3(server.endpoint, { method: "DELETE", path: `/${bucket}/marked`, query: [["uploadId", uploadId]] });
});

describe("listing over HTTP", () => {
  test("v1 NextMarker only with a delimiter; v2 tokens never repeat; encoding-type=url", async () => {
    const lb = "listing-tests";
    await s3(server.endpoint, { method: "PUT", path: `/${lb}` });
    const keys = ["a/1", "a/2", "b", "c d", "e+f", "g/h/i", "z"];
    for (const k of keys) await s3(server.endpoint, { method: "PUT", path: `/${lb}/${k}`, body: k });
    const v1 = await (await s3(server.endpoint, { method: "GET", path: `/${lb}`, query: [["max-keys", "2"]] })).text();
    expect(v1).toContain("<IsTruncated>true</IsTruncated>");
    expect(v1).not.toContain("<NextMarker>");
    const v1d = await (await s3(server.endpoint, { method: "GET", path: `/${lb}`, query: [["max-keys", "2"], ["delimiter", "/"]] })).text();
    expect(v1d).toContain("<NextMarker>b</NextMarker>");
    expect(v1d).toContain("<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes>");
    const tokens = new Set<string>();
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const q: [string, string][] = [["list-type", "2"], ["max-keys", "2"], ["delimiter", "/"], ["encoding-type", "url"]];
      if (token) q.push(["continuation-token", token]);
      const text = await (await s3(server.endpoint, { method: "GET", path: `/${lb}`, query: q })).text();
      seen.push(...[...text.matchAll(/<(?:Key|Prefix)>([^<]+)<\/(?:Key|Prefix)>/g)].map((m) => decodeURIComponent(m[1])));
      token = /<NextContinuationToken>([^<]+)</.exec(text)?.[1];
      // the last page says false in words (an empty element fails SDKs that parse it as a boolean)
      expect(text).toContain(`<IsTruncated>${token !== undefined}</IsTruncated>`);
      if (token) {
        expect(tokens.has(token)).toBe(false);
        tokens.add(token);
      }
    } while (token);
    expect(seen.sort()).toEqual(["a/", "b", "c d", "e+f", "g/", "z"]);
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${lb}`, query: [["list-type", "2"], ["continuation-token", "!!"]] }), 400, "InvalidArgument");
    // an empty token is none, echoed empty
    const fromStart = await (await s3(server.endpoint, { method: "GET", path: `/${lb}`, query: [["list-type", "2"], ["continuation-token", ""], ["max-keys", "1"]] })).text();
    expect([fromStart.includes("<ContinuationToken></ContinuationToken>") || fromStart.includes("<ContinuationToken/>"), /<Key>([^<]*)<\/Key>/.exec(fromStart)?.[1]]).toEqual([true, "a/1"]);
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${lb}`, query: [["max-keys", "-1"]] }), 400, "InvalidArgument");
  });

  test("each Contents element: escaped key, time, quoted ETag, size, owner only where S3 gives it", async () => {
    const lb = "contents-tests";
    await s3(server.endpoint, { method: "PUT", path: `/${lb}` });
    const key = `x&<'">`;
    const body = "contents body";
    const putRes = await s3(server.endpoint, { method: "PUT", path: `/${lb}/${key}`, body });
    const etag = createHash("md5").update(body).digest("hex");
    expect(putRes.headers.get("etag")).toBe(`"${etag}"`);
    const lastModified = new Date(putRes.headers.get("date")!).getTime();
    const listed = async (query: [string, string][]) => {
      const text = await (await s3(server.endpoint, { method: "GET", path: `/${lb}`, query })).text();
      const contents = [...text.matchAll(/<Contents>(.*?)<\/Contents>/g)].map((m) => m[1]);
      expect(contents).toHaveLength(1);
      return contents[0];
    };
    const shape = (withOwner: boolean) =>
      new RegExp(
        `^<Key>x&#38;&#60;&#39;&#34;&#62;</Key><LastModified>(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z)</LastModified>` +
          `<ETag>&#34;${etag}&#34;</ETag><Size>${body.length}</Size>` +
          (withOwner ? `<Owner><ID>[^<]+</ID><DisplayName>[^<]+</DisplayName></Owner>` : "") +
          `<StorageClass>STANDARD</StorageClass>$`,
      );
    for (const [query, withOwner] of [
      [[["list-type", "2"]], false],
      [[["list-type", "2"], ["fetch-owner", "true"]], true],
      [[], true],
    ] as [[string, string][], boolean][]) {
      const element = await listed(query);
      const match = shape(withOwner).exec(element);
      expect(match).not.toBeNull();
      // within the second of the PUT's Date header (which has no milliseconds)
      expect(Math.abs(Date.parse(match![1]) - lastModified)).toBeLessThan(2000);
    }
  });
});

describe("ListObjectVersions (every object is its key's one version, null)", () => {
  const vb = "versions-tests";
  const versions = async (query: [string, string][]) => {
    const res = await s3(server.endpoint, { method: "GET", path: `/${vb}`, query: [["versions", ""], ...query] });
    expect(res.status).toBe(200);
    return res.text();
  };

  test("each object is one Version: VersionId null, IsLatest, the object's time, ETag, size and owner; prefixes as in listings", async () => {
    await s3(server.endpoint, { method: "PUT", path: `/${vb}` });
    for (const k of ["a/1", "a/2", "b", "c d", "e&f", "z"]) await s3(server.endpoint, { method: "PUT", path: `/${vb}/${k}`, body: `body of ${k}` });
    const text = await versions([["delimiter", "/"]]);
    expect(text).toStartWith(`<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`);
    expect(text).toContain("<Name>versions-tests</Name><Prefix></Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>");
    const etag = createHash("md5").update("body of e&f").digest("hex");
    expect(text).toMatch(new RegExp(
      `<Version><Key>e&#38;f</Key><VersionId>null</VersionId><IsLatest>true</IsLatest><LastModified>\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z</LastModified>` +
        `<ETag>&#34;${etag}&#34;</ETag><Size>11</Size><Owner><ID>${accessKey}</ID><DisplayName>${accessKey}</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Version>`,
    ));
    expect([...text.matchAll(/<Version><Key>([^<]+)</g)].map((m) => m[1])).toEqual(["b", "c d", "e&#38;f", "z"]);
    expect(text).toContain("<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes>");
    expect(text).not.toContain("DeleteMarker");
  });

  test("pages follow NextKeyMarker and NextVersionIdMarker to every entry once; a page ending on a prefix names no version", async () => {
    const seen: string[] = [];
    const pageEnds: string[] = [];
    let markers: [string, string][] = [];
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(10);
      const text = await versions([["max-keys", "1"], ["delimiter", "/"], ["encoding-type", "url"], ...markers]);
      seen.push(...[...text.matchAll(/<(?:Key|Prefix)>([^<]+)<\/(?:Key|Prefix)>/g)].map((m) => decodeURIComponent(m[1])));
      const nextKey = /<NextKeyMarker>([^<]+)</.exec(text)?.[1];
      const nextVersion = /<NextVersionIdMarker>([^<]+)</.exec(text)?.[1];
      expect(text).toContain(`<IsTruncated>${nextKey !== undefined}</IsTruncated>`);
      if (nextKey === undefined) break;
      pageEnds.push(`${decodeURIComponent(nextKey)} ${nextVersion}`);
      markers = [["key-marker", decodeURIComponent(nextKey)], ...(nextVersion ? [["version-id-marker", nextVersion] as [string, string]] : [])];
    }
    expect(seen).toEqual(["a/", "b", "c d", "e&f", "z"]);
    // the first page ends on the prefix a/ (no version of it to name), the others on a key's null version
    expect(pageEnds).toEqual(["a/ undefined", "b null", "c d null", "e&f null"]);
    expect(await versions([["prefix", "a/"], ["key-marker", "a/1"], ["version-id-marker", "null"]])).toContain("<Version><Key>a/2</Key>");
    expect(await versions([["max-keys", "0"]])).toContain("<IsTruncated>false</IsTruncated>");
  });

  test("a version-id marker needs a key marker, and must be a version id; other methods stay unserved", async () => {
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${vb}`, query: [["versions", ""], ["version-id-marker", "null"]] }), 400, "InvalidArgument");
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${vb}`, query: [["versions", ""], ["key-marker", "b"], ["version-id-marker", "3HL4kqtJlcpX"]] }), 400, "InvalidArgument");
    await expectError(await s3(server.endpoint, { method: "GET", path: "/no-such-versions-bucket", query: [["versions", ""]] }), 404, "NoSuchBucket");
    await expectError(await s3(server.endpoint, { method: "DELETE", path: `/${vb}`, query: [["versions", ""]] }), 501, "NotImplemented");
    expect((await s3(server.endpoint, { method: "HEAD", path: `/${vb}` })).status).toBe(200);
  });
});

describe("operations s3d does not serve", () => {
  test("unknown sub-resources are NotImplemented, wrong methods MethodNotAllowed", async () => {
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${bucket}`, query: [["inventory", ""]] }), 501, "NotImplemented");
    await expectError(await s3(server.endpoint, { method: "PUT", path: `/${bucket}`, query: [["replication", ""]], body: "<ReplicationConfiguration/>" }), 501, "NotImplemented");
    await expectError(await s3(server.endpoint, { method: "POST", path: `/${bucket}/k` }), 405, "MethodNotAllowed");
    // a bucket configuration's sub-resource takes only its own methods (a POST is no form upload there)
    for (const sub of ["cors", "policyStatus", "ownershipControls", "encryption", "website"]) {
      await expectError(await s3(server.endpoint, { method: "POST", path: `/${bucket}`, query: [[sub, ""]] }), 405, "MethodNotAllowed");
    }
    await expectError(await s3(server.endpoint, { method: "DELETE", path: "/" }), 405, "MethodNotAllowed");
  });

  test("a sub-resource S3 added that s3d does not know is refused, never served as the plain operation", async () => {
    await put("precious", "precious bytes");
    // DeleteBucketMetadataTableConfiguration, RenameObject, CreateSession, GetBucketAbac: not DeleteBucket, PutObject, ListObjects
    await expectError(await s3(server.endpoint, { method: "DELETE", path: `/${bucket}`, query: [["metadataTable", ""]] }), 501, "NotImplemented");
    await expectError(await s3(server.endpoint, { method: "PUT", path: `/${bucket}/precious`, query: [["renameObject", ""]], headers: { "x-amz-rename-source": `${bucket}/other` } }), 501, "NotImplemented");
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${bucket}`, query: [["session", ""]] }), 501, "NotImplemented");
    await expectError(await s3(server.endpoint, { method: "GET", path: `/${bucket}`, query: [["abac", ""]] }), 501, "NotImplemented");
    expect((await s3(server.endpoint, { method: "HEAD", path: `/${bucket}` })).status).toBe(200);
    expect(await getText("precious")).toEqual({ status: 200, text: "precious bytes" });
    // a parameter with a value that s3d does not know is ignored, as S3 ignores it (the SDKs' x-id)
    expect(await (await s3(server.endpoint, { method: "GET", path: `/${bucket}/precious`, query: [["x-id", "GetObject"]] })).text()).toBe("precious bytes");
  });

  test("without a valid signature they are AccessDenied: an anonymous caller learns nothing of what s3d serves", async () => {
    for (const [path, query, headers] of [
      [`/${bucket}`, "?acl", {}],
      [`/${bucket}/k`, "?versionId=123", {}],
      [`/${bucket}/k`, "", { "x-amz-server-side-encryption-customer-algorithm": "AES256" }],
    ] as const) {
      const anonymous = await fetch(`${server.endpoint}${path}${query}`, { headers });
      expect(anonymous.status).toBe(403);
      expect(await anonymous.text()).toContain("<Code>AccessDenied</Code>");
    }
    const wrongKey = await s3(server.endpoint, { method: "GET", path: `/${bucket}`, query: [["acl", ""]], secret: "not-the-secret" });
    await expectError(wrongKey, 403, "SignatureDoesNotMatch");
    const patch = await fetch(`${server.endpoint}/${bucket}/k`, { method: "PATCH" });
    expect(patch.status).toBe(403);
  });

  test("a key with no bucket (//key) is InvalidBucketName, not a bucket listing", async () => {
    const noBucket = await s3(server.endpoint, { method: "GET", path: "//k" });
    await expectError(noBucket, 400, "InvalidBucketName");
  });
});

test("after all of it the server still serves and logs no internal errors", async () => {
  expect((await fetch(`${server.endpoint}/_s3d/health`)).status).toBe(200);
  expect(await getText("meta")).toEqual({ status: 200, text: "body!" });
  expect(server.logs()).not.toContain("internal error");
});
