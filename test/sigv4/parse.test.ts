import { describe, expect, test } from "bun:test";
import { isS3Error } from "../../src/errors.ts";
import { parseAuthorizationHeader, parsePresignedQuery } from "../../src/sigv4/index.ts";
import { expectS3Error } from "./expect-s3error.ts";
import { int, mulberry32, pick, seedFromEnv, text } from "./prng.ts";

const credential = "AKIDEXAMPLE/20130524/us-east-1/s3/aws4_request";
const signature = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
const dated = { "x-amz-date": "20130524T000000Z" };

describe("parseAuthorizationHeader", () => {
  test.each([
    `AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    `AWS4-HMAC-SHA256 Credential=${credential},SignedHeaders=host;x-amz-date,Signature=${signature}`,
    `  AWS4-HMAC-SHA256   Credential=${credential} ,  SignedHeaders=host;x-amz-date ,Signature=${signature},  `,
    `AWS4-HMAC-SHA256 Signature=${signature}, Credential=${credential}, SignedHeaders=Host;X-Amz-Date`,
  ])("reads %s", (value) => {
    expect(parseAuthorizationHeader(value, dated)).toEqual({
      credential: { accessKeyId: "AKIDEXAMPLE", date: "20130524", region: "us-east-1", service: "s3" },
      signedHeaders: ["host", "x-amz-date"],
      signature,
      amzDate: "20130524T000000Z",
      presigned: false,
    });
  });

  test("takes the date from a Date header when x-amz-date is absent", () => {
    const value = `AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=date;host, Signature=${signature}`;
    expect(parseAuthorizationHeader(value, { Date: "Fri, 24 May 2013 00:00:00 GMT" }).amzDate).toBe("20130524T000000Z");
    expect(parseAuthorizationHeader(value, new Headers({ Date: "Fri, 24 May 2013 13:14:15 GMT" })).amzDate).toBe("20130524T131415Z");
    // UTC however RFC 5322 writes it: botocore signs with Python's email.utils, which writes -0000
    for (const zone of ["-0000", "+0000", "UT", "UTC"]) {
      expect(parseAuthorizationHeader(value, { Date: `Fri, 24 May 2013 13:14:15 ${zone}` }).amzDate).toBe("20130524T131415Z");
    }
  });

  test.each([
    [{}, "no date"],
    [{ "x-amz-date": "2013-05-24T00:00:00Z" }, "extended ISO form"],
    [{ "x-amz-date": "20130230T000000Z" }, "30 February"],
    [{ "x-amz-date": "bad", Date: "Fri, 24 May 2013 00:00:00 GMT" }, "bad x-amz-date, good Date"],
    [{ Date: "Fri, 31 Feb 2013 00:00:00 GMT" }, "31 February"],
    [{ Date: "2013-05-24" }, "Date not RFC 1123"],
    [{ Date: "Fri, 24 May 2013 00:00:00 +0100" }, "a zone other than UTC"],
  ])("%j (%s) → AccessDenied", (headers) => {
    const value = `AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=host, Signature=${signature}`;
    const e = expectS3Error(() => parseAuthorizationHeader(value, headers), "AccessDenied");
    expect(e.message).toBe("AWS authentication requires a valid Date or x-amz-date header");
  });

  test("another scheme: InvalidArgument naming the header, as S3 answers", () => {
    for (const value of ["Bearer abc", "AWS4-HMAC-SHA25 Credential=x", "aws4-hmac-sha256 Credential=x", "", "AWS4-HMAC-SHA256Credential=x"]) {
      const e = expectS3Error(() => parseAuthorizationHeader(value, dated), "InvalidArgument", value);
      expect(e.message).toBe("Unsupported Authorization Type");
      expect(e.details).toEqual({ ArgumentName: "Authorization", ArgumentValue: value });
    }
  });

  test("SigV2 and SigV4a: InvalidRequest, please use AWS4-HMAC-SHA256", () => {
    for (const value of ["AWS AKIDEXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=", `AWS4-ECDSA-P256-SHA256 Credential=${credential}`]) {
      const e = expectS3Error(() => parseAuthorizationHeader(value, dated), "InvalidRequest");
      expect(e.message).toBe("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.");
    }
  });

  test.each([
    ["AWS4-HMAC-SHA256", "the authorization header requires three components: Credential, SignedHeaders, and Signature."],
    [`AWS4-HMAC-SHA256 Credential=${credential}, Signature=${signature}`, "the authorization header requires three components: Credential, SignedHeaders, and Signature."],
    [`AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=host, Signature=${signature}, Extra=1`, 'the authorization component "Extra=1" is malformed.'],
    [`AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=host, Signature`, 'the authorization component "Signature" is malformed.'],
    [`AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=, Signature=${signature}`, 'the authorization component "SignedHeaders=" is malformed.'],
    [`AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=host;;date, Signature=${signature}`, 'the authorization component "SignedHeaders=host;;date" is malformed.'],
    [`AWS4-HMAC-SHA256 Credential=${credential}, Credential=${credential}, SignedHeaders=host, Signature=${signature}`, `the authorization component "Credential=${credential}" is malformed.`],
    [`AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3, SignedHeaders=host, Signature=${signature}`, 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'],
    [`AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${signature}`, 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'],
    [`AWS4-HMAC-SHA256 Credential=AKID/2013-05-24/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${signature}`, 'incorrect date format "2013-05-24". This date in the credential must be in the format "yyyyMMdd".'],
    [`AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_reques, SignedHeaders=host, Signature=${signature}`, 'incorrect terminal "aws4_reques". This endpoint uses "aws4_request".'],
  ])("%s → AuthorizationHeaderMalformed", (value, message) => {
    const e = expectS3Error(() => parseAuthorizationHeader(value, dated), "AuthorizationHeaderMalformed");
    expect(e.message).toBe("The authorization header is malformed; " + message);
  });

  test("a scope seen before (only the signature new) parses as a first sight of it does", () => {
    const rng = mulberry32(seedFromEnv(0x5c0));
    const outcome = (value: string) => {
      try {
        return parseAuthorizationHeader(value, dated);
      } catch (e) {
        return isS3Error(e) ? `${e.code}: ${e.message}` : `not an S3Error: ${e}`;
      }
    };
    const keys = ["AKIDEXAMPLE", "other", "a=b"];
    const headerLists = ["host;x-amz-date", "Host;X-Amz-Date", "host", "host;;date", ""];
    const tails = ["", ", Extra=1", `, Signature=${signature}`, " ", ","];
    for (let i = 0; i < 3000; i++) {
      const sep = pick(rng, [", ", ","]);
      const scope = `Credential=${pick(rng, keys)}/${pick(rng, ["20130524", "2013-05-24"])}/us-east-1/s3/aws4_request${sep}SignedHeaders=${pick(rng, headerLists)}`;
      const value = `AWS4-HMAC-SHA256 ${scope}${sep}Signature=${text(rng, 4) || "0"}${pick(rng, tails)}`;
      outcome(`AWS4-HMAC-SHA256 ${scope}${sep}Signature=${signature}`); // the scope seen, another signature
      const asSeen = outcome(value);
      // a header of another scope, parsed in full, makes the next parse of `value` a first sight
      outcome(`AWS4-HMAC-SHA256 Credential=reset${i}/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${signature}`);
      expect(asSeen).toEqual(outcome(value));
    }
    const shared = parseAuthorizationHeader(`AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=host;x-amz-date, Signature=${signature}`, dated);
    expect(Object.isFrozen(shared.signedHeaders) && Object.isFrozen(shared.credential)).toBe(true);
  });

  test("fuzz: only ever an S3Error, never a TypeError", () => {
    const seed = seedFromEnv(0xa17);
    const rng = mulberry32(seed);
    const fragments = [
      "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 ", " ", ",", ", ", "=", "/", ";", "Credential=", "SignedHeaders=", "Signature=",
      credential, "aws4_request", "s3", "20130524", "host", "x-amz-date", signature, "constructor", "__proto__", "toString",
    ];
    const headerChoices: Array<Headers | Record<string, string>> = [dated, {}, { Date: "Fri, 24 May 2013 00:00:00 GMT" }, { "x-amz-date": "x" }, new Headers(dated)];
    for (let i = 0; i < 5000; i++) {
      let value = "";
      const parts = int(rng, 12);
      for (let p = 0; p < parts; p++) value += rng() < 0.75 ? pick(rng, fragments) : text(rng, 6);
      try {
        parseAuthorizationHeader(value, pick(rng, headerChoices));
      } catch (e) {
        if (!isS3Error(e)) throw new Error(`seed ${seed} case ${i} value ${JSON.stringify(value)}: ${e}`);
      }
    }
  });
});

describe("parsePresignedQuery", () => {
  const good: [string, string][] = [
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
    ["X-Amz-Credential", credential],
    ["X-Amz-Date", "20130524T000000Z"],
    ["X-Amz-Expires", "86400"],
    ["X-Amz-SignedHeaders", "host"],
    ["X-Amz-Signature", signature],
  ];
  const replaced = (name: string, value: string | undefined): [string, string][] =>
    good.flatMap(([n, v]) => (n !== name ? [[n, v] as [string, string]] : value === undefined ? [] : [[n, value] as [string, string]]));

  test("reads the six parameters", () => {
    expect(parsePresignedQuery([["versionId", "x"], ...good])).toEqual({
      credential: { accessKeyId: "AKIDEXAMPLE", date: "20130524", region: "us-east-1", service: "s3" },
      signedHeaders: ["host"],
      signature,
      amzDate: "20130524T000000Z",
      expiresSec: 86400,
      presigned: true,
    });
  });

  test("each parameter missing or empty", () => {
    for (const [name] of good) {
      for (const value of [undefined, ""]) {
        const e = expectS3Error(() => parsePresignedQuery(replaced(name, value)), "AuthorizationQueryParametersError", name);
        expect(e.message).toBe(
          "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        );
      }
    }
  });

  test.each([
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA1", 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"'],
    ["X-Amz-Expires", "604801", "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"],
    ["X-Amz-Expires", "0", "X-Amz-Expires must be at least 1 second"],
    ["X-Amz-Expires", "-1", "X-Amz-Expires must be non-negative"],
    ["X-Amz-Expires", "1.5", "X-Amz-Expires should be a number"],
    ["X-Amz-Expires", "soon", "X-Amz-Expires should be a number"],
    ["X-Amz-Date", "20130524", `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`],
    ["X-Amz-Credential", "AKID/20130524/us-east-1/s3", 'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'],
    ["X-Amz-Credential", "AKID/20130524/us-east-1/s3/aws5_request", 'Error parsing the X-Amz-Credential parameter; incorrect terminal "aws5_request". This endpoint uses "aws4_request".'],
  ])("%s=%s → AuthorizationQueryParametersError", (name, value, message) => {
    const e = expectS3Error(() => parsePresignedQuery(replaced(name, value)), "AuthorizationQueryParametersError");
    expect(e.message).toBe(message);
  });

  test("the limits themselves are accepted", () => {
    expect(parsePresignedQuery(replaced("X-Amz-Expires", "604800")).expiresSec).toBe(604800);
    expect(parsePresignedQuery(replaced("X-Amz-Expires", "1")).expiresSec).toBe(1);
  });
});
