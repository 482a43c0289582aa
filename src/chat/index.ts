// Chat: the only door. Owns messages, nonces, the review queue and stream bans. A message is
// validated, ruled on, passed through the moderation hook, stored by group commit, and only then
// acknowledged and broadcast (after its chat delay, in seq order). Moderator actions write their
// audit row in the same transaction; an action whose audit row cannot be written does not happen.
import type { Database } from "bun:sqlite";
import type { Actor } from "../actor.ts";
import { recordAudit } from "../audit/index.ts";
import { ok, refuse, type Refusal, type Result } from "../errors.ts";
import type { GroupCommit } from "../runtime/group-commit.ts";
import { newId } from "../runtime/ids.ts";
import { iso, type Clock } from "../runtime/time.ts";
import type { StreamRecord, Streams } from "../streams/index.ts";
import { cleanText, isEmoteOnly, LIMITS } from "../text.ts";
import { AUDIT } from "./events.ts";
import type { ModerationHook } from "./moderation-hook.ts";
import { ChatRules } from "./rules.ts";
import { KeyedBuckets } from "../runtime/token-bucket.ts";
import * as store from "./store.ts";
import type { HistoryItem, MessageView } from "./store.ts";

export type { HistoryItem, MessageView } from "./store.ts";

export interface ChatSender {
  key: string; // viewer id, or "guest:<socket id>" (a guest is one viewer per socket)
  viewerId: string | null;
  name: string;
  badges: string[];
  member: boolean;
  role: "viewer" | "moderator" | "creator";
  /** The caller's own handle for where the message came from, given back with `published` (chat never reads it). */
  origin?: unknown;
}

export type SendReply = { status: "published"; seq: number; visible_at?: string } | { status: "held"; held_id: string };

export interface ChatListener {
  /** `sender`: the viewer id or guest key that sent it (a guest's messages carry no id). */
  /** `sentiment`: scored by the moderation worker when it was (analytics scores it otherwise). */
  published(stream: StreamRecord, msg: MessageView, sender: string, sentiment?: number, origin?: unknown): void;
  deleted(stream: StreamRecord, seqs: number[]): void;
  cleared(stream: StreamRecord, userId: string | null): void;
  notice(stream: StreamRecord, viewerId: string, payload: Record<string, unknown>): void;
}

/** The join reply's chat part. */
export interface JoinHistory {
  history: HistoryItem[];
  recovered: boolean;
  seq: number;
}

/** A change in the review queue, for live dashboards (they subscribe with `onQueue`). */
export interface QueueEvent {
  stream_id: string;
  change: "added" | "approved" | "denied" | "escalated" | "expired" | "removed" | "updated";
  item: ReturnType<typeof store.queueView>;
}

/**
 * Messages held back by the stream's chat delay, for moderators' dashboards (they subscribe with
 * `onDelayed`): committed and waiting for `visible_at` (viewers get them then, by broadcast), or
 * deleted while waiting (never broadcast, so no `chat:delete` reaches anyone).
 */
export type DelayedEvent = { stream_id: string; message: MessageView; visible_at: string } | { stream_id: string; deleted: number[] };

/** A viewer's ban (`until` null) or timeout in a stream. */
export interface Restriction {
  kind: "banned" | "timed_out";
  until: number | null;
  reason: string | null;
}

/** This many held messages of one viewer within the window escalate them to admins automatically. */
export const AUTO_ESCALATE_HELD = 3;
export const AUTO_ESCALATE_WINDOW_MS = 10 * 60_000;

const HISTORY_LIMIT = 50;
/** At most this many tombstones of earlier seqs ride along with a recovery. */
const RECENT_TOMBSTONES = 1000;
/** Recovery replies stay far below the 1 MiB backpressure limit. */
export const RECOVERY_BYTE_BUDGET = 256 * 1024;
const MAX_TIMEOUT_S = 14 * 24 * 3600;
const NONCE = /^[\x21-\x7e]{1,64}$/;
// An `@` that starts no word's middle ("mail bob@bob" mentions nobody), followed by a name's first
// character. What follows it (up to a display name's longest, 120 bytes) is matched against the
// names present (Room.resolveMentions): display names may hold spaces ("@Ada Lovelace").
const MENTION = /(?<![\p{L}\p{N}_])@(?=[\p{L}\p{N}_])/gu;
const MENTION_TAIL = 120;

interface Delayed {
  seq: number;
  visibleAt: number;
  view: MessageView;
  deleted: boolean;
  sender: string;
  sentiment?: number;
  origin?: unknown;
}

interface StreamChat {
  latestSeq: number; // committed
  visibleSeq: number; // broadcast (or visible without delay): history never goes past it
  delayed: Delayed[]; // committed, waiting for visible_at, in seq order
  timer: ReturnType<typeof setTimeout> | null;
  rules: ChatRules;
  bans: Map<string, { until: number | null; reason: string | null }>;
  /** The join reply's last 50, kept until the next message or deletion (joins come in storms). */
  lastHistory: HistoryItem[] | null;
}

export type ModAction =
  | { action: "delete"; seq: number; reason?: string | null }
  | { action: "clear"; user_id: string | null; reason?: string | null }
  | { action: "timeout"; user_id: string; duration_s: number; reason?: string | null }
  | { action: "ban"; user_id: string; reason?: string | null }
  | { action: "unban"; user_id: string; reason?: string | null };

