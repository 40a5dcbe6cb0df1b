/** An invariant guard that stays on in production: a failure is a bug in s3d, never bad input. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
