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

test("bad percent-encoding is InvalidURI", () => {
  for (const t of ["/bkt/%zz", "/bkt/%", "/bkt?x=%E0%A4%A"]) {
    expect(() => parseTarget(t)).toThrow(S3Error);
  }
});