/** Another domain's part of a viewer's erasure: runs inside the same transaction, then after commit. */
export interface Eraser {
  name: string;
  /** Inside the erasure transaction: returns how many rows went (or what became of them), and what `after` needs to know. */
  erase(db: Database, viewerId: string): { count: number | string; detail?: unknown };
  after?(viewerId: string, detail: unknown): void;
}

export class Chat {
  private erasers: Eraser[] = [];
  private queueListeners = new Set<(e: QueueEvent) => void>();
  private delayedListeners = new Set<(e: DelayedEvent) => void>();
  private reportBuckets = new KeyedBuckets(0.2, 5); // reports per viewer: 5 at once, then one per 5 s
  private streamsState = new Map<string, StreamChat>();
  private inflight = new Map<string, Promise<Result<SendReply>>>();
  private closed = false;
  private listener: ChatListener = { published() {}, deleted() {}, cleared() {}, notice() {} };

  constructor(
    private db: Database,
    private clock: Clock,
    private gc: GroupCommit,
    private streams: Streams,
    private hook: ModerationHook,
  ) {}

  setListener(l: ChatListener): void {
    this.listener = l;
  }

  /** Review-queue changes as they commit (the dashboard's live queue). Returns the unsubscribe. */
  onQueue(fn: (e: QueueEvent) => void): () => void {
    this.queueListeners.add(fn);
    return () => this.queueListeners.delete(fn);
  }

  /** Messages waiting out the chat delay, and deletions of them (see DelayedEvent). Returns the unsubscribe. */
  onDelayed(fn: (e: DelayedEvent) => void): () => void {
    this.delayedListeners.add(fn);
    return () => this.delayedListeners.delete(fn);
  }

  private delayedChanged(e: DelayedEvent): void {
    for (const fn of this.delayedListeners) {
      try {
        fn(e);
      } catch {} // a listener's bug must not undo a committed change
    }
  }

  /** `rows`: items already gone from the table (an erasure), as they were. */
  private queueChanged(change: QueueEvent["change"], ids: string[], rows?: store.QueueRow[]): void {
    if (this.queueListeners.size === 0) return;
    for (const row of rows ?? ids.map((id) => store.findQueueItem(this.db, id))) {
      if (!row) continue;
      const e: QueueEvent = { stream_id: row.stream_id, change, item: store.queueView(row) };
      for (const fn of this.queueListeners) {
        try {
          fn(e);
        } catch {} // a listener's bug must not undo a committed change
      }
    }
  }

  /** Votes, analytics rows...: erased in the same transaction as the viewer's messages. */
  addEraser(e: Eraser): void {
    this.erasers.push(e);
  }

  private state(stream: StreamRecord): StreamChat {
    let st = this.streamsState.get(stream.id);
    if (st) return st;
    const now = this.clock.now();
    const latest = store.maxSeq(this.db, stream.id);
    const pending = store.pendingVisible(this.db, stream.id, now);
    st = {
      latestSeq: latest,
      visibleSeq: pending.length ? pending[0]!.seq - 1 : latest,
      delayed: [],
      timer: null,
      rules: new ChatRules(),
      bans: new Map(store.loadBans(this.db, stream.id).map((b) => [b.user_id, { until: b.until, reason: b.reason }])),
      lastHistory: null,
    };
    this.streamsState.set(stream.id, st);
    // Messages that were waiting out their chat delay when the process stopped still go out.
    for (const r of pending) {
      const v = store.toView(r);
      st.delayed.push({ seq: r.seq, visibleAt: r.visible_at, view: v as MessageView, deleted: "deleted" in v, sender: r.user_id ?? `guest:${r.user_name}` });
    }
    if (pending.length) this.drain(stream, st);
    return st;
  }

  /** "banned" | "timed_out" with its end, or null: chat, reactions and votes are refused alike. */
  restriction(stream: StreamRecord, viewerId: string | null): Restriction | null {
    if (!viewerId) return null;
    const b = this.state(stream).bans.get(viewerId);
    if (!b) return null;
    if (b.until === null) return { kind: "banned", until: null, reason: b.reason };
    return b.until > this.clock.now() ? { kind: "timed_out", until: b.until, reason: b.reason } : null;
  }

  /** Who is banned or timed out in the stream now: bans first, then timeouts by their end. */
  restricted(stream: StreamRecord): Array<Restriction & { user_id: string }> {
    const now = this.clock.now();
    const out: Array<Restriction & { user_id: string }> = [];
    for (const [user_id, b] of this.state(stream).bans) {
      if (b.until === null) out.push({ user_id, kind: "banned", until: null, reason: b.reason });
      else if (b.until > now) out.push({ user_id, kind: "timed_out", until: b.until, reason: b.reason });
    }
    return out.sort((a, b) => (a.until ?? 0) - (b.until ?? 0) || a.user_id.localeCompare(b.user_id));
  }

  // ---- history ----

  joinHistory(stream: StreamRecord, params: { last_seq?: number; epoch?: string }): JoinHistory {
    const st = this.state(stream);
    const upto = st.visibleSeq;
    const last = params.last_seq;
    if (last !== undefined && params.epoch === stream.epoch && last <= upto && upto - last <= stream.settings.recovery_window) {
      const rows = store.messagesBetween(this.db, stream.id, last, upto, upto - last);
      // Deletions the client may have missed while away, for seqs it already had: tombstones first.
      const earlier = store.deletedSeqs(this.db, stream.id, Math.max(0, upto - stream.settings.recovery_window), last, RECENT_TOMBSTONES);
      const history: HistoryItem[] = [...earlier.map((seq) => ({ seq, deleted: true as const })), ...rows.map(store.toView)];
      if (Buffer.byteLength(JSON.stringify(history)) <= RECOVERY_BYTE_BUDGET) return { history, recovered: true, seq: upto };
    }
    st.lastHistory ??= store.lastMessages(this.db, stream.id, upto, HISTORY_LIMIT).map(store.toView);
    return { history: st.lastHistory, recovered: false, seq: upto };
  }

