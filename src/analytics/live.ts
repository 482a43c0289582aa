// One live broadcast's running state, kept by the Collector (collector.ts): the viewers (one state
// object each), presence gauges, first appearances, and the rows gathered since the last drain.
// Pure data: no timers, no I/O.
import type { AggRow, ChatterRow, Dim, Kind, Prior, SessionRow } from "./collector.ts";

const DIMS: readonly Dim[] = ["uv", "uv_c", "uv_s", "uc", "uc_c", "uc_s"];

/** A presence count over time: integrated into watch time, sampled at window boundaries. */
class Gauge {
  count = 0;
  private lastT: number;
  private nextBoundary: number;

  constructor(private w: number, at: number) {
    this.lastT = at;
    this.nextBoundary = Math.ceil(at / w) * w;
  }

  /** Moves to `t` (events at `t` not applied yet): watch time per window, samples at boundaries before `t`. */
  advance(t: number, watch: (bucket: number, ms: number) => void, sample: (boundary: number, n: number) => void): void {
    if (t <= this.lastT) return;
    if (this.count > 0) {
      for (; this.nextBoundary < t; this.nextBoundary += this.w) sample(this.nextBoundary, this.count);
      for (let a = this.lastT; a < t; ) {
        const b = a - (a % this.w);
        const e = Math.min(t, b + this.w);
        watch(b, (e - a) * this.count);
        a = e;
      }
    } else if (this.nextBoundary < t) this.nextBoundary = Math.ceil(t / this.w) * this.w;
    this.lastT = t;
  }
}

/**
 * One viewer in one broadcast: their country (of their latest session), their presence, what they
 * have already been counted as (first appearances), and their current chatter row. Every event of
 * a viewer needs one map lookup to find this; with a million viewers, the per-dimension sets and
 * maps this replaced cost the socket thread several cache misses per event (bench, issue 6).
 */
export interface Viewer {
  key: string;
  country: string;
  open: number; // open sessions
  openIn: Array<[string, number]>; // open sessions per country (nearly always one entry)
  present: boolean;
  seen: number; // bit flags: SEEN_*
  seenIn: string[][] | null; // per VALUED dimension: the countries / segments already counted in (made on first use)
  chatRow: ChatterRow | null;
  chatGen: number; // the drain generation chatRow belongs to (rows handed over are not added to)
}

const SEEN_UV = 1;
const SEEN_UC = 2;
/** Dimensions with a value, in their slot order in Viewer.seenIn. */
const VALUED: readonly Dim[] = ["uv_c", "uv_s", "uc_c", "uc_s"];

/** First appearances per dimension and value since the last drain; held back while earlier runs are read. */
class Appearances {
  private fresh = new Map<Dim, Map<string, number>>(DIMS.map((d) => [d, new Map()]));
  /** While earlier runs are read: this run's first appearances, per viewer, not counted yet. */
  pending: Map<Viewer, Array<[Dim, string]>> | null = null;
  chatters = 0; // viewers counted as chatters (this run's and earlier runs')

  /** Counts `v` in `dim` (and `value`) unless already counted. */
  mark(v: Viewer, dim: Dim, value: string): void {
    if (dim === "uv" || dim === "uc") {
      const bit = dim === "uv" ? SEEN_UV : SEEN_UC;
      if (v.seen & bit) return;
      v.seen |= bit;
      if (dim === "uc") this.chatters++;
    } else {
      const list = (v.seenIn ??= [[], [], [], []])[VALUED.indexOf(dim)]!;
      if (list.includes(value)) return;
      list.push(value);
    }
    if (this.pending) {
      const held = this.pending.get(v);
      if (held) held.push([dim, value]);
      else this.pending.set(v, [[dim, value]]);
    } else this.bump(dim, value);
  }

  bump(dim: Dim, value: string): void {
    const m = this.fresh.get(dim)!;
    m.set(value, (m.get(value) ?? 0) + 1);
  }

  take(): Array<[Dim, string, number]> {
    const out: Array<[Dim, string, number]> = [];
    for (const [d, m] of this.fresh) {
      for (const [v, n] of m) out.push([d, v, n]);
      m.clear();
    }
    return out;
  }
}

