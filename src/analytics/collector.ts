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
// - counts: per window x country x segment x kind x key (emoji, poll option);
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

/**
 * One viewer in one broadcast: their country (of their latest session), their presence, what they
 * have already been counted as (first appearances), and their current chatter row. Every event of
 * a viewer needs one map lookup to find this; with a million viewers, the per-dimension sets and
 * maps this replaced cost the socket thread several cache misses per event (bench, issue 6).
 */
interface Viewer {
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
  pending: Array<[Dim, string, Viewer]> | null = null;
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
    if (this.pending) this.pending.push([dim, value, v]);
    else this.bump(dim, value);
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
class Live {
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

  /** The country of a viewer's latest session ("" when they have none in this broadcast). */
  countryOf(key: string): string {
    return this.viewers.get(key)?.country ?? "";
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

  /** Earlier runs' appearances are known: those met again are not new; the rest held back are. */
  prior(rows: Prior): void {
    const pending = this.seen.pending ?? [];
    this.seen.pending = null;
    const before = new Set(rows.map(([d, val, k]) => `${d}\u0000${val}\u0000${k}`));
    for (const [d, val, v] of pending) if (!before.has(`${d}\u0000${val}\u0000${v.key}`)) this.seen.bump(d, val);
    for (const [d, val, k] of rows) {
      const v = this.viewer(k);
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
}

/**
 * A viewer's state in a live broadcast, for callers that keep it between events (the hub keeps one
 * per joined socket): their events then skip the lookups. Opaque outside this file.
 */
export interface Handle {
  readonly l: Live;
  readonly v: Viewer;
}

export class Collector {
  private live = new Map<string, Live>();
  private changed = new Set<SessionRow>(); // started or ended since the last drain
  private openSessions = 0;
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
    const l = this.live.get(broadcastId);
    if (l) l.seen.pending ??= [];
  }

  prior(broadcastId: string, rows: Prior): void {
    this.live.get(broadcastId)?.prior(rows);
  }

  segment(broadcastId: string, label: string, at: number): void {
    const l = this.live.get(broadcastId);
    if (!l || l.ended) return;
    const t = l.moveTo(at);
    l.advanceEveryGauge(t);
    l.segment = label;
    l.segmentBegan = true;
  }

  /** The viewer's state in a live broadcast (null when it is not live here). */
  handle(broadcastId: string, viewerKey: string): Handle | null {
    const l = this.live.get(broadcastId);
    return l && !l.ended ? { l, v: l.viewer(viewerKey) } : null;
  }

  /** Whether a kept handle still stands for this broadcast (it ends; a new one begins). */
  static fresh(h: Handle | null, broadcastId: string): h is Handle {
    return h !== null && h.l.id === broadcastId && !h.l.ended;
  }

  /** A reaction or a vote, in the country of the viewer's latest session. */
  count(broadcastId: string, viewerKey: string, kind: "reaction" | "vote", key: string, at: number): void {
    const l = this.live.get(broadcastId);
    if (!l || l.ended) return;
    l.countEvent(this.bucket(at), l.countryOf(viewerKey), kind, key, 0);
    this.events++;
  }

  countBy(h: Handle, kind: "reaction" | "vote", key: string, at: number): void {
    if (h.l.ended) return;
    h.l.countEvent(this.bucket(at), h.v.country, kind, key, 0);
    this.events++;
  }

  chat(broadcastId: string, viewerKey: string, sentiment: number, at: number): void {
    const h = this.handle(broadcastId, viewerKey);
    if (h) this.chatBy(h, sentiment, at);
  }

  chatBy(h: Handle, sentiment: number, at: number): void {
    const { l, v } = h;
    if (l.ended) return;
    const country = v.country;
    const b = this.bucket(at);
    l.countEvent(b, country, "chat", "", sentiment);
    this.events++;
    l.seen.mark(v, "uc", "");
    l.seen.mark(v, "uc_c", country);
    l.seen.mark(v, "uc_s", l.segment);
    l.chatter(b, v, country, sentiment);
  }

  /** A session (the hub's number `session`, stored as `id`) starts. */
  startSession(id: string, session: number, broadcastId: string, country: string, viewerKey: string, at: number): Handle | null {
    const l = this.live.get(broadcastId);
    if (!l || l.ended || l.sessions.has(session)) return null;
    const t = l.moveTo(at);
    const v = l.viewer(viewerKey);
    v.country = country;
    // (times as the rollups take them: a clock step back counts as no time)
    const row: SessionRow = { session_id: id, broadcast_id: broadcastId, stream_id: l.streamId, viewer_key: v.key, country, segment: l.segment, joined_at: t, left_at: null, last_seen: t };
    l.sessions.set(session, row);
    this.openSessions++;
    this.changed.add(row);
    l.add(this.bucket(t), country, l.segment, "join", "", 1, 0);
    this.events++;
    if (v.open++ === 0) {
      l.advanceAll(t);
      l.all.count++;
      v.present = true;
      l.present.add(v);
    }
    const inCountry = v.openIn.find((e) => e[0] === country);
    if (inCountry) inCountry[1]++;
    else {
      v.openIn.push([country, 1]);
      const g = l.gauge(country);
      l.advanceCountry(country, g, t);
      g.count++;
    }
    l.fresh.push([v, country]);
    return { l, v };
  }

  /** Ends a session; returns false when there was none (the viewer joined outside a broadcast). */
  endSession(broadcastId: string, session: number, at: number): boolean {
    const l = this.live.get(broadcastId);
    const s = l?.sessions.get(session);
    if (!l || !s) return false;
    l.sessions.delete(session);
    this.openSessions--;
    const t = l.moveTo(at);
    s.left_at = Math.max(t, s.joined_at);
    s.last_seen = s.left_at;
    this.changed.add(s);
    l.add(this.bucket(t), s.country, l.segment, "leave", "", 1, 0);
    this.events++;
    const v = l.viewers.get(s.viewer_key);
    if (!v) return true;
    const k = v.openIn.findIndex((e) => e[0] === s.country);
    if (k >= 0 && --v.openIn[k]![1] === 0) {
      v.openIn.splice(k, 1);
      const g = l.gauge(s.country);
      l.advanceCountry(s.country, g, t);
      g.count--;
    }
    if (--v.open === 0) {
      l.advanceAll(t);
      l.all.count--;
      v.present = false;
      l.present.delete(v);
    }
    return true;
  }

  /** The broadcast ended at `at`: its open sessions end, its counts are final; dropped at the next drain. */
  finish(broadcastId: string, at: number): void {
    const l = this.live.get(broadcastId);
    if (!l || l.ended) return;
    for (const session of [...l.sessions.keys()]) this.endSession(broadcastId, session, at);
    const t = l.moveTo(at);
    l.settle();
    l.advanceEveryGauge(t);
    l.ended = true;
  }

  /** Live numbers kept here: unique chatters so far (this run's and, once read, earlier runs'). */
  uniqueChatters(broadcastId: string): number {
    return this.live.get(broadcastId)?.seen.chatters ?? 0;
  }

  /** Moves every live broadcast's time to `now` (the rollups up to now, for a flush). */
  tick(now: number): void {
    for (const l of this.live.values()) if (!l.ended) l.advanceEveryGauge(l.moveTo(now));
  }

  /** A viewer's data is erased: their rows still in memory get an anonymous key. */
  anonymise(viewerKey: string, replacement: string): void {
    for (const s of this.changed) if (s.viewer_key === viewerKey) s.viewer_key = replacement;
    for (const l of this.live.values()) {
      for (const s of l.sessions.values()) if (s.viewer_key === viewerKey) s.viewer_key = replacement;
      for (const r of l.chatters) if (r.viewer_key === viewerKey) r.viewer_key = replacement;
      // The viewer may still be connected, and the hub knows them by the old id: the same state
      // stays reachable under it (not counted again), while rows from now on carry the new one.
      const v = l.viewers.get(viewerKey);
      if (v) {
        v.key = replacement;
        v.chatRow = null;
        l.viewers.set(replacement, v);
      }
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
      for (const [dim, value, n] of l.seen.take()) {
        l.add(this.bucket(now), dim.endsWith("_c") ? value : "", dim.endsWith("_s") ? value : "", dim, "", n, 0);
      }
      const taken = l.takeRows();
      for (const r of taken.rows) agg.push(r);
      for (const r of taken.chatters) chatters.push(r);
      // (an ended broadcast still waiting for its earlier runs' appearances stays until they land)
      if (l.ended && l.seen.pending === null) this.live.delete(id);
    }
    const touch = touchPrefix !== null && this.openSessions > 0 ? { prefix: touchPrefix, now } : null;
    const batch: FlushBatch = { id: this.nextId++, agg, chatters, sessions, touch, events: this.events };
    this.changed = new Set();
    this.events = 0;
    return batch;
  }
}