  /** API paging: committed messages (tombstones included), oldest first; with both bounds, the newest between them. */
  list(stream: StreamRecord, q: { afterSeq?: number; beforeSeq?: number; limit: number }): Array<HistoryItem & { visible_at?: string }> {
    const rows = q.beforeSeq !== undefined
      ? store.messagesBefore(this.db, stream.id, q.beforeSeq, q.limit, q.afterSeq ?? 0)
      : store.messagesBetween(this.db, stream.id, q.afterSeq ?? 0, Number.MAX_SAFE_INTEGER, q.limit);
    return rows.map((r) => ({ ...store.toView(r), visible_at: iso(r.visible_at) }));
  }

  // ---- sending ----

  /** `chat:send`. Resolves after the message is durably stored (or refused). Throws on storage failure. */
  send(stream: StreamRecord, sender: ChatSender, payload: Record<string, unknown>, resolveMentions: (tails: string[]) => string[]): Promise<Result<SendReply>> {
    for (const k of Object.keys(payload)) if (k !== "body" && k !== "reply_to" && k !== "nonce") return Promise.resolve(refuse("invalid_payload", `unknown field ${k.slice(0, 64)}`));
    const nonce = payload.nonce;
    if (nonce === undefined || nonce === null) return this.doSend(stream, sender, payload, null, resolveMentions);
    if (typeof nonce !== "string" || !NONCE.test(nonce)) return Promise.resolve(refuse("invalid_payload", "nonce: 1-64 printable ASCII characters"));
    const key = `${stream.id}\u0000${sender.key}\u0000${nonce}`;
    const running = this.inflight.get(key);
    if (running) return running;
    const stored = store.findNonce(this.db, stream.id, sender.key, nonce);
    if (stored !== undefined) return Promise.resolve(ok(stored as SendReply));
    const p = this.doSend(stream, sender, payload, nonce, resolveMentions);
    this.inflight.set(key, p);
    const done = () => this.inflight.delete(key);
    p.then(done, done);
    return p;
  }

  private async doSend(stream: StreamRecord, sender: ChatSender, payload: Record<string, unknown>, nonce: string | null, resolveMentions: (tails: string[]) => string[]): Promise<Result<SendReply>> {
    const st = this.state(stream);
    const s = stream.settings;
    const privileged = sender.role !== "viewer";
    const now = this.clock.now();
    if (!sender.viewerId && !s.guests.chat) return refuse("unauthenticated", "sign in to chat");
    if (s.chat_closed && !privileged) return refuse("chat_closed", "chat is closed");
    const r = this.restriction(stream, sender.viewerId);
    if (r && !privileged) {
      return r.kind === "banned"
        ? refuse("banned", "you are banned from this chat")
        : refuse("timed_out", "you are timed out", { retryAfterMs: (r.until ?? now) - now });
    }
    if (s.members_only && !sender.member && !privileged) return refuse("members_only", "chat is for members only");
    const body = cleanText(payload.body, "body", LIMITS.chat);
    if (!body.ok) return body;
    if (s.emote_only && !privileged && !isEmoteOnly(body.value)) return refuse("emote_only", "emote-only mode: emoji only");
    let replyTo: number | null = null;
    if (payload.reply_to !== undefined && payload.reply_to !== null) {
      const rt = payload.reply_to;
      if (typeof rt !== "number" || !Number.isSafeInteger(rt) || rt < 1 || rt > st.visibleSeq) return refuse("invalid_reply", "reply_to must be the seq of a message in this chat");
      const target = store.findMessage(this.db, stream.id, rt);
      if (!target || target.body === null) return refuse("invalid_reply", "that message does not exist or was deleted");
      replyTo = rt;
    }
    const refusal = st.rules.admit(s, sender.key, privileged, body.value, now);
    if (refusal) return refusal;

    const decision = await this.hook.check(body.value, s, { streamId: stream.id, sender: sender.key });
    const mentions = resolveMentions([...body.value.matchAll(MENTION)].map((m) => body.value.slice(m.index + 1, m.index + 1 + MENTION_TAIL)));
    const base = { streamId: stream.id, userId: sender.viewerId, userName: sender.name, badges: sender.badges, body: body.value, replyTo, mentions };
    const actor: Actor = { type: "system" };
    const target = sender.viewerId ? { type: "viewer", id: sender.viewerId } : null;

    if (decision.action === "block") {
      await this.gc.run((db) => recordAudit(db, { at: now, actor, action: AUDIT.block, streamId: stream.id, target, reason: decision.reasons.join(", "), data: { scores: decision.scores, ...(decision.classifierSkipped ? { classifier_skipped: true } : {}) } }));
      return refuse("blocked", "this message was blocked by the stream's rules");
    }
    if (decision.action === "hold") {
      const heldId = newId();
      const answer: SendReply = { status: "held", held_id: heldId };
      const escalated = await this.gc.run((db) => {
        store.insertHeld(db, { ...base, id: heldId, reasons: decision.reasons, scores: decision.scores, at: now, expiresAt: now + s.review_expiry_s * 1000 });
        recordAudit(db, { at: now, actor, action: AUDIT.hold, streamId: stream.id, target: { type: "review_item", id: heldId }, reason: decision.reasons.join(", "), data: { user_id: sender.viewerId, scores: decision.scores, ...(decision.classifierSkipped ? { classifier_skipped: true } : {}) } });
        if (nonce) store.saveNonce(db, sender.key, nonce, stream.id, answer, now);
        return sender.viewerId ? this.autoEscalate(db, stream.id, sender.viewerId, now) : [];
      });
      this.queueChanged("added", [heldId]);
      this.queueChanged("escalated", escalated);
      return ok(answer);
    }
    // Moderators and the creator skip the chat delay (the delay is there for them to act).
    const delayMs = privileged ? 0 : s.chat_delay_s * 1000;
    const id = newId();
    const visibleAt = now + delayMs;
    const answer = await this.gc.run((db) => {
      const seq = store.insertMessage(db, { ...base, id, createdAt: now, visibleAt, scores: Object.keys(decision.scores).length ? decision.scores : null });
      const a: SendReply = delayMs > 0 ? { status: "published", seq, visible_at: iso(visibleAt) } : { status: "published", seq };
      if (nonce) store.saveNonce(db, sender.key, nonce, stream.id, a, now);
      return a;
    });
    if (answer.status === "published") {
      const view: MessageView = { seq: answer.seq, id, user: { id: sender.viewerId, name: sender.name, badges: sender.badges }, body: body.value, reply_to: replyTo, mentions, at: iso(now) };
      this.committed(stream, st, view, visibleAt, sender.key, decision.sentiment, sender.origin);
    }
    return ok(answer);
  }

