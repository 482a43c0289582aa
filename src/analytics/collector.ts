// In-memory aggregation of viewer events, per broadcast, bucketed by the aggregation window. Every
// event is a map increment here; `drain()` hands everything gathered since the last flush to the
// DuckDB worker as a few rows. Pure data: no timers, no I/O.
//
// The report and the series read rollups kept here as the events happen, not the raw sessions: with
// one DuckDB thread, recomputing each viewer's merged presence from a million sessions takes seconds,
// and even a COUNT(DISTINCT) over millions of rows takes a few hundred milliseconds (bench/RESULTS.md,
// issue 6). So, per broadcast:
// - presence: a viewer is present while at least one of their sessions is open (two tabs or a quick
//   rejoin count once); per country, while one of their sessions from that country is open. Gauges
//   integrate those counts into watch time per window x country x segment, sample them at every
//   window boundary (concurrency series), at every minute since the start (retention) and keep the
//   peak per window. A count at an instant is the one after all events of that instant.
// - uniques: the first time a viewer is present (at all, from a country, in a segment) or chats (at
//   all, from a country, in a segment) is counted once; later ones are not. Distinct counts stay
//   exact under any filter this way, and the report sums a few rows.
// - counts: per window x country x segment x kind x key (emoji, poll option), as before;
// - chatters: one row per chatter per window (unique chatters over any time range = COUNT DISTINCT);
// - sessions: one row per viewer session (a socket's stay in a stream during a broadcast), written
//   when it starts and again when it ends, so a crash loses at most one flush interval.

export type Kind =
  | "join" | "leave" | "chat" | "reaction" | "vote"
  // rollups: watch time (total = ms) per country / overall; presence samples (n) at window starts per
  // country / overall; the peak per window; presence at each minute since the start (bucket = the instant)
  | "watch" | "watch_all" | "conc" | "conc_all" | "peak" | "present"
  // first appearances: viewers overall / per country / per segment, chatters likewise
  | Dim;

export type Dim = "uv" | "uv_c" | "uv_s" | "uc" | "uc_c" | "uc_s";
const DIMS: readonly Dim[] = ["uv", "uv_c", "uv_s", "uc", "uc_c", "uc_s"];

export interface AggRow {
  broadcast_id: string;
  stream_id: string;
  bucket: number; // ms, a multiple of the window ("present": the minute's instant)
  country: string;
  segment: string;
  kind: Kind;
  key: string;
  n: number;
  total: number; // chat: sentiment sum; watch: milliseconds
}

export interface ChatterRow {
  broadcast_id: string;
  bucket: number;
  viewer_key: string;
  country: string;
  segment: string;
  messages: number;
  sentiment_sum: number;
}

export interface SessionRow {
  session_id: string;
  broadcast_id: string;
  stream_id: string;
  viewer_key: string;
  country: string;
  segment: string;
  joined_at: number;
  left_at: number | null;
  last_seen: number;
}

export interface FlushBatch {
  id: number;
  agg: AggRow[];
  chatters: ChatterRow[];
  /** Sessions started or ended since the last flush (not every open one: that cost grew with the audience). */
  sessions: SessionRow[];
  /** Every open session whose id starts with `prefix` was still open at `now`: one UPDATE in DuckDB. */
  touch: { prefix: string; now: number } | null;
  events: number;
}

/** What earlier runs of the server stored for a broadcast still live: its first appearances. */
export type Prior = Array<[Dim, string, string]>; // dim, value (country or segment, "" for overall), viewer

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

/** First appearances per dimension; while the broadcast's earlier runs are being read, new ones wait. */
class Uniques {
  private sets = new Map<Dim, Map<string, Set<string>>>(DIMS.map((d) => [d, new Map()]));
  private fresh = new Map<Dim, Map<string, number>>(DIMS.map((d) => [d, new Map()]));
  private pending: Array<[Dim, string, string]> | null = null;

  add(dim: Dim, value: string, viewer: string): void {
    const byValue = this.sets.get(dim)!;
    let set = byValue.get(value);
    if (!set) byValue.set(value, (set = new Set()));
    if (set.has(viewer)) return;
    set.add(viewer);
    if (this.pending) this.pending.push([dim, value, viewer]);
    else this.bump(dim, value, 1);
  }

