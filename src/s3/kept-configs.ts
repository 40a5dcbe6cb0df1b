/** Bucket configurations read from the metadata once and kept in memory, parsed, until a change forgets them. */
import { S3Error } from "../errors.ts";
import type { Backend } from "../store/backend.ts";

export class KeptConfigs<T> {
  private readonly kept = new Map<string, T | null>();
  /** bumped by every change: a document read before a change is not kept after it */
  private generation = 0;

  constructor(
    private readonly backend: Backend,
    /** the name the document is kept under among the bucket's configurations */
    private readonly name: string,
    private readonly parse: (document: string, bucket: string) => T,
  ) {}

  /** The bucket's configuration; undefined when it has none, or when there is no such bucket. */
  async of(bucket: string): Promise<T | undefined> {
    const kept = this.kept.get(bucket);
    if (kept !== undefined) return kept ?? undefined;
    const generation = this.generation;
    let document: string | undefined;
    try {
      document = await this.backend.getBucketConfig(bucket, this.name);
    } catch (error) {
      // (no such bucket: nothing kept, so names that are no bucket cannot fill the map)
      if (error instanceof S3Error && error.code === "NoSuchBucket") return undefined;
      throw error;
    }
    const config = document === undefined ? undefined : this.parse(document, bucket);
    if (generation === this.generation) this.kept.set(bucket, config ?? null);
    return config;
  }

  /** Whether the bucket is known to have none (then a request need not wait to look). */
  knownWithout(bucket: string): boolean {
    return this.kept.get(bucket) === null;
  }

  /**
   * Stores the bucket's document (undefined: removes it), then forgets the kept one: the way a
   * handler changes a kept configuration, so that no change can leave a stale copy behind.
   */
  async store(bucket: string, document: string | undefined): Promise<void> {
    await this.backend.setBucketConfig(bucket, this.name, document);
    this.forget(bucket);
  }

  /** After a bucket's configuration changed, or the bucket came or went. */
  forget(bucket: string): void {
    this.generation++;
    this.kept.delete(bucket);
  }
}
