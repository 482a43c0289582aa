// Polls: the only door. Owns polls and poll_votes. Opening and closing write their audit row in the
// same transaction; a vote is stored (group commit) before its ack. Open polls live in memory with
// their tallies and voters; tallies go out as `poll:update` at most 4 times a second, and a poll
// closes at its deadline (checked on the same tick, so a restart closes an overdue poll at start).
import type { Database } from "bun:sqlite";
import { actorId, type Actor } from "../actor.ts";
import { recordAudit } from "../audit/index.ts";
import { ok, refuse, type Result } from "../errors.ts";
import type { GroupCommit } from "../runtime/group-commit.ts";
import { newId } from "../runtime/ids.ts";
import type { Logger } from "../runtime/logger.ts";
import { iso, type Clock } from "../runtime/time.ts";
import type { StreamRecord, Streams } from "../streams/index.ts";
import { AUDIT } from "./events.ts";
import { parseNewPoll, parseVote, winnerOf } from "./poll.ts";

export interface PollView {
  id: string;
  question: string;
  options: string[];
  tallies: number[];
  total: number;
  opened_at: string;
  closes_at: string;
  status: "open" | "closed";
  winner: number | null;
}

export interface PollsListener {
  pollOpened(slug: string, poll: PollView): void;
  pollUpdated(slug: string, update: { id: string; tallies: number[]; total: number }): void;
  pollClosed(slug: string, poll: PollView): void;
}

export type Restriction = (stream: StreamRecord, viewerId: string | null) => { kind: "banned" | "timed_out"; until: number | null } | null;

export interface Voter {
  key: string; // viewer id, or the guest socket's key
  viewerId: string | null;
}

interface OpenPoll {
  id: string;
  streamId: string;
  slug: string;
  question: string;
  options: string[];
  tallies: number[];
  total: number;
  openedAt: number;
  closesAt: number;
  voters: Set<string>;
  dirty: boolean;
  closing: boolean; // refuses votes from the moment a close starts
  committed: boolean; // claimed in memory before its insert commits; shown to nobody until then
}

interface PollRow {
  id: string;
  stream_id: string;
  question: string;
  options: string;
  opened_at: number;
  closes_at: number;
  status: "open" | "closed";
  closed_at: number | null;
  tallies: string | null;
  total: number | null;
  winner: number | null;
}

interface ErasedVote {
  poll_id: string;
  voter_key: string;
  option: number;
}

const TICK_MS = 250; // poll:update at most 4 a second

export class Polls {
  private byStream = new Map<string, OpenPoll>();
  private byId = new Map<string, OpenPoll>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private listener: PollsListener = { pollOpened() {}, pollUpdated() {}, pollClosed() {} };
  votes = 0;

  constructor(
    private db: Database,
    private clock: Clock,
    private gc: GroupCommit,
    private streams: Streams,
    private restriction: Restriction,
    private logger: Logger,
  ) {}

  setListener(l: PollsListener): void {
    this.listener = l;
  }

