// Streams and broadcasts: the only door. Owns streams, stream_moderators and broadcasts. Verbs
// validate, write with their audit row in one transaction, and only then tell the listener (which
// broadcasts to sockets): broadcast after commit.
import type { Database } from "bun:sqlite";
import type { Actor } from "../actor.ts";
import type { Accounts } from "../accounts/index.ts";
import type { GroupCommit } from "../runtime/group-commit.ts";
import { recordAudit } from "../audit/index.ts";
import { ok, refuse, type Result } from "../errors.ts";
import { newId, randomToken } from "../runtime/ids.ts";
import { iso, isoOrNull, type Clock } from "../runtime/time.ts";
import { cleanText, LIMITS } from "../text.ts";
import { AUDIT } from "./events.ts";
import { applySettingsPatch, defaultSettings, modesOf, readSettings, type Settings } from "./settings.ts";

export const SLUG = /^[a-z0-9-]{3,64}$/;

export interface StreamRecord {
  id: string;
  slug: string;
  title: string;
  owner_id: string | null;
  settings: Settings;
  status: "offline" | "live";
  current_broadcast_id: string | null;
  live_since: number | null;
  epoch: string;
  created_at: number;
  updated_at: number;
}

interface StreamRow extends Omit<StreamRecord, "settings"> {
  settings: string;
}

export interface BroadcastView {
  id: string;
  stream: string;
  started_at: string;
  ended_at: string | null;
}

/** What every viewer may see: never blocked terms or moderation levels. */
export function publicView(s: StreamRecord) {
  return {
    slug: s.slug,
    title: s.title,
    status: s.status,
    live_since: isoOrNull(s.live_since),
    modes: modesOf(s.settings),
    reactions: s.settings.reactions,
    playback_url: s.settings.playback_url,
  };
}
export type PublicStream = ReturnType<typeof publicView>;

export interface StreamListener {
  streamChanged(stream: StreamRecord, publicChanged: boolean): void;
  announcement(stream: StreamRecord, body: string, at: number): void;
  segmentMarked(stream: StreamRecord, segment: SegmentView): void;
}

export interface BroadcastRecord {
  id: string;
  stream_id: string;
  started_at: number;
  ended_at: number | null;
}

export interface SegmentView {
  broadcast_id: string;
  label: string;
  started_at: string;
}

export class Streams {
  private listener: StreamListener = { streamChanged() {}, announcement() {}, segmentMarked() {} };

  constructor(
    private db: Database,
    private clock: Clock,
    private accounts: Accounts,
    private gc: GroupCommit,
  ) {}

  setListener(l: StreamListener): void {
    this.listener = l;
  }

  findById(id: string): StreamRecord | undefined {
    const row = this.db.query<StreamRow, [string]>("SELECT * FROM streams WHERE id = ?").get(id);
    return row ? toRecord(row) : undefined;
  }

  all(): StreamRecord[] {
    return this.db.query<StreamRow, []>("SELECT * FROM streams ORDER BY id").all().map(toRecord);
  }

  /** A new epoch: history was lost (purge, restore). Runs inside the caller's transaction. */
  rotateEpoch(db: Database, id: string, now: number): void {
    db.query("UPDATE streams SET epoch = ?, updated_at = ? WHERE id = ?").run(randomToken(8), now, id);
  }

  /** Re-reads a stream after a change made elsewhere and tells the listener (not a public change). */
  notifyChanged(id: string): void {
    const s = this.findById(id);
    if (s) this.listener.streamChanged(s, false);
  }

  findBySlug(slug: string): StreamRecord | undefined {
    const row = this.db.query<StreamRow, [string]>("SELECT * FROM streams WHERE slug = ?").get(slug);
    return row ? toRecord(row) : undefined;
  }

  list(afterId: string | null, limit: number): StreamRecord[] {
    return this.db.query<StreamRow, [string, number]>("SELECT * FROM streams WHERE id > ? ORDER BY id LIMIT ?").all(afterId ?? "", limit).map(toRecord);
  }

