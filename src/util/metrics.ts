/**
 * Counters, gauges and histograms written out in Prometheus's text format (version 0.0.4), for
 * the server's /_s3d/metrics. Each layer keeps its own (the S3 face its requests, the store its
 * commits) and hands them to the server to show. Counting is a map lookup and an addition, cheap
 * enough for every request; gauges are read only when scraped.
 */
import { assert } from "./assert.ts";

/** One metric family: its name, what it means, and its samples as text lines. */
export interface MetricFamily {
  readonly name: string;
  render(): string;
}

type Labels = readonly string[];

/** A label value as the format writes it: backslash, double quote and newline escaped. */
function labelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

function labelSet(names: Labels, values: Labels, extra = ""): string {
  const pairs = names.map((name, i) => `${name}="${labelValue(values[i] ?? "")}"`);
  if (extra !== "") pairs.push(extra);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

function number(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return Number.isNaN(value) ? "NaN" : String(value);
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n# TYPE ${name} ${type}\n`;
}

/** Keys of a family's label values: values joined by a character no label value is given. */
const keyOf = (values: Labels) => values.join("\u0000");

export class Counter implements MetricFamily {
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly labelNames: Labels = [],
  ) {}

  inc(labels: Labels = [], by = 1): void {
    const key = keyOf(labels);
    const entry = this.values.get(key);
    if (entry === undefined) this.values.set(key, { labels: [...labels], value: by });
    else entry.value += by;
  }

  render(): string {
    let text = header(this.name, this.help, "counter");
    // (a family with no labels shows 0 before its first count, so that rates start from it)
    if (this.values.size === 0 && this.labelNames.length === 0) text += `${this.name} 0\n`;
    for (const { labels, value } of this.values.values()) text += `${this.name}${labelSet(this.labelNames, labels)} ${number(value)}\n`;
    return text;
  }
}

/** A value read when scraped: one sample, or one per label set. */
export class Gauge implements MetricFamily {
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly read: () => number | ReadonlyArray<readonly [Labels, number]>,
    private readonly labelNames: Labels = [],
  ) {}

  render(): string {
    const read = this.read();
    const samples = typeof read === "number" ? [[[], read] as const] : read;
    let text = header(this.name, this.help, "gauge");
    for (const [labels, value] of samples) text += `${this.name}${labelSet(this.labelNames, labels)} ${number(value)}\n`;
    return text;
  }
}

/** A counter whose value lives elsewhere (the process's CPU time), read when scraped. */
export class CounterOf implements MetricFamily {
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly read: () => number,
  ) {}

  render(): string {
    return `${header(this.name, this.help, "counter")}${this.name} ${number(this.read())}\n`;
  }
}

/** Upper bounds, in seconds, for the latencies of requests and disk syncs: 0.5 ms to a minute. */
export const latencyBucketsSeconds: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Histogram implements MetricFamily {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly bounds: readonly number[],
    private readonly labelNames: Labels = [],
  ) {}

  observe(value: number, labels: Labels = []): void {
    const key = keyOf(labels);
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels: [...labels], counts: new Array<number>(this.bounds.length).fill(0), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    // (counted in the first bucket it fits; the buckets are made cumulative when written)
    const at = this.bounds.findIndex((bound) => value <= bound);
    if (at >= 0) series.counts[at]++;
    series.sum += value;
    series.count++;
  }

  render(): string {
    let text = header(this.name, this.help, "histogram");
    const empty = this.series.size === 0 && this.labelNames.length === 0 ? [{ labels: [], counts: this.bounds.map(() => 0), sum: 0, count: 0 }] : [];
    for (const { labels, counts, sum, count } of [...this.series.values(), ...empty]) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += counts[i];
        text += `${this.name}_bucket${labelSet(this.labelNames, labels, `le="${number(bound)}"`)} ${cumulative}\n`;
      });
      text += `${this.name}_bucket${labelSet(this.labelNames, labels, 'le="+Inf"')} ${count}\n`;
      text += `${this.name}_sum${labelSet(this.labelNames, labels)} ${number(sum)}\n`;
      text += `${this.name}_count${labelSet(this.labelNames, labels)} ${count}\n`;
    }
    return text;
  }
}

/** Every family, in the order given, as one exposition. */
export function renderMetrics(families: readonly MetricFamily[]): string {
  assert(new Set(families.map((f) => f.name)).size === families.length, "metric family names are unique");
  return families.map((family) => family.render()).join("");
}
