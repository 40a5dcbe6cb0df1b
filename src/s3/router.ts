/** Maps a request (method, bucket, key, sub-resource) to its S3 operation. Pure. */
import { S3Error } from "../errors.ts";
import * as buckets from "./handlers/buckets.ts";
import * as copy from "./handlers/copy.ts";
import * as cors from "./handlers/cors.ts";
import type { Handler } from "./handlers/context.ts";
import * as keptSettings from "./handlers/kept-settings.ts";
import * as lifecycle from "./handlers/lifecycle.ts";
import * as list from "./handlers/list.ts";
import * as multipart from "./handlers/multipart.ts";
import * as objects from "./handlers/objects.ts";
import * as policy from "./handlers/policy.ts";
import * as publicAccessBlock from "./handlers/public-access-block.ts";
import * as objectLock from "./handlers/object-lock.ts";
import * as versioning from "./handlers/versioning.ts";
import * as website from "./handlers/website.ts";
import { postObject } from "./handlers/post-object.ts";
import { checkVersionId } from "./names.ts";

export interface Route {
  operation: string;
  handler: Handler;
  /**
   * served without a signature in its headers or query: the CORS preflight, which browsers send
   * unsigned, and POST Object, whose handler checks the signature in its form
   */
  anonymous?: boolean;
  /**
   * its operation's access is checked by its handler once the request's document is read, as the
   * policies' conditions may ask what it says (PutObjectRetention, PutObjectLegalHold: Object Lock's keys)
   */
  accessAfterBody?: boolean;
}

/** Sub-resources of the S3 API that s3d does not serve (yet): answered with NotImplemented. */
const unservedSubresources = [
  "acl", "accelerate", "analytics", "encryption", "intelligent-tiering", "inventory",
  "logging", "metrics", "notification", "ownershipControls",
  "publicAccessBlock", "replication", "requestPayment", "restore",
  "select", "torrent", "versions", "website",
];

/**
 * Every query parameter an operation s3d serves reads. S3 names its sub-resources with valueless
 * parameters ("?metadataTable", "?renameObject"), and new ones keep coming: a valueless parameter
 * not in this list is refused as an unserved sub-resource, never ignored into the plain operation
 * (a DELETE /bucket?metadataTable would delete the bucket). Parameters with values that s3d does
 * not know (the SDKs' "x-id=PutObject") are ignored, as S3 ignores them.
 */
const servedParams = new Set([
  "prefix", "delimiter", "marker", "max-keys", "encoding-type", "list-type", "continuation-token", "fetch-owner", "start-after",
  "max-buckets", "bucket-region",
  "uploads", "uploadId", "partNumber", "max-parts", "part-number-marker", "key-marker", "upload-id-marker", "max-uploads",
  "versionId", "tagging", "attributes", "cors", "delete", "location", "version-id-marker", "policy", "policyStatus", "lifecycle",
]);

/**
 * SSE-C's parameters, which some SDKs move into a presigned URL's query: there s3d would not read
 * them (it reads the key from headers only) and would store the object unsealed, and the key would
 * sit in URLs, logs and caches. Refused instead.
 */
const customerKeyParam = /^x-amz-(copy-source-)?server-side-encryption-customer-/i;

function isServedParam(name: string): boolean {
  return servedParams.has(name) || name.startsWith("response-") || name.toLowerCase().startsWith("x-amz-");
}

function route(operation: string, handler: Handler): Route {
  return { operation, handler };
}

/**
 * A bucket's configurations, each a sub-resource (`?policy`), by the methods it is served for; any
 * other method is MethodNotAllowed. Some are settings every s3d bucket has, whose writes are
 * accepted where they ask for what holds (kept-settings.ts).
 */
