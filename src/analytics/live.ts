// One live broadcast's running state, kept by the Collector (collector.ts): the viewers (one state
// object each), presence gauges, first appearances, and the counts gathered since the last drain.
// Pure data: no timers, no I/O.
//
// Built for the socket thread's cache: countries, segments and keys are small ids, counts live in a
// flat typed table (counts.ts), chatter rows in one flat array, the viewers present in an array. With a
// large audience each JS Map or Set operation cost several cache misses on this kind of machine, and
// a join did about fifteen of them (one-off timings in bench/RESULTS.md, issue 6).
import type { BatchWriter } from "./batch.ts";
import type { Dim, Kind, Prior } from "./collector.ts";
import { Counts, Ids } from "./counts.ts";

/** Kinds as numbers in the counts table (their order is not stored anywhere). */
const KINDS: readonly Kind[] = ["join", "leave", "chat", "reaction", "vote", "watch", "watch_all", "conc", "conc_all", "peak", "present", "uv", "uv_c", "uv_s", "uc", "uc_c", "uc_s"];
export const K = Object.fromEntries(KINDS.map((k, i) => [k, i])) as Record<Kind, number>;

/** First-appearance dimensions, encoded with their value as `dim + 8 * id`. */
const DIMS: readonly Dim[] = ["uv", "uv_c", "uv_s", "uc", "uc_c", "uc_s"];
export const D = { uv: 0, uv_c: 1, uv_s: 2, uc: 3, uc_c: 4, uc_s: 5 } as const;
const SEEN_UV = 1;
const SEEN_UC = 2;

/** The viewer has chatted in this broadcast (counted among its unique chatters). */
export const hasChatted = (v: Viewer): boolean => (v.seen & SEEN_UC) !== 0;

/** A presence count over time: integrated into watch time, sampled at window boundaries. */
class Gauge {
  count = 0;
  private lastT: number;
  private nextBoundary: number;

  /** `country`: its id, or -1 for everyone. */
  constructor(private w: number, at: number, readonly country: number) {
    this.lastT = at;
    this.nextBoundary = Math.ceil(at / w) * w;
  }

  /** Moves to `t` (events at `t` not applied yet): watch time per window, samples at boundaries before `t`. */
  advance(t: number, l: Live): void {
    if (t <= this.lastT) return;
    if (this.count > 0) {
      for (; this.nextBoundary < t; this.nextBoundary += this.w) l.sampled(this.country, this.nextBoundary, this.count);
      for (let a = this.lastT; a < t; ) {
        const b = a - (a % this.w);
        const e = Math.min(t, b + this.w);
        l.watched(this.country, b, (e - a) * this.count);
        a = e;
      }
    } else if (this.nextBoundary < t) this.nextBoundary = Math.ceil(t / this.w) * this.w;
    this.lastT = t;
  }
}

/**
 * One viewer in one broadcast: their country (of their latest session), their presence, what they
 * have already been counted as (first appearances), and their current chatter row. The hub keeps it
 * per joined socket (the analytics handle), so a viewer's events find it without a lookup.
 */
export interface Viewer {
  key: string;
  readonly l: Live;
  c: number; // country id of their latest session
  open: number; // open sessions
  openIn: number[]; // open sessions per country: [country id, sessions, ...] (nearly always one pair)
  at: number; // index in Live.present, -1 when not present
  seen: number; // bit flags: SEEN_*
  seenIn: number[] | null; // valued dimensions already counted in, as dim + 8 * id (made on first use)
  chatAt: number; // index of their chatter row since the last drain
  chatGen: number; // the drain generation chatAt belongs to
  wb: number; // the flush batch whose viewer table lists this viewer's key, at index wi
  wi: number;
}

/** An open (or just ended) session (stored as a SessionRow; its viewer's key is read at each drain). */
export interface Session {
  id: string;
  v: Viewer;
  c: number; // country id
  segment: string; // in force when it began
  joinedAt: number;
  leftAt: number | null;
  lastSeen: number;
  queued: number; // the drain generation it was last queued for
}

