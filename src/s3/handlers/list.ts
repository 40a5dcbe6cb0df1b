/** ListObjectsV2, ListObjects (v1) and ListObjectVersions. */
import { S3Error } from "../../errors.ts";
import { listKeysMax, type ListPage, type ListVersionsPage } from "../../store/backend.ts";
import { uriEncode } from "../../sigv4/index.ts";
import { isoTime, xmlResponse } from "../respond.ts";
import { checkVersionId } from "../names.ts";
import { escapeXml, s3Xmlns, x, Xml } from "../xml.ts";
import { ownerOf, type S3Context } from "./context.ts";

/** A whole-number parameter, in the 32-bit range S3 reads such parameters into. */
export function int32Param(raw: string, name: string): number {
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 2_147_483_647) {
    throw new S3Error("InvalidArgument", `Provided ${name} not an integer or within integer range`, {
      ArgumentName: name,
      ArgumentValue: raw,
    });
  }
  return Number(raw);
}

/** Parses max-keys / max-uploads / max-parts (`raw`, absent: `cap`): a whole number, capped at `cap`. */
export function maxParam(raw: string | undefined, name: string, cap: number): number {
  return raw === undefined ? cap : Math.min(int32Param(raw, name), cap);
}

/** Parses a part-number marker (`raw`): a whole number, 0 when absent or empty. */
export function markerParam(raw: string | undefined, name: string): number {
  return raw === undefined || raw === "" ? 0 : int32Param(raw, name);
}

export function encodingOf(params: Map<string, string>): (s: string) => string {
  const type = params.get("encoding-type");
  if (type === undefined) return (s) => s;
  if (type !== "url") {
    throw new S3Error("InvalidArgument", "Invalid Encoding Method specified in Request", {
      ArgumentName: "encoding-type",
      ArgumentValue: type,
    });
  }
  return (s) => uriEncode(s, false);
}

/** Continuation tokens are opaque to clients: the base64url of the key they resume after. */
export function encodeToken(after: string): string {
  return Buffer.from(after, "utf8").toString("base64url");
}

export function decodeToken(token: string): string {
  const after = Buffer.from(token, "base64url").toString("utf8");
  if (token === "" || encodeToken(after) !== token) {
    throw new S3Error("InvalidArgument", "The continuation token provided is incorrect", {
      ArgumentName: "continuation-token",
    });
  }
  return after;
}

/**
 * The Contents elements of a page, written out directly: a page holds up to 1000 of them, and
 * through the element builder they were a third of a listing's time. Only the key can need
 * escaping; an ETag is hex (and "-N"), so its quotes are written already escaped.
 */
function contents(ctx: S3Context, page: ListPage, enc: (s: string) => string, withOwner: boolean): Xml {
  const ownerXml = withOwner ? ownerXmlOf(ctx) : "";
  let out = "";
  for (const o of page.objects) {
    out +=
      `<Contents><Key>${escapeXml(enc(o.key))}</Key><LastModified>${listedTime(o.lastModifiedMs)}</LastModified>` +
      `<ETag>&#34;${o.etag}&#34;</ETag><Size>${o.sizeBytes}</Size>${ownerXml}<StorageClass>STANDARD</StorageClass></Contents>`;
  }
  return new Xml(out);
}

/** The Version and DeleteMarker elements of a ListObjectVersions page, in the page's order. */
function versionEntries(ctx: S3Context, page: ListVersionsPage, enc: (s: string) => string): Xml {
  const ownerXml = ownerXmlOf(ctx);
  let out = "";
  for (const v of page.versions) {
    const named = `<Key>${escapeXml(enc(v.key))}</Key><VersionId>${v.versionId ?? "null"}</VersionId><IsLatest>${v.isLatest}</IsLatest>` +
      `<LastModified>${listedTime(v.lastModifiedMs)}</LastModified>`;
    out += v.deleteMarker
      ? `<DeleteMarker>${named}${ownerXml}</DeleteMarker>`
      : `<Version>${named}<ETag>&#34;${v.etag}&#34;</ETag><Size>${v.sizeBytes}</Size>${ownerXml}<StorageClass>STANDARD</StorageClass></Version>`;
  }
  return new Xml(out);
}

const ownerXmlOf = (ctx: S3Context) => {
  const owner = ownerOf(ctx);
  return x("Owner", x("ID", owner.id), x("DisplayName", owner.displayName)).text;
};

/** Whole seconds, as S3 lists times and as Last-Modified gives them. */
const listedTime = (ms: number) => isoTime(ms - (ms % 1000));

/** The parameters every object listing reads. */
function listingParams(params: Map<string, string>) {
  return {
    enc: encodingOf(params),
    prefix: params.get("prefix") ?? "",
    delimiter: params.get("delimiter") ?? "",
    maxKeys: maxParam(params.get("max-keys"), "max-keys", listKeysMax),
  };
}