  /** After commit: becomes visible (broadcast) now or at visible_at, always in seq order. */
  private committed(stream: StreamRecord, st: StreamChat, view: MessageView, visibleAt: number, sender: string, sentiment?: number, origin?: unknown): void {
    st.latestSeq = Math.max(st.latestSeq, view.seq);
    st.delayed.push({ seq: view.seq, visibleAt, view, deleted: false, sender, sentiment, origin });
    if (st.delayed.length > 1) st.delayed.sort((a, b) => a.seq - b.seq);
    if (visibleAt > this.clock.now()) this.delayedChanged({ stream_id: stream.id, message: view, visible_at: iso(visibleAt) });
    this.drain(stream, st);
  }

  private drain(stream: StreamRecord, st: StreamChat): void {
    const now = this.clock.now();
    while (st.delayed.length && st.delayed[0]!.visibleAt <= now) {
      const d = st.delayed.shift()!;
      st.visibleSeq = Math.max(st.visibleSeq, d.seq);
      st.lastHistory = null;
      if (!d.deleted) this.listener.published(stream, d.view, d.sender, d.sentiment, d.origin); // only the slug is read: it never changes
    }
    if (st.timer) clearTimeout(st.timer);
    st.timer = null;
    const head = st.delayed[0];
    if (head && !this.closed) st.timer = setTimeout(() => this.drain(stream, st), Math.max(1, head.visibleAt - now));
  }

  // ---- moderator actions ----

  /** Parses a moderation request (API body or `mod:*` payload) into an action. */
  static parseAction(action: string, p: Record<string, unknown>): Result<ModAction> {
    const allowed: Record<string, string[]> = {
      delete: ["seq", "reason"], clear: ["user_id", "reason"], timeout: ["user_id", "duration_s", "reason"], ban: ["user_id", "reason"], unban: ["user_id", "reason"],
    };
    const keys = allowed[action];
    if (!keys) return refuse("invalid_payload", `unknown moderation action ${action.slice(0, 32)}`);
    const fields: Record<string, string> = {};
    for (const k of Object.keys(p)) if (!keys.includes(k) && k !== "action") fields[k] = "unknown field";
    let reason: string | null = null;
    if (p.reason !== undefined && p.reason !== null) {
      const r = cleanText(p.reason, "reason", LIMITS.reason);
      if (!r.ok) fields.reason = r.message;
      else reason = r.value || null;
    }
    const userId = p.user_id;
    const needsUser = action !== "delete" && action !== "clear";
    if ((needsUser || (userId !== undefined && userId !== null)) && (typeof userId !== "string" || !/^[\x21-\x7e]{1,128}$/.test(userId))) fields.user_id = "a viewer id";
    if (action === "delete" && (typeof p.seq !== "number" || !Number.isSafeInteger(p.seq) || p.seq < 1)) fields.seq = "a message seq";
    if (action === "timeout" && (typeof p.duration_s !== "number" || !Number.isInteger(p.duration_s) || p.duration_s < 1 || p.duration_s > MAX_TIMEOUT_S)) fields.duration_s = `1 to ${MAX_TIMEOUT_S} seconds`;
    if (Object.keys(fields).length) return refuse("invalid_payload", "invalid moderation action", { fields });
    switch (action) {
      case "delete": return ok({ action, seq: p.seq as number, reason });
      case "clear": return ok({ action, user_id: (userId as string | undefined) ?? null, reason });
      case "timeout": return ok({ action, user_id: userId as string, duration_s: p.duration_s as number, reason });
      case "ban": return ok({ action, user_id: userId as string, reason });
      default: return ok({ action: "unban", user_id: userId as string, reason });
    }
  }