/** A small id for `s` (assigned on first use), or -1 once `limit` ids are taken. */
function smallId(ids: Map<string, number>, s: string, limit: number): number {
  const i = ids.get(s);
  if (i !== undefined) return i;
  if (ids.size >= limit) return -1;
  ids.set(s, ids.size);
  return ids.size - 1;
}

/** The map under `key`, created on first use (nested maps: no string key built per event). */
function level<K, V>(m: Map<K, Map<any, V> | any>, key: K): Map<any, any> {
  let next = m.get(key);
  if (next === undefined) m.set(key, (next = new Map()));
  return next;
}


/** One live broadcast's running state. */
export class Live {
  segment: string;
  /** Everyone seen in this broadcast (present or not), by viewer key. */
  readonly viewers = new Map<string, Viewer>();
  readonly present = new Set<Viewer>();
  readonly sessions = new Map<number, SessionRow>(); // open sessions, by the hub's session number
  readonly all: Gauge;
  readonly byCountry = new Map<string, Gauge>();
  readonly seen = new Appearances();
  /** The latest instant with events; its counts are final once time moves past it. */
  instant: number;
  /** Presence that began at `instant` (viewer, country); counted as a viewer only if it lasts. */
  fresh: Array<[Viewer, string]> = [];
  segmentBegan = false;
  nextMinute: number;
  peakBucket = -1;
  peak = 0;
  ended = false;
  /** Rows since the last drain, and an index to find them without building a string key per event. */
  rows: AggRow[] = [];
  private index = new Map<Kind, Map<number, Map<string, Map<string, Map<string, AggRow>>>>>();
  chatters: ChatterRow[] = [];
  private gen = 1;

  constructor(readonly id: string, readonly streamId: string, readonly startedAt: number, segment: string, at: number, private w: number) {
    this.segment = segment;
    this.instant = at;
    this.base = at - (at % w) - 1000 * w; // (events up to 1,000 windows behind a clock step back still fit)
    this.all = new Gauge(w, at);
    // Retention instants: every whole minute since the start, from now on (a restart mid-broadcast
    // finds the earlier minutes stored by the earlier run).
    this.nextMinute = startedAt + Math.max(0, Math.ceil((at - startedAt) / 60_000)) * 60_000;
  }

  viewer(key: string): Viewer {
    let v = this.viewers.get(key);
    if (!v) this.viewers.set(key, (v = { key, country: "", open: 0, openIn: [], present: false, seen: 0, seenIn: null, chatRow: null, chatGen: 0 }));
    return v;
  }

  gauge(country: string): Gauge {
    let g = this.byCountry.get(country);
    if (!g) this.byCountry.set(country, (g = new Gauge(this.w, this.instant)));
    return g;
  }

  add(bucket: number, country: string, segment: string, kind: Kind, key: string, n: number, total: number): void {
    const byKey = level(level(level(level(this.index, kind), bucket), country), segment);
    const row = byKey.get(key);
    if (row) {
      row.n = kind === "peak" ? Math.max(row.n, n) : row.n + n;
      row.total += total;
      return;
    }
    const fresh: AggRow = { broadcast_id: this.id, stream_id: this.streamId, bucket, country, segment, kind, key, n, total };
    byKey.set(key, fresh);
    this.rows.push(fresh);
  }

  // Per-event counts (chat, reactions, votes) go through one flat map keyed by a number made of small
  // ids: with a large audience the nested maps above cost ~1 us of cache misses per event (bench,
  // issue 6). Bits: window 20 (from `base`), segment 8, key 14, kind 2, country 9 = 53. Anything out
  // of range takes the nested path (a row may then be split in two; DuckDB sums them).
  private flat = new Map<number, AggRow>();
  private countryIds = new Map<string, number>();
  private segmentIds = new Map<string, number>();
  private keyIds = new Map<string, number>();
  private readonly base: number;