  size(dim: Dim, value = ""): number {
    return this.sets.get(dim)!.get(value)?.size ?? 0;
  }

  awaitPrior(): void {
    this.pending ??= [];
  }

  /** Earlier runs' appearances are known: those seen again are not new; the rest waiting are. */
  prior(rows: Prior): void {
    const waiting = new Set((this.pending ?? []).map(([d, v, k]) => `${d}\u0000${v}\u0000${k}`));
    for (const [d, v, k] of rows) {
      if (waiting.delete(`${d}\u0000${v}\u0000${k}`)) continue;
      const byValue = this.sets.get(d)!;
      let set = byValue.get(v);
      if (!set) byValue.set(v, (set = new Set()));
      set.add(k);
    }
    for (const key of waiting) {
      const [d, v] = key.split("\u0000") as [Dim, string];
      this.bump(d, v, 1);
    }
    this.pending = null;
  }

  rename(from: string, to: string): void {
    for (const byValue of this.sets.values()) for (const set of byValue.values()) if (set.delete(from)) set.add(to);
    if (this.pending) for (const p of this.pending) if (p[2] === from) p[2] = to;
  }

  private bump(dim: Dim, value: string, n: number): void {
    const m = this.fresh.get(dim)!;
    m.set(value, (m.get(value) ?? 0) + n);
  }

  /** New appearances since the last call, per dimension and value. */
  take(): Array<[Dim, string, number]> {
    const out: Array<[Dim, string, number]> = [];
    for (const [d, m] of this.fresh) {
      for (const [v, n] of m) out.push([d, v, n]);
      m.clear();
    }
    return out;
  }
}

/** The map under `key`, created on first use (nested maps: no string key built per event). */
function level<K, V>(m: Map<K, Map<any, V> | any>, key: K): Map<any, any> {
  let next = m.get(key);
  if (next === undefined) m.set(key, (next = new Map()));
  return next;
}

interface Presence {
  open: number;
  countries: Map<string, number>; // open sessions per country
}

/** One live broadcast's running state. */
class Live {
  segment: string;
  readonly viewers = new Map<string, Presence>();
  readonly all: Gauge;
  readonly byCountry = new Map<string, Gauge>();
  readonly uniques = new Uniques();
  /** The latest instant with events; its counts are final once time moves past it. */
  instant: number;
  /** Presence that began at `instant` ([viewer, country]); counted as a viewer only if it lasts. */
  fresh: Array<[string, string]> = [];
  segmentBegan = false;
  nextMinute: number;
  peakBucket = -1;
  peak = 0;
  ended = false;
  /** Rows since the last drain, and an index to find them without building a string key per event. */
  rows: AggRow[] = [];
  private index = new Map<Kind, Map<number, Map<string, Map<string, Map<string, AggRow>>>>>();
  chatters: ChatterRow[] = [];
  private chatterIndex = new Map<number, Map<string, Map<string, Map<string, ChatterRow>>>>();

  constructor(readonly id: string, readonly streamId: string, readonly startedAt: number, segment: string, at: number, private w: number) {
    this.segment = segment;
    this.instant = at;
    this.all = new Gauge(w, at);
    // Retention instants: every whole minute since the start, from now on (a restart mid-broadcast
    // finds the earlier minutes stored by the earlier run).
    this.nextMinute = startedAt + Math.max(0, Math.ceil((at - startedAt) / 60_000)) * 60_000;
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

  chatter(bucket: number, country: string, viewer: string, sentiment: number): void {
    const byViewer = level(level(level(this.chatterIndex, bucket), country), this.segment);
    const row = byViewer.get(viewer);
    if (row) {
      row.messages++;
      row.sentiment_sum += sentiment;
      return;
    }
    const fresh: ChatterRow = { broadcast_id: this.id, bucket, viewer_key: viewer, country, segment: this.segment, messages: 1, sentiment_sum: sentiment };
    byViewer.set(viewer, fresh);
    this.chatters.push(fresh);
  }

  renameChatter(from: string, to: string): void {
    for (const r of this.chatters) if (r.viewer_key === from) r.viewer_key = to;
    // (the index is keyed by the old id: a later message of `to` starts a row of its own, summed in DuckDB)
  }

  /** Hands over the rows since the last call. */
  takeRows(): { rows: AggRow[]; chatters: ChatterRow[] } {
    const out = { rows: this.rows, chatters: this.chatters };
    this.rows = [];
    this.chatters = [];
    this.index = new Map();
    this.chatterIndex = new Map();
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
      for (const v of this.viewers.keys()) this.uniques.add("uv_s", this.segment, v);
    }
    for (const [v, country] of this.fresh) {
      const p = this.viewers.get(v);
      if (!p) continue;
      this.uniques.add("uv", "", v);
      this.uniques.add("uv_s", this.segment, v);
      if ((p.countries.get(country) ?? 0) > 0) this.uniques.add("uv_c", country, v);
    }
    this.fresh = [];
  }
}

