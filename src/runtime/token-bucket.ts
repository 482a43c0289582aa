// Token buckets for rate limits: pure arithmetic on (tokens, updatedAt), no timers.
export interface Bucket {
  tokens: number;
  at: number;
}

/** Takes one token; returns 0 when allowed, else the ms until a token is available. */
export function take(b: Bucket, now: number, ratePerS: number, burst: number): number {
  const elapsed = Math.max(0, now - b.at);
  b.tokens = Math.min(burst, b.tokens + (elapsed * ratePerS) / 1000);
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return Math.ceil(((1 - b.tokens) * 1000) / ratePerS);
}

/** One bucket per key, with idle buckets swept so a scan of many IPs cannot grow memory forever. */
export class KeyedBuckets {
  private buckets = new Map<string, Bucket>();
  constructor(
    private ratePerS: number,
    private burst: number,
  ) {}

  take(key: string, now: number): number {
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    return take(b, now, this.ratePerS, this.burst);
  }

  /** Drops buckets that have refilled completely: they carry no state. */
  sweep(now: number): void {
    const fullAfterMs = (this.burst / this.ratePerS) * 1000;
    for (const [k, b] of this.buckets) if (now - b.at > fullAfterMs) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}