/** First appearances per dimension and value since the last drain; held back while earlier runs are read. */
class Appearances {
  private fresh = new Map<number, number>(); // dim + 8 * id -> viewers
  /** While earlier runs are read: this run's first appearances, per viewer, not counted yet. */
  pending: Map<Viewer, number[]> | null = null;
  chatters = 0; // viewers counted as chatters (this run's and earlier runs')

  /** Counts `v` in `dim` (and the value `id`) unless already counted. */
  mark(v: Viewer, dim: number, id: number): void {
    const e = dim + 8 * id;
    if (dim === D.uv || dim === D.uc) {
      const bit = dim === D.uv ? SEEN_UV : SEEN_UC;
      if (v.seen & bit) return;
      v.seen |= bit;
      if (dim === D.uc) this.chatters++;
    } else {
      const list = (v.seenIn ??= []);
      if (list.includes(e)) return;
      list.push(e);
    }
    if (this.pending) {
      const held = this.pending.get(v);
      if (held) held.push(e);
      else this.pending.set(v, [e]);
    } else this.bump(e);
  }

  bump(e: number): void {
    this.fresh.set(e, (this.fresh.get(e) ?? 0) + 1);
  }

  /** (dim, value id, viewers) since the last call. */
  take(): Array<[Dim, number, number]> {
    const out: Array<[Dim, number, number]> = [];
    for (const [e, n] of this.fresh) out.push([DIMS[e % 8]!, Math.floor(e / 8), n]);
    this.fresh.clear();
    return out;
  }
}

/** One live broadcast's running state. */
export class Live {
  segment: string;
  seg: number; // the segment's id
  readonly segments = new Ids([""]);
  readonly keys = new Ids([""]); // reaction emoji, poll options
  /** Everyone seen in this broadcast (present or not), by viewer key. */
  readonly viewers = new Map<string, Viewer>();
  readonly present: Viewer[] = [];
  readonly sessions = new Map<number, Session>(); // open sessions, by the hub's session number
  readonly all: Gauge;
  private byCountry: Array<Gauge | undefined> = []; // by country id
  private gauges: Gauge[] = [];
  readonly seen = new Appearances();
  /** The latest instant with events; its counts are final once time moves past it. */
  instant: number;
  /** Presence that began at `instant` (viewer, country id); counted as a viewer only if it lasts. */
  private freshV: Viewer[] = [];
  private freshC: number[] = [];
  segmentBegan = false;
  nextMinute: number;
  peakBucket = -1;
  peak = 0;
  ended = false;
  /** Counts since the last drain. */
  private counts = new Counts();
  /** Chatter rows since the last drain: the viewer, and bucket, country, segment, messages,
   * sentiment sum in one flat array (one cache line per message; a viewer finds theirs through chatAt).
   * A row carries its viewer's key as it is at the drain. */
  private chV: Viewer[] = [];
  private ch = new Float64Array(5 * 256);
  private gen = 1;

  constructor(readonly id: string, readonly streamId: string, readonly startedAt: number, segment: string, at: number, private w: number, readonly countries: Ids) {
    this.segment = segment;
    this.seg = this.segments.id(segment);
    this.instant = at;
    this.all = new Gauge(w, at, -1);
    // Retention instants: every whole minute since the start, from now on (a restart mid-broadcast
    // finds the earlier minutes stored by the earlier run).
    this.nextMinute = startedAt + Math.max(0, Math.ceil((at - startedAt) / 60_000)) * 60_000;
  }

  viewer(key: string): Viewer {
    let v = this.viewers.get(key);
    if (!v) this.viewers.set(key, (v = { key, l: this, c: 0, open: 0, openIn: [], at: -1, seen: 0, seenIn: null, chatAt: 0, chatGen: 0, wb: -1, wi: 0 }));
    return v;
  }

  setSegment(label: string): void {
    this.segment = label;
    this.seg = this.segments.id(label);
    this.segmentBegan = true;
  }

  gauge(country: number): Gauge {
    let g = this.byCountry[country];
    if (!g) {
      this.byCountry[country] = g = new Gauge(this.w, this.instant, country);
      this.gauges.push(g);
    }
    return g;
  }

