// Viewers' erasures waiting for DuckDB. The request is a SQLite row written inside the erasure's
// transaction (so it is as durable as the erased messages and the audit row); the door applies it
// through the worker and then deletes it. What a crash or a stuck worker leaves is applied later.
import type { Database } from "bun:sqlite";

export interface PendingErasure {
  id: number;
  viewer_id: string;
  replacement: string;
}

export class ErasureLog {
  constructor(private db: Database) {}

  /**
   * Inside the caller's transaction: the viewer's rows will be renamed to the returned key. Asked
   * again while one is pending (a retry after a 202): that one, with its key.
   */
  add(tx: Database, viewerId: string, at: number): PendingErasure {
    const waiting = tx.query<PendingErasure, [string]>("SELECT id, viewer_id, replacement FROM analytics_erasures WHERE viewer_id = ? ORDER BY id LIMIT 1").get(viewerId);
    if (waiting) return waiting;
    const replacement = `erased:${crypto.randomUUID()}`;
    const r = tx.query("INSERT INTO analytics_erasures (viewer_id, replacement, requested_at) VALUES (?, ?, ?)").run(viewerId, replacement, at);
    return { id: Number(r.lastInsertRowid), viewer_id: viewerId, replacement };
  }

  /** Oldest first: a viewer erased twice is renamed in the order asked. */
  pending(): PendingErasure[] {
    return this.db.query<PendingErasure, []>("SELECT id, viewer_id, replacement FROM analytics_erasures ORDER BY id").all();
  }

  isPending(viewerId: string): boolean {
    return this.db.query("SELECT 1 FROM analytics_erasures WHERE viewer_id = ? LIMIT 1").get(viewerId) !== null;
  }

  done(id: number): void {
    this.db.query("DELETE FROM analytics_erasures WHERE id = ?").run(id);
  }
}
