// Analytics: the only door. Captures viewer events (sessions, chat, reactions, votes) per
// broadcast into the in-memory Collector, keeps the live numbers, and every flush interval hands
// the aggregates to the analytics worker, which owns the DuckDB file. A flushed batch stays here
// until the worker says it is stored; a restarted worker gets it again and its id keeps it from
// being counted twice. A crash of the whole process loses at most one flush interval.
import type { Database } from "bun:sqlite";
import { join } from "node:path";
import { ok, refuse, type Refusal, type Result } from "../errors.ts";
import type { Logger } from "../runtime/logger.ts";
import { Supervisor, type FaultKind } from "../runtime/supervisor.ts";
import { iso, parseRfc3339, type Clock } from "../runtime/time.ts";
import type { PollView } from "../polls/index.ts";
import type { BroadcastRecord, StreamRecord } from "../streams/index.ts";
import type { FromAnalytics, ToAnalytics } from "./analytics.worker.ts";
import { postable, renameViewer, type WireBatch } from "./batch.ts";
import { Collector, type Handle, type Prior } from "./collector.ts";
import { ErasureLog, type PendingErasure } from "./erasures.ts";
import { reserveFlushIds } from "./flush-ids.ts";
import { countryOf } from "./geo.ts";
import { METRICS, type Metric, type Scope } from "./queries.ts";
import { sentimentOf } from "./sentiment.ts";

export { countryOf } from "./geo.ts";

export interface AnalyticsOptions {
  dataDir: string;
  clock: Clock;
  logger: Logger;
  windowMs: number;
  flushMs: number;
  faults?: boolean;
  /** The live-state database: erasures wait there until DuckDB has them (erasures.ts). */
  db: Database;
  /** Tests only: how long the worker may be silent before it is replaced (default 120 s). */
  unresponsiveMs?: number;
  /** Poll results (polls domain), for the report; none without it (tests and benchmarks of the door alone). */
  polls?: { openedDuring(streamId: string, from: number, to: number): PollView[] };
  /** Broadcast rows and segment marks live in SQLite (streams domain). */
  broadcasts: {
    findBroadcast(id: string): BroadcastRecord | undefined;
    segmentsOf(id: string): Array<{ label: string; started_at: number }>;
    findById(id: string): StreamRecord | undefined;
  };
}

/**
 * A socket's stay in a stream as analytics sees it: handed to the hub at join and passed back with
 * that socket's events, so that they skip looking the viewer up (a cache miss or several per event
 * with a large audience; bench/RESULTS.md, issue 6). Opaque to the hub.
 */
export interface Tap {
  viewerKey: string;
  country: string;
  handle: Handle | null; // the viewer's state in the stream's live broadcast, once known
}

interface LiveStream {
  broadcastId: string;
  startedAt: number;
  chatPerSec: Int32Array; // ring of per-second counts over the last minute
  reactPerSec: Int32Array;
  ringSec: number; // the second the ring's head stands for
  seeding: Promise<void> | null; // counts of this broadcast stored by an earlier run of the server
  since: number; // when this run's rollups of it start: the go-live, or this run's first sight of it
  messages: number;
  reactions: number;
  sentimentSum: number;
  peak: number;
}

export interface LiveMetrics {
  stream: string;
  broadcast_id: string | null;
  live: boolean;
  concurrent_viewers: number;
  peak_concurrent_viewers: number;
  chat_messages_per_minute: number;
  reactions_per_minute: number;
  unique_chatters: number;
  messages: number;
  reactions: number;
  average_sentiment: number | null;
  segment: string | null;
}

const STOP_FLUSH_TIMEOUT_MS = 15_000;
const SERIES_PARAMS = new Set(["metric", "bucket_s", "from", "to", "country", "segment", "group_by", "format"]);
const PRIOR_SLICE = 20_000; // earlier runs' appearances handled per event-loop turn

function unavailable(e: unknown): Refusal {
  return refuse("unavailable", `analytics could not answer: ${(e as Error)?.message ?? e}`);
}