export class Collector {
  private live = new Map<string, Live>();
  private open = new Map<string, SessionRow>();
  private changed = new Set<SessionRow>(); // started or ended since the last drain
  private events = 0;
  private nextId: number;
  readonly firstFlushId: number;

  constructor(
    readonly windowMs: number,
    startId = Date.now() * 1000, // flush ids stay unique across restarts, and grow with each run
  ) {
    this.nextId = startId;
    this.firstFlushId = startId;
  }

  bucket(at: number): number {
    return at - (at % this.windowMs);
  }

  /** A broadcast is live (first seen by this run of the server): its running state starts at `at`. */
  begin(broadcastId: string, streamId: string, startedAt: number, segment: string, at: number): void {
    if (!this.live.has(broadcastId)) this.live.set(broadcastId, new Live(broadcastId, streamId, startedAt, segment, at, this.windowMs));
  }

  /** Earlier runs stored part of this broadcast: appearances wait for `prior()` before they count. */
  awaitPrior(broadcastId: string): void {
    this.live.get(broadcastId)?.uniques.awaitPrior();
  }

  prior(broadcastId: string, rows: Prior): void {
    this.live.get(broadcastId)?.uniques.prior(rows);
  }

  segment(broadcastId: string, label: string, at: number): void {
    const l = this.live.get(broadcastId);
    if (!l || l.ended) return;
    const t = l.moveTo(at);
    l.advanceEveryGauge(t);
    l.segment = label;
    l.segmentBegan = true;
  }

  count(broadcastId: string, country: string, kind: "reaction" | "vote", key: string, at: number): void {
    const l = this.live.get(broadcastId);
    if (!l || l.ended) return;
    l.add(this.bucket(at), country, l.segment, kind, key, 1, 0);
    this.events++;
  }

  chat(broadcastId: string, country: string, viewerKey: string, sentiment: number, at: number): void {
    const l = this.live.get(broadcastId);
    if (!l || l.ended) return;
    const b = this.bucket(at);
    l.add(b, country, l.segment, "chat", "", 1, sentiment);
    this.events++;
    l.uniques.add("uc", "", viewerKey);
    l.uniques.add("uc_c", country, viewerKey);
    l.uniques.add("uc_s", l.segment, viewerKey);
    l.chatter(b, country, viewerKey, sentiment);
  }

  startSession(id: string, broadcastId: string, country: string, viewerKey: string, at: number): void {
    const l = this.live.get(broadcastId);
    if (!l || l.ended || this.open.has(id)) return;
    const t = l.moveTo(at);
    const row: SessionRow = { session_id: id, broadcast_id: broadcastId, stream_id: l.streamId, viewer_key: viewerKey, country, segment: l.segment, joined_at: at, left_at: null, last_seen: at };
    this.open.set(id, row);
    this.changed.add(row);
    l.add(this.bucket(at), country, l.segment, "join", "", 1, 0);
    this.events++;
    let p = l.viewers.get(viewerKey);
    if (!p) {
      l.viewers.set(viewerKey, (p = { open: 0, countries: new Map() }));
      l.advanceAll(t);
      l.all.count++;
    }
    p.open++;
    const inCountry = p.countries.get(country) ?? 0;
    p.countries.set(country, inCountry + 1);
    if (inCountry === 0) {
      const g = l.gauge(country);
      l.advanceCountry(country, g, t);
      g.count++;
    }
    l.fresh.push([viewerKey, country]);
  }

