// The audit log's only door. Rows are written by the caller's transaction (pass the same db inside
// db.transaction), so a change and its audit row commit or roll back together. There is no update or
// delete path here, and SQLite triggers refuse both anyway.
import type { Database } from "bun:sqlite";
import { actorId, type Actor } from "../actor.ts";
import { iso } from "../runtime/time.ts";

export interface AuditEntry {
  at: number;
  actor: Actor;
  action: string;
  streamId?: string | null;
  target?: { type: string; id: string } | null;
  reason?: string | null;
  data?: Record<string, unknown> | null;
}

export function recordAudit(db: Database, e: AuditEntry): void {
  db.query(
    `INSERT INTO audit_log (at, actor_type, actor_id, action, stream_id, target_type, target_id, reason, data)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    e.at,
    e.actor.type,
    actorId(e.actor),
    e.action,
    e.streamId ?? null,
    e.target?.type ?? null,
    e.target?.id ?? null,
    e.reason ?? null,
    e.data ? JSON.stringify(e.data) : null,
  );
}

export interface AuditRow {
  id: string;
  at: string;
  actor: { type: string; id: string | null };
  action: string;
  stream_id: string | null;
  target: { type: string; id: string } | null;
  reason: string | null;
  data: unknown;
}

interface RawAudit {
  id: number;
  at: number;
  actor_type: string;
  actor_id: string | null;
  action: string;
  stream_id: string | null;
  target_type: string | null;
  target_id: string | null;
  reason: string | null;
  data: string | null;
}

export interface AuditQuery {
  streamId?: string;
  action?: string;
  from?: number;
  to?: number;
  afterId?: number;
  limit: number;
}

export function listAudit(db: Database, q: AuditQuery): AuditRow[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.streamId !== undefined) (where.push("stream_id = ?"), args.push(q.streamId));
  if (q.action !== undefined) (where.push("action = ?"), args.push(q.action));
  if (q.from !== undefined) (where.push("at >= ?"), args.push(q.from));
  if (q.to !== undefined) (where.push("at < ?"), args.push(q.to));
  if (q.afterId !== undefined) (where.push("id > ?"), args.push(q.afterId));
  const sql = `SELECT * FROM audit_log ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY id LIMIT ?`;
  args.push(q.limit);
  return db.query<RawAudit, (string | number)[]>(sql).all(...args).map(toRow);
}

/** Read access for routes, which never hold the database themselves. */
export class AuditLog {
  constructor(private db: Database) {}
  list(q: AuditQuery): AuditRow[] {
    return listAudit(this.db, q);
  }
}

function toRow(r: RawAudit): AuditRow {
  return {
    id: String(r.id),
    at: iso(r.at),
    actor: { type: r.actor_type, id: r.actor_id },
    action: r.action,
    stream_id: r.stream_id,
    target: r.target_type && r.target_id ? { type: r.target_type, id: r.target_id } : null,
    reason: r.reason,
    data: r.data ? JSON.parse(r.data) : null,
  };
}
