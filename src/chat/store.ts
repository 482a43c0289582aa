// SQL of the chat domain (messages, nonces, review queue, bans). Only chat/index.ts calls these.
import type { Database } from "bun:sqlite";
import { iso } from "../runtime/time.ts";

export interface MessageRow {
  stream_id: string;
  seq: number;
  id: string;
  user_id: string | null;
  user_name: string;
  badges: string;
  body: string | null;
  reply_to: number | null;
  mentions: string;
  created_at: number;
  visible_at: number;
  deleted_at: number | null;
  scores: string | null;
}

export interface MessageView {
  seq: number;
  id: string;
  user: { id: string | null; name: string; badges: string[] };
  body: string;
  reply_to: number | null;
  mentions: string[];
  at: string;
}
export type Tombstone = { seq: number; deleted: true };
export type HistoryItem = MessageView | Tombstone;

export function toView(r: MessageRow): HistoryItem {
  if (r.body === null) return { seq: r.seq, deleted: true };
  return {
    seq: r.seq,
    id: r.id,
    user: { id: r.user_id, name: r.user_name, badges: JSON.parse(r.badges) },
    body: r.body,
    reply_to: r.reply_to,
    mentions: JSON.parse(r.mentions),
    at: iso(r.created_at),
  };
}

export interface NewMessage {
  streamId: string;
  id: string;
  userId: string | null;
  userName: string;
  badges: string[];
  body: string;
  replyTo: number | null;
  mentions: string[];
  createdAt: number;
  visibleAt: number;
  scores: Record<string, number> | null;
}

