/**
 * A bucket's website configuration (Put/Get/DeleteBucketWebsite): the document, read with S3's
 * refusals and written back, and what it decides for a request to the website endpoint: the key
 * an address names (index documents), and where routing rules send it. Pure.
 */
import { S3Error } from "../errors.ts";
import { childList, childNames, childText, malformedXml, parseXmlBody, s3Xmlns, single, x, type Xml, type XmlNode } from "./xml.ts";

export const websiteConfigName = "website";

/** A configuration as kept (the JSON of one websiteFromXml read). */
export const parseStoredWebsite = (stored: string): WebsiteConfig => JSON.parse(stored) as WebsiteConfig;

/** S3's limit on routing rules. */
export const routingRulesMax = 50;

export interface Redirect {
  hostName?: string;
  protocol?: "http" | "https";
  /** 3xx, 301 when not given */
  httpRedirectCode?: string;
  replaceKeyPrefixWith?: string;
  replaceKeyWith?: string;
}

export interface RoutingRule {
  keyPrefixEquals?: string;
  /** the error (4xx or 5xx) after which the rule applies; without it, it applies before the lookup */
  httpErrorCodeReturnedEquals?: string;
  redirect: Redirect;
}

export type WebsiteConfig =
  | { kind: "redirect-all"; hostName: string; protocol?: "http" | "https" }
  | { kind: "site"; indexSuffix: string; errorKey?: string; rules: RoutingRule[] };

const invalidArgument = (message: string) => new S3Error("InvalidArgument", message);
const invalidRequest = (message: string) => new S3Error("InvalidRequest", message);

function only(node: XmlNode | undefined, allowed: string[]): void {
  if (childNames(node).some((name) => !allowed.includes(name))) throw malformedXml();
}

/** A host name a redirect may name: a DNS name, or an address, with a port or not. */
function hostNameOf(node: XmlNode): string | undefined {
  const hostName = childText(node, "HostName");
  if (hostName !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$/.test(hostName)) throw invalidArgument("The HostName is not a valid host name.");
  return hostName;
}

function protocolOf(node: XmlNode): "http" | "https" | undefined {
  const protocol = childText(node, "Protocol");
  if (protocol === undefined) return undefined;
  if (protocol !== "http" && protocol !== "https") throw invalidArgument(`Invalid protocol, protocol can be http or https. If not defined the protocol will be selected automatically.`);
  return protocol;
}

function redirectElement(node: XmlNode): Redirect {
  only(node, ["HostName", "Protocol", "HttpRedirectCode", "ReplaceKeyPrefixWith", "ReplaceKeyWith"]);
  if (childNames(node).length === 0) throw invalidRequest("A routing rule's Redirect must name at least one of HostName, Protocol, HttpRedirectCode, ReplaceKeyPrefixWith and ReplaceKeyWith.");
  const redirect: Redirect = {
    hostName: hostNameOf(node),
    protocol: protocolOf(node),
    httpRedirectCode: childText(node, "HttpRedirectCode"),
    replaceKeyPrefixWith: childText(node, "ReplaceKeyPrefixWith"),
    replaceKeyWith: childText(node, "ReplaceKeyWith"),
  };
  if (redirect.replaceKeyPrefixWith !== undefined && redirect.replaceKeyWith !== undefined) throw invalidRequest("You can only define ReplaceKeyPrefix or ReplaceKey but not both.");
  const code = redirect.httpRedirectCode;
  if (code !== undefined && (!/^3\d\d$/.test(code) || code === "300")) throw invalidArgument(`The provided HTTP redirect code (${code}) is not valid. Valid codes are 3XX except 300.`);
  return redirect;
}

function ruleElement(node: XmlNode): RoutingRule {
  only(node, ["Condition", "Redirect"]);
  const condition = single(node, "Condition");
  const redirect = single(node, "Redirect");
  if (redirect === undefined) throw malformedXml();
  const rule: RoutingRule = { redirect: redirectElement(redirect) };
  if (condition !== undefined) {
    only(condition, ["KeyPrefixEquals", "HttpErrorCodeReturnedEquals"]);
    rule.keyPrefixEquals = childText(condition, "KeyPrefixEquals");
    rule.httpErrorCodeReturnedEquals = childText(condition, "HttpErrorCodeReturnedEquals");
    if (rule.keyPrefixEquals === undefined && rule.httpErrorCodeReturnedEquals === undefined) throw invalidRequest("Condition cannot be empty. To redirect all requests without a condition, the condition element shouldn't be present.");
    const code = rule.httpErrorCodeReturnedEquals;
    if (code !== undefined && !/^[45]\d\d$/.test(code)) throw invalidArgument(`The provided HTTP error code (${code}) is not valid. Valid codes are 4XX or 5XX.`);
  }
  return rule;
}

