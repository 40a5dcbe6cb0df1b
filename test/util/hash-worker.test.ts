import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { HashPool, inFlightBytesMax, localHasher } from "../../src/util/hash-worker.ts";
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

test("small bodies hash on the calling thread with the same results", async () => {
  const h = localHasher(["md5", "sha256"]);
  expect(h.update(new Uint8Array([9]))).toBeUndefined();
  const [md5, sha] = await h.digests();
  expect(md5.toString("hex")).toBe(createHash("md5").update(new Uint8Array([9])).digest("hex"));
  expect(sha.toString("hex")).toBe(createHash("sha256").update(new Uint8Array([9])).digest("hex"));
});
