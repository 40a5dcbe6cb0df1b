/**
 * Acts on buckets' lifecycle rules (lifecycle.ts): every `intervalMs` it walks the buckets that
 * have rules, deletes the objects whose expiry has passed and aborts the multipart uploads whose
 * time is up. As in S3, this happens after the time, not at it: an expired object is served until
 * the next scan removes it. The rules are read again for every page of a listing, and each
 * deletion is decided again inside its commit against the object as it is then (same ETag and
 * Last-Modified, still expired by the page's rules): a scan never removes an object written or
 * retagged after it looked.
 */
import { assert } from "../util/assert.ts";
import { S3Error, type S3ErrorCode } from "../errors.ts";
import type { Logger } from "../log.ts";
import { Counter, Gauge, type MetricFamily } from "../util/metrics.ts";
import { removable } from "../store/locks.ts";
import { listKeysMax, type Backend, type ListedObject, type ListedVersion, type ObjectMeta, type VersionState } from "../store/backend.ts";
import { expiryOf, hasActions, lifecycleConfigName, parseStoredLifecycle, prefixesToScan, uploadAbortOf, versionExpiryOf, type LifecycleRule, type VersionSubject } from "./lifecycle.ts";

export interface LifecycleScanResult {
  expired: number;
  /** versions removed for good: noncurrent ones, and expired object delete markers */
  removedVersions: number;
  aborted: number;
}

/** The refusal of a deletion whose object changed, or stopped expiring, since the scan looked. */
const staleCandidate = () => new S3Error("PreconditionFailed", "the object no longer expires by the bucket's lifecycle rules");

/** Whether `error` is one of these S3 refusals: what a scan meets when clients change things under it. */
const refused = (error: unknown, ...codes: S3ErrorCode[]) => error instanceof S3Error && codes.includes(error.code);

const describe = (error: unknown) => (error instanceof Error ? (error.stack ?? error.message) : String(error));

/**
 * Objects decided in one turn of the event loop. The fs backend reads its metadata synchronously,
 * so a scan that never waited would hold the server: a page of 1,000 objects under a tag rule (a
 * read of each) took 20 ms, and a bucket of 300,000 objects held every request for 6 s.
 */
const objectsPerTurn = 100;

/** Lets the requests waiting on the event loop be served before the scan goes on. */
const yieldToServing = () => new Promise<void>((resolve) => setImmediate(resolve));

export class LifecycleRunner {
  private timer: Timer | undefined;
  private running: Promise<unknown> | undefined;
  /** the last configuration read and its rules: read again for every page, parsed again only when changed */
  private parsed: { document: string; rules: LifecycleRule[] } | undefined;
  private started = false;
  private stopped = false;
  private readonly expired = new Counter("s3d_lifecycle_expired_objects_total", "Objects deleted because their bucket's lifecycle rules expired them.");
  private readonly removedVersions = new Counter("s3d_lifecycle_removed_versions_total", "Versions removed for good by their bucket's lifecycle rules: noncurrent ones, and expired object delete markers.");
  private readonly aborted = new Counter("s3d_lifecycle_aborted_uploads_total", "Multipart uploads aborted by their bucket's lifecycle rules.");
  private readonly failures = new Counter("s3d_lifecycle_failures_total", "Buckets whose lifecycle rules a pass could not apply (the log says why).");
  private lastPassEndedMs = 0;
  /** what /_s3d/metrics shows of the scans */
  readonly metrics: MetricFamily[] = [
    this.expired,
    this.removedVersions,
    this.aborted,
    this.failures,
    new Gauge("s3d_lifecycle_last_pass_timestamp_seconds", "When the last whole pass over the buckets' lifecycle rules ended, in seconds since the Unix epoch (0 before the first).", () => this.lastPassEndedMs / 1000),
  ];

