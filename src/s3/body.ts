/**
 * The request body pipeline: the raw body flows through a decoding stage (aws-chunked framing)
 * and is watched by observers that hash, count and verify it. A verification failure errors
 * the stream with an S3Error at its end, so the store that consumes it stores nothing.
 */
import { S3Error } from "../errors.ts";
import type { ChunkSigning } from "../sigv4/index.ts";
import {
  checksumAlgorithms,
  checksumHeader,
  createChecksummer,
  digestBase64,
  isValidChecksumValue,
  parseChecksumAlgorithm,
  type ChecksumAlgorithm,
  type Checksummer,
} from "../checksum/index.ts";
import type { BodyDigest, IncomingBody, StoredChecksum } from "../store/backend.ts";
import { hasherFor, type HashAlgorithm, type Hasher } from "../util/hash-worker.ts";
import { decodeAwsChunked } from "./chunked.ts";
import { IncomingMessage } from "node:http";
import { Readable } from "node:stream";

/**
 * Watches the bytes of a body as they pass; `finish` throws an S3Error if they are wrong.
 * Either may return a promise (work done on the hashing worker), which the stream awaits.
 */
export interface BodyObserver {
  update(chunk: Uint8Array): void | Promise<void>;
  finish(): void | Promise<void>;
}

/**
 * Passes `source` through unchanged while every observer sees each chunk, then finishes them.
 * `onAbandon` runs when the body fails or its consumer cancels it.
 */
export function observed(source: AsyncIterable<Uint8Array>, observers: BodyObserver[], onAbandon: () => void = () => {}): ReadableStream<Uint8Array> {
  // A request left unread when its consumer gives up (the disk filled) is not destroyed: that would
  // take its connection, and the answer (507) with it. The server closes the connection after answering.
  const iterator = source instanceof Readable ? source.iterator({ destroyOnReturn: false }) : source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) {
          for (const o of observers) await o.finish();
          controller.close();
          return;
        }
        for (const o of observers) {
          const wait = o.update(next.value);
          if (wait) await wait; // only when the hashing worker is behind
        }
        controller.enqueue(next.value);
      } catch (error) {
        onAbandon();
        controller.error(error);
      }
    },
    async cancel(reason) {
      onAbandon();
      await iterator.return?.(reason);
    },
  });
}

/**
 * The buffered twin of `observed`: reads `source` whole while every observer sees each chunk,
 * then finishes them. Small bodies skip the ReadableStream and its second iterator.
 */
async function observedBytes(source: AsyncIterable<Uint8Array>, observers: BodyObserver[], onAbandon: () => void): Promise<Uint8Array> {
  if (source instanceof Readable && !source.readableEnded && !source.destroyed) return observedReadableBytes(source, observers, onAbandon);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of source) {
      for (const o of observers) {
        const wait = o.update(chunk);
        if (wait) await wait;
      }
      chunks.push(chunk);
      total += chunk.length;
    }
    for (const o of observers) await o.finish();
  } catch (error) {
    onAbandon();
    throw error;
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

/**
 * `observedBytes` of a node stream (the request itself, when no aws-chunked decoding sits in
 * between), read through its events: for a small body the async iterator's set-up and its
 * promise per chunk cost more than hashing the bytes. The stream pauses while an observer's
 * promise is pending, as the iterator would.
 */
function observedReadableBytes(source: Readable, observers: BodyObserver[], onAbandon: () => void): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    let settled = false;
    /** The observation of a chunk that paused the stream; the end waits for it. */
    let pending: Promise<void> = Promise.resolve();
    const stop = () => {
      source.off("data", onData);
      source.off("end", onEnd);
      source.off("error", fail);
      source.off("close", onClose);
    };
    function fail(error: unknown) {
      if (settled) return;
      settled = true;
      stop();
      onAbandon();
      reject(error);
    }
    async function observeFrom(first: number, chunk: Uint8Array) {
      for (let i = first; i < observers.length; i++) await observers[i].update(chunk);
    }
    function onData(chunk: Uint8Array) {
      chunks.push(chunk);
      total += chunk.length;
      try {
        for (let i = 0; i < observers.length; i++) {
          const wait = observers[i].update(chunk);
          if (wait) {
            source.pause();
            pending = wait.then(() => observeFrom(i + 1, chunk));
            pending.then(() => settled || source.resume(), fail);
            return;
          }
        }
      } catch (error) {
        fail(error);
      }
    }
    function onEnd() {
      stop();
      pending
        .then(async () => {
          for (const o of observers) await o.finish();
        })
        .then(() => {
          if (settled) return;
          settled = true;
          resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
        }, fail);
    }
    function onClose() {
      fail(new Error("the request body was cut off (connection closed)"));
    }
    source.on("data", onData);
    source.once("end", onEnd);
    source.once("error", fail);
    source.once("close", onClose);
  });
}

