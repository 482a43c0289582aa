// The viewer socket: every open connection, channel routing, rooms, and the batched presence and
// count timer. It owns no database: joins read through the domain doors, and domain changes come
// back as listener calls that this hub turns into broadcasts.
import type { Server, ServerWebSocket } from "bun";
import type { Accounts } from "../../accounts/index.ts";
import type { Viewers } from "../../viewers/index.ts";
import { Chat, type ChatListener, type ChatSender, type MessageView } from "../../chat/index.ts";
import { CHAT_CLEAR, CHAT_DELETE, CHAT_NEW, NOTICE } from "../../chat/events.ts";
import type { Actor } from "../../actor.ts";
import type { Result } from "../../errors.ts";
import type { Logger } from "../../runtime/logger.ts";
import type { Metrics, Counter } from "../../runtime/metrics.ts";
import { iso, type Clock } from "../../runtime/time.ts";
import { ANNOUNCEMENT, STREAM_UPDATE } from "../../streams/events.ts";
import { publicView, SLUG, type SegmentView, type StreamListener, type StreamRecord, type Streams } from "../../streams/index.ts";
import type { ErrorCode } from "../../errors.ts";
import { take } from "../../runtime/token-bucket.ts";
import { randomToken } from "../../runtime/ids.ts";
import { Conn, JOIN_BURST, JOIN_RATE_PER_S, type Channel } from "./conn.ts";
import { decodeBinary, decodeText, encodeBroadcast, encodeControl, encodePush, encodePushRaw, encodeReply, type Frame } from "./protocol.ts";
import { Room } from "./room.ts";
import type { Reactions, ReactionsListener, ReactionsPayload } from "../../reactions/index.ts";
import { REACTIONS } from "../../reactions/events.ts";
import type { Polls, PollsListener, PollView } from "../../polls/index.ts";
import type { Analytics, Tap } from "../../analytics/index.ts";
import { POLL_CLOSE, POLL_OPEN, POLL_UPDATE } from "../../polls/events.ts";

export type WS = ServerWebSocket<Conn>;

export const MAX_CHANNELS = 100;
const PRESENCE_FLUSH_MS = 500; // diffs at most 2 a second
const COUNT_EVERY_TICKS = 2; // `viewers` at most once a second
const MAX_FRIEND_IDS = 200;

export const CLOSE = { normal: 1000, goingAway: 1001, invalidData: 1007, policy: 1008, tooBig: 1009, restart: 1012 } as const;

export interface HubDeps {
  chat: Chat;
  reactions: Reactions;
  polls: Polls;
  analytics: Analytics;
  streams: Streams;
  viewers: Viewers;
  accounts: Accounts;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Close a socket that sent no frame for this long (HUBBUB_SOCKET_IDLE_TIMEOUT_S); none when absent. */
  idleTimeoutMs?: number;
}

/** Idle sockets are looked for every this many flush ticks (2 s). */
const IDLE_SWEEP_TICKS = 4;
/** Bun's own idle timer rounds shorter timeouts up to 8 s; ours does the same, so both agree. */
const IDLE_FLOOR_MS = 8_000;

/** Refused pushes per socket within FLOOD_WINDOW_MS before it is closed with 1008 and cooled down. */
const FLOOD_REFUSALS = 40;
const FLOOD_WINDOW_MS = 10_000;
export const FLOOD_COOLDOWN_MS = 30_000;
/**
 * A guest has no identity but their address, which a stadium or mobile NAT shares with thousands:
 * one flooding guest closes only their socket; the address is cooled down (every guest connect from
 * it refused) once guests from it were closed for flooding this many times within the cool-down.
 */
export const GUEST_FLOODS_PER_ADDRESS = 3;

export class Hub implements StreamListener, ChatListener, ReactionsListener, PollsListener {
  private server: Server<Conn> | null = null;
  readonly sockets = new Set<WS>();
  // A viewer's sockets: the socket itself while it has one (the common case), a Set beyond that.
  private byViewer = new Map<string, WS | Set<WS>>();
  private rooms = new Map<string, Room>();
  private dirty = new Set<Room>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private tick = 0;
  private nextConnId = 1;
  /** Socket ids restart at 1 in every process; guest keys carry this so they never collide across restarts. */
  private readonly bootId = randomToken(6);
  private nextPhxRef = 1;
  private nextSession = 1;
  private cooldowns = new Map<string, number>(); // viewer id or IP -> refused until
  /** Guest flood closes per address within the cool-down window (GUEST_FLOODS_PER_ADDRESS). */
  private guestFloods = new Map<string, { n: number; since: number }>();
  private m: { joins: Counter; framesIn: Counter; framesOut: Counter; errors: Counter; chat: Counter; reactions: Counter; votes: Counter };

