import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { type Hasher, HashPool, inFlightBytesMax, localHasher, spareBatchesMax } from "../../src/util/hash-worker.ts";
import { mulberry32 } from "../sigv4/prng.ts";

test("the worker's MD5 and SHA-256 equal node:crypto's for bodies of any size and chunking", async () => {
  const pool = new HashPool();
  const rand = mulberry32(21);
  for (const size of [0, 1, 4095, 1024 * 1024, 1024 * 1024 + 17, 3 * 1024 * 1024 + 5]) {
    const body = new Uint8Array(size).map(() => (rand() * 256) | 0);
    const job = pool.begin(["md5", "sha256"]);
    for (let offset = 0; offset < size; ) {
      const n = 1 + Math.floor(rand() * 200_000);
      const wait = job.update(body.subarray(offset, offset + n));
      if (wait) await wait;
      offset += n;
    }
    const [md5, sha256] = await job.digests();
    expect(md5.toString("hex")).toBe(createHash("md5").update(body).digest("hex"));
    expect(sha256.toString("hex")).toBe(createHash("sha256").update(body).digest("hex"));
    // the chunks handed to the worker were copies: the caller's buffer is intact
    expect(body.length).toBe(size);
  }
});

test("a producer that outruns the worker is asked to wait; an aborted job is dropped", async () => {
  const pool = new HashPool();
  const job = pool.begin(["md5"]);
  const chunk = new Uint8Array(1024 * 1024);
  let waited = false;
  for (let i = 0; i < 2 * (inFlightBytesMax / chunk.length); i++) {
    const wait = job.update(chunk);
    if (wait) {
      waited = true;
      await wait;
    }
  }
  expect(waited).toBe(true);
  const [md5] = await job.digests();
  expect(md5.length).toBe(16);
  const dropped = pool.begin(["sha256"]);
  dropped.update(chunk);
  dropped.abort();
  const after = pool.begin(["md5"]);
  after.update(new Uint8Array([1, 2, 3]));
  expect((await after.digests())[0].toString("hex")).toBe(createHash("md5").update(new Uint8Array([1, 2, 3])).digest("hex"));
});

test("concurrent jobs spread over the pool's threads; a job that ends frees its thread", async () => {
  const pool = new HashPool(2);
  const a = pool.begin(["md5"]);
  const b = pool.begin(["md5"]);
  expect(pool.threads).toBe(2);
  const c = pool.begin(["md5"]); // at the limit: shares a thread
  expect(pool.threads).toBe(2);
  for (const [job, byte] of [[a, 1], [b, 2], [c, 3]] as const) job.update(new Uint8Array(1024 * 1024 + 1).fill(byte));
  const digests = await Promise.all([a, b, c].map((job) => job.digests()));
  digests.forEach(([md5], i) => {
    expect(md5.toString("hex")).toBe(createHash("md5").update(new Uint8Array(1024 * 1024 + 1).fill(i + 1)).digest("hex"));
  });
  await pool.begin(["md5"]).digests(); // all idle again: no new thread
  expect(pool.threads).toBe(2);
});

test("a body's MD5 and SHA-256 run on two threads when the pool has two, on one when it has one", async () => {
  const rand = mulberry32(5);
  const body = randomBody(5 * 1024 * 1024 + 11, rand);
  for (const threads of [2, 1]) {
    const pool = new HashPool(threads);
    const job = pool.begin(["md5", "sha256"]);
    expect(pool.threads).toBe(threads);
    await feedTogether([job], [body], rand);
    const [md5, sha256] = await job.digests();
    expect(md5.toString("hex")).toBe(createHash("md5").update(body).digest("hex"));
    expect(sha256.toString("hex")).toBe(createHash("sha256").update(body).digest("hex"));
    // a SHA-256-only body goes to the least loaded thread: no new one
    const alone = pool.begin(["sha256"]);
    alone.update(body.subarray(0, 1000));
    expect((await alone.digests())[0].toString("hex")).toBe(createHash("sha256").update(body.subarray(0, 1000)).digest("hex"));
    expect(pool.threads).toBe(threads);
  }
});

test("small bodies hash on the calling thread with the same results", async () => {
  const h = localHasher(["md5", "sha256"]);
  expect(h.update(new Uint8Array([9]))).toBeUndefined();
  const [md5, sha] = await h.digests();
  expect(md5.toString("hex")).toBe(createHash("md5").update(new Uint8Array([9])).digest("hex"));
  expect(sha.toString("hex")).toBe(createHash("sha256").update(new Uint8Array([9])).digest("hex"));
});

