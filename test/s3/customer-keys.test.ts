/**
 * SSE-C header parsing, unit level: `requestedKey` (src/s3/customer-keys.ts) on hand-built
 * S3Requests, for an object's key (x-amz-server-side-encryption-customer-*) and a copy source's
 * (x-amz-copy-source-server-side-encryption-customer-*): what it takes, each refusal with its S3
 * code, the secure-connection rule (https, or http from loopback; never http from elsewhere) and
 * the write-only need for the key's MD5. Then `keyHeaders`, `sealedWithCustomerKey` and
 * `requireKeyFor`, the store's key checks and refusals (src/store/fs/customer-keys.ts), and a
 * property test over random header values: the parser returns a 32-byte key whose MD5 is the
 * keyMd5 it returns, exactly when a reference model says the headers are valid, and otherwise
 * throws an S3Error with InvalidArgument or InvalidEncryptionAlgorithmError, nothing else.
 */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { S3Error } from "../../src/errors.ts";
import { keyHeaders, requestedKey, requireKeyFor, sealedWithCustomerKey, type KeyRole } from "../../src/s3/customer-keys.ts";
import type { S3Request } from "../../src/s3/request.ts";
import type { ObjectMeta } from "../../src/store/backend.ts";
import { CustomerKeys } from "../../src/store/fs/customer-keys.ts";
import { refusalCode } from "../support/refusal.ts";
import { customerKeyHeaders as trio, customerKeyPrefixes, keyOf, md5b64 } from "../support/sse-c.ts";
import { fuzzIterations, fuzzRandom, mutated } from "../support/fuzz.ts";
import { int, pick, text } from "../sigv4/prng.ts";

const keyA = keyOf("key A");
const keyB = keyOf("key B");

/** An S3Request with these (lowercase) headers; by default over http from loopback, as the tests' own. */
function request(headers: Record<string, string>, connection: { scheme?: "http" | "https"; loopback?: boolean; keysOverLoopback?: boolean } = {}): S3Request {
  return {
    method: "PUT",
    rawPath: "/bucket/key",
    decodedPath: "/bucket/key",
    bucket: "bucket",
    key: "key",
    query: [],
    params: new Map(),
    headers,
    body: (async function* () {})(),
    requestId: "TESTREQUEST",
    nowMs: Date.parse("2026-01-01T00:00:00Z"),
    scheme: connection.scheme ?? "http",
    clientAddress: (connection.loopback ?? true) ? "127.0.0.1" : "192.0.2.7",
    keysOverLoopback: connection.keysOverLoopback ?? true,
  };
}

const parse = (headers: Record<string, string>, role: KeyRole = "object", write = true, connection?: { scheme?: "http" | "https"; loopback?: boolean; keysOverLoopback?: boolean }) =>
  requestedKey(request(headers, connection), role, write);
const refusal = (headers: Record<string, string>, role: KeyRole = "object", write = true, connection?: { scheme?: "http" | "https"; loopback?: boolean; keysOverLoopback?: boolean }) =>
  refusalCode(() => parse(headers, role, write, connection));
