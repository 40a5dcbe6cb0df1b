/** An aws-chunked encoder for tests: the framing the AWS SDKs send, with chunk signatures. */
import { createHash } from "node:crypto";
import { chunkSignature, trailerSignature, type ChunkSigning } from "../../src/sigv4/index.ts";

export interface EncodeOptions {
  chunkBytes: number;
  signing?: ChunkSigning;
  trailers?: Array<[string, string]>;
}

const sha256Hex = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

export function encodeAwsChunked(payload: Uint8Array, o: EncodeOptions): Uint8Array {
  const parts: Uint8Array[] = [];
  let previous = o.signing?.seedSignature ?? "";
  const enc = (s: string) => Buffer.from(s, "latin1");
  const chunk = (data: Uint8Array) => {
    let ext = "";
    if (o.signing) {
      previous = chunkSignature(o.signing, previous, sha256Hex(data));
      ext = `;chunk-signature=${previous}`;
    }
    parts.push(enc(`${data.length.toString(16)}${ext}\r\n`));
    if (data.length > 0) parts.push(data, enc("\r\n"));
  };
  for (let offset = 0; offset < payload.length; offset += o.chunkBytes) chunk(payload.subarray(offset, offset + o.chunkBytes));
  chunk(new Uint8Array());
  const trailers = o.trailers ?? [];
  for (const [name, value] of trailers) parts.push(enc(`${name}:${value}\r\n`));
  if (o.signing && trailers.length > 0) {
    const sig = trailerSignature(o.signing, previous, sha256Hex(trailers.map(([n, v]) => `${n}:${v}\n`).join("")));
    parts.push(enc(`x-amz-trailer-signature:${sig}\r\n`));
  }
  parts.push(enc("\r\n"));
  return Buffer.concat(parts);
}
