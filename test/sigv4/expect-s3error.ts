import { expect } from "bun:test";
import { isS3Error, type S3Error, type S3ErrorCode } from "../../src/errors.ts";

/** Runs fn, expects it to throw an S3Error with this code, and returns it for further checks. */
export function expectS3Error(fn: () => unknown, code: S3ErrorCode, context = ""): S3Error {
  try {
    fn();
  } catch (e) {
    if (!isS3Error(e)) throw e;
    expect(e.code, `${context} ${e.message}`).toBe(code);
    return e;
  }
  throw new Error(`expected S3Error ${code}, nothing thrown ${context}`);
}
