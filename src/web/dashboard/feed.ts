// The live dashboard's SSE feed. One StreamFeed per stream with a dashboard open (kept 10 minutes
// after the last one closes). It taps every broadcast of the stream (hub.onBroadcast) and the review
// queue (chat.onQueue), polls the stream row and the audit log once a second, samples the live
// metrics every two seconds, and every 200 ms turns what changed into ONE SSE message of
// <hx-partial>s rendered by the same fragment functions as the page. Messages carry ids
// `<boot>-<n>`; a ring of recent messages lets a reconnect (Last-Event-ID) resume exactly, and a
// position the ring no longer holds gets a full re-render instead. A subscriber that does not read
// is dropped (it reconnects and resumes), never waited on.
import type { Analytics } from "../../analytics/index.ts";
import type { AuditRow } from "../../audit/index.ts";
import type { Chat, MessageView } from "../../chat/index.ts";
import { randomToken } from "../../runtime/ids.ts";
import type { Logger } from "../../runtime/logger.ts";
import type { Clock } from "../../runtime/time.ts";
import type { StreamRecord, Streams } from "../../streams/index.ts";
import type { Hub } from "../socket/hub.ts";
import { html, partial, type Html } from "../../../views/html.ts";
import { AUDIT_ROWS, auditList, auditRow } from "../../../views/live/audit.ts";
import { AUDIT as CHAT_AUDIT } from "../../chat/events.ts";
import { bansPanel, type RestrictedRow } from "../../../views/live/bans.ts";
import { CHAT_LINES, chatLine, chatLines, tombstone, type DashboardMessage } from "../../../views/live/chat.ts";
import { pollPanel, reactionsPanel, segmentForm, segmentList, type ReactionRates } from "../../../views/live/panels.ts";
import { queuePanel } from "../../../views/live/queue.ts";
import { broadcastControls, metricsPanel, streamStatus, type Sample } from "../../../views/live/stream.ts";
import type { LiveData } from "./live-data.ts";
import { parseFeedId, SSE_HEARTBEAT, sseMessage } from "./sse.ts";

const FLUSH_MS = 200;
const TICK_MS = 1000;
// The live numbers refresh every second (PRODUCT.md); the chart keeps the last 5 minutes of them.
const SAMPLE_EVERY_TICKS = 1;
const SAMPLES_KEPT = 300;
const RING = 500; // ~100 s of messages at the flush rate
const IDLE_FEED_MS = 10 * 60_000;
const MAX_LINES_PER_FLUSH = 40;
const MAX_QUEUED_BYTES = 1024 * 1024;
const HEARTBEAT_MS = 4000; // under Bun's 10 s idle timeout
const BAN_ACTIONS = new Set<string>([CHAT_AUDIT.ban, CHAT_AUDIT.unban, CHAT_AUDIT.timeout, CHAT_AUDIT.approve]);
const RECHECK_EVERY_TICKS = 5; // a logged-out or unassigned subscriber is dropped within 5 s

interface Pending {
  messages: DashboardMessage[];
  skipped: number;
  deleted: Set<number>;
  announcements: Array<{ body: string; at: string }>;
  chatReset: boolean;
  status: boolean;
  metrics: boolean;
  reactions: boolean;
  poll: boolean;
  queue: boolean;
  bans: boolean;
  segments: boolean;
  audit: AuditRow[];
}

const emptyPending = (): Pending => ({
  messages: [], skipped: 0, deleted: new Set(), announcements: [], chatReset: false,
  status: false, metrics: false, reactions: false, poll: false, queue: false, bans: false, segments: false, audit: [],
});

const isEmpty = (p: Pending) =>
  !p.messages.length && !p.skipped && !p.deleted.size && !p.announcements.length && !p.chatReset && !p.status && !p.metrics &&
  !p.reactions && !p.poll && !p.queue && !p.bans && !p.segments && !p.audit.length;

interface Sub {
  write(text: string): boolean;
  close(): void;
  lastWrite: number;
  /** Still logged in and still allowed to see the stream (re-checked every few seconds). */
  allowed(): boolean;
}

