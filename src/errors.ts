/**
 * The one error type of the S3 face. Every failure a client may see is an S3Error carrying an
 * S3 error code; `httpStatusOf` is the single table from code to HTTP status.
 */

const statusByCode = {
  AccessControlListNotSupported: 400,
  AccessDenied: 403,
  AccessForbidden: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BadRequest: 400,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IllegalLocationConstraintException: 400,
  IllegalVersioningConfigurationException: 400,
  IncompleteBody: 400,
  InsufficientStorage: 507,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketAclWithObjectOwnership: 400,
  InvalidBucketName: 400,
  InvalidBucketState: 409,
  InvalidDigest: 400,
  InvalidEncryptionAlgorithmError: 400,
  InvalidPart: 400,
  InvalidPartNumber: 416,
  InvalidPartOrder: 400,
  InvalidPolicyDocument: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidStorageClass: 400,
  InvalidTag: 400,
  InvalidToken: 400,
  InvalidURI: 400,
  KeyTooLongError: 400,
  MalformedPOSTRequest: 400,
  MalformedPolicy: 400,
  MalformedXML: 400,
  MaxPostPreDataLengthExceeded: 400,
  MetadataTooLarge: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchBucketPolicy: 404,
  NoSuchCORSConfiguration: 404,
  NoSuchKey: 404,
  NoSuchLifecycleConfiguration: 404,
  NoSuchObjectLockConfiguration: 404,
  NoSuchPublicAccessBlockConfiguration: 404,
  NoSuchTagSet: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  NoSuchWebsiteConfiguration: 404,
  NotImplemented: 501,
  ObjectLockConfigurationNotFoundError: 404,
  PreconditionFailed: 412,
  ReplicationConfigurationNotFoundError: 404,
  RequestHeaderSectionTooLarge: 400,
  RequestTimeout: 400,
  RequestTimeTooSkewed: 403,
  ServerSideEncryptionConfigurationNotFoundError: 404,
  SignatureDoesNotMatch: 403,
  UnexpectedContent: 400,
  XAmzContentSHA256Mismatch: 400,
} as const;

export type S3ErrorCode = keyof typeof statusByCode;

export function httpStatusOf(code: S3ErrorCode): number {
  return statusByCode[code];
}

export class S3Error extends Error {
  override name = "S3Error";
  readonly code: S3ErrorCode;
  /** Extra elements for the XML error body (e.g. ArgumentName), in order. */
  readonly details: Record<string, string>;
  /** Headers the error response carries besides the usual ones (a 416's Content-Range). */
  readonly headers: Record<string, string>;

  constructor(code: S3ErrorCode, message: string, details: Record<string, string> = {}, headers: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  get httpStatus(): number {
    return httpStatusOf(this.code);
  }
}

export function isS3Error(e: unknown): e is S3Error {
  return e instanceof S3Error;
}

/** S3's answer to a client too slow with its request (SDKs retry it). */
export function requestTimedOut(): S3Error {
  return new S3Error("RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.");
}

/** A read of an object sealed with a client's key (SSE-C) that does not give it. */
export function customerKeyRequired(): S3Error {
  return new S3Error("InvalidRequest", "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.");
}

/** S3's answer for a version id that names no version of the key. */
export function noSuchVersion(key: string, versionId: string): S3Error {
  return new S3Error("NoSuchVersion", "The specified version does not exist.", { Key: key, VersionId: versionId });
}
