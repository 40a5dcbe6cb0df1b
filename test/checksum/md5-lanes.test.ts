/** The multi-lane MD5 kernels and their driver, against node:crypto and RFC 1321. */
import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { createMd5Lanes, type KernelPolicy, type Md5Lanes, md5LanesModule, md5LanesWorkerSource, Md5Lanes as Md5LanesClass } from "../../src/checksum/md5-lanes.ts";
import type { Gather } from "../../src/checksum/md5-wasm-gen.ts";
import { int, mulberry32, type Rng } from "../sigv4/prng.ts";

const md5 = (data: Uint8Array) => createHash("md5").update(data).digest("hex");
const hex = (d: Uint8Array) => Buffer.from(d).toString("hex");

/** Every way through the kernels: each entry point forced, and the default policy. */
const setups: [string, { lanes: 4 | 8; gather: Gather; policy?: KernelPolicy }][] = [
  ["default", { lanes: 8, gather: "lane" }],
  ["x1 only", { lanes: 8, gather: "lane", policy: () => "x1" }],
  ["x4 lane", { lanes: 4, gather: "lane", policy: () => "x4" }],
  ["x4 shuffle", { lanes: 4, gather: "shuffle", policy: () => "x4" }],
  ["x8 lane", { lanes: 8, gather: "lane", policy: () => "x8" }],
  ["x8 shuffle", { lanes: 8, gather: "shuffle", policy: () => "x8" }],
];

const rfc1321: [string, string][] = [
  ["", "d41d8cd98f00b204e9800998ecf8427e"],
  ["a", "0cc175b9c0f1b6a831c399e269772661"],
  ["abc", "900150983cd24fb0d6963f7d28e17f72"],
  ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
  ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
  ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"],
  ["12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"],
];

for (const [label, options] of setups) {
  test(`RFC 1321 test suite, all vectors in lanes at once (${label})`, () => {
    const m = new Md5LanesClass(md5LanesModule(options.gather), options);
    const vectors = rfc1321.slice(0, options.lanes);
    const ids = vectors.map(([text]) => {
      const id = m.open();
      m.push(id, new TextEncoder().encode(text));
      return id;
    });
    m.run();
    vectors.forEach(([, want], i) => expect(hex(m.digest(ids[i]))).toBe(want));
  });
}

/**
 * Streams that start, grow and end at random moments: random lengths (0 to several blocks and
 * up to a few staging areas, rarely multiples of 64), random chunking, random run() slices.
 */
function randomSchedule(rng: Rng, m: Md5Lanes, steps: number): number {
  const live = new Map<number, { body: number[]; size: number }>();
  let checked = 0;
  const finish = (id: number) => {
    const s = live.get(id)!;
    live.delete(id);
    expect(hex(m.digest(id))).toBe(md5(new Uint8Array(s.body)));
    checked++;
  };
  for (let step = 0; step < steps; step++) {
    const action = int(rng, 10);
    if (action < 2 && m.free > 0) {
      const size = int(rng, 4) === 0 ? int(rng, 70_000) : int(rng, 6 * 64 + 1);
      live.set(m.open(), { body: [], size });
    } else if (action < 7 && live.size > 0) {
      const [id, s] = [...live][int(rng, live.size)];
      const n = Math.min(s.size - s.body.length, 1 + int(rng, int(rng, 2) ? 100 : 20_000));
      const chunk = new Uint8Array(n).map(() => int(rng, 256));
      s.body.push(...chunk);
      m.push(id, chunk);
    } else if (action < 9) {
      // sometimes with lanes held for one another, some of the streams urgent
      const hold = int(rng, 3) === 0 ? 64 * (1 + int(rng, 400)) : 0;
      const urgent = [...live.keys()].filter(() => int(rng, 4) === 0);
      m.run(int(rng, 2) ? Infinity : 64 * (1 + int(rng, 300)), hold, urgent);
    } else if (live.size > 0) {
      const [id, s] = [...live][int(rng, live.size)];
      if (s.body.length >= s.size) finish(id);
    }
  }
  m.run();
  for (const id of [...live.keys()]) finish(id);
  return checked;
}

for (const [label, options] of setups) {
  test(`streams of unequal lengths, starting and ending at different times, equal node:crypto (${label})`, () => {
    const rng = mulberry32(1321 + label.length);
    const checked = randomSchedule(rng, new Md5LanesClass(md5LanesModule(options.gather), options), 1500);
    expect(checked).toBeGreaterThan(40);
  });
}

test("lengths 0..200 and around block and padding edges, one lane and several", () => {
  for (const policy of [() => "x1", () => "x8"] as KernelPolicy[]) {
    const m = createMd5Lanes({ policy });
    for (let base = 0; base <= 200; base += 8) {
      const bodies = Array.from({ length: 8 }, (_, i) => new Uint8Array(base + i).map((_, j) => (j * 7 + i) & 255));
      const ids = bodies.map((b) => {
        const id = m.open();
        m.push(id, b);
        return id;
      });
      m.run();
      bodies.forEach((b, i) => expect(hex(m.digest(ids[i]))).toBe(md5(b)));
    }
  }
});

