/** Object Lock's rule for every backend: which versions may be removed for good. Pure. */
import { S3Error } from "../errors.ts";
import type { ObjectLock } from "./backend.ts";

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