/** A query message without its id (the door numbers them). */
type Request = ToAnalytics extends infer U ? (U extends { id: number } ? Omit<U, "id"> : never) : never;

export class Analytics {
  private collector: Collector;
  private present = new Map<string, Map<number, Tap>>(); // stream id -> session no -> who
  private live = new Map<string, LiveStream>(); // stream id -> its live broadcast
  private unflushed: WireBatch[] = [];
  private failed = new Set<number>(); // ids of unflushed batches the worker could not store
  private stopping = false;
  private workerStopped = false;
  private nextReq = 1;
  private waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private flushWaiters: Array<{ until: number; resolve: () => void }> = [];
  private worker: Supervisor<ToAnalytics, FromAnalytics>;
  private flushTimer: ReturnType<typeof setInterval> | null = null;
  private secondTimer: ReturnType<typeof setInterval> | null = null;
  private concurrentOf: (slug: string) => number = () => 0;
  private readonly bootId = Math.random().toString(36).slice(2, 8);
  // When this process began, on the injected clock: broadcasts' stored times come from it too, so
  // "began before this process" compares like with like (the wall clock would not, under a test clock).
  private readonly bootAt: number;
  private erasures: ErasureLog;
  private applying: Promise<void> | null = null;
  private applyAgain = false;
  eventsFlushed = 0;
  flushFailures = 0;

  constructor(private o: AnalyticsOptions) {
    this.bootAt = o.clock.now();
    this.erasures = new ErasureLog(o.db);
    this.collector = new Collector(o.windowMs, reserveFlushIds(o.db, Date.now()));
    this.worker = new Supervisor<ToAnalytics, FromAnalytics>({
      name: "analytics",
      entry: new URL("./analytics.worker.ts", import.meta.url),
      data: { path: join(o.dataDir, "analytics.duckdb"), threads: 1 },
      logger: o.logger,
      faults: o.faults,
      // A long DuckDB query must not read as a hang: terminating a worker inside a query aborts the
      // whole process (STACK-NOTES), so only a very long silence counts.
      unresponsiveMs: o.unresponsiveMs ?? 120_000,
      stopTimeoutMs: 30_000,
      onMessage: (m) => this.onMessage(m),
      onStart: () => {
        // A new worker (first or restarted) gets every batch not yet stored; its id makes a resend harmless.
        for (const b of this.unflushed) this.worker.post({ type: "flush", batch: postable(b) });
        // Queries in flight died with the worker: their callers get an error, not a hang.
        for (const [id, w] of this.waiting) {
          this.waiting.delete(id);
          w.reject(new Error("the analytics worker restarted; try again"));
        }
      },
    });
  }

  start(concurrentOf: (slug: string) => number): void {
    this.concurrentOf = concurrentOf;
    this.worker.start();
    this.applyErasures(); // (those an earlier run could not apply)
    this.flushTimer = setInterval(() => {
      this.flush();
      if (this.applying === null) this.applyErasures(); // (erasures not applied yet; reads SQLite inside its guard)
    }, this.o.flushMs);
    this.secondTimer = setInterval(() => this.sampleSecond(), 1000);
  }

  get supervisor(): { crashes: number; up: boolean; health(): "ok" | "degraded" } {
    return this.worker;
  }

  injectFault(kind: FaultKind): void {
    this.worker.injectFault(kind);
  }

