/** The S3 error code a pure function refuses its input with; undefined when it takes it (any other failure is its message). */
import { S3Error } from "../../src/errors.ts";

export function refusalCode(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof S3Error ? error.code : String(error);
  }
}