  moderatorUsernames(streamId: string): string[] {
    return this.db
      .query<{ username: string }, [string]>("SELECT a.username FROM stream_moderators m JOIN accounts a ON a.id = m.account_id WHERE m.stream_id = ? ORDER BY a.username")
      .all(streamId)
      .map((r) => r.username);
  }

  isModerator(streamId: string, accountId: string): boolean {
    return this.db.query("SELECT 1 FROM stream_moderators WHERE stream_id = ? AND account_id = ?").get(streamId, accountId) !== null;
  }

  /** The full view for the API and dashboard. */
  apiView(s: StreamRecord) {
    const owner = s.owner_id ? this.accounts.findById(s.owner_id)?.username ?? null : null;
    return {
      id: s.id,
      slug: s.slug,
      title: s.title,
      owner,
      status: s.status,
      live_since: isoOrNull(s.live_since),
      current_broadcast_id: s.current_broadcast_id,
      epoch: s.epoch,
      settings: s.settings,
      moderators: this.moderatorUsernames(s.id),
      public: publicView(s),
      created_at: iso(s.created_at),
      updated_at: iso(s.updated_at),
    };
  }

  create(actor: Actor, input: unknown): Result<StreamRecord> {
    if (typeof input !== "object" || input === null || Array.isArray(input)) return refuse("invalid_payload", "expected {slug, title, owner?}");
    const i = input as Record<string, unknown>;
    const fields: Record<string, string> = {};
    for (const k of Object.keys(i)) if (!["slug", "title", "owner", "settings"].includes(k)) fields[k] = "unknown field";
    if (typeof i.slug !== "string" || !SLUG.test(i.slug)) fields.slug = "3-64 of a-z 0-9 -";
    const title = cleanText(i.title, "title", LIMITS.title);
    if (!title.ok) Object.assign(fields, title.fields ?? { title: title.message });
    let ownerId: string | null = null;
    if (i.owner !== undefined && i.owner !== null) {
      const owner = typeof i.owner === "string" ? this.accounts.findByUsername(i.owner) : undefined;
      if (!owner) fields.owner = "an existing account's username";
      else if (owner.role === "moderator") fields.owner = "a creator or admin account (moderators do not own streams)";
      else ownerId = owner.id;
    } else if (actor.type === "account" && actor.role === "creator") ownerId = actor.id;
    let settings = defaultSettings();
    if (i.settings !== undefined) {
      const s = applySettingsPatch(settings, i.settings);
      if (!s.ok) Object.assign(fields, s.fields ?? { settings: s.message });
      else settings = s.value;
    }
    if (Object.keys(fields).length || !title.ok) return refuse("invalid_payload", "invalid stream", { fields });
    if (this.findBySlug(i.slug as string)) return refuse("conflict", `stream ${i.slug} exists`, { fields: { slug: "is taken" } });
    const now = this.clock.now();
    const rec: StreamRecord = {
      id: newId(), slug: i.slug as string, title: title.value, owner_id: ownerId, settings, status: "offline",
      current_broadcast_id: null, live_since: null, epoch: randomToken(8), created_at: now, updated_at: now,
    };
    this.db.transaction(() => {
      this.db
        .query("INSERT INTO streams (id, slug, title, owner_id, settings, status, epoch, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'offline', ?, ?, ?)")
        .run(rec.id, rec.slug, rec.title, rec.owner_id, JSON.stringify(rec.settings), rec.epoch, now, now);
      recordAudit(this.db, { at: now, actor, action: AUDIT.create, streamId: rec.id, target: { type: "stream", id: rec.id }, data: { slug: rec.slug, owner_id: ownerId } });
    }).immediate();
    return ok(rec);
  }

