/**
 * POST Object: a browser form upload (multipart/form-data) to a bucket's URL, signed in its fields
 * by a policy document that bounds what the form may store (post-policy.ts).
 */
import { requestTimedOut, S3Error } from "../../errors.ts";
import { objectBytesMax } from "../../store/backend.ts";
import { attributesFromHeaders, checksumHeaders, storedContentHeaders, userMetaPrefix } from "../attributes.ts";
import { checkedWrite, keyHeaders } from "../customer-keys.ts";
import { requestBody } from "../body.ts";
import { formBoundary, readForm, type FormFile } from "../form-data.ts";
import { checkKey } from "../names.ts";
import { originOf } from "../request.ts";
import { checkPolicy, missingFormField, parsePolicy, type LengthRange } from "../post-policy.ts";
import { emptyResponse, quoteEtag, xmlResponse, type S3Response } from "../respond.ts";
import { tagsFromXml } from "../tags.ts";
import { x } from "../xml.ts";
import type { S3Context } from "./context.ts";
import { formConditionValues } from "../access.ts";
import { writtenVersionHeader } from "./versioning.ts";
import { writeLock } from "./object-lock.ts";
import { attachedActions } from "../access.ts";

/** What S3 reads of a form before its file: at most this many bytes, part headers included. */
export const formFieldBytesMax = 20 * 1024;

const anySize: LengthRange = { min: 0, max: objectBytesMax };

const notAForm = () =>
  new S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", {
    Condition: "Bucket POST must be of the enclosure-type multipart/form-data",
  });

const fieldsTooLarge = () =>
  new S3Error("MaxPostPreDataLengthExceeded", "Your POST request fields preceeding the upload file was too large.", {
    MaxPostPreDataLengthBytes: String(formFieldBytesMax),
  });

/** Form fields that are object attributes, by the request header each stands for. */
function headerOfField(name: string): string | undefined {
  if (name === "acl") return "x-amz-acl";
  if ((storedContentHeaders as readonly string[]).includes(name) || name === "content-md5") return name;
  if (name.startsWith(userMetaPrefix) || name.startsWith("x-amz-checksum-") || name.startsWith("x-amz-server-side-encryption")) return name;
  return name === "x-amz-storage-class" ? name : undefined;
}

export async function postObject(ctx: S3Context): Promise<S3Response> {
  const { req } = ctx;
  const boundary = formBoundary(req.headers["content-type"]);
  if (boundary === undefined) throw notAForm();
  const form = await readFormWithin(ctx.formAuth.fieldsDeadlineMs, req.body, boundary);
  const fields = fieldsOf(form.fields, form.file);
  const key = fields.get("key");
  if (key === undefined) throw missingFormField("key");
  if (form.file === undefined) {
    throw new S3Error("InvalidArgument", "POST requires exactly one file upload per request.", { ArgumentName: "file", ArgumentValue: "0" });
  }
  // A form with no policy is anonymous: no conditions bound it, and only its bucket's policy lets it in.
  const signer = ctx.formAuth.authenticate(fields);
  const range = signer === undefined ? anySize : checkPolicy(parsePolicy(fields.get("policy")!), fields, req.bucket, req.nowMs);
  checkKey(key);
  const headers = headersOfFields(fields);
  // a write like any other: the bucket's policy may deny it (or, unsigned, allow it), its conditions
  // reading the form's fields where a PUT's would read headers
  const values = formConditionValues(ctx.access.values, signer !== undefined, headers);
  const access = ctx.policies.accessFor(signer === undefined ? undefined : ctx.formAuth.signerOf(signer), values);
  const actions = new Set(["s3:PutObject", ...attachedActions(headers), ...(fields.has("tagging") ? ["s3:PutObjectTagging"] : [])]);
  await access.check([...actions], req.bucket, key);

  const sealedWith = await checkedWrite({ ...req, headers }, ctx.backend);
  const attrs = { ...attributesFromHeaders(headers), lock: await writeLock(ctx, req.bucket, false, headers) };
  const tagging = fields.get("tagging");
  if (tagging !== undefined) attrs.tags = tagsFromXml(tagging);

  const body = requestBody(sized(form.file.content, range), headers, { kind: "unsigned" }, { limitBytes: objectBytesMax, lengthRequired: false });
  const meta = await ctx.backend.putObject(req.bucket, key, body, attrs, req.nowMs, undefined, sealedWith?.customerKey);
  return answer(ctx, fields, key, quoteEtag(meta.etag), { ...checksumHeaders(meta.checksum), ...writtenVersionHeader(meta.versionId), ...keyHeaders(sealedWith) });
}

/**
 * The form up to its file, read within `deadlineMs`, else RequestTimeout (the server then closes
 * the connection): the fields come before any signature is checked, so a client dripping them
 * would otherwise hold its connection as long as each byte re-arms the idle timer.
 */
