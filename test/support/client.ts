/** A minimal signed S3 client over fetch, for tests that need exact control of the request. */
import { createHash } from "node:crypto";
import { request } from "node:http";
import { canonicalQuery, hmacHex, signHeaders, signingKey, uriEncode, unsignedPayload } from "../../src/sigv4/index.ts";
import { formatAmzDate } from "../../src/sigv4/time.ts";
import { accessKey, region, secretKey } from "./server.ts";

export interface SignedRequest {
  method: string;
  /** decoded path: "/bucket/key" */
  path: string;
  query?: [string, string][];
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** sign the payload hash (default) or send UNSIGNED-PAYLOAD */
  unsigned?: boolean;
  /** override what is claimed in x-amz-content-sha256 */
  payloadHash?: string;
  secret?: string;
  accessKeyId?: string;
  nowMs?: number;
  /** the region the signature is scoped to (default: the test servers' us-east-1) */
  region?: string;
}

export function encodePath(decodedPath: string): string {
  return decodedPath.split("/").map((s) => uriEncode(s, true)).join("/");
}

export async function s3(endpoint: string, r: SignedRequest): Promise<Response> {
  const url = new URL(endpoint);
  const body = typeof r.body === "string" ? Buffer.from(r.body) : r.body;
  const payloadHash = r.payloadHash ?? (r.unsigned ? unsignedPayload : createHash("sha256").update(body ?? new Uint8Array()).digest("hex"));
  const headers: Record<string, string> = { host: url.host, ...r.headers };
  const signed = signHeaders({
    method: r.method,
    decodedPath: r.path,
    query: r.query ?? [],
    headers,
    accessKeyId: r.accessKeyId ?? accessKey,
    secretKey: r.secret ?? secretKey,
    region: r.region ?? region,
    nowMs: r.nowMs ?? Date.now(),
    payloadHash,
  });
  const qs = r.query && r.query.length > 0 ? `?${canonicalQuery(r.query)}` : "";
  return rawRequest(endpoint, r.method, `${encodePath(r.path)}${qs}`, { ...headers, ...signed }, body);
}

/**
 * An HTTP request whose target goes on the wire exactly as given: fetch would resolve "." and
 * ".." segments, which S3 keys may contain.
 */
export function rawRequest(endpoint: string, method: string, target: string, headers: Record<string, string>, body?: Uint8Array): Promise<Response> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path: target, headers: { ...headers, "content-length": String(body?.length ?? 0) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const out = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(", ") : v);
          const bytes = Buffer.concat(chunks);
          const status = res.statusCode ?? 0;
          resolve(new Response(status === 204 || status === 304 || bytes.length === 0 ? null : bytes, { status, headers: out }));
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The Code element of an S3 XML error body. */
export async function errorCode(res: Response): Promise<string | undefined> {
  const text = await res.text();
  return /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
}

export function md5Base64(data: Uint8Array | string): string {
  return createHash("md5").update(data).digest("base64");
}

/**
 * The signing fields of a POST Object form for `bucket` whose policy holds `conditions` plus those
 * every SDK adds (the bucket and the three signing fields), expiring `expiresInMs` from now.
 */
export function postPolicyFields(bucket: string, conditions: unknown[], options: { expiresInMs?: number; secret?: string; accessKeyId?: string } = {}): Record<string, string> {
  const nowMs = Date.now();
  const amzDate = formatAmzDate(nowMs);
  const day = amzDate.slice(0, 8);
  const credential = `${options.accessKeyId ?? accessKey}/${day}/${region}/s3/aws4_request`;
  const document = {
    expiration: new Date(nowMs + (options.expiresInMs ?? 60_000)).toISOString(),
    conditions: [...conditions, { bucket }, { "x-amz-algorithm": "AWS4-HMAC-SHA256" }, { "x-amz-credential": credential }, { "x-amz-date": amzDate }],
  };
  const policy = Buffer.from(JSON.stringify(document)).toString("base64");
  return {
    "x-amz-algorithm": "AWS4-HMAC-SHA256",
    "x-amz-credential": credential,
    "x-amz-date": amzDate,
    policy,
    "x-amz-signature": hmacHex(signingKey(options.secret ?? secretKey, day, region, "s3"), policy),
  };
}
