import { expect, test } from "bun:test";
import { bucketNameProblem, checkKey } from "../../src/s3/names.ts";
import { S3Error } from "../../src/errors.ts";

test("valid bucket names", () => {
  for (const n of ["abc", "my-bucket", "my.bucket.1", "a".repeat(63), "1bucket", "bucket1"]) expect(bucketNameProblem(n)).toBeUndefined();
});

test("invalid bucket names, each by AWS's rules", () => {
  for (const n of ["ab", "a".repeat(64), "My-Bucket", "bucket_1", "-bucket", "bucket-", ".bucket", "bucket.", "my..bucket", "192.168.5.4",
    "xn--bucket", "sthree-b", "amzn-s3-demo-bucket", "bucket-s3alias", "bucket--ol-s3", "bucket.mrap", "bucket--x-s3", "bucket--table-s3", "_s3d", "bück", "a b"]) {
    expect(bucketNameProblem(n)).toBeString();
  }
});

test("keys: 1024 UTF-8 bytes at most", () => {
  checkKey("k".repeat(1024));
  checkKey("é".repeat(512));
  for (const k of ["k".repeat(1025), "é".repeat(513)]) {
    expect(() => checkKey(k)).toThrow(S3Error);
    try {
      checkKey(k);
    } catch (e) {
      expect((e as S3Error).code).toBe("KeyTooLongError");
    }
  }
});