/** The message of the S3Error `run` throws. */
function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof S3Error) return error.message;
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("requestedKey", () => {
  test("no headers of the role: no key (and no refusal, whatever the connection)", () => {
    expect(parse({})).toBeUndefined();
    expect(parse({}, "source")).toBeUndefined();
    expect(parse({}, "object", true, { scheme: "http", loopback: false })).toBeUndefined();
    // the other role's headers are not this role's
    expect(parse(trio(keyA, "source"))).toBeUndefined();
    expect(parse(trio(keyA, "object"), "source")).toBeUndefined();
    // x-amz-server-side-encryption alone is SSE-S3, not SSE-C
    expect(parse({ "x-amz-server-side-encryption": "AES256" })).toBeUndefined();
  });

  test("a valid trio: the key's bytes and its base64 MD5, for either role", () => {
    for (const role of ["object", "source"] as const) {
      for (const write of [true, false]) {
        const got = parse(trio(keyA, role), role, write);
        expect(got).toBeDefined();
        expect(Buffer.from(got!.customerKey.key).equals(keyA)).toBe(true);
        expect(got!.keyMd5).toBe(md5b64(keyA));
      }
    }
    // both roles in one request (a copy): each its own
    const both = { ...trio(keyA, "object"), ...trio(keyB, "source") };
    expect(parse(both, "object")!.keyMd5).toBe(md5b64(keyA));
    expect(parse(both, "source")!.keyMd5).toBe(md5b64(keyB));
  });

  test("a key without '=' padding still decodes to its 32 bytes", () => {
    const unpadded = keyA.toString("base64").replace(/=+$/, "");
    expect(unpadded.length).toBe(43);
    expect(parse(trio(keyA, "object", { key: unpadded }))!.keyMd5).toBe(md5b64(keyA));
  });

  test("secure connection: https and loopback http are taken; http from elsewhere is refused", () => {
    for (const role of ["object", "source"] as const) {
      expect(parse(trio(keyA, role), role, true, { scheme: "https", loopback: false })!.keyMd5).toBe(md5b64(keyA));
      expect(parse(trio(keyA, role), role, true, { scheme: "https", loopback: true })!.keyMd5).toBe(md5b64(keyA));
      expect(parse(trio(keyA, role), role, true, { scheme: "http", loopback: true })!.keyMd5).toBe(md5b64(keyA));
      expect(refusal(trio(keyA, role), role, true, { scheme: "http", loopback: false })).toBe("InvalidArgument");
      expect(refusal(trio(keyA, role), role, false, { scheme: "http", loopback: false })).toBe("InvalidArgument");
      // any one of the headers is enough to need a secure connection
      expect(refusal(trio(keyA, role, { key: null, md5: null }), role, true, { scheme: "http", loopback: false })).toBe("InvalidArgument");
    }
    expect(messageOf(() => parse(trio(keyA), "object", true, { scheme: "http", loopback: false }))).toContain("secure connection");
    // a server told not to take keys over plain HTTP from its own machine (--sse-c-over-loopback false) takes them over https only
    expect(refusal(trio(keyA), "object", true, { scheme: "http", loopback: true, keysOverLoopback: false })).toBe("InvalidArgument");
    expect(parse(trio(keyA), "object", true, { scheme: "https", loopback: true, keysOverLoopback: false })!.keyMd5).toBe(md5b64(keyA));
  });

  test("together with x-amz-server-side-encryption: InvalidArgument (a source's key is not concerned)", () => {
    for (const sse of ["AES256", "aws:kms"]) {
      expect(refusal({ ...trio(keyA), "x-amz-server-side-encryption": sse })).toBe("InvalidArgument");
      expect(refusal({ ...trio(keyA), "x-amz-server-side-encryption": sse }, "object", false)).toBe("InvalidArgument");
    }
    expect(messageOf(() => parse({ ...trio(keyA), "x-amz-server-side-encryption": "AES256" }))).toContain("incompatible");
    // a copy that decrypts a keyed source into an SSE-S3 destination
    expect(parse({ ...trio(keyA, "source"), "x-amz-server-side-encryption": "AES256" }, "source")!.keyMd5).toBe(md5b64(keyA));
  });

  test("the algorithm: missing is InvalidArgument, anything but AES256 InvalidEncryptionAlgorithmError", () => {
    for (const role of ["object", "source"] as const) {
      expect(refusal(trio(keyA, role, { algorithm: null }), role)).toBe("InvalidArgument");
      for (const algorithm of ["", "aes256", "AES128", "AES256 ", "aws:kms", "AES-256"]) {
        expect(refusal(trio(keyA, role, { algorithm }), role)).toBe("InvalidEncryptionAlgorithmError");
      }
    }
    try {
      parse(trio(keyA, "source", { algorithm: "AES128" }), "source");
      throw new Error("taken");
    } catch (error) {
      expect(error).toBeInstanceOf(S3Error);
      expect((error as S3Error).httpStatus).toBe(400);
      expect((error as S3Error).details).toEqual({ ArgumentName: "x-amz-copy-source-server-side-encryption-customer-algorithm", ArgumentValue: "AES128" });
    }
  });

  test("the key: missing, not base64 or not 32 bytes is InvalidArgument", () => {
    const b64 = (n: number) => Buffer.alloc(n, 7).toString("base64");
    for (const role of ["object", "source"] as const) {
      expect(refusal(trio(keyA, role, { key: null }), role)).toBe("InvalidArgument");
      expect(refusal(trio(keyA, role, { key: null, md5: null }), role)).toBe("InvalidArgument");
      for (const key of ["", b64(16), b64(31), b64(33), b64(64), "!!!!" + keyA.toString("base64").slice(4), keyA.toString("hex"), keyA.toString("base64url"), " " + keyA.toString("base64")]) {
        expect(refusal(trio(keyA, role, { key, md5: null }), role, false)).toBe("InvalidArgument");
      }
    }
    expect(messageOf(() => parse(trio(keyA, "object", { key: b64(31) })))).toContain("secret key was invalid");
  });

  test("the key's MD5: needed on a write, optional on a read, and must match when given", () => {
    for (const role of ["object", "source"] as const) {
      expect(refusal(trio(keyA, role, { md5: null }), role, true)).toBe("InvalidArgument");
      expect(parse(trio(keyA, role, { md5: null }), role, false)!.keyMd5).toBe(md5b64(keyA));
      for (const write of [true, false]) {
        for (const md5 of [md5b64(keyB), "", createHash("md5").update(keyA).digest("hex"), md5b64(keyA).toLowerCase()]) {
          expect(refusal(trio(keyA, role, { md5 }), role, write)).toBe("InvalidArgument");
        }
      }
      // the MD5 header alone: the algorithm is what is missing
      expect(refusal(trio(keyA, role, { algorithm: null, key: null }), role)).toBe("InvalidArgument");
    }
    expect(messageOf(() => parse(trio(keyA, "object", { md5: md5b64(keyB) })))).toContain("did not match");
  });
});