/** Feeds `bodies` to `jobs` round-robin in chunks of random size, honouring each job's waits. */
async function feedTogether(jobs: Hasher[], bodies: Uint8Array[], rand: () => number): Promise<void> {
  const offsets = bodies.map(() => 0);
  const waits: (Promise<void> | undefined)[] = jobs.map(() => undefined);
  while (offsets.some((o, i) => o < bodies[i].length)) {
    for (let i = 0; i < jobs.length; i++) {
      if (offsets[i] >= bodies[i].length) continue;
      if (waits[i]) {
        await waits[i];
        waits[i] = undefined;
      }
      const n = 1 + Math.floor(rand() * 300_000);
      waits[i] = jobs[i].update(bodies[i].subarray(offsets[i], offsets[i] + n));
      offsets[i] += n;
    }
  }
  await Promise.all(waits);
}

const randomBody = (size: number, rand: () => number) => new Uint8Array(size).map(() => (rand() * 256) | 0);

test("concurrent jobs of unequal lengths share MD5 lanes on one worker and digest as node:crypto does", async () => {
  const pool = new HashPool(1, 1);
  const rand = mulberry32(64);
  const sizes = [0, 5, 1024 * 1024, 3 * 1024 * 1024 + 17, 9 * 1024 * 1024 + 63, 2 * 1024 * 1024 - 1, 4 * 1024 * 1024, 6 * 1024 * 1024 + 1, 65, 7 * 1024 * 1024 + 30];
  const bodies = sizes.map((n) => randomBody(n, rand));
  const jobs = bodies.map(() => pool.begin(["md5", "sha256"]));
  await feedTogether(jobs, bodies, rand);
  const digests = await Promise.all(jobs.map((j) => j.digests()));
  digests.forEach(([md5, sha256], i) => {
    expect(md5.toString("hex")).toBe(createHash("md5").update(bodies[i]).digest("hex"));
    expect(sha256.toString("hex")).toBe(createHash("sha256").update(bodies[i]).digest("hex"));
  });
  expect(pool.threads).toBe(1);
  const stats = (await pool.stats()).lanes;
  // all ten in lanes (two groups: eight lanes, then two); most blocks ran several at once
  expect(stats.x4 + stats.x8).toBeGreaterThan(stats.x1);
});

test("the first jobs on a worker hash MD5 natively: with one or two busy jobs lanes would be slower", async () => {
  const pool = new HashPool(1);
  const a = pool.begin(["md5"]);
  const b = pool.begin(["md5"]);
  a.update(new Uint8Array(2 * 1024 * 1024));
  b.update(new Uint8Array(2 * 1024 * 1024));
  await Promise.all([a.digests(), b.digests()]);
  expect((await pool.stats()).lanes).toEqual({ x1: 0, x4: 0, x8: 0 });
});

test("a lanes job with data while the others have none finishes without waiting for them", async () => {
  const pool = new HashPool(1, 1);
  const idle = [pool.begin(["md5"]), pool.begin(["md5"])];
  const busy = pool.begin(["md5", "sha256"]);
  const body = randomBody(3 * 1024 * 1024 + 3, mulberry32(7));
  await busy.update(body);
  const [md5] = await busy.digests();
  expect(md5.toString("hex")).toBe(createHash("md5").update(body).digest("hex"));
  expect((await pool.stats()).lanes.x1).toBe(Math.floor(body.length / 64));
  for (const j of idle) j.abort();
});

test("lanes wait for one another: a held lane never keeps its producer waiting, and an ended job is not held", async () => {
  const pool = new HashPool(1, 1);
  // Two open lanes that never get data: the busy one is held until it has laneHoldBytes queued.
  const idle = [pool.begin(["md5"]), pool.begin(["md5"])];
  const busy = pool.begin(["md5", "sha256"]);
  const chunk = randomBody(1024 * 1024, mulberry32(5));
  const chunks = 3 * (inFlightBytesMax / chunk.length);
  let waited = 0;
  for (let i = 0; i < chunks; i++) {
    const wait = busy.update(chunk);
    if (wait) {
      waited++;
      await wait; // resumes although the idle lanes never fill
    }
  }
  expect(waited).toBeGreaterThan(0);
  const [md5] = await busy.digests();
  const want = createHash("md5");
  for (let i = 0; i < chunks; i++) want.update(chunk);
  expect(md5.toString("hex")).toBe(want.digest("hex"));
  // Eight lanes fed in turn run together: (almost) every block goes through the eight-lane kernel.
  for (const j of idle) j.abort();
  const before = (await pool.stats()).lanes;
  const eight = Array.from({ length: 8 }, () => pool.begin(["md5"]));
  const piece = randomBody(256 * 1024, mulberry32(6));
  for (let round = 0; round < 8; round++) {
    for (const j of eight) {
      const wait = j.update(piece);
      if (wait) await wait;
      await new Promise((resolve) => setTimeout(resolve, 1)); // the worker takes each batch as it comes
    }
  }
  const digests = await Promise.all(eight.map((j) => j.digests()));
  const wantEight = createHash("md5");
  for (let round = 0; round < 8; round++) wantEight.update(piece);
  for (const [d] of digests) expect(d.toString("hex")).toBe(wantEight.copy().digest("hex"));
  const after = (await pool.stats()).lanes;
  const x8 = after.x8 - before.x8;
  const all = x8 + (after.x4 - before.x4) + (after.x1 - before.x1);
  expect(all).toBe((8 * 8 * piece.length) / 64);
  expect(x8 / all).toBeGreaterThan(0.9);
});

