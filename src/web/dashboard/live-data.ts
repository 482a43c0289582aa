// Read-only views the dashboard needs, composed from the domain doors' existing methods (no SQL
// here). Where a door lacks a query (newest audit rows first, one review item by id, a stream's
// past broadcasts), the composition below is bounded and says what it costs.
import type { AuditRow } from "../../audit/index.ts";
import type { MessageView } from "../../chat/index.ts";
import type { PollView } from "../../polls/index.ts";
import { iso, type Clock } from "../../runtime/time.ts";
import type { BroadcastRecord, StreamRecord } from "../../streams/index.ts";
import type { ViewerCardData } from "../../../views/live/viewer-card.ts";
import type { QueueItem } from "../../../views/live/queue.ts";
import type { DomainDoors } from "./context.ts";
import type { StreamHead } from "../../../views/live/stream.ts";
import type { DashboardMessage } from "../../../views/live/chat.ts";
import type { RestrictedRow } from "../../../views/live/bans.ts";

export interface LiveDataDeps extends DomainDoors {
  clock: Clock;
}

const PAGE = 1000;
/** Windows tried, smallest first, when looking for the newest audit rows (the log reads oldest first). */
const WINDOWS_MS = [60_000, 600_000, 3_600_000, 86_400_000, 30 * 86_400_000, Infinity];
const MAX_PAGES = 20;

export class LiveData {
  private names = new Map<string, string>();

  constructor(private d: LiveDataDeps) {}

  head(s: StreamRecord): StreamHead {
    return { slug: s.slug, title: s.title, status: s.status, live_since: s.live_since === null ? null : iso(s.live_since), current_broadcast_id: s.current_broadcast_id };
  }

  /**
   * The newest messages (tombstones included), oldest first. Those the chat delay still holds back
   * from viewers are marked with `pending_until`: moderators may delete them before anyone sees them.
   */
  recentMessages(s: StreamRecord, n: number): Array<DashboardMessage | { seq: number; deleted: true }> {
    const now = this.d.clock.now();
    const rows = this.d.chat.list(s, { beforeSeq: Number.MAX_SAFE_INTEGER, limit: n });
    return rows.map((r) => {
      if ("deleted" in r) return { seq: r.seq, deleted: true as const };
      const m = stripVisible(r as MessageView & { visible_at?: string });
      return r.visible_at && Date.parse(r.visible_at) > now ? { ...m, pending_until: r.visible_at, pending_ms: Date.parse(r.visible_at) - now } : m;
    });
  }

  /** Pending and escalated items, oldest first (at most 100 of each). */
  queue(s: StreamRecord): QueueItem[] {
    const pending = this.d.chat.listQueue(s, "pending", null, 100);
    const escalated = this.d.chat.listQueue(s, "escalated", null, 100);
    return [...escalated, ...pending].map((r) => this.d.chat.queueView(r));
  }

  /**
   * One review item of this stream, or undefined. The door has no lookup by id for a stream, so this
   * asks listQueue for the first id after the one just below it (ids are compared as strings).
   */
  queueItemOf(s: StreamRecord, id: string): QueueItem | undefined {
    if (!/^[0-9a-f-]{8,64}$/i.test(id)) return undefined;
    const last = id.charCodeAt(id.length - 1);
    const below = id.slice(0, -1) + String.fromCharCode(last - 1) + "~";
    const row = this.d.chat.listQueue(s, null, below, 1)[0];
    return row && row.id === id ? this.d.chat.queueView(row) : undefined;
  }

  /** The open poll, else the stream's latest one (closed), else null. */
  poll(s: StreamRecord): PollView | null {
    return this.d.polls.current(s) ?? this.d.polls.list(s, null, 1)[0] ?? null;
  }

  pollOf(s: StreamRecord, id: string): PollView | undefined {
    const f = this.d.polls.find(id);
    return f && f.stream_id === s.id ? f.poll : undefined;
  }

  segments(s: StreamRecord): Array<{ label: string; started_at: string }> {
    if (!s.current_broadcast_id) return [];
    return this.d.streams.segmentsOf(s.current_broadcast_id).map((x) => ({ label: x.label, started_at: iso(x.started_at) }));
  }