/** Inserts with the next seq of its stream; runs inside the caller's transaction. */
export function insertMessage(db: Database, m: NewMessage): number {
  const { s } = db.query<{ s: number }, [string]>("SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM messages WHERE stream_id = ?").get(m.streamId)!;
  db.query(
    `INSERT INTO messages (stream_id, seq, id, user_id, user_name, badges, body, reply_to, mentions, created_at, visible_at, scores)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(m.streamId, s, m.id, m.userId, m.userName, JSON.stringify(m.badges), m.body, m.replyTo, JSON.stringify(m.mentions), m.createdAt, m.visibleAt, m.scores ? JSON.stringify(m.scores) : null);
  return s;
}

export function maxSeq(db: Database, streamId: string): number {
  return db.query<{ s: number }, [string]>("SELECT COALESCE(MAX(seq), 0) AS s FROM messages WHERE stream_id = ?").get(streamId)!.s;
}

export function maxVisibleSeq(db: Database, streamId: string, now: number): number {
  return db.query<{ s: number | null }, [string, number]>("SELECT MAX(seq) AS s FROM messages WHERE stream_id = ? AND visible_at <= ?").get(streamId, now)?.s ?? 0;
}

/** Every row from the first one still inside its chat delay onward: they go out in seq order. */
export function pendingVisible(db: Database, streamId: string, now: number): MessageRow[] {
  const first = db.query<{ s: number | null }, [string, number]>("SELECT MIN(seq) AS s FROM messages WHERE stream_id = ? AND visible_at > ?").get(streamId, now)?.s;
  if (first == null) return [];
  return db.query<MessageRow, [string, number]>("SELECT * FROM messages WHERE stream_id = ? AND seq >= ? ORDER BY seq").all(streamId, first);
}

export function lastMessages(db: Database, streamId: string, uptoSeq: number, limit: number): MessageRow[] {
  return db.query<MessageRow, [string, number, number]>("SELECT * FROM messages WHERE stream_id = ? AND seq <= ? ORDER BY seq DESC LIMIT ?").all(streamId, uptoSeq, limit).reverse();
}

export function messagesBetween(db: Database, streamId: string, afterSeq: number, uptoSeq: number, limit: number): MessageRow[] {
  return db.query<MessageRow, [string, number, number, number]>("SELECT * FROM messages WHERE stream_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?").all(streamId, afterSeq, uptoSeq, limit);
}

/** The newest `limit` messages in (afterSeq, beforeSeq), ascending. */
export function messagesBefore(db: Database, streamId: string, beforeSeq: number, limit: number, afterSeq = 0): MessageRow[] {
  return db.query<MessageRow, [string, number, number, number]>("SELECT * FROM messages WHERE stream_id = ? AND seq < ? AND seq > ? ORDER BY seq DESC LIMIT ?").all(streamId, beforeSeq, afterSeq, limit).reverse();
}

/** Seqs in (afterSeq, uptoSeq] that are tombstones, newest `limit` of them, ascending. */
export function deletedSeqs(db: Database, streamId: string, afterSeq: number, uptoSeq: number, limit: number): number[] {
  return db
    .query<{ seq: number }, [string, number, number, number]>("SELECT seq FROM messages WHERE stream_id = ? AND seq > ? AND seq <= ? AND body IS NULL ORDER BY seq DESC LIMIT ?")
    .all(streamId, afterSeq, uptoSeq, limit)
    .map((r) => r.seq)
    .reverse();
}

export function findMessage(db: Database, streamId: string, seq: number): MessageRow | undefined {
  return db.query<MessageRow, [string, number]>("SELECT * FROM messages WHERE stream_id = ? AND seq = ?").get(streamId, seq) ?? undefined;
}

/** Turns a message into a tombstone: the text is gone, the seq stays. */
export function tombstone(db: Database, streamId: string, seq: number, now: number): boolean {
  return db.query("UPDATE messages SET body = NULL, mentions = '[]', deleted_at = ? WHERE stream_id = ? AND seq = ? AND body IS NOT NULL").run(now, streamId, seq).changes > 0;
}

export function tombstoneUser(db: Database, streamId: string, userId: string | null, now: number): number[] {
  const rows = userId === null
    ? db.query<{ seq: number }, [string]>("SELECT seq FROM messages WHERE stream_id = ? AND body IS NOT NULL").all(streamId)
    : db.query<{ seq: number }, [string, string]>("SELECT seq FROM messages WHERE stream_id = ? AND user_id = ? AND body IS NOT NULL").all(streamId, userId);
  if (userId === null) db.query("UPDATE messages SET body = NULL, mentions = '[]', deleted_at = ? WHERE stream_id = ? AND body IS NOT NULL").run(now, streamId);
  else db.query("UPDATE messages SET body = NULL, mentions = '[]', deleted_at = ? WHERE stream_id = ? AND user_id = ? AND body IS NOT NULL").run(now, streamId, userId);
  return rows.map((r) => r.seq);
}

// ---- nonces ----

export function findNonce(db: Database, streamId: string, viewerKey: string, nonce: string): unknown | undefined {
  const r = db.query<{ answer: string }, [string, string, string]>("SELECT answer FROM chat_nonces WHERE stream_id = ? AND viewer_key = ? AND nonce = ?").get(streamId, viewerKey, nonce);
  return r ? JSON.parse(r.answer) : undefined;
}

export function saveNonce(db: Database, viewerKey: string, nonce: string, streamId: string, answer: unknown, now: number): void {
  db.query("INSERT INTO chat_nonces (stream_id, viewer_key, nonce, answer, created_at) VALUES (?, ?, ?, ?, ?)").run(streamId, viewerKey, nonce, JSON.stringify(answer), now);
}

// ---- review queue (held messages, reports, escalations) ----

export interface QueueRow {
  id: string;
  stream_id: string;
  kind: string;
  status: string;
  user_id: string | null;
  user_name: string;
  badges: string;
  body: string | null;
  reply_to: number | null;
  mentions: string;
  reasons: string;
  scores: string | null;
  created_at: number;
  decided_at: number | null;
  decided_by: string | null;
  decision_reason: string | null;
  seq: number | null;
  target_seq: number | null;
  reporter_id: string | null;
  expires_at: number | null;
}

export function insertHeld(db: Database, h: { id: string; streamId: string; userId: string | null; userName: string; badges: string[]; body: string; replyTo: number | null; mentions: string[]; reasons: string[]; scores: Record<string, number>; at: number; expiresAt: number }): void {
  db.query(
    `INSERT INTO review_queue (id, stream_id, kind, status, user_id, user_name, badges, body, reply_to, mentions, reasons, scores, created_at, expires_at)
     VALUES (?, ?, 'held', 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(h.id, h.streamId, h.userId, h.userName, JSON.stringify(h.badges), h.body, h.replyTo, JSON.stringify(h.mentions), JSON.stringify(h.reasons), JSON.stringify(h.scores), h.at, h.expiresAt);
}

/** A viewer's report of a message: a snapshot of the message goes with it. */
export function insertReport(db: Database, r: { id: string; streamId: string; message: MessageRow; reporterId: string; reason: string | null; at: number; expiresAt: number }): void {
  const m = r.message;
  db.query(
    `INSERT INTO review_queue (id, stream_id, kind, status, user_id, user_name, badges, body, reply_to, mentions, reasons, scores, created_at, expires_at, target_seq, reporter_id)
     VALUES (?, ?, 'report', 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(r.id, r.streamId, m.user_id, m.user_name, m.badges, m.body, m.reply_to, m.mentions, JSON.stringify(r.reason ? [r.reason] : []), m.scores, r.at, r.expiresAt, m.seq, r.reporterId);
}

export function findReport(db: Database, streamId: string, seq: number, reporterId: string): QueueRow | undefined {
  return db.query<QueueRow, [string, number, string]>("SELECT * FROM review_queue WHERE stream_id = ? AND target_seq = ? AND reporter_id = ? AND kind = 'report'").get(streamId, seq, reporterId) ?? undefined;
}

/** A viewer's held messages in a stream since a time, still waiting (for automatic escalation). */
export function pendingHeldOf(db: Database, streamId: string, userId: string, since: number): QueueRow[] {
  return db.query<QueueRow, [string, string, number]>("SELECT * FROM review_queue WHERE stream_id = ? AND user_id = ? AND kind = 'held' AND status = 'pending' AND created_at >= ?").all(streamId, userId, since);
}

export function expiredPending(db: Database, now: number, limit: number): QueueRow[] {
  return db.query<QueueRow, [number, number]>("SELECT * FROM review_queue WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?").all(now, limit);
}

export function findQueueItem(db: Database, id: string): QueueRow | undefined {
  return db.query<QueueRow, [string]>("SELECT * FROM review_queue WHERE id = ?").get(id) ?? undefined;
}

/** False when the item was not open (decided meanwhile; or escalated, unless `escalatedToo`). */
export function decideQueueItem(db: Database, id: string, status: string, by: string | null, reason: string | null, at: number, seq: number | null, escalatedToo = true): boolean {
  const open = escalatedToo ? "('pending', 'escalated')" : "('pending')";
  return db.query(`UPDATE review_queue SET status = ?, decided_by = ?, decision_reason = ?, decided_at = ?, seq = ? WHERE id = ? AND status IN ${open}`).run(status, by, reason, at, seq, id).changes > 0;
}

export function listQueue(db: Database, streamId: string, status: string | null, afterId: string | null, limit: number): QueueRow[] {
  return status === null
    ? db.query<QueueRow, [string, string, number]>("SELECT * FROM review_queue WHERE stream_id = ? AND id > ? ORDER BY id LIMIT ?").all(streamId, afterId ?? "", limit)
    : db.query<QueueRow, [string, string, string, number]>("SELECT * FROM review_queue WHERE stream_id = ? AND status = ? AND id > ? ORDER BY id LIMIT ?").all(streamId, status, afterId ?? "", limit);
}

export function queueView(r: QueueRow) {
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    user: { id: r.user_id, name: r.user_name, badges: JSON.parse(r.badges) },
    body: r.body,
    reply_to: r.reply_to,
    reasons: JSON.parse(r.reasons),
    scores: r.scores ? JSON.parse(r.scores) : null,
    created_at: iso(r.created_at),
    decided_at: r.decided_at === null ? null : iso(r.decided_at),
    decided_by: r.decided_by,
    decision_reason: r.decision_reason,
    seq: r.seq,
    target_seq: r.target_seq,
    reporter_id: r.reporter_id,
    expires_at: r.expires_at === null ? null : iso(r.expires_at),
  };
}

// ---- bans and timeouts ----

export interface BanRow {
  stream_id: string;
  user_id: string;
  until: number | null;
  reason: string | null;
}

export function loadBans(db: Database, streamId: string): BanRow[] {
  return db.query<BanRow, [string]>("SELECT stream_id, user_id, until, reason FROM stream_bans WHERE stream_id = ?").all(streamId);
}

export function upsertBan(db: Database, streamId: string, userId: string, until: number | null, reason: string | null, by: string | null, at: number): void {
  db.query(
    `INSERT INTO stream_bans (stream_id, user_id, until, reason, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT(stream_id, user_id) DO UPDATE SET until = excluded.until, reason = excluded.reason, created_by = excluded.created_by, created_at = excluded.created_at`,
  ).run(streamId, userId, until, reason, by, at);
}

export function deleteBan(db: Database, streamId: string, userId: string): boolean {
  return db.query("DELETE FROM stream_bans WHERE stream_id = ? AND user_id = ?").run(streamId, userId).changes > 0;
}