  constructor(private deps: HubDeps) {
    const { metrics } = deps;
    metrics.gauge("hubbub_connections", "Open viewer sockets.", () => this.sockets.size);
    metrics.gauge("hubbub_rooms", "Streams with at least one joined socket.", () => this.rooms.size);
    this.m = {
      joins: metrics.counter("hubbub_joins_total", "Channel joins answered ok."),
      framesIn: metrics.counter("hubbub_frames_in_total", "Frames received from viewer sockets."),
      framesOut: metrics.counter("hubbub_frames_out_total", "Frames sent to viewer sockets (a broadcast counts once per subscriber)."),
      errors: metrics.counter("hubbub_errors_total", "Error replies and protocol violations, by reason."),
      chat: metrics.counter("hubbub_chat_messages_total", "chat:send answered, by status (published, held) or refusal reason."),
      reactions: metrics.counter("hubbub_reactions_total", "reaction:send answered, by status (accepted) or refusal reason."),
      votes: metrics.counter("hubbub_poll_votes_total", "poll:vote answered, by status (accepted) or refusal reason."),
    };
  }

  start(server: Server<Conn>): void {
    this.server = server;
    this.now = performance.now();
    this.timer = setInterval(() => this.flush(), PRESENCE_FLUSH_MS);
  }