/** A body read through `observed` or `observedBytes`, whichever its consumer asks for first. */
function observedBody(source: AsyncIterable<Uint8Array>, observers: BodyObserver[], onAbandon: () => void, rest: Omit<IncomingBody, "stream" | "bytes">): IncomingBody {
  let stream: ReadableStream<Uint8Array> | undefined;
  return {
    get stream() {
      return (stream ??= observed(source, observers, onAbandon));
    },
    bytes: () => observedBytes(source, observers, onAbandon),
    ...rest,
  };
}

/** Counts bytes; errors when the body is longer than `limitBytes` or ends short of `expectedBytes`. */
export class SizeObserver implements BodyObserver {
  sizeBytes = 0;
  constructor(
    private readonly expectedBytes: number | undefined,
    private readonly limitBytes: number,
  ) {}
  update(chunk: Uint8Array): void {
    this.sizeBytes += chunk.length;
    if (this.expectedBytes !== undefined && this.sizeBytes > this.expectedBytes) {
      throw new S3Error("InvalidRequest", "The request body is longer than its declared length.");
    }
    if (this.sizeBytes > this.limitBytes) {
      throw new S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", {
        MaxSizeAllowed: String(this.limitBytes),
      });
    }
  }
  finish(): void {
    if (this.expectedBytes !== undefined && this.sizeBytes !== this.expectedBytes) {
      throw new S3Error("IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.");
    }
  }
}

/** What a digest must equal, and the error when it does not. */
interface ExpectedDigest {
  value: Buffer;
  error: (computed: Buffer) => S3Error;
}

/**
 * MD5 (always: it is the ETag) and optionally SHA-256 of a body, computed on the hashing worker;
 * each checked against what the client claimed, if it claimed anything.
 */
export class DigestObserver implements BodyObserver {
  /** begun on the first byte, so a body that is never read leaves nothing on the worker */
  private job: Hasher | undefined;
  private md5: Buffer | undefined;
  constructor(
    private readonly expected: { md5?: ExpectedDigest; sha256?: ExpectedDigest },
    /** the declared length, when known: small bodies are hashed here, large ones on the worker */
    private readonly declaredBytes: number | undefined,
  ) {}
  private started(): Hasher {
    const algorithms: HashAlgorithm[] = this.expected.sha256 ? ["md5", "sha256"] : ["md5"];
    this.job ??= hasherFor(algorithms, this.declaredBytes);
    return this.job;
  }
  update(chunk: Uint8Array): Promise<void> | undefined {
    return this.started().update(chunk);
  }
  async finish(): Promise<void> {
    const [md5, sha256] = await this.started().digests();
    this.md5 = md5;
    for (const [computed, expected] of [[md5, this.expected.md5], [sha256, this.expected.sha256]] as const) {
      if (expected && !expected.value.equals(computed)) throw expected.error(computed);
    }
  }
  /** Releases the worker's state of a body that will not be read to its end. */
  abort(): void {
    this.job?.abort();
  }
  md5Hex(): string {
    if (!this.md5) throw new Error("digest read before the body ended");
    return this.md5.toString("hex");
  }
}

/** What the signature says about the payload. */
export type PayloadClaim =
  | { kind: "sha256"; hex: string }
  | { kind: "unsigned" }
  | { kind: "chunked"; signing: ChunkSigning | undefined; trailer: boolean };

export function contentMd5Bytes(header: string): Buffer {
  const bytes = Buffer.from(header, "base64");
  if (bytes.length !== 16 || bytes.toString("base64") !== header.trim()) {
    throw new S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.");
  }
  return bytes;
}

