/**
 * Child process of the crash test: writes, deletes (two in three) and compacts as fast as it
 * can with 4 concurrent writers, printing "put N" / "del N" only after each is acknowledged (durable), and "deleting N" before
 * a delete starts (it may or may not have committed when the kill lands).
 * The parent kills it with SIGKILL at an arbitrary moment. With "compact-heavy", every put is
 * followed by a compaction pass over any segment not 95% live, so most kills land mid-compaction.
 *   bun test/shard/crash-child.ts DIR START [compact-heavy]
 */
import { writeSync } from "node:fs";
import { ShardStore } from "../../src/shard/store.ts";
import { patterned } from "./data.ts";

export const crashSizes = [0, 100, 8192, 20_000, 300_000, 1_200_000];
export const crashKey = new Uint8Array(32).fill(42);
export const crashSegmentBytesMax = 8 * 1024 * 1024;

if (import.meta.main) {
  const [dir, startArg, mode] = process.argv.slice(2);
  const heavy = mode === "compact-heavy";
  const store = new ShardStore({ dir, masterKey: crashKey, segmentBytesMax: crashSegmentBytesMax });
  let next = Number(startArg);
  const say = (line: string) => writeSync(1, `${line}\n`);
  say("ready");
  const writer = async () => {
    for (;;) {
      const i = next++;
      const size = crashSizes[i % crashSizes.length];
      await store.put(`obj-${i}`, i % 6, size, patterned(i, size));
      say(`put ${i}`);
      if (heavy) await store.compact(0.95);
      else if (i % 25 === 0) await store.compact();
      if (i % 3 !== 0 && i >= 10) {
        say(`deleting ${i - 10}`);
        await store.delete(`obj-${i - 10}`, (i - 10) % 6);
        say(`del ${i - 10}`);
      }
    }
  };
  await Promise.all([writer(), writer(), writer(), writer()]);
}