  /** Final flush (the sockets are closed by now, so every session has ended), then the worker stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.secondTimer) clearInterval(this.secondTimer);
    // One deadline for the final flush and the erasures still pending (any left are applied at the
    // next start): shutdown stays within a container's usual grace period.
    const deadline = Date.now() + STOP_FLUSH_TIMEOUT_MS;
    const until = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
    await until(this.flush());
    if (this.unflushed.length) this.o.logger.error("analytics: batches not stored at shutdown", { batches: this.unflushed.length, events: this.unflushed.reduce((n, b) => n + b.events, 0) });
    if (this.applying || this.erasures.pending().length) await until(this.applyErasures());
    this.workerStopped = true;
    await this.worker.stop();
  }

  // ---- capture (called by the socket hub and the chat/poll listeners) ----

  /** A socket joined a stream: a session starts now if the stream is live, or when it goes live. */
  joined(stream: StreamRecord, session: number, viewerKey: string, ip: string): Tap {
    const l = this.liveOf(stream); // (before the socket is listed: a broadcast new here starts sessions for those listed)
    const tap: Tap = { viewerKey, country: countryOf(ip), handle: null };
    let m = this.present.get(stream.id);
    if (!m) this.present.set(stream.id, (m = new Map()));
    m.set(session, tap);
    if (l) {
      tap.handle = this.collector.startSession(this.sessionId(session, l.broadcastId), session, l.broadcastId, tap.country, viewerKey, this.o.clock.now());
      l.peak = Math.max(l.peak, this.concurrentOf(stream.slug)); // the hub tracked the joiner already
    }
    return tap;
  }

  left(stream: StreamRecord, session: number): void {
    const m = this.present.get(stream.id);
    const p = m?.get(session);
    if (!m || !p) return;
    m.delete(session);
    if (m.size === 0) this.present.delete(stream.id);
    const l = this.live.get(stream.id);
    if (l) this.collector.endSession(l.broadcastId, session, this.o.clock.now());
  }

  /** A guest's socket closed: their key is never used again (see Collector.forget). */
  guestGone(viewerKey: string): void {
    this.collector.forget(viewerKey);
  }

  /** Viewers a live broadcast keeps state for in memory (tests, metrics). */
  trackedViewers(broadcastId: string): number {
    return this.collector.trackedViewers(broadcastId);
  }

  /** The stream's record changed: a broadcast may have started or ended. */
  streamChanged(stream: StreamRecord): void {
    this.endIfOver(stream);
    this.liveOf(stream); // (a broadcast new here starts a session for every socket joined)
  }

  /** The broadcast the door follows for this stream is no longer its current one: it ends here. */
  private endIfOver(stream: StreamRecord): void {
    const l = this.live.get(stream.id);
    if (!l || l.broadcastId === stream.current_broadcast_id) return;
    // Every open session of that broadcast ends now (at the end time stored with the broadcast, the
    // one the report's scope uses).
    this.collector.finish(l.broadcastId, this.o.broadcasts.findBroadcast(l.broadcastId)?.ended_at ?? this.o.clock.now());
    this.live.delete(stream.id);
    // Sockets still joined stop holding the ended broadcast's state (the collector drops it at the
    // next drain; a socket kept through a long pause would otherwise keep all of it).
    for (const p of this.present.get(stream.id)?.values() ?? []) p.handle = null;
  }

  /** `at`: the mark's stored time (the report's segment timeline uses it too). */
  segmentMarked(stream: StreamRecord, label: string, at = this.o.clock.now()): void {
    const l = this.liveOf(stream);
    if (!l) return;
    this.collector.segment(l.broadcastId, label, at);
  }

  /** `sentiment`: the moderation worker scores published messages; others (approved later, the inline fallback) are scored here. */
  chat(stream: StreamRecord, viewerKey: string, body: string, sentiment?: number, tap?: Tap): void {
    const l = this.liveOf(stream);
    if (!l) return;
    const s = sentiment ?? sentimentOf(body);
    const now = this.o.clock.now();
    const h = this.handleOf(l, viewerKey, tap);
    if (h) this.collector.chatBy(h, s, now);
    this.tick(l, now);
    l.chatPerSec[0]!++;
    l.messages++;
    l.sentimentSum += s;
  }

  reaction(stream: StreamRecord, viewerKey: string, emoji: string, tap?: Tap): void {
    const l = this.liveOf(stream);
    if (!l) return;
    const now = this.o.clock.now();
    const h = this.handleOf(l, viewerKey, tap);
    if (h) this.collector.countBy(h, "reaction", emoji, now);
    this.tick(l, now);
    l.reactPerSec[0]!++;
    l.reactions++;
  }

