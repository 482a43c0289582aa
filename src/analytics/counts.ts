// Counters keyed by (bucket, kind, country, segment, key), all small numbers, in one flat typed
// array with open addressing. The socket thread adds to one of these for nearly every viewer event;
// with a large audience a JS Map (or nested maps) cost it several dependent cache misses per add on
// this kind of machine (~150-190 ns each, measured by a one-off script; bench/RESULTS.md, issue 6), a probe here touches one or two
// cache lines and allocates nothing. Pure data.

/** Small ids for strings (countries, segment labels, reaction / poll keys), assigned on first use. */
export class Ids {
  readonly list: string[] = [];
  private ids = new Map<string, number>();

  constructor(first: string[] = []) {
    for (const s of first) this.id(s);
  }

  id(s: string): number {
    let i = this.ids.get(s);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(s);
      this.ids.set(s, i);
    }
    return i;
  }
}

const STRIDE = 6; // bucket, kind + 1 (0: empty slot), country, segment, key, then n and total in `vals`

export class Counts {
  private keys: Float64Array;
  private vals: Float64Array;
  private mask: number;
  size = 0;

  constructor(private readonly initial = 256) {
    this.keys = new Float64Array(initial * STRIDE);
    this.vals = new Float64Array(initial * 2);
    this.mask = initial - 1;
  }

  /** Adds `n` and `total` to the counter (with `max`, keeps the larger `n` instead of adding). */
  add(bucket: number, kind: number, country: number, segment: number, key: number, n: number, total: number, max = false): void {
    const k = this.keys;
    let h = Math.imul((bucket / 1000) | 0, 0x9e3779b1) ^ Math.imul(kind + 1 + (country << 5), 0x85ebca6b) ^ Math.imul(segment + 1, 0xc2b2ae35) ^ Math.imul(key + 1, 0x27d4eb2f);
    h ^= h >>> 15;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const o = i * STRIDE;
      const tag = k[o + 1]!;
      if (tag === 0) {
        k[o] = bucket;
        k[o + 1] = kind + 1;
        k[o + 2] = country;
        k[o + 3] = segment;
        k[o + 4] = key;
        this.vals[i * 2] = n;
        this.vals[i * 2 + 1] = total;
        if (++this.size * 2 > this.mask) this.grow();
        return;
      }
      if (tag === kind + 1 && k[o] === bucket && k[o + 2] === country && k[o + 3] === segment && k[o + 4] === key) {
        const v = this.vals;
        v[i * 2] = max ? Math.max(v[i * 2]!, n) : v[i * 2]! + n;
        v[i * 2 + 1]! += total;
        return;
      }
    }
  }

  /** Every counter: (bucket, kind, country, segment, key, n, total). */
  forEach(fn: (bucket: number, kind: number, country: number, segment: number, key: number, n: number, total: number) => void): void {
    const k = this.keys;
    for (let i = 0; i <= this.mask; i++) {
      const o = i * STRIDE;
      if (k[o + 1] !== 0) fn(k[o]!, k[o + 1]! - 1, k[o + 2]!, k[o + 3]!, k[o + 4]!, this.vals[i * 2]!, this.vals[i * 2 + 1]!);
    }
  }

  /** Empties the table; its size follows what the last interval needed. */
  clear(): void {
    let cap = this.initial;
    while (cap < this.size * 2) cap *= 2;
    this.keys = new Float64Array(cap * STRIDE);
    this.vals = new Float64Array(cap * 2);
    this.mask = cap - 1;
    this.size = 0;
  }

  private grow(): void {
    const { keys, vals } = this;
    const old = this.mask + 1;
    this.keys = new Float64Array(old * 2 * STRIDE);
    this.vals = new Float64Array(old * 4);
    this.mask = old * 2 - 1;
    this.size = 0;
    for (let i = 0; i < old; i++) {
      const o = i * STRIDE;
      if (keys[o + 1] !== 0) this.add(keys[o]!, keys[o + 1]! - 1, keys[o + 2]!, keys[o + 3]!, keys[o + 4]!, vals[i * 2]!, vals[i * 2 + 1]!);
    }
  }
}