describe("keyHeaders, sealedWithCustomerKey and requireKeyFor", () => {
  const meta = (check?: string): ObjectMeta => ({ key: "k", sizeBytes: 1, etag: "e", lastModifiedMs: 0, partsCount: 0, headers: {}, userMeta: {}, tags: {}, ...(check === undefined ? {} : { customerKeyCheck: check }) });

  test("keyHeaders: none without a key; the algorithm and the key's MD5 with one", () => {
    expect(keyHeaders(undefined)).toEqual({});
    const answer = keyHeaders(parse(trio(keyA)));
    expect(answer).toEqual({ "x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-server-side-encryption-customer-key-MD5": md5b64(keyA) });
    // the key itself is never answered
    expect(JSON.stringify(answer)).not.toContain(keyA.toString("base64"));
    expect(sealedWithCustomerKey({ headers: answer })).toBe(true);
    expect(sealedWithCustomerKey({ headers: {} })).toBe(false);
    expect(sealedWithCustomerKey({ headers: { "x-amz-server-side-encryption": "AES256" } })).toBe(false);
  });

  test("requireKeyFor: a version sealed with a key refuses a read without one (InvalidRequest, 400)", () => {
    const check = new CustomerKeys(undefined).forNew({ key: keyA }).newCheck();
    const given = parse(trio(keyA));
    expect(refusalCode(() => requireKeyFor(meta(check), undefined))).toBe("InvalidRequest");
    try {
      requireKeyFor(meta(check), undefined);
    } catch (error) {
      expect((error as S3Error).httpStatus).toBe(400);
    }
    expect(refusalCode(() => requireKeyFor(meta(check), given))).toBeUndefined();
    expect(refusalCode(() => requireKeyFor(meta(), undefined))).toBeUndefined();
  });
});

