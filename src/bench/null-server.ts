/**
 * The null target: answers S3-shaped requests from memory, keeping only key → size (no bodies).
 * GET serves the generator's deterministic content for the key (a view into the shared pattern),
 * so a run against it verifies like any other. No auth, no durability: its figures are the
 * ceiling of the generator and Bun's HTTP stack on this machine.
 * Served by node:http like s3d; `--engine bun` serves the same answers through Bun.serve.
 * `--hash` adds what no S3 server can skip for an upload: the body's MD5 (its ETag) and, when the
 * signature names the payload's SHA-256, that digest, checked; computed as s3d computes them (on
 * its hash pool from 1 MiB, on the main thread below). Its upload figures are the most a server
 * can take on this machine while hashing as S3 requires, before it stores anything.
 */
import http, { type IncomingMessage } from "node:http";
import { hasherFor, type HashAlgorithm } from "../util/hash-worker.ts";
import { indexOfKey, objectBody } from "./content.ts";

interface Answer {
  status: number;
  headers: Record<string, string>;
  body?: Uint8Array | string;
}

interface Upload {
  bucket: string;
  key: string;
  parts: Map<number, number>;
}

const nullEtag = '"00000000000000000000000000000000"';

export class NullStore {
  private readonly buckets = new Map<string, { objects: Map<string, number>; sorted: string[] | undefined }>();
  private readonly uploads = new Map<string, Upload>();
  private nextUpload = 1;

  constructor(private readonly corrupt = false) {}

