// The pure core of reaction counting: accepted reactions (in batches of typed arrays) fold into
// per-stream windows aligned to multiples of the window length; a window closes once the clock has
// passed its end. It runs in the reactions worker, and on the main thread only to finish what a
// dead worker left at shutdown.

/** Accepted reactions, one entry per reaction, in columns (cheap to build and to transfer). */
export interface ReactionBatch {
  id: number;
  n: number;
  stream: Uint32Array; // interned stream index
  emoji: Uint16Array; // interned emoji index
  ts: Float64Array; // accepted at (ms)
  w: Uint16Array; // the stream's reaction_window_ms when accepted
  /** The latest window end among its entries: once windows are emitted through it, the batch is done. */
  maxEnd: number;
}

export interface ClosedWindow {
  stream: number;
  start: number;
  w: number;
  counts: Array<[emoji: number, n: number]>;
  total: number;
}

interface OpenWindow {
  stream: number;
  start: number;
  w: number;
  counts: Map<number, number>;
  total: number;
}

export function windowStart(ts: number, w: number): number {
  return ts - (ts % w);
}

export class WindowFold {
  private open = new Map<number, Map<number, OpenWindow>>(); // stream -> window start -> window

  /** Folds a batch in; entries whose window ended at or before `skipThrough` were already published. */
  add(b: ReactionBatch, skipThrough = -Infinity): void {
    for (let i = 0; i < b.n; i++) {
      const w = b.w[i]!;
      const start = windowStart(b.ts[i]!, w);
      if (start + w <= skipThrough) continue;
      const stream = b.stream[i]!;
      let byStart = this.open.get(stream);
      if (!byStart) this.open.set(stream, (byStart = new Map()));
      let win = byStart.get(start);
      if (!win) byStart.set(start, (win = { stream, start, w, counts: new Map(), total: 0 }));
      const e = b.emoji[i]!;
      win.counts.set(e, (win.counts.get(e) ?? 0) + 1);
      win.total++;
    }
  }

  /** Removes and returns every window that ended at or before `now` (all of them when final). */
  close(now: number, final = false): ClosedWindow[] {
    const out: ClosedWindow[] = [];
    for (const [stream, byStart] of this.open) {
      for (const [start, win] of byStart) {
        if (!final && start + win.w > now) continue;
        byStart.delete(start);
        out.push({ stream, start, w: win.w, counts: [...win.counts], total: win.total });
      }
      if (byStart.size === 0) this.open.delete(stream);
    }
    return out.sort((a, b) => a.stream - b.stream || a.start - b.start);
  }

  get openWindows(): number {
    let n = 0;
    for (const m of this.open.values()) n += m.size;
    return n;
  }
}

/** A growable batch on the main thread; `take()` hands over the filled part. */
export class BatchBuilder {
  private cap = 1024;
  private n = 0;
  private stream = new Uint32Array(this.cap);
  private emoji = new Uint16Array(this.cap);
  private ts = new Float64Array(this.cap);
  private w = new Uint16Array(this.cap);
  private maxEnd = -Infinity;
  private nextId = 1;

  get size(): number {
    return this.n;
  }

  push(stream: number, emoji: number, ts: number, w: number): void {
    if (this.n === this.cap) this.grow();
    const i = this.n++;
    this.stream[i] = stream;
    this.emoji[i] = emoji;
    this.ts[i] = ts;
    this.w[i] = w;
    const end = windowStart(ts, w) + w;
    if (end > this.maxEnd) this.maxEnd = end;
  }

  take(): ReactionBatch | null {
    if (this.n === 0) return null;
    const n = this.n;
    const b: ReactionBatch = {
      id: this.nextId++, n,
      stream: this.stream.slice(0, n), emoji: this.emoji.slice(0, n), ts: this.ts.slice(0, n), w: this.w.slice(0, n),
      maxEnd: this.maxEnd,
    };
    this.n = 0;
    this.maxEnd = -Infinity;
    return b;
  }

  private grow(): void {
    this.cap *= 2;
    const s = new Uint32Array(this.cap); s.set(this.stream); this.stream = s;
    const e = new Uint16Array(this.cap); e.set(this.emoji); this.emoji = e;
    const t = new Float64Array(this.cap); t.set(this.ts); this.ts = t;
    const w = new Uint16Array(this.cap); w.set(this.w); this.w = w;
  }
}