const bucketConfigurations: ReadonlyArray<readonly [string, Readonly<Record<string, Route>>]> = [
  ["cors", { PUT: route("PutBucketCors", cors.putBucketCors), GET: route("GetBucketCors", cors.getBucketCors), DELETE: route("DeleteBucketCors", cors.deleteBucketCors) }],
  ["policy", { PUT: route("PutBucketPolicy", policy.putBucketPolicy), GET: route("GetBucketPolicy", policy.getBucketPolicy), DELETE: route("DeleteBucketPolicy", policy.deleteBucketPolicy) }],
  ["policyStatus", { GET: route("GetBucketPolicyStatus", policy.getBucketPolicyStatus) }],
  ["versioning", { PUT: route("PutBucketVersioning", versioning.putBucketVersioning), GET: route("GetBucketVersioning", versioning.getBucketVersioning) }],
  ["object-lock", { PUT: route("PutObjectLockConfiguration", objectLock.putObjectLockConfiguration), GET: route("GetObjectLockConfiguration", objectLock.getObjectLockConfiguration) }],
  [
    "lifecycle",
    {
      PUT: route("PutBucketLifecycleConfiguration", lifecycle.putBucketLifecycle),
      GET: route("GetBucketLifecycleConfiguration", lifecycle.getBucketLifecycle),
      DELETE: route("DeleteBucketLifecycle", lifecycle.deleteBucketLifecycle),
    },
  ],
  [
    "publicAccessBlock",
    {
      PUT: route("PutPublicAccessBlock", publicAccessBlock.putPublicAccessBlock),
      GET: route("GetPublicAccessBlock", publicAccessBlock.getPublicAccessBlock),
      DELETE: route("DeletePublicAccessBlock", publicAccessBlock.deletePublicAccessBlock),
    },
  ],
  ["tagging", { PUT: route("PutBucketTagging", buckets.putBucketTagging), GET: route("GetBucketTagging", buckets.getBucketTagging), DELETE: route("DeleteBucketTagging", buckets.deleteBucketTagging) }],
  ["website", { PUT: route("PutBucketWebsite", website.putBucketWebsite), GET: route("GetBucketWebsite", website.getBucketWebsite), DELETE: route("DeleteBucketWebsite", website.deleteBucketWebsite) }],
  [
    "ownershipControls",
    {
      PUT: route("PutBucketOwnershipControls", keptSettings.putBucketOwnershipControls),
      GET: route("GetBucketOwnershipControls", keptSettings.getBucketOwnershipControls),
      DELETE: route("DeleteBucketOwnershipControls", keptSettings.deleteBucketOwnershipControls),
    },
  ],
  [
    "encryption",
    {
      PUT: route("PutBucketEncryption", keptSettings.putBucketEncryption),
      GET: route("GetBucketEncryption", keptSettings.getBucketEncryption),
      DELETE: route("DeleteBucketEncryption", keptSettings.deleteBucketEncryption),
    },
  ],
];

/** An object version's settings, each a sub-resource (`?retention`), by the methods it is served for. */
const objectConfigurations: ReadonlyArray<readonly [string, Readonly<Record<string, Route>>]> = [
  ["retention", { PUT: { ...route("PutObjectRetention", objectLock.putObjectRetention), accessAfterBody: true }, GET: route("GetObjectRetention", objectLock.getObjectRetention) }],
  ["legal-hold", { PUT: { ...route("PutObjectLegalHold", objectLock.putObjectLegalHold), accessAfterBody: true }, GET: route("GetObjectLegalHold", objectLock.getObjectLegalHold) }],
];