/** A WebsiteConfiguration document, refused as S3 refuses it. */
export function websiteFromXml(document: string): WebsiteConfig {
  const root = parseXmlBody(document).WebsiteConfiguration;
  if (root === undefined) throw malformedXml();
  only(root, ["RedirectAllRequestsTo", "IndexDocument", "ErrorDocument", "RoutingRules"]);
  const all = single(root, "RedirectAllRequestsTo");
  if (all !== undefined) {
    if (childNames(root).length > 1) throw invalidRequest("RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.");
    only(all, ["HostName", "Protocol"]);
    const hostName = hostNameOf(all);
    if (hostName === undefined) throw invalidArgument("A value for RedirectAllRequestsTo HostName must be provided.");
    return { kind: "redirect-all", hostName, protocol: protocolOf(all) };
  }
  const index = single(root, "IndexDocument");
  if (index === undefined) throw invalidArgument("A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty");
  only(index, ["Suffix"]);
  const indexSuffix = childText(index, "Suffix");
  if (indexSuffix === undefined || indexSuffix === "" || indexSuffix.includes("/")) throw invalidArgument("The IndexDocument Suffix is not well formed");
  const error = single(root, "ErrorDocument");
  let errorKey: string | undefined;
  if (error !== undefined) {
    only(error, ["Key"]);
    errorKey = childText(error, "Key");
    if (errorKey === undefined || errorKey === "") throw invalidArgument("The ErrorDocument Key is not well formed");
  }
  const rulesNode = single(root, "RoutingRules");
  only(rulesNode, ["RoutingRule"]);
  const rules = childList(rulesNode, "RoutingRule").map(ruleElement);
  if (rulesNode !== undefined && rules.length === 0) throw malformedXml();
  if (rules.length > routingRulesMax) throw invalidArgument(`The number of routing rules must not exceed ${routingRulesMax}`);
  return { kind: "site", indexSuffix, errorKey, rules };
}

export function websiteXml(config: WebsiteConfig): Xml {
  if (config.kind === "redirect-all") {
    return x("WebsiteConfiguration", { xmlns: s3Xmlns }, x("RedirectAllRequestsTo", x("HostName", config.hostName), config.protocol && x("Protocol", config.protocol)));
  }
  const rule = (r: RoutingRule) =>
    x(
      "RoutingRule",
      (r.keyPrefixEquals !== undefined || r.httpErrorCodeReturnedEquals !== undefined) &&
        x("Condition", r.keyPrefixEquals !== undefined && x("KeyPrefixEquals", r.keyPrefixEquals), r.httpErrorCodeReturnedEquals !== undefined && x("HttpErrorCodeReturnedEquals", r.httpErrorCodeReturnedEquals)),
      x(
        "Redirect",
        r.redirect.hostName !== undefined && x("HostName", r.redirect.hostName),
        r.redirect.httpRedirectCode !== undefined && x("HttpRedirectCode", r.redirect.httpRedirectCode),
        r.redirect.protocol !== undefined && x("Protocol", r.redirect.protocol),
        r.redirect.replaceKeyPrefixWith !== undefined && x("ReplaceKeyPrefixWith", r.redirect.replaceKeyPrefixWith),
        r.redirect.replaceKeyWith !== undefined && x("ReplaceKeyWith", r.redirect.replaceKeyWith),
      ),
    );
  return x(
    "WebsiteConfiguration",
    { xmlns: s3Xmlns },
    x("IndexDocument", x("Suffix", config.indexSuffix)),
    config.errorKey !== undefined && x("ErrorDocument", x("Key", config.errorKey)),
    config.rules.length > 0 && x("RoutingRules", ...config.rules.map(rule)),
  );
}

/** The key a website address names: its path without the leading "/", and the index document's suffix where it ends in "/". */
export function websiteKey(decodedPath: string, indexSuffix: string): string {
  const key = decodedPath.replace(/^\//, "");
  return key === "" || key.endsWith("/") ? key + indexSuffix : key;
}

/** The first rule that applies to `key`: before the lookup (`errorStatus` undefined) or after it failed with that status. */
export function ruleFor(rules: readonly RoutingRule[], key: string, errorStatus?: number): RoutingRule | undefined {
  return rules.find(
    (r) =>
      (r.keyPrefixEquals === undefined || key.startsWith(r.keyPrefixEquals)) &&
      (errorStatus === undefined ? r.httpErrorCodeReturnedEquals === undefined : r.httpErrorCodeReturnedEquals === String(errorStatus)),
  );
}

/** Where a rule sends a request for `key` that came to `host` over `protocol`: the status and the Location. */
export function ruleRedirect(rule: RoutingRule, key: string, host: string, protocol: "http" | "https"): { status: number; location: string } {
  const { redirect } = rule;
  const newKey =
    redirect.replaceKeyWith ??
    (redirect.replaceKeyPrefixWith !== undefined ? redirect.replaceKeyPrefixWith + key.slice((rule.keyPrefixEquals ?? "").length) : key);
  return { status: Number(redirect.httpRedirectCode ?? 301), location: `${redirect.protocol ?? protocol}://${redirect.hostName ?? host}/${encodeKey(newKey)}` };
}

/**
 * A key as a URL path: each byte that a path cannot carry percent-encoded, "/" kept but a leading
 * one (a Location of "//host/" would send the browser to another host).
 */
export function encodeKey(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/").replace(/^\//, "%2F");
}