  answer(method: string, rawUrl: string, bodyBytes: number): Answer {
    const q = rawUrl.indexOf("?");
    const path = decodeURIComponent(q < 0 ? rawUrl : rawUrl.slice(0, q));
    const query = new URLSearchParams(q < 0 ? "" : rawUrl.slice(q + 1));
    if (path === "/_s3d/health") return { status: 200, headers: { "content-type": "text/plain" }, body: "ok\n" };
    const slash = path.indexOf("/", 1);
    const bucketName = slash < 0 ? path.slice(1) : path.slice(1, slash);
    const key = slash < 0 ? "" : path.slice(slash + 1);
    if (bucketName === "") return xml(200, "<ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>");
    if (key === "") {
      if (method === "PUT") {
        if (!this.buckets.has(bucketName)) this.buckets.set(bucketName, { objects: new Map(), sorted: undefined });
        return { status: 200, headers: { location: `/${bucketName}` } };
      }
      const bucket = this.buckets.get(bucketName);
      if (bucket === undefined) return error(404, "NoSuchBucket");
      if (method === "DELETE") {
        if (bucket.objects.size > 0) return error(409, "BucketNotEmpty");
        this.buckets.delete(bucketName);
        return { status: 204, headers: {} };
      }
      if (method === "GET" || method === "HEAD") return this.list(bucketName, bucket, query);
      return error(405, "MethodNotAllowed");
    }
    const bucket = this.buckets.get(bucketName);
    if (bucket === undefined) return error(404, "NoSuchBucket");
    const uploadId = query.get("uploadId");
    if (method === "PUT" && uploadId !== null) {
      const upload = this.uploads.get(uploadId);
      if (upload === undefined) return error(404, "NoSuchUpload");
      upload.parts.set(Number(query.get("partNumber")), bodyBytes);
      return { status: 200, headers: { etag: nullEtag } };
    }
    if (method === "PUT") {
      if (!bucket.objects.has(key)) bucket.sorted = undefined;
      bucket.objects.set(key, bodyBytes);
      return { status: 200, headers: { etag: nullEtag } };
    }
    if (method === "POST" && query.has("uploads")) {
      const id = `null-upload-${this.nextUpload++}`;
      this.uploads.set(id, { bucket: bucketName, key, parts: new Map() });
      return xml(200, `<InitiateMultipartUploadResult><Bucket>${bucketName}</Bucket><Key>${key}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
    }
    if (method === "POST" && uploadId !== null) {
      const upload = this.uploads.get(uploadId);
      if (upload === undefined) return error(404, "NoSuchUpload");
      this.uploads.delete(uploadId);
      let size = 0;
      for (const bytes of upload.parts.values()) size += bytes;
      if (!bucket.objects.has(key)) bucket.sorted = undefined;
      bucket.objects.set(key, size);
      return xml(200, `<CompleteMultipartUploadResult><Bucket>${bucketName}</Bucket><Key>${key}</Key><ETag>"null-${upload.parts.size}"</ETag></CompleteMultipartUploadResult>`);
    }
    if (method === "DELETE") {
      if (uploadId !== null) {
        this.uploads.delete(uploadId);
        return { status: 204, headers: {} };
      }
      if (bucket.objects.delete(key)) bucket.sorted = undefined;
      return { status: 204, headers: {} };
    }
    if (method === "GET" || method === "HEAD") {
      const size = bucket.objects.get(key);
      if (size === undefined) return error(404, "NoSuchKey", method === "GET");
      const headers = { etag: nullEtag, "content-type": "application/octet-stream", "content-length": String(size) };
      if (method === "HEAD") return { status: 200, headers };
      let body = objectBody(indexOfKey(key), size);
      if (this.corrupt && size > 0) {
        body = Uint8Array.from(body);
        body[size >> 1] ^= 0xff;
      }
      return { status: 200, headers, body };
    }
    return error(405, "MethodNotAllowed");
  }

  private list(name: string, bucket: { objects: Map<string, number>; sorted: string[] | undefined }, query: URLSearchParams): Answer {
    // Bench keys are ASCII, where UTF-16 order is S3's binary order.
    bucket.sorted ??= [...bucket.objects.keys()].sort();
    const sorted = bucket.sorted;
    const prefix = query.get("prefix") ?? "";
    const maxKeys = Math.min(1000, Number(query.get("max-keys") ?? 1000));
    const after = query.get("continuation-token") ?? query.get("start-after") ?? "";
    let lo = 0;
    let hi = sorted.length;
    const from = after > prefix ? after : prefix;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < from || (after !== "" && sorted[mid] <= after)) lo = mid + 1;
      else hi = mid;
    }
    const keys: string[] = [];
    let i = lo;
    for (; i < sorted.length && keys.length < maxKeys && sorted[i].startsWith(prefix); i++) keys.push(sorted[i]);
    const truncated = i < sorted.length && sorted[i].startsWith(prefix);
    const contents = keys.map((k) => `<Contents><Key>${k}</Key><Size>${bucket.objects.get(k)}</Size><ETag>${nullEtag}</ETag><StorageClass>STANDARD</StorageClass></Contents>`).join("");
    const next = truncated ? `<NextContinuationToken>${keys[keys.length - 1]}</NextContinuationToken>` : "";
    return xml(200, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${name}</Name><Prefix>${prefix}</Prefix><KeyCount>${keys.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${next}${contents}</ListBucketResult>`);
  }
}

/** Reads an upload's body, hashing it as s3d does: MD5, and SHA-256 when the request names it. */
async function hashedBody(req: IncomingMessage): Promise<{ bodyBytes: number; md5: Buffer; sha256Matches: boolean }> {
  const claimed = req.headers["x-amz-content-sha256"];
  const sha256Claim = typeof claimed === "string" && /^[0-9a-f]{64}$/.test(claimed) ? claimed : undefined;
  const algorithms: HashAlgorithm[] = sha256Claim ? ["md5", "sha256"] : ["md5"];
  const declared = req.headers["content-length"];
  const hasher = hasherFor(algorithms, declared === undefined ? undefined : Number(declared));
  let bodyBytes = 0;
  try {
    for await (const chunk of req as AsyncIterable<Uint8Array>) {
      bodyBytes += chunk.length;
      const tooMuchInFlight = hasher.update(chunk);
      if (tooMuchInFlight) await tooMuchInFlight;
    }
  } catch (e) {
    hasher.abort();
    throw e;
  }
  const [md5, sha256] = await hasher.digests();
  return { bodyBytes, md5, sha256Matches: sha256Claim === undefined || sha256.toString("hex") === sha256Claim };
}

function xml(status: number, body: string): Answer {
  return { status, headers: { "content-type": "application/xml" }, body };
}

function error(status: number, code: string, withBody = true): Answer {
  return withBody ? xml(status, `<Error><Code>${code}</Code><Message>${code}</Message></Error>`) : { status, headers: {} };
}

export interface NullServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startNullServer(options: { host: string; port: number; engine: "node" | "bun"; corrupt: boolean; hash?: boolean }): Promise<NullServer> {
  const store = new NullStore(options.corrupt);
  if (options.engine === "bun") {
    const server = Bun.serve({
      hostname: options.host,
      port: options.port,
      maxRequestBodySize: 6 * 1024 ** 4,
      async fetch(req) {
        let bodyBytes = 0;
        if (req.body !== null) for await (const chunk of req.body as unknown as AsyncIterable<Uint8Array>) bodyBytes += chunk.length;
        const url = new URL(req.url);
        const a = store.answer(req.method, url.pathname + url.search, bodyBytes);
        return new Response(a.body, { status: a.status, headers: a.headers });
      },
    });
    return { port: server.port!, url: `http://${options.host}:${server.port}`, close: async () => void server.stop(true) };
  }
  const server = http.createServer((req, res) => {
    const reply = (a: Answer) => {
      const body = typeof a.body === "string" ? Buffer.from(a.body) : a.body;
      if (a.headers["content-length"] === undefined) a.headers["content-length"] = String(body?.length ?? 0);
      res.writeHead(a.status, a.headers);
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (options.hash && req.method === "PUT") {
      hashedBody(req).then(
        ({ bodyBytes, md5, sha256Matches }) => {
          if (!sha256Matches) return reply(error(400, "XAmzContentSHA256Mismatch"));
          const a = store.answer("PUT", req.url ?? "/", bodyBytes);
          if (a.headers.etag === nullEtag) a.headers.etag = `"${md5.toString("hex")}"`;
          reply(a);
        },
        () => res.destroy(),
      );
      return;
    }
    let bodyBytes = 0;
    req.on("data", (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    req.on("end", () => reply(store.answer(req.method ?? "GET", req.url ?? "/", bodyBytes)));
  });
  server.requestTimeout = 0;
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    port,
    url: `http://${options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