  /** Ends a session; returns false when there was none (the viewer joined outside a broadcast). */
  endSession(id: string, at: number): boolean {
    const s = this.open.get(id);
    if (!s) return false;
    this.open.delete(id);
    s.left_at = Math.max(at, s.joined_at);
    s.last_seen = s.left_at;
    this.changed.add(s);
    const l = this.live.get(s.broadcast_id);
    if (!l) return true;
    const t = l.moveTo(at);
    l.add(this.bucket(at), s.country, l.segment, "leave", "", 1, 0);
    this.events++;
    const p = l.viewers.get(s.viewer_key);
    if (!p) return true;
    const inCountry = p.countries.get(s.country) ?? 0;
    if (inCountry <= 1) {
      p.countries.delete(s.country);
      const g = l.gauge(s.country);
      l.advanceCountry(s.country, g, t);
      g.count--;
    } else p.countries.set(s.country, inCountry - 1);
    if (--p.open === 0) {
      l.viewers.delete(s.viewer_key);
      l.advanceAll(t);
      l.all.count--;
    }
    return true;
  }

  /** The broadcast ended at `at`: its open sessions end, its counts are final; dropped at the next drain. */
  finish(broadcastId: string, at: number): void {
    const l = this.live.get(broadcastId);
    if (!l || l.ended) return;
    for (const s of [...this.open.values()]) if (s.broadcast_id === broadcastId) this.endSession(s.session_id, at);
    const t = l.moveTo(at);
    l.settle();
    l.advanceEveryGauge(t);
    l.ended = true;
  }

  /** Live numbers kept here: unique chatters so far (this run's and, once read, earlier runs'). */
  uniqueChatters(broadcastId: string): number {
    return this.live.get(broadcastId)?.uniques.size("uc") ?? 0;
  }

  /** Moves every live broadcast's time to `now` (retention minutes and samples do not wait for an event). */
  tick(now: number): void {
    for (const l of this.live.values()) if (!l.ended) l.advanceEveryGauge(l.moveTo(now));
  }

  /** A viewer's data is erased: their rows still in memory get an anonymous key. */
  anonymise(viewerKey: string, replacement: string): void {
    for (const s of this.open.values()) if (s.viewer_key === viewerKey) s.viewer_key = replacement;
    for (const s of this.changed) if (s.viewer_key === viewerKey) s.viewer_key = replacement;
    for (const l of this.live.values()) {
      l.renameChatter(viewerKey, replacement);
      l.uniques.rename(viewerKey, replacement);
      const p = l.viewers.get(viewerKey);
      if (p) {
        l.viewers.delete(viewerKey);
        l.viewers.set(replacement, p);
      }
      for (const f of l.fresh) if (f[0] === viewerKey) f[0] = replacement;
    }
  }

  get pendingEvents(): number {
    return this.events;
  }

  /**
   * Everything since the last drain: counts and rollups, chatters, and the sessions that started or
   * ended. Open sessions are not listed one by one: `touchPrefix` (this process's session-id prefix)
   * lets the worker mark all of them as still open at `now` with one statement.
   */
  drain(now: number, touchPrefix: string | null = null): FlushBatch {
    this.tick(now);
    const sessions: SessionRow[] = [];
    for (const s of this.changed) {
      if (s.left_at === null) s.last_seen = Math.max(s.last_seen, now);
      sessions.push({ ...s });
    }
    const agg: AggRow[] = [];
    const chatters: ChatterRow[] = [];
    for (const [id, l] of this.live) {
      for (const [dim, value, n] of l.uniques.take()) {
        l.add(this.bucket(now), dim.endsWith("_c") ? value : "", dim.endsWith("_s") ? value : "", dim, "", n, 0);
      }
      const taken = l.takeRows();
      for (const r of taken.rows) agg.push(r);
      for (const r of taken.chatters) chatters.push(r);
      if (l.ended) this.live.delete(id);
    }
    const touch = touchPrefix !== null && this.open.size > 0 ? { prefix: touchPrefix, now } : null;
    const batch: FlushBatch = { id: this.nextId++, agg, chatters, sessions, touch, events: this.events };
    this.changed = new Set();
    this.events = 0;
    return batch;
  }
}
