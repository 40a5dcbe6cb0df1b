import { expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { parseTarget } from "../../src/s3/request.ts";

test("path-style targets split into bucket, key and query", () => {
  expect(parseTarget("/")).toMatchObject({ bucket: "", key: "", query: [] });
  expect(parseTarget("/bkt")).toMatchObject({ bucket: "bkt", key: "" });
  expect(parseTarget("/bkt/")).toMatchObject({ bucket: "bkt", key: "" });
  expect(parseTarget("/bkt/a%20b/c%2Bd+e?list-type=2&prefix=a%2Fb+c&uploads")).toMatchObject({
    bucket: "bkt",
    key: "a b/c+d+e",
    decodedPath: "/bkt/a b/c+d+e",
    query: [["list-type", "2"], ["prefix", "a/b c"], ["uploads", ""]],
  });
  expect(parseTarget("/bkt/../../etc/passwd")).toMatchObject({ bucket: "bkt", key: "../../etc/passwd" });
  expect(parseTarget("/bkt//a//b")).toMatchObject({ bucket: "bkt", key: "/a//b" });
});

test("absolute-form targets (through a proxy) are their path", () => {
  expect(parseTarget("http://127.0.0.1:9000/bkt/a%20b?tagging")).toMatchObject({ rawPath: "/bkt/a%20b", bucket: "bkt", key: "a b", query: [["tagging", ""]] });
  expect(parseTarget("HTTPS://s3.example.test")).toMatchObject({ rawPath: "/", bucket: "", key: "" });
  expect(parseTarget("http://h?list-type=2")).toMatchObject({ rawPath: "/", query: [["list-type", "2"]] });
  // only a scheme and authority are taken off: a key that looks like a URL stays the key
  expect(parseTarget("/bkt/http://x/y")).toMatchObject({ bucket: "bkt", key: "http://x/y" });
});

test("bad percent-encoding is InvalidURI", () => {
  for (const t of ["/bkt/%zz", "/bkt/%", "/bkt?x=%E0%A4%A"]) {
    expect(() => parseTarget(t)).toThrow(S3Error);
  }
});

test("virtual-host style: the Host names the bucket and the whole path is the key", async () => {
  const { bucketFromHost } = await import("../../src/s3/request.ts");
  expect(bucketFromHost("photos.s3.example.test:9000", "s3.example.test")).toBe("photos");
  expect(bucketFromHost("my.dotted.bucket.s3.example.test", "s3.example.test")).toBe("my.dotted.bucket");
  expect(bucketFromHost("s3.example.test:9000", "s3.example.test")).toBeUndefined();
  expect(bucketFromHost("127.0.0.1:9000", "s3.example.test")).toBeUndefined();
  expect(bucketFromHost("photos.s3.example.test", undefined)).toBeUndefined();
  expect(parseTarget("/a/b%20c?tagging", "photos")).toMatchObject({ bucket: "photos", key: "a/b c", decodedPath: "/a/b c" });
  expect(parseTarget("/", "photos")).toMatchObject({ bucket: "photos", key: "" });
});
