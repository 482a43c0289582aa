// In-memory aggregation of viewer events, per broadcast, bucketed by the aggregation window. Every
// event is a map increment here; `drain()` hands everything gathered since the last flush to the
// DuckDB worker as a few rows. Pure data: no timers, no I/O.
//
// Rows kept, so that distinct counts stay exact under any filter:
// - agg: counts (and sums) per bucket x country x segment x kind x key (emoji, poll option);
// - chatters: one row per chatter per bucket (unique chatters = COUNT DISTINCT over any filter);
// - sessions: one row per viewer session (a socket's stay in a stream during a broadcast), written
//   while open (with last_seen) and again when it ends, so a crash loses at most one flush interval.

export type Kind = "join" | "leave" | "chat" | "reaction" | "vote";

export interface Ctx {
  broadcastId: string;
  streamId: string;
  country: string; // ISO code, or "" when unknown
  segment: string; // the content segment in force, "" before the first
}

export interface AggRow {
  broadcast_id: string;
  stream_id: string;
  bucket: number; // ms, a multiple of the window
  country: string;
  segment: string;
  kind: Kind;
  key: string;
  n: number;
  total: number; // chat: sentiment sum
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

export class Collector {
  private agg = new Map<string, AggRow>();
  private chatters = new Map<string, ChatterRow>();
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

  count(c: Ctx, kind: Kind, key: string, at: number, total = 0): void {
    const b = this.bucket(at);
    const k = `${c.broadcastId}\u0000${b}\u0000${c.country}\u0000${c.segment}\u0000${kind}\u0000${key}`;
    const row = this.agg.get(k);
    if (row) {
      row.n++;
      row.total += total;
    } else this.agg.set(k, { broadcast_id: c.broadcastId, stream_id: c.streamId, bucket: b, country: c.country, segment: c.segment, kind, key, n: 1, total });
    this.events++;
  }

  chat(c: Ctx, viewerKey: string, sentiment: number, at: number): void {
    this.count(c, "chat", "", at, sentiment);
    const b = this.bucket(at);
    const k = `${c.broadcastId}\u0000${b}\u0000${viewerKey}\u0000${c.country}\u0000${c.segment}`;
    const row = this.chatters.get(k);
    if (row) {
      row.messages++;
      row.sentiment_sum += sentiment;
    } else this.chatters.set(k, { broadcast_id: c.broadcastId, bucket: b, viewer_key: viewerKey, country: c.country, segment: c.segment, messages: 1, sentiment_sum: sentiment });
  }

  startSession(id: string, c: Ctx, viewerKey: string, at: number): void {
    if (this.open.has(id)) return;
    const row: SessionRow = { session_id: id, broadcast_id: c.broadcastId, stream_id: c.streamId, viewer_key: viewerKey, country: c.country, segment: c.segment, joined_at: at, left_at: null, last_seen: at };
    this.open.set(id, row);
    this.changed.add(row);
    this.count(c, "join", "", at);
  }

  /** Ends a session; returns false when there was none (the viewer joined outside a broadcast). */
  endSession(id: string, at: number, segment: string): boolean {
    const s = this.open.get(id);
    if (!s) return false;
    this.open.delete(id);
    s.left_at = Math.max(at, s.joined_at);
    s.last_seen = s.left_at;
    this.changed.add(s);
    this.count({ broadcastId: s.broadcast_id, streamId: s.stream_id, country: s.country, segment }, "leave", "", at);
    return true;
  }

  /** Open sessions of a broadcast (for ending them all when it ends). */
  openSessionsOf(broadcastId: string): string[] {
    const out: string[] = [];
    for (const s of this.open.values()) if (s.broadcast_id === broadcastId) out.push(s.session_id);
    return out;
  }

  /** A viewer's data is erased: their rows still in memory get an anonymous key. */
  anonymise(viewerKey: string, replacement: string): void {
    for (const s of this.open.values()) if (s.viewer_key === viewerKey) s.viewer_key = replacement;
    for (const s of this.changed) if (s.viewer_key === viewerKey) s.viewer_key = replacement;
    for (const r of this.chatters.values()) if (r.viewer_key === viewerKey) r.viewer_key = replacement;
  }

  get pendingEvents(): number {
    return this.events;
  }

  /**
   * Everything since the last drain: counts, chatters, and the sessions that started or ended. Open
   * sessions are not listed one by one: `touchPrefix` (this process's session-id prefix) lets the
   * worker mark all of them as still open at `now` with one statement.
   */
  drain(now: number, touchPrefix: string | null = null): FlushBatch {
    const sessions: SessionRow[] = [];
    for (const s of this.changed) {
      if (s.left_at === null) s.last_seen = Math.max(s.last_seen, now);
      sessions.push({ ...s });
    }
    const touch = touchPrefix !== null && this.open.size > 0 ? { prefix: touchPrefix, now } : null;
    const batch: FlushBatch = { id: this.nextId++, agg: [...this.agg.values()], chatters: [...this.chatters.values()], sessions, touch, events: this.events };
    this.agg = new Map();
    this.chatters = new Map();
    this.changed = new Set();
    this.events = 0;
    return batch;
  }
}
