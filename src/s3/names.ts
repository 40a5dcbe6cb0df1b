/** Validation of bucket names, object keys, part numbers and version ids, by AWS's rules. Pure. */
import { S3Error } from "../errors.ts";
import { isVersionId, partsMax } from "../store/backend.ts";

export const keyBytesMax = 1024;
const bucketNameBytesMin = 3;
const bucketNameBytesMax = 63;
const reservedPrefixes = ["xn--", "sthree-", "amzn-s3-demo-"];
const reservedSuffixes = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/** Why a bucket name is invalid, or undefined when it is valid. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < bucketNameBytesMin || name.length > bucketNameBytesMax) {
    return `must be between ${bucketNameBytesMin} and ${bucketNameBytesMax} characters long`;
  }
  if (!/^[a-z0-9.-]+$/.test(name)) return "may contain only lowercase letters, digits, dots and hyphens";
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return "must begin and end with a letter or digit";
  if (name.includes("..")) return "must not contain two adjacent periods";
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return "must not be formatted as an IP address";
  for (const p of reservedPrefixes) if (name.startsWith(p)) return `must not start with ${p}`;
  for (const s of reservedSuffixes) if (name.endsWith(s)) return `must not end with ${s}`;
  return undefined;
}

export function checkBucketName(name: string): void {
  const problem = bucketNameProblem(name);
  if (problem !== undefined) {
    throw new S3Error("InvalidBucketName", `The specified bucket is not valid: the name ${problem}.`, {
      BucketName: name,
    });
  }
}

export function checkKey(key: string): void {
  if (key.length === 0) throw new S3Error("InvalidArgument", "Object key must not be empty.");
  if (Buffer.byteLength(key) > keyBytesMax) {
    throw new S3Error("KeyTooLongError", "Your key is too long", { MaxSizeAllowed: String(keyBytesMax) });
  }
}

/** A part number parameter (`partNumber`, or `argument`), checked: a whole number from 1 to 10,000. */
export function partNumberOf(raw: string | undefined, argument = "partNumber"): number {
  const n = raw !== undefined && /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!(n >= 1 && n <= partsMax)) {
    throw new S3Error("InvalidArgument", `Part number must be an integer between 1 and ${partsMax}, inclusive`, {
      ArgumentName: argument,
      ArgumentValue: raw ?? "",
    });
  }
  return n;
}

/**
 * A version id a request names, checked: "null" (the null version) or an id of the form s3d
 * gives its versions. Anything else names no version S3 could have made: InvalidArgument.
 */
export function checkVersionId(versionId: string | undefined, argument = "versionId"): void {
  if (versionId !== undefined && !isVersionId(versionId)) {
    throw new S3Error("InvalidArgument", "Invalid version id specified", { ArgumentName: argument, ArgumentValue: versionId });
  }
}

/** Parses x-amz-copy-source: "[/]bucket/key[?versionId=ID]", URL-encoded. */
export function parseCopySource(header: string): { bucket: string; key: string; versionId?: string } {
  const [path, query] = header.split("?", 2);
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new S3Error("InvalidArgument", "Invalid copy source encoding", { ArgumentName: "x-amz-copy-source" });
    }
  };
  const decoded = decode(path);
  const trimmed = decoded.startsWith("/") ? decoded.slice(1) : decoded;
  const slash = trimmed.indexOf("/");
  if (slash <= 0 || slash === trimmed.length - 1) {
    throw new S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey", { ArgumentName: "x-amz-copy-source" });
  }
  let versionId: string | undefined;
  if (query !== undefined && query !== "") {
    if (!query.startsWith("versionId=")) throw new S3Error("InvalidArgument", "Invalid copy source: only versionId may follow the key", { ArgumentName: "x-amz-copy-source" });
    versionId = decode(query.slice("versionId=".length));
    checkVersionId(versionId, "x-amz-copy-source");
  }
  const bucket = trimmed.slice(0, slash);
  const key = trimmed.slice(slash + 1);
  checkBucketName(bucket);
  checkKey(key);
  return { bucket, key, versionId };
}