  /**
   * Monotonic ms, updated each flush tick (a frame's arrival is stamped with it: no clock read per
   * frame). Not the injectable clock: tests move that by minutes, and sockets must not read as idle.
   */
  private now = performance.now();

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.server = null; // nothing is published after the drain
  }

  // ---- connections ----

  newConn(viewer: Conn["viewer"], ip: string): Conn {
    return new Conn(this.nextConnId++, viewer, ip);
  }

  socketsOf(viewerId: string): number {
    const e = this.byViewer.get(viewerId);
    return e === undefined ? 0 : e instanceof Set ? e.size : 1;
  }

  private viewerSockets(viewerId: string): Iterable<WS> {
    const e = this.byViewer.get(viewerId);
    return e === undefined ? [] : e instanceof Set ? [...e] : [e];
  }

  /** Reserved at upgrade time so concurrent connects cannot overshoot the per-viewer limit. */
  private reservations = new Map<string, number>();
  reserve(viewerId: string): number {
    const n = (this.reservations.get(viewerId) ?? 0) + 1;
    this.reservations.set(viewerId, n);
    return n + this.socketsOf(viewerId) - 1;
  }
  release(viewerId: string): void {
    const n = (this.reservations.get(viewerId) ?? 1) - 1;
    if (n <= 0) this.reservations.delete(viewerId);
    else this.reservations.set(viewerId, n);
  }

  onOpen(ws: WS): void {
    const c = ws.data;
    c.heardAt = this.now;
    this.sockets.add(ws);
    if (c.viewer) {
      this.release(c.viewer.id);
      const e = this.byViewer.get(c.viewer.id);
      if (e === undefined) this.byViewer.set(c.viewer.id, ws);
      else if (e instanceof Set) e.add(ws);
      else this.byViewer.set(c.viewer.id, new Set([e, ws]));
      // A revocation may land between the upgrade checks and this open: check again.
      if (this.deps.viewers.isRevoked(c.viewer.id, c.viewer.iat)) ws.close(CLOSE.policy, "revoked");
    }
  }

  onClose(ws: WS): void {
    const c = ws.data;
    c.closing = true;
    this.sockets.delete(ws);
    const joinedStreams = c.channels.some((ch) => ch.room !== null);
    for (const ch of c.channels) this.untrack(c, ch);
    c.channels = [];
    // A guest is one viewer per socket: analytics may drop what it kept for them.
    if (!c.viewer && joinedStreams) this.deps.analytics.guestGone(this.senderKey(c));
    if (c.viewer) {
      const e = this.byViewer.get(c.viewer.id);
      if (e === ws) this.byViewer.delete(c.viewer.id);
      else if (e instanceof Set) {
        e.delete(ws);
        if (e.size === 1) this.byViewer.set(c.viewer.id, e.values().next().value!);
        else if (e.size === 0) this.byViewer.delete(c.viewer.id);
      }
    }
  }

  /** Revoked viewer: every socket closes at once with 1008. */
  revokeViewer(viewerId: string): void {
    for (const ws of this.viewerSockets(viewerId)) ws.close(CLOSE.policy, "revoked");
  }

  /** Drain: close every socket with the given code so clients reconnect elsewhere or later. */
  closeAll(code: number, reason: string): void {
    for (const ws of this.sockets) ws.close(code, reason);
  }

  // ---- frames ----

  onMessage(ws: WS, message: string | Buffer): void {
    ws.data.heardAt = this.now;
    this.m.framesIn.inc();
    const decoded = typeof message === "string" ? decodeText(message) : decodeBinary(message);
    if (!decoded.ok) {
      this.m.errors.inc(1, { reason: "invalid_frame" });
      if (decoded.answerable) {
        const a = decoded.answerable;
        this.reply(ws, a.joinRef, a.ref, a.topic, "error", { reason: "invalid_payload", message: decoded.why });
      } else {
        // Nothing to address a reply to: this peer does not speak the protocol.
        ws.close(CLOSE.invalidData, `invalid frame: ${decoded.why}`);
      }
      return;
    }
    try {
      this.route(ws, decoded.frame);
    } catch (e) {
      // A bug must not take the socket or the process down: answer as Phoenix does for a crashed channel.
      this.deps.logger.error("channel handler failed", { topic: decoded.frame.topic, event: decoded.frame.event, error: e });
      this.m.errors.inc(1, { reason: "channel_crash" });
      const f = decoded.frame;
      const ch = ws.data.channel(f.topic);
      if (ch) this.send(ws, encodeControl(ch.joinRef, f.topic, "phx_error", { reason: "channel_crash" }));
    }
  }

  private route(ws: WS, f: Frame): void {
    const c = ws.data;
    if (f.topic === "phoenix" && f.event === "heartbeat") return this.reply(ws, null, f.ref, "phoenix", "ok", {});
    if (f.event === "phx_join") return this.join(ws, f);
    const ch = c.channel(f.topic);
    if (f.event === "phx_leave") {
      if (ch && (ch.joinRef === f.joinRef || f.joinRef === null)) return this.leave(ws, ch, f.ref);
      // Not joined, or a leave racing a server-side close of an older join: nothing to close.
      return this.reply(ws, f.joinRef, f.ref, f.topic, "ok", {});
    }
    if (!ch || (f.joinRef !== null && ch.joinRef !== f.joinRef)) return this.unmatched(ws, f);
    if (ch.room) return this.streamEvent(ws, ch, f);
    return this.error(ws, f, "unknown_event", `no event ${f.event} on ${f.topic}`);
  }

  private join(ws: WS, f: Frame): void {
    const c = ws.data;
    // Joins churn presence for everyone in the room, so a socket cannot spin join/leave freely.
    const bucket = { tokens: c.joinTokens, at: c.joinAt };
    const wait = take(bucket, this.deps.clock.now(), JOIN_RATE_PER_S, JOIN_BURST);
    c.joinTokens = bucket.tokens;
    c.joinAt = bucket.at;
    if (wait > 0) return this.error(ws, f, "rate_limited", "too many joins on this socket", { retry_after_ms: wait });
    const existing = c.channel(f.topic);
    if (existing) {
      // Duplicate join: close the old channel (with its join_ref), then join anew.
      this.untrack(c, existing);
      c.channels = c.channels.filter((x) => x !== existing);
      ws.unsubscribe(f.topic);
      this.send(ws, encodeControl(existing.joinRef, f.topic, "phx_close", {}));
    }
    if (c.channels.length >= MAX_CHANNELS) {
      this.m.errors.inc(1, { reason: "too_many_channels" });
      return this.reply(ws, f.joinRef, f.ref, f.topic, "error", { reason: "too many channels joined" });
    }
    const colon = f.topic.indexOf(":");
    const kind = colon > 0 ? f.topic.slice(0, colon) : "";
    const rest = f.topic.slice(colon + 1);
    if (kind === "stream" && SLUG.test(rest)) return this.joinStream(ws, f, rest);
    if (kind === "user" && rest.length > 0) return this.joinUser(ws, f, rest);
    return this.unmatched(ws, f);
  }

  private joinUser(ws: WS, f: Frame, userId: string): void {
    const c = ws.data;
    if (!c.viewer) return this.error(ws, f, "unauthenticated", "sign in to join your user topic");
    if (c.viewer.id !== userId) return this.error(ws, f, "forbidden", "a viewer may join only their own user topic");
    if (Object.keys(f.payload).length > 0) return this.error(ws, f, "invalid_payload", "user topics take no params");
    c.channels.push({ topic: f.topic, joinRef: f.joinRef, room: null, phxRef: null, session: 0, tap: null, listener: false });
    ws.subscribe(f.topic);
    this.m.joins.inc();
    this.reply(ws, f.joinRef, f.ref, f.topic, "ok", {});
  }

  private joinStream(ws: WS, f: Frame, slug: string): void {
    const c = ws.data;
    const params = parseJoinParams(f.payload);
    if (typeof params === "string") return this.error(ws, f, "invalid_payload", params);
    let room = this.rooms.get(slug);
    if (!room) {
      const stream = this.deps.streams.findBySlug(slug);
      if (!stream) return this.error(ws, f, "not_found", `no stream ${slug}`);
      room = new Room(stream);
      this.rooms.set(slug, room);
    }
    const s = room.stream;
    const listener = params.overlay === true;
    // A signed-in viewer may not hide from presence and the count as an "overlay"; the overlay page
    // connects without a token.
    if (listener && c.viewer) return this.error(ws, f, "forbidden", "an overlay joins without a viewer token");
    const me = listener ? { ...this.me(c, s), can: { chat: false, react: false, vote: false, moderate: false } } : this.me(c, s);
    const ch: Channel = { topic: f.topic, joinRef: f.joinRef, room, phxRef: null, session: this.nextSession++, tap: null, listener };
    c.channels.push(ch);
    room.members++;
    // An overlay in the streamer's own broadcasting software is nobody watching: not in the viewer
    // count, presence or analytics.
    if (!listener) {
      if (c.viewer) {
        ch.phxRef = (this.nextPhxRef++).toString(36);
        room.presence.track(c.viewer.id, { phx_ref: ch.phxRef, name: c.viewer.name, badges: c.viewer.badges, online_at: this.onlineAt() });
      } else room.presence.trackGuest();
      ch.tap = this.deps.analytics.joined(s, ch.session, this.senderKey(c), c.ip);
    }
    this.dirty.add(room);
    ws.subscribe(f.topic);
    this.m.joins.inc();
    // Subscribed first, history second: a message committed in between arrives by broadcast, and
    // history stops at the last broadcast seq, so nothing is doubled and nothing is missed.
    const { history, recovered, seq } = this.deps.chat.joinHistory(s, params);
    this.reply(ws, f.joinRef, f.ref, f.topic, "ok", {
      stream: room.view, me, history, recovered, seq, epoch: s.epoch, viewers: room.presence.count, poll: this.deps.polls.current(s),
    });
    // Presence as of the last flush; the next diff (already subscribed) brings it up to date.
    this.send(ws, encodePushRaw(f.joinRef, f.topic, "presence_state", room.presence.joinState()));
  }

  /** The viewer's role in a stream, from the account linked to its viewer id (checked every time). */
  private roleOf(c: Conn, s: StreamRecord): { role: "viewer" | "moderator" | "creator"; actor: Actor | null } {
    const v = c.viewer;
    if (!v) return { role: "viewer", actor: null };
    const acc = this.deps.accounts.linkedAccount(v.id);
    if (!acc) return { role: "viewer", actor: null };
    const actor: Actor = { type: "account", id: acc.id, username: acc.username, role: acc.role };
    if (s.owner_id === acc.id) return { role: "creator", actor };
    if (acc.role === "admin" || this.deps.streams.isModerator(s.id, acc.id)) return { role: "moderator", actor };
    return { role: "viewer", actor: null };
  }

  /** online_at to the second: joins within one second share one string (memory per viewer). */
  private onlineAtSec = -1;
  private onlineAtText = "";
  private onlineAt(): string {
    const now = this.deps.clock.now();
    const sec = Math.floor(now / 1000);
    if (sec !== this.onlineAtSec) {
      this.onlineAtSec = sec;
      this.onlineAtText = iso(sec * 1000);
    }
    return this.onlineAtText;
  }

  private me(c: Conn, s: StreamRecord) {
    const v = c.viewer;
    const { role } = this.roleOf(c, s);
    const st = s.settings;
    const mod = role !== "viewer";
    const restricted = !mod && this.deps.chat.restriction(s, v?.id ?? null) !== null;
    let chat: boolean;
    if (mod) chat = true;
    else if (st.chat_closed || restricted) chat = false;
    else if (!v) chat = st.guests.chat && !st.members_only;
    else chat = !st.members_only || v.member;
    return {
      id: v?.id ?? null,
      name: v?.name ?? c.guestName,
      guest: !v,
      role,
      can: { chat, react: !restricted && (v ? true : st.guests.react), vote: !restricted && (v ? true : st.guests.vote), moderate: mod },
    };
  }

  private leave(ws: WS, ch: Channel, ref: string | null): void {
    const c = ws.data;
    this.untrack(c, ch);
    c.channels = c.channels.filter((x) => x !== ch);
    ws.unsubscribe(ch.topic);
    this.reply(ws, ch.joinRef, ref, ch.topic, "ok", {});
    this.send(ws, encodeControl(ch.joinRef, ch.topic, "phx_close", {}));
  }

  private untrack(c: Conn, ch: Channel): void {
    const room = ch.room;
    if (!room) return;
    room.members--;
    this.dirty.add(room);
    if (ch.listener) return;
    this.deps.analytics.left(room.stream, ch.session);
    if (c.viewer && ch.phxRef) {
      room.presence.untrack(c.viewer.id, ch.phxRef);
    }
    else if (!c.viewer) room.presence.untrackGuest();
  }

  private streamEvent(ws: WS, ch: Channel, f: Frame): void {
    const room = ch.room!;
    if (ch.listener) return this.error(ws, f, "forbidden", "an overlay channel only listens: join without overlay to take part");
    switch (f.event) {
      case "presence:friends": {
        const ids = f.payload.ids;
        if (!Array.isArray(ids) || ids.length > MAX_FRIEND_IDS || !ids.every((x) => typeof x === "string" && x.length <= 128) || Object.keys(f.payload).length !== 1) {
          return this.error(ws, f, "invalid_payload", `ids: a list of at most ${MAX_FRIEND_IDS} viewer ids`);
        }
        const watching = [...new Set(ids as string[])].filter((id) => room.presence.has(id));
        return this.reply(ws, ch.joinRef, f.ref, f.topic, "ok", { watching });
      }
      case "reaction:send": {
        const c = ws.data;
        const key = this.senderKey(c);
        const r = this.deps.reactions.send(room.stream, { key, viewerId: c.viewer?.id ?? null }, f.payload);
        this.m.reactions.inc(1, { status: r.ok ? "accepted" : r.code });
        if (r.ok) this.deps.analytics.reaction(room.stream, key, f.payload.emoji as string, ch.tap ?? undefined);
        return this.answer(ws, ch.joinRef, f, r);
      }
      case "poll:vote": {
        const c = ws.data;
        const s = room.stream;
        const joinRef = ch.joinRef;
        const key = this.senderKey(c);
        this.deps.polls
          .vote(s, { key, viewerId: c.viewer?.id ?? null }, f.payload)
          .then((r) => {
            this.m.votes.inc(1, { status: r.ok ? "accepted" : r.code });
            if (r.ok) this.deps.analytics.vote(room.stream, key, f.payload.poll_id as string, f.payload.option as number, ch.tap ?? undefined);
            this.answer(ws, joinRef, f, r);
          })
          .catch((e) => {
            this.deps.logger.error("poll vote failed", { stream: s.slug, error: e });
            this.error(ws, f, "unavailable", "the vote could not be stored; it was not counted");
          });
        return;
      }
      case "chat:report": {
        const c = ws.data;
        const s = room.stream;
        const joinRef = ch.joinRef;
        this.deps.chat.report(s, c.viewer?.id ?? null, f.payload).then(
          (r) => this.answer(ws, joinRef, f, r),
          (e) => {
            this.deps.logger.error("chat report failed", { stream: s.slug, error: e });
            this.error(ws, f, "unavailable", "the report could not be stored");
          },
        );
        return;
      }
      case "chat:send": {
        const c = ws.data;
        const s = room.stream;
        const sender: ChatSender = {
          key: this.senderKey(c),
          viewerId: c.viewer?.id ?? null,
          name: c.viewer?.name ?? c.guestName,
          badges: c.viewer?.badges ?? [],
          member: c.viewer?.member ?? false,
          role: this.roleOf(c, s).role,
          origin: ch.tap ?? undefined,
        };
        const joinRef = ch.joinRef;
        this.deps.chat
          .send(s, sender, f.payload, (names) => room.resolveMentions(names))
          .then((r) => {
            this.m.chat.inc(1, { status: r.ok ? r.value.status : r.code });
            this.answer(ws, joinRef, f, r);
          })
          .catch((e) => {
            this.deps.logger.error("chat send failed", { stream: s.slug, error: e });
            this.error(ws, f, "unavailable", "the message could not be stored; it was not sent");
          });
        return;
      }
      case "mod:delete":
      case "mod:clear":
      case "mod:timeout":
      case "mod:ban":
      case "mod:unban":
      case "mod:announce": {
        const { actor } = this.roleOf(ws.data, room.stream);
        if (!actor) return this.error(ws, f, "forbidden", "moderators only");
        const verb = f.event.slice(4);
        if (verb === "announce") {
          if (Object.keys(f.payload).some((k) => k !== "body")) return this.error(ws, f, "invalid_payload", "mod:announce takes {body}");
          const jr = ch.joinRef;
          this.deps.streams.announce(actor, room.stream.slug, f.payload.body).then(
            (r) => this.answer(ws, jr, f, r),
            (e) => {
              this.deps.logger.error("announcement failed", { stream: room.stream.slug, error: e });
              this.error(ws, f, "unavailable", "the announcement could not be stored; it was not sent");
            },
          );
          return;
        }
        if ("action" in f.payload) return this.error(ws, f, "invalid_payload", "the event names the action");
        const parsed = Chat.parseAction(verb, f.payload);
        if (!parsed.ok) return this.answer(ws, ch.joinRef, f, parsed);
        const joinRef = ch.joinRef;
        this.deps.chat.moderate(actor, room.stream, parsed.value).then(
          (r) => this.answer(ws, joinRef, f, r),
          (e) => {
            this.deps.logger.error("moderation action failed", { stream: room.stream.slug, error: e });
            this.error(ws, f, "unavailable", "the action could not be stored; it did not happen");
          },
        );
        return;
      }
      default:
        return this.error(ws, f, "unknown_event", `no event ${f.event} on stream topics`);
    }
  }

  /** Maps a domain result to the reply; repeated refusals on one socket close it (flooding). */
  private answer(ws: WS, joinRef: string | null, f: Frame, r: Result<unknown>): void {
    if (r.ok) return this.reply(ws, joinRef, f.ref, f.topic, "ok", r.value);
    const extra: Record<string, unknown> = {};
    if (r.retryAfterMs !== undefined) extra.retry_after_ms = r.retryAfterMs;
    if (r.fields) extra.fields = r.fields;
    this.error(ws, f, r.code, r.message, extra);
    if (r.code === "rate_limited" || r.code === "slow_mode" || r.code === "duplicate" || r.code === "already_voted") this.countRefusal(ws);
  }

  /** Who a rate limit or a vote belongs to: the viewer id, or the guest's socket (unique across restarts). */
  private senderKey(c: Conn): string {
    return c.viewer?.id ?? `guest:${this.bootId}:${c.id}`;
  }

  private countRefusal(ws: WS): void {
    const c = ws.data;
    const now = this.deps.clock.now();
    if (now - c.refusalsSince > FLOOD_WINDOW_MS) {
      c.refusalsSince = now;
      c.refusals = 0;
    }
    if (++c.refusals > FLOOD_REFUSALS && !c.closing) {
      if (c.viewer) this.cooldowns.set(c.viewer.id, now + FLOOD_COOLDOWN_MS);
      else {
        const f = this.guestFloods.get(c.ip);
        const n = f && now - f.since <= FLOOD_COOLDOWN_MS ? f.n + 1 : 1;
        this.guestFloods.set(c.ip, { n, since: n === 1 ? now : f!.since });
        if (n >= GUEST_FLOODS_PER_ADDRESS) this.cooldowns.set(c.ip, now + FLOOD_COOLDOWN_MS);
      }
      this.m.errors.inc(1, { reason: "flooding" });
      // Every socket of that viewer: the budget is per viewer, so is the penalty.
      const all = c.viewer ? [...this.viewerSockets(c.viewer.id)] : [ws];
      for (const s of all) s.close(CLOSE.policy, "flooding");
    }
  }

  /** Forgets expired cool-downs (called by the periodic sweeper). */
  sweepCooldowns(now: number): void {
    for (const [k, until] of this.cooldowns) if (until <= now) this.cooldowns.delete(k);
    for (const [ip, f] of this.guestFloods) if (now - f.since > FLOOD_COOLDOWN_MS) this.guestFloods.delete(ip);
  }

  /** ms left of a flood cool-down for this viewer id or IP, else 0. */
  cooldownLeft(key: string, now: number): number {
    const until = this.cooldowns.get(key);
    if (until === undefined) return 0;
    if (until <= now) {
      this.cooldowns.delete(key);
      return 0;
    }
    return until - now;
  }

  // ---- chat listener: broadcasts after commit ----

  published(stream: StreamRecord, msg: MessageView, sender: string, sentiment?: number, origin?: unknown): void {
    this.broadcast(`stream:${stream.slug}`, CHAT_NEW, msg);
    // The room's record is the current one (chat's may be from before a delay or an approval).
    this.deps.analytics.chat(this.rooms.get(stream.slug)?.stream ?? stream, sender, msg.body, sentiment, origin as Tap | undefined);
  }

  deleted(stream: StreamRecord, seqs: number[]): void {
    if (seqs.length) this.broadcast(`stream:${stream.slug}`, CHAT_DELETE, { seqs });
  }

  cleared(stream: StreamRecord, userId: string | null): void {
    this.broadcast(`stream:${stream.slug}`, CHAT_CLEAR, userId ? { user_id: userId } : {});
  }

  /** A personal push to every socket of that viewer joined to the stream, with each one's join_ref. */
  notice(stream: StreamRecord, viewerId: string, payload: Record<string, unknown>): void {
    const topic = `stream:${stream.slug}`;
    for (const ws of this.viewerSockets(viewerId)) {
      const ch = ws.data.channel(topic);
      if (ch) this.send(ws, encodePush(ch.joinRef, topic, NOTICE, payload));
    }
  }

  // ---- reactions and polls ----

  reactions(slug: string, payload: ReactionsPayload): void {
    this.broadcast(`stream:${slug}`, REACTIONS, payload);
  }

  pollOpened(slug: string, poll: PollView): void {
    this.broadcast(`stream:${slug}`, POLL_OPEN, poll);
  }

  pollUpdated(slug: string, update: { id: string; tallies: number[]; total: number }): void {
    this.broadcast(`stream:${slug}`, POLL_UPDATE, update);
  }

  pollClosed(slug: string, poll: PollView): void {
    this.broadcast(`stream:${slug}`, POLL_CLOSE, poll);
  }

  // ---- domain listener: broadcasts after commit ----

  streamChanged(stream: StreamRecord, publicChanged: boolean): void {
    this.deps.analytics.streamChanged(stream);
    const room = this.rooms.get(stream.slug);
    if (!room) {
      // Nobody joined: no socket to tell, but taps (the dashboard) follow every stream change.
      if (publicChanged) this.broadcast(`stream:${stream.slug}`, STREAM_UPDATE, publicView(stream));
      return;
    }
    room.update(stream);
    this.dirty.add(room);
    if (publicChanged) this.broadcast(room.topic, STREAM_UPDATE, room.view);
  }

  segmentMarked(stream: StreamRecord, segment: SegmentView): void {
    this.deps.analytics.segmentMarked(stream, segment.label, Date.parse(segment.started_at));
  }

  /** The viewer count of a stream now (0 when nobody is joined). */
  countOf(slug: string): number {
    return this.rooms.get(slug)?.presence.count ?? 0;
  }

  announcement(stream: StreamRecord, body: string, at: number): void {
    this.broadcast(`stream:${stream.slug}`, ANNOUNCEMENT, { body, at: iso(at) });
  }

  private taps = new Set<(topic: string, event: string, payload: unknown) => void>();

  /** Every stream-topic broadcast, also with no viewer joined (the dashboard's live feed). Returns the unsubscribe. */
  onBroadcast(fn: (topic: string, event: string, payload: unknown) => void): () => void {
    this.taps.add(fn);
    return () => this.taps.delete(fn);
  }

  broadcast(topic: string, event: string, payload: unknown): void {
    for (const tap of this.taps) {
      try {
        tap(topic, event, payload);
      } catch (e) {
        this.deps.logger.error("broadcast tap failed", { topic, event, error: e });
      }
    }
    const server = this.server;
    if (!server) return;
    const n = server.subscriberCount(topic);
    if (n === 0) return;
    server.publish(topic, encodeBroadcast(topic, event, payload));
    this.m.framesOut.inc(n);
  }

  /** Presence diffs every tick, viewer counts every other tick; rooms nobody is in are dropped. */
  flush(): void {
    this.tick++;
    this.now = performance.now();
    if (this.tick % IDLE_SWEEP_TICKS === 0) this.closeIdle();
    const countsNow = this.tick % COUNT_EVERY_TICKS === 0;
    for (const room of this.dirty) {
      const out = room.presence.flush();
      if (out.kind === "diff") this.broadcast(room.topic, "presence_diff", out.diff);
      else if (out.kind === "state") this.broadcast(room.topic, "presence_state", out.state);
      if (countsNow) {
        const count = room.presence.count;
        if (count !== room.lastCountSent) {
          room.lastCountSent = count;
          this.broadcast(room.topic, "viewers", { count });
        }
      }
      if (room.members === 0 && !room.presence.dirty) {
        this.rooms.delete(room.stream.slug);
        this.dirty.delete(room);
      } else if (countsNow && !room.presence.dirty && room.lastCountSent === room.presence.count) this.dirty.delete(room);
    }
  }

  /**
   * Closes sockets the client sent nothing on for the idle timeout (phoenix.js heartbeats every 30 s,
   * so only dead clients hit it). Bun's idle timer alone is not enough: it restarts whenever the
   * server sends, so a joined socket of a busy stream whose client vanished stayed open (and counted
   * as a viewer) until TCP gave up. 1001: a live but frozen client reconnects and recovers.
   */
  private closeIdle(): void {
    const limit = this.deps.idleTimeoutMs;
    if (limit === undefined) return;
    const before = this.now - Math.max(limit, IDLE_FLOOR_MS);
    for (const ws of this.sockets) {
      if (ws.data.heardAt >= before || ws.data.closing) continue;
      this.m.errors.inc(1, { reason: "idle" });
      ws.close(CLOSE.goingAway, "idle");
    }
  }

  // ---- sending ----

  private send(ws: WS, data: string): void {
    if (ws.data.closing) return;
    // -1: queued under backpressure; 0: dropped. Bun closes a socket over the backpressure limit
    // (closeOnBackpressureLimit), so a client that never reads is dropped, never waited on.
    ws.send(data);
    this.m.framesOut.inc();
  }

  private reply(ws: WS, joinRef: string | null, ref: string | null, topic: string, status: "ok" | "error", response: unknown): void {
    this.send(ws, encodeReply(joinRef, ref, topic, status, response));
  }

  private error(ws: WS, f: Frame, reason: ErrorCode, message: string, extra?: Record<string, unknown>): void {
    this.m.errors.inc(1, { reason });
    this.reply(ws, f.joinRef, f.ref, f.topic, "error", { reason, message, ...extra });
  }

  private unmatched(ws: WS, f: Frame): void {
    this.m.errors.inc(1, { reason: "unmatched_topic" });
    this.reply(ws, null, f.ref, f.topic, "error", { reason: "unmatched topic" });
  }
}

/** Stream join params: `{last_seq?, epoch?, overlay?}`; anything else is refused. Returns the problem text. */
function parseJoinParams(p: Record<string, unknown>): { last_seq?: number; epoch?: string; overlay?: boolean } | string {
  const out: { last_seq?: number; epoch?: string; overlay?: boolean } = {};
  for (const [k, v] of Object.entries(p)) {
    if (k === "last_seq") {
      if (v === null) continue;
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) return "last_seq must be a non-negative integer";
      out.last_seq = v;
    } else if (k === "epoch") {
      if (v === null) continue;
      if (typeof v !== "string" || v.length > 64) return "epoch must be a string";
      out.epoch = v;
    } else if (k === "overlay") {
      if (v === null) continue;
      if (typeof v !== "boolean") return "overlay must be true or false";
      out.overlay = v;
    } else return `unknown join param ${k.slice(0, 64)}`;
  }
  return out;
}
