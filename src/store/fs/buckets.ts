/**
 * The fs backend's buckets and their configuration documents. Every bucket is read on every
 * request, so the set is kept in memory (with the settings a write must know at once: versioning
 * and Object Lock) and changed only inside commits, in step with the rows.
 */
import type { Database } from "bun:sqlite";
import { S3Error } from "../../errors.ts";
import { assert } from "../../util/assert.ts";
import type { BucketInfo, DefaultRetention, VersioningStatus } from "../backend.ts";
import type { Committer } from "./committer.ts";

/** The bucket_configs entries of the settings kept in BucketInfo: versioning's status, and Object Lock's (JSON). */
const versioningConfig = "versioning";
const objectLockConfig = "object-lock";

export class Buckets {
  private readonly known = new Map<string, BucketInfo>();

  constructor(
    private readonly db: Database,
    private readonly committer: Committer,
  ) {
    this.load();
  }

  get size(): number {
    return this.known.size;
  }

  /** The bucket, or NoSuchBucket. */
  require(name: string): BucketInfo {
    const bucket = this.known.get(name);
    if (!bucket) throw new S3Error("NoSuchBucket", "The specified bucket does not exist", { BucketName: name });
    return bucket;
  }

  list(): BucketInfo[] {
    return [...this.known.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async create(name: string, nowMs: number, objectLock: boolean): Promise<void> {
    await this.change(() => {
      if (this.known.has(name)) {
        throw new S3Error("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", { BucketName: name });
      }
      this.db.query("INSERT INTO buckets (name, created_ms) VALUES (?, ?)").run(name, nowMs);
      this.known.set(name, { name, createdMs: nowMs });
      if (objectLock) {
        this.setSetting(name, versioningConfig, "Enabled");
        this.setSetting(name, objectLockConfig, JSON.stringify({}));
      }
    });
  }

  /** Inside a commit: forgets a bucket and its configurations (the caller has emptied it). */
  forget(name: string): void {
    this.db.query("DELETE FROM buckets WHERE name = ?").run(name);
    this.db.query("DELETE FROM bucket_configs WHERE bucket = ?").run(name);
    this.known.delete(name);
  }

  async setVersioning(bucket: string, status: VersioningStatus): Promise<void> {
    await this.change(() => {
      if (this.require(bucket).objectLock !== undefined && status !== "Enabled") {
        throw new S3Error("InvalidBucketState", "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.");
      }
      this.setSetting(bucket, versioningConfig, status);
    });
  }

  async setObjectLock(bucket: string, defaultRetention: DefaultRetention | undefined): Promise<void> {
    await this.change(() => {
      if (this.require(bucket).versioning !== "Enabled") {
        throw new S3Error("InvalidBucketState", "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration");
      }
      this.setSetting(bucket, objectLockConfig, JSON.stringify(defaultRetention === undefined ? {} : { defaultRetention }));
    });
  }

  getConfig(bucket: string, name: string): string | undefined {
    this.require(bucket);
    return this.db.query<{ value: string }, [string, string]>("SELECT value FROM bucket_configs WHERE bucket = ? AND name = ?").get(bucket, name)?.value;
  }

  async setConfig(bucket: string, name: string, value: string | undefined): Promise<void> {
    assert(name !== versioningConfig && name !== objectLockConfig, "settings kept in BucketInfo are set through their own calls, which keep the bucket map in step");
    await this.committer.commit(() => {
      this.require(bucket);
      if (value === undefined) this.db.query("DELETE FROM bucket_configs WHERE bucket = ? AND name = ?").run(bucket, name);
      else this.db.query("INSERT OR REPLACE INTO bucket_configs (bucket, name, value) VALUES (?, ?, ?)").run(bucket, name, value);
    });
  }

  /**
   * Commits a change to the bucket set. The map changes inside the commit, in step with the rows;
   * a transaction that then fails to commit (an I/O error) reloads it.
   */
  async change(change: () => void, freesSpace = false): Promise<void> {
    try {
      await this.committer.commit(change, freesSpace);
    } catch (error) {
      if (!(error instanceof S3Error)) this.load();
      throw error;
    }
  }

  /** Reads the set from the rows again (at start, and after a transaction rolled back). */
  load(): void {
    this.known.clear();
    const rows = this.db
      .query<{ name: string; created_ms: number; versioning: VersioningStatus | null; lock: string | null }, []>(
        `SELECT buckets.name AS name, created_ms, v.value AS versioning, l.value AS lock FROM buckets
         LEFT JOIN bucket_configs v ON v.bucket = buckets.name AND v.name = '${versioningConfig}'
         LEFT JOIN bucket_configs l ON l.bucket = buckets.name AND l.name = '${objectLockConfig}'`,
      )
      .all();
    for (const row of rows) {
      const info: BucketInfo = { name: row.name, createdMs: row.created_ms };
      if (row.versioning !== null) info.versioning = row.versioning;
      if (row.lock !== null) info.objectLock = JSON.parse(row.lock);
      this.known.set(row.name, info);
    }
  }

  /** Inside a commit: stores one of the settings kept in BucketInfo, and updates that. */
  private setSetting(bucket: string, name: typeof versioningConfig | typeof objectLockConfig, value: string): void {
    this.db.query("INSERT OR REPLACE INTO bucket_configs (bucket, name, value) VALUES (?, ?, ?)").run(bucket, name, value);
    const info = this.require(bucket);
    if (name === versioningConfig) this.known.set(bucket, { ...info, versioning: value as VersioningStatus });
    else this.known.set(bucket, { ...info, objectLock: JSON.parse(value) });
  }
}
