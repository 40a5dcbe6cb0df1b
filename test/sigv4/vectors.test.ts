/**
 * Known answers: the AWS SigV4 test suite (service "service", not S3) and the worked S3 examples
 * of the S3 API reference ("Signature Calculations for the Authorization Header" and "Query
 * string request authentication"). Values typed in from those documents.
 */
import { describe, expect, test } from "bun:test";
import {
  canonicalRequest,
  canonicalUri,
  emptyPayloadHash,
  hmacHex,
  presignQuery,
  sha256Hex,
  signHeaders,
  signingKey,
  stringToSign,
  verifyRequest,
  type SignableRequest,
} from "../../src/sigv4/index.ts";

describe("AWS SigV4 test suite", () => {
  const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  const amzDate = "20150830T123600Z";
  const scope = "20150830/us-east-1/service/aws4_request";
  const host = "example.amazonaws.com";

  interface SuiteCase {
    name: string;
    method?: string;
    path?: string;
    query?: [string, string][];
    headers?: Record<string, string>;
    body?: string;
    signature: string;
  }

  // The suite's canonical URI is the path normalised then encoded once; for these cases the
  // path given is already normal, so S3's rules (no normalisation) give the same URI.
  const cases: SuiteCase[] = [
    { name: "get-vanilla", signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },
    { name: "post-vanilla", method: "POST", signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b" },
    {
      name: "get-vanilla-query-order-key-case",
      query: [["Param2", "value2"], ["Param1", "value1"]],
      signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    },
    {
      name: "get-vanilla-empty-query-key",
      query: [["Param1", "value1"]],
      signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
    },
    {
      name: "get-vanilla-query-unreserved",
      query: [[
        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
      ]],
      signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    },
    {
      name: "get-vanilla-utf8-query",
      query: [["ሴ", "bar"]],
      signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    },
    { name: "get-utf8", path: "/ሴ", signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85" },
    { name: "get-space", path: "/example space/", signature: "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741" },
    {
      name: "get-unreserved",
      path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
      signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    },
    // The suite normalises "//example//" to "/example/"; S3 would not, so the normal form is fed.
    { name: "get-slashes (normalised)", path: "/example/", signature: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84" },
    {
      name: "get-header-value-trim",
      headers: { "My-Header1": " value1", "My-Header2": ' "a   b   c"' },
      signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    {
      name: "post-header-key-sort",
      method: "POST",
      headers: { "My-Header1": "value1" },
      signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    },
    {
      name: "post-header-value-case",
      method: "POST",
      headers: { "My-Header1": "VALUE1" },
      signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    },
    {
      name: "post-x-www-form-urlencoded",
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "Param1=value1",
      signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    },
  ];

  function suiteRequest(c: SuiteCase): { req: SignableRequest; signed: string[]; canonical: string } {
    const headers: Record<string, string> = { Host: host, "X-Amz-Date": amzDate, ...c.headers };
    const req: SignableRequest = { method: c.method ?? "GET", decodedPath: c.path ?? "/", query: c.query ?? [], headers };
    const signed = Object.keys(headers).map((name) => name.toLowerCase());
    return { req, signed, canonical: canonicalRequest(req, signed, sha256Hex(c.body ?? "")) };
  }

  for (const c of cases) {
    test(c.name, () => {
      const { canonical } = suiteRequest(c);
      const key = signingKey(secret, "20150830", "us-east-1", "service");
      expect(hmacHex(key, stringToSign(amzDate, scope, canonical))).toBe(c.signature);
    });
  }

  test("get-vanilla: canonical request and string to sign", () => {
    const { canonical } = suiteRequest(cases[0]);
    expect(canonical).toBe(
      "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + emptyPayloadHash,
    );
    expect(stringToSign(amzDate, scope, canonical)).toBe(
      "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n" +
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
    );
  });

  test("post-x-www-form-urlencoded: canonical request and string to sign", () => {
    const { canonical } = suiteRequest(cases.find((c) => c.name === "post-x-www-form-urlencoded")!);
    expect(canonical).toBe(
      "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n" +
        "content-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
    );
    expect(stringToSign(amzDate, scope, canonical).split("\n")[3]).toBe(
      "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
    );
  });

  test("get-header-value-trim: values trimmed, inner spaces collapsed", () => {
    const { canonical } = suiteRequest(cases.find((c) => c.name === "get-header-value-trim")!);
    expect(canonical).toContain('\nmy-header1:value1\nmy-header2:"a b c"\n');
  });

  test("S3 keeps what the suite normalises", () => {
    expect(canonicalUri("//example//")).toBe("//example//");
    expect(canonicalUri("/example/.././x")).toBe("/example/.././x");
  });

  test("signing key derivation (IAM examples)", () => {
    expect(signingKey(secret, "20120215", "us-east-1", "iam").toString("hex")).toBe(
      "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d",
    );
    expect(signingKey(secret, "20150830", "us-east-1", "iam").toString("hex")).toBe(
      "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9",
    );
  });
});

describe("S3 API reference examples", () => {
  const accessKeyId = "AKIAIOSFODNN7EXAMPLE";
  const secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  const host = "examplebucket.s3.amazonaws.com";
  const nowMs = Date.UTC(2013, 4, 24);
  const credentials = { accessKeyId, secretKey, region: "us-east-1", nowMs };
  const lookup = (id: string) => (id === accessKeyId ? secretKey : undefined);

  interface S3Case {
    name: string;
    method: string;
    path: string;
    query: [string, string][];
    headers: Record<string, string>;
    payloadHash: string;
    signedHeaders: string;
    canonicalHash: string;
    signature: string;
  }

  const cases: S3Case[] = [
    {
      name: "GET Object (range)",
      method: "GET",
      path: "/test.txt",
      query: [],
      headers: { Host: host, Range: "bytes=0-9" },
      payloadHash: emptyPayloadHash,
      signedHeaders: "host;range;x-amz-content-sha256;x-amz-date",
      canonicalHash: "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
      signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    },
    {
      name: "PUT Object",
      method: "PUT",
      path: "/test$file.text",
      query: [],
      headers: { Host: host, Date: "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY" },
      payloadHash: sha256Hex("Welcome to Amazon S3."),
      signedHeaders: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
      canonicalHash: "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
      signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
    },
    {
      name: "GET Bucket Lifecycle",
      method: "GET",
      path: "/",
      query: [["lifecycle", ""]],
      headers: { Host: host },
      payloadHash: emptyPayloadHash,
      signedHeaders: "host;x-amz-content-sha256;x-amz-date",
      canonicalHash: "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
      signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
    },
    {
      name: "GET Bucket (List Objects), query given out of order",
      method: "GET",
      path: "/",
      query: [["prefix", "J"], ["max-keys", "2"]],
      headers: { Host: host },
      payloadHash: emptyPayloadHash,
      signedHeaders: "host;x-amz-content-sha256;x-amz-date",
      canonicalHash: "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
      signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    },
  ];

  for (const c of cases) {
    test(`${c.name}: signHeaders and verifyRequest agree with the document`, () => {
      const req = { method: c.method, decodedPath: c.path, query: c.query, headers: c.headers };
      const added = signHeaders({ ...req, ...credentials, payloadHash: c.payloadHash });
      expect(added["x-amz-date"]).toBe("20130524T000000Z");
      expect(added.authorization).toBe(
        `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20130524/us-east-1/s3/aws4_request, ` +
          `SignedHeaders=${c.signedHeaders}, Signature=${c.signature}`,
      );
      const all = { ...c.headers, "x-amz-date": added["x-amz-date"], "x-amz-content-sha256": added["x-amz-content-sha256"] };
      expect(sha256Hex(canonicalRequest({ ...req, headers: all }, c.signedHeaders.split(";"), c.payloadHash))).toBe(c.canonicalHash);

      // As the document writes the header: no spaces after the commas.
      const compact = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${c.signedHeaders},Signature=${c.signature}`;
      const verified = verifyRequest({ ...req, headers: { ...all, Authorization: compact }, nowMs, region: "us-east-1" }, lookup);
      expect(verified).toMatchObject({
        accessKeyId,
        payloadHash: c.payloadHash,
        signature: c.signature,
        scope: "20130524/us-east-1/s3/aws4_request",
        amzDate: "20130524T000000Z",
      });
    });
  }

  test("PUT Object canonical request, in full", () => {
    const payloadHash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    expect(sha256Hex("Welcome to Amazon S3.")).toBe(payloadHash);
    const headers = {
      Host: host,
      Date: "Fri, 24 May 2013 00:00:00 GMT",
      "x-amz-date": "20130524T000000Z",
      "x-amz-storage-class": "REDUCED_REDUNDANCY",
      "x-amz-content-sha256": payloadHash,
    };
    const signed = ["date", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-storage-class"];
    expect(canonicalRequest({ method: "PUT", decodedPath: "/test$file.text", query: [], headers }, signed, payloadHash)).toBe(
      "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\nhost:examplebucket.s3.amazonaws.com\n" +
        `x-amz-content-sha256:${payloadHash}\nx-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n` +
        `date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n${payloadHash}`,
    );
  });

  test("presigned GET Object", () => {
    const query = presignQuery({ method: "GET", decodedPath: "/test.txt", host, ...credentials, expiresSec: 86400 });
    expect(query).toBe(
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    );
    const pairs = [...new URLSearchParams(query)];
    const unsignedQuery = pairs.filter(([name]) => name !== "X-Amz-Signature");
    const canonical = canonicalRequest({ method: "GET", decodedPath: "/test.txt", query: unsignedQuery, headers: { host } }, ["host"], "UNSIGNED-PAYLOAD");
    expect(sha256Hex(canonical)).toBe("3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");

    const input = { method: "GET", decodedPath: "/test.txt", query: pairs, headers: { host }, region: "us-east-1" };
    expect(verifyRequest({ ...input, nowMs: nowMs + 3600_000 }, lookup)).toMatchObject({
      accessKeyId,
      payloadHash: "UNSIGNED-PAYLOAD",
      signature: "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    });
  });
});