describe("the store's key checks (CustomerKeys)", () => {
  const dataDirKey = keyOf("data dir key");

  test("a check is salted: two of one key differ, both match it, neither another key", () => {
    const keys = new CustomerKeys(undefined);
    const one = keys.forNew({ key: keyA }).newCheck();
    const two = keys.forNew({ key: keyA }).newCheck();
    expect(one).not.toBe(two);
    expect(one).not.toContain(keyA.toString("base64"));
    expect(keys.forNew({ key: keyA }).matches(one)).toBe(true);
    expect(keys.forNew({ key: keyA }).matches(two)).toBe(true);
    expect(keys.forNew({ key: keyB }).matches(one)).toBe(false);
    for (const broken of ["", "v1", "v2" + one.slice(2), one.slice(0, -4), `${one}:x`.replace(/:[^:]*:/, ":AAAA:")]) {
      expect(keys.forNew({ key: keyA }).matches(broken)).toBe(false);
    }
  });

  test("a check is bound to the data dir's key", () => {
    const plain = new CustomerKeys(undefined).forNew({ key: keyA }).newCheck();
    const sealed = new CustomerKeys(dataDirKey).forNew({ key: keyA }).newCheck();
    expect(new CustomerKeys(dataDirKey).forNew({ key: keyA }).matches(plain)).toBe(false);
    expect(new CustomerKeys(undefined).forNew({ key: keyA }).matches(sealed)).toBe(false);
    expect(new CustomerKeys(keyOf("another data dir key")).forNew({ key: keyA }).matches(sealed)).toBe(false);
    expect(new CustomerKeys(dataDirKey).forNew({ key: keyA }).matches(sealed)).toBe(true);
  });

  test("forObject: its key opens it, none withholds its bytes, another is AccessDenied, one for a plain version InvalidRequest", () => {
    const keys = new CustomerKeys(dataDirKey);
    const check = keys.forNew({ key: keyA }).newCheck();
    expect(keys.forObject(check, { key: keyA })).toBeDefined();
    expect(keys.forObject(check, { key: keyA })).not.toBe("withheld");
    expect(keys.forObject(check, undefined)).toBe("withheld");
    expect(refusalCode(() => keys.forObject(check, { key: keyB }))).toBe("AccessDenied");
    expect(keys.forObject(undefined, undefined)).toBeUndefined();
    expect(refusalCode(() => keys.forObject(undefined, { key: keyA }))).toBe("InvalidRequest");
  });

  test("forPart: a keyed upload's parts need its key; a plain upload's take none", () => {
    const keys = new CustomerKeys(undefined);
    const check = keys.forNew({ key: keyA }).newCheck();
    expect(keys.forPart(check, { key: keyA })).toBeDefined();
    expect(refusalCode(() => keys.forPart(check, undefined))).toBe("InvalidRequest");
    expect(refusalCode(() => keys.forPart(check, { key: keyB }))).toBe("InvalidRequest");
    expect(keys.forPart(undefined, undefined)).toBeUndefined();
    expect(refusalCode(() => keys.forPart(undefined, { key: keyA }))).toBe("InvalidRequest");
  });
});

/**
 * The reference model of a role's headers: "absent", "ok", or the codes S3 may refuse them with.
 * Written from S3's rules, not from the parser: a key is base64 (its alphabet, at most two '='
 * at the end) of exactly 32 bytes; the MD5 is the base64 MD5 of those bytes.
 */
function model(headers: Record<string, string>, role: KeyRole, write: boolean, secure: boolean): "absent" | "ok" | "InvalidEncryptionAlgorithmError" | "InvalidArgument" {
  const prefix = customerKeyPrefixes[role];
  const algorithm = headers[`${prefix}algorithm`];
  const key = headers[`${prefix}key`];
  const md5 = headers[`${prefix}key-md5`];
  if (algorithm === undefined && key === undefined && md5 === undefined) return "absent";
  if (!secure) return "InvalidArgument";
  if (role === "object" && headers["x-amz-server-side-encryption"] !== undefined) return "InvalidArgument";
  if (algorithm === undefined) return "InvalidArgument";
  if (algorithm !== "AES256") return "InvalidEncryptionAlgorithmError";
  if (key === undefined || !/^[A-Za-z0-9+/]*={0,2}$/.test(key)) return "InvalidArgument";
  const bytes = Buffer.from(key, "base64");
  if (bytes.length !== 32) return "InvalidArgument";
  if (md5 === undefined ? write : md5 !== md5b64(bytes)) return "InvalidArgument";
  return "ok";
}

