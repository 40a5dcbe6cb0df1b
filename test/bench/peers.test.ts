import { describe, expect, test } from "bun:test";
import { cpuOverWindow, headlineOf, isAhead, measuredWindow, memstoreBytesFor, verdictOf, verdictText, type CellShape, type ReportFigures } from "../../src/bench/peers.ts";
import { cephConf } from "../../src/bench/rgw.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const put4k: CellShape = { op: "put", sizeBytes: 4096, concurrency: 32, objects: 500, durationMs: 1500 };
const get64: CellShape = { op: "get", sizeBytes: 64 * MiB, concurrency: 8, objects: 8, durationMs: 1500 };
const list: CellShape = { op: "list", sizeBytes: 0, concurrency: 4, objects: 2000, durationMs: 1500 };

function figures(over: Partial<ReportFigures>): ReportFigures {
  return { opsPerSec: 100, mibPerSec: 10, errors: 0, verified: true, extra: {}, ...over };
}

describe("headline figure of a cell", () => {
  test("op/s below 1 MiB, MiB/s from 1 MiB, keys/s for LIST", () => {
    expect(headlineOf(put4k, figures({ opsPerSec: 5000 }))).toEqual({ value: 5000, unit: "op/s" });
    expect(headlineOf(get64, figures({ mibPerSec: 700 }))).toEqual({ value: 700, unit: "MiB/s" });
    expect(headlineOf(list, figures({ extra: { keysPerSec: 1e5 } }))).toEqual({ value: 1e5, unit: "keys/s" });
    expect(headlineOf({ ...get64, op: "multipart" }, figures({ mibPerSec: 300 })).unit).toBe("MiB/s");
  });
});

describe("ahead of a peer", () => {
  test("compares the headline figures", () => {
    const v = verdictOf(put4k, figures({ opsPerSec: 300 }), figures({ opsPerSec: 100 }));
    expect(v).toEqual({ kind: "compared", ahead: true, ratio: 3 });
    expect(isAhead(v)).toBe(true);
    expect(verdictText(v)).toBe("yes (3.00x)");
    const behind = verdictOf(get64, figures({ mibPerSec: 50 }), figures({ mibPerSec: 100 }));
    expect(isAhead(behind)).toBe(false);
    expect(verdictText(behind)).toBe("**no** (0.50x)");
  });

  test("a tie is not ahead", () => {
    expect(isAhead(verdictOf(put4k, figures({}), figures({})))).toBe(false);
  });

  test("errors or failed verification make a run count as failed", () => {
    expect(verdictOf(put4k, figures({ errors: 1, opsPerSec: 1e6 }), figures({}))).toEqual({ kind: "s3d-failed" });
    expect(verdictOf(put4k, figures({ verified: false }), figures({})).kind).toBe("s3d-failed");
    expect(verdictOf(put4k, null, figures({})).kind).toBe("s3d-failed");
    const peerFailed = verdictOf(put4k, figures({ opsPerSec: 1 }), figures({ errors: 3, opsPerSec: 1e6 }));
    expect(peerFailed.kind).toBe("peer-failed");
    expect(isAhead(peerFailed)).toBe(true);
    expect(isAhead(verdictOf(put4k, figures({}), null))).toBe(true);
  });

  test("a peer that did not run the cell is not a verdict", () => {
    const v = verdictOf(put4k, figures({}), undefined);
    expect(v.kind).toBe("not-run");
    expect(isAhead(v)).toBe(false);
    expect(verdictText(v)).toBe("–");
  });

  test("a peer at zero", () => {
    expect(verdictText(verdictOf(put4k, figures({ opsPerSec: 5 }), figures({ opsPerSec: 0 })))).toBe("yes (peer 0)");
  });
});

