import { expect, test } from "bun:test";
import { Counter, CounterOf, Gauge, Histogram, renderMetrics } from "../../src/util/metrics.ts";

test("counters: one line per label set in the order first counted, values added; one without labels shows 0 before its first count", () => {
  const requests = new Counter("t_requests_total", "Requests.", ["operation", "status"]);
  expect(requests.render()).toBe("# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n");
  requests.inc(["GetObject", "200"]);
  requests.inc(["PutObject", "200"], 3);
  requests.inc(["GetObject", "200"]);
  expect(requests.render()).toBe(
    '# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\nt_requests_total{operation="GetObject",status="200"} 2\nt_requests_total{operation="PutObject",status="200"} 3\n',
  );
  const plain = new Counter("t_plain_total", "A plain count.");
  expect(plain.render()).toBe("# HELP t_plain_total A plain count.\n# TYPE t_plain_total counter\nt_plain_total 0\n");
  plain.inc([], 2.5);
  expect(plain.render()).toEndWith("t_plain_total 2.5\n");
});

test("label values and help text are escaped as the text format wants; label values that join alike stay apart", () => {
  const counter = new Counter("t_escaped_total", "Back\\slash and\nnewline.", ["a", "b"]);
  counter.inc(['q"uote', "back\\slash\nnewline"]);
  counter.inc(["x", "y"]);
  counter.inc(["xy", ""]);
  expect(counter.render()).toBe(
    "# HELP t_escaped_total Back\\\\slash and\\nnewline.\n# TYPE t_escaped_total counter\n" +
      't_escaped_total{a="q\\"uote",b="back\\\\slash\\nnewline"} 1\nt_escaped_total{a="x",b="y"} 1\nt_escaped_total{a="xy",b=""} 1\n',
  );
});

test("gauges and outside counters are read when written out", () => {
  let open = 3;
  const gauge = new Gauge("t_open", "Open now.", () => open);
  expect(gauge.render()).toEndWith("t_open 3\n");
  open = 5;
  expect(gauge.render()).toEndWith("t_open 5\n");
  expect(new Gauge("t_nan", "Not yet.", () => NaN).render()).toEndWith("t_nan NaN\n");
  expect(new Gauge("t_info", "Info.", () => [[["1.0"], 1]], ["version"]).render()).toEndWith('t_info{version="1.0"} 1\n');
  expect(new CounterOf("t_cpu_seconds_total", "CPU.", () => 1.25).render()).toBe("# HELP t_cpu_seconds_total CPU.\n# TYPE t_cpu_seconds_total counter\nt_cpu_seconds_total 1.25\n");
});

test("histograms: cumulative buckets, +Inf, sum and count per label set; one without labels shows zeros before its first value", () => {
  const empty = new Histogram("t_sync_seconds", "Syncs.", [0.01, 0.1]);
  expect(empty.render()).toBe(
    '# HELP t_sync_seconds Syncs.\n# TYPE t_sync_seconds histogram\nt_sync_seconds_bucket{le="0.01"} 0\nt_sync_seconds_bucket{le="0.1"} 0\nt_sync_seconds_bucket{le="+Inf"} 0\nt_sync_seconds_sum 0\nt_sync_seconds_count 0\n',
  );
  const durations = new Histogram("t_seconds", "Durations.", [0.01, 0.1, 1], ["operation"]);
  for (const value of [0.005, 0.01, 0.05, 2]) durations.observe(value, ["GetObject"]);
  durations.observe(0.5, ["PutObject"]);
  expect(durations.render()).toBe(
    "# HELP t_seconds Durations.\n# TYPE t_seconds histogram\n" +
      't_seconds_bucket{operation="GetObject",le="0.01"} 2\nt_seconds_bucket{operation="GetObject",le="0.1"} 3\nt_seconds_bucket{operation="GetObject",le="1"} 3\n' +
      't_seconds_bucket{operation="GetObject",le="+Inf"} 4\nt_seconds_sum{operation="GetObject"} 2.065\nt_seconds_count{operation="GetObject"} 4\n' +
      't_seconds_bucket{operation="PutObject",le="0.01"} 0\nt_seconds_bucket{operation="PutObject",le="0.1"} 0\nt_seconds_bucket{operation="PutObject",le="1"} 1\n' +
      't_seconds_bucket{operation="PutObject",le="+Inf"} 1\nt_seconds_sum{operation="PutObject"} 0.5\nt_seconds_count{operation="PutObject"} 1\n',
  );
});

test("an exposition is its families in order, each name once", () => {
  const a = new Counter("t_a_total", "A.");
  const b = new Gauge("t_b", "B.", () => 1);
  expect(renderMetrics([a, b])).toBe(a.render() + b.render());
  expect(() => renderMetrics([a, b, new Counter("t_a_total", "A again.")])).toThrow();
});
