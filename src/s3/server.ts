/**
 * The HTTP shell of the S3 face. node:http (served natively by Bun) is used rather than
 * Bun.serve because it hands over the request target exactly as sent: Bun.serve resolves
 * "." and ".." segments, which would make keys like "a/../b" unaddressable and unsignable.
 */
import { randomBytes } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import { requestTimedOut, S3Error } from "../errors.ts";
import { Gauge, renderMetrics, type MetricFamily } from "../util/metrics.ts";
import { openFilesLimit, processMetrics } from "../util/process-metrics.ts";
import type { Logger } from "../log.ts";
import type { Backend } from "../store/backend.ts";
import { BucketPolicies, conditionValuesOf, type Access } from "./access.ts";
import { Authenticator, type Authenticated, type User } from "./auth.ts";
import { corsHeaders, matchCors } from "./cors.ts";
import { sealedWithCustomerKey } from "./customer-keys.ts";
import type { FormAuth } from "./handlers/context.ts";
import { corsRulesOf } from "./handlers/cors.ts";
import { begun, hasBody, headersOf, identityHeaders, rawResponse, send } from "./http-io.ts";
import { KeptConfigs } from "./kept-configs.ts";
import { lifecycleConfigName, parseStoredLifecycle } from "./lifecycle.ts";
import { checkScrape, metricsContentType, metricsPath, RequestMetrics } from "./metrics.ts";
import { addressedBy, firstValues, parseTarget, type S3Request } from "./request.ts";
import { errorResponse, isHeaderValue, type S3Response } from "./respond.ts";
import { routeOf, type Route } from "./router.ts";
import { serveWebsite, websiteErrorPage } from "./website-serve.ts";
import { parseStoredWebsite, websiteConfigName } from "./website.ts";

export const healthPath = "/_s3d/health";
const copyOperations = new Set(["CopyObject", "UploadPartCopy"]);
/** The operations whose answers carry x-amz-server-side-encryption when objects are encrypted at rest. */
const encryptedObjectOperations = new Set(["PutObject", "GetObject", "HeadObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload", "PostObject"]);
/** S3 refuses request headers larger than 8 KiB; the parser's own limit sits above ours. */
export const requestHeaderBytesMax = 8 * 1024;
const parserHeaderBytesMax = 64 * 1024;
/**
 * A connection with no traffic either way for this long (a stalled upload or download, an idle
 * keep-alive) is closed, unless the server is given another (`idleTimeoutMs`).
 */
export const socketIdleTimeoutMs = 120_000;
/** A client must finish sending its request headers within this time (slow-loris guard). */
export const headersTimeoutMs = 60_000;

export interface ServerOptions {
  host: string;
  port: number;
  region: string;
  /** enables virtual-host-style addressing: BUCKET.domain */
  domain?: string;
  /** serves buckets' static websites at BUCKET.websiteDomain (website-serve.ts) */
  websiteDomain?: string;
  users: readonly User[];
  backend: Backend;
  logger: Logger;
  tls?: { cert: string; key: string };
  /** the clock; injectable for tests */
  nowMs?: () => number;
  /** closes a connection with no traffic either way for this long (default socketIdleTimeoutMs) */
  idleTimeoutMs?: number;
  /** Block Public Access on every bucket (public-access-block.ts) */
  blockPublicAccess?: boolean;
  /** whether SSE-C keys are taken over plain HTTP from this machine's clients (default true) */
  sseCOverLoopback?: boolean;
  /** the bearer token that may read /_s3d/metrics (besides users without bucket limits) */
  metricsToken?: string;
  /** what other parts of the process count, shown at /_s3d/metrics beside the server's own */
  metrics?: readonly MetricFamily[];
}

/**
 * Connections s3d keeps open at once: its limit of open files, less what requests need beside
 * their connections (files, the metadata database, threads): an eighth, at least 64.
 */
export const connectionsMax = ((limit) => Math.max(16, limit - Math.max(64, Math.floor(limit / 8))))(openFilesLimit());

