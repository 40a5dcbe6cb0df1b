/**
 * AWS Signature Version 4 for S3, pure: no I/O, no clock (time comes in as nowMs). The server
 * verifies with it, `s3d bench` and the tests sign with it.
 */
export {
  algorithm,
  emptyPayloadHash,
  maxClockSkewMs,
  maxPresignExpiresSec,
  payloadModes,
  streamingSignedPayload,
  streamingSignedPayloadTrailer,
  streamingUnsignedPayloadTrailer,
  unsignedPayload,
} from "./constants.ts";
export { canonicalQuery, canonicalUri, uriEncode } from "./encode.ts";
export { hmacHex, sha256Hex, signaturesEqual, signingKey, signingKeyCacheEntriesMax } from "./crypto.ts";
export { canonicalRequest, credentialScope, stringToSign, type SignableRequest } from "./canonical.ts";
export { parseAuthorizationHeader, parseCredential, parsePresignedQuery, type Credential, type ParsedAuth } from "./parse.ts";
export { authorizationOf } from "./headers.ts";
export { verifyPostForm, type PostFormSignature } from "./post.ts";
export { verifyRequest, type Verified, type VerifyInput } from "./verify.ts";
export { presignQuery, signHeaders } from "./sign.ts";
export { chunkSignature, trailerSignature, type ChunkSigning } from "./chunk.ts";