  /**
   * Runs a moderator action with its audit row in one transaction (through group commit, so it
   * waits out another writer's lock instead of failing), then broadcasts and notifies.
   */
  async moderate(actor: Actor, stream: StreamRecord, a: ModAction): Promise<Result<Record<string, unknown>>> {
    const st = this.state(stream);
    const now = this.clock.now();
    const by = actor.type === "system" ? null : actor.id;
    switch (a.action) {
      case "delete": {
        const row = store.findMessage(this.db, stream.id, a.seq);
        if (!row) return refuse("not_found", `no message ${a.seq}`);
        if (row.body === null) return ok({ seq: a.seq, deleted: true });
        await this.gc.run(() => {
          store.tombstone(this.db, stream.id, a.seq, now);
          recordAudit(this.db, { at: now, actor, action: AUDIT.delete, streamId: stream.id, target: { type: "message", id: String(a.seq) }, reason: a.reason, data: { user_id: row.user_id } });
        });
        this.afterDeletion(stream, st, [a.seq], () => this.listener.deleted(stream, [a.seq]));
        return ok({ seq: a.seq, deleted: true });
      }
      case "clear": {
        let seqs: number[] = [];
        await this.gc.run(() => {
          seqs = store.tombstoneUser(this.db, stream.id, a.user_id, now);
          recordAudit(this.db, { at: now, actor, action: AUDIT.clear, streamId: stream.id, target: a.user_id ? { type: "viewer", id: a.user_id } : { type: "stream", id: stream.id }, reason: a.reason, data: { count: seqs.length } });
        });
        this.afterDeletion(stream, st, seqs, () => this.listener.cleared(stream, a.user_id));
        return ok({ user_id: a.user_id, cleared: seqs.length });
      }
      case "timeout":
      case "ban": {
        const until = a.action === "timeout" ? now + a.duration_s * 1000 : null;
        await this.gc.run(() => {
          store.upsertBan(this.db, stream.id, a.user_id, until, a.reason ?? null, by, now);
          recordAudit(this.db, { at: now, actor, action: a.action === "ban" ? AUDIT.ban : AUDIT.timeout, streamId: stream.id, target: { type: "viewer", id: a.user_id }, reason: a.reason, data: until ? { until: iso(until), duration_s: a.action === "timeout" ? a.duration_s : undefined } : null });
        });
        st.bans.set(a.user_id, { until, reason: a.reason ?? null });
        this.listener.notice(stream, a.user_id, until ? { kind: "timed_out", until: iso(until), reason: a.reason ?? null } : { kind: "banned", reason: a.reason ?? null });
        return ok(until ? { user_id: a.user_id, until: iso(until) } : { user_id: a.user_id, banned: true });
      }
      case "unban": {
        if (!st.bans.has(a.user_id)) return ok({ user_id: a.user_id, banned: false });
        await this.gc.run(() => {
          store.deleteBan(this.db, stream.id, a.user_id);
          recordAudit(this.db, { at: now, actor, action: AUDIT.unban, streamId: stream.id, target: { type: "viewer", id: a.user_id }, reason: a.reason });
        });
        st.bans.delete(a.user_id);
        this.listener.notice(stream, a.user_id, { kind: "unbanned" });
        return ok({ user_id: a.user_id, banned: false });
      }
    }
  }

  /** Deleted before visible: never broadcast (its seq becomes a tombstone). Visible: tell clients. */
  private afterDeletion(stream: StreamRecord, st: StreamChat, seqs: number[], tellVisible: () => void): void {
    st.lastHistory = null;
    const set = new Set(seqs);
    const waiting: number[] = [];
    for (const d of st.delayed) {
      if (!set.has(d.seq)) continue;
      d.deleted = true;
      waiting.push(d.seq);
    }
    if (waiting.length) this.delayedChanged({ stream_id: stream.id, deleted: waiting });
    if (seqs.some((s) => s <= st.visibleSeq)) tellVisible();
  }

  // ---- review queue: held messages ----

  /** Open review items per stream: pending and escalated counts (streams with none are absent). */
  queueCounts(): Map<string, { pending: number; escalated: number }> {
    const rows = this.db.query<{ stream_id: string; status: string; n: number }, []>("SELECT stream_id, status, count(*) AS n FROM review_queue WHERE status IN ('pending', 'escalated') GROUP BY stream_id, status").all();
    const out = new Map<string, { pending: number; escalated: number }>();
    for (const r of rows) {
      const c = out.get(r.stream_id) ?? { pending: 0, escalated: 0 };
      if (r.status === "pending") c.pending = r.n;
      else c.escalated = r.n;
      out.set(r.stream_id, c);
    }
    return out;
  }

  /** A review item by id, in any stream. */
  queueItem(id: string): store.QueueRow | undefined {
    return store.findQueueItem(this.db, id);
  }

  listQueue(stream: StreamRecord, status: string | null, afterId: string | null, limit: number) {
    return store.listQueue(this.db, stream.id, status, afterId, limit);
  }

  queueView = store.queueView;

