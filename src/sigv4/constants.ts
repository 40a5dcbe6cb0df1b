/** Names and limits of AWS Signature Version 4 as S3 uses it. */

export const algorithm = "AWS4-HMAC-SHA256";
export const unsignedPayload = "UNSIGNED-PAYLOAD";
/** SHA-256 of the empty string: the payload hash of a request without a body. */
export const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** aws-chunked bodies: each chunk signed, seeded by the request signature. */
export const streamingSignedPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
export const streamingSignedPayloadTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
export const streamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/**
 * Every literal S3 accepts in x-amz-content-sha256 besides a hex SHA-256. The ECDSA ones belong
 * to SigV4a; they are well-formed here and left to the server to refuse.
 */
export const payloadModes: readonly string[] = [
  unsignedPayload,
  streamingUnsignedPayloadTrailer,
  streamingSignedPayload,
  streamingSignedPayloadTrailer,
  "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
  "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
];

/** A presigned URL lives at most 7 days: the signing key is only valid that long. */
export const maxPresignExpiresSec = 604800;
export const maxClockSkewMs = 15 * 60 * 1000;

export const s3Service = "s3";
export const scopeTerminator = "aws4_request";
