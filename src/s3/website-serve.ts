/**
 * The website endpoint (`--website-domain`): a bucket's objects served to browsers as a static
 * site, as S3's website endpoints serve them. Every request is anonymous, GET or HEAD; an object is
 * served only where the bucket's policy lets everyone read it (s3:GetObject); an address ending in
 * "/" names its index document, one naming a "directory" is redirected to it, routing rules and an
 * object's x-amz-website-redirect-location redirect, and errors are HTML pages, or the bucket's
 * error document.
 */
import { STATUS_CODES } from "node:http";
import { S3Error } from "../errors.ts";
import { websiteRedirectHeader } from "./attributes.ts";
import type { S3Context } from "./handlers/context.ts";
import { preflight } from "./handlers/cors.ts";
import { getObject, headObject } from "./handlers/objects.ts";
import type { S3Response } from "./respond.ts";
import { encodeKey, ruleFor, ruleRedirect, websiteKey, type RoutingRule } from "./website.ts";

/**
 * The request's headers without its range and conditions: for the pages it did not ask for (the
 * error document, the index probed for a directory), which a browser's If-None-Match or Range
 * would otherwise cut down to nothing.
 */
function plainHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name !== "range" && !name.startsWith("if-")));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An error as S3's website endpoints answer it: a small HTML page naming the code (no body for HEAD). */
export function websiteErrorPage(error: S3Error, method: string, requestId: string, key?: string): S3Response {
  const title = `${error.httpStatus} ${STATUS_CODES[error.httpStatus] ?? "Error"}`;
  const items = [`Code: ${error.code}`, `Message: ${error.message}`, ...(key !== undefined ? [`Key: ${key}`] : []), `RequestId: ${requestId}`];
  const body = `<html>\n<head><title>${title}</title></head>\n<body>\n<h1>${title}</h1>\n<ul>\n${items.map((i) => `<li>${escapeHtml(i)}</li>`).join("\n")}\n</ul>\n<hr/>\n</body>\n</html>\n`;
  return { status: error.httpStatus, headers: { "content-type": "text/html; charset=utf-8" }, body: method === "HEAD" ? undefined : body };
}

const redirect = (status: number, location: string): S3Response => ({ status, headers: { location }, body: undefined });

/**
 * Answers a request to a bucket's website. `ctx` is the request as an unsigned one of the bucket
 * (its key the whole path, its query dropped), with what unsigned requests may do there: objects
 * are read through S3's own GetObject and HeadObject, and a CORS preflight is answered by the
 * bucket's CORS rules, as on the API.
 */
export async function serveWebsite(ctx: S3Context): Promise<S3Response> {
  const { req } = ctx;
  const errorPage = (error: S3Error, key?: string) => websiteErrorPage(error, req.method, req.requestId, key);
  if (req.method === "OPTIONS") return preflight(ctx);
  if (req.method !== "GET" && req.method !== "HEAD") {
    return { ...errorPage(new S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.")), headers: { "content-type": "text/html; charset=utf-8", allow: "GET, HEAD" } };
  }
  const config = await ctx.websites.of(req.bucket);
  if (config === undefined) {
    // (none kept: no configuration, or no bucket at all, which S3 tells apart)
    const bucketExists = await ctx.backend.headBucket(req.bucket).then(() => true, () => false);
    if (!bucketExists) return errorPage(new S3Error("NoSuchBucket", "The specified bucket does not exist"));
    return errorPage(new S3Error("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"));
  }
  if (config.kind === "redirect-all") return redirect(301, `${config.protocol ?? req.scheme}://${config.hostName}/${encodeKey(req.decodedPath.replace(/^\//, ""))}`);

  const key = websiteKey(req.decodedPath, config.indexSuffix);
  const follow = (rule: RoutingRule) => {
    const to = ruleRedirect(rule, key, req.headers.host ?? "", req.scheme);
    return redirect(to.status, to.location);
  };
  const before = ruleFor(config.rules, key);
  if (before !== undefined) return follow(before);
  const found = await objectOrError(ctx, key, req.method, req.headers);
  if (!(found instanceof S3Error)) return found;
  // "docs" names no object but "docs/index.html" does: the browser is sent to "docs/"
  if (found.code === "NoSuchKey" && !req.decodedPath.endsWith("/")) {
    const index = `${key}/${config.indexSuffix}`;
    if (!((await objectOrError(ctx, index, "HEAD", plainHeaders(req.headers))) instanceof S3Error)) return redirect(302, `/${encodeKey(key)}/`);
  }
  // a missing key is told only where everyone may list the bucket, else it is AccessDenied, as S3 answers
  const served = await ctx.access.told(found, req.bucket);
  const after = ruleFor(config.rules, key, served.httpStatus);
  if (after !== undefined) return follow(after);
  if (config.errorKey !== undefined && (served.httpStatus === 403 || served.httpStatus === 404)) {
    const page = await objectOrError(ctx, config.errorKey, req.method, plainHeaders(req.headers), false);
    if (!(page instanceof S3Error)) {
      const { [websiteRedirectHeader]: _, ...headers } = page.headers;
      return { ...page, status: served.httpStatus, headers };
    }
  }
  return errorPage(served, key);
}

/**
 * The object's answer (or its redirect), or the error the website answers for it: AccessDenied
 * where everyone may not read it, else what the read met (NoSuchKey, a failed precondition...).
 * `redirects`: whether an object's x-amz-website-redirect-location is followed (not for the error document).
 */
async function objectOrError(ctx: S3Context, key: string, method: string, headers: Record<string, string>, redirects = true): Promise<S3Response | S3Error> {
  if (!(await ctx.access.allows(["s3:GetObject"], ctx.req.bucket, key))) return new S3Error("AccessDenied", "Access Denied");
  let answer: S3Response;
  try {
    const read = { ...ctx, req: { ...ctx.req, key, method, headers } };
    answer = await (method === "HEAD" ? headObject(read) : getObject(read));
  } catch (error) {
    if (error instanceof S3Error) return error;
    throw error;
  }
  const location = answer.headers[websiteRedirectHeader];
  if (!redirects || location === undefined || answer.status >= 300) return answer;
  if (answer.body instanceof ReadableStream) await answer.body.cancel().catch(() => {});
  return redirect(301, location);
}