  vote(stream: StreamRecord, viewerKey: string, pollId: string, option: number, tap?: Tap): void {
    const l = this.liveOf(stream);
    if (!l) return;
    const h = this.handleOf(l, viewerKey, tap);
    if (h) this.collector.countBy(h, "vote", `${pollId}:${option}`, this.o.clock.now());
  }

  /** The viewer's state in the live broadcast: the tap's when it is current, else looked up (and kept in the tap). */
  private handleOf(l: LiveStream, viewerKey: string, tap?: Tap): Handle | null {
    if (tap && Collector.fresh(tap.handle, l.broadcastId) && tap.viewerKey === viewerKey) return tap.handle;
    const h = this.collector.handle(l.broadcastId, viewerKey);
    if (tap && tap.viewerKey === viewerKey) tap.handle = h;
    return h;
  }

  /** Unique per process start, socket join and broadcast (a viewer may stay joined across two broadcasts). */
  private sessionId(session: number, broadcastId: string): string {
    return `${this.bootId}.${session}.${broadcastId}`;
  }

  /** The stream's live broadcast state, created on first sight of a live stream (also after a restart). */
  private liveOf(stream: StreamRecord): LiveStream | null {
    if (stream.status !== "live" || !stream.current_broadcast_id) return null;
    const l = this.live.get(stream.id);
    if (l && l.broadcastId === stream.current_broadcast_id) return l;
    if (l) this.endIfOver(stream); // (a switch to the next broadcast seen before its end was)
    const segs = this.o.broadcasts.segmentsOf(stream.current_broadcast_id);
    const fresh: LiveStream = {
      broadcastId: stream.current_broadcast_id, startedAt: stream.live_since ?? this.o.clock.now(),
      chatPerSec: new Int32Array(60), reactPerSec: new Int32Array(60), ringSec: Math.floor(this.o.clock.now() / 1000),
      messages: 0, reactions: 0, sentimentSum: 0, peak: 0, seeding: null, since: 0,
    };
    this.live.set(stream.id, fresh);
    // A broadcast that began before this process: earlier runs stored part of it; start from that.
    const b = this.o.broadcasts.findBroadcast(fresh.broadcastId);
    const earlier = b !== undefined && b.started_at < this.bootAt;
    // Went live in this process: the rollups start at the go-live's stored time (sessions of viewers
    // already joined start then too), not at whenever this line runs.
    fresh.since = earlier ? this.o.clock.now() : fresh.startedAt;
    this.collector.begin(fresh.broadcastId, stream.id, fresh.startedAt, segs[segs.length - 1]?.label ?? "", fresh.since);
    if (earlier) {
      this.collector.awaitPrior(fresh.broadcastId);
      fresh.seeding = this.seed(fresh, b);
    }
    // Sockets already joined (the stream went live around them) are its viewers from then on.
    for (const [session, p] of this.present.get(stream.id) ?? []) {
      p.handle = this.collector.startSession(this.sessionId(session, fresh.broadcastId), session, fresh.broadcastId, p.country, p.viewerKey, fresh.since);
    }
    return fresh;
  }

  /** Moves the per-second rings forward to now (slot 0 is the current second). */
  private tick(l: LiveStream, now: number): void {
    const sec = Math.floor(now / 1000);
    const steps = Math.min(60, sec - l.ringSec);
    if (steps <= 0) return;
    l.chatPerSec.copyWithin(steps, 0, 60 - steps);
    l.chatPerSec.fill(0, 0, steps);
    l.reactPerSec.copyWithin(steps, 0, 60 - steps);
    l.reactPerSec.fill(0, 0, steps);
    l.ringSec = sec;
  }