export interface FeedDeps {
  hub: Hub;
  chat: Chat;
  streams: Streams;
  analytics: Analytics;
  data: LiveData;
  clock: Clock;
  logger: Logger;
}

class StreamFeed {
  readonly boot = randomToken(6).replace(/[^A-Za-z0-9]/g, "x");
  n = 0;
  ring: Array<{ n: number; frame: string }> = [];
  subs = new Set<Sub>();
  pending = emptyPending();
  samples: Sample[] = [];
  reactionLog: Array<{ at: number; windowMs: number; counts: Record<string, number> }> = [];
  lastAuditId = 0;
  /** When the soonest timeout listed in #bans ends (the list is re-rendered then); Infinity: none. */
  bansChangeAt = Infinity;
  statusKey: string;
  idleSince: number;
  ticks = 0;

  constructor(public stream: StreamRecord, now: number) {
    this.statusKey = statusKey(stream);
    this.idleSince = now;
  }

  get id(): string {
    return `${this.boot}-${this.n}`;
  }
}

function statusKey(s: StreamRecord): string {
  return `${s.status}|${s.live_since}|${s.current_broadcast_id}|${s.title}|${s.settings.reactions.join("")}`;
}

export class DashboardFeeds {
  private bySlug = new Map<string, StreamFeed>();
  private byId = new Map<string, StreamFeed>();
  private unsubs: Array<() => void> = [];
  private timers: Array<ReturnType<typeof setInterval>> = [];
  private encoder = new TextEncoder();

  constructor(private d: FeedDeps) {}

  start(): void {
    this.unsubs.push(this.d.hub.onBroadcast((topic, event, payload) => this.onBroadcast(topic, event, payload)));
    this.unsubs.push(this.d.chat.onQueue((e) => {
      const f = this.byId.get(e.stream_id);
      if (f) f.pending.queue = true;
    }));
    // Moderators see a message held back by the chat delay at once, marked, so they can delete it
    // before viewers ever get it; its chat:new later replaces the marked line (dashboard.js).
    this.unsubs.push(this.d.chat.onDelayed((e) => {
      const f = this.byId.get(e.stream_id);
      if (!f) return;
      if ("deleted" in e) for (const seq of e.deleted) f.pending.deleted.add(seq);
      else this.addMessage(f, { ...e.message, pending_until: e.visible_at, pending_ms: Date.parse(e.visible_at) - this.d.clock.now() });
    }));
    this.timers.push(setInterval(() => this.flushAll(), FLUSH_MS));
    this.timers.push(setInterval(() => this.tickAll(), TICK_MS));
  }