  /** A count of `kind` (ids for country, segment and key). */
  count(bucket: number, kind: number, country: number, segment: number, key: number, n: number, total: number): void {
    this.counts.add(bucket, kind, country, segment, key, n, total, kind === K.peak);
  }

  watched(country: number, bucket: number, ms: number): void {
    if (country < 0) this.counts.add(bucket, K.watch_all, 0, this.seg, 0, 0, ms);
    else this.counts.add(bucket, K.watch, country, this.seg, 0, 0, ms);
  }

  sampled(country: number, boundary: number, n: number): void {
    if (country < 0) this.counts.add(boundary, K.conc_all, 0, this.seg, 0, n, 0);
    else this.counts.add(boundary, K.conc, country, this.seg, 0, n, 0);
  }

  /** A presence change is next: presence so far counted up to `t`. */
  advanceAll(t: number): void {
    for (; this.nextMinute < t; this.nextMinute += 60_000) if (this.all.count > 0) this.counts.add(this.nextMinute, K.present, 0, 0, 0, this.all.count, 0);
    this.all.advance(t, this);
  }

  advanceEveryGauge(t: number): void {
    this.advanceAll(t);
    for (const g of this.gauges) g.advance(t, this);
  }

  /** A viewer's session (from `country`) starts at the current instant. */
  arrive(v: Viewer, country: number, t: number): void {
    if (v.open++ === 0) {
      this.advanceAll(t);
      this.all.count++;
      v.at = this.present.length;
      this.present.push(v);
    }
    const o = v.openIn;
    let i = 0;
    while (i < o.length && o[i] !== country) i += 2;
    if (i < o.length) o[i + 1]!++;
    else {
      o.push(country, 1);
      const g = this.gauge(country);
      g.advance(t, this);
      g.count++;
    }
    this.freshV.push(v);
    this.freshC.push(country);
  }

  /** A viewer's session from `country` ends at the current instant. */
  depart(v: Viewer, country: number, t: number): void {
    const o = v.openIn;
    let i = 0;
    while (i < o.length && o[i] !== country) i += 2;
    if (i < o.length && --o[i + 1]! === 0) {
      o.splice(i, 2);
      const g = this.gauge(country);
      g.advance(t, this);
      g.count--;
    }
    if (--v.open === 0) {
      this.advanceAll(t);
      this.all.count--;
      // (swap-remove from the present list)
      const last = this.present.pop()!;
      if (last !== v) {
        this.present[v.at] = last;
        last.at = v.at;
      }
      v.at = -1;
    }
  }

  chatter(bucket: number, v: Viewer, country: number, sentiment: number): void {
    const i = v.chatAt;
    const ch = this.ch;
    if (v.chatGen === this.gen && ch[i * 5] === bucket && ch[i * 5 + 1] === country && ch[i * 5 + 2] === this.seg) {
      ch[i * 5 + 3]!++;
      ch[i * 5 + 4]! += sentiment;
      return;
    }
    // A new window, segment or country: a new row (an older one met again is summed in DuckDB).
    v.chatGen = this.gen;
    const at = this.chV.length;
    v.chatAt = at;
    this.chV.push(v);
    if ((at + 1) * 5 > ch.length) {
      this.ch = new Float64Array(ch.length * 2);
      this.ch.set(ch);
    }
    const o = at * 5;
    this.ch[o] = bucket;
    this.ch[o + 1] = country;
    this.ch[o + 2] = this.seg;
    this.ch[o + 3] = 1;
    this.ch[o + 4] = sentiment;
  }

  /** The viewer's key in batch `batch`'s viewer table (listed once per batch). */
  wireViewer(w: BatchWriter, v: Viewer, batch: number): number {
    if (v.wb !== batch) {
      v.wb = batch;
      v.wi = w.viewer(v.key);
    }
    return v.wi;
  }

  wireCountry(w: BatchWriter, cache: number[], c: number): number {
    return cache[c] ?? (cache[c] = w.str(this.countries.list[c]!));
  }

  /** Viewers with a chatter row not drained yet. */
  chattersPending(): readonly Viewer[] {
    return this.chV;
  }