  update(actor: Actor, slug: string, input: unknown): Result<StreamRecord> {
    const s = this.findBySlug(slug);
    if (!s) return refuse("not_found", `no stream ${slug}`);
    if (typeof input !== "object" || input === null || Array.isArray(input)) return refuse("invalid_payload", "expected {title?, settings?}");
    const i = input as Record<string, unknown>;
    const fields: Record<string, string> = {};
    for (const k of Object.keys(i)) if (k !== "title" && k !== "settings") fields[k] = "unknown field";
    let title = s.title;
    if (i.title !== undefined) {
      const t = cleanText(i.title, "title", LIMITS.title);
      if (!t.ok) Object.assign(fields, t.fields ?? { title: t.message });
      else title = t.value;
    }
    let settings = s.settings;
    if (i.settings !== undefined) {
      const r = applySettingsPatch(s.settings, i.settings);
      if (!r.ok) Object.assign(fields, r.fields ?? { settings: r.message });
      else settings = r.value;
    }
    if (Object.keys(fields).length) return refuse("invalid_payload", "invalid stream update", { fields });
    const next: StreamRecord = { ...s, title, settings, updated_at: this.clock.now() };
    const changedSettings = Object.keys(settings).filter((k) => JSON.stringify(settings[k as keyof Settings]) !== JSON.stringify(s.settings[k as keyof Settings]));
    if (title === s.title && changedSettings.length === 0) return ok(s);
    this.db.transaction(() => {
      this.db.query("UPDATE streams SET title = ?, settings = ?, updated_at = ? WHERE id = ?").run(title, JSON.stringify(settings), next.updated_at, s.id);
      recordAudit(this.db, {
        at: next.updated_at, actor, action: AUDIT.update, streamId: s.id, target: { type: "stream", id: s.id },
        data: { title: title !== s.title ? title : undefined, settings: Object.fromEntries(changedSettings.map((k) => [k, settings[k as keyof Settings]])) },
      });
    }).immediate();
    this.listener.streamChanged(next, JSON.stringify(publicView(next)) !== JSON.stringify(publicView(s)));
    return ok(next);
  }

  goLive(actor: Actor, slug: string): Result<BroadcastView> {
    const s = this.findBySlug(slug);
    if (!s) return refuse("not_found", `no stream ${slug}`);
    if (s.status === "live") return refuse("conflict", `stream ${slug} is already live`);
    const now = this.clock.now();
    const id = newId();
    this.db.transaction(() => {
      this.db.query("INSERT INTO broadcasts (id, stream_id, started_at) VALUES (?, ?, ?)").run(id, s.id, now);
      this.db.query("UPDATE streams SET status = 'live', current_broadcast_id = ?, live_since = ?, updated_at = ? WHERE id = ?").run(id, now, now, s.id);
      recordAudit(this.db, { at: now, actor, action: AUDIT.live, streamId: s.id, target: { type: "broadcast", id } });
    }).immediate();
    this.listener.streamChanged({ ...s, status: "live", current_broadcast_id: id, live_since: now, updated_at: now }, true);
    return ok({ id, stream: s.slug, started_at: iso(now), ended_at: null });
  }

  end(actor: Actor, slug: string): Result<BroadcastView> {
    const s = this.findBySlug(slug);
    if (!s) return refuse("not_found", `no stream ${slug}`);
    if (s.status !== "live" || !s.current_broadcast_id) return refuse("conflict", `stream ${slug} is not live`);
    const now = this.clock.now();
    const id = s.current_broadcast_id;
    this.db.transaction(() => {
      this.db.query("UPDATE broadcasts SET ended_at = ? WHERE id = ?").run(now, id);
      this.db.query("UPDATE streams SET status = 'offline', current_broadcast_id = NULL, live_since = NULL, updated_at = ? WHERE id = ?").run(now, s.id);
      recordAudit(this.db, { at: now, actor, action: AUDIT.end, streamId: s.id, target: { type: "broadcast", id } });
    }).immediate();
    this.listener.streamChanged({ ...s, status: "offline", current_broadcast_id: null, live_since: null, updated_at: now }, true);
    return ok({ id, stream: s.slug, started_at: iso(s.live_since ?? now), ended_at: iso(now) });
  }

  findBroadcast(id: string): BroadcastRecord | undefined {
    return this.db.query<BroadcastRecord, [string]>("SELECT id, stream_id, started_at, ended_at FROM broadcasts WHERE id = ?").get(id) ?? undefined;
  }