async function readFormWithin(deadlineMs: number, body: AsyncIterable<Uint8Array>, boundary: string) {
  const reading = readForm(body, boundary, { fileField: "file", fieldBytesMax: formFieldBytesMax, tooLarge: fieldsTooLarge });
  // (a read left behind ends when its connection does)
  reading.catch(() => {});
  let timer: Timer | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(requestTimedOut()), deadlineMs)));
  try {
    return await Promise.race([reading, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The fields that stand for request headers, as those headers. A form's names and values are any
 * text, where a request's headers are not: a name that is no header name, or a value with control
 * characters, is refused. A value is kept as the bytes a header would carry: its UTF-8, read as
 * ISO-8859-1 as s3d reads header bytes (`filename="${filename}"` of a file named in any script
 * goes out as the UTF-8 the browser sent). Metadata values are kept as text: they are answered as
 * RFC 2047 words, as S3 answers a form's.
 */
function headersOfFields(fields: Map<string, string>): Record<string, string> {
  const headers: Record<string, string> = Object.create(null);
  for (const [name, value] of fields) {
    const header = headerOfField(name);
    if (header === undefined) continue;
    const asHeader = header.startsWith(userMetaPrefix) ? value : Buffer.from(value, "utf8").toString("latin1");
    if (!headerName.test(header) || /[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
      throw new S3Error("InvalidArgument", "A form field that sets a header must be a valid header name and value.", { ArgumentName: name, ArgumentValue: value });
    }
    headers[header] = asHeader;
  }
  return headers;
}

/** An HTTP field name (RFC 9110 token), lowercase. */
const headerName = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * The fields by lowercase name (a repeated field's values joined by commas), each with ${filename}
 * replaced by the name of the file the form sends: its last path segment, as browsers may send a
 * whole path. A file part without a filename leaves the variable as it is, as S3 does.
 */
function fieldsOf(pairs: Array<[string, string]>, file: FormFile | undefined): Map<string, string> {
  const filename = file?.filename === undefined ? undefined : lastPathSegment(file.filename);
  const fields = new Map<string, string>();
  for (const [rawName, rawValue] of pairs) {
    const name = rawName.toLowerCase();
    // (the policy and its signature are taken as sent: they are what was signed)
    const value = filename === undefined || name === "policy" || name === "x-amz-signature" ? rawValue : rawValue.replaceAll("${filename}", filename);
    const before = fields.get(name);
    fields.set(name, before === undefined ? value : `${before},${value}`);
  }
  return fields;
}

/** What follows a path's last `/` or `\\` (all of it when it has neither). */
function lastPathSegment(path: string): string {
  return path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
}

/** The file's content, failing as S3 does when it is outside the policy's content-length-range. */
async function* sized(content: AsyncIterable<Uint8Array>, range: LengthRange): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const piece of content) {
    total += piece.length;
    if (total > range.max) {
      throw new S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", { ProposedSize: String(total), MaxSizeAllowed: String(range.max) });
    }
    yield piece;
  }
  if (total < range.min) {
    throw new S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", { ProposedSize: String(total), MinSizeAllowed: String(range.min) });
  }
}

/**
 * S3's answer to a stored form: a redirect to success_action_redirect (or `redirect`) with the
 * object's bucket, key and ETag in its query, when that is a URL; otherwise the status
 * success_action_status names (200, or 201 with a PostResponse document), 204 by default. Each
 * carries the object's ETag and URL.
 */
function answer(ctx: S3Context, fields: Map<string, string>, key: string, etag: string, extraHeaders: Record<string, string>): S3Response {
  const { req } = ctx;
  const location = objectUrl(ctx, key);
  const headers = { etag, location, ...extraHeaders };
  const redirect = redirectUrl(fields.get("success_action_redirect") ?? fields.get("redirect"));
  if (redirect !== undefined) {
    // added to the URL's query as it is, before any fragment (which a browser keeps to itself)
    const query = new URLSearchParams({ bucket: req.bucket, key, etag }).toString();
    const hash = redirect.indexOf("#");
    const [target, fragment] = hash < 0 ? [redirect, ""] : [redirect.slice(0, hash), redirect.slice(hash)];
    return emptyResponse(303, { ...headers, location: `${target}${target.includes("?") ? "&" : "?"}${query}${fragment}` });
  }
  const status = fields.get("success_action_status");
  if (status === "200") return emptyResponse(200, headers);
  if (status === "201") {
    return xmlResponse(x("PostResponse", x("Location", location), x("Bucket", req.bucket), x("Key", key), x("ETag", etag)), 201, headers);
  }
  return emptyResponse(204, headers);
}

/**
 * An absolute http(s) URL as a Location header can carry it (WHATWG URL serialization: non-ASCII
 * percent-encoded, an international host in punycode), or undefined: S3 acts as if a redirect it
 * cannot read were not there.
 */
function redirectUrl(value: string | undefined): string | undefined {
  if (value === undefined || !/^https?:\/\//i.test(value)) return undefined;
  try {
    const href = new URL(value).href;
    return /^[\x21-\x7e]+$/.test(href) ? href : undefined;
  } catch {
    return undefined;
  }
}

/** The object's URL as the form reached the bucket: path style, or the bucket's own host. */
function objectUrl(ctx: S3Context, key: string): string {
  const { req } = ctx;
  // a virtual-host-style request names the bucket in its host and POSTs to "/"
  const bucketPath = req.rawPath === "/" ? "" : `/${encodeURIComponent(req.bucket)}`;
  return `${originOf(req)}${bucketPath}/${encodeURIComponent(key)}`;
}
