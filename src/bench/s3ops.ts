/**
 * The S3 requests the generator makes, signed with the project's SigV4 module, each either
 * resolving or throwing an OpError that carries the S3 error code (or a transport/verification
 * code) for the error table.
 */
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { canonicalQuery, emptyPayloadHash, sha256Hex, signHeaders, unsignedPayload } from "../sigv4/index.ts";
import { ContentDigests, objectBody, objectKey } from "./content.ts";
import type { HttpClient, HttpResponse } from "./http.ts";

export type PayloadMode = "signed" | "unsigned";

export interface S3Target {
  endpoint: URL;
  accessKey: string;
  secretKey: string;
  region: string;
  payload: PayloadMode;
  keyPrefix: string;
  /** SSE-C: the 256-bit key the objects are sealed with */
  customerKey?: Uint8Array;
}

export class OpError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** A listing page: keys and the token of the next page. */
export interface ListPage {
  keys: string[];
  nextToken: string | undefined;
}

export class S3Ops {
  readonly digests = new ContentDigests();
  private readonly host: string;
  /** the SSE-C headers of the run's key, on every request that writes or reads object bytes */
  private readonly sealing: Record<string, string>;

  constructor(private readonly client: HttpClient, private readonly target: S3Target) {
    this.host = target.endpoint.host;
    const key = target.customerKey;
    this.sealing = key === undefined ? {} : {
      "x-amz-server-side-encryption-customer-algorithm": "AES256",
      "x-amz-server-side-encryption-customer-key": Buffer.from(key).toString("base64"),
      "x-amz-server-side-encryption-customer-key-md5": createHash("md5").update(key).digest("base64"),
    };
  }

  key(index: number): string {
    return objectKey(this.target.keyPrefix, index);
  }

  async createBucket(bucket: string): Promise<void> {
    const res = await this.send("PUT", `/${bucket}`, [], undefined, emptyPayloadHash);
    if (res.status === 200) return;
    const code = errorCode(res);
    if (code === "BucketAlreadyOwnedByYou") return;
    throw failure(res, `create bucket ${bucket}`);
  }

  async deleteBucket(bucket: string): Promise<void> {
    const res = await this.send("DELETE", `/${bucket}`, [], undefined, emptyPayloadHash);
    if (res.status !== 204 && res.status !== 200) throw failure(res, `delete bucket ${bucket}`);
  }

  /** PUT object `index` of `sizeBytes`; returns the body bytes sent. */
  async putObject(bucket: string, index: number, sizeBytes: number): Promise<number> {
    const body = objectBody(index, sizeBytes);
    const hash = this.target.payload === "signed" ? this.digests.sha256Of(index, 0, sizeBytes) : unsignedPayload;
    const res = await this.send("PUT", `/${bucket}/${this.key(index)}`, [], body, hash, { headers: this.sealing });
    if (res.status !== 200) throw failure(res, `put ${this.key(index)}`);
    return sizeBytes;
  }

  /** GET object `index` and check its size and CRC against what was put; returns its bytes. */
  async getObject(bucket: string, index: number, sizeBytes: number): Promise<number> {
    let crc = 0;
    const sink = (chunk: Uint8Array) => void (crc = crc32(chunk, crc));
    const res = await this.send("GET", `/${bucket}/${this.key(index)}`, [], undefined, emptyPayloadHash, { headers: this.sealing, sink });
    if (res.status !== 200) throw failure(res, `get ${this.key(index)}`);
    if (res.bodyBytes !== sizeBytes) {
      throw new OpError("VerificationFailed", `get ${this.key(index)}: ${res.bodyBytes} bytes, expected ${sizeBytes}`);
    }
    const expected = this.digests.crc32Of(index, sizeBytes);
    if (crc !== expected) {
      throw new OpError("VerificationFailed", `get ${this.key(index)}: content differs from what was put (crc32 ${hex(crc)}, expected ${hex(expected)})`);
    }
    return sizeBytes;
  }

  async deleteObject(bucket: string, index: number): Promise<void> {
    await this.deleteKey(bucket, this.key(index));
  }

  async deleteKey(bucket: string, key: string): Promise<void> {
    const res = await this.send("DELETE", `/${bucket}/${key}`, [], undefined, emptyPayloadHash);
    if (res.status !== 204 && res.status !== 200) throw failure(res, `delete ${key}`);
  }