const commonPrefixes = (page: ListPage, enc: (s: string) => string) =>
  page.commonPrefixes.map((p) => x("CommonPrefixes", x("Prefix", enc(p))));

export async function listObjectsV2(ctx: S3Context) {
  const { params, bucket } = ctx.req;
  const { enc, prefix, delimiter, maxKeys } = listingParams(params);
  const token = params.get("continuation-token");
  const startAfter = params.get("start-after");
  // (an empty token is none: the listing starts where start-after says, and the token is echoed empty)
  const after = token !== undefined && token !== "" ? decodeToken(token) : (startAfter ?? "");
  const page = await ctx.backend.listObjects(bucket, { prefix, delimiter, after, maxKeys });
  return xmlResponse(
    x(
      "ListBucketResult",
      { xmlns: s3Xmlns },
      x("Name", bucket),
      x("Prefix", enc(prefix)),
      delimiter !== "" ? x("Delimiter", enc(delimiter)) : null,
      x("MaxKeys", maxKeys),
      x("KeyCount", page.objects.length + page.commonPrefixes.length),
      x("IsTruncated", page.isTruncated),
      token !== undefined ? x("ContinuationToken", token) : null,
      page.isTruncated && page.lastEntry !== undefined ? x("NextContinuationToken", encodeToken(page.lastEntry)) : null,
      startAfter !== undefined ? x("StartAfter", enc(startAfter)) : null,
      params.has("encoding-type") ? x("EncodingType", "url") : null,
      contents(ctx, page, enc, params.get("fetch-owner") === "true"),
      commonPrefixes(page, enc),
    ),
  );
}

export async function listObjectsV1(ctx: S3Context) {
  const { params, bucket } = ctx.req;
  const { enc, prefix, delimiter, maxKeys } = listingParams(params);
  const marker = params.get("marker") ?? "";
  const page = await ctx.backend.listObjects(bucket, { prefix, delimiter, after: marker, maxKeys });
  // v1 rule: NextMarker only with a delimiter; without one, clients resume from the last key.
  const nextMarker = page.isTruncated && delimiter !== "" ? page.lastEntry : undefined;
  return xmlResponse(
    x(
      "ListBucketResult",
      { xmlns: s3Xmlns },
      x("Name", bucket),
      x("Prefix", enc(prefix)),
      x("Marker", enc(marker)),
      nextMarker !== undefined ? x("NextMarker", enc(nextMarker)) : null,
      x("MaxKeys", maxKeys),
      delimiter !== "" ? x("Delimiter", enc(delimiter)) : null,
      x("IsTruncated", page.isTruncated),
      params.has("encoding-type") ? x("EncodingType", "url") : null,
      contents(ctx, page, enc, true),
      commonPrefixes(page, enc),
    ),
  );
}

/**
 * ListObjectVersions: every version and delete marker, keys in order and each key's newest first.
 * A page resumes after key-marker's last version, or after the version-id-marker's version of it.
 */
export async function listObjectVersions(ctx: S3Context) {
  const { params, bucket } = ctx.req;
  const { enc, prefix, delimiter, maxKeys } = listingParams(params);
  const keyMarker = params.get("key-marker") ?? "";
  const versionIdMarker = params.get("version-id-marker") ?? "";
  if (versionIdMarker !== "") {
    if (keyMarker === "") {
      throw new S3Error("InvalidArgument", "A version-id marker cannot be specified without a key marker.", {
        ArgumentName: "version-id-marker",
        ArgumentValue: versionIdMarker,
      });
    }
    checkVersionId(versionIdMarker, "version-id-marker");
  }
  const page = await ctx.backend.listObjectVersions(bucket, { prefix, delimiter, keyMarker, versionIdMarker, maxKeys });
  return xmlResponse(
    x(
      "ListVersionsResult",
      { xmlns: s3Xmlns },
      x("Name", bucket),
      x("Prefix", enc(prefix)),
      x("KeyMarker", enc(keyMarker)),
      x("VersionIdMarker", versionIdMarker),
      page.nextKeyMarker !== undefined ? x("NextKeyMarker", enc(page.nextKeyMarker)) : null,
      page.nextVersionIdMarker !== undefined ? x("NextVersionIdMarker", page.nextVersionIdMarker) : null,
      x("MaxKeys", maxKeys),
      delimiter !== "" ? x("Delimiter", enc(delimiter)) : null,
      x("IsTruncated", page.isTruncated),
      params.has("encoding-type") ? x("EncodingType", "url") : null,
      versionEntries(ctx, page, enc),
      page.commonPrefixes.map((p) => x("CommonPrefixes", x("Prefix", enc(p)))),
    ),
  );
}