  countEvent(bucket: number, country: string, kind: "chat" | "reaction" | "vote", key: string, total: number): void {
    const c = smallId(this.countryIds, country, 512);
    const s = smallId(this.segmentIds, this.segment, 256);
    const k = smallId(this.keyIds, key, 16_384);
    const b = (bucket - this.base) / this.w;
    if (c < 0 || s < 0 || k < 0 || !(b >= 0 && b < 1_048_576)) return this.add(bucket, country, this.segment, kind, key, 1, total);
    const id = (((b * 256 + s) * 16_384 + k) * 4 + (kind === "chat" ? 0 : kind === "reaction" ? 1 : 2)) * 512 + c;
    const row = this.flat.get(id);
    if (row) {
      row.n++;
      row.total += total;
      return;
    }
    const fresh: AggRow = { broadcast_id: this.id, stream_id: this.streamId, bucket, country, segment: this.segment, kind, key, n: 1, total };
    this.flat.set(id, fresh);
    this.rows.push(fresh);
  }

  chatter(bucket: number, v: Viewer, country: string, sentiment: number): void {
    const row = v.chatRow;
    if (row && v.chatGen === this.gen && row.bucket === bucket && row.country === country && row.segment === this.segment) {
      row.messages++;
      row.sentiment_sum += sentiment;
      return;
    }
    // A new window, segment or country: a new row (an older one met again is summed in DuckDB).
    v.chatGen = this.gen;
    v.chatRow = { broadcast_id: this.id, bucket, viewer_key: v.key, country, segment: this.segment, messages: 1, sentiment_sum: sentiment };
    this.chatters.push(v.chatRow);
  }

  /** Hands over the rows since the last call. */
  takeRows(): { rows: AggRow[]; chatters: ChatterRow[] } {
    const out = { rows: this.rows, chatters: this.chatters };
    this.rows = [];
    this.chatters = [];
    this.index = new Map();
    this.flat = new Map();
    this.gen++;
    return out;
  }

  advanceAll(t: number): void {
    for (; this.nextMinute < t; this.nextMinute += 60_000) if (this.all.count > 0) this.add(this.nextMinute, "", "", "present", "", this.all.count, 0);
    this.all.advance(t, (b, ms) => this.add(b, "", this.segment, "watch_all", "", 0, ms), (b, n) => this.add(b, "", this.segment, "conc_all", "", n, 0));
  }

  advanceCountry(country: string, g: Gauge, t: number): void {
    g.advance(t, (b, ms) => this.add(b, country, this.segment, "watch", "", 0, ms), (b, n) => this.add(b, country, this.segment, "conc", "", n, 0));
  }

  advanceEveryGauge(t: number): void {
    this.advanceAll(t);
    for (const [c, g] of this.byCountry) this.advanceCountry(c, g, t);
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
      this.add(b, "", this.segment, "peak", "", this.peak, 0);
    }
    if (this.segmentBegan) {
      this.segmentBegan = false;
      for (const v of this.present) this.seen.mark(v, "uv_s", this.segment);
    }
    for (const [v, country] of this.fresh) {
      if (!v.present) continue;
      this.seen.mark(v, "uv", "");
      this.seen.mark(v, "uv_s", this.segment);
      if (v.openIn.some(([c]) => c === country)) this.seen.mark(v, "uv_c", country);
    }
    this.fresh = [];
  }

  /**
   * Earlier runs' appearances, rows `from` to `to` (a huge broadcast's come in slices, so that the
   * socket thread is never held long): each marks its viewer as already counted, and one of this
   * run's held back meets it and is dropped.
   */
  priorRows(p: Prior, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const d = p.dim[i]!;
      const val = p.value[i]!;
      const v = this.viewer(p.viewer[i]!);
      const held = this.seen.pending?.get(v);
      if (held) {
        const j = held.findIndex((x) => x[0] === d && x[1] === val);
        if (j >= 0) held.splice(j, 1);
      }
      if (d === "uv") v.seen |= SEEN_UV;
      else if (d === "uc") {
        if (!(v.seen & SEEN_UC)) this.seen.chatters++;
        v.seen |= SEEN_UC;
      } else {
        const list = (v.seenIn ??= [[], [], [], []])[VALUED.indexOf(d)]!;
        if (!list.includes(val)) list.push(val);
      }
    }
  }

  /** Every earlier row has been read: what this run held back and did not meet there counts now. */
  priorDone(): void {
    const pending = this.seen.pending;
    this.seen.pending = null;
    for (const held of pending?.values() ?? []) for (const [d, val] of held) this.seen.bump(d, val);
  }
}
