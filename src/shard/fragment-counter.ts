/**
 * The fragment counter half of the GCM nonce. Monotonic and persisted in blocks: before any
 * counter of a new block is used, the block's upper bound is made durable. After a crash the
 * store restarts from the persisted bound, skipping the unused rest of the block: never back.
 * Pure: persistence is a callback (the sqlite index in production, an array in tests).
 */
import { assert } from "../util/assert.ts";
import { fragmentCounterMax } from "./fragment-layout.ts";

/** Counters reserved per durable write of the bound: one sqlite commit per 64 Ki fragments (512 MiB). */
export const counterBlockFragments = 65_536;

export class FragmentCounter {
  private next: number;
  private high: number;

  /**
   * @param persistedHigh the bound last made durable (0 for a new store)
   * @param persistHigh makes a new bound durable; must not return before it is
   */
  constructor(
    persistedHigh: number,
    private readonly persistHigh: (high: number) => void,
    private readonly blockFragments = counterBlockFragments,
  ) {
    assert(Number.isInteger(persistedHigh) && persistedHigh >= 0, "fragment counter: bad persisted bound");
    this.next = persistedHigh;
    this.high = persistedHigh;
  }

  /** Reserves `count` consecutive counters and returns the first. */
  reserve(count: number): number {
    assert(Number.isInteger(count) && count >= 1, "fragment counter: reserve needs a positive count");
    const first = this.next;
    const end = first + count;
    if (end > fragmentCounterMax) {
      throw new Error("shard store: fragment counter exhausted (2^48 fragments); rotate the store id/key");
    }
    if (end > this.high) {
      const high = Math.min(fragmentCounterMax, end + this.blockFragments);
      this.persistHigh(high);
      this.high = high;
    }
    this.next = end;
    return first;
  }

  get nextCounter(): number {
    return this.next;
  }
}