  /** A broadcast's segment marks, in order (ms). */
  segmentsOf(broadcastId: string): Array<{ label: string; started_at: number }> {
    return this.db.query<{ label: string; started_at: number }, [string]>("SELECT label, started_at FROM broadcast_segments WHERE broadcast_id = ? ORDER BY started_at, seq").all(broadcastId);
  }

  /** Marks the content segment in force from now on; only while the broadcast is live. Audited. */
  markSegment(actor: Actor, broadcastId: string, raw: unknown): Result<SegmentView> {
    const b = this.findBroadcast(broadcastId);
    if (!b) return refuse("not_found", `no broadcast ${broadcastId}`);
    if (b.ended_at !== null) return refuse("conflict", "this broadcast has ended");
    const body = (typeof raw === "object" && raw !== null && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
    const extra = Object.keys(body).filter((k) => k !== "label");
    if (extra.length) return refuse("invalid_payload", "unknown fields", { fields: Object.fromEntries(extra.map((k) => [k, "unknown field"])) });
    const label = cleanText(body.label, "label", LIMITS.segment);
    if (!label.ok) return label;
    const s = this.findById(b.stream_id);
    if (!s) return refuse("not_found", "the stream of this broadcast is gone");
    const now = Math.max(this.clock.now(), b.started_at);
    this.db.transaction(() => {
      // seq orders marks made in the same millisecond: the later one is the segment in force.
      this.db.query(
        "INSERT INTO broadcast_segments (broadcast_id, seq, label, started_at, created_by) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM broadcast_segments WHERE broadcast_id = ?), ?, ?, ?)",
      ).run(b.id, b.id, label.value, now, actor.type === "system" ? null : actor.id);
      recordAudit(this.db, { at: now, actor, action: AUDIT.segment, streamId: s.id, target: { type: "broadcast", id: b.id }, data: { label: label.value } });
    }).immediate();
    const view: SegmentView = { broadcast_id: b.id, label: label.value, started_at: iso(now) };
    this.listener.segmentMarked(s, view);
    return ok(view);
  }

  setModerator(actor: Actor, slug: string, username: string, assigned: boolean): Result<{ stream: string; moderators: string[] }> {
    const s = this.findBySlug(slug);
    if (!s) return refuse("not_found", `no stream ${slug}`);
    const acc = this.accounts.findByUsername(username);
    if (!acc) return refuse("not_found", `no account ${username}`);
    const now = this.clock.now();
    this.db.transaction(() => {
      const changes = assigned
        ? this.db.query("INSERT OR IGNORE INTO stream_moderators (stream_id, account_id, created_at) VALUES (?, ?, ?)").run(s.id, acc.id, now).changes
        : this.db.query("DELETE FROM stream_moderators WHERE stream_id = ? AND account_id = ?").run(s.id, acc.id).changes;
      if (changes > 0) {
        recordAudit(this.db, { at: now, actor, action: assigned ? AUDIT.moderatorAdd : AUDIT.moderatorRemove, streamId: s.id, target: { type: "account", id: acc.id }, data: { username: acc.username } });
      }
    }).immediate();
    return ok({ stream: s.slug, moderators: this.moderatorUsernames(s.id) });
  }

  /** A moderator announcement: audited (through group commit, like every moderation action), then broadcast. */
  async announce(actor: Actor, slug: string, rawBody: unknown): Promise<Result<{ body: string; at: string }>> {
    const s = this.findBySlug(slug);
    if (!s) return refuse("not_found", `no stream ${slug}`);
    const body = cleanText(rawBody, "body", LIMITS.announcement);
    if (!body.ok) return body;
    const now = this.clock.now();
    await this.gc.run((db) => recordAudit(db, { at: now, actor, action: AUDIT.announce, streamId: s.id, target: { type: "stream", id: s.id }, data: { body: body.value } }));
    this.listener.announcement(s, body.value, now);
    return ok({ body: body.value, at: iso(now) });
  }
}

function toRecord(row: StreamRow): StreamRecord {
  return { ...row, settings: readSettings(row.settings) };
}