  async listPage(bucket: string, prefix: string, token: string | undefined, maxKeys = 1000): Promise<ListPage> {
    const query: [string, string][] = [["list-type", "2"], ["max-keys", String(maxKeys)], ["prefix", prefix]];
    if (token !== undefined) query.push(["continuation-token", token]);
    const res = await this.send("GET", `/${bucket}`, query, undefined, emptyPayloadHash);
    if (res.status !== 200) throw failure(res, `list ${bucket}`);
    const keys = [...res.text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => unescapeXml(m[1]));
    const truncated = /<IsTruncated>true<\/IsTruncated>/.test(res.text);
    const next = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(res.text)?.[1];
    if (truncated && next === undefined) throw new OpError("VerificationFailed", "list: truncated page without NextContinuationToken");
    return { keys, nextToken: truncated ? unescapeXml(next!) : undefined };
  }

  async createMultipart(bucket: string, index: number): Promise<string> {
    const res = await this.send("POST", `/${bucket}/${this.key(index)}`, [["uploads", ""]], undefined, emptyPayloadHash, { headers: this.sealing });
    const uploadId = /<UploadId>([^<]*)<\/UploadId>/.exec(res.text)?.[1];
    if (res.status !== 200 || uploadId === undefined) throw failure(res, `create multipart upload ${this.key(index)}`);
    return unescapeXml(uploadId);
  }

  /** Upload part `partNumber` (1-based): bytes [start, start + sizeBytes) of object `index`; returns its ETag. */
  async uploadPart(bucket: string, index: number, uploadId: string, partNumber: number, start: number, sizeBytes: number): Promise<string> {
    const body = objectBody(index, start + sizeBytes).subarray(start);
    const hash = this.target.payload === "signed" ? this.digests.sha256Of(index, start, sizeBytes) : unsignedPayload;
    const query: [string, string][] = [["partNumber", String(partNumber)], ["uploadId", uploadId]];
    const res = await this.send("PUT", `/${bucket}/${this.key(index)}`, query, body, hash, { headers: this.sealing });
    const etag = res.header("etag");
    if (res.status !== 200 || etag === undefined) throw failure(res, `upload part ${partNumber}`);
    return etag;
  }

  async completeMultipart(bucket: string, index: number, uploadId: string, etags: string[]): Promise<void> {
    const parts = etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${escapeXml(etag)}</ETag></Part>`).join("");
    const body = new TextEncoder().encode(`<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>`);
    const res = await this.send("POST", `/${bucket}/${this.key(index)}`, [["uploadId", uploadId]], body, sha256Hex(body));
    // CompleteMultipartUpload may answer 200 with an <Error> body.
    if (res.status !== 200 || /<Error>/.test(res.text)) throw failure(res, `complete multipart upload ${this.key(index)}`);
  }

  async abortMultipart(bucket: string, index: number, uploadId: string): Promise<void> {
    await this.send("DELETE", `/${bucket}/${this.key(index)}`, [["uploadId", uploadId]], undefined, emptyPayloadHash);
  }

  private async send(
    method: string,
    decodedPath: string,
    query: [string, string][],
    body: Uint8Array | undefined,
    payloadHash: string,
    { headers: extra = {}, sink }: { headers?: Record<string, string>; sink?: (chunk: Uint8Array) => void } = {},
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = { host: this.host, ...extra };
    Object.assign(
      headers,
      signHeaders({
        method,
        decodedPath,
        query,
        headers,
        accessKeyId: this.target.accessKey,
        secretKey: this.target.secretKey,
        region: this.target.region,
        nowMs: Date.now(),
        payloadHash,
      }),
    );
    // The HTTP client sets Host itself (same value); passing it twice would send it twice.
    delete headers.host;
    const qs = query.length === 0 ? "" : `?${canonicalQuery(query)}`;
    try {
      return await this.client.request({ method, target: encodePath(decodedPath) + qs, headers, body, sink });
    } catch (error) {
      if (error instanceof OpError) throw error;
      const code = (error as { code?: string }).code;
      throw new OpError(`Network:${code ?? "Error"}`, `${method} ${decodedPath}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** Bench keys and bucket names are [a-z0-9./-]; encode anyway so a custom prefix stays valid. */
function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

function errorCode(res: HttpResponse): string {
  return /<Code>([^<]*)<\/Code>/.exec(res.text)?.[1] ?? `HTTP${res.status}`;
}

function failure(res: HttpResponse, what: string): OpError {
  const message = /<Message>([^<]*)<\/Message>/.exec(res.text)?.[1] ?? res.text.slice(0, 200);
  return new OpError(errorCode(res), `${what}: HTTP ${res.status} ${message}`);
}

function hex(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function unescapeXml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&#(\d+);/g, (_, d) => String.fromCharCode(Number(d)))
    .replace(/&amp;/g, "&");
}
