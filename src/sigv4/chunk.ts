/**
 * Signatures of aws-chunked bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]): each chunk is
 * signed over the previous signature, seeded by the request's own; the trailer likewise.
 */
import { emptyPayloadHash } from "./constants.ts";
import { hmacHex } from "./crypto.ts";

export interface ChunkSigning {
  signingKey: Buffer;
  amzDate: string;
  scope: string;
  /** the request signature: the "previous signature" of the first chunk */
  seedSignature: string;
}

export function chunkSignature(s: ChunkSigning, previousSignature: string, chunkSha256Hex: string): string {
  const toSign = ["AWS4-HMAC-SHA256-PAYLOAD", s.amzDate, s.scope, previousSignature, emptyPayloadHash, chunkSha256Hex].join("\n");
  return hmacHex(s.signingKey, toSign);
}

/** `trailerSha256Hex` hashes the trailer lines as "name:value\n" each, in the order sent. */
export function trailerSignature(s: ChunkSigning, previousSignature: string, trailerSha256Hex: string): string {
  const toSign = ["AWS4-HMAC-SHA256-TRAILER", s.amzDate, s.scope, previousSignature, trailerSha256Hex].join("\n");
  return hmacHex(s.signingKey, toSign);
}
