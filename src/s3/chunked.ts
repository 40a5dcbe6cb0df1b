/**
 * Decoder of aws-chunked request bodies (Content-Encoding: aws-chunked), the framing the AWS
 * SDKs stream uploads in:
 *
 *   <hex size>[;chunk-signature=<sig>]\r\n <data> \r\n ... 0[;chunk-signature=<sig>]\r\n
 *   [<trailer name>:<value>\r\n ...] [x-amz-trailer-signature:<sig>\r\n] \r\n
 *
 * Yields the payload bytes only. Chunk and trailer signatures are checked when `signing` is
 * given; a bad one, bad framing or a truncated body errors the stream with an S3Error, which
 * stops the store from committing anything. Pure: no I/O of its own.
 */
import { createHash, type Hash } from "node:crypto";
import { S3Error } from "../errors.ts";
import { chunkSignature, signaturesEqual, trailerSignature, type ChunkSigning } from "../sigv4/index.ts";

/** A chunk header line ("<hex>;chunk-signature=<64 hex>") is far shorter than this. */
export const chunkHeaderBytesMax = 4096;
/** All trailer lines together. */
export const trailerBytesMax = 16 * 1024;
const trailerSignatureName = "x-amz-trailer-signature";

export interface ChunkedOptions {
  /** present for the signed modes: every chunk's signature is verified */
  signing?: ChunkSigning;
  /** the trailer header names announced in x-amz-trailer (lowercase); empty when none */
  announcedTrailers: readonly string[];
  /** receives the trailers (name lowercase → value) once they are read and verified */
  onTrailers(trailers: Map<string, string>): void;
}

const malformed = (why: string) => new S3Error("InvalidRequest", `Malformed aws-chunked body: ${why}.`);
const truncated = () => new S3Error("IncompleteBody", "The request body ended before the final aws-chunked chunk.");
const badSignature = (what: string) =>
  new S3Error("SignatureDoesNotMatch", `The ${what} signature we calculated does not match the signature you provided.`);

/** Buffers input so that lines can be taken across network chunk boundaries. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(c: Uint8Array) {
    if (c.length > 0) {
      this.chunks.push(c);
      this.length += c.length;
    }
  }
  /** Index of "\r\n" within the first `limit` bytes, or -1. */
  findCrlf(limit: number): number {
    let index = 0;
    let prevCr = false;
    for (const c of this.chunks) {
      for (let i = 0; i < c.length; i++, index++) {
        if (index > limit) return -1;
        if (prevCr && c[i] === 0x0a) return index - 1;
        prevCr = c[i] === 0x0d;
      }
    }
    return -1;
  }
  /** Removes and returns the first n bytes (copied only when they span chunks). */
  take(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first.length >= n) {
      this.chunks[0] = first.subarray(n);
      if (this.chunks[0].length === 0) this.chunks.shift();
      this.length -= n;
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const m = Math.min(c.length, n - filled);
      out.set(c.subarray(0, m), filled);
      filled += m;
      if (m === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(m);
    }
    this.length -= n;
    return out;
  }
}

export async function* decodeAwsChunked(source: AsyncIterable<Uint8Array>, options: ChunkedOptions): AsyncGenerator<Uint8Array> {
  const { signing } = options;
  const input = source[Symbol.asyncIterator]();
  const queue = new ByteQueue();
  let previousSignature = signing?.seedSignature ?? "";

  const fill = async (): Promise<boolean> => {
    const next = await input.next();
    if (next.done) return false;
    queue.push(next.value);
    return true;
  };
  const line = async (limit: number, what: string): Promise<string> => {
    while (true) {
      const at = queue.findCrlf(limit);
      if (at >= 0) {
        const text = Buffer.from(queue.take(at)).toString("latin1");
        queue.take(2);
        return text;
      }
      if (queue.length > limit) throw malformed(`${what} longer than ${limit} bytes`);
      if (!(await fill())) throw truncated();
    }
  };

  while (true) {
    const header = await line(chunkHeaderBytesMax, "chunk header");
    const m = /^([0-9a-fA-F]{1,15})(?:;chunk-signature=([0-9a-f]{64}))?$/.exec(header);
    if (!m) throw malformed("bad chunk header");
    const size = Number.parseInt(m[1], 16);
    const claimed = m[2];
    if (signing && claimed === undefined) throw malformed("chunk without a chunk-signature");
    const hash: Hash | undefined = signing ? createHash("sha256") : undefined;
    let remaining = size;
    while (remaining > 0) {
      if (queue.length === 0 && !(await fill())) throw truncated();
      const piece = queue.take(Math.min(remaining, queue.length));
      remaining -= piece.length;
      hash?.update(piece);
      yield piece;
    }
    if (signing) {
      const expected = chunkSignature(signing, previousSignature, hash!.digest("hex"));
      if (!signaturesEqual(expected, claimed!)) throw badSignature("chunk");
      previousSignature = expected;
    }
    if (size > 0) {
      while (queue.length < 2) if (!(await fill())) throw truncated();
      const crlf = queue.take(2);
      if (crlf[0] !== 0x0d || crlf[1] !== 0x0a) throw malformed("chunk data longer than its size");
      continue;
    }
    await readTrailers();
    break;
  }
  // Some clients end with an extra CRLF; anything else after the final chunk is an error.
  while (queue.length > 0 || (await fill())) {
    for (const b of queue.take(queue.length)) if (b !== 0x0d && b !== 0x0a) throw malformed("bytes after the final chunk");
  }

  async function readTrailers(): Promise<void> {
    const trailers = new Map<string, string>();
    const signed = createHash("sha256");
    let claimedSignature: string | undefined;
    let bytes = 0;
    while (true) {
      const text = await line(trailerBytesMax, "trailer");
      bytes += text.length + 2;
      if (bytes > trailerBytesMax) throw malformed(`trailers longer than ${trailerBytesMax} bytes`);
      if (text === "") break;
      const colon = text.indexOf(":");
      if (colon <= 0) throw malformed("bad trailer line");
      const name = text.slice(0, colon).trim().toLowerCase();
      const value = text.slice(colon + 1).trim();
      if (name === trailerSignatureName) {
        claimedSignature = value;
        continue;
      }
      if (!options.announcedTrailers.includes(name)) throw malformed(`trailer ${name} was not announced in x-amz-trailer`);
      trailers.set(name, value);
      signed.update(`${name}:${value}\n`);
    }
    for (const name of options.announcedTrailers) {
      if (!trailers.has(name)) throw malformed(`announced trailer ${name} is missing`);
    }
    if (signing && options.announcedTrailers.length > 0) {
      if (claimedSignature === undefined) throw malformed("trailer without x-amz-trailer-signature");
      const expected = trailerSignature(signing, previousSignature, signed.digest("hex"));
      if (!signaturesEqual(expected, claimedSignature)) throw badSignature("trailer");
    }
    options.onTrailers(trailers);
  }
}