  /** Closes polls that ran out while the process was down, loads the open ones, starts the tick. */
  start(): void {
    const now = this.clock.now();
    const rows = this.db.query<PollRow, []>("SELECT * FROM polls WHERE status = 'open'").all();
    for (const r of rows) {
      if (r.closes_at <= now) {
        // Nobody is connected yet: stored and audited, nothing to broadcast.
        this.db.transaction(() => this.closeInTx(r.id, r.stream_id, { type: "system" }, now, "deadline passed while stopped")).immediate();
        continue;
      }
      const stream = this.streams.findById(r.stream_id);
      if (!stream) continue;
      const voters = this.db.query<{ voter_key: string; option: number }, [string]>("SELECT voter_key, option FROM poll_votes WHERE poll_id = ?").all(r.id);
      const options = JSON.parse(r.options) as string[];
      const tallies = options.map(() => 0);
      for (const v of voters) tallies[v.option]!++;
      this.remember({
        id: r.id, streamId: r.stream_id, slug: stream.slug, question: r.question, options, tallies, total: voters.length,
        openedAt: r.opened_at, closesAt: r.closes_at, voters: new Set(voters.map((v) => v.voter_key)), dirty: false, closing: false, committed: true,
      });
    }
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private remember(p: OpenPoll): void {
    this.byStream.set(p.streamId, p);
    this.byId.set(p.id, p);
  }

  private forget(p: OpenPoll): void {
    this.byStream.delete(p.streamId);
    this.byId.delete(p.id);
  }

  /** The join reply's `poll`: the stream's open poll, or null. */
  current(stream: StreamRecord): PollView | null {
    const p = this.byStream.get(stream.id);
    return p && p.committed && !p.closing ? openView(p) : null;
  }

  find(id: string): { stream_id: string; poll: PollView } | undefined {
    const p = this.byId.get(id);
    if (p?.committed) return { stream_id: p.streamId, poll: openView(p) };
    if (p) return undefined;
    const r = this.db.query<PollRow, [string]>("SELECT * FROM polls WHERE id = ?").get(id);
    return r ? { stream_id: r.stream_id, poll: this.rowView(r) } : undefined;
  }

  /** A stream's polls, newest first (results stay queryable after they close). */
  list(stream: StreamRecord, beforeId: string | null, limit: number): PollView[] {
    const rows = beforeId
      ? this.db.query<PollRow, [string, string, number]>("SELECT * FROM polls WHERE stream_id = ? AND id < ? ORDER BY id DESC LIMIT ?").all(stream.id, beforeId, limit)
      : this.db.query<PollRow, [string, number]>("SELECT * FROM polls WHERE stream_id = ? ORDER BY id DESC LIMIT ?").all(stream.id, limit);
    return rows.map((r) => this.rowView(r));
  }

  /** The stream's polls opened within [from, to] (a broadcast's), oldest first: for its report. */
  openedDuring(streamId: string, from: number, to: number): PollView[] {
    return this.db.query<PollRow, [string, number, number]>("SELECT * FROM polls WHERE stream_id = ? AND opened_at BETWEEN ? AND ? ORDER BY opened_at, id").all(streamId, from, to).map((r) => this.rowView(r));
  }

  private rowView(r: PollRow): PollView {
    const open = this.byId.get(r.id);
    if (open) return openView(open);
    const options = JSON.parse(r.options) as string[];
    const tallies = r.tallies ? (JSON.parse(r.tallies) as number[]) : this.talliesInDb(r.id, options.length);
    return {
      id: r.id, question: r.question, options, tallies, total: r.total ?? tallies.reduce((a, b) => a + b, 0),
      opened_at: iso(r.opened_at), closes_at: iso(r.closes_at), status: r.status, winner: r.status === "closed" ? r.winner : null,
    };
  }

  private talliesInDb(pollId: string, n: number): number[] {
    const tallies = Array.from({ length: n }, () => 0);
    for (const t of this.db.query<{ option: number; n: number }, [string]>("SELECT option, COUNT(*) AS n FROM poll_votes WHERE poll_id = ? GROUP BY option").all(pollId)) {
      if (t.option >= 0 && t.option < n) tallies[t.option] = t.n;
    }
    return tallies;
  }

  // ---- verbs ----

  /** Opens a poll (creator, moderator or a moderation-scoped key): one open poll per stream. */
  async openPoll(actor: Actor, stream: StreamRecord, input: unknown): Promise<Result<PollView>> {
    const parsed = parseNewPoll(input);
    if (!parsed.ok) return parsed;
    if (this.byStream.has(stream.id)) return refuse("conflict", "this stream already has an open poll; close it first");
    const { question, options, duration_s } = parsed.value;
    const now = this.clock.now();
    const p: OpenPoll = {
      id: newId(), streamId: stream.id, slug: stream.slug, question, options, tallies: options.map(() => 0), total: 0,
      openedAt: now, closesAt: now + duration_s * 1000, voters: new Set(), dirty: false, closing: false, committed: false,
    };
    // Claimed in memory before the commit, so a second open in the same instant is a conflict too.
    this.remember(p);
    try {
      await this.gc.run((db) => {
        db.query("INSERT INTO polls (id, stream_id, question, options, opened_at, closes_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)")
          .run(p.id, stream.id, question, JSON.stringify(options), now, p.closesAt, actorId(actor));
        recordAudit(db, { at: now, actor, action: AUDIT.open, streamId: stream.id, target: { type: "poll", id: p.id }, data: { question, options, duration_s } });
      });
    } catch (e) {
      this.forget(p);
      if (e instanceof Error && /UNIQUE constraint failed/.test(e.message)) return refuse("conflict", "this stream already has an open poll; close it first");
      throw e;
    }
    p.committed = true;
    const view = openView(p);
    this.listener.pollOpened(p.slug, view);
    return ok(view);
  }

  /** Closes a poll early (moderator). */
  async closePoll(actor: Actor, id: string): Promise<Result<PollView>> {
    const p = this.byId.get(id);
    if (!p || !p.committed) {
      if (p) return refuse("conflict", "this poll is still being opened");
      const r = this.db.query<PollRow, [string]>("SELECT * FROM polls WHERE id = ?").get(id);
      if (!r) return refuse("not_found", `no poll ${id}`);
      return refuse("closed", "this poll is already closed");
    }
    if (p.closing) return refuse("closed", "this poll is already closing");
    return ok(await this.close(p, actor, null));
  }

  /** `poll:vote {poll_id, option}`: one vote per viewer, stored before the ack. */
  async vote(stream: StreamRecord, voter: Voter, payload: Record<string, unknown>): Promise<Result<Record<string, never>>> {
    const v = parseVote(payload);
    if (!v.ok) return v;
    const p = this.byId.get(v.value.pollId);
    if (!p || !p.committed || p.streamId !== stream.id) {
      const known = this.db.query<{ stream_id: string }, [string]>("SELECT stream_id FROM polls WHERE id = ?").get(v.value.pollId);
      return known && known.stream_id === stream.id ? refuse("closed", "this poll is closed") : refuse("not_found", "no such poll in this stream");
    }
    if (p.closing || this.clock.now() >= p.closesAt) return refuse("closed", "this poll is closed");
    if (!voter.viewerId && !stream.settings.guests.vote) return refuse("unauthenticated", "sign in to vote");
    const r = this.restriction(stream, voter.viewerId);
    if (r) return r.kind === "banned" ? refuse("banned", "you are banned from this stream") : refuse("timed_out", "you are timed out", { retryAfterMs: Math.max(0, (r.until ?? 0) - this.clock.now()) });
    const option = v.value.option;
    if (option < 0 || option >= p.options.length) return refuse("invalid_option", `option: 0 to ${p.options.length - 1}`);
    if (p.voters.has(voter.key)) return refuse("already_voted", "you already voted in this poll");
    p.voters.add(voter.key); // claimed now: a second socket of the same viewer cannot slip in
    const now = this.clock.now();
    try {
      await this.gc.run((db) => {
        db.query("INSERT INTO poll_votes (poll_id, voter_key, viewer_id, option, at) VALUES (?, ?, ?, ?, ?)").run(p.id, voter.key, voter.viewerId, option, now);
      });
    } catch (e) {
      p.voters.delete(voter.key);
      throw e;
    }
    // A close queued after this vote counted it from the table; the memory copy follows suit.
    p.tallies[option]!++;
    p.total++;
    p.dirty = true;
    this.votes++;
    return ok({});
  }

  private async close(p: OpenPoll, actor: Actor, reason: string | null): Promise<PollView> {
    p.closing = true;
    const now = this.clock.now();
    let view: PollView;
    try {
      view = await this.gc.run(() => this.closeInTx(p.id, p.streamId, actor, now, reason));
    } catch (e) {
      p.closing = false; // the next tick tries again
      throw e;
    }
    this.forget(p);
    this.listener.pollClosed(p.slug, view);
    return view;
  }

  /** Final tallies come from the stored votes, so every acknowledged vote is in them. */
  private closeInTx(id: string, streamId: string, actor: Actor, now: number, reason: string | null): PollView {
    const r = this.db.query<PollRow, [string]>("SELECT * FROM polls WHERE id = ?").get(id)!;
    const options = JSON.parse(r.options) as string[];
    const tallies = this.talliesInDb(id, options.length);
    const total = tallies.reduce((a, b) => a + b, 0);
    const winner = winnerOf(tallies);
    this.db.query("UPDATE polls SET status = 'closed', closed_at = ?, tallies = ?, total = ?, winner = ?, closed_by = ? WHERE id = ?")
      .run(now, JSON.stringify(tallies), total, winner, actor.type === "system" ? null : actorId(actor), id);
    recordAudit(this.db, { at: now, actor, action: AUDIT.close, streamId, target: { type: "poll", id }, reason, data: { tallies, total, winner } });
    return { id, question: r.question, options, tallies, total, opened_at: iso(r.opened_at), closes_at: iso(r.closes_at), status: "closed", winner };
  }

  private tick(): void {
    const now = this.clock.now();
    for (const p of [...this.byId.values()]) {
      if (p.closing || !p.committed) continue;
      if (now >= p.closesAt) {
        this.close(p, { type: "system" }, "deadline").catch((e) => this.logger.error("poll close failed", { poll: p.id, error: e }));
        continue;
      }
      if (p.dirty) {
        p.dirty = false;
        this.listener.pollUpdated(p.slug, { id: p.id, tallies: [...p.tallies], total: p.total });
      }
    }
  }

  // ---- erasure ----

  /** Inside the erasure transaction: a viewer's votes go. Closed polls keep their final totals. */
  eraseVotes(db: Database, viewerId: string): { count: number; detail: ErasedVote[] } {
    const rows = db.query<ErasedVote, [string]>("DELETE FROM poll_votes WHERE viewer_id = ? RETURNING poll_id, voter_key, option").all(viewerId);
    return { count: rows.length, detail: rows };
  }

  /**
   * After the erasure committed: exactly the deleted votes come off the open polls' tallies. Not a
   * recount: a vote of the same viewer committed in the same batch, after the delete, is stored and
   * adds itself once its own commit returns.
   */
  afterErase(erased: ErasedVote[]): void {
    for (const v of erased) {
      const p = this.byId.get(v.poll_id);
      if (!p) continue;
      p.voters.delete(v.voter_key);
      if (p.tallies[v.option] !== undefined && p.tallies[v.option]! > 0) {
        p.tallies[v.option]!--;
        p.total--;
        p.dirty = true;
      }
    }
  }
}

function openView(p: OpenPoll): PollView {
  return {
    id: p.id, question: p.question, options: p.options, tallies: [...p.tallies], total: p.total,
    opened_at: iso(p.openedAt), closes_at: iso(p.closesAt), status: "open", winner: null,
  };
}
