/**
 * Reconnect schedule, pure: exponential backoff with jitter, bounded in attempts and in delay.
 * Randomness comes in as a number in [0, 1).
 */
import { assert } from "../util/assert.ts";

/** Connection attempts per call at most (the first one included). */
export const connectAttemptsMax = 4;
export const backoffBaseMs = 20;
export const backoffMaxMs = 1_000;

/** Delay before attempt `attempt` (1 = the first retry); jitter in [50%, 100%] of the cap. */
export function backoffDelayMs(attempt: number, random01: number): number {
  assert(Number.isInteger(attempt) && attempt >= 1, "backoff: attempt counts from 1");
  assert(random01 >= 0 && random01 < 1, "backoff: random01 in [0, 1)");
  const capMs = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (attempt - 1));
  return Math.round(capMs * (0.5 + random01 / 2));
}

/**
 * Whether to try again after failed attempt `attempt` (1-based), given the time left before the
 * call's deadline: only if attempts remain and the wait leaves time for another try.
 */
export function nextRetry(attempt: number, random01: number, remainingMs: number): number | undefined {
  if (attempt >= connectAttemptsMax) return undefined;
  const delayMs = backoffDelayMs(attempt, random01);
  return delayMs < remainingMs ? delayMs : undefined;
}

/**
 * After failed connection attempt `attempt`: waits out the backoff before the next one, or throws
 * `error` when no attempt remains or the wait would pass `deadlineAt` (a performance.now() time).
 */
export async function waitToRetry(attempt: number, random: () => number, deadlineAt: number, error: unknown): Promise<void> {
  const waitMs = nextRetry(attempt, random(), deadlineAt - performance.now());
  if (waitMs === undefined) throw error;
  await new Promise((r) => setTimeout(r, waitMs));
}