export interface RunningServer {
  port: number;
  url: string;
  /**
   * Stops taking connections, lets the requests in flight finish for up to `graceMs` (answers
   * then close their connections), then closes every connection left.
   */
  close(graceMs?: number): Promise<void>;
  /** Takes what a reloaded configuration may change while serving: the users, the metrics token, the server-wide Block Public Access. */
  reload(settings: Pick<ServerOptions, "users" | "metricsToken" | "blockPublicAccess">): void;
}

/** How long a stopping server lets the requests in flight finish. */
export const shutdownGraceMs = 10_000;

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { backend, logger, region } = options;
  const auth = new Authenticator(options.users, region);
  const nowMs = options.nowMs ?? Date.now;
  const idleTimeoutMs = options.idleTimeoutMs ?? socketIdleTimeoutMs;
  const policies = new BucketPolicies(backend, options.blockPublicAccess);
  const lifecycles = new KeptConfigs(backend, lifecycleConfigName, parseStoredLifecycle);
  const websites = new KeptConfigs(backend, websiteConfigName, parseStoredWebsite);
  const requestMetrics = new RequestMetrics();
  let metricsToken = options.metricsToken;
  // A form's fields are read before its signature is known: they get no longer than a request's headers.
  const formAuth: FormAuth = {
    authenticate: (fields) => auth.authenticateForm(fields),
    signerOf: (accessKeyId) => auth.signerOf(accessKeyId),
    fieldsDeadlineMs: Math.min(headersTimeoutMs, idleTimeoutMs),
  };

  /** `expectsContinue`: the client waits for "100 Continue" before it sends the body (Expect: 100-continue). */
  const serve = async (incoming: IncomingMessage, outgoing: ServerResponse, expectsContinue: boolean) => {
    const startedMs = performance.now();
    const requestId = nextRequestId();
    const method = incoming.method ?? "GET";
    let operation = "Unknown";
    let resource = incoming.url ?? "/";
    let response: S3Response;
    let corsBucket = "";
    /** what a request that may not see everything (unsigned, or a limited user's) may be told, once it was let in */
    let limitedIn: { access: Access; bucket: string } | undefined;
    let errorCode: string | undefined;
    const { headers, headerBytes } = headersOf(incoming);
    const addressed = addressedBy(headers.host, options.domain, options.websiteDomain);
    try {
      if (headerBytes > requestHeaderBytesMax) {
        throw new S3Error("RequestHeaderSectionTooLarge", `Your request header section exceeds the maximum allowed size of ${requestHeaderBytesMax} bytes.`);
      }
      const hostBucket = addressed.bucket;
      const websiteBucket = addressed.website ? addressed.bucket : undefined;
      const target = parseTarget(incoming.url ?? "/", hostBucket);
      // (s3d's own paths are path-style only: under a bucket's virtual host, /_s3d/health is a key)
      const ownPath = hostBucket === undefined ? target.rawPath : undefined;
      resource = target.decodedPath;
      const req: S3Request = {
        ...target,
        method,
        params: firstValues(target.query),
        headers,
        body: incoming,
        requestId,
        nowMs: nowMs(),
        scheme: options.tls ? "https" : "http",
        clientAddress: incoming.socket?.remoteAddress,
        keysOverLoopback: options.sseCOverLoopback !== false,
      };
      if (websiteBucket !== undefined) {
        operation = "Website";
        // (a browser reads a site's answers with the bucket's CORS headers, as the API's)
        corsBucket = websiteBucket;
        const sourceIp = incoming.socket?.remoteAddress;
        if (sourceIp === undefined) throw new S3Error("AccessDenied", "Access Denied");
        const access = policies.accessFor(undefined, conditionValuesOf(req, "GetObject", sourceIp, undefined));
        response = await serveWebsite({ req: { ...req, params: new Map() }, backend, region, formAuth, policies, lifecycles, websites, access, accessKeyId: "", payload: { kind: "unsigned" } });
        if (response.body instanceof ReadableStream) response = { ...response, body: await begun(response.body) };
      } else if (ownPath === healthPath && (method === "GET" || method === "HEAD")) {
        operation = "Health";
        const unhealthy = backend.unhealthy();
        const text = unhealthy === undefined ? "ok\n" : `unhealthy: ${unhealthy}\n`;
        response = { status: unhealthy === undefined ? 200 : 503, headers: { "content-type": "text/plain" }, body: method === "GET" ? text : undefined };
      } else if (ownPath === metricsPath && (method === "GET" || method === "HEAD")) {
        operation = "Metrics";
        checkScrape(headers.authorization, metricsToken, () => auth.signerOf(auth.authenticate(req).accessKeyId).grants === undefined);
        response = { status: 200, headers: { "content-type": metricsContentType }, body: method === "GET" ? renderMetrics(metricFamilies) : undefined };
      } else {
        // (set before routing: a browser reads a request's refusal only with the bucket's CORS headers)
        corsBucket = req.bucket;
        let route: Route;
        try {
          route = routeOf(method, req.bucket, req.key, req.params, req.headers);
        } catch (error) {
          // A request for nothing s3d serves is refused only once its signature holds: an
          // unsigned caller learns nothing of what is implemented (S3 answers it AccessDenied).
          auth.authenticate(req);
          throw error;
        }
        operation = route.operation;
        // An unsigned request is served as far as its bucket's policy allows everyone; a signed
        // one unless the policy denies it.
        const unsigned = !route.anonymous && auth.isUnsigned(req);
        let who: Authenticated = route.anonymous || unsigned ? { accessKeyId: "", payload: { kind: "unsigned" } } : auth.authenticate(req);
        // (a POST form's signature is in its body: its handler tells its values apart, formConditionValues)
        const authType = route.anonymous || unsigned ? undefined : req.params.has("X-Amz-Signature") ? "REST-QUERY-STRING" : "REST-HEADER";
        const sourceIp = incoming.socket?.remoteAddress;
        // (a socket whose client has gone no longer knows its address: no condition on it may be skipped)
        if (sourceIp === undefined) throw new S3Error("AccessDenied", "Access Denied");
        // (a route served without a signature here, a POST form or a preflight, decides its access itself)
        const access = policies.accessFor(route.anonymous || unsigned ? undefined : auth.signerOf(who.accessKeyId), conditionValuesOf(req, operation, sourceIp, authType));
        if (!route.anonymous) {
          checkExpectedOwner(headers, unsigned ? undefined : who.accessKeyId);
          // (a signed request of a user without limits, to a bucket known to have no policy, is not held up by an await)
          // (a route that checks once its document is read is checked now too where no policy could ask what the document says)
          const checkNow = route.accessAfterBody ? (await policies.of(req.bucket)) === undefined : unsigned || access.grants !== undefined || !policies.knownWithout(req.bucket);
          if (checkNow) await policies.checkOperation(access, operation, req);
        }
        if (unsigned) {
          // (what its body claims to be matters only once it is let in)
          who = { accessKeyId: "", payload: auth.unsignedPayload(req) };
        }
        // (with a policy, any caller may be one it denies listing: then a missing key is not told either)
        if (unsigned || access.grants !== undefined || !policies.knownWithout(req.bucket)) limitedIn = { access, bucket: req.bucket };
        // the body is asked for only once the request is known to be allowed, as S3 does
        if (expectsContinue) outgoing.writeContinue();
        response = await route.handler({ req, backend, region, formAuth, policies, lifecycles, websites, access, ...who });
        if (response.body instanceof ReadableStream) response = { ...response, body: await begun(response.body) };
        // every object is encrypted at rest with a master key: S3 says so on every object answer (one sealed with a client's key says that instead)
        if (backend.encryptedAtRest && response.status < 300 && encryptedObjectOperations.has(operation) && !sealedWithCustomerKey(response)) {
          response.headers["x-amz-server-side-encryption"] = "AES256";
        }
      }
    } catch (error) {
      if (outgoing.destroyed || incoming.socket?.destroyed !== false) {
        requestMetrics.cut(operation);
        logger.info("client went away", { requestId, operation, method, resource });
        return;
      }
      if (outgoing.writableEnded) {
        // answered already (RequestTimeout, by the idle timer)
        logger.info("request ended early", { requestId, operation, method, resource, error: error instanceof S3Error ? error.code : String(error) });
        return;
      }
      // (a copy's missing source was told against its own bucket by the copy)
      if (limitedIn !== undefined && !copyOperations.has(operation)) error = await limitedIn.access.told(error, limitedIn.bucket).catch((failed: unknown) => failed);
      errorCode = error instanceof S3Error ? error.code : "InternalError";
      // (a website's refusals are pages, even those met before its request was read: a malformed address, say)
      response = addressed.website && error instanceof S3Error ? websiteErrorPage(error, method, requestId) : failure(error, resource, requestId, method, logger, operation);
    }
    const origin = headers.origin;
    if (origin !== undefined && corsBucket !== "" && operation !== "PreflightRequest") {
      Object.assign(response.headers, await corsResponseHeaders(backend, corsBucket, origin, method));
    }
    const unsendable = Object.keys(response.headers).find((name) => !isHeaderValue(response.headers[name]));
    if (unsendable !== undefined) {
      // No path should get here (values from requests are checked where they are taken); answered as
      // an internal error rather than thrown by writeHead, which would end the process.
      if (response.body instanceof ReadableStream) await response.body.cancel().catch(() => {});
      errorCode = "InternalError";
      response = failure(new Error(`response header ${unsendable} holds characters HTTP cannot carry`), resource, requestId, method, logger, operation);
    }
    // A body left unread (the request failed early) is not drained: the connection closes instead;
    // so does every connection answered while the server stops.
    if ((!incoming.complete && hasBody(headers)) || stopping) response.headers.connection = "close";
    const bytesSent = await send(outgoing, response, requestId, idleTimeoutMs);
    // a streamed body cut short (the client went away, a blob failed mid-way) says so
    const declaredOut = response.body instanceof ReadableStream ? Number(response.headers["content-length"] ?? NaN) : NaN;
    // the declared body length: the socket's counter spans every request of a keep-alive connection
    const bytesIn = Number(headers["content-length"] ?? headers["x-amz-decoded-content-length"] ?? 0) || 0;
    const durationMs = performance.now() - startedMs;
    requestMetrics.served({ operation, status: response.status, seconds: durationMs / 1000, bytesIn, bytesOut: bytesSent, errorCode });
    if (bytesSent < declaredOut) requestMetrics.cut(operation);
    logger.info("request", {
      requestId,
      operation,
      method,
      resource,
      status: response.status,
      ...(errorCode !== undefined ? { error: errorCode } : {}),
      bytesIn,
      bytesOut: bytesSent,
      ...(bytesSent < declaredOut ? { cut: true } : {}),
      durationMs: Math.round(durationMs * 100) / 100,
    });
  };

  // Requests pipelined on one connection are served one after another: node:http hands over the
  // next as soon as it is parsed, and a DELETE sent behind a PUT of the same key would otherwise
  // run first (RFC 9112 §9.3.2 allows parallel handling of safe methods only). Each connection
  // keeps the promise of the request it is serving.
  const serving = new WeakMap<object, Promise<void>>();
  /** Every request being served or waiting its turn, for a graceful stop. */
  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  /** Each connection's request being served, while it is. */
  const current = new WeakMap<object, { incoming: IncomingMessage; outgoing: ServerResponse }>();
  // What escapes `serve` (a response that cannot be written) costs this request its connection,
  // not the process: an unhandled rejection would end it.
  const handle = (incoming: IncomingMessage, outgoing: ServerResponse, expectsContinue = false) => {
    const connection = incoming.socket;
    const run = () => {
      // The client went away while this request waited its turn: nobody is left to answer, and a
      // closed connection's whole backlog of pipelined requests would otherwise all be served.
      if (connection.destroyed) return Promise.resolve();
      current.set(connection, { incoming, outgoing });
      return serve(incoming, outgoing, expectsContinue)
        .catch((error: unknown) => {
          logger.error("internal error", { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
          outgoing.destroy();
        })
        .finally(() => current.delete(connection));
    };
    const before = serving.get(connection);
    const done = before === undefined ? run() : before.then(run);
    serving.set(connection, done);
    inFlight.add(done);
    void done.then(() => {
      inFlight.delete(done);
      if (serving.get(connection) === done) serving.delete(connection);
    });
  };

  const serverOptions = { maxHeaderSize: parserHeaderBytesMax };
  const server = options.tls
    ? https.createServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key }, handle)
    : http.createServer(serverOptions, handle);
  // Connections past the cap are closed as they come (Bun ignores server.maxConnections): a process
  // out of file descriptors spins on accept and cannot open the files its requests need.
  let connections = 0;
  let refusedLoggedMs = -Infinity;
  const metricFamilies: MetricFamily[] = [
    ...requestMetrics.families,
    new Gauge("s3d_requests_in_flight", "Requests being served or waiting their turn on their connection.", () => inFlight.size),
    new Gauge("s3d_connections_open", "Client connections open.", () => connections),
    new Gauge("s3d_connections_max", "Client connections s3d keeps open at once; past it new ones are closed as they come.", () => connectionsMax),
    ...backend.metrics(),
    ...(options.metrics ?? []),
    ...processMetrics(),
  ];
  server.on("connection", (socket: Duplex) => {
    if (connections >= connectionsMax) {
      socket.destroy();
      if (performance.now() - refusedLoggedMs > 10_000) {
        refusedLoggedMs = performance.now();
        logger.warn("connection refused: too many open", { connections, connectionsMax });
      }
      return;
    }
    connections++;
    socket.once("close", () => connections--);
  });
  // What the HTTP parser refuses (a malformed request; the bytes after a body shorter than it was
  // sent, parsed as a request of their own; a header section past the parser's limit) is answered
  // once the requests before it on the connection have been, as an S3 error, and the connection
  // closes: node:http's own answer would go out first, bare, and cut off the answers before it.
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    void (serving.get(socket) ?? Promise.resolve()).then(() => {
      if (!socket.writable) return void socket.destroy();
      const oversized = error.code === "HPE_HEADER_OVERFLOW";
      const refusal = oversized
        ? new S3Error("RequestHeaderSectionTooLarge", `Your request header section exceeds the maximum allowed size of ${requestHeaderBytesMax} bytes.`)
        : new S3Error("BadRequest", "An error occurred when parsing the HTTP request.");
      const requestId = nextRequestId();
      const status = oversized ? 431 : refusal.httpStatus;
      const { headers, body } = errorResponse(refusal, "/", requestId, true);
      socket.end(rawResponse(status, { ...headers, ...identityHeaders(requestId) }, String(body)));
      requestMetrics.served({ operation: "Unparsed", status, bytesIn: 0, bytesOut: Buffer.byteLength(String(body)), errorCode: refusal.code });
      logger.info("request", { requestId, operation: "Unparsed", status, error: refusal.code });
    });
  });
  // A connection idle for the timeout is closed; when a request's body stopped arriving, that
  // request is first answered 400 RequestTimeout, as S3 answers it (SDKs retry it).
  server.on("timeout", (socket: Duplex) => {
    const stalled = current.get(socket);
    if (stalled === undefined || stalled.incoming.complete || stalled.outgoing.headersSent) return void socket.destroy();
    current.delete(socket);
    const { incoming, outgoing } = stalled;
    const timedOut = requestTimedOut();
    const requestId = nextRequestId();
    const answer = errorResponse(timedOut, incoming.url ?? "/", requestId, true);
    answer.headers.connection = "close";
    // The answer goes out first: Bun answers a request destroyed before its response 200 itself.
    // Then the body fails, so that the write waiting on it stores nothing even if bytes came now.
    void send(outgoing, answer, requestId, idleTimeoutMs)
      .then((bytesOut) => requestMetrics.served({ operation: "Stalled", status: 400, bytesIn: 0, bytesOut, errorCode: timedOut.code }))
      .finally(() => incoming.destroy(timedOut));
    // (the path alone: a query may carry a presigned URL's credentials)
    logger.info("request", { requestId, method: incoming.method, resource: (incoming.url ?? "").split("?")[0], status: 400, error: timedOut.code });
  });
  // Expect: 100-continue is answered by `serve` after authentication, not by the HTTP layer first.
  server.on("checkContinue", (incoming: IncomingMessage, outgoing: ServerResponse) => handle(incoming, outgoing, true));
  // Any other expectation is served as if absent, as S3 serves it (node:http would answer 417 itself).
  server.on("checkExpectation", (incoming: IncomingMessage, outgoing: ServerResponse) => handle(incoming, outgoing, false));
  server.requestTimeout = 0;
  server.setTimeout(idleTimeoutMs);
  server.headersTimeout = headersTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: Error) => reject(new Error(`cannot listen on ${options.host}:${options.port}: ${error.message}`)));
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const scheme = options.tls ? "https" : "http";
  const hostForUrl = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    port,
    url: `${scheme}://${hostForUrl}:${port}`,
    reload: (settings) => {
      auth.setUsers(settings.users);
      metricsToken = settings.metricsToken;
      policies.blockedServerWide = settings.blockPublicAccess ?? false;
    },
    close: async (graceMs = shutdownGraceMs) => {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections?.();
      let timer: Timer | undefined;
      await Promise.race([Promise.allSettled([...inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      server.closeAllConnections?.();
      await closed;
    },
  };
}

/** Access-Control-* headers for a browser's actual request, when the bucket's CORS rules allow it. */
async function corsResponseHeaders(backend: Backend, bucket: string, origin: string, method: string): Promise<Record<string, string>> {
  const rules = await corsRulesOf(backend, bucket).catch(() => undefined);
  const rule = rules && matchCors(rules, origin, method, []);
  return rule ? corsHeaders(rule, origin, [], false) : {};
}

/**
 * Request ids: a random per-process prefix and a counter, 16 hex digits. Unique within a run and,
 * with high probability, across runs; far cheaper than random bytes per request.
 */
const requestIdPrefix = randomBytes(4).toString("hex").toUpperCase();
let requestCounter = 0;
function nextRequestId(): string {
  requestCounter = (requestCounter + 1) % 0x1_0000_0000;
  return requestIdPrefix + requestCounter.toString(16).toUpperCase().padStart(8, "0");
}

function failure(error: unknown, resource: string, requestId: string, method: string, logger: Logger, operation: string): S3Response {
  const withBody = method !== "HEAD";
  if (error instanceof S3Error) return errorResponse(withMethodNamed(error, method), resource, requestId, withBody);
  logger.error("internal error", { requestId, operation, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  return errorResponse(new S3Error("InternalError", "We encountered an internal error. Please try again."), resource, requestId, withBody);
}

/**
 * S3's MethodNotAllowed names the request's method first: the store, refusing an operation on a
 * delete marker, knows the resource but not which method asked.
 */
function withMethodNamed(error: S3Error, method: string): S3Error {
  if (error.code !== "MethodNotAllowed" || error.details.Method !== undefined) return error;
  return new S3Error(error.code, error.message, { Method: method, ...error.details }, error.headers);
}

/**
 * x-amz-expected-bucket-owner (and the copy source's): a caller that names the account it expects
 * a bucket to belong to is refused when it is not that one. s3d's buckets belong to whoever is
 * signed in (ListBuckets shows the caller's access key as their owner ID); an unsigned caller
 * (`owner` undefined) cannot be told whose a bucket is, so any expectation is refused.
 */
function checkExpectedOwner(headers: Record<string, string>, owner: string | undefined): void {
  for (const name of ["x-amz-expected-bucket-owner", "x-amz-source-expected-bucket-owner"]) {
    if (headers[name] !== undefined && headers[name] !== owner) throw new S3Error("AccessDenied", "Access Denied");
  }
}