  /** The newest `n` audit rows of a stream, newest first. */
  recentAudit(streamId: string, n: number): AuditRow[] {
    return this.scanAudit(streamId, n, () => true);
  }

  /** Audit rows after an id, oldest first. */
  auditAfter(streamId: string, afterId: number, limit: number): AuditRow[] {
    return this.d.audit.list({ streamId, afterId, limit });
  }

  /**
   * The newest `n` rows that match, newest first: reads windows of growing length (oldest first,
   * as the log is read), at most MAX_PAGES pages each, until one holds `n` matches.
   */
  private scanAudit(streamId: string, n: number, match: (r: AuditRow) => boolean, action?: string): AuditRow[] {
    const now = this.d.clock.now();
    let keep: AuditRow[] = [];
    for (const w of WINDOWS_MS) {
      keep = [];
      let afterId: number | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const rows = this.d.audit.list({ streamId, action, from: w === Infinity ? undefined : now - w, afterId, limit: PAGE });
        for (const r of rows) if (match(r)) keep.push(r);
        if (keep.length > n) keep = keep.slice(-n);
        if (rows.length < PAGE) break;
        afterId = Number(rows[rows.length - 1]!.id);
      }
      if (keep.length >= n) break;
    }
    return keep.reverse();
  }

  /** People's names for audit actors. Usernames are cached (they never change). */
  actorName = (a: { type: string; id: string | null }): string => {
    if (a.type === "system") return "Automod";
    if (!a.id) return a.type;
    if (a.type === "account") {
      let n = this.names.get(a.id);
      if (n === undefined) {
        n = this.d.accounts.findById(a.id)?.username ?? `account ${a.id.slice(0, 8)}`;
        if (this.names.size > 1000) this.names.clear();
        this.names.set(a.id, n);
      }
      return n;
    }
    if (a.type === "api_key") return a.id.startsWith("env:") ? "admin API key" : `API key ${a.id.slice(0, 8)}`;
    return `viewer ${a.id}`;
  };

  viewerCard(s: StreamRecord, viewerId: string): ViewerCardData {
    // Their recent messages: up to 5 pages back through the chat.
    const mine: MessageView[] = [];
    let before = Number.MAX_SAFE_INTEGER;
    for (let page = 0; page < 5 && mine.length < 10; page++) {
      const rows = this.d.chat.list(s, { beforeSeq: before, limit: PAGE });
      for (let i = rows.length - 1; i >= 0 && mine.length < 10; i--) {
        const r = rows[i]!;
        if (!("deleted" in r) && r.user.id === viewerId) mine.push(stripVisible(r as MessageView & { visible_at?: string }));
      }
      if (rows.length < PAGE) break;
      before = rows[0]!.seq;
    }
    const actions = this.scanAudit(s.id, 15, (r) => (r.target?.type === "viewer" && r.target.id === viewerId) || (r.data as { user_id?: unknown } | null)?.user_id === viewerId);
    const linked = this.d.accounts.findByViewerId(viewerId);
    const r = this.d.chat.restriction(s, viewerId);
    return {
      id: viewerId,
      name: mine[0]?.user.name ?? null,
      linked: linked ? { username: linked.username, role: linked.role } : null,
      restriction: r ? { kind: r.kind, until: r.until === null ? null : iso(r.until), reason: r.reason } : null,
      messages: mine,
      actions,
    };
  }

  /** Who is banned or timed out in the stream now. */
  restricted(s: StreamRecord): RestrictedRow[] {
    return this.d.chat.restricted(s).map((r) => ({ ...r, until: r.until === null ? null : iso(r.until) }));
  }

  /** A stream's broadcasts, newest first, found through their `stream.live` audit rows. */
  broadcastsOf(s: StreamRecord, n = 50): BroadcastRecord[] {
    const rows = this.scanAudit(s.id, n, (r) => r.target?.type === "broadcast", "stream.live");
    const out: BroadcastRecord[] = [];
    for (const r of rows) {
      const b = this.d.streams.findBroadcast(r.target!.id);
      if (b && b.stream_id === s.id) out.push(b);
    }
    return out;
  }
}

function stripVisible(r: MessageView & { visible_at?: string }): MessageView {
  const { visible_at: _v, ...m } = r;
  return m;
}
