import { describe, expect, test } from "bun:test";
import { isS3Error } from "../../src/errors.ts";
import {
  canonicalRequest,
  emptyPayloadHash,
  hmacHex,
  maxClockSkewMs,
  presignQuery,
  sha256Hex,
  signHeaders,
  signaturesEqual,
  signingKey,
  stringToSign,
  verifyRequest,
  type VerifyInput,
} from "../../src/sigv4/index.ts";
import { expectS3Error } from "./expect-s3error.ts";
import { int, mulberry32, pick, seedFromEnv, text, type Rng } from "./prng.ts";

const accessKeyId = "AKIDS3DTEST";
const secretKey = "s3d/secret+key=example";
const region = "us-east-1";
const host = "localhost:9000";
const signedAtMs = Date.UTC(2024, 1, 29, 23, 59, 30);
const lookup = (id: string) => (id === accessKeyId ? secretKey : undefined);
const creds = { accessKeyId, secretKey, region, nowMs: signedAtMs };

/** A header-signed request, ready for verifyRequest. */
function signed(
  req: { method?: string; decodedPath?: string; query?: [string, string][]; headers?: Record<string, string> },
  payloadHash = emptyPayloadHash,
): VerifyInput & { headers: Record<string, string> } {
  const base = { method: req.method ?? "GET", decodedPath: req.decodedPath ?? "/bucket/key", query: req.query ?? [] };
  const headers = { host, ...req.headers };
  const added = signHeaders({ ...base, headers, ...creds, payloadHash });
  return { ...base, headers: { ...headers, ...added }, nowMs: signedAtMs, region };
}

function presigned(
  req: { method?: string; decodedPath?: string; query?: [string, string][] },
  expiresSec = 3600,
): VerifyInput & { query: [string, string][] } {
  const base = { method: req.method ?? "GET", decodedPath: req.decodedPath ?? "/bucket/key", query: req.query ?? [] };
  const query = presignQuery({ ...base, host, ...creds, expiresSec });
  return { ...base, query: [...new URLSearchParams(query)], headers: { host }, nowMs: signedAtMs, region };
}

/** Replace the character at a random index with one that differs and is not whitespace. */
function flipOne(rng: Rng, s: string): string {
  const chars = [...s];
  if (chars.length === 0) return "x";
  const i = int(rng, chars.length);
  chars[i] = chars[i] === "x" ? "y" : "x";
  return chars.join("");
}

function flipHex(rng: Rng, hex: string): string {
  const i = int(rng, hex.length);
  return hex.slice(0, i) + (hex[i] === "0" ? "1" : "0") + hex.slice(i + 1);
}

function randomRequest(rng: Rng) {
  const query: [string, string][] = [];
  for (let q = int(rng, 4); q > 0; q--) query.push([text(rng, 8) || "k", text(rng, 12)]);
  const headers: Record<string, string> = {};
  for (let h = int(rng, 3); h > 0; h--) headers[`x-amz-meta-${"abc"[h]}${int(rng, 100)}`] = text(rng, 16).replace(/[\u0000-\u001f\u007f-\uffff]/g, "v");
  if (rng() < 0.5) headers["Content-Type"] = pick(rng, ["text/plain", "application/octet-stream", " a  b "]);
  return {
    method: pick(rng, ["GET", "PUT", "POST", "DELETE", "HEAD"]),
    decodedPath: "/bucket/" + text(rng, 30, ["/", "//", ".."]),
    query,
    headers,
  };
}

