/**
 * Static websites: the WebsiteConfiguration document and its routing rules (pure), then the
 * website endpoint against the binary (--website-domain): index documents, the directory redirect,
 * error documents, routing rules, object redirects, and only what everyone may read.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { addressedBy } from "../../src/s3/request.ts";
import { encodeKey, ruleFor, ruleRedirect, websiteFromXml, websiteKey, websiteXml } from "../../src/s3/website.ts";
import { xmlDocument } from "../../src/s3/xml.ts";
import { int, pick } from "../sigv4/prng.ts";
import { fuzzIterations, fuzzRandom, mutated } from "../support/fuzz.ts";
import { refusalCode } from "../support/refusal.ts";
import { errorCode, md5Base64, rawRequest, s3 } from "../support/client.ts";
import { startS3d, type TestServer } from "../support/server.ts";

const config = (inner: string) => `<WebsiteConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</WebsiteConfiguration>`;

const refusal = (text: string) => refusalCode(() => websiteFromXml(text));

describe("the WebsiteConfiguration document", () => {
  test("a site, a redirect of everything; written back as read", () => {
    const site = config(
      "<IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>404.html</Key></ErrorDocument>" +
        "<RoutingRules><RoutingRule><Condition><KeyPrefixEquals>docs/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith>documents/</ReplaceKeyPrefixWith></Redirect></RoutingRule>" +
        "<RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition><Redirect><HostName>example.test</HostName><HttpRedirectCode>302</HttpRedirectCode><Protocol>https</Protocol></Redirect></RoutingRule></RoutingRules>",
    );
    const parsed = websiteFromXml(site);
    expect(parsed).toEqual({
      kind: "site",
      indexSuffix: "index.html",
      errorKey: "404.html",
      rules: [
        { keyPrefixEquals: "docs/", httpErrorCodeReturnedEquals: undefined, redirect: { hostName: undefined, protocol: undefined, httpRedirectCode: undefined, replaceKeyPrefixWith: "documents/", replaceKeyWith: undefined } },
        { keyPrefixEquals: undefined, httpErrorCodeReturnedEquals: "404", redirect: { hostName: "example.test", protocol: "https", httpRedirectCode: "302", replaceKeyPrefixWith: undefined, replaceKeyWith: undefined } },
      ],
    });
    expect(websiteFromXml(xmlDocument(websiteXml(parsed)))).toEqual(parsed);
    const all = websiteFromXml(config("<RedirectAllRequestsTo><HostName>www.example.test</HostName><Protocol>https</Protocol></RedirectAllRequestsTo>"));
    expect(all).toEqual({ kind: "redirect-all", hostName: "www.example.test", protocol: "https" });
    expect(websiteFromXml(xmlDocument(websiteXml(all)))).toEqual(all);
  });

  test("refused as S3 refuses it", () => {
    const index = "<IndexDocument><Suffix>index.html</Suffix></IndexDocument>";
    const rule = (inner: string) => `${index}<RoutingRules><RoutingRule>${inner}</RoutingRule></RoutingRules>`;
    for (const [inner, code] of [
      ["", "InvalidArgument"],
      ["<IndexDocument><Suffix></Suffix></IndexDocument>", "InvalidArgument"],
      ["<IndexDocument><Suffix>a/index.html</Suffix></IndexDocument>", "InvalidArgument"],
      [`${index}<ErrorDocument><Key></Key></ErrorDocument>`, "InvalidArgument"],
      [`<RedirectAllRequestsTo><HostName>h</HostName></RedirectAllRequestsTo>${index}`, "InvalidRequest"],
      ["<RedirectAllRequestsTo><HostName>h</HostName><Protocol>ftp</Protocol></RedirectAllRequestsTo>", "InvalidArgument"],
      [rule("<Redirect><ReplaceKeyWith>a</ReplaceKeyWith><ReplaceKeyPrefixWith>b</ReplaceKeyPrefixWith></Redirect>"), "InvalidRequest"],
      [rule("<Redirect><HttpRedirectCode>200</HttpRedirectCode></Redirect>"), "InvalidArgument"],
      [rule("<Condition></Condition><Redirect><HostName>h</HostName></Redirect>"), "InvalidRequest"],
      [rule("<Condition><HttpErrorCodeReturnedEquals>200</HttpErrorCodeReturnedEquals></Condition><Redirect><HostName>h</HostName></Redirect>"), "InvalidArgument"],
      [rule("<Redirect></Redirect>"), "InvalidRequest"],
      [rule("<Condition><KeyPrefixEquals>a</KeyPrefixEquals></Condition>"), "MalformedXML"],
      [`${index}<Extra/>`, "MalformedXML"],
      [`${index}<RoutingRules></RoutingRules>`, "MalformedXML"],
      ["<RedirectAllRequestsTo><HostName>evil.test/path?x</HostName></RedirectAllRequestsTo>", "InvalidArgument"],
      [rule("<Redirect><HostName>bücher.test</HostName></Redirect>"), "InvalidArgument"],
    ] as const) {
      expect([inner, refusal(config(inner))]).toEqual([inner, code]);
    }
    const many = Array.from({ length: 51 }, () => "<RoutingRule><Redirect><HostName>h</HostName></Redirect></RoutingRule>").join("");
    expect(refusal(config(`${index}<RoutingRules>${many}</RoutingRules>`))).toBe("InvalidArgument");
  });

  test("a host names a bucket's website or its API; under both domains, the longer one's; a leading / of a key never makes a Location another host", () => {
    expect(addressedBy("site.web.test:9000", "s3.test", "web.test")).toEqual({ bucket: "site", website: true });
    expect(addressedBy("site.s3.test", "s3.test", "web.test")).toEqual({ bucket: "site", website: false });
    expect(addressedBy("web.test", "s3.test", "web.test")).toEqual({ bucket: undefined, website: false });
    // --domain s3.web.test --website-domain web.test: the API keeps its hosts
    expect(addressedBy("s3.web.test", "s3.web.test", "web.test")).toEqual({ bucket: undefined, website: false });
    expect(addressedBy("site.s3.web.test", "s3.web.test", "web.test")).toEqual({ bucket: "site", website: false });
    expect(addressedBy("site.web.test", "s3.web.test", "web.test")).toEqual({ bucket: "site", website: true });
    // and the other way round
    expect(addressedBy("site.web.s3.test", "s3.test", "web.s3.test")).toEqual({ bucket: "site", website: true });
    expect(addressedBy("127.0.0.1:9000", "s3.test", "web.test")).toEqual({ bucket: undefined, website: false });
    expect([encodeKey("/evil.test/index.html"), encodeKey("docs/a b"), encodeKey("a//b")]).toEqual(["%2Fevil.test/index.html", "docs/a%20b", "a//b"]);
  });

  test("property: any mutation of a document is read or refused with an S3 error, never another failure; what is read is written back the same", () => {
    const rand = fuzzRandom(77);
    const valid = config(
      "<IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>e.html</Key></ErrorDocument><RoutingRules><RoutingRule><Condition><KeyPrefixEquals>a/</KeyPrefixEquals>" +
        "<HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition><Redirect><HostName>h.test</HostName><ReplaceKeyPrefixWith>b/</ReplaceKeyPrefixWith></Redirect></RoutingRule></RoutingRules>",
    );
    const pieces = ["<", ">", "/", "<Suffix>", "</Suffix>", "<HostName>", "<RoutingRule>", "</RoutingRule>", "301", "&amp;", " ", "\n", "https", "<RedirectAllRequestsTo><HostName>x</HostName></RedirectAllRequestsTo>"];
    for (let i = 0; i < fuzzIterations(3000); i++) {
      const text = mutated(valid, rand, pieces);
      const code = refusal(text);
      if (code === undefined) expect(websiteFromXml(xmlDocument(websiteXml(websiteFromXml(text))))).toEqual(websiteFromXml(text));
      else expect([text, ["MalformedXML", "InvalidArgument", "InvalidRequest"].includes(code)]).toEqual([text, true]);
    }
  });

  test("keys, rules and where they send a request", () => {
    expect([websiteKey("/", "index.html"), websiteKey("/docs/", "index.html"), websiteKey("/a b.txt", "index.html")]).toEqual(["index.html", "docs/index.html", "a b.txt"]);
    const rules = websiteFromXml(
      config(
        "<IndexDocument><Suffix>index.html</Suffix></IndexDocument><RoutingRules>" +
          "<RoutingRule><Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith>new/</ReplaceKeyPrefixWith></Redirect></RoutingRule>" +
          "<RoutingRule><Condition><KeyPrefixEquals>gone</KeyPrefixEquals></Condition><Redirect><ReplaceKeyWith>moved.html</ReplaceKeyWith><HttpRedirectCode>307</HttpRedirectCode></Redirect></RoutingRule>" +
          "<RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition><Redirect><HostName>fallback.test</HostName><Protocol>https</Protocol></Redirect></RoutingRule>" +
          "</RoutingRules>",
      ),
    );
    if (rules.kind !== "site") throw new Error("a site");
    expect(ruleRedirect(ruleFor(rules.rules, "old/a b.html")!, "old/a b.html", "site.web.test:9000", "http")).toEqual({ status: 301, location: "http://site.web.test:9000/new/a%20b.html" });
    expect(ruleRedirect(ruleFor(rules.rules, "gone/x")!, "gone/x", "h", "http")).toEqual({ status: 307, location: "http://h/moved.html" });
    expect(ruleFor(rules.rules, "other.html")).toBeUndefined();
    expect(ruleRedirect(ruleFor(rules.rules, "other.html", 404)!, "other.html", "h", "http")).toEqual({ status: 301, location: "https://fallback.test/other.html" });
    expect(ruleFor(rules.rules, "other.html", 403)).toBeUndefined();
  });
});

describe("the website endpoint", () => {
  const bucket = "www-site";
  const domain = "web.site.test";
  let server: TestServer;
  const signed = (r: Parameters<typeof s3>[1]) => s3(server.endpoint, r);
  /** A browser's request to the bucket's website: unsigned, the bucket named by the Host header. */
  const visit = (path: string, method = "GET", headers: Record<string, string> = {}) =>
    rawRequest(server.endpoint, method, path, { host: `${bucket}.${domain}:${server.port}`, ...headers });
  const putConfig = (inner: string) => {
    const body = config(inner);
    return signed({ method: "PUT", path: `/${bucket}`, query: [["website", ""]], body, headers: { "content-md5": md5Base64(body) } });
  };
  const publicRead = JSON.stringify({ Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: `arn:aws:s3:::${bucket}/*` }] });

  beforeAll(async () => {
    server = await startS3d({ args: ["--website-domain", domain] });
    expect((await signed({ method: "PUT", path: `/${bucket}` })).status).toBe(200);
    for (const [key, body, headers] of [
      ["index.html", "<h1>home</h1>", { "content-type": "text/html" }],
      ["docs/index.html", "<h1>docs</h1>", { "content-type": "text/html" }],
      ["docs/page.html", "<p>page</p>", { "content-type": "text/html" }],
      ["404.html", "<h1>lost</h1>", { "content-type": "text/html" }],
      ["old-page.html", "old", { "x-amz-website-redirect-location": "/docs/page.html" }],
    ] as const) {
      expect((await signed({ method: "PUT", path: `/${bucket}/${key}`, body, headers })).status).toBe(200);
    }
  });
  afterAll(async () => {
    await server?.stop();
  });

  test("Put/Get/DeleteBucketWebsite answer as S3 does", async () => {
    expect(await errorCode(await signed({ method: "GET", path: `/${bucket}`, query: [["website", ""]] }))).toBe("NoSuchWebsiteConfiguration");
    const inner = "<IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>404.html</Key></ErrorDocument>";
    expect(await errorCode(await signed({ method: "PUT", path: `/${bucket}`, query: [["website", ""]], body: config(inner) }))).toBe("InvalidRequest");
    expect((await putConfig(inner)).status).toBe(200);
    const got = await (await signed({ method: "GET", path: `/${bucket}`, query: [["website", ""]] })).text();
    expect(got).toContain("<IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>404.html</Key></ErrorDocument>");
    expect((await signed({ method: "DELETE", path: `/${bucket}`, query: [["website", ""]] })).status).toBe(204);
    expect(await errorCode(await signed({ method: "GET", path: `/${bucket}`, query: [["website", ""]] }))).toBe("NoSuchWebsiteConfiguration");
    expect(await errorCode(await fetch(`${server.endpoint}/${bucket}?website`))).toBe("AccessDenied");
  });

  test("a site serves only what everyone may read; index documents, the directory redirect and the error document", async () => {
    const none = await visit("/");
    expect([none.status, none.headers.get("content-type")]).toEqual([404, "text/html; charset=utf-8"]);
    expect(await none.text()).toContain("<li>Code: NoSuchWebsiteConfiguration</li>");
    const noBucket = await rawRequest(server.endpoint, "GET", "/", { host: `no-such-site.${domain}:${server.port}` });
    expect([noBucket.status, (await noBucket.text()).includes("<li>Code: NoSuchBucket</li>")]).toEqual([404, true]);
    expect((await putConfig("<IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>404.html</Key></ErrorDocument>")).status).toBe(200);
    // no policy lets everyone read: forbidden, whatever the key (the error document is not readable either)
    const forbidden = await visit("/index.html");
    expect(forbidden.status).toBe(403);
    expect(await forbidden.text()).toContain("<li>Code: AccessDenied</li>");
    expect((await signed({ method: "PUT", path: `/${bucket}`, query: [["policy", ""]], body: publicRead })).status).toBe(204);

    const home = await visit("/");
    expect([home.status, home.headers.get("content-type"), await home.text()]).toEqual([200, "text/html", "<h1>home</h1>"]);
    expect(await (await visit("/docs/")).text()).toBe("<h1>docs</h1>");
    expect(await (await visit("/docs/page.html")).text()).toBe("<p>page</p>");
    const directory = await visit("/docs");
    expect([directory.status, directory.headers.get("location")]).toEqual([302, "/docs/"]);
    // a missing page: the error document, with the error's status; S3 says 403 where everyone may not list
    const lost = await visit("/nowhere.html");
    expect([lost.status, await lost.text()]).toEqual([403, "<h1>lost</h1>"]);
    const head = await visit("/docs/page.html", "HEAD");
    expect([head.status, head.headers.get("content-length")]).toEqual([200, "11"]);
    const range = await visit("/docs/page.html", "GET", { range: "bytes=3-6" });
    expect([range.status, await range.text()]).toEqual([206, "page"]);
    const moved = await visit("/old-page.html");
    expect([moved.status, moved.headers.get("location")]).toEqual([301, "/docs/page.html"]);
    const post = await visit("/index.html", "POST");
    expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    // a browser's conditions and range are for the page it asked for, not for the error document or the directory's index
    const etagOf404 = (await signed({ method: "HEAD", path: `/${bucket}/404.html` })).headers.get("etag")!;
    const revalidated = await visit("/nowhere.html", "GET", { "if-none-match": etagOf404, range: "bytes=0-3" });
    expect([revalidated.status, await revalidated.text()]).toEqual([403, "<h1>lost</h1>"]);
    const probed = await visit("/docs", "GET", { "if-match": '"nope"' });
    expect([probed.status, probed.headers.get("location")]).toEqual([302, "/docs/"]);
    // Block Public Access: RestrictPublicBuckets takes the public policy from the website too
    const restrict = "<PublicAccessBlockConfiguration><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>";
    expect((await signed({ method: "PUT", path: `/${bucket}`, query: [["publicAccessBlock", ""]], body: restrict, headers: { "content-md5": md5Base64(restrict) } })).status).toBe(200);
    expect((await visit("/")).status).toBe(403);
    expect((await signed({ method: "DELETE", path: `/${bucket}`, query: [["publicAccessBlock", ""]] })).status).toBe(204);
    expect((await visit("/")).status).toBe(200);
    // the bucket's CORS rules answer a preflight and mark the answers, as on the API
    const corsRules = "<CORSConfiguration><CORSRule><AllowedOrigin>https://app.test</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>";
    expect((await signed({ method: "PUT", path: `/${bucket}`, query: [["cors", ""]], body: corsRules, headers: { "content-md5": md5Base64(corsRules) } })).status).toBe(200);
    const preflight = await visit("/docs/page.html", "OPTIONS", { origin: "https://app.test", "access-control-request-method": "GET" });
    expect([preflight.status, preflight.headers.get("access-control-allow-origin")]).toEqual([200, "https://app.test"]);
    expect((await visit("/docs/page.html", "OPTIONS", { origin: "https://evil.test", "access-control-request-method": "GET" })).status).toBe(403);
    expect((await visit("/docs/page.html", "GET", { origin: "https://app.test" })).headers.get("access-control-allow-origin")).toBe("https://app.test");
    // a malformed address is refused with a page too
    const malformed = await visit("/%zz");
    expect([malformed.status, malformed.headers.get("content-type")]).toEqual([400, "text/html; charset=utf-8"]);
    // the S3 API itself is not served at the website's host
    expect((await visit("/?list-type=2")).status).toBe(200);
    expect(await (await visit("/?list-type=2")).text()).toBe("<h1>home</h1>");
  });

  test("property: random addresses, methods and headers get a website answer, never a server error, and the server keeps serving", async () => {
    const rand = fuzzRandom(78);
    const segments = ["", "docs", "index.html", "..", ".", "%2F", "%00", "a%20b", "%E2%82%AC", "old-page.html", "404.html", "x".repeat(300)];
    const methods = ["GET", "HEAD", "PUT", "DELETE", "POST", "OPTIONS"];
    for (let i = 0; i < fuzzIterations(150); i++) {
      const path = "/" + Array.from({ length: int(rand, 4) }, () => pick(rand, segments)).join(pick(rand, ["/", "//"]));
      const headers: Record<string, string> = rand() < 0.3 ? { range: pick(rand, ["bytes=0-1", "bytes=-5", "bytes=99999-", "nonsense"]) } : {};
      if (rand() < 0.3) headers["if-none-match"] = pick(rand, ['"x"', "*"]);
      const res = await visit(path, pick(rand, methods), headers);
      await res.arrayBuffer();
      expect([path, res.status < 500]).toEqual([path, true]);
    }
    expect((await visit("/")).status).toBeLessThan(500);
    expect((await signed({ method: "HEAD", path: `/${bucket}/index.html` })).status).toBe(200);
  });

  test("with listing allowed a missing page is 404; routing rules redirect before and after the lookup; a redirect of everything", async () => {
    const listAndRead = JSON.stringify({
      Statement: [
        { Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: `arn:aws:s3:::${bucket}/*` },
        { Effect: "Allow", Principal: "*", Action: "s3:ListBucket", Resource: `arn:aws:s3:::${bucket}` },
      ],
    });
    expect((await signed({ method: "PUT", path: `/${bucket}`, query: [["policy", ""]], body: listAndRead })).status).toBe(204);
    expect((await putConfig("<IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>404.html</Key></ErrorDocument>")).status).toBe(200);
    const lost = await visit("/nowhere.html");
    expect([lost.status, await lost.text()]).toEqual([404, "<h1>lost</h1>"]);
    const rules =
      "<RoutingRules><RoutingRule><Condition><KeyPrefixEquals>manual/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith>docs/</ReplaceKeyPrefixWith></Redirect></RoutingRule>" +
      "<RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition><Redirect><HostName>archive.test</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule></RoutingRules>";
    expect((await putConfig(`<IndexDocument><Suffix>index.html</Suffix></IndexDocument>${rules}`)).status).toBe(200);
    const manual = await visit("/manual/page.html");
    expect([manual.status, manual.headers.get("location")]).toEqual([301, `http://${bucket}.${domain}:${server.port}/docs/page.html`]);
    const archived = await visit("/nowhere.html");
    expect([archived.status, archived.headers.get("location")]).toEqual([302, "http://archive.test/nowhere.html"]);
    expect((await putConfig("<RedirectAllRequestsTo><HostName>www.example.test</HostName><Protocol>https</Protocol></RedirectAllRequestsTo>")).status).toBe(200);
    const everything = await visit("/a/b%20c.html");
    expect([everything.status, everything.headers.get("location")]).toEqual([301, "https://www.example.test/a/b%20c.html"]);
  });
});
