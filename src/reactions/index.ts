// Reactions: the only door. Checks each `reaction:send` (allowed set, guests, bans, the per-viewer
// rate) on the main thread, then hands accepted reactions to the reactions worker in batches (one
// post per tick, never one per reaction). The worker folds them into per-stream windows; each ended
// window comes back, is published as one `reactions` event and kept in the SQLite rollup table for
// analytics.
//
// Exactly once, also across a worker crash: every batch stays here until a tick reply shows all its
// windows published. A restarted worker gets those batches again with the point up to which windows
// were already published, and skips what lies before it.
import type { Database } from "bun:sqlite";
import { ok, refuse, type Result } from "../errors.ts";
import type { GroupCommit } from "../runtime/group-commit.ts";
import type { Logger } from "../runtime/logger.ts";
import { Supervisor, type FaultKind } from "../runtime/supervisor.ts";
import { take, type Bucket } from "../runtime/token-bucket.ts";
import type { Clock } from "../runtime/time.ts";
import type { StreamRecord } from "../streams/index.ts";
import type { FromWorker, ToWorker } from "./reactions.worker.ts";
import { BatchBuilder, WindowFold, type ClosedWindow, type ReactionBatch } from "./windows.ts";

export interface ReactionSender {
  key: string; // viewer id, or the guest socket's key
  viewerId: string | null;
}

export interface ReactionsPayload {
  window_ms: number;
  counts: Record<string, number>;
  total: number;
}

export interface ReactionsListener {
  reactions(slug: string, payload: ReactionsPayload): void;
}

export type Restriction = (stream: StreamRecord, viewerId: string | null) => { kind: "banned" | "timed_out"; until: number | null } | null;

export interface ReactionsDeps {
  db: Database;
  clock: Clock;
  gc: GroupCommit;
  restriction: Restriction;
  logger: Logger;
  /** Test-only: lets tests crash the worker on purpose. */
  faults?: boolean;
}

const TICK_MS = 50;
/** A tick unanswered this long is asked again (the worker was restarted meanwhile, or is slow). */
const TICK_RETRY_MS = 1000;
const FINAL_TIMEOUT_MS = 2000;

export class Reactions {
  private streamIdx = new Map<string, number>();
  private streamList: Array<{ id: string; slug: string }> = [];
  private emojiIdx = new Map<string, number>();
  private emojiList: string[] = [];
  private buckets = new Map<string, Map<string, Bucket>>(); // stream id -> sender key -> bucket
  private builder = new BatchBuilder();
  private retained: ReactionBatch[] = [];
  private emittedThrough = -Infinity;
  private tickN = 0;
  private awaiting: { tick: number; at: number } | null = null;
  private lastTs = -Infinity; // reaction timestamps never go back, even when the wall clock does
  private finalReply: { tick: number; resolve: (m: FromWorker) => void } | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private listener: ReactionsListener = { reactions() {} };
  private worker: Supervisor<ToWorker, FromWorker>;
  accepted = 0;
  windowsPublished = 0;

  constructor(private d: ReactionsDeps) {
    this.worker = new Supervisor<ToWorker, FromWorker>({
      name: "reactions",
      entry: new URL("./reactions.worker.ts", import.meta.url),
      logger: d.logger,
      faults: d.faults,
      onMessage: (m) => this.onWindows(m),
      onStart: () => {
        this.awaiting = null;
        // A new worker (first or restarted) gets every batch not yet fully published: the dead one's
        // windows are gone, and batches kept while no worker was up were never sent.
        if (this.retained.length) this.worker.post({ type: "restore", emittedThrough: this.emittedThrough, batches: this.retained });
      },
    });
  }

  setListener(l: ReactionsListener): void {
    this.listener = l;
  }