  /** Writes the rows since the last call into `w` (a chatter row carries the viewer's key as it is now). */
  takeRows(w: BatchWriter, countryWire: number[], batch: number): void {
    const bw = w.str(this.id);
    const sw = w.str(this.streamId);
    const segs: number[] = [];
    const keys: number[] = [];
    const kinds: number[] = [];
    const seg = (s: number) => segs[s] ?? (segs[s] = w.str(this.segments.list[s]!));
    this.counts.forEach((bucket, kind, country, segment, key, n, total) => {
      w.aggRow(bw, sw, this.wireCountry(w, countryWire, country), seg(segment), kinds[kind] ?? (kinds[kind] = w.str(KINDS[kind]!)), keys[key] ?? (keys[key] = w.str(this.keys.list[key]!)), bucket, n, total);
    });
    this.counts.clear();
    const ch = this.ch;
    for (let i = 0; i < this.chV.length; i++) {
      const o = i * 5;
      w.chatterRow(bw, this.wireViewer(w, this.chV[i]!, batch), this.wireCountry(w, countryWire, ch[o + 1]!), seg(ch[o + 2]!), ch[o]!, ch[o + 3]!, ch[o + 4]!);
    }
    this.chV = [];
    this.ch = new Float64Array(Math.max(5 * 256, ch.length / 2));
    this.gen++;
  }

  /** Time moves to `t` (clock steps back are taken as `instant`): the counts at `instant` are final. */
  moveTo(t: number): number {
    if (t <= this.instant) return this.instant;
    this.settle();
    this.instant = t;
    return t;
  }

  /** The counts after every event of `instant`: peak, and who has been present for a moment. */
  settle(): void {
    const b = this.instant - (this.instant % this.w);
    if (b !== this.peakBucket) {
      this.peakBucket = b;
      this.peak = 0;
    }
    if (this.all.count > this.peak) {
      this.peak = this.all.count;
      this.counts.add(b, K.peak, 0, this.seg, 0, this.peak, 0, true);
    }
    if (this.segmentBegan) {
      this.segmentBegan = false;
      for (const v of this.present) this.seen.mark(v, D.uv_s, this.seg);
    }
    const fv = this.freshV;
    if (fv.length === 0) return;
    const fc = this.freshC;
    for (let i = 0; i < fv.length; i++) {
      const v = fv[i]!;
      if (v.at < 0) continue;
      this.seen.mark(v, D.uv, 0);
      this.seen.mark(v, D.uv_s, this.seg);
      const o = v.openIn;
      for (let j = 0; j < o.length; j += 2) {
        if (o[j] === fc[i]) {
          this.seen.mark(v, D.uv_c, fc[i]!);
          break;
        }
      }
    }
    this.freshV = [];
    this.freshC = [];
  }

  /** The id a dimension's value has here (countries are shared by every broadcast). */
  valueId(dim: Dim, value: string): number {
    return dim.endsWith("_c") ? this.countries.id(value) : dim.endsWith("_s") ? this.segments.id(value) : 0;
  }

  /**
   * Earlier runs' appearances, rows `from` to `to` (a huge broadcast's come in slices, so that the
   * socket thread is never held long): each marks its viewer as already counted, and one of this
   * run's held back meets it and is dropped.
   */
  priorRows(p: Prior, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const dim = p.dim[i]!;
      const d = D[dim];
      const e = d + 8 * this.valueId(dim, p.value[i]!);
      const v = this.viewer(p.viewer[i]!);
      const held = this.seen.pending?.get(v);
      if (held) {
        const j = held.indexOf(e);
        if (j >= 0) held.splice(j, 1);
      }
      if (d === D.uv) v.seen |= SEEN_UV;
      else if (d === D.uc) {
        if (!(v.seen & SEEN_UC)) this.seen.chatters++;
        v.seen |= SEEN_UC;
      } else {
        const list = (v.seenIn ??= []);
        if (!list.includes(e)) list.push(e);
      }
    }
  }

  /** Every earlier row has been read: what this run held back and did not meet there counts now. */
  priorDone(): void {
    const pending = this.seen.pending;
    this.seen.pending = null;
    for (const held of pending?.values() ?? []) for (const e of held) this.seen.bump(e);
  }
}