test("a chunk is released once all its bytes are hashed or set aside, or when its stream closes", () => {
  const m = createMd5Lanes();
  const a = m.open();
  const b = m.open();
  const released: string[] = [];
  m.push(a, new Uint8Array(1000), () => released.push("a1"));
  m.push(a, new Uint8Array(30), () => released.push("a2"));
  m.push(b, new Uint8Array(5000), () => released.push("b1"));
  expect(released).toEqual([]);
  m.run();
  // 1030 bytes: 16 blocks hashed, the last 6 bytes copied aside: both chunks released
  expect(released.sort()).toEqual(["a1", "a2", "b1"]);
  expect(m.pending(a)).toBe(1030 % 64);
  m.push(b, new Uint8Array(100), () => released.push("b2"));
  m.close(b);
  expect(released).toContain("b2");
  expect(m.free).toBe(7);
  expect(() => m.push(b, new Uint8Array(1))).toThrow();
});

test("a budgeted run hashes a slice and leaves the rest queued", () => {
  const m = createMd5Lanes();
  const ids = [m.open(), m.open(), m.open()];
  const body = new Uint8Array(256 * 1024).map((_, i) => i & 255);
  for (const id of ids) m.push(id, body);
  m.run(64 * 1024);
  const left = ids.map((id) => m.pending(id));
  expect(left.every((n) => n > 0 && n < body.length)).toBe(true);
  m.run();
  for (const id of ids) expect(hex(m.digest(id))).toBe(md5(body));
});

test("eight busy streams run in the 8-lane kernel; one alone runs scalar", () => {
  const m = createMd5Lanes();
  const ids = Array.from({ length: 8 }, () => m.open());
  for (const id of ids) m.push(id, new Uint8Array(64 * 1024));
  m.run();
  expect(m.stats).toEqual({ x1: 0, x4: 0, x8: 8 * 1024 });
  m.push(ids[3], new Uint8Array(64 * 10));
  m.run();
  expect(m.stats.x1).toBe(10);
  for (const id of ids) m.close(id);
});

test("held lanes wait until every open lane has a block, one is holdBytes ahead, or an urgent one has blocks", () => {
  const m = createMd5Lanes();
  const [a, b, c] = [m.open(), m.open(), m.open()];
  const bodies = new Map([a, b, c].map((id) => [id, [] as Uint8Array[]]));
  const push = (id: number, n: number) => {
    const chunk = new Uint8Array(n).map((_, i) => (i * 31 + id) & 255);
    bodies.get(id)!.push(chunk);
    m.push(id, chunk);
  };
  const hold = 8192;
  push(a, 4096);
  push(b, 4096);
  expect(m.hashable(hold)).toBe(false); // c has nothing
  m.run(Infinity, hold);
  expect([m.pending(a), m.pending(b)]).toEqual([4096, 4096]);
  push(c, 100);
  expect(m.hashable(hold)).toBe(true);
  m.run(Infinity, hold);
  // the three ran together for c's one block, then a and b waited again
  expect(m.stats).toEqual({ x1: 0, x4: 3, x8: 0 });
  expect([m.pending(a), m.pending(b), m.pending(c)]).toEqual([4032, 4032, 36]);
  push(a, 8192); // a is now holdBytes ahead of c: a and b run, not held back further
  m.run(Infinity, hold);
  expect([m.pending(a), m.pending(b)]).toEqual([0, 0]);
  push(b, 4096);
  expect(m.hashable(hold)).toBe(false);
  expect(m.hashable(hold, [b])).toBe(true); // b's stream has ended: it is not held
  m.run(Infinity, hold, [b]);
  expect(m.pending(b)).toBe(0);
  for (const id of [a, b, c]) expect(hex(m.digest(id))).toBe(md5(Buffer.concat(bodies.get(id)!)));
});

test("no ninth lane", () => {
  const m = createMd5Lanes();
  for (let i = 0; i < 8; i++) m.open();
  expect(m.free).toBe(0);
  expect(() => m.open()).toThrow();
});

test("the worker source defines the same class, standing alone", async () => {
  const source = `${md5LanesWorkerSource()}
self.onmessage = (e) => {
  const m = new Md5Lanes(e.data.module, {});
  const ids = e.data.bodies.map((b) => { const id = m.open(); m.push(id, b); return id; });
  m.run();
  postMessage(ids.map((id) => m.digest(id)));
};`;
  const worker = new Worker(URL.createObjectURL(new Blob([source], { type: "application/javascript" })));
  const bodies = [0, 1, 63, 64, 65, 1000, 100_000].map((n) => new Uint8Array(n).map((_, i) => (i * 13) & 255));
  const digests = await new Promise<Uint8Array[]>((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => reject(e);
    worker.postMessage({ module: md5LanesModule(), bodies });
  });
  worker.terminate();
  expect(digests.map(hex)).toEqual(bodies.map(md5));
});