export function routeOf(method: string, bucket: string, key: string, params: Map<string, string>, headers: Record<string, string>): Route {
  if (method === "OPTIONS" && bucket !== "") return { operation: "PreflightRequest", handler: cors.preflight, anonymous: true };
  if (key === "" && bucket !== "") {
    for (const [name, methods] of bucketConfigurations) {
      if (!params.has(name)) continue;
      const served = methods[method];
      if (served === undefined) throw methodNotAllowed(method, "BUCKET");
      return served;
    }
  }
  // (an object's operations read `versionId` before the checks below: it must be one s3d could have made)
  if (key !== "") checkVersionId(params.get("versionId"));
  if (key !== "") {
    for (const [name, methods] of objectConfigurations) {
      if (!params.has(name)) continue;
      const served = methods[method];
      if (served === undefined) throw methodNotAllowed(method, "OBJECT");
      return served;
    }
  }
  if (key !== "" && method === "GET" && params.has("attributes")) return route("GetObjectAttributes", objects.getObjectAttributes);
  if (params.has("attributes")) throw new S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.");
  const objectTagging = key !== "" && params.has("tagging");
  // ACLs: every s3d bucket and object has the owner's alone, and a write of that is accepted (kept-settings.ts)
  if (bucket !== "" && method === "PUT" && params.has("acl")) return route(key === "" ? "PutBucketAcl" : "PutObjectAcl", keptSettings.putAcl);
  const unset = key === "" && bucket !== "" && method === "GET" ? buckets.unsetConfigurationOf(params) : undefined;
  if (unset) return route(unset.operation, unset.handler);
  if (key !== "" && method === "GET" && params.has("acl")) return route("GetObjectAcl", objects.getObjectAcl);
  if (key === "" && bucket !== "" && method === "GET" && params.has("versions")) return route("ListObjectVersions", list.listObjectVersions);
  for (const [name, value] of params) {
    if (customerKeyParam.test(name)) throw new S3Error("InvalidArgument", "Server Side Encryption with Customer provided keys must be given in request headers, not in the query string.", { ArgumentName: name });
    if (unservedSubresources.includes(name) || (value === "" && !isServedParam(name))) {
      throw new S3Error("NotImplemented", `The ${name} sub-resource is not implemented by s3d.`);
    }
  }
  // (an object's was checked above)
  if (key === "") checkVersionId(params.get("versionId"));
  if (bucket === "") {
    // "//key": a key with no bucket
    if (key !== "") throw new S3Error("InvalidBucketName", "The specified bucket is not valid.", { BucketName: "" });
    if (method === "GET") return route("ListBuckets", buckets.listBuckets);
  } else if (key === "") {
    switch (method) {
      case "PUT":
        return route("CreateBucket", buckets.createBucket);
      case "HEAD":
        return route("HeadBucket", buckets.headBucket);
      case "DELETE":
        return route("DeleteBucket", buckets.deleteBucket);
      case "POST":
        if (params.has("delete")) return route("DeleteObjects", objects.deleteObjects);
        return { operation: "PostObject", handler: postObject, anonymous: true };
      case "GET":
        if (params.has("location")) return route("GetBucketLocation", buckets.getBucketLocation);
        if (params.has("uploads")) return route("ListMultipartUploads", multipart.listMultipartUploads);
        if (params.get("list-type") === "2") return route("ListObjectsV2", list.listObjectsV2);
        return route("ListObjects", list.listObjectsV1);
    }
  } else {
    const uploadId = params.has("uploadId");
    if (objectTagging) {
      if (method === "GET") return route("GetObjectTagging", objects.getObjectTagging);
      if (method === "PUT") return route("PutObjectTagging", objects.putObjectTagging);
      if (method === "DELETE") return route("DeleteObjectTagging", objects.deleteObjectTagging);
    }
    const copySource = headers["x-amz-copy-source"] !== undefined;
    switch (method) {
      case "PUT":
        if (uploadId || params.has("partNumber")) {
          return copySource ? route("UploadPartCopy", copy.uploadPartCopy) : route("UploadPart", multipart.uploadPart);
        }
        if (copySource) return route("CopyObject", copy.copyObject);
        return route("PutObject", objects.putObject);
      case "GET":
        if (uploadId) return route("ListParts", multipart.listParts);
        return route("GetObject", objects.getObject);
      case "HEAD":
        return route("HeadObject", objects.headObject);
      case "DELETE":
        if (uploadId) return route("AbortMultipartUpload", multipart.abortMultipartUpload);
        return route("DeleteObject", objects.deleteObject);
      case "POST":
        if (params.has("uploads")) return route("CreateMultipartUpload", multipart.createMultipartUpload);
        if (uploadId) return route("CompleteMultipartUpload", multipart.completeMultipartUpload);
        break;
    }
  }
  throw methodNotAllowed(method, key !== "" ? "OBJECT" : bucket !== "" ? "BUCKET" : "SERVICE");
}

function methodNotAllowed(method: string, resourceType: "OBJECT" | "BUCKET" | "SERVICE"): S3Error {
  return new S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.", { Method: method, ResourceType: resourceType });
}
