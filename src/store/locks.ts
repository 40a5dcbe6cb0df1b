/** Object Lock's rules for every backend: the lock a new version gets, and which versions may be removed for good. Pure. */
import { S3Error } from "../errors.ts";
import type { DefaultRetention, ObjectLock } from "./backend.ts";

const dayMs = 86_400_000;
/** A year of default retention: 365 days (S3 does not say how it counts one). */
const yearMs = 365 * dayMs;

/**
 * The lock a version made at `nowMs` in a bucket (`bucketLock`: its Object Lock, if it has one)
 * gets: the one its write asked for, with the bucket's default retention where it asked for no
 * retention of its own. Decided inside the write's commit, so that a default set meanwhile is not
 * missed, and a lock is never given in a bucket that lost its Object Lock meanwhile (deleted and
 * made again without): InvalidRequest, as S3 answers a lock asked of such a bucket.
 */
export function lockOfNewVersion(requested: ObjectLock | undefined, bucketLock: { defaultRetention?: DefaultRetention } | undefined, nowMs: number): ObjectLock | undefined {
  if (bucketLock === undefined) {
    if (requested !== undefined) throw new S3Error("InvalidRequest", "Bucket is missing ObjectLockConfiguration");
    return undefined;
  }
  const { defaultRetention } = bucketLock;
  if (defaultRetention === undefined || requested?.mode !== undefined) return requested;
  const periodMs = defaultRetention.days !== undefined ? defaultRetention.days * dayMs : defaultRetention.years! * yearMs;
  return { ...requested, mode: defaultRetention.mode, retainUntilMs: nowMs + periodMs };
}

/** A change of a version's Object Lock: its retention (a mode and a date, or neither: removed), or its legal hold. */
export type LockChange = { retention: Pick<ObjectLock, "mode" | "retainUntilMs"> } | { legalHold: boolean };

/**
 * The lock a version has after `change`, refused (AccessDenied) where the rules forbid it: while a
 * retention holds it may only be extended in its mode, unless a bypass lets a GOVERNANCE one be
 * shortened, removed or changed (a COMPLIANCE one binds everyone, root included, as in S3).
 * Applied inside the change's commit by every backend.
 */
export function changedLock(current: ObjectLock, change: LockChange, nowMs: number, bypassGovernance: boolean): ObjectLock {
  if ("legalHold" in change) return { ...current, legalHold: change.legalHold };
  const next = change.retention;
  const holds = current.mode !== undefined && current.retainUntilMs !== undefined && current.retainUntilMs > nowMs;
  const extended = next.mode === current.mode && next.retainUntilMs !== undefined && next.retainUntilMs >= (current.retainUntilMs ?? 0);
  if (holds && !extended && !(current.mode === "GOVERNANCE" && bypassGovernance)) {
    throw new S3Error("AccessDenied", "Access Denied because object protected by object lock.");
  }
  const { mode: _, retainUntilMs: __, ...rest } = current;
  return { ...rest, ...next };
}

/**
 * Refuses to remove a version that Object Lock keeps: one under a legal hold, or retained until a
 * time not yet come, in COMPLIANCE mode or in GOVERNANCE mode without a bypass. AccessDenied, as S3
 * answers (it binds the root user too).
 */
export function checkRemovable(lock: ObjectLock | undefined, nowMs: number, bypassGovernance: boolean): void {
  if (!removable(lock, nowMs, bypassGovernance)) throw new S3Error("AccessDenied", "Access Denied because object protected by object lock.");
}

/** Whether Object Lock lets a version go (see checkRemovable). */
export function removable(lock: ObjectLock | undefined, nowMs: number, bypassGovernance: boolean): boolean {
  if (lock === undefined) return true;
  const retained = lock.retainUntilMs !== undefined && lock.retainUntilMs > nowMs;
  return !(lock.legalHold === true || (retained && (lock.mode === "COMPLIANCE" || !bypassGovernance)));
}
