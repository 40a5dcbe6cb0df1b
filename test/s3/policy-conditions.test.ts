import { describe, expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { conditionsHold, limitsSource, parseConditions, type ConditionValues } from "../../src/s3/policy-conditions.ts";
import { fuzzIterations, fuzzRandom } from "../support/fuzz.ts";

const values = (carried: Record<string, string>): ConditionValues => (key) => carried[key];
const holds = (block: unknown, carried: Record<string, string>) => conditionsHold(parseConditions(block), values(carried));

function refusal(block: unknown): string {
  try {
    parseConditions(block);
  } catch (error) {
    if (error instanceof S3Error) return error.code;
    throw error;
  }
  return "accepted";
}

describe("policy conditions", () => {
  test("IpAddress and NotIpAddress: v4 and v6 blocks, single addresses, v4 clients seen as IPv4-mapped v6", () => {
    const lan = { IpAddress: { "aws:SourceIp": ["10.0.0.0/8", "192.168.1.7", "fd00::/8"] } };
    expect(holds(lan, { "aws:sourceip": "10.20.30.40" })).toBe(true);
    expect(holds(lan, { "aws:sourceip": "::ffff:10.1.2.3" })).toBe(true);
    expect(holds(lan, { "aws:sourceip": "192.168.1.7" })).toBe(true);
    expect(holds(lan, { "aws:sourceip": "192.168.1.8" })).toBe(false);
    expect(holds(lan, { "aws:sourceip": "11.0.0.1" })).toBe(false);
    expect(holds(lan, { "aws:sourceip": "fd12:3456::1" })).toBe(true);
    expect(holds(lan, { "aws:sourceip": "fe80::1" })).toBe(false);
    expect(holds(lan, {})).toBe(false);
    const notLan = { NotIpAddress: { "aws:SourceIp": ["10.0.0.0/8", "127.0.0.1/32"] } };
    expect(holds(notLan, { "aws:sourceip": "8.8.8.8" })).toBe(true);
    expect(holds(notLan, { "aws:sourceip": "127.0.0.1" })).toBe(false);
    expect(holds({ IpAddress: { "aws:SourceIp": "0.0.0.0/0" } }, { "aws:sourceip": "203.0.113.9" })).toBe(true);
    // an IPv4-mapped block is its IPv4 block: it matches a plain IPv4 client
    expect(holds({ IpAddress: { "aws:SourceIp": "::ffff:10.0.0.0/104" } }, { "aws:sourceip": "10.9.9.9" })).toBe(true);
    expect(holds({ IpAddress: { "aws:SourceIp": "::ffff:10.0.0.0/104" } }, { "aws:sourceip": "11.9.9.9" })).toBe(false);
    // an IPv4 client is never in an IPv6 block, however a dual-stack socket shows it
    for (const block of ["::/32", "::ffff:0:0/95", "::/0"]) {
      expect([block, holds({ IpAddress: { "aws:SourceIp": block } }, { "aws:sourceip": "::ffff:10.1.2.3" })]).toEqual([block, false]);
      expect([block, holds({ NotIpAddress: { "aws:SourceIp": block } }, { "aws:sourceip": "::ffff:10.1.2.3" })]).toEqual([block, true]);
    }
    expect(holds({ IpAddress: { "aws:SourceIp": "::/0" } }, { "aws:sourceip": "2001:db8::1" })).toBe(true);
  });

  test("property: an IPv4 block holds exactly for the addresses whose first bits are the block's", () => {
    const rand = fuzzRandom(33);
    const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
    for (let i = 0; i < fuzzIterations(3000); i++) {
      const block = Math.floor(rand() * 2 ** 32);
      const bits = Math.floor(rand() * 33);
      // half the addresses share the block's first bits, the rest are anywhere
      const address = rand() < 0.5 ? (block ^ Math.floor(rand() * 2 ** (32 - bits))) >>> 0 : Math.floor(rand() * 2 ** 32);
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      const expected = ((address & mask) >>> 0) === ((block & mask) >>> 0);
      expect(holds({ IpAddress: { "aws:SourceIp": `${dotted(block)}/${bits}` } }, { "aws:sourceip": dotted(address) })).toBe(expected);
      expect(holds({ IpAddress: { "aws:SourceIp": `${dotted(block)}/${bits}` } }, { "aws:sourceip": `::ffff:${dotted(address)}` })).toBe(expected);
    }
  });

  test("strings, numbers, dates and booleans; any value of a key, every key and every operator", () => {
    expect(holds({ StringLike: { "aws:UserAgent": ["rclone/*", "*boto3*"] } }, { "aws:useragent": "Boto3/1.26 Python" })).toBe(false);
    expect(holds({ StringLike: { "aws:UserAgent": ["rclone/*", "*Boto3*"] } }, { "aws:useragent": "Boto3/1.26 Python" })).toBe(true);
    expect(holds({ StringEqualsIgnoreCase: { "s3:x-amz-acl": "PRIVATE" } }, { "s3:x-amz-acl": "private" })).toBe(true);
    expect(holds({ StringNotEquals: { "s3:prefix": ["a/", "b/"] } }, { "s3:prefix": "c/" })).toBe(true);
    expect(holds({ StringNotEquals: { "s3:prefix": ["a/", "b/"] } }, { "s3:prefix": "b/" })).toBe(false);
    expect(holds({ NumericLessThanEquals: { "s3:max-keys": "100" } }, { "s3:max-keys": "100" })).toBe(true);
    expect(holds({ NumericLessThanEquals: { "s3:max-keys": 100 } }, { "s3:max-keys": "1000" })).toBe(false);
    expect(holds({ NumericLessThan: { "s3:max-keys": "10" } }, { "s3:max-keys": "ten" })).toBe(false);
    expect(holds({ DateLessThan: { "aws:CurrentTime": "2027-01-01T00:00:00Z" } }, { "aws:currenttime": "2026-12-06T10:00:00.000Z" })).toBe(true);
    expect(holds({ DateGreaterThan: { "aws:EpochTime": "1800000000" } }, { "aws:epochtime": "1790000000" })).toBe(false);
    // dates without a zone are UTC, whatever the server's own; offsets count
    expect(holds({ DateLessThan: { "aws:CurrentTime": "2026-12-06T10:00:00" } }, { "aws:currenttime": "2026-12-06T09:59:59.000Z" })).toBe(true);
    expect(holds({ DateLessThan: { "aws:CurrentTime": "2026-12-06T10:00:00" } }, { "aws:currenttime": "2026-12-06T10:00:00.000Z" })).toBe(false);
    expect(holds({ DateLessThan: { "aws:CurrentTime": "2026-12-06T19:00:00+09:00" } }, { "aws:currenttime": "2026-12-06T09:59:59.000Z" })).toBe(true);
    expect(holds({ DateLessThan: { "aws:CurrentTime": "2026-12-07" } }, { "aws:currenttime": "2026-12-06T23:59:59.000Z" })).toBe(true);
    expect(holds({ Bool: { "aws:SecureTransport": false } }, { "aws:securetransport": "false" })).toBe(true);
    expect(holds({ Bool: { "aws:SecureTransport": "true" } }, { "aws:securetransport": "false" })).toBe(false);
    const both = { StringEquals: { "s3:prefix": "logs/", "s3:delimiter": "/" }, NumericLessThan: { "s3:max-keys": "50" } };
    expect(holds(both, { "s3:prefix": "logs/", "s3:delimiter": "/", "s3:max-keys": "10" })).toBe(true);
    expect(holds(both, { "s3:prefix": "logs/", "s3:delimiter": "/", "s3:max-keys": "60" })).toBe(false);
    expect(holds(both, { "s3:prefix": "logs/", "s3:max-keys": "10" })).toBe(false);
  });

  test("a key the request does not carry: positive operators fail, negated ones and ...IfExists pass, Null tells", () => {
    expect(holds({ StringEquals: { "s3:prefix": "a" } }, {})).toBe(false);
    expect(holds({ StringNotEquals: { "s3:prefix": "a" } }, {})).toBe(true);
    expect(holds({ NotIpAddress: { "aws:SourceIp": "10.0.0.0/8" } }, {})).toBe(true);
    expect(holds({ StringEqualsIfExists: { "s3:x-amz-storage-class": "STANDARD" } }, {})).toBe(true);
    expect(holds({ StringEqualsIfExists: { "s3:x-amz-storage-class": "STANDARD" } }, { "s3:x-amz-storage-class": "GLACIER" })).toBe(false);
    expect(holds({ Null: { "s3:x-amz-server-side-encryption": "true" } }, {})).toBe(true);
    expect(holds({ Null: { "s3:x-amz-server-side-encryption": "true" } }, { "s3:x-amz-server-side-encryption": "AES256" })).toBe(false);
    expect(holds({ Null: { "s3:x-amz-server-side-encryption": "false" } }, { "s3:x-amz-server-side-encryption": "AES256" })).toBe(true);
  });

  test("refusals: unknown operators and malformed values are MalformedPolicy; keys and operators s3d cannot know are NotImplemented", () => {
    expect(refusal({ StringMatches: { "s3:prefix": "a" } })).toBe("MalformedPolicy");
    expect(refusal({ IpAddress: { "aws:SourceIp": "10.0.0.0/33" } })).toBe("MalformedPolicy");
    expect(refusal({ IpAddress: { "aws:SourceIp": "not-an-address" } })).toBe("MalformedPolicy");
    expect(refusal({ IpAddress: { "aws:UserAgent": "10.0.0.0/8" } })).toBe("MalformedPolicy");
    expect(refusal({ NumericEquals: { "s3:max-keys": "many" } })).toBe("MalformedPolicy");
    expect(refusal({ Bool: { "aws:SecureTransport": "yes" } })).toBe("MalformedPolicy");
    expect(refusal({ StringEquals: {} })).toBe("MalformedPolicy");
    expect(refusal({ StringEquals: { "s3:prefix": [] } })).toBe("MalformedPolicy");
    expect(refusal({ StringEquals: { "s3:prefix": { nested: 1 } } })).toBe("MalformedPolicy");
    expect(refusal(["StringEquals"])).toBe("MalformedPolicy");
    expect(refusal({ StringEquals: { "aws:PrincipalOrgID": "o-1" } })).toBe("NotImplemented");
    expect(refusal({ StringEquals: { "s3:ExistingObjectTag/class": "public" } })).toBe("NotImplemented");
    expect(refusal({ ArnLike: { "aws:SourceArn": "arn:*" } })).toBe("NotImplemented");
    expect(refusal({ StringLike: { "s3:prefix": "home/${aws:username}/*" } })).toBe("NotImplemented");
    expect(refusal({ StringEquals: { "S3:Prefix": "a" } })).toBe("accepted");
    // every key s3d knows has one value: set operators, under which a missing key passes ForAllValues, are refused
    expect(refusal({ "ForAllValues:StringLike": { "s3:prefix": "public/*" } })).toBe("NotImplemented");
    expect(refusal({ "ForAnyValue:StringEquals": { "s3:prefix": "a" } })).toBe("NotImplemented");
    expect(refusal({ NullIfExists: { "s3:prefix": "true" } })).toBe("MalformedPolicy");
    expect(refusal({ IpAddress: { "aws:SourceIp": "fe80::1%eth0/128" } })).toBe("MalformedPolicy");
    expect(refusal({ DateLessThan: { "aws:CurrentTime": "2026-02-30" } })).toBe("MalformedPolicy");
    expect(refusal({ DateLessThan: { "aws:CurrentTime": "2026-01-01 dec" } })).toBe("MalformedPolicy");
  });

  test("source limits: conditions that keep a statement to some addresses (not public), and those that do not", () => {
    expect(limitsSource(parseConditions({ IpAddress: { "aws:SourceIp": "10.0.0.0/8" } }))).toBe(true);
    expect(limitsSource(parseConditions({ IpAddress: { "aws:SourceIp": ["10.0.0.0/8", "0.0.0.0/0"] } }))).toBe(false);
    expect(limitsSource(parseConditions({ IpAddress: { "aws:SourceIp": ["0.0.0.0/1", "128.0.0.0/1"] } }))).toBe(false);
    expect(limitsSource(parseConditions({ IpAddressIfExists: { "aws:SourceIp": "10.0.0.0/8" } }))).toBe(false);
    expect(limitsSource(parseConditions({ IpAddress: { "aws:SourceIp": ["2001:db8::/32"] } }))).toBe(true);
    expect(limitsSource(parseConditions({ IpAddress: { "aws:SourceIp": ["2001::/16"] } }))).toBe(false);
    expect(limitsSource(parseConditions({ NotIpAddress: { "aws:SourceIp": "10.0.0.0/8" } }))).toBe(false);
    expect(limitsSource(parseConditions({ Bool: { "aws:SecureTransport": "true" } }))).toBe(false);
  });
});