  private sampleSecond(): void {
    // (the collector's rollups need no tick: a gauge's samples are taken whenever it moves, at the
    // latest at the next flush, and its count cannot have changed in between)
    const now = this.o.clock.now();
    for (const [id, l] of this.live) {
      this.tick(l, now);
      const s = this.o.broadcasts.findById(id);
      if (s) l.peak = Math.max(l.peak, this.concurrentOf(s.slug));
    }
  }

  private async seed(l: LiveStream, b: BroadcastRecord): Promise<void> {
    // Until this lands, first appearances are held back (a viewer of an earlier run coming back is
    // not new): so it is tried again, with backoff, until it does or the server stops.
    for (let attempt = 0; ; attempt++) {
      try {
        // Only flushes of earlier runs: this run's own flushes are already in the live counters.
        const s = await this.request<{ messages: number; sentiment: number; reactions: number; prior: Prior; peak: number }>({ type: "seed", scope: this.scope(b), beforeFlush: this.collector.firstFlushId, sessionPrefix: `${this.bootId}.` });
        l.messages += s.messages;
        l.sentimentSum += s.sentiment;
        l.reactions += s.reactions;
        l.peak = Math.max(l.peak, s.peak);
        // In slices, with the event loop turning in between: a huge broadcast's earlier viewers must
        // not hold the socket thread while everyone reconnects.
        for (let i = 0; i < s.prior.dim.length; i += PRIOR_SLICE) {
          this.collector.priorRows(b.id, s.prior, i, Math.min(s.prior.dim.length, i + PRIOR_SLICE));
          await new Promise((r) => setImmediate(r));
        }
        this.collector.priorDone(b.id);
        l.seeding = null;
        return;
      } catch (e) {
        if (this.stopping) return;
        this.o.logger.warn("analytics: earlier runs of a live broadcast not read yet; trying again", { broadcast: b.id, attempt, error: e });
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** attempt)));
      }
    }
  }

  /** The live numbers, once any seeding from earlier runs of the server has landed (at most 2 s). */
  async liveMetricsSettled(stream: StreamRecord): Promise<LiveMetrics> {
    const l = this.liveOf(stream);
    if (l?.seeding) await Promise.race([l.seeding, new Promise((r) => setTimeout(r, 2000))]);
    return this.liveMetrics(stream);
  }

  // ---- live numbers ----

  liveMetrics(stream: StreamRecord): LiveMetrics {
    const l = this.liveOf(stream);
    const concurrent = this.concurrentOf(stream.slug);
    if (!l) {
      return { stream: stream.slug, broadcast_id: null, live: false, concurrent_viewers: concurrent, peak_concurrent_viewers: 0, chat_messages_per_minute: 0, reactions_per_minute: 0, unique_chatters: 0, messages: 0, reactions: 0, average_sentiment: null, segment: null };
    }
    this.tick(l, this.o.clock.now());
    l.peak = Math.max(l.peak, concurrent);
    const sum = (a: Int32Array) => a.reduce((x, y) => x + y, 0);
    return {
      stream: stream.slug, broadcast_id: l.broadcastId, live: true, concurrent_viewers: concurrent, peak_concurrent_viewers: l.peak,
      chat_messages_per_minute: sum(l.chatPerSec), reactions_per_minute: sum(l.reactPerSec), unique_chatters: this.collector.uniqueChatters(l.broadcastId), messages: l.messages, reactions: l.reactions,
      average_sentiment: l.messages ? Math.round((l.sentimentSum / l.messages) * 1000) / 1000 : null, segment: this.collector.segmentOf(l.broadcastId) || null,
    };
  }

  // ---- flushing ----

  /** Drains the collector into one batch and hands it to the worker; resolves once stored (or failed). */
  flush(): Promise<void> {
    const batch = this.collector.drain(this.o.clock.now(), `${this.bootId}.`);
    if (batch.agg.rows || batch.chatters.rows || batch.sessions.rows || batch.touch) {
      this.unflushed.push(batch);
      if (this.worker.up) this.worker.post({ type: "flush", batch: postable(batch) });
    }
    // Batches that failed (a DuckDB error) are tried again at every flush, oldest first.
    if (this.worker.up) {
      for (const b of this.unflushed) {
        if (!this.failed.has(b.id)) continue;
        this.failed.delete(b.id);
        this.worker.post({ type: "flush", batch: postable(b) });
      }
    }
    if (this.unflushed.length === 0) return Promise.resolve();
    const until = this.unflushed[this.unflushed.length - 1]!.id;
    return new Promise((resolve) => this.flushWaiters.push({ until, resolve }));
  }

  get pendingEvents(): number {
    return this.collector.pendingEvents + this.unflushed.reduce((n, b) => n + b.events, 0);
  }

  private onMessage(m: FromAnalytics): void {
    if (m.type === "flushed") {
      const before = this.unflushed.length;
      this.unflushed = this.unflushed.filter((b) => b.id !== m.batchId);
      if (this.unflushed.length < before) this.eventsFlushed += m.events; // (a resent batch answers twice)
      this.failed.delete(m.batchId);
      const oldest = this.unflushed[0]?.id ?? Infinity;
      this.flushWaiters = this.flushWaiters.filter((w) => (w.until < oldest ? (w.resolve(), false) : true));
      return;
    }
    if (m.type === "flush_failed") {
      this.flushFailures++;
      this.failed.add(m.batchId);
      this.o.logger.error("analytics flush failed; kept for the next interval", { batch: m.batchId, error: m.error });
      for (const w of this.flushWaiters) w.resolve(); // the caller learns through pendingEvents
      this.flushWaiters = [];
      return;
    }
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if (m.ok) w.resolve(m.value);
    else w.reject(new Error(m.error));
  }

  private async request<T>(msg: Request): Promise<T> {
    // Starting or restarting: a query waits a little for the worker rather than failing at once.
    if (!this.worker.up && !(await this.worker.whenUp(5000))) throw new Error("the analytics worker is not running");
    const id = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.post({ ...msg, id } as ToAnalytics);
    });
  }

  async ping(): Promise<boolean> {
    return (await this.request<boolean>({ type: "probe" })) === true;
  }

  // ---- queries ----

  private scope(b: BroadcastRecord): Scope {
    return { broadcastId: b.id, start: b.started_at, end: b.ended_at ?? this.o.clock.now(), segments: this.o.broadcasts.segmentsOf(b.id) };
  }

  /** The post-broadcast report (also while live: up to now, as of the last flush). */
  async report(broadcastId: string): Promise<Result<Record<string, unknown>>> {
    const b = this.o.broadcasts.findBroadcast(broadcastId);
    if (!b) return refuse("not_found", `no broadcast ${broadcastId}`);
    const scope = this.scope(b);
    let r: Record<string, Array<Record<string, any>>>;
    try {
      r = await this.request<Record<string, Array<Record<string, any>>>>({ type: "report", scope });
    } catch (e) {
      return unavailable(e);
    }
    const a = r.audience![0]!;
    const durationS = Math.max(0, (scope.end - scope.start) / 1000);
    const retention = (r.retention ?? []).map((x) => ({ minute: x.minute as number, present: x.present as number, share: a.unique_viewers ? Math.round(((x.present as number) / a.unique_viewers) * 10_000) / 10_000 : 0 }));
    const drops = retention.slice(1).map((x, i) => ({ minute: x.minute, from: retention[i]!.present, to: x.present, drop: retention[i]!.present - x.present }))
      .filter((d) => d.drop > 0).sort((p, q) => q.drop - p.drop || p.minute - q.minute).slice(0, 3);
    const reactionsByEmoji = Object.fromEntries((r.reactions ?? []).map((x) => [x.emoji, x.n]));
    const c = r.chat![0]!;
    const stream = this.o.broadcasts.findById(b.stream_id);
    return ok({
      broadcast: { id: b.id, stream: stream?.slug ?? null, started_at: iso(b.started_at), ended_at: b.ended_at === null ? null : iso(b.ended_at), duration_s: durationS },
      peak_concurrent_viewers: a.peak,
      average_concurrent_viewers: durationS ? Math.round((a.watch_time_s / durationS) * 100) / 100 : 0,
      unique_viewers: a.unique_viewers,
      total_watch_time_s: a.watch_time_s,
      average_view_duration_s: a.unique_viewers ? Math.round((a.watch_time_s / a.unique_viewers) * 100) / 100 : 0,
      retention,
      biggest_drop_offs: drops,
      unique_chatters: c.unique_chatters,
      messages: c.messages,
      average_sentiment: c.messages ? Math.round(c.sentiment * 1000) / 1000 : null,
      reactions: { total: Object.values(reactionsByEmoji).reduce((x: number, y) => x + (y as number), 0), by_emoji: reactionsByEmoji },
      votes: Object.fromEntries((r.votes ?? []).map((x) => [x.key, x.n])),
      // The polls' own results (questions, options, their final tallies once closed).
      polls: (this.o.polls?.openedDuring(b.stream_id, scope.start, scope.end) ?? []).map((p) => ({
        id: p.id, question: p.question, status: p.status, opened_at: p.opened_at, total: p.total, winner: p.winner,
        options: p.options.map((text, i) => ({ text, votes: p.tallies[i] ?? 0 })),
      })),
      top_moments: (r.moments ?? []).map((x) => ({ at: iso(x.bucket), chat_messages: x.chat ?? 0, reactions: x.reactions ?? 0 })),
      by_country: (r.byCountry ?? []).map((x) => ({ ...x, country: x.country || null })),
      by_segment: (r.bySegment ?? []).map((x) => ({ ...x, segment: x.segment || null })),
      segments: scope.segments.map((s) => ({ label: s.label, started_at: iso(s.started_at) })),
    });
  }

  /** One metric over time, bucketed (a multiple of the aggregation window), filtered and grouped. */
  async series(broadcastId: string, q: Record<string, string | undefined>): Promise<Result<{ rows: Array<Record<string, unknown>>; parquet?: Buffer }>> {
    const b = this.o.broadcasts.findBroadcast(broadcastId);
    if (!b) return refuse("not_found", `no broadcast ${broadcastId}`);
    const fields: Record<string, string> = Object.create(null); // (a parameter named __proto__ is a field too)
    const metric = q.metric as Metric;
    if (!METRICS.includes(metric)) fields.metric = `one of ${METRICS.join(", ")}`;
    const windowS = this.o.windowMs / 1000;
    const bucketS = q.bucket_s === undefined ? Math.max(windowS, 60 - (60 % windowS)) : Number(q.bucket_s);
    if (!Number.isInteger(bucketS) || bucketS <= 0 || bucketS % windowS !== 0 || bucketS > 86_400) fields.bucket_s = `a multiple of the aggregation window (${windowS} s), at most 86400`;
    const scope = this.scope(b);
    // RFC 3339 only: a time without an offset would be read in the server's zone, a date alone at midnight UTC.
    const time = (k: string, dflt: number) => (q[k] === undefined ? dflt : parseRfc3339(q[k]!));
    // Default: from the start of the aggregation window the broadcast began in (its first bucket).
    const from = time("from", scope.start - (scope.start % this.o.windowMs));
    const to = time("to", scope.end);
    if (Number.isNaN(from)) fields.from = "an RFC 3339 timestamp";
    if (Number.isNaN(to)) fields.to = "an RFC 3339 timestamp";
    if (!Number.isNaN(from) && !Number.isNaN(to) && to <= from) fields.to = "after from";
    const groupBy = q.group_by ?? null;
    if (groupBy !== null && groupBy !== "country" && groupBy !== "segment") fields.group_by = "country or segment";
    const format = q.format ?? "json";
    if (!["json", "csv", "parquet"].includes(format)) fields.format = "json, csv or parquet";
    if (q.segment !== undefined && q.segment.length > 64) fields.segment = "at most 64 characters";
    const country = q.country === undefined ? null : q.country.toUpperCase();
    if (country !== null && !/^[A-Z]{2}$/.test(country)) fields.country = "an ISO 3166-1 alpha-2 code, such as US";
    // A misspelt parameter (groupby=country) would otherwise answer a different question silently.
    for (const k of Object.keys(q)) if (q[k] !== undefined && !SERIES_PARAMS.has(k)) fields[k] = `unknown parameter; known: ${[...SERIES_PARAMS].join(", ")}`;
    if (Object.keys(fields).length) return refuse("invalid_payload", "invalid series query", { fields });
    const bucketMs = bucketS * 1000;
    if ((to - from) / bucketMs > 100_000) return refuse("invalid_payload", "too many buckets; use a larger bucket_s", { fields: { bucket_s: "too small for this range" } });
    // Events at the very end of the broadcast (the leaves it causes) belong in the series too.
    const eventsTo = q.to === undefined ? to + 1 : to;
    const query = { ...scope, metric, bucketMs, from, to, eventsTo, country, segment: q.segment ?? null, groupBy: groupBy as "country" | "segment" | null };
    try {
      if (format === "parquet") {
        const b64 = await this.request<string>({ type: "series", query, format: "parquet" });
        return ok({ rows: [], parquet: Buffer.from(b64, "base64") });
      }
      const rows = await this.request<Array<Record<string, unknown>>>({ type: "series", query, format: "rows" });
      return ok({ rows: rows.map((r) => ({ ...r, t: iso(Number(r.t)), ...("country" in r ? { country: r.country || null } : {}), ...("segment" in r ? { segment: r.segment || null } : {}) })) });
    } catch (e) {
      return unavailable(e);
    }
  }

  // ---- erasure ----

  /**
   * Inside a viewer's erasure transaction (Chat.addEraser): the analytics part is recorded there,
   * so that it cannot be lost once the erasure is acknowledged; `erased` applies it after commit.
   */
  queueErasure(tx: Database, viewerKey: string): PendingErasure {
    return this.erasures.add(tx, viewerKey, this.o.clock.now());
  }

  /**
   * After the erasure committed: the viewer's rows still in memory take the anonymous key now (a
   * viewer still connected keeps one state in this broadcast, under it); the rows in DuckDB follow
   * through the worker (applyErasures). What the viewer does in a later broadcast is new data, under
   * their id, as their chat and reactions are.
   */
  erased(e: PendingErasure): void {
    this.collector.anonymise(e.viewer_id, e.replacement);
    for (const b of this.unflushed) renameViewer(b, e.viewer_id, e.replacement); // (a touch carries no viewer ids)
    this.applyErasures();
  }

  /** True once the viewer's rows in DuckDB carry no id of theirs; waits at most `ms` for that. */
  async erasureSettled(viewerKey: string, ms: number): Promise<boolean> {
    if (!this.erasures.isPending(viewerKey)) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.applyErasures(), new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
    return !this.erasures.isPending(viewerKey);
  }

  /**
   * Renames erased viewers in DuckDB, oldest request first, each deleted from SQLite once done. One
   * run at a time; a failure (the worker down) leaves the rest for the next flush interval.
   */
  private applyErasures(): Promise<void> {
    if (this.applying) {
      this.applyAgain = true;
      return this.applying;
    }
    this.applying = (async () => {
      do {
        this.applyAgain = false;
        for (const e of this.erasures.pending()) {
          // No flush first: rows still here were renamed by `erased`, and batches sent before it are
          // stored before this rename (the worker runs in order; one resent is a renamed copy).
          await this.request({ type: "anonymise", viewerKey: e.viewer_id, replacement: e.replacement });
          this.erasures.done(e.id);
        }
      } while (this.applyAgain);
    })()
      .catch((err) => {
        if (!this.workerStopped) this.o.logger.warn("analytics: an erasure is not applied yet; trying again at the next flush", { error: err });
      })
      .finally(() => {
        this.applying = null;
      });
    return this.applying;
  }
}