function parseLength(value: string, name: string): number {
  if (!/^\d{1,16}$/.test(value)) throw new S3Error("InvalidArgument", `The ${name} header is not a valid length.`, { ArgumentName: name, ArgumentValue: value });
  return Number(value);
}

/**
 * The payload length the client declared: x-amz-decoded-content-length for aws-chunked bodies,
 * Content-Length otherwise. Checked against `limitBytes` before any byte is read.
 */
function declaredLength(headers: Record<string, string>, payload: PayloadClaim, limitBytes: number, required: boolean): number | undefined {
  const name = payload.kind === "chunked" ? "x-amz-decoded-content-length" : "content-length";
  const raw = headers[name];
  if (raw === undefined) {
    // a body of unknown length in HTTP chunks, without aws-chunked framing: S3 names the header
    if (required && payload.kind !== "chunked" && headers["transfer-encoding"] !== undefined) {
      throw new S3Error("NotImplemented", "A header you provided implies functionality that is not implemented", { Header: "Transfer-Encoding" });
    }
    if (required || payload.kind === "chunked") throw new S3Error("MissingContentLength", `You must provide the ${name} HTTP header.`);
    return undefined;
  }
  const length = parseLength(raw, name);
  if (length > limitBytes) {
    throw new S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", {
      ProposedSize: raw,
      MaxSizeAllowed: String(limitBytes),
    });
  }
  return length;
}

/** Names announced in x-amz-trailer, lowercase. */
function announcedTrailers(headers: Record<string, string>): string[] {
  const raw = headers["x-amz-trailer"];
  return raw === undefined ? [] : raw.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "");
}

/**
 * Builds the verified body a backend consumes from the raw request body: aws-chunked framing
 * decoded, length, Content-MD5 and signed SHA-256 checked. Header problems throw before any
 * byte is read; body problems error the stream, so nothing is stored.
 */
export function requestBody(
  raw: AsyncIterable<Uint8Array>,
  headers: Record<string, string>,
  payload: PayloadClaim,
  limits: {
    limitBytes: number;
    lengthRequired: boolean;
    defaultChecksum?: ChecksumAlgorithm;
    /** x-amz-checksum-* headers are the checksum of the object the request makes, not of this body (CompleteMultipartUpload). */
    objectChecksumHeaders?: boolean;
  },
): IncomingBody {
  const expectedBytes = declaredLength(headers, payload, limits.limitBytes, limits.lengthRequired);
  let trailers = new Map<string, string>();
  const announced = payload.kind === "chunked" && payload.trailer ? announcedTrailers(headers) : [];
  const checksum =
    requestedChecksum(limits.objectChecksumHeaders ? {} : headers, announced, () => trailers) ??
    (limits.defaultChecksum && new ChecksumObserver(limits.defaultChecksum, () => undefined));
  const source =
    payload.kind === "chunked"
      ? decodeAwsChunked(raw, { signing: payload.signing, announcedTrailers: announced, onTrailers: (t) => (trailers = t) })
      : raw;
  const size = new SizeObserver(expectedBytes, limits.limitBytes);
  const contentMd5 = headers["content-md5"];
  const claimedSha256 = payload.kind === "sha256" ? payload.hex.toLowerCase() : undefined;
  const digests = new DigestObserver({
    md5:
      contentMd5 === undefined
        ? undefined
        : {
            value: contentMd5Bytes(contentMd5),
            error: () => new S3Error("BadDigest", "The Content-MD5 you specified did not match what we received."),
          },
    sha256:
      claimedSha256 === undefined
        ? undefined
        : {
            value: Buffer.from(claimedSha256, "hex"),
            error: (computed) =>
              new S3Error("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.", {
                ClientComputedContentSHA256: claimedSha256,
                S3ComputedContentSHA256: computed.toString("hex"),
              }),
          },
  }, expectedBytes);
  const observers: BodyObserver[] = [size, digests];
  if (checksum) observers.push(checksum);
  return observedBody(source, observers, () => digests.abort(), {
    digest: (): BodyDigest => ({ sizeBytes: size.sizeBytes, md5Hex: digests.md5Hex(), checksum: checksum?.stored() }),
    declaredBytes: expectedBytes,
    // node:http hands each received piece over in a buffer of its own, and the aws-chunked decoder
    // keeps no view of a piece it passes on (test/s3/body.test.ts checks both)
    chunksOwned: raw instanceof IncomingMessage,
  });
}

