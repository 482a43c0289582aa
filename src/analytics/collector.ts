// In-memory aggregation of viewer events, per broadcast, bucketed by the aggregation window. Every
// event is a counter increment here (live.ts keeps them in a flat typed table); `drain()` hands
// everything gathered since the last flush to the DuckDB worker as a few rows. Pure data: no
// timers, no I/O.
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

import { BatchWriter, type WireBatch } from "./batch.ts";
import { Ids } from "./counts.ts";
import { D, K, Live, hasChatted, type Session, type Viewer } from "./live.ts";

export type Kind =
  | "join" | "leave" | "chat" | "reaction" | "vote"
  // rollups: watch time (total = ms) per country / overall; presence samples (n) at window starts per
  // country / overall; the peak per window; presence at each minute since the start (bucket = the instant)
  | "watch" | "watch_all" | "conc" | "conc_all" | "peak" | "present"
  // first appearances: viewers overall / per country / per segment, chatters likewise
  | Dim;

export type Dim = "uv" | "uv_c" | "uv_s" | "uc" | "uc_c" | "uc_s";

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

/** Every open session whose id starts with `prefix` was still open at `now`: one UPDATE in DuckDB. */
export type Touch = { prefix: string; now: number } | null;

/** What earlier runs of the server stored for a broadcast still live: its first appearances, as columns. */
export interface Prior {
  dim: Dim[];
  value: string[]; // country or segment ("" for the overall dimensions)
  viewer: string[];
}

/**
 * A viewer's state in a live broadcast, for callers that keep it between events (the hub keeps one
 * per joined socket): their events then skip the lookups. Opaque outside this file.
 */
export type Handle = Viewer;

export class Collector {
  private live = new Map<string, Live>();
  private countries = new Ids([""]);
  private changed: Session[] = []; // started or ended since the last drain
  private gen = 1;
  private openSessions = 0;
  private events = 0;
  private nextId: number;
  readonly firstFlushId: number;

  constructor(
    readonly windowMs: number,
    startId: number, // flush ids stay unique across restarts, and grow with each run (flush-ids.ts)
  ) {
    this.nextId = startId;
    this.firstFlushId = startId;
  }

  bucket(at: number): number {
    return at - (at % this.windowMs);
  }

  /** A broadcast is live (first seen by this run of the server): its running state starts at `at`. */
  begin(broadcastId: string, streamId: string, startedAt: number, segment: string, at: number): void {
    if (this.live.has(broadcastId)) return;
    const l = new Live(broadcastId, streamId, startedAt, segment, at, this.windowMs, this.countries);
    this.live.set(broadcastId, l);
  }

  /** Earlier runs stored part of this broadcast: appearances wait for `priorDone()` before they count. */
  awaitPrior(broadcastId: string): void {
    const l = this.live.get(broadcastId);
    if (l) l.seen.pending ??= new Map();
  }

  /** Earlier runs' appearances, rows `from` to `to`; then `priorDone`. */
  priorRows(broadcastId: string, rows: Prior, from = 0, to = rows.dim.length): void {
    this.live.get(broadcastId)?.priorRows(rows, from, to);
  }

  priorDone(broadcastId: string): void {
    this.live.get(broadcastId)?.priorDone();
  }

  segment(broadcastId: string, label: string, at: number): void {
    const l = this.live.get(broadcastId);
    if (!l || l.ended) return;
    const t = l.moveTo(at);
    l.advanceEveryGauge(t);
    l.setSegment(label);
  }

  /** The viewer's state in a live broadcast (null when it is not live here). */
  handle(broadcastId: string, viewerKey: string): Handle | null {
    const l = this.live.get(broadcastId);
    return l && !l.ended ? l.viewer(viewerKey) : null;
  }

  /** Whether a kept handle still stands for this broadcast (it ends; a new one begins). */
  static fresh(h: Handle | null, broadcastId: string): h is Handle {
    return h !== null && h.l.id === broadcastId && !h.l.ended;
  }

  /** A reaction or a vote, in the country of the viewer's latest session. */
  countBy(v: Handle, kind: "reaction" | "vote", key: string, at: number): void {
    const l = v.l;
    if (l.ended) return;
    l.count(this.bucket(at), kind === "reaction" ? K.reaction : K.vote, v.c, l.seg, l.keys.id(key), 1, 0);
    this.events++;
  }

  chatBy(v: Handle, sentiment: number, at: number): void {
    const l = v.l;
    if (l.ended) return;
    const b = this.bucket(at);
    l.count(b, K.chat, v.c, l.seg, 0, 1, sentiment);
    this.events++;
    l.seen.mark(v, D.uc, 0);
    l.seen.mark(v, D.uc_c, v.c);
    l.seen.mark(v, D.uc_s, l.seg);
    l.chatter(b, v, v.c, sentiment);
  }

  private queue(s: Session): void {
    if (s.queued === this.gen) return;
    s.queued = this.gen;
    this.changed.push(s);
  }