  /** Ends every SSE stream (clients reconnect to the next server) and stops the timers. */
  stop(): void {
    for (const u of this.unsubs) u();
    this.unsubs = [];
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const f of this.bySlug.values()) for (const s of f.subs) s.close();
    this.bySlug.clear();
    this.byId.clear();
  }

  get subscribers(): number {
    let n = 0;
    for (const f of this.bySlug.values()) n += f.subs.size;
    return n;
  }

  private feedOf(stream: StreamRecord): StreamFeed {
    let f = this.bySlug.get(stream.slug);
    if (f) return f;
    f = new StreamFeed(stream, this.d.clock.now());
    f.lastAuditId = Number(this.d.data.recentAudit(stream.id, 1)[0]?.id ?? 0);
    this.sample(f);
    this.bySlug.set(stream.slug, f);
    this.byId.set(stream.id, f);
    return f;
  }

  /**
   * Brings the feed up to date (stream row, audit log, pending events) and returns its position. A
   * page rendered right after this (synchronously) shows exactly the state at that position.
   */
  sync(stream: StreamRecord): { id: string; samples: Sample[]; reactions: ReactionRates; bans: RestrictedRow[] } {
    const f = this.feedOf(stream);
    this.poll(f);
    this.flush(f);
    // (the page renders the same list: its timeouts' ends are watched from now)
    return { id: f.id, samples: f.samples, reactions: this.rates(f), bans: this.restrictedNow(f) };
  }

  // ---- events in ----

  private addMessage(f: StreamFeed, m: DashboardMessage): void {
    const p = f.pending;
    p.messages.push(m);
    if (p.messages.length > MAX_LINES_PER_FLUSH) p.skipped += p.messages.splice(0, p.messages.length - MAX_LINES_PER_FLUSH).length;
  }

  private onBroadcast(topic: string, event: string, payload: unknown): void {
    if (!topic.startsWith("stream:")) return;
    const f = this.bySlug.get(topic.slice(7));
    if (!f) return;
    const p = f.pending;
    switch (event) {
      case "chat:new":
        this.addMessage(f, payload as MessageView);
        break;
      case "chat:delete":
        for (const s of (payload as { seqs: number[] }).seqs) p.deleted.add(s);
        break;
      case "chat:clear":
        p.chatReset = true;
        break;
      case "announcement":
        p.announcements.push(payload as { body: string; at: string });
        break;
      case "reactions": {
        const r = payload as { window_ms: number; counts: Record<string, number> };
        f.reactionLog.push({ at: this.d.clock.now(), windowMs: r.window_ms, counts: r.counts });
        p.reactions = true;
        break;
      }
      case "poll:open":
      case "poll:update":
      case "poll:close":
        p.poll = true;
        break;
      case "viewers":
        p.metrics = true;
        break;
      case "stream:update":
        p.status = true;
        break;
    }
  }

  /** Once a second: stream row, audit rows, reaction decay, a metrics sample. */
  private tickAll(): void {
    const now = this.d.clock.now();
    for (const f of [...this.bySlug.values()]) {
      try {
        if (f.subs.size === 0 && now - f.idleSince > IDLE_FEED_MS) {
          this.bySlug.delete(f.stream.slug);
          this.byId.delete(f.stream.id);
          continue;
        }
        if (!this.poll(f)) continue;
        if (++f.ticks % SAMPLE_EVERY_TICKS === 0) this.sample(f);
        this.decayReactions(f, now);
        if (now >= f.bansChangeAt) f.pending.bans = true; // a timeout ran out
        const recheck = f.ticks % RECHECK_EVERY_TICKS === 0;
        for (const s of f.subs) {
          if (recheck && !s.allowed()) this.drop(f, s);
          else if (now - s.lastWrite > HEARTBEAT_MS && !s.write(SSE_HEARTBEAT)) this.drop(f, s);
        }
      } catch (e) {
        this.d.logger.error("dashboard feed tick failed", { stream: f.stream.slug, error: e });
      }
    }
  }

  /** Re-reads the stream row and new audit rows. False when the stream is gone. */
  private poll(f: StreamFeed): boolean {
    const s = this.d.streams.findById(f.stream.id);
    if (!s) {
      for (const sub of f.subs) sub.close();
      this.bySlug.delete(f.stream.slug);
      this.byId.delete(f.stream.id);
      return false;
    }
    const key = statusKey(s);
    if (key !== f.statusKey) {
      if (s.current_broadcast_id !== f.stream.current_broadcast_id) {
        f.pending.segments = true;
        f.pending.metrics = true;
      }
      f.statusKey = key;
      f.pending.status = true;
      f.pending.reactions = true;
    }
    f.stream = s;
    const rows = this.d.data.auditAfter(s.id, f.lastAuditId, 200);
    if (rows.length) {
      f.lastAuditId = Number(rows[rows.length - 1]!.id);
      f.pending.audit.push(...rows);
      // Bans and timeouts change through audited actions only (an upheld report may ban too).
      if (rows.some((r) => BAN_ACTIONS.has(r.action))) f.pending.bans = true;
      if (rows.some((r) => r.action === "broadcast.segment")) f.pending.segments = true;
    }
    return true;
  }

  private sample(f: StreamFeed): void {
    const m = this.d.analytics.liveMetrics(f.stream);
    f.samples.push([Math.floor(this.d.clock.now() / 1000), m.concurrent_viewers, m.chat_messages_per_minute, m.reactions_per_minute]);
    if (f.samples.length > SAMPLES_KEPT) f.samples.splice(0, f.samples.length - SAMPLES_KEPT);
    f.pending.metrics = true;
  }

  private decayReactions(f: StreamFeed, now: number): void {
    const before = f.reactionLog.length;
    f.reactionLog = f.reactionLog.filter((r) => now - r.at <= 60_000);
    const last = f.reactionLog[f.reactionLog.length - 1];
    // The per-second rate falls to zero once no window came for two windows.
    if (f.reactionLog.length !== before || (last && now - last.at > 2 * last.windowMs && now - last.at <= 2 * last.windowMs + TICK_MS)) f.pending.reactions = true;
  }

  rates(f: StreamFeed): ReactionRates {
    const now = this.d.clock.now();
    const perMinute: Record<string, number> = {};
    for (const r of f.reactionLog) {
      if (now - r.at > 60_000) continue;
      for (const [e, n] of Object.entries(r.counts)) perMinute[e] = (perMinute[e] ?? 0) + n;
    }
    const perSecond: Record<string, number> = {};
    const last = f.reactionLog[f.reactionLog.length - 1];
    if (last && now - last.at <= 2 * last.windowMs) for (const [e, n] of Object.entries(last.counts)) perSecond[e] = n / (last.windowMs / 1000);
    return { emojis: f.stream.settings.reactions, perSecond, perMinute };
  }

  // ---- messages out ----

  private flushAll(): void {
    for (const f of this.bySlug.values()) {
      try {
        this.flush(f);
      } catch (e) {
        this.d.logger.error("dashboard feed flush failed", { stream: f.stream.slug, error: e });
        f.pending = emptyPending();
      }
    }
  }

  private flush(f: StreamFeed): void {
    if (isEmpty(f.pending)) return;
    const p = f.pending;
    f.pending = emptyPending();
    const body = this.render(f, p).s;
    f.n++;
    const frame = sseMessage(f.id, body);
    f.ring.push({ n: f.n, frame });
    if (f.ring.length > RING) f.ring.splice(0, f.ring.length - RING);
    for (const s of f.subs) if (!s.write(frame)) this.drop(f, s);
  }

  /** One SSE message body: a partial per changed fragment. */
  private render(f: StreamFeed, p: Pending): Html {
    const s = f.stream;
    const d = this.d.data;
    const out: Html[] = [];
    if (p.status) {
      const head = d.head(s);
      out.push(partial("#stream-status", "outerHTML", streamStatus(head)));
      out.push(partial("#broadcast-controls", "outerHTML", broadcastControls(head))); // absent on moderators' pages
      out.push(partial("#segment-form", "outerHTML", segmentForm(s.slug, s.status === "live")));
    }
    if (p.chatReset) {
      out.push(partial("#chat-lines", "outerHTML", chatLines(s.slug, d.recentMessages(s, CHAT_LINES))));
    } else {
      const lines: Html[] = [];
      if (p.skipped) lines.push(html`<li class="msg msg-skipped">… ${p.skipped} more messages (high volume)</li>`);
      for (const m of p.messages) lines.push(p.deleted.has(m.seq) ? tombstone(m.seq) : chatLine(s.slug, m));
      for (const a of p.announcements) lines.push(html`<li class="msg msg-announce"><span class="msg-body"><strong>Announcement</strong> ${a.body}</span></li>`);
      if (lines.length) {
        out.push(partial("#chat-empty", "delete", html``));
        out.push(partial("#chat-lines", "beforeend", lines));
      }
      const fresh = new Set(p.messages.map((m) => m.seq));
      for (const seq of p.deleted) if (!fresh.has(seq)) out.push(partial(`#msg-${seq}`, "outerHTML", tombstone(seq)));
    }
    if (p.metrics) out.push(partial("#metrics", "outerHTML", metricsPanel(this.d.analytics.liveMetrics(s), f.samples)));
    if (p.reactions) out.push(partial("#reactions", "outerHTML", reactionsPanel(this.rates(f))));
    if (p.poll) out.push(partial("#poll", "outerHTML", pollPanel(s.slug, d.poll(s))));
    if (p.queue) out.push(partial("#review-queue", "outerHTML", queuePanel(s.slug, d.queue(s))));
    if (p.bans) out.push(partial("#bans", "outerHTML", this.bans(f)));
    if (p.segments) out.push(partial("#segment-list", "outerHTML", segmentList(d.segments(s))));
    if (p.audit.length) {
      out.push(partial("#audit-empty", "delete", html``));
      out.push(partial("#audit-list", "afterbegin", p.audit.slice(-AUDIT_ROWS).reverse().map((r) => auditRow(r, d.actorName))));
    }
    return html`${out}`;
  }

  /** Every live fragment, for a subscriber whose position the ring no longer holds. */
  private renderAll(f: StreamFeed): string {
    const s = f.stream;
    const d = this.d.data;
    const head = d.head(s);
    return html`${[
      partial("#stream-status", "outerHTML", streamStatus(head)),
      partial("#broadcast-controls", "outerHTML", broadcastControls(head)),
      partial("#segment-form", "outerHTML", segmentForm(s.slug, s.status === "live")),
      partial("#metrics", "outerHTML", metricsPanel(this.d.analytics.liveMetrics(s), f.samples)),
      partial("#chat-lines", "outerHTML", chatLines(s.slug, d.recentMessages(s, CHAT_LINES))),
      partial("#reactions", "outerHTML", reactionsPanel(this.rates(f))),
      partial("#poll", "outerHTML", pollPanel(s.slug, d.poll(s))),
      partial("#review-queue", "outerHTML", queuePanel(s.slug, d.queue(s))),
      partial("#bans", "outerHTML", this.bans(f)),
      partial("#segment-list", "outerHTML", segmentList(d.segments(s))),
      partial("#audit-list", "outerHTML", auditList(d.recentAudit(s.id, AUDIT_ROWS), d.actorName)),
    ]}`.s;
  }

  /** Who is banned or timed out now, noting when the soonest timeout ends (#bans is rendered again then). */
  private restrictedNow(f: StreamFeed): RestrictedRow[] {
    const rows = this.d.data.restricted(f.stream);
    f.bansChangeAt = rows.reduce((t, r) => (r.until === null ? t : Math.min(t, Date.parse(r.until))), Infinity);
    return rows;
  }

  private bans(f: StreamFeed): Html {
    return bansPanel(f.stream.slug, this.restrictedNow(f));
  }

  private drop(f: StreamFeed, s: Sub): void {
    f.subs.delete(s);
    if (f.subs.size === 0) f.idleSince = this.d.clock.now();
    s.close();
  }

  /**
   * An SSE response for a stream's dashboard. `after` is the position the client has (the
   * Last-Event-ID header, or the page's own position on the first connect).
   */
  subscribe(stream: StreamRecord, after: string | null, signal: AbortSignal, headers: Record<string, string>, allowed: () => boolean): Response {
    const f = this.feedOf(stream);
    this.poll(f);
    this.flush(f);
    const pos = parseFeedId(after);
    let first: string;
    if (pos && pos.boot === f.boot && pos.n <= f.n && (pos.n === f.n || (f.ring.length > 0 && f.ring[0]!.n <= pos.n + 1))) {
      first = f.ring.filter((e) => e.n > pos.n).map((e) => e.frame).join("");
    } else {
      first = sseMessage(f.id, this.renderAll(f));
    }
    const enc = this.encoder;
    let sub: Sub | null = null;
    let ctl: ReadableStreamDefaultController<Uint8Array> | null = null;
    const end = () => {
      if (sub && f.subs.delete(sub) && f.subs.size === 0) f.idleSince = this.d.clock.now();
      try {
        ctl?.close();
      } catch {}
      ctl = null;
    };
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          ctl = controller;
          sub = {
            lastWrite: this.d.clock.now(),
            write: (text) => {
              if (!ctl) return false;
              // A client that stopped reading: drop it (it reconnects and resumes), never buffer on.
              if ((ctl.desiredSize ?? 0) < -MAX_QUEUED_BYTES) return false;
              try {
                ctl.enqueue(enc.encode(text));
                sub!.lastWrite = this.d.clock.now();
                return true;
              } catch {
                return false;
              }
            },
            close: end,
            allowed,
          };
          f.subs.add(sub);
          controller.enqueue(enc.encode(first || SSE_HEARTBEAT));
        },
        cancel: end,
      },
      { highWaterMark: 0, size: (chunk) => chunk?.byteLength ?? 0 },
    );
    signal.addEventListener("abort", end, { once: true });
    return new Response(body, {
      headers: { ...headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" },
    });
  }
}
