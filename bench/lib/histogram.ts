// Fixed-size log histogram for latencies: bounded memory whatever the sample count, mergeable
// across generator processes (plain number arrays survive JSON), ~2% resolution.

const GROWTH = 1.02;
const MIN_US = 1; // values are recorded in microseconds
const BUCKETS = 1000; // 1.02^1000 µs ≈ 400 s: beyond any sane latency; larger values clamp

export class LogHistogram {
  counts: number[] = new Array<number>(BUCKETS).fill(0);
  total = 0;
  minMs = Infinity;
  maxMs = 0;

  recordMs(ms: number): void {
    const us = Math.max(ms * 1000, MIN_US);
    let i = Math.ceil(Math.log(us / MIN_US) / Math.log(GROWTH));
    if (i < 0) i = 0;
    if (i >= BUCKETS) i = BUCKETS - 1;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.total++;
    if (ms < this.minMs) this.minMs = ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  merge(other: HistogramJson): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] = (this.counts[i] ?? 0) + (other.counts[i] ?? 0);
    this.total += other.total;
    if (other.total > 0) {
      this.minMs = Math.min(this.minMs, other.minMs);
      this.maxMs = Math.max(this.maxMs, other.maxMs);
    }
  }

  /** Upper bound of the bucket holding the q-quantile, in ms (NaN when empty). */
  quantileMs(q: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min((MIN_US * GROWTH ** i) / 1000, this.maxMs);
    }
    return this.maxMs;
  }

  toJson(): HistogramJson {
    return { counts: this.counts, total: this.total, minMs: this.minMs, maxMs: this.maxMs };
  }
}

export interface HistogramJson {
  counts: number[];
  total: number;
  minMs: number;
  maxMs: number;
}