  start(): void {
    this.worker.start();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  get supervisor(): { crashes: number; restarts: number; health(): "ok" | "degraded"; up: boolean } {
    return this.worker;
  }

  injectFault(kind: FaultKind): void {
    this.worker.injectFault(kind);
  }

  /** Reactions accepted but not yet published (in batches still held for the worker). */
  get unpublished(): number {
    return this.retained.reduce((n, b) => n + b.n, 0) + this.builder.size;
  }

  /** `reaction:send {emoji}`. */
  send(stream: StreamRecord, sender: ReactionSender, payload: Record<string, unknown>): Result<Record<string, never>> {
    const emoji = payload.emoji;
    for (const k in payload) if (k !== "emoji") return refuse("invalid_payload", `unknown field ${k.slice(0, 64)}`);
    if (typeof emoji !== "string") return refuse("invalid_payload", "emoji: one of the stream's reactions");
    const s = stream.settings;
    if (!s.reactions.includes(emoji)) return refuse("not_allowed", "this stream does not allow that reaction");
    if (!sender.viewerId && !s.guests.react) return refuse("unauthenticated", "sign in to react");
    const r = this.d.restriction(stream, sender.viewerId);
    if (r) return r.kind === "banned" ? refuse("banned", "you are banned from this stream") : refuse("timed_out", "you are timed out", { retryAfterMs: Math.max(0, (r.until ?? 0) - this.d.clock.now()) });
    const now = this.d.clock.now();
    let byKey = this.buckets.get(stream.id);
    if (!byKey) this.buckets.set(stream.id, (byKey = new Map()));
    let b = byKey.get(sender.key);
    if (!b) byKey.set(sender.key, (b = { tokens: s.reaction_rate, at: now }));
    const wait = take(b, now, s.reaction_rate, s.reaction_rate);
    if (wait > 0) return refuse("rate_limited", `at most ${s.reaction_rate} reactions a second`, { retryAfterMs: wait });
    // A clock stepped back must not put a reaction into a window already published.
    const ts = (this.lastTs = Math.max(now, this.lastTs, this.emittedThrough));
    this.builder.push(this.internStream(stream), this.internEmoji(emoji), ts, s.reaction_window_ms);
    this.accepted++;
    return ok({});
  }

  /** Forgets rate buckets that have refilled (called by the periodic sweeper). */
  sweep(now: number): void {
    for (const [id, byKey] of this.buckets) {
      for (const [k, b] of byKey) if (now - b.at > 1000) byKey.delete(k);
      if (byKey.size === 0) this.buckets.delete(id);
    }
  }

  private internStream(s: StreamRecord): number {
    let i = this.streamIdx.get(s.id);
    if (i === undefined) {
      i = this.streamList.push({ id: s.id, slug: s.slug }) - 1;
      this.streamIdx.set(s.id, i);
    }
    return i;
  }

  private internEmoji(e: string): number {
    let i = this.emojiIdx.get(e);
    if (i === undefined) {
      i = this.emojiList.push(e) - 1;
      this.emojiIdx.set(e, i);
    }
    return i;
  }

  private tick(): void {
    const b = this.builder.take();
    if (b) {
      this.retained.push(b);
      // While the worker is down the batch only waits here: the restart's restore carries it.
      if (this.worker.up) this.worker.post({ type: "batch", batch: b });
    }
    if (this.retained.length === 0 || !this.worker.up) return; // nothing open anywhere
    const now = this.d.clock.now();
    if (this.awaiting && performance.now() - this.awaiting.at < TICK_RETRY_MS) return;
    const tick = ++this.tickN;
    this.awaiting = { tick, at: performance.now() };
    this.worker.post({ type: "tick", tick, now, final: false });
  }

  private onWindows(m: FromWorker): void {
    if (this.awaiting?.tick === m.tick) this.awaiting = null;
    if (this.finalReply?.tick === m.tick) return this.finalReply.resolve(m);
    this.emittedThrough = Math.max(this.emittedThrough, m.now);
    this.retained = this.retained.filter((b) => b.maxEnd > m.now);
    this.publish(m.windows, true);
  }

  /**
   * Published first, then stored: the counts are not acknowledged writes, and a viewer should see
   * the burst without waiting for a commit. A failed rollup write is logged; the event already went out.
   */
  private publish(windows: ClosedWindow[], broadcast: boolean): void {
    if (windows.length === 0) return;
    const rows: Array<[string, number, number, string, number]> = [];
    for (const w of windows) {
      const st = this.streamList[w.stream]!;
      const counts: Record<string, number> = {};
      for (const [e, n] of w.counts.sort((a, b) => b[1] - a[1])) {
        counts[this.emojiList[e]!] = n;
        rows.push([st.id, w.start, w.w, this.emojiList[e]!, n]);
      }
      this.windowsPublished++;
      if (broadcast) this.listener.reactions(st.slug, { window_ms: w.w, counts, total: w.total });
    }
    this.d.gc
      .run((db) => {
        const q = db.query(
          `INSERT INTO reaction_windows (stream_id, window_start, window_ms, emoji, count) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (stream_id, window_start, window_ms, emoji) DO UPDATE SET count = count + excluded.count`,
        );
        for (const r of rows) q.run(...r);
      })
      .catch((e) => this.d.logger.error("reaction rollup write failed", { windows: windows.length, error: e }));
  }

  /**
   * Shutdown: every accepted reaction ends up in the rollup. The worker counts what is left and
   * returns all windows, ended or not; if it is down, the same core finishes the count here.
   * Sockets are closed by then, so nothing is broadcast.
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const b = this.builder.take();
    if (b) {
      this.retained.push(b);
      if (this.worker.up) this.worker.post({ type: "batch", batch: b });
    }
    let windows: ClosedWindow[] | null = null;
    if (this.retained.length && this.worker.up) {
      const tick = ++this.tickN;
      const reply = new Promise<FromWorker>((resolve) => (this.finalReply = { tick, resolve }));
      this.worker.post({ type: "tick", tick, now: this.d.clock.now(), final: true });
      const timeout = new Promise<null>((r) => setTimeout(() => r(null), FINAL_TIMEOUT_MS));
      const m = await Promise.race([reply, timeout]);
      if (m) windows = m.windows;
    }
    if (windows === null && this.retained.length) {
      const fold = new WindowFold();
      for (const r of this.retained) fold.add(r, this.emittedThrough);
      windows = fold.close(0, true);
    }
    this.retained = [];
    if (windows) this.publish(windows, false);
    await this.worker.stop();
  }
}