  /**
   * approve: a held message is published with a new seq; a report is upheld (the message is
   * deleted, and with `timeout_s` or `ban` its author is timed out or banned). deny: a held message
   * is dropped, a report dismissed. escalate: handed to admins. One transaction with its audit rows.
   */
  async decide(actor: Actor, id: string, verdict: "approve" | "deny" | "escalate", input: unknown): Promise<Result<ReturnType<typeof store.queueView>>> {
    const body = (typeof input === "object" && input !== null && !Array.isArray(input) ? input : {}) as Record<string, unknown>;
    const allowed = verdict === "approve" ? ["reason", "timeout_s", "ban"] : ["reason"];
    const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
    if (unknown.length) return refuse("invalid_payload", "unknown fields", { fields: Object.fromEntries(unknown.map((k) => [k, "unknown field"])) });
    let reason: string | null = null;
    if (body.reason !== undefined && body.reason !== null) {
      const r = cleanText(body.reason, "reason", LIMITS.reason);
      if (!r.ok) return r;
      reason = r.value || null;
    }
    const item = store.findQueueItem(this.db, id);
    if (!item) return refuse("not_found", `no review item ${id}`);
    let penalty: { until: number | null } | null = null;
    if (body.timeout_s !== undefined || body.ban !== undefined) {
      if (item.kind !== "report") return refuse("invalid_payload", "timeout_s and ban apply to reports", { fields: { timeout_s: "reports only" } });
      if (body.ban !== undefined && typeof body.ban !== "boolean") return refuse("invalid_payload", "ban: true or false", { fields: { ban: "true or false" } });
      const t = body.timeout_s;
      if (t !== undefined && (typeof t !== "number" || !Number.isInteger(t) || t < 1 || t > MAX_TIMEOUT_S)) return refuse("invalid_payload", `timeout_s: 1 to ${MAX_TIMEOUT_S}`, { fields: { timeout_s: `1 to ${MAX_TIMEOUT_S} seconds` } });
      if (body.ban === true && t !== undefined) return refuse("invalid_payload", "either timeout_s or ban", { fields: { ban: "not with timeout_s" } });
      if (!item.user_id) return refuse("invalid_payload", "a guest cannot be timed out or banned", { fields: { ban: "the author is a guest" } });
      if (body.ban === true) penalty = { until: null };
      else if (typeof t === "number") penalty = { until: this.clock.now() + t * 1000 };
    }
    if (item.status !== "pending" && item.status !== "escalated") return refuse("conflict", `this item is already ${item.status}`);
    if (verdict === "escalate" && item.status === "escalated") return refuse("conflict", "this item is already escalated");
    // Moderators escalate to admins, who decide escalated items (API keys act for the platform). Held
    // in the write too: an item escalated between this read and the commit answers conflict.
    const escalatedToo = !(actor.type === "account" && actor.role !== "admin");
    if (!escalatedToo && item.status === "escalated") return refuse("forbidden", "escalated items are decided by an admin");
    const stream = this.streams.findById(item.stream_id);
    if (!stream) return refuse("not_found", "the stream of this item is gone");
    const st = this.state(stream);
    const now = this.clock.now();
    const by = actor.type === "system" ? null : actor.id;
    const status = verdict === "approve" ? "approved" : verdict === "deny" ? "denied" : "escalated";
    const isReport = item.kind === "report";
    // Decided concurrently (another moderator, same instant): the op rolls back and says so.
    const outcome = await this.gc.run((): { seq: number | null; deleted: boolean } | "conflict" => {
      let seq: number | null = null;
      let deleted = false;
      if (verdict === "approve" && item.kind === "held" && item.body !== null) {
        seq = store.insertMessage(this.db, {
          streamId: stream.id, id: newId(), userId: item.user_id, userName: item.user_name, badges: JSON.parse(item.badges), body: item.body,
          replyTo: item.reply_to, mentions: JSON.parse(item.mentions), createdAt: now, visibleAt: now, scores: item.scores ? JSON.parse(item.scores) : null,
        });
      }
      if (!store.decideQueueItem(this.db, id, status, by, reason, now, seq, escalatedToo)) throw new ConflictError();
      recordAudit(this.db, { at: now, actor, action: verdict === "approve" ? AUDIT.approve : verdict === "deny" ? AUDIT.deny : AUDIT.escalate, streamId: stream.id, target: { type: "review_item", id }, reason, data: { kind: item.kind, seq: seq ?? item.target_seq, user_id: item.user_id } });
      if (verdict === "approve" && isReport && item.target_seq !== null) {
        const msg = store.findMessage(this.db, stream.id, item.target_seq);
        if (msg && msg.body !== null) {
          store.tombstone(this.db, stream.id, item.target_seq, now);
          recordAudit(this.db, { at: now, actor, action: AUDIT.delete, streamId: stream.id, target: { type: "message", id: String(item.target_seq) }, reason, data: { user_id: msg.user_id, report_id: id } });
          deleted = true;
        }
        if (penalty && item.user_id) {
          store.upsertBan(this.db, stream.id, item.user_id, penalty.until, reason, by, now);
          recordAudit(this.db, { at: now, actor, action: penalty.until === null ? AUDIT.ban : AUDIT.timeout, streamId: stream.id, target: { type: "viewer", id: item.user_id }, reason, data: { report_id: id, ...(penalty.until ? { until: iso(penalty.until) } : {}) } });
        }
      }
      return { seq, deleted };
    }).catch((e) => {
      if (e instanceof ConflictError) return "conflict" as const;
      throw e;
    });
    if (outcome === "conflict") return refuse("conflict", "this item was decided meanwhile");
    const seq = outcome.seq;
    const updated = store.findQueueItem(this.db, id)!;
    if (seq !== null) {
      const row = store.findMessage(this.db, stream.id, seq)!;
      this.committed(stream, st, store.toView(row) as MessageView, now, item.user_id ?? `guest:held:${id}`);
      if (item.user_id) this.listener.notice(stream, item.user_id, { kind: "held_approved", held_id: id, seq });
    } else if (verdict === "deny" && item.kind === "held" && item.user_id) {
      this.listener.notice(stream, item.user_id, { kind: "held_denied", held_id: id, reason });
    }
    if (outcome.deleted && item.target_seq !== null) {
      const target = item.target_seq;
      this.afterDeletion(stream, st, [target], () => this.listener.deleted(stream, [target]));
    }
    if (penalty && item.user_id) {
      st.bans.set(item.user_id, { until: penalty.until, reason });
      this.listener.notice(stream, item.user_id, penalty.until ? { kind: "timed_out", until: iso(penalty.until), reason } : { kind: "banned", reason });
    }
    this.queueChanged(status, [id]);
    return ok(store.queueView(updated));
  }