test("property: random header values give a 32-byte key with its MD5, or InvalidArgument / InvalidEncryptionAlgorithmError", () => {
  const rand = fuzzRandom(0x55ec);
  const b64Pieces = ["=", "==", "A", "/", "+", "-", "_", " ", "%", "\n", "é", "AAAA", "=A", "\u0000"];
  const randomBytesOf = (n: number) => Buffer.from(Array.from({ length: n }, () => int(rand, 256)));
  const keyValue = (bytes: Buffer): string => {
    const r = rand();
    if (r < 0.35) return bytes.toString("base64");
    if (r < 0.45) return bytes.toString("base64").replace(/=+$/, "");
    if (r < 0.55) return bytes.toString("base64url");
    if (r < 0.6) return bytes.toString("hex");
    if (r < 0.85) return mutated(bytes.toString("base64"), rand, b64Pieces, 3);
    return text(rand, 60, b64Pieces);
  };
  const algorithmValue = () => pick(rand, ["AES256", "AES256", "AES256", "aes256", "AES128", "", " AES256", "aws:kms", text(rand, 12)]);
  const counts = { absent: 0, ok: 0, InvalidArgument: 0, InvalidEncryptionAlgorithmError: 0 };
  for (let i = 0; i < fuzzIterations(4000); i++) {
    const role = pick(rand, ["object", "source"] as const);
    const write = rand() < 0.5;
    const scheme = rand() < 0.8 ? "http" : "https";
    const loopback = rand() < 0.9;
    // mostly 32 bytes, so that valid trios are common
    const bytes = randomBytesOf(rand() < 0.6 ? 32 : int(rand, 49));
    const headers: Record<string, string> = {};
    for (const r of ["object", "source"] as const) {
      const prefix = customerKeyPrefixes[r];
      if (rand() < 0.9) headers[`${prefix}algorithm`] = algorithmValue();
      if (rand() < 0.9) headers[`${prefix}key`] = keyValue(bytes);
      if (rand() < 0.85) headers[`${prefix}key-md5`] = pick(rand, [md5b64(bytes), md5b64(bytes), md5b64(randomBytesOf(32)), mutated(md5b64(bytes), rand, b64Pieces, 2), ""]);
    }
    if (rand() < 0.1) headers["x-amz-server-side-encryption"] = pick(rand, ["AES256", "aws:kms", ""]);
    const expected = model(headers, role, write, scheme === "https" || loopback);
    const shown = JSON.stringify({ role, write, scheme, loopback, headers });
    let got: ReturnType<typeof requestedKey>;
    try {
      got = requestedKey(request(headers, { scheme, loopback }), role, write);
    } catch (error) {
      if (!(error instanceof S3Error)) throw new Error(`not an S3Error (${String(error)}) for ${shown}`);
      expect({ code: error.code, status: error.httpStatus, shown }).toEqual({ code: expected as S3Error["code"], status: 400, shown });
      counts[error.code as "InvalidArgument" | "InvalidEncryptionAlgorithmError"]++;
      continue;
    }
    if (got === undefined) {
      expect({ got: "absent", shown }).toEqual({ got: expected, shown });
      counts.absent++;
      continue;
    }
    expect({ got: "ok", shown }).toEqual({ got: expected, shown });
    expect(got.customerKey.key.length).toBe(32);
    expect(md5b64(got.customerKey.key)).toBe(got.keyMd5);
    // the bytes the key header spells (a mutated one may spell other 32 bytes than `bytes`)
    expect(Buffer.from(got.customerKey.key).equals(Buffer.from(headers[`${customerKeyPrefixes[role]}key`], "base64"))).toBe(true);
    const md5 = headers[`${customerKeyPrefixes[role]}key-md5`];
    if (md5 !== undefined) expect(md5).toBe(got.keyMd5);
    counts.ok++;
  }
  // every outcome was reached, so the run explored more than one branch
  for (const [outcome, n] of Object.entries(counts)) expect({ outcome, reached: n > 0 }).toEqual({ outcome, reached: true });
});
