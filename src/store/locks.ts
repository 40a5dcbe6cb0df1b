/** Object Lock's rules for every backend: the lock a new version gets, and which versions may be removed for good. Pure. */
import { S3Error } from "../errors.ts";
import type { DefaultRetention, ObjectLock } from "./backend.ts";

const dayMs = 86_400_000;
/** A year of default retention: 365 days (S3 does not say how it counts one). */
const yearMs = 365 * dayMs;

/**
 * The lock a version made at `nowMs` gets: the one its write asked for, with the bucket's default
 * retention where it asked for no retention of its own. Decided inside the write's commit, so a
 * default set meanwhile is never missed.
 */
export function lockOfNewVersion(requested: ObjectLock | undefined, defaultRetention: DefaultRetention | undefined, nowMs: number): ObjectLock | undefined {
  if (defaultRetention === undefined || requested?.mode !== undefined) return requested;
  const periodMs = defaultRetention.days !== undefined ? defaultRetention.days * dayMs : defaultRetention.years! * yearMs;
  return { ...requested, mode: defaultRetention.mode, retainUntilMs: nowMs + periodMs };
}

/**
 * Refuses to remove a version that Object Lock keeps: one under a legal hold, or retained until a
 * time not yet come, in COMPLIANCE mode or in GOVERNANCE mode without a bypass. AccessDenied, as S3
 * answers (it binds the root user too).
 */
export function checkRemovable(lock: ObjectLock | undefined, nowMs: number, bypassGovernance: boolean): void {
  if (lock === undefined) return;
  const retained = lock.retainUntilMs !== undefined && lock.retainUntilMs > nowMs;
  if (lock.legalHold === true || (retained && (lock.mode === "COMPLIANCE" || !bypassGovernance))) {
    throw new S3Error("AccessDenied", "Access Denied because object protected by object lock.");
  }
}
