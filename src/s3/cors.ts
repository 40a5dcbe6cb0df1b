/** Bucket CORS: the configuration document, its limits, and matching a browser's request. Pure. */
import { S3Error } from "../errors.ts";
import { isHeaderValue } from "./respond.ts";
import { childList, childText, parseXmlBody, s3Xmlns, x, type Xml, type XmlNode } from "./xml.ts";

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

export const corsRulesMax = 100;
const corsRuleIdCharsMax = 255;
const corsMethods = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/** An HTTP field name (RFC 9110 §5.1, token characters); "*" is a token character too. */
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const malformed = (why: string) => new S3Error("MalformedXML", `The CORS configuration is not valid: ${why}.`);

function texts(node: XmlNode, name: string): string[] {
  return childList(node, name).map((n) => {
    if (typeof n !== "string") throw malformed(`${name} must hold text`);
    return n.trim();
  });
}

export function corsFromXml(text: string): CorsRule[] {
  const doc = parseXmlBody(text);
  const config = doc.CORSConfiguration;
  if (config === undefined) throw malformed("the root element must be CORSConfiguration");
  const rules = childList(config, "CORSRule");
  if (rules.length === 0) throw malformed("at least one CORSRule is needed");
  if (rules.length > corsRulesMax) throw malformed(`at most ${corsRulesMax} rules`);
  return rules.map((r) => {
    const rule: CorsRule = {
      id: childText(r, "ID"),
      allowedOrigins: texts(r, "AllowedOrigin"),
      allowedMethods: texts(r, "AllowedMethod"),
      allowedHeaders: texts(r, "AllowedHeader"),
      exposeHeaders: texts(r, "ExposeHeader"),
    };
    if (rule.id !== undefined && rule.id.length > corsRuleIdCharsMax) {
      throw new S3Error("InvalidRequest", `The ID of a CORS rule cannot be longer than ${corsRuleIdCharsMax} characters.`);
    }
    const maxAge = childText(r, "MaxAgeSeconds")?.trim();
    if (maxAge !== undefined) {
      // an Integer in S3's model: 0 to 2^31-1
      if (!/^\d{1,10}$/.test(maxAge) || Number(maxAge) > 2_147_483_647) throw malformed("MaxAgeSeconds must be a whole number");
      rule.maxAgeSeconds = Number(maxAge);
    }
    if (rule.allowedOrigins.length === 0 || rule.allowedMethods.length === 0) throw malformed("each rule needs AllowedOrigin and AllowedMethod");
    for (const m of rule.allowedMethods) {
      if (!corsMethods.includes(m)) throw new S3Error("InvalidRequest", `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`);
    }
    for (const o of [...rule.allowedOrigins, ...rule.allowedHeaders]) {
      if ((o.match(/\*/g) ?? []).length > 1) throw new S3Error("InvalidRequest", `AllowedOrigin/AllowedHeader "${o}" can not have more than one wildcard.`);
    }
    // Expose headers go out in a response header, and allowed headers match request header names.
    for (const h of [...rule.allowedHeaders, ...rule.exposeHeaders]) {
      if (!headerName.test(h)) throw new S3Error("InvalidRequest", `AllowedHeader/ExposeHeader "${h}" is not a valid header name.`);
    }
    for (const o of rule.allowedOrigins) {
      if (!isHeaderValue(o)) throw new S3Error("InvalidRequest", `AllowedOrigin "${o}" is not a valid origin.`);
    }
    return rule;
  });
}

export function corsXml(rules: CorsRule[]): Xml {
  return x(
    "CORSConfiguration",
    { xmlns: s3Xmlns },
    rules.map((r) =>
      x(
        "CORSRule",
        r.id !== undefined ? x("ID", r.id) : null,
        r.allowedHeaders.map((h) => x("AllowedHeader", h)),
        r.allowedMethods.map((m) => x("AllowedMethod", m)),
        r.allowedOrigins.map((o) => x("AllowedOrigin", o)),
        r.exposeHeaders.map((h) => x("ExposeHeader", h)),
        r.maxAgeSeconds !== undefined ? x("MaxAgeSeconds", r.maxAgeSeconds) : null,
      ),
    ),
  );
}

/** A pattern with at most one "*", matched case-insensitively when asked. */
function wildcardMatch(pattern: string, value: string, caseInsensitive: boolean): boolean {
  const p = caseInsensitive ? pattern.toLowerCase() : pattern;
  const v = caseInsensitive ? value.toLowerCase() : value;
  const star = p.indexOf("*");
  if (star < 0) return p === v;
  return v.length >= p.length - 1 && v.startsWith(p.slice(0, star)) && v.endsWith(p.slice(star + 1));
}

/** The first rule allowing this origin, method and every requested header, if any. */
export function matchCors(rules: CorsRule[], origin: string, method: string, requestHeaders: string[]): CorsRule | undefined {
  return rules.find(
    (r) =>
      r.allowedOrigins.some((o) => wildcardMatch(o, origin, false)) &&
      r.allowedMethods.includes(method) &&
      requestHeaders.every((h) => r.allowedHeaders.some((a) => wildcardMatch(a, h, true))),
  );
}

/** The Access-Control-* headers answering a request that `rule` allows. */
export function corsHeaders(rule: CorsRule, origin: string, requestHeaders: string[], preflight: boolean): Record<string, string> {
  const out: Record<string, string> = {
    "access-control-allow-origin": rule.allowedOrigins.includes("*") ? "*" : origin,
    "access-control-allow-methods": rule.allowedMethods.join(", "),
    vary: "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
  };
  if (!rule.allowedOrigins.includes("*")) out["access-control-allow-credentials"] = "true";
  if (preflight && requestHeaders.length > 0) out["access-control-allow-headers"] = requestHeaders.join(", ");
  if (rule.exposeHeaders.length > 0) out["access-control-expose-headers"] = rule.exposeHeaders.join(", ");
  if (rule.maxAgeSeconds !== undefined) out["access-control-max-age"] = String(rule.maxAgeSeconds);
  return out;
}

export function requestedHeaders(value: string | undefined): string[] {
  return (value ?? "").split(",").map((h) => h.trim().toLowerCase()).filter((h) => h !== "");
}