/** Computes an x-amz-checksum-* while the body streams and checks it against the client's value. */
export class ChecksumObserver implements BodyObserver {
  private readonly checksummer: Checksummer;
  private value: string | undefined;
  constructor(
    readonly algorithm: ChecksumAlgorithm,
    /** the client's value, known from a header now or from a trailer at the end; undefined: compute only */
    private readonly expected: () => string | undefined,
  ) {
    this.checksummer = createChecksummer(algorithm);
  }
  update(chunk: Uint8Array): void {
    this.checksummer.update(chunk);
  }
  finish(): void {
    this.value = digestBase64(this.checksummer.digest());
    const claimed = this.expected();
    if (claimed === undefined) return;
    if (!isValidChecksumValue(this.algorithm, claimed)) throw invalidChecksumValue(this.algorithm);
    if (claimed !== this.value) {
      throw new S3Error("BadDigest", `The ${this.algorithm} you specified did not match the calculated checksum.`);
    }
  }
  stored(): StoredChecksum {
    if (this.value === undefined) throw new Error("checksum read before the body ended");
    return { algorithm: this.algorithm, value: this.value, type: "FULL_OBJECT" };
  }
}

/** S3's answer to an x-amz-checksum-* value that is no digest of its algorithm (one that is, but wrong, is BadDigest). */
export const invalidChecksumValue = (a: ChecksumAlgorithm) => new S3Error("InvalidRequest", `Value for ${checksumHeader(a)} header is invalid.`);

/**
 * The additional checksum a request asks for: an x-amz-checksum-* header with its value, a
 * trailer announced in x-amz-trailer, or only an algorithm (x-amz-sdk-checksum-algorithm,
 * x-amz-checksum-algorithm) for s3d to compute. At most one.
 */
function requestedChecksum(headers: Record<string, string>, announced: string[], trailers: () => Map<string, string>): ChecksumObserver | undefined {
  const inHeaders = checksumAlgorithms.filter((a) => headers[checksumHeader(a)] !== undefined);
  const inTrailers = checksumAlgorithms.filter((a) => announced.includes(checksumHeader(a)));
  if (inHeaders.length + inTrailers.length > 1) throw new S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
  const [fromHeader] = inHeaders;
  if (fromHeader) {
    const value = headers[checksumHeader(fromHeader)];
    if (!isValidChecksumValue(fromHeader, value)) throw invalidChecksumValue(fromHeader);
    return new ChecksumObserver(fromHeader, () => value);
  }
  const [fromTrailer] = inTrailers;
  if (fromTrailer) return new ChecksumObserver(fromTrailer, () => trailers().get(checksumHeader(fromTrailer)));
  const named = headers["x-amz-sdk-checksum-algorithm"] ?? headers["x-amz-checksum-algorithm"];
  if (named === undefined) return undefined;
  return new ChecksumObserver(checksumAlgorithmNamed(named), () => undefined);
}

/** The checksum algorithm a request names (x-amz-checksum-algorithm and the like); InvalidRequest if none of S3's. */
export function checksumAlgorithmNamed(named: string): ChecksumAlgorithm {
  const algorithm = parseChecksumAlgorithm(named);
  if (!algorithm) throw new S3Error("InvalidRequest", `Checksum algorithm ${named} is not supported.`);
  return algorithm;
}

/**
 * A body that needs no verification (bytes s3d already stores, e.g. a copy source); with
 * `checksum`, that checksum of it is computed for the copy to keep.
 */
export function trustedBody(source: AsyncIterable<Uint8Array>, checksum?: ChecksumAlgorithm): IncomingBody {
  const size = new SizeObserver(undefined, Number.MAX_SAFE_INTEGER);
  const digests = new DigestObserver({}, undefined);
  const summed = checksum && new ChecksumObserver(checksum, () => undefined);
  return observedBody(source, summed ? [size, digests, summed] : [size, digests], () => digests.abort(), {
    digest: (): BodyDigest => ({ sizeBytes: size.sizeBytes, md5Hex: digests.md5Hex(), checksum: summed?.stored() }),
  });
}