describe("CPU of several processes over a window", () => {
  // Two processes: a at 1 tick per 10 ms (100% of a core), b at half that.
  const samples = Array.from({ length: 21 }, (_, i) => ({ atMs: 1000 + i * 50, ticks: { a: i * 5, b: i * 2.5 } }));

  test("interpolates between samples", () => {
    const cpu = cpuOverWindow(samples, 1025, 1925)!;
    expect(cpu.byProcess).toEqual({ a: 100, b: 50 });
    expect(cpu.total).toBe(150);
  });

  test("undefined outside the sampled time or for an empty window", () => {
    expect(cpuOverWindow(samples, 900, 1500)).toBeUndefined();
    expect(cpuOverWindow(samples, 1500, 2100)).toBeUndefined();
    expect(cpuOverWindow(samples, 1500, 1500)).toBeUndefined();
    expect(cpuOverWindow([], 1, 2)).toBeUndefined();
  });
});

describe("measured window of a generator", () => {
  const report = { prepareMs: 400, durationMs: 1500, cleanupMs: 100 };

  test("anchored on the exit, and yields the start-up it implies", () => {
    const w = measuredWindow("put", 10_000, 12_100, report, 150);
    expect(w).toEqual({ startMs: 10_500, endMs: 12_000, startupMs: 100 });
  });

  test("multipart: anchored on the spawn (its read-back sits between measurement and cleanup)", () => {
    const w = measuredWindow("multipart", 10_000, 13_000, report, 80);
    expect(w).toEqual({ startMs: 10_480, endMs: 11_980, startupMs: undefined });
  });
});

describe("memstore size", () => {
  const quick: CellShape[] = [
    put4k,
    { op: "put", sizeBytes: MiB, concurrency: 32, objects: 64, durationMs: 1500 },
    { op: "put", sizeBytes: 64 * MiB, concurrency: 8, objects: 8, durationMs: 1500 },
    get64,
    { op: "multipart", sizeBytes: 256 * MiB, concurrency: 4, objects: 1, durationMs: 1 },
    list,
  ];

  test("covers the largest cell and the uncollected large objects, in whole GiB", () => {
    // live 512 MiB + PUT 64 MiB 1.5 s x 512 MiB/s (768) + GET objects (512) + multipart (256) + 2 GiB = 4 GiB
    expect(memstoreBytesFor(quick)).toBe(4 * GiB);
  });

  test("small cells get the margin, large ones at most 6 GiB", () => {
    expect(memstoreBytesFor([list])).toBe(2 * GiB);
    expect(memstoreBytesFor([put4k])).toBe(3 * GiB);
    expect(memstoreBytesFor([{ op: "put", sizeBytes: 64 * MiB, concurrency: 8, objects: 8, durationMs: 60_000 }])).toBe(6 * GiB);
  });
});

describe("ceph.conf", () => {
  const conf = cephConf({ dir: "/tmp/x", fsid: "f", monPort: 40000, bindPortMin: 41000, bindPortMax: 41200, rgwPort: 42000, memstoreBytes: 3 * GiB });

  test("loopback only, no auth, memstore, everything under the dir", () => {
    expect(conf).toContain("mon host = v1:127.0.0.1:40000");
    expect(conf).toContain("rgw frontends = beast endpoint=127.0.0.1:42000 tcp_nodelay=1");
    expect(conf).toContain("ms bind port min = 41000");
    expect(conf).toContain("auth client required = none");
    expect(conf).toContain("osd objectstore = memstore");
    expect(conf).toContain(`memstore device bytes = ${3 * GiB}`);
    for (const line of conf.split("\n")) {
      const m = /^(keyring|run dir|admin socket|pid file|log file|crash dir|mon data|osd data|rgw data) = (.*)$/.exec(line);
      if (m) expect(m[2].startsWith("/tmp/x/")).toBe(true);
    }
    expect(conf.match(/^(keyring|run dir|admin socket|pid file|log file|crash dir|mon data|osd data|rgw data) = /gm)?.length).toBe(9);
  });
});
