import { expect, test } from "bun:test";
import { grantsAllow, grantsName, permissionsFor, type Grants } from "../../src/s3/grants.ts";

test("reading actions need read (a bucket's settings: read or owner); others write on objects and are the owner's on the bucket; the policy is the owner's", () => {
  expect(permissionsFor(["s3:GetObject"], true)).toEqual(["read"]);
  expect(permissionsFor(["s3:GetObject", "s3:GetObjectAttributes"], true)).toEqual(["read"]);
  expect(permissionsFor(["s3:ListBucket"], false)).toEqual(["read"]);
  expect(permissionsFor(["s3:GetLifecycleConfiguration"], false)).toEqual(["read", "owner"]);
  expect(permissionsFor(["s3:GetBucketLocation"], false)).toEqual(["read", "owner"]);
  // a writer resumes and cleans up its own uploads
  expect(permissionsFor(["s3:ListMultipartUploadParts"], true)).toEqual(["read", "write"]);
  expect(permissionsFor(["s3:ListBucketMultipartUploads"], false)).toEqual(["read", "write"]);
  expect(permissionsFor(["s3:PutObject"], true)).toEqual(["write"]);
  expect(permissionsFor(["s3:PutObject", "s3:PutObjectTagging"], true)).toEqual(["write"]);
  expect(permissionsFor(["s3:DeleteObject"], true)).toEqual(["write"]);
  expect(permissionsFor(["s3:AbortMultipartUpload"], true)).toEqual(["write"]);
  expect(permissionsFor(["s3:CreateBucket"], false)).toEqual(["owner"]);
  expect(permissionsFor(["s3:DeleteBucket"], false)).toEqual(["owner"]);
  expect(permissionsFor(["s3:PutBucketCORS"], false)).toEqual(["owner"]);
  expect(permissionsFor(["s3:PutLifecycleConfiguration"], false)).toEqual(["owner"]);
  expect(permissionsFor(["s3:GetBucketPolicy"], false)).toEqual(["owner"]);
  // what undoes versioning and Object Lock is the owner's: a writer cannot destroy what it wrote
  for (const action of ["s3:DeleteObjectVersion", "s3:PutObjectRetention", "s3:PutObjectLegalHold"]) expect(permissionsFor([action], true)).toEqual(["owner"]);
  expect(permissionsFor(["s3:DeleteObject", "s3:BypassGovernanceRetention"], true)).toEqual(["owner"]);
  expect(permissionsFor(["s3:GetObjectRetention"], true)).toEqual(["read"]);
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