  /** A session (the hub's number `session`, stored as `id`) starts. */
  startSession(id: string, session: number, broadcastId: string, country: string, viewerKey: string, at: number): Handle | null {
    const l = this.live.get(broadcastId);
    if (!l || l.ended || l.sessions.has(session)) return null;
    const t = l.moveTo(at);
    const v = l.viewer(viewerKey);
    const c = this.countries.id(country);
    v.c = c;
    // (times as the rollups take them: a clock step back counts as no time)
    const s: Session = { id, v, c, segment: l.segment, joinedAt: t, leftAt: null, lastSeen: t, queued: 0 };
    l.sessions.set(session, s);
    this.openSessions++;
    this.queue(s);
    l.count(this.bucket(t), K.join, c, l.seg, 0, 1, 0);
    this.events++;
    l.arrive(v, c, t);
    return v;
  }

  /** Ends a session; returns false when there was none (the viewer joined outside a broadcast). */
  endSession(broadcastId: string, session: number, at: number): boolean {
    const l = this.live.get(broadcastId);
    const s = l?.sessions.get(session);
    if (!l || !s) return false;
    l.sessions.delete(session);
    this.openSessions--;
    const t = l.moveTo(at);
    s.leftAt = Math.max(t, s.joinedAt);
    s.lastSeen = s.leftAt;
    this.queue(s);
    l.count(this.bucket(t), K.leave, s.c, l.seg, 0, 1, 0);
    this.events++;
    l.depart(s.v, s.c, t);
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

  /**
   * A viewer whose key is never seen again (a guest's socket closed: guests are one viewer per
   * socket): their state goes, so that a 24/7 broadcast does not keep every guest it ever had. Events
   * already on their way hold the state itself (a tap, a delayed message) and still count once. A guest
   * who chatted is kept (as signed-in viewers are): a held message of theirs approved after the socket
   * closed comes by key, and a fresh state would count them as a second unique chatter.
   */
  forget(viewerKey: string): void {
    for (const l of this.live.values()) {
      const v = l.viewers.get(viewerKey);
      if (!v || v.open > 0 || hasChatted(v)) continue;
      l.viewers.delete(viewerKey);
      if (l.viewers.get(v.key) === v) l.viewers.delete(v.key); // (an erased viewer's other key)
    }
  }

  /** How many viewers a live broadcast keeps state for (tests, metrics). */
  trackedViewers(broadcastId: string): number {
    return new Set(this.live.get(broadcastId)?.viewers.values() ?? []).size;
  }

  /** Live numbers kept here: unique chatters so far (this run's and, once read, earlier runs'). */
  /** The segment in force in a live broadcast ("" before the first mark, or when not live here). */
  segmentOf(broadcastId: string): string {
    return this.live.get(broadcastId)?.segment ?? "";
  }

  uniqueChatters(broadcastId: string): number {
    return this.live.get(broadcastId)?.seen.chatters ?? 0;
  }

  /** Moves every live broadcast's time to `now` (the rollups up to now, for a flush). */
  tick(now: number): void {
    for (const l of this.live.values()) if (!l.ended) l.advanceEveryGauge(l.moveTo(now));
  }

  /** A viewer's data is erased: their rows still in memory get an anonymous key. */
  anonymise(viewerKey: string, replacement: string): void {
    // Rows not drained yet read their viewer's key at the drain: renaming the viewer renames them,
    // also for a viewer already forgotten (a guest gone) whose ended session or chatter row waits.
    const rename = (v: Viewer) => {
      if (v.key === viewerKey) v.key = replacement;
    };
    for (const s of this.changed) rename(s.v);
    for (const l of this.live.values()) {
      for (const v of l.chattersPending()) rename(v);
      // The viewer may still be connected, and the hub knows them by the old id: the same state
      // stays reachable under it (not counted again), and rows from now on carry the new one. Erased
      // again later: they keep the first anonymous key (a second one would split them in two).
      const v = l.viewers.get(viewerKey);
      if (v && v.key === viewerKey) {
        v.key = replacement;
        l.viewers.set(replacement, v);
      }
    }
  }

  get pendingEvents(): number {
    return this.events;
  }

  /**
   * Everything since the last drain, as the worker's columns: counts and rollups, chatters, and the
   * sessions that started or ended (not every open one: that cost grew with the audience).
   * `touchPrefix` (this process's session-id prefix) lets the worker mark all open sessions as still
   * open at `now` with one statement.
   */
  drain(now: number, touchPrefix: string | null = null): WireBatch {
    this.tick(now);
    const id = this.nextId++;
    const w = new BatchWriter();
    const countryWire: number[] = []; // country id -> string id in this batch
    for (const s of this.changed) {
      if (s.leftAt === null) s.lastSeen = Math.max(s.lastSeen, now);
      const l = s.v.l;
      w.sessionRow(s.id, w.str(l.id), w.str(l.streamId), l.wireViewer(w, s.v, id), l.wireCountry(w, countryWire, s.c), w.str(s.segment), s.joinedAt, s.leftAt, s.lastSeen);
    }
    for (const [bid, l] of this.live) {
      for (const [dim, value, n] of l.seen.take()) {
        l.count(this.bucket(now), K[dim], dim.endsWith("_c") ? value : 0, dim.endsWith("_s") ? value : 0, 0, n, 0);
      }
      l.takeRows(w, countryWire, id);
      // (an ended broadcast still waiting for its earlier runs' appearances stays until they land)
      if (l.ended && l.seen.pending === null) this.live.delete(bid);
    }
    const touch = touchPrefix !== null && this.openSessions > 0 ? { prefix: touchPrefix, now } : null;
    const batch = w.done(id, this.events, touch);
    this.changed = [];
    this.gen++;
    this.events = 0;
    return batch;
  }
}
