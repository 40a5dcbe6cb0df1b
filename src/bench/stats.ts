/** Latency samples, byte counts and errors of one run; percentiles at the end. */

export interface LatencySummary {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export class Recorder {
  ops = 0;
  bytes = 0;
  errors = 0;
  readonly errorsByCode = new Map<string, number>();
  /** verification failures: wrong size or content; any one of them fails the run */
  verifyFailures = 0;
  private latencies = new Float64Array(1 << 16);
  private samples = 0;
  readonly examples: string[] = [];

  success(latencyMs: number, bytes: number): void {
    this.ops++;
    this.bytes += bytes;
    if (this.samples === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.samples++] = latencyMs;
  }

  failure(code: string, detail: string): void {
    this.errors++;
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
    if (code === "VerificationFailed") this.verifyFailures++;
    if (this.examples.length < 5) this.examples.push(`${code}: ${detail}`);
  }

  latency(): LatencySummary {
    const sorted = this.latencies.slice(0, this.samples).sort();
    const at = (q: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      p50Ms: round(at(0.5)),
      p90Ms: round(at(0.9)),
      p99Ms: round(at(0.99)),
      maxMs: round(sorted.length === 0 ? 0 : sorted[sorted.length - 1]),
      meanMs: round(sorted.length === 0 ? 0 : sum / sorted.length),
    };
  }
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