test("a lanes job aborted mid-stream leaves the others' digests intact and frees its lane", async () => {
  const pool = new HashPool(1, 1);
  const rand = mulberry32(99);
  const bodies = [randomBody(5 * 1024 * 1024, rand), randomBody(4 * 1024 * 1024 + 9, rand)];
  const kept = bodies.map(() => pool.begin(["md5"]));
  const dropped = Array.from({ length: 6 }, () => pool.begin(["md5"]));
  const junk = randomBody(3 * 1024 * 1024, rand);
  for (const j of dropped) j.update(junk);
  await feedTogether(kept.slice(0, 1), bodies.slice(0, 1), rand);
  for (const j of dropped) j.abort();
  await feedTogether(kept.slice(1), bodies.slice(1), rand);
  const digests = await Promise.all(kept.map((j) => j.digests()));
  digests.forEach(([md5], i) => expect(md5.toString("hex")).toBe(createHash("md5").update(bodies[i]).digest("hex")));
  // the six lanes are free again: eight new jobs fit in the first group, all correct
  const more = Array.from({ length: 8 }, () => pool.begin(["md5"]));
  const small = randomBody(100_000, rand);
  for (const j of more) j.update(small);
  for (const [md5] of await Promise.all(more.map((j) => j.digests()))) expect(md5.toString("hex")).toBe(createHash("md5").update(small).digest("hex"));
});

test("a lanes producer that outruns the worker is asked to wait", async () => {
  const pool = new HashPool(1, 1);
  const job = pool.begin(["md5"]);
  const chunk = new Uint8Array(1024 * 1024).fill(7);
  let waited = 0;
  for (let i = 0; i < 3 * (inFlightBytesMax / chunk.length); i++) {
    const wait = job.update(chunk);
    if (wait) {
      waited++;
      await wait;
    }
  }
  expect(waited).toBeGreaterThan(0);
  const [md5] = await job.digests();
  const want = createHash("md5");
  for (let i = 0; i < 3 * (inFlightBytesMax / chunk.length); i++) want.update(chunk);
  expect(md5.toString("hex")).toBe(want.digest("hex"));
});

test("lanes jobs gather on one thread while the first two bodies spread over two", async () => {
  const pool = new HashPool(2);
  const rand = mulberry32(8);
  const bodies = Array.from({ length: 8 }, (_, i) => randomBody(2 * 1024 * 1024 + i * 4099, rand));
  const jobs = bodies.map(() => pool.begin(["md5", "sha256"]));
  expect(pool.threads).toBe(2);
  await feedTogether(jobs, bodies, rand);
  const digests = await Promise.all(jobs.map((j) => j.digests()));
  digests.forEach(([md5, sha256], i) => {
    expect(md5.toString("hex")).toBe(createHash("md5").update(bodies[i]).digest("hex"));
    expect(sha256.toString("hex")).toBe(createHash("sha256").update(bodies[i]).digest("hex"));
  });
  // md5x8 runs only when five or more lanes of one thread have data: the six lanes jobs were not split 3 + 3
  const stats = (await pool.stats()).lanes;
  expect(stats.x8).toBeGreaterThan(0);
  expect(stats.x1 + stats.x4 + stats.x8).toBe(bodies.slice(2).reduce((n, b) => n + Math.floor(b.length / 64), 0));
});

test("threads let go of the batch buffers the pool drops: more in flight than are kept spare, and aborted bodies", async () => {
  const pool = new HashPool(2);
  const body = randomBody(1024 * 1024 + 1, mulberry32(7)); // five batches: four of 256 KiB, then one byte
  const expected = createHash("md5").update(body).digest("hex");
  // 60 bodies at once hold 300 buffers, more than are kept spare; 4 more are dropped halfway
  const jobs = Array.from({ length: 60 }, () => pool.begin(["md5", "sha256"]));
  const dropped = Array.from({ length: 4 }, () => pool.begin(["md5", "sha256"]));
  for (const job of dropped) job.update(body.subarray(0, 600 * 1024));
  for (const job of jobs) job.update(body);
  for (const job of dropped) job.abort();
  const digests = await Promise.all(jobs.map((job) => job.digests()));
  for (const [md5] of digests) expect(md5.toString("hex")).toBe(expected);
  // each thread holds at most the spare buffers, each once; holding on, both would hold all 308
  const { heldBuffers } = await pool.stats();
  expect(pool.threads).toBe(2);
  expect(heldBuffers).toBeLessThanOrEqual(2 * spareBatchesMax);
  expect(heldBuffers).toBeGreaterThan(0);
});
