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
import type { Backend } from "../store/backend.ts";
import type { Access } from "./access.ts";
import { websiteRedirectHeader } from "./attributes.ts";
import type { S3Response } from "./respond.ts";
import type { KeptConfigs } from "./kept-configs.ts";
import { encodeKey, ruleFor, ruleRedirect, websiteKey, type RoutingRule, type WebsiteConfig } from "./website.ts";

export interface WebsiteRequest {
  bucket: string;
  decodedPath: string;
  method: string;
  /** the request's headers: its Host for redirects that keep it, its range and conditions for the page asked for */
  headers: Record<string, string>;
  protocol: "http" | "https";
  requestId: string;
}

export interface WebsiteServices {
  backend: Backend;
  /** the buckets' website configurations, kept in memory */
  websites: KeptConfigs<WebsiteConfig>;
  /** what an unsigned request may do (the bucket's policy decides) */
  access: Access;
  /** S3's GetObject (HeadObject when `head`) of `key` as an unsigned request with these headers */
  getObject(key: string, head: boolean, headers: Record<string, string>): Promise<S3Response>;
}

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

/** An error as S3's website endpoints answer it: a small HTML page naming the code. */
function errorPage(error: S3Error, req: WebsiteRequest, key?: string): S3Response {
  const title = `${error.httpStatus} ${STATUS_CODES[error.httpStatus] ?? "Error"}`;
  const items = [`Code: ${error.code}`, `Message: ${error.message}`, ...(key !== undefined ? [`Key: ${key}`] : []), `RequestId: ${req.requestId}`];
  const body = `<html>\n<head><title>${title}</title></head>\n<body>\n<h1>${title}</h1>\n<ul>\n${items.map((i) => `<li>${escapeHtml(i)}</li>`).join("\n")}\n</ul>\n<hr/>\n</body>\n</html>\n`;
  return { status: error.httpStatus, headers: { "content-type": "text/html; charset=utf-8" }, body: req.method === "HEAD" ? undefined : body };
}

const redirect = (status: number, location: string): S3Response => ({ status, headers: { location }, body: undefined });

export async function serveWebsite(req: WebsiteRequest, services: WebsiteServices): Promise<S3Response> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return { ...errorPage(new S3Error("MethodNotAllowed", "The specified method is not allowed against this resource."), req), headers: { "content-type": "text/html; charset=utf-8", allow: "GET, HEAD" } };
  }
  const config = await services.websites.of(req.bucket);
  if (config === undefined) {
    // (none kept: no configuration, or no bucket at all, which S3 tells apart)
    const bucketExists = await services.backend.headBucket(req.bucket).then(() => true, () => false);
    if (!bucketExists) return errorPage(new S3Error("NoSuchBucket", "The specified bucket does not exist"), req);
    return errorPage(new S3Error("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"), req);
  }
  if (config.kind === "redirect-all") return redirect(301, `${config.protocol ?? req.protocol}://${config.hostName}/${encodeKey(req.decodedPath.replace(/^\//, ""))}`);

  const key = websiteKey(req.decodedPath, config.indexSuffix);
  const follow = (rule: RoutingRule) => {
    const to = ruleRedirect(rule, key, req.headers.host ?? "", req.protocol);
    return redirect(to.status, to.location);
  };
  const before = ruleFor(config.rules, key);
  if (before !== undefined) return follow(before);
  const found = await objectOrError(key, req, req.headers, services);
  if (!(found instanceof S3Error)) return found;
  // "docs" names no object but "docs/index.html" does: the browser is sent to "docs/"
  if (found.code === "NoSuchKey" && !req.decodedPath.endsWith("/")) {
    const index = `${key}/${config.indexSuffix}`;
    if (!((await objectOrError(index, { ...req, method: "HEAD" }, plainHeaders(req.headers), services)) instanceof S3Error)) return redirect(302, `/${encodeKey(key)}/`);
  }
  // a missing key is told only where everyone may list the bucket, else it is AccessDenied, as S3 answers
  const served = await services.access.told(found, req.bucket);
  const after = ruleFor(config.rules, key, served.httpStatus);
  if (after !== undefined) return follow(after);
  if (config.errorKey !== undefined && (served.httpStatus === 403 || served.httpStatus === 404)) {
    const page = await objectOrError(config.errorKey, req, plainHeaders(req.headers), services, false);
    if (!(page instanceof S3Error)) {
      const { [websiteRedirectHeader]: _, ...headers } = page.headers;
      return { ...page, status: served.httpStatus, headers };
    }
  }
  return errorPage(served, req, key);
}

/**
 * The object's answer (or its redirect), or the error the website answers for it: AccessDenied
 * where everyone may not read it, else what the read met (NoSuchKey, a failed precondition...).
 * `redirects`: whether an object's x-amz-website-redirect-location is followed (not for the error document).
 */
async function objectOrError(key: string, req: WebsiteRequest, headers: Record<string, string>, services: WebsiteServices, redirects = true): Promise<S3Response | S3Error> {
  if (!(await services.access.allows(["s3:GetObject"], req.bucket, key))) return new S3Error("AccessDenied", "Access Denied");
  let answer: S3Response;
  try {
    answer = await services.getObject(key, req.method === "HEAD", headers);
  } catch (error) {
    if (error instanceof S3Error) return error;
    throw error;
  }
  const location = answer.headers[websiteRedirectHeader];
  if (!redirects || location === undefined || answer.status >= 300) return answer;
  if (answer.body instanceof ReadableStream) await answer.body.cancel().catch(() => {});
  return redirect(301, location);
}
