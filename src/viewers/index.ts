// Viewer revocation: the only door. Owns viewer_revocations, mirrored in memory because every
// socket connect consults it. A revocation refuses tokens issued (iat) at or before its second.
import type { Database } from "bun:sqlite";
import type { Actor } from "../actor.ts";
import { recordAudit } from "../audit/index.ts";
import { ok, refuse, type Result } from "../errors.ts";
import { iso, type Clock } from "../runtime/time.ts";

const VIEWER_ID = /^[\x21-\x7e]{1,128}$/;

export class Viewers {
  private revokedAt = new Map<string, number>();
  private onRevoke: (viewerId: string) => void = () => {};

  constructor(
    private db: Database,
    private clock: Clock,
  ) {
    for (const r of db.query<{ viewer_id: string; revoked_at: number }, []>("SELECT viewer_id, revoked_at FROM viewer_revocations").all()) {
      this.revokedAt.set(r.viewer_id, r.revoked_at);
    }
  }

  setRevokeListener(fn: (viewerId: string) => void): void {
    this.onRevoke = fn;
  }

  /** True when a token with this `iat` (seconds; undefined when absent) is no longer accepted. */
  isRevoked(viewerId: string, iatS: number | undefined): boolean {
    const at = this.revokedAt.get(viewerId);
    if (at === undefined) return false;
    return iatS === undefined || iatS <= Math.floor(at / 1000);
  }

  revoke(actor: Actor, viewerId: string): Result<{ viewer_id: string; revoked_at: string }> {
    if (!VIEWER_ID.test(viewerId)) return refuse("invalid_payload", "viewer id: 1-128 printable ASCII characters");
    const now = this.clock.now();
    this.db.transaction(() => {
      this.db.query("INSERT INTO viewer_revocations (viewer_id, revoked_at) VALUES (?, ?) ON CONFLICT(viewer_id) DO UPDATE SET revoked_at = excluded.revoked_at").run(viewerId, now);
      recordAudit(this.db, { at: now, actor, action: "viewer.revoke", target: { type: "viewer", id: viewerId } });
    }).immediate();
    this.revokedAt.set(viewerId, now);
    this.onRevoke(viewerId);
    return ok({ viewer_id: viewerId, revoked_at: iso(now) });
  }
}
