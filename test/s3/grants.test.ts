import { expect, test } from "bun:test";
import { grantsAllow, grantsName, permissionFor, type Grants } from "../../src/s3/grants.ts";

test("reading actions need read; others write on objects and are the owner's on the bucket; the policy is the owner's", () => {
  expect(permissionFor(["s3:GetObject"], true)).toBe("read");
  expect(permissionFor(["s3:GetObject", "s3:GetObjectAttributes"], true)).toBe("read");
  expect(permissionFor(["s3:ListBucket"], false)).toBe("read");
  expect(permissionFor(["s3:GetLifecycleConfiguration"], false)).toBe("read");
  expect(permissionFor(["s3:PutObject"], true)).toBe("write");
  expect(permissionFor(["s3:PutObject", "s3:PutObjectTagging"], true)).toBe("write");
  expect(permissionFor(["s3:DeleteObject"], true)).toBe("write");
  expect(permissionFor(["s3:AbortMultipartUpload"], true)).toBe("write");
  expect(permissionFor(["s3:CreateBucket"], false)).toBe("owner");
  expect(permissionFor(["s3:DeleteBucket"], false)).toBe("owner");
  expect(permissionFor(["s3:PutBucketCORS"], false)).toBe("owner");
  expect(permissionFor(["s3:PutLifecycleConfiguration"], false)).toBe("owner");
  expect(permissionFor(["s3:GetBucketPolicy"], false)).toBe("owner");
});

test("grants: each pattern allows what it lists, patterns with * name many buckets", () => {
  const grants: Grants = [
    { bucket: "backups", allows: ["write"] },
    { bucket: "logs-*", allows: ["read"] },
    { bucket: "team-?", allows: ["owner", "read", "write"] },
  ];
  expect(grantsAllow(grants, "backups", "write")).toBe(true);
  expect(grantsAllow(grants, "backups", "read")).toBe(false);
  expect(grantsAllow(grants, "logs-2026", "read")).toBe(true);
  expect(grantsAllow(grants, "logs-2026", "write")).toBe(false);
  expect(grantsAllow(grants, "team-a", "owner")).toBe(true);
  expect(grantsAllow(grants, "team-ab", "owner")).toBe(false);
  expect(grantsAllow(grants, "other", "read")).toBe(false);
  expect([grantsName(grants, "backups"), grantsName(grants, "logs-x"), grantsName(grants, "other")]).toEqual([true, true, false]);
  expect(grantsName([{ bucket: "b", allows: [] }], "b")).toBe(false);
});