  constructor(
    private readonly backend: Backend,
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Scans now, then `intervalMs` after each scan ends, until stopped. A runner starts once. */
  start(): void {
    assert(!this.started, "a lifecycle runner starts once");
    this.started = true;
    const scan = () => {
      this.running = this.scan()
        .catch((error: unknown) => this.logger.error("lifecycle scan failed", { error: describe(error) }))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(scan, this.intervalMs);
        });
    };
    scan();
  }

  /** Stops scanning for good; resolves once a scan in progress has stopped (at the end of its page). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over every bucket with rules. A bucket that fails is logged and the pass goes on to the next. */
  async scan(): Promise<LifecycleScanResult> {
    const total: LifecycleScanResult = { expired: 0, removedVersions: 0, aborted: 0 };
    for (const { name } of await this.backend.listBuckets()) {
      await yieldToServing();
      if (this.stopped) break;
      const result = { expired: 0, removedVersions: 0, aborted: 0 };
      try {
        result.expired = await this.expireObjects(name);
        this.expired.inc([], result.expired);
        result.removedVersions = await this.removeVersions(name);
        this.removedVersions.inc([], result.removedVersions);
        result.aborted = await this.abortUploads(name);
        this.aborted.inc([], result.aborted);
      } catch (error) {
        this.failures.inc();
        this.logger.error("lifecycle rules could not be applied", { bucket: name, error: describe(error) });
      }
      if (result.expired + result.removedVersions + result.aborted > 0) this.logger.info("lifecycle rules applied", { bucket: name, ...result });
      total.expired += result.expired;
      total.removedVersions += result.removedVersions;
      total.aborted += result.aborted;
    }
    if (!this.stopped) this.lastPassEndedMs = this.nowMs();
    return total;
  }

  /** The bucket's rules as they are now; undefined when it has none that act (or is gone). */
  private async rulesOf(bucket: string): Promise<LifecycleRule[] | undefined> {
    const document = await this.backend.getBucketConfig(bucket, lifecycleConfigName).catch(gone);
    if (document === undefined) return undefined;
    if (this.parsed?.document !== document) this.parsed = { document, rules: parseStoredLifecycle(document).rules };
    return hasActions(this.parsed.rules) ? this.parsed.rules : undefined;
  }

  /** The prefixes to list for the bucket's rules (none when it has no rules that act). */
  private async prefixesOf(bucket: string, of: Parameters<typeof prefixesToScan>[1]): Promise<string[]> {
    const rules = await this.rulesOf(bucket);
    return rules ? prefixesToScan(rules, of) : [];
  }

  private async expireObjects(bucket: string): Promise<number> {
    let expired = 0;
    for (const prefix of await this.prefixesOf(bucket, "objects")) expired += await this.expireUnder(bucket, prefix);
    return expired;
  }

  /** Deletes the expired objects under `prefix`: how many. */
  private async expireUnder(bucket: string, prefix: string): Promise<number> {
    let expired = 0;
    let after = "";
    for (;;) {
      const rules = await this.rulesOf(bucket);
      if (rules === undefined || this.stopped) return expired;
      const page = await this.backend.listObjects(bucket, { prefix, delimiter: "", after, maxKeys: listKeysMax }).catch(gone);
      if (page === undefined) return expired;
      await yieldToServing();
      const nowMs = this.nowMs();
      for (let i = 0; i < page.objects.length; i += objectsPerTurn) {
        // (deletions in flight together share commits and syncs)
        const deletions = await Promise.all(page.objects.slice(i, i + objectsPerTurn).map((listed) => this.expireOne(bucket, rules, listed, nowMs)));
        expired += deletions.filter(Boolean).length;
        await yieldToServing();
      }
      if (!page.isTruncated || page.lastEntry === undefined) return expired;
      after = page.lastEntry;
    }
  }

  /** Deletes one listed object if the rules expire it by now; whether it did. Never throws: a failure is logged. */
  private async expireOne(bucket: string, rules: LifecycleRule[], listed: ListedObject, nowMs: number): Promise<boolean> {
    const expiresBy = (meta: ListedObject & { tags?: Record<string, string> }) => {
      const expiry = expiryOf(rules, meta);
      return expiry !== undefined && expiry !== "unknown" && expiry.atMs <= nowMs;
    };
    const unchanged = (current: ObjectMeta | undefined) => {
      if (current === undefined || current.etag !== listed.etag || current.lastModifiedMs !== listed.lastModifiedMs || !expiresBy(current)) throw staleCandidate();
    };
    try {
      const byListing = expiryOf(rules, listed);
      if (byListing === undefined || (byListing !== "unknown" && byListing.atMs > nowMs)) return false;
      // Rules with tags need the object's tags, which a listing does not carry.
      if (byListing === "unknown" && !expiresBy(await this.tagsOf(bucket, listed))) return false;
      await this.backend.deleteObject(bucket, listed.key, nowMs, { precondition: unchanged });
      return true;
    } catch (error) {
      if (!refused(error, "PreconditionFailed", "NoSuchBucket")) this.logger.warn("an expired object could not be deleted", { bucket, key: listed.key, error: describe(error) });
      return false;
    }
  }

  /** In a versioned bucket, removes for good the versions the rules end: how many. */
  private async removeVersions(bucket: string): Promise<number> {
    const info = await this.backend.headBucket(bucket).catch(gone);
    if (info?.versioning === undefined) return 0;
    let removed = 0;
    for (const prefix of await this.prefixesOf(bucket, "versions")) removed += await this.removeVersionsUnder(bucket, prefix);
    return removed;
  }

  /** Walks the versions under `prefix`, each key's newest first, and removes those whose time is up. */
  private async removeVersionsUnder(bucket: string, prefix: string): Promise<number> {
    let removed = 0;
    let keyMarker = "";
    let versionIdMarker = "";
    // a key's versions can run across pages: what is known of the key being walked
    let key: string | undefined;
    let newerNoncurrent = 0;
    /** the key's latest version, a delete marker: expired once no other version of the key follows it */
    let latestMarker: ListedVersion | undefined;
    /** a page's last version, due: the next page resumes after it, so it is removed once that page is listed */
    let carried: Parameters<LifecycleRunner["removeVersion"]> | undefined;
    for (;;) {
      const rules = await this.rulesOf(bucket);
      if (rules === undefined || this.stopped) return removed;
      const page = await this.backend.listObjectVersions(bucket, { prefix, delimiter: "", keyMarker, versionIdMarker, maxKeys: listKeysMax }).catch(gone);
      if (carried !== undefined) removed += Number(await this.removeVersion(...carried));
      carried = undefined;
      if (page === undefined) return removed;
      await yieldToServing();
      const nowMs = this.nowMs();
      const due: Array<[ListedVersion, VersionSubject]> = [];
      const consider = (v: ListedVersion, lone: boolean) => {
        // (a delete marker has no tags; a version's are read only where they decide)
        const subject: VersionSubject = { ...v, tags: v.deleteMarker ? {} : undefined, newerNoncurrent, lone };
        const expiry = versionExpiryOf(rules, subject);
        // (a version Object Lock keeps waits for its lock to end without costing a commit a pass)
        if (expiry !== undefined && (expiry === "unknown" || expiry.atMs <= nowMs) && removable(v.lock, nowMs, false)) due.push([v, subject]);
      };
      for (const v of page.versions) {
        if (v.key !== key) {
          if (latestMarker !== undefined) consider(latestMarker, true);
          [key, newerNoncurrent, latestMarker] = [v.key, 0, undefined];
        } else latestMarker = undefined;
        if (v.isLatest) {
          if (v.deleteMarker) latestMarker = v;
          continue;
        }
        consider(v, false);
        newerNoncurrent += 1;
      }
      if (!page.isTruncated && latestMarker !== undefined) consider(latestMarker, true);
      if (page.isTruncated && due.length > 0 && due[due.length - 1][0] === page.versions.at(-1)) {
        const [last, subject] = due.pop()!;
        carried = [bucket, rules, last, subject, nowMs];
      }
      for (let i = 0; i < due.length; i += objectsPerTurn) {
        const removals = await Promise.all(due.slice(i, i + objectsPerTurn).map(([v, subject]) => this.removeVersion(bucket, rules, v, subject, nowMs)));
        removed += removals.filter(Boolean).length;
        await yieldToServing();
      }
      if (!page.isTruncated || page.nextKeyMarker === undefined) return removed;
      keyMarker = page.nextKeyMarker;
      versionIdMarker = page.nextVersionIdMarker ?? "";
    }
  }

  /** Removes one version if the rules end it by now (its tags read when they decide); whether it did. Never throws. */
  private async removeVersion(bucket: string, rules: LifecycleRule[], listed: ListedVersion, subject: VersionSubject, nowMs: number): Promise<boolean> {
    const versionId = listed.versionId ?? "null";
    const endsBy = (tags: Record<string, string> | undefined) => {
      const expiry = versionExpiryOf(rules, { ...subject, tags });
      return expiry !== undefined && expiry !== "unknown" && expiry.atMs <= nowMs;
    };
    try {
      if (!endsBy(subject.tags)) {
        if (listed.deleteMarker) return false;
        const reader = await this.backend.openObject(bucket, listed.key, versionId);
        reader.close();
        if (!endsBy(reader.meta.tags)) return false;
      }
      // Decided again inside the commit against the version as it stands then: it may have become
      // current (the one before it removed), lost newer versions, or had its tags changed.
      const precondition = (meta: ObjectMeta | undefined, state: () => VersionState) => {
        const expiry = versionExpiryOf(rules, { ...subject, ...state(), tags: meta?.tags ?? subject.tags });
        if (expiry === undefined || expiry === "unknown" || expiry.atMs > nowMs) throw staleCandidate();
      };
      await this.backend.deleteObject(bucket, listed.key, nowMs, { versionId, precondition });
      return true;
    } catch (error) {
      // (a version Object Lock keeps is AccessDenied: it stays until its lock ends, as in S3)
      if (!refused(error, "PreconditionFailed", "NoSuchBucket", "NoSuchVersion", "AccessDenied")) this.logger.warn("a version past its time could not be removed", { bucket, key: listed.key, versionId, error: describe(error) });
      return false;
    }
  }

  /** The listed object with its tags, when it is still the object listed. */
  private async tagsOf(bucket: string, listed: ListedObject): Promise<ListedObject & { tags?: Record<string, string> }> {
    try {
      const reader = await this.backend.openObject(bucket, listed.key);
      reader.close();
      return reader.meta.etag === listed.etag && reader.meta.lastModifiedMs === listed.lastModifiedMs ? reader.meta : listed;
    } catch (error) {
      if (refused(error, "NoSuchKey", "NoSuchBucket")) return listed;
      throw error;
    }
  }

  private async abortUploads(bucket: string): Promise<number> {
    let aborted = 0;
    for (const prefix of await this.prefixesOf(bucket, "uploads")) aborted += await this.abortUnder(bucket, prefix);
    return aborted;
  }

  /** Aborts the uploads under `prefix` whose time is up: how many. */
  private async abortUnder(bucket: string, prefix: string): Promise<number> {
    let aborted = 0;
    let keyMarker = "";
    let uploadIdMarker = "";
    for (;;) {
      const rules = await this.rulesOf(bucket);
      if (rules === undefined || this.stopped) return aborted;
      const page = await this.backend.listMultipartUploads(bucket, { prefix, delimiter: "", keyMarker, uploadIdMarker, maxUploads: listKeysMax }).catch(gone);
      if (page === undefined) return aborted;
      await yieldToServing();
      const nowMs = this.nowMs();
      const due = page.uploads.filter((u) => {
        const abort = uploadAbortOf(rules, u.key, u.initiatedMs);
        return abort !== undefined && abort.atMs <= nowMs;
      });
      const results = await Promise.all(
        due.map((u) =>
          this.backend.abortMultipartUpload(bucket, u.key, u.uploadId).then(
            () => true,
            (error: unknown) => {
              // (completed or aborted meanwhile)
              if (!refused(error, "NoSuchUpload", "NoSuchBucket")) this.logger.warn("an upload past its time could not be aborted", { bucket, key: u.key, error: describe(error) });
              return false;
            },
          ),
        ),
      );
      aborted += results.filter(Boolean).length;
      if (!page.isTruncated || page.nextKeyMarker === undefined) return aborted;
      keyMarker = page.nextKeyMarker;
      uploadIdMarker = page.nextUploadIdMarker ?? "";
    }
  }
}

/** A bucket deleted during the scan ends its part of the scan (undefined); other failures go on. */
function gone(error: unknown): undefined {
  if (refused(error, "NoSuchBucket")) return undefined;
  throw error;
}