describe("round trip: signHeaders then verifyRequest", () => {
  test("property: accepted as signed, refused after any one-byte change", () => {
    const seed = seedFromEnv(0x2024);
    const rng = mulberry32(seed);
    for (let i = 0; i < 300; i++) {
      const context = `seed ${seed} case ${i}`;
      const payloadHash = pick(rng, [emptyPayloadHash, "UNSIGNED-PAYLOAD", sha256Hex(text(rng, 10)), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"]);
      const input = signed(randomRequest(rng), payloadHash);
      const asHeaders = { ...input, headers: new Headers(input.headers) };
      for (const ok of [input, asHeaders]) {
        const verified = verifyRequest(ok, lookup);
        expect(verified.accessKeyId, context).toBe(accessKeyId);
        expect(verified.payloadHash, context).toBe(payloadHash);
        expect(input.headers.authorization.endsWith(`Signature=${verified.signature}`), context).toBe(true);
      }

      const mutations: Array<[string, () => VerifyInput]> = [
        ["method", () => ({ ...input, method: flipOne(rng, input.method) })],
        ["path", () => ({ ...input, decodedPath: flipOne(rng, input.decodedPath) })],
        ["host", () => ({ ...input, headers: { ...input.headers, host: flipOne(rng, host) } })],
        ["signature", () => {
          const auth = input.headers.authorization;
          const at = auth.indexOf("Signature=") + "Signature=".length;
          return { ...input, headers: { ...input.headers, authorization: auth.slice(0, at) + flipHex(rng, auth.slice(at)) } };
        }],
      ];
      if (input.query.length > 0) {
        mutations.push(["query value", () => {
          const query = input.query.map(([n, v]) => [n, v] as [string, string]);
          const q = int(rng, query.length);
          query[q][1] = flipOne(rng, query[q][1]);
          return { ...input, query };
        }]);
      }
      const meta = Object.keys(input.headers).filter((name) => name.startsWith("x-amz-meta-") || name === "Content-Type");
      if (meta.length > 0) {
        mutations.push(["signed header", () => {
          const name = pick(rng, meta);
          return { ...input, headers: { ...input.headers, [name]: flipOne(rng, input.headers[name]) } };
        }]);
      }
      for (const [what, mutate] of mutations) {
        expectS3Error(() => verifyRequest(mutate(), lookup), "SignatureDoesNotMatch", `${context} ${what}`);
      }
    }
  });

  test("a signed header absent from the request counts as empty", () => {
    const input = signed({ headers: { "x-amz-meta-empty": "" } });
    expect(input.headers.authorization).toContain("x-amz-meta-empty");
    const { "x-amz-meta-empty": _, ...without } = input.headers;
    expect(verifyRequest({ ...input, headers: without }, lookup).accessKeyId).toBe(accessKeyId);
  });

  test("a signed Expect header swallowed by the HTTP stack", () => {
    const input = signed({ method: "PUT", headers: { "x-amz-meta-a": "1" } });
    // Build by hand what a client signing "expect: 100-continue" sends.
    const headers = { ...input.headers, expect: "100-continue" };
    const names = ["expect", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-meta-a"];
    const scope = "20240229/us-east-1/s3/aws4_request";
    const sts = stringToSign("20240229T235930Z", scope, canonicalRequest({ ...input, headers }, names, emptyPayloadHash));
    const signature = hmacHex(signingKey(secretKey, "20240229", region, "s3"), sts);
    const authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
    expect(verifyRequest({ ...input, headers: { ...input.headers, authorization } }, lookup).signature).toBe(signature);
  });

  test("time: within 15 minutes either way accepted, beyond → RequestTimeTooSkewed", () => {
    const input = signed({});
    for (const offset of [maxClockSkewMs, -maxClockSkewMs]) {
      expect(verifyRequest({ ...input, nowMs: signedAtMs + offset }, lookup).accessKeyId).toBe(accessKeyId);
    }
    for (const offset of [maxClockSkewMs + 1000, -maxClockSkewMs - 1000]) {
      const e = expectS3Error(() => verifyRequest({ ...input, nowMs: signedAtMs + offset }, lookup), "RequestTimeTooSkewed");
      expect(e.details).toEqual({
        RequestTime: "20240229T235930Z",
        ServerTime: new Date(signedAtMs + offset).toISOString().replace(/\.\d{3}Z$/, "Z"),
        MaxAllowedSkewMilliseconds: "900000",
      });
    }
  });

  test("Date header instead of x-amz-date", () => {
    const input = signed({});
    const headers: Record<string, string> = { host, date: "Thu, 29 Feb 2024 23:59:30 GMT", "x-amz-content-sha256": emptyPayloadHash };
    const names = ["date", "host", "x-amz-content-sha256"];
    const scope = "20240229/us-east-1/s3/aws4_request";
    const sts = stringToSign("20240229T235930Z", scope, canonicalRequest({ ...input, headers }, names, emptyPayloadHash));
    const signature = hmacHex(signingKey(secretKey, "20240229", region, "s3"), sts);
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
    expect(verifyRequest({ ...input, headers }, lookup).amzDate).toBe("20240229T235930Z");
  });
});

describe("header auth refusals", () => {
  test("no Authorization header, no X-Amz-Signature → AccessDenied; an empty or blank one is none", () => {
    for (const headers of [{ host }, { host, authorization: "" }, { host, authorization: "  " }] as Record<string, string>[]) {
      expectS3Error(() => verifyRequest({ method: "GET", decodedPath: "/b", query: [], headers, nowMs: signedAtMs, region }, lookup), "AccessDenied");
    }
  });

  test("both mechanisms → InvalidArgument", () => {
    const input = signed({});
    const e = expectS3Error(() => verifyRequest({ ...input, query: [["X-Amz-Signature", "00"]] }, lookup), "InvalidArgument");
    expect(e.message).toStartWith("Only one auth mechanism allowed;");
  });

  test("unknown access key → InvalidAccessKeyId", () => {
    const e = expectS3Error(() => verifyRequest(signed({}), () => undefined), "InvalidAccessKeyId");
    expect(e.details).toEqual({ AWSAccessKeyId: accessKeyId });
  });

  test("wrong secret → SignatureDoesNotMatch, with what S3 shows the client", () => {
    const input = signed({});
    const e = expectS3Error(() => verifyRequest(input, () => "other-secret"), "SignatureDoesNotMatch");
    expect(Object.keys(e.details)).toEqual(["AWSAccessKeyId", "StringToSign", "SignatureProvided", "StringToSignBytes", "CanonicalRequest", "CanonicalRequestBytes"]);
    expect(e.details.StringToSign).toStartWith("AWS4-HMAC-SHA256\n20240229T235930Z\n20240229/us-east-1/s3/aws4_request\n");
    expect(e.details.StringToSignBytes).toStartWith("41 57 53 34 2d");
  });

  function withCredential(input: ReturnType<typeof signed>, scope: string) {
    const authorization = input.headers.authorization.replace(/Credential=[^,]*/, `Credential=${accessKeyId}/${scope}`);
    return { ...input, headers: { ...input.headers, authorization } };
  }

  test.each([
    ["20240229/eu-west-1/s3/aws4_request", "the region 'eu-west-1' is wrong; expecting 'us-east-1'"],
    ["20240229/us-east-1/s4/aws4_request", 'incorrect service "s4". This endpoint belongs to "s3".'],
    ["20240228/us-east-1/s3/aws4_request", "Invalid credential date. Date is not the same as X-Amz-Date."],
    ["20240229/us-east-1/s3/aws4_requests", 'incorrect terminal "aws4_requests". This endpoint uses "aws4_request".'],
  ])("credential scope %s → AuthorizationHeaderMalformed", (scope, message) => {
    const e = expectS3Error(() => verifyRequest(withCredential(signed({}), scope), lookup), "AuthorizationHeaderMalformed");
    expect(e.message).toBe("The authorization header is malformed; " + message);
  });

  test("the wrong region names the right one", () => {
    const e = expectS3Error(() => verifyRequest(withCredential(signed({}), "20240229/eu-west-1/s3/aws4_request"), lookup), "AuthorizationHeaderMalformed");
    expect(e.details).toEqual({ Region: "us-east-1" });
  });

  test("no x-amz-content-sha256 → InvalidRequest", () => {
    const { "x-amz-content-sha256": _, ...headers } = signed({}).headers;
    const e = expectS3Error(() => verifyRequest({ ...signed({}), headers }, lookup), "InvalidRequest");
    expect(e.message).toBe("Missing required header for this request: x-amz-content-sha256");
  });

  test("x-amz-content-sha256 neither a hash nor a known mode → InvalidArgument", () => {
    const input = signed({}, "GIBBERISH");
    const e = expectS3Error(() => verifyRequest(input, lookup), "InvalidArgument");
    expect(e.details).toEqual({ ArgumentName: "x-amz-content-sha256", ArgumentValue: "GIBBERISH" });
  });

  test("host not signed → AccessDenied, HeadersNotSigned", () => {
    const input = signed({});
    const authorization = input.headers.authorization.replace("SignedHeaders=host;", "SignedHeaders=");
    const e = expectS3Error(() => verifyRequest({ ...input, headers: { ...input.headers, authorization } }, lookup), "AccessDenied");
    expect(e.message).toBe("There were headers present in the request which were not signed");
    expect(e.details).toEqual({ HeadersNotSigned: "host" });
  });

  test("an x-amz-* header outside the signature → AccessDenied", () => {
    const input = signed({});
    const headers = { ...input.headers, "x-amz-copy-source": "/other/key", "x-amz-acl": "public-read", "x-amzn-trace-id": "ok" };
    const e = expectS3Error(() => verifyRequest({ ...input, headers }, lookup), "AccessDenied");
    expect(e.details).toEqual({ HeadersNotSigned: "x-amz-acl, x-amz-copy-source" });
  });

  test("fuzz: random requests only ever raise S3Error", () => {
    const seed = seedFromEnv(0xf00d);
    const rng = mulberry32(seed);
    const good = signed({ query: [["a", "1"]] });
    const names = ["authorization", "x-amz-date", "x-amz-content-sha256", "host", "date", "x-amz-meta-x", "constructor", "__proto__", "expect"];
    const queryNames = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Content-Sha256", "a"];
    for (let i = 0; i < 3000; i++) {
      const headers: Record<string, string> = { ...good.headers };
      for (let n = int(rng, 4); n > 0; n--) {
        const name = pick(rng, names);
        if (rng() < 0.3) delete headers[name];
        else headers[name] = rng() < 0.5 ? flipOne(rng, Object.hasOwn(headers, name) ? headers[name] : "") : text(rng, 20);
      }
      const query: Array<readonly [string, string]> = rng() < 0.3 ? [] : [...good.query];
      for (let n = int(rng, 3); n > 0; n--) query.push([pick(rng, queryNames), text(rng, 12, ["AWS4-HMAC-SHA256", "host", "/", ";"])]);
      try {
        verifyRequest({ ...good, headers, query, nowMs: signedAtMs + int(rng, 2) * 3600_000 }, lookup);
      } catch (e) {
        if (!isS3Error(e)) throw new Error(`seed ${seed} case ${i}: ${e}`);
      }
    }
  });
});

describe("presigned URLs", () => {
  test("presignQuery then verifyRequest accepts, payload UNSIGNED-PAYLOAD", () => {
    const input = presigned({ method: "PUT", decodedPath: "/bucket/a key/ü", query: [["partNumber", "1"], ["uploadId", "a+b/c="]] });
    const verified = verifyRequest(input, lookup);
    expect(verified.payloadHash).toBe("UNSIGNED-PAYLOAD");
    expect(verified.scope).toBe("20240229/us-east-1/s3/aws4_request");
  });

  test("property: any one-byte change → SignatureDoesNotMatch", () => {
    const seed = seedFromEnv(0x7e57);
    const rng = mulberry32(seed);
    for (let i = 0; i < 200; i++) {
      const { method, decodedPath, query } = randomRequest(rng);
      const input = presigned({ method, decodedPath, query });
      expect(verifyRequest(input, lookup).accessKeyId).toBe(accessKeyId);
      const sigAt = input.query.findIndex(([name]) => name === "X-Amz-Signature");
      const mutations: Array<[string, () => VerifyInput]> = [
        ["method", () => ({ ...input, method: flipOne(rng, method) })],
        ["path", () => ({ ...input, decodedPath: flipOne(rng, decodedPath) })],
        ["host", () => ({ ...input, headers: { host: flipOne(rng, host) } })],
        ["signature", () => ({ ...input, query: input.query.map(([n, v], j) => [n, j === sigAt ? flipHex(rng, v) : v] as [string, string]) })],
      ];
      const own = input.query.flatMap(([name], j) => (name.startsWith("X-Amz-") ? [] : [j]));
      if (own.length > 0) {
        const q = pick(rng, own);
        mutations.push(["query value", () => ({ ...input, query: input.query.map(([n, v], j) => [n, j === q ? flipOne(rng, v) : v] as [string, string]) })]);
      }
      for (const [what, mutate] of mutations) {
        expectS3Error(() => verifyRequest(mutate(), lookup), "SignatureDoesNotMatch", `seed ${seed} case ${i} ${what}`);
      }
    }
  });

  test("expired → AccessDenied, Request has expired", () => {
    const input = presigned({}, 60);
    expect(verifyRequest({ ...input, nowMs: signedAtMs + 60_000 }, lookup).accessKeyId).toBe(accessKeyId);
    const e = expectS3Error(() => verifyRequest({ ...input, nowMs: signedAtMs + 61_000 }, lookup), "AccessDenied");
    expect(e.message).toBe("Request has expired");
    expect(e.details).toEqual({ "X-Amz-Expires": "60", Expires: "2024-03-01T00:00:30Z", ServerTime: "2024-03-01T00:00:31Z" });
  });

  test("dated more than 15 minutes ahead → AccessDenied, not valid yet", () => {
    const input = presigned({}, 604800);
    expect(verifyRequest({ ...input, nowMs: signedAtMs - maxClockSkewMs }, lookup).accessKeyId).toBe(accessKeyId);
    const e = expectS3Error(() => verifyRequest({ ...input, nowMs: signedAtMs - maxClockSkewMs - 1000 }, lookup), "AccessDenied");
    expect(e.message).toBe("Request is not valid yet");
  });

  test("unknown key → InvalidAccessKeyId", () => {
    expectS3Error(() => verifyRequest(presigned({}), () => undefined), "InvalidAccessKeyId");
  });

  test("credential scope errors are AuthorizationQueryParametersError", () => {
    const input = presigned({});
    const e = expectS3Error(() => verifyRequest({ ...input, region: "eu-west-1" }, lookup), "AuthorizationQueryParametersError");
    expect(e.message).toBe("Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong; expecting 'eu-west-1'");
    expect(e.details).toEqual({ Region: "eu-west-1" });
    expect(e.headers).toEqual({ "x-amz-bucket-region": "eu-west-1" });
  });

  test("an unsigned x-amz-* header → AccessDenied; x-amz-content-sha256 tolerated and ignored", () => {
    const input = presigned({});
    expectS3Error(() => verifyRequest({ ...input, headers: { host, "x-amz-acl": "public-read" } }, lookup), "AccessDenied");
    const verified = verifyRequest({ ...input, headers: { host, "x-amz-content-sha256": emptyPayloadHash } }, lookup);
    expect(verified.payloadHash).toBe("UNSIGNED-PAYLOAD");
  });

  test("an X-Amz-Content-Sha256 parameter (as the AWS SDKs hoist it) is the signed payload hash", () => {
    const hash = sha256Hex("body");
    const input = presigned({ method: "PUT", query: [["X-Amz-Content-Sha256", hash]] });
    expect(verifyRequest(input, lookup).payloadHash).toBe(hash);
  });
});

describe("signaturesEqual", () => {
  test("equal exactly when the strings are equal: same length, every code unit the same", () => {
    const sig = hmacHex(Buffer.from("k"), "data");
    expect(signaturesEqual(sig, `${sig}`)).toBe(true);
    expect(signaturesEqual("", "")).toBe(true);
    expect(signaturesEqual(sig, sig.slice(0, -1))).toBe(false);
    expect(signaturesEqual(sig, `${sig}0`)).toBe(false);
    for (const at of [0, 31, 63]) {
      const flipped = sig.slice(0, at) + (sig[at] === "0" ? "1" : "0") + sig.slice(at + 1);
      expect(signaturesEqual(sig, flipped)).toBe(false);
    }
    // the same UTF-8 length, different characters; and a character against its look-alike
    expect(signaturesEqual("é", "\u00c3")).toBe(false);
    expect(signaturesEqual("\u00e9", "e\u0301")).toBe(false);
  });

  test("property: agrees with === on random pairs, near misses included", () => {
    const seed = seedFromEnv(0x5eed);
    const rng = mulberry32(seed);
    for (let i = 0; i < 2000; i++) {
      const a = text(rng, 8);
      const b = int(rng, 3) === 0 ? a : int(rng, 2) === 0 ? text(rng, 8) : a.slice(0, -1) + text(rng, 1);
      expect([seed, a, b, signaturesEqual(a, b)]).toEqual([seed, a, b, a === b]);
    }
  });
});