  /** Inside the hold's transaction: several held messages of one viewer in a short time go to admins. */
  private autoEscalate(db: Database, streamId: string, userId: string, now: number): string[] {
    const held = store.pendingHeldOf(db, streamId, userId, now - AUTO_ESCALATE_WINDOW_MS);
    if (held.length < AUTO_ESCALATE_HELD) return [];
    const reason = `automatic: ${held.length} held messages within ${AUTO_ESCALATE_WINDOW_MS / 60_000} minutes`;
    for (const h of held) {
      store.decideQueueItem(db, h.id, "escalated", null, reason, now, null);
      recordAudit(db, { at: now, actor: { type: "system" }, action: AUDIT.escalate, streamId, target: { type: "review_item", id: h.id }, reason, data: { user_id: userId } });
    }
    return held.map((h) => h.id);
  }

  /** `chat:report {seq, reason?}` from a signed-in viewer: the message goes to the review queue. */
  async report(stream: StreamRecord, reporterId: string | null, payload: Record<string, unknown>): Promise<Result<{ report_id: string }>> {
    for (const k of Object.keys(payload)) if (k !== "seq" && k !== "reason") return refuse("invalid_payload", `unknown field ${k.slice(0, 64)}`);
    if (!reporterId) return refuse("unauthenticated", "sign in to report messages");
    const seq = payload.seq;
    if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) return refuse("invalid_payload", "seq: the reported message's seq");
    let reason: string | null = null;
    if (payload.reason !== undefined && payload.reason !== null) {
      const r = cleanText(payload.reason, "reason", LIMITS.reason);
      if (!r.ok) return r;
      reason = r.value || null;
    }
    const st = this.state(stream);
    const msg = seq <= st.visibleSeq ? store.findMessage(this.db, stream.id, seq) : undefined;
    if (!msg || msg.body === null) return refuse("not_found", "no such message (or it was deleted)");
    const existing = store.findReport(this.db, stream.id, seq, reporterId);
    if (existing) return ok({ report_id: existing.id }); // reporting twice changes nothing
    const now = this.clock.now();
    const wait = this.reportBuckets.take(reporterId, now);
    if (wait > 0) return refuse("rate_limited", "too many reports; try again shortly", { retryAfterMs: wait });
    const id = newId();
    await this.gc.run((db) => {
      store.insertReport(db, { id, streamId: stream.id, message: msg, reporterId, reason, at: now, expiresAt: now + stream.settings.review_expiry_s * 1000 });
      recordAudit(db, { at: now, actor: { type: "viewer", id: reporterId }, action: AUDIT.report, streamId: stream.id, target: { type: "message", id: String(seq) }, reason, data: { report_id: id, user_id: msg.user_id } });
    });
    this.queueChanged("added", [id]);
    return ok({ report_id: id });
  }

  /**
   * Pending items past their stream's review_expiry_s: expired (a held message is denied and its
   * sender told), each audited. Escalated items wait for an admin. Returns how many expired.
   */
  async expireReviews(): Promise<number> {
    const now = this.clock.now();
    const rows = store.expiredPending(this.db, now, 500);
    if (rows.length === 0) return 0;
    const done = await this.gc.run((db) => {
      const out: typeof rows = [];
      for (const r of rows) {
        if (!store.decideQueueItem(db, r.id, "expired", null, "expired", now, null)) continue;
        recordAudit(db, { at: now, actor: { type: "system" }, action: AUDIT.expire, streamId: r.stream_id, target: { type: "review_item", id: r.id }, reason: "not reviewed in time", data: { kind: r.kind, user_id: r.user_id } });
        out.push(r);
      }
      return out;
    });
    for (const r of done) {
      if (r.kind !== "held" || !r.user_id) continue;
      const stream = this.streams.findById(r.stream_id);
      if (stream) this.listener.notice(stream, r.user_id, { kind: "held_denied", held_id: r.id, reason: "expired" });
    }
    this.queueChanged("expired", done.map((r) => r.id));
    return done.length;
  }

  // ---- erasure and retention ----

  /** Erases a viewer's messages (tombstones), held items and nonces, audited; clients are told. */
  async eraseViewer(actor: Actor, viewerId: string): Promise<Result<{ viewer_id: string; messages: number; held: number } & Record<string, number | string>>> {
    const now = this.clock.now();
    const byStream = new Map<string, number[]>();
    let held = 0;
    let removed: store.QueueRow[] = [];
    let reported: string[] = [];
    const others: Record<string, number | string> = {};
    const details: unknown[] = [];
    await this.gc.run(() => {
      const rows = this.db.query<{ stream_id: string; seq: number }, [string]>("SELECT stream_id, seq FROM messages WHERE user_id = ? AND body IS NOT NULL").all(viewerId);
      for (const r of rows) (byStream.get(r.stream_id) ?? byStream.set(r.stream_id, []).get(r.stream_id)!).push(r.seq);
      this.db.query("UPDATE messages SET body = NULL, user_name = '[erased]', badges = '[]', mentions = '[]', deleted_at = COALESCE(deleted_at, ?) WHERE user_id = ?").run(now, viewerId);
      this.db.query("UPDATE messages SET user_id = NULL WHERE user_id = ?").run(viewerId);
      // Mentions of the viewer in other people's messages.
      const mentioned = this.db.query<{ stream_id: string; seq: number; mentions: string }, [string]>("SELECT stream_id, seq, mentions FROM messages WHERE mentions LIKE '%' || ? || '%'").all(JSON.stringify(viewerId));
      for (const m of mentioned) {
        const list = (JSON.parse(m.mentions) as string[]).filter((x) => x !== viewerId);
        this.db.query("UPDATE messages SET mentions = ? WHERE stream_id = ? AND seq = ?").run(JSON.stringify(list), m.stream_id, m.seq);
      }
      removed = this.db.query<store.QueueRow, [string]>("SELECT * FROM review_queue WHERE user_id = ?").all(viewerId);
      held = this.db.query("DELETE FROM review_queue WHERE user_id = ?").run(viewerId).changes;
      // Reports they filed about others' messages stay for the moderators, without their id.
      reported = this.db.query<{ id: string }, [string]>("SELECT id FROM review_queue WHERE reporter_id = ?").all(viewerId).map((r) => r.id);
      this.db.query("UPDATE review_queue SET reporter_id = NULL WHERE reporter_id = ?").run(viewerId);
      this.db.query("DELETE FROM chat_nonces WHERE viewer_key = ?").run(viewerId);
      details.length = 0;
      for (const e of this.erasers) {
        const r = e.erase(this.db, viewerId);
        others[e.name] = r.count;
        details.push(r.detail);
      }
      recordAudit(this.db, { at: now, actor, action: AUDIT.erase, target: { type: "viewer", id: viewerId }, data: { messages: [...byStream.values()].reduce((n, s) => n + s.length, 0), held, ...others } });
      // One row per affected stream too, so each stream's audit trail shows it.
      for (const [streamId, seqs] of byStream) recordAudit(this.db, { at: now, actor, action: AUDIT.erase, streamId, target: { type: "viewer", id: viewerId }, data: { messages: seqs.length } });
    });
    this.erasers.forEach((e, i) => e.after?.(viewerId, details[i]));
    this.queueChanged("removed", [], removed); // (open dashboards drop the items)
    this.queueChanged("updated", reported); // (and show their reports without their id)
    // Mentions of the viewer were scrubbed in other streams' messages too.
    for (const st of this.streamsState.values()) st.lastHistory = null;
    for (const [streamId, seqs] of byStream) {
      const stream = this.streams.findById(streamId);
      const st = this.streamsState.get(streamId);
      if (!stream) continue;
      if (st) this.afterDeletion(stream, st, seqs, () => this.listener.deleted(stream, seqs.filter((s) => s <= st.visibleSeq)));
      else this.listener.deleted(stream, seqs);
    }
    return ok({ viewer_id: viewerId, messages: [...byStream.values()].reduce((n, s) => n + s.length, 0), held, ...others });
  }

  /**
   * Retention: deletes messages older than each stream's chat_retention_days. When that removes
   * anything a client could still recover, the stream's epoch changes (clients get recovered: false).
   */
  purgeExpired(): number {
    const now = this.clock.now();
    let total = 0;
    for (const stream of this.streams.all()) {
      const days = stream.settings.chat_retention_days;
      if (days <= 0) continue;
      const cutoff = now - days * 86_400_000;
      const gone = this.db.query<{ n: number; top: number | null }, [string, number]>("SELECT COUNT(*) AS n, MAX(seq) AS top FROM messages WHERE stream_id = ? AND created_at < ?").get(stream.id, cutoff)!;
      if (gone.n === 0) continue;
      const latest = store.maxSeq(this.db, stream.id);
      const rotate = (gone.top ?? 0) > latest - stream.settings.recovery_window;
      this.db.transaction(() => {
        this.db.query("DELETE FROM messages WHERE stream_id = ? AND created_at < ?").run(stream.id, cutoff);
        recordAudit(this.db, { at: now, actor: { type: "system" }, action: AUDIT.purge, streamId: stream.id, data: { count: gone.n, epoch_rotated: rotate } });
        if (rotate) this.streams.rotateEpoch(this.db, stream.id, now);
      }).immediate();
      if (rotate) this.streams.notifyChanged(stream.id);
      const st = this.streamsState.get(stream.id);
      if (st) st.lastHistory = null;
      total += gone.n;
    }
    this.db.query("DELETE FROM chat_nonces WHERE created_at < ?").run(now - 86_400_000);
    for (const [id, st] of this.streamsState) {
      const s = this.streams.findById(id);
      if (s) st.rules.sweep(now, s.settings);
    }
    return total;
  }

  /** Stops delay timers (shutdown). Delayed messages are stored; the next start broadcasts them. */
  close(): void {
    this.closed = true;
    for (const st of this.streamsState.values()) if (st.timer) clearTimeout(st.timer);
    this.streamsState.clear();
  }
}

export type { Refusal };

/** Thrown inside a group-commit op to roll that op back as a conflict. */
class ConflictError extends Error {}
