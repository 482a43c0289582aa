// Reactions and polls benchmark load generator (child of bench/reactions.ts; one process holds all
// sockets of a run, < 19,000: a process may hold at most 20,000 files). Driven over stdin/stdout
// JSON lines (bench/lib/child.ts). It holds signed-in viewer sockets (HS256 tokens, one socket per
// viewer, a stream's viewers all in this process so senders and receivers share one clock), joins
// them, sends phoenix.js-style heartbeats, and then either
//   - `react`: every joined viewer sends `reaction:send` at a fixed rate on an even schedule; every
//     acknowledgement is timed and counted per stream and emoji (emoji = ref mod the emoji list);
//     every `reactions` event on every armed socket is parsed and summed, so each receiver's sums
//     can be compared with what its stream acked (each reaction counted exactly once), and the
//     events' spacing shows whether a window was published twice; or
//   - `vote`: every joined viewer sends one `poll:vote` (option = viewer index mod the options),
//     spread evenly over the given time; every reply is timed and counted per option, and the
//     `poll:open` / `poll:update` broadcasts are followed on every socket.
// Frames are recognised by their bytes; only replies that are not ok and the (rare) `reactions`
// events are parsed as JSON.
//
// Usage (by bench/reactions.ts only): BENCH_REACTIONS_CONFIG='<ReactionsClientConfig JSON>' taskset -c 1 bun bench/reactions-load-client.ts

import { serveCommands } from "./lib/child.ts";
import { LogHistogram, type HistogramJson } from "./lib/histogram.ts";
import { viewerToken } from "./lib/jwt.ts";
import { Heartbeats, inLanes, joinOutcome, PendingJoins, readUint, startsWith } from "./lib/viewer-pool.ts";
import { connectWs, type WsConn, type WsEvents } from "./lib/ws-client.ts";

// ---- protocol with the orchestrator (types only are imported by bench/reactions.ts) ----

export interface ReactionsClientConfig {
  host: string;
  port: number;
  origin: string;
  tokenSecret: string;
  heartbeatMs: number;
  /** Stream slugs are `${slugPrefix}${index padded to 3 digits}`. */
  slugPrefix: string;
  streams: number;
  viewersPerStream: number;
  /** Emoji sent in turn (reaction ref mod length picks one). */
  emoji: string[];
  /** The reaction window: windows are aligned to multiples of it on the wall clock. */
  windowMs: number;
}

export type ReactionsCommand =
  | { id: number; cmd: "connect"; firstStream: number; streamCount: number; concurrency: number; timeoutMs: number }
  | { id: number; cmd: "arm" }
  | { id: number; cmd: "react"; phase: "warm" | "measure"; durationMs: number; perSecond: number }
  | { id: number; cmd: "stats" }
  | { id: number; cmd: "report" }
  | { id: number; cmd: "vote"; pollId: string; options: number; durationMs: number }
  | { id: number; cmd: "vote-stats" }
  | { id: number; cmd: "vote-report" }
  | { id: number; cmd: "quit" };

export interface ConnectReply {
  joined: number;
  failed: number;
  elapsedMs: number;
  errors: Record<string, number>;
  joinLatency: HistogramJson;
}

export interface ScheduleReply {
  sent: number;
  elapsedMs: number;
  /** Worst delay of a send behind its schedule, and its p99 (a busy generator shows here). */
  maxLagMs: number;
  lagP99Ms: number;
  /** Epoch ms of the first and last send. */
  firstAt: number;
  lastAt: number;
}

export interface StatsReply {
  /** Since `arm` (warm-up and measured phase together). */
  sent: number;
  acked: number;
  refused: number;
  pending: number;
  /** Armed sockets whose `reactions` totals add up to what their stream acked so far. */
  socketsExact: number;
  socketsArmed: number;
  live: number;
}

export interface ReportReply extends StatsReply {
  /** The measured phase only. */
  measured: { sent: number; acked: number; refused: number; pending: number; ack: HistogramJson };
  refusals: Record<string, number>;
  /** Replies to a ref never sent or already answered (a double ack). */
  strayReplies: number;
  /** Per stream (global index): acked since arm, and per emoji (flattened stream * emoji). */
  ackedPerStream: number[];
  ackedPerStreamEmoji: number[];
  /** Per stream: the sum of `reactions` totals seen by each armed receiver, min and max over them. */
  receivedMinPerStream: number[];
  receivedMaxPerStream: number[];
  receiversPerStream: number[];
  /** Armed receivers whose total sum is below / above their stream's acked count, or whose
   * per-emoji sums differ from the stream's per-emoji acks. */
  socketsShort: number;
  socketsOver: number;
  socketsWrongEmoji: number;
  /** `reactions` events seen, all receivers; per receiver max; events whose counts do not add up
   * to their total, or carry an emoji never sent; events whose window_ms is not the expected one. */
  events: number;
  maxEventsPerReceiver: number;
  countsMismatch: number;
  unknownEmoji: number;
  windowMsSeen: Record<string, number>;
  /** Smallest gap between two consecutive `reactions` events on one socket (ms): about a window
   * when events go out on time; near 0 when several windows' events went out together (late). */
  minGapMs: number;
  /**
   * One event per stream per window, checked without trusting arrival times. A reaction was
   * accepted somewhere between its send and its ack, so the windows its [send, ack] interval
   * touches POSSIBLY had it, and the window holding the whole interval DEFINITELY had it. If the
   * server publishes exactly one event per window with reactions, every receiver sees
   * definite <= events <= possible windows of its stream. Receivers outside those bounds prove a
   * window published twice (too many) or a window without its own event (too few).
   */
  socketsTooManyEvents: number;
  socketsTooFewEvents: number;
  /** Largest possible / definite window count of a stream, and the largest gap between them. */
  possibleWindowsMax: number;
  definiteWindowsMax: number;
  boundSlackMax: number;
  closed: number;
  closeReasons: Record<string, number>;
  frames: Record<string, number>;
}

export interface VoteStatsReply {
  sent: number;
  acked: number;
  refused: number;
  pending: number;
  /** Sockets that got `poll:open` for this poll, and whose last `poll:update` total equals `acked`. */
  openSeen: number;
  updatedToAcked: number;
  live: number;
}

export interface VoteReportReply extends VoteStatsReply {
  ackedPerOption: number[];
  refusals: Record<string, number>;
  strayReplies: number;
  ack: HistogramJson;
  /** Epoch ms: first vote sent, last ok ack received. */
  firstSentAt: number;
  lastAckAt: number;
  /** `poll:update` frames received (all sockets) and the largest total seen. */
  updates: number;
  maxUpdateTotal: number;
  closed: number;
  closeReasons: Record<string, number>;
  frames: Record<string, number>;
}

// ---- state ----

const MAX_SOCKETS = 19_000;
const JOIN_TIMEOUT_MS = 30_000;
const MAX_LIFETIME_MS = 2 * 3600_000;
/** Sends in one go before yielding to the event loop (replies must be read while we send). */
const MAX_BURST = 256;

const cfgJson = process.env.BENCH_REACTIONS_CONFIG;
if (cfgJson === undefined) {
  console.error("reactions-load-client is started by bench/reactions.ts (BENCH_REACTIONS_CONFIG missing)");
  process.exit(2);
}
const cfg: ReactionsClientConfig = JSON.parse(cfgJson) as ReactionsClientConfig;
if (cfg.streams > 1000) throw new Error("at most 1000 streams (3-digit slugs)");
const E = cfg.emoji.length;
const emojiIndex = new Map<string, number>(cfg.emoji.map((e: string, k: number) => [e, k]));

const slugOf = (s: number): string => `${cfg.slugPrefix}${String(s).padStart(3, "0")}`;
const topicOf = (s: number): string => `stream:${slugOf(s)}`;

const REACTION_REPLY_HEAD: Buffer = Buffer.from('["1","r'); // our reaction refs are "r<n>"
const VOTE_REPLY_HEAD: Buffer = Buffer.from('["1","v'); // our vote refs are "v<socket index>"
const JOIN_REPLY_HEAD: Buffer = Buffer.from('["1","1",');
const HEARTBEAT_REPLY_HEAD: Buffer = Buffer.from('[null,"h');
const BROADCAST_HEAD: Buffer = Buffer.from(`[null,null,"stream:${cfg.slugPrefix}`);
const AFTER_SLUG = BROADCAST_HEAD.length + 3; // 3-digit stream index, then `","<event>"`
const REACTIONS_TAIL: Buffer = Buffer.from('","reactions",');
const POLL_UPDATE_TAIL: Buffer = Buffer.from('","poll:update",');
const POLL_OPEN_TAIL: Buffer = Buffer.from('","poll:open",');
const STATUS_NEEDLE: Buffer = Buffer.from('"status":"');
const TOTAL_NEEDLE: Buffer = Buffer.from('"total":');
const HEAD_RE = /^\[(?:null|"[^"]*"),(?:null|"[^"]*"),"([^"]*)","([^"]*)"/;

// Per-socket state in flat arrays indexed by local socket index.
const conns: WsConn[] = [];
const globalIds = new Int32Array(MAX_SOCKETS);
const streamOf = new Int32Array(MAX_SOCKETS);
const joined = new Uint8Array(MAX_SOCKETS);
const joins = new PendingJoins();
let live = 0;
const heartbeats = new Heartbeats(conns, cfg.heartbeatMs);

// ---- reactions accounting (reset by arm) ----

const RING = 1 << 21; // reaction refs in flight, by ref mod RING (send time; 0 = none)
const sentAt = new Float64Array(RING);
let nextRef = 1;
let armed = false;
let armRef = Number.MAX_SAFE_INTEGER; // refs >= this count for the exactness check
let measureRef = Number.MAX_SAFE_INTEGER; // refs >= this belong to the measured phase
let measureEndRef = Number.MAX_SAFE_INTEGER;
let sent = 0;
let acked = 0;
let refused = 0;
let pending = 0;
let mSent = 0;
let mAcked = 0;
let mRefused = 0;
let strayReplies = 0;
let refusals: Record<string, number> = {};
let ackHist = new LogHistogram();
const ackedPerStream = new Float64Array(cfg.streams);
const ackedPerStreamEmoji = new Float64Array(cfg.streams * E);
const possibleWindows: Array<Set<number>> = Array.from({ length: cfg.streams }, () => new Set<number>());
const definiteWindows: Array<Set<number>> = Array.from({ length: cfg.streams }, () => new Set<number>());
/** Date.now() minus our performance clock in epoch ms, taken at arm (the server stamps with Date.now()). */
let wallOffset = 0;
/** Clock granularity margin when placing an interval in windows (ms). */
const MARGIN_MS = 3;
const armedAtStart = new Uint8Array(MAX_SOCKETS);
const recvTotal = new Float64Array(MAX_SOCKETS);
const recvEmoji = new Float64Array(MAX_SOCKETS * E);
const eventsOf = new Int32Array(MAX_SOCKETS);
const lastEventAt = new Float64Array(MAX_SOCKETS);
let events = 0;
let countsMismatch = 0;
let unknownEmoji = 0;
let windowMsSeen: Record<string, number> = {};
let minGapMs = Infinity;
let closedSinceArm = 0;
let closeReasons: Record<string, number> = {};
let frames: Record<string, number> = {};

// ---- votes accounting ----

let voteOptions = 1;
const voteSentAt = new Float64Array(MAX_SOCKETS); // 0: not sent or answered
const openSeen = new Uint8Array(MAX_SOCKETS);
const lastUpdateTotal = new Int32Array(MAX_SOCKETS);
let vSent = 0;
let vAcked = 0;
let vRefused = 0;
let vPending = 0;
let vStray = 0;
let vRefusals: Record<string, number> = {};
let vAckHist = new LogHistogram();
let vAckedPerOption: number[] = [];
let vFirstSentAt = 0;
let vLastAckAt = 0;
let updates = 0;
let maxUpdateTotal = 0;

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

// ---- receiving ----

function refusalReason(buf: Buffer, start: number, end: number): string {
  try {
    const frame = JSON.parse(buf.toString("utf8", start, end)) as unknown[];
    const payload = frame[4] as { status?: unknown; response?: { reason?: unknown } } | null;
    return String(payload?.response?.reason ?? payload?.status ?? "unknown");
  } catch {
    return "unparsed reply";
  }
}

/** `true` when the reply's status is "ok" (found by bytes after the ref). */
function replyOk(buf: Buffer, from: number, end: number): boolean {
  const q = buf.indexOf(STATUS_NEEDLE, from);
  return q >= 0 && q + STATUS_NEEDLE.length < end && buf[q + STATUS_NEEDLE.length] === 0x6f; /* o */
}

function onReactionReply(i: number, buf: Buffer, start: number, end: number): void {
  const at = start + REACTION_REPLY_HEAD.length;
  const ref = readUint(buf, at, end);
  const t = ref < 0 ? 0 : (sentAt[ref & (RING - 1)] as number);
  if (t === 0 || ref < armRef) {
    if (ref >= armRef) strayReplies++;
    return;
  }
  sentAt[ref & (RING - 1)] = 0;
  pending--;
  const measured = ref >= measureRef && ref < measureEndRef;
  if (replyOk(buf, at, end)) {
    const s = streamOf[i] as number;
    acked++;
    ackedPerStream[s] = (ackedPerStream[s] as number) + 1;
    const k = s * E + (ref % E);
    ackedPerStreamEmoji[k] = (ackedPerStreamEmoji[k] as number) + 1;
    const now = performance.now();
    // The windows this reaction may have been counted in (see ReportReply.socketsTooManyEvents).
    const w = cfg.windowMs;
    const base = performance.timeOrigin + wallOffset;
    const a = Math.floor((base + t - MARGIN_MS) / w);
    const b = Math.floor((base + now + MARGIN_MS) / w);
    const possible = possibleWindows[s] as Set<number>;
    for (let k = a; k <= b; k++) possible.add(k);
    if (a === b) (definiteWindows[s] as Set<number>).add(a);
    if (measured) {
      mAcked++;
      ackHist.recordMs(now - t);
    }
  } else {
    refused++;
    if (measured) mRefused++;
    bump(refusals, refusalReason(buf, start, end));
  }
}

function onReactions(i: number, buf: Buffer, start: number, end: number): void {
  if (!armed || armedAtStart[i] !== 1) return;
  const now = nowEpochMs();
  let p: { window_ms?: unknown; counts?: Record<string, unknown>; total?: unknown };
  try {
    p = (JSON.parse(buf.toString("utf8", start, end)) as unknown[])[4] as typeof p;
  } catch {
    bump(frames, "unparsed reactions");
    return;
  }
  const total = typeof p.total === "number" ? p.total : NaN;
  let sumCounts = 0;
  for (const [e, n] of Object.entries(p.counts ?? {})) {
    const k = emojiIndex.get(e);
    const v = typeof n === "number" ? n : NaN;
    sumCounts += v;
    if (k === undefined) unknownEmoji++;
    else recvEmoji[i * E + k] = (recvEmoji[i * E + k] as number) + v;
  }
  if (sumCounts !== total) countsMismatch++;
  recvTotal[i] = (recvTotal[i] as number) + total;
  events++;
  eventsOf[i] = (eventsOf[i] as number) + 1;
  bump(windowMsSeen, String(p.window_ms));
  if ((lastEventAt[i] as number) > 0) {
    const gap = now - (lastEventAt[i] as number);
    if (gap < minGapMs) minGapMs = gap;
  }
  lastEventAt[i] = now;
}

function onVoteReply(i: number, buf: Buffer, start: number, end: number): void {
  const at = start + VOTE_REPLY_HEAD.length;
  const ref = readUint(buf, at, end);
  const t = ref >= 0 && ref < conns.length ? (voteSentAt[ref] as number) : 0;
  if (t === 0 || ref !== i) {
    vStray++;
    return;
  }
  voteSentAt[ref] = 0;
  vPending--;
  if (replyOk(buf, at, end)) {
    vAcked++;
    const o = (globalIds[i] as number) % voteOptions;
    vAckedPerOption[o] = (vAckedPerOption[o] ?? 0) + 1;
    const now = performance.now();
    vAckHist.recordMs(now - t);
    vLastAckAt = performance.timeOrigin + now;
  } else {
    vRefused++;
    bump(vRefusals, refusalReason(buf, start, end));
  }
}

function onPollUpdate(i: number, buf: Buffer, start: number, end: number): void {
  updates++;
  // The update's own `total` is the last `"total":` of the frame ({id, tallies, total}).
  const q = buf.lastIndexOf(TOTAL_NEEDLE, end - 1);
  if (q < start) return;
  const total = readUint(buf, q + TOTAL_NEEDLE.length, end);
  if (total > maxUpdateTotal) maxUpdateTotal = total;
  lastUpdateTotal[i] = total;
}

function onPollOpen(i: number): void {
  openSeen[i] = 1; // one poll per run: the orchestrator opens it once
}

function onJoinReply(i: number, buf: Buffer, start: number, end: number): void {
  const failure = joinOutcome(buf, start, end);
  joins.answer(i, failure, () => {
    joined[i] = 1;
    live++;
  }, () => conns[i]?.terminate());
}

function onOtherFrame(buf: Buffer, start: number, end: number): void {
  if (startsWith(buf, start, end, HEARTBEAT_REPLY_HEAD)) return;
  const head = HEAD_RE.exec(buf.toString("utf8", start, Math.min(end, start + 200)));
  if (head === null) bump(frames, "unparsed");
  else bump(frames, head[1] === "phoenix" ? `phoenix ${head[2]}` : (head[2] ?? "?"));
}

const events_: WsEvents = {
  open(c: WsConn): void {
    c.sendText(`["1","1","${topicOf(streamOf[c.id] as number)}","phx_join",{}]`);
  },
  text(c: WsConn, buf: Buffer, start: number, end: number): void {
    const i = c.id;
    if (startsWith(buf, start, end, REACTION_REPLY_HEAD)) onReactionReply(i, buf, start, end);
    else if (startsWith(buf, start, end, BROADCAST_HEAD)) {
      if (startsWith(buf, start + AFTER_SLUG, end, REACTIONS_TAIL)) onReactions(i, buf, start, end);
      else if (startsWith(buf, start + AFTER_SLUG, end, POLL_UPDATE_TAIL)) onPollUpdate(i, buf, start, end);
      else if (startsWith(buf, start + AFTER_SLUG, end, POLL_OPEN_TAIL)) onPollOpen(i);
      else onOtherFrame(buf, start, end);
    } else if (startsWith(buf, start, end, VOTE_REPLY_HEAD)) onVoteReply(i, buf, start, end);
    else if (joined[i] !== 1 && startsWith(buf, start, end, JOIN_REPLY_HEAD)) onJoinReply(i, buf, start, end);
    else onOtherFrame(buf, start, end);
  },
  close(c: WsConn, reason: string): void {
    const i = c.id;
    if (joined[i] === 1) {
      joined[i] = 0;
      live--;
      if (armed) {
        closedSinceArm++;
        bump(closeReasons, reason);
      }
    }
    joins.settle(i, reason);
  },
};

// ---- connect ----

function connectOne(globalId: number): Promise<string | null> {
  const i = conns.length;
  globalIds[i] = globalId;
  streamOf[i] = Math.floor(globalId / cfg.viewersPerStream);
  const path = `/socket/websocket?vsn=2.0.0&token=${viewerToken(globalId, cfg.tokenSecret)}`;
  return joins.wait(i, JOIN_TIMEOUT_MS, () => conns.push(connectWs(i, cfg.host, cfg.port, path, cfg.origin, events_)), () => conns[i]?.terminate());
}

async function connectMany(cmd: Extract<ReactionsCommand, { cmd: "connect" }>): Promise<ConnectReply> {
  const first = cmd.firstStream * cfg.viewersPerStream;
  const count = cmd.streamCount * cfg.viewersPerStream;
  if (conns.length + count > MAX_SOCKETS) throw new Error(`more than ${MAX_SOCKETS} sockets in one process`);
  if (cmd.firstStream + cmd.streamCount > cfg.streams) throw new Error("streams out of range");
  const r = await inLanes(count, cmd.concurrency, performance.now() + cmd.timeoutMs, (k: number) => connectOne(first + k));
  heartbeats.start();
  return { joined: r.ok, failed: r.failed, elapsedMs: r.elapsedMs, errors: r.errors, joinLatency: r.joinLatency };
}

// ---- sending on an even schedule ----

/**
 * Every joined socket sends `send(i)` once per `periodMs`, at its own fixed offset: the slot of
 * viewer v of stream s is v * streams + s, so consecutive sends go to different streams and the
 * population's sends are spread evenly over the period. Sends whatever is due (at most MAX_BURST
 * in a row, then yields so replies get read), sleeps when ahead. Bounded by `durationMs` (+60 s).
 */
async function schedule(periodMs: number, durationMs: number, send: (i: number) => void): Promise<ScheduleReply> {
  const total = cfg.streams * cfg.viewersPerStream;
  const order: number[] = [];
  const offsets = new Float64Array(conns.length);
  for (let i = 0; i < conns.length; i++) {
    if (joined[i] !== 1) continue;
    const g = globalIds[i] as number;
    const slot = (g % cfg.viewersPerStream) * cfg.streams + Math.floor(g / cfg.viewersPerStream);
    offsets[i] = (slot * periodMs) / total;
    order.push(i);
  }
  order.sort((a: number, b: number) => (offsets[a] as number) - (offsets[b] as number));
  const lag = new LogHistogram();
  const t0 = performance.now() + 5;
  const end = t0 + durationMs;
  const hardStop = end + 60_000;
  let count = 0;
  let maxLagMs = 0;
  let j = 0;
  let round = 0;
  let firstAt = 0;
  let lastAt = 0;
  let done = order.length === 0;
  while (!done && performance.now() < hardStop) {
    const now = performance.now();
    let burst = 0;
    let nextDue = Infinity;
    while (burst < MAX_BURST) {
      const i = order[j] as number;
      const due = t0 + (offsets[i] as number) + round * periodMs;
      if (due >= end) {
        done = true;
        break;
      }
      if (due > now) {
        nextDue = due;
        break;
      }
      const c = conns[i];
      if (c !== undefined && c.isOpen && joined[i] === 1) {
        send(i);
        count++;
        const late = now - due;
        lag.recordMs(late);
        if (late > maxLagMs) maxLagMs = late;
      }
      burst++;
      j++;
      if (j === order.length) {
        j = 0;
        round++;
      }
    }
    if (burst > 0) {
      lastAt = performance.timeOrigin + now;
      if (firstAt === 0) firstAt = lastAt;
    }
    if (done) break;
    if (burst >= MAX_BURST) await Bun.sleep(0); // behind: let the replies in, then go on
    else await Bun.sleep(Math.max(1, nextDue - performance.now()));
  }
  return { sent: count, elapsedMs: performance.now() - t0, maxLagMs, lagP99Ms: lag.quantileMs(0.99), firstAt, lastAt };
}

function arm(): void {
  armed = true;
  armRef = nextRef;
  measureRef = Number.MAX_SAFE_INTEGER;
  measureEndRef = Number.MAX_SAFE_INTEGER;
  sent = acked = refused = pending = 0;
  mSent = mAcked = mRefused = 0;
  strayReplies = 0;
  refusals = {};
  ackHist = new LogHistogram();
  ackedPerStream.fill(0);
  ackedPerStreamEmoji.fill(0);
  for (const set of possibleWindows) set.clear();
  for (const set of definiteWindows) set.clear();
  wallOffset = Date.now() - (performance.timeOrigin + performance.now());
  armedAtStart.set(joined);
  recvTotal.fill(0);
  recvEmoji.fill(0);
  eventsOf.fill(0);
  lastEventAt.fill(0);
  events = countsMismatch = unknownEmoji = closedSinceArm = 0;
  windowMsSeen = {};
  minGapMs = Infinity;
  closeReasons = {};
  frames = {};
}

async function react(cmd: Extract<ReactionsCommand, { cmd: "react" }>): Promise<ScheduleReply> {
  if (!armed) throw new Error("arm first");
  if (cmd.phase === "measure") measureRef = nextRef;
  const measure = cmd.phase === "measure";
  const r = await schedule(1000 / cmd.perSecond, cmd.durationMs, (i: number): void => {
    const ref = nextRef++;
    const s = streamOf[i] as number;
    sentAt[ref & (RING - 1)] = performance.now();
    (conns[i] as WsConn).sendText(`["1","r${ref}","${topicOf(s)}","reaction:send",{"emoji":"${cfg.emoji[ref % E]}"}]`);
    sent++;
    pending++;
    if (measure) mSent++;
  });
  if (measure) measureEndRef = nextRef;
  return r;
}

function stats(): StatsReply {
  let socketsExact = 0;
  let socketsArmed = 0;
  for (let i = 0; i < conns.length; i++) {
    if (armedAtStart[i] !== 1) continue;
    socketsArmed++;
    if (recvTotal[i] === ackedPerStream[streamOf[i] as number]) socketsExact++;
  }
  return { sent, acked, refused, pending, socketsExact, socketsArmed, live };
}

function measuredPending(): number {
  let n = 0;
  for (let ref = measureRef; ref < measureEndRef && ref < nextRef; ref++) if (sentAt[ref & (RING - 1)] !== 0) n++;
  return n;
}

function report(): ReportReply {
  const S = cfg.streams;
  const recvMin = new Array<number>(S).fill(Infinity);
  const recvMax = new Array<number>(S).fill(-Infinity);
  const receivers = new Array<number>(S).fill(0);
  let socketsShort = 0;
  let socketsOver = 0;
  let socketsWrongEmoji = 0;
  let socketsTooManyEvents = 0;
  let socketsTooFewEvents = 0;
  let maxEventsPerReceiver = 0;
  let possibleWindowsMax = 0;
  let definiteWindowsMax = 0;
  let boundSlackMax = 0;
  for (let s = 0; s < S; s++) {
    const hi = (possibleWindows[s] as Set<number>).size;
    const lo = (definiteWindows[s] as Set<number>).size;
    if (hi > possibleWindowsMax) possibleWindowsMax = hi;
    if (lo > definiteWindowsMax) definiteWindowsMax = lo;
    if (hi - lo > boundSlackMax) boundSlackMax = hi - lo;
  }
  for (let i = 0; i < conns.length; i++) {
    if (armedAtStart[i] !== 1) continue;
    const s = streamOf[i] as number;
    const got = recvTotal[i] as number;
    const want = ackedPerStream[s] as number;
    receivers[s] = (receivers[s] as number) + 1;
    if (got < (recvMin[s] as number)) recvMin[s] = got;
    if (got > (recvMax[s] as number)) recvMax[s] = got;
    if (got < want) socketsShort++;
    else if (got > want) socketsOver++;
    else {
      for (let k = 0; k < E; k++) {
        if (recvEmoji[i * E + k] !== ackedPerStreamEmoji[s * E + k]) {
          socketsWrongEmoji++;
          break;
        }
      }
    }
    const ev = eventsOf[i] as number;
    if (ev > maxEventsPerReceiver) maxEventsPerReceiver = ev;
    if (ev > (possibleWindows[s] as Set<number>).size) socketsTooManyEvents++;
    if (ev < (definiteWindows[s] as Set<number>).size) socketsTooFewEvents++;
  }
  const base = stats();
  armed = false;
  return {
    ...base,
    measured: { sent: mSent, acked: mAcked, refused: mRefused, pending: measuredPending(), ack: ackHist.toJson() },
    refusals,
    strayReplies,
    ackedPerStream: [...ackedPerStream],
    ackedPerStreamEmoji: [...ackedPerStreamEmoji],
    receivedMinPerStream: recvMin.map((v: number) => (Number.isFinite(v) ? v : 0)),
    receivedMaxPerStream: recvMax.map((v: number) => (Number.isFinite(v) ? v : 0)),
    receiversPerStream: receivers,
    socketsShort,
    socketsOver,
    socketsWrongEmoji,
    events,
    maxEventsPerReceiver,
    countsMismatch,
    unknownEmoji,
    windowMsSeen,
    minGapMs: Number.isFinite(minGapMs) ? minGapMs : -1,
    socketsTooManyEvents,
    socketsTooFewEvents,
    possibleWindowsMax,
    definiteWindowsMax,
    boundSlackMax,
    closed: closedSinceArm,
    closeReasons,
    frames,
  };
}

// ---- votes ----

async function vote(cmd: Extract<ReactionsCommand, { cmd: "vote" }>): Promise<ScheduleReply> {
  voteOptions = cmd.options;
  vSent = vAcked = vRefused = vPending = vStray = 0;
  vRefusals = {};
  vAckHist = new LogHistogram();
  vAckedPerOption = new Array<number>(cmd.options).fill(0);
  vFirstSentAt = vLastAckAt = 0;
  armed = true;
  closedSinceArm = 0;
  closeReasons = {};
  frames = {};
  const payloadTail = `"poll:vote",{"poll_id":${JSON.stringify(cmd.pollId)},"option":`;
  // One round: every socket votes once, spread evenly over durationMs.
  const r = await schedule(cmd.durationMs, cmd.durationMs, (i: number): void => {
    const s = streamOf[i] as number;
    const option = (globalIds[i] as number) % cmd.options;
    voteSentAt[i] = performance.now();
    (conns[i] as WsConn).sendText(`["1","v${i}","${topicOf(s)}",${payloadTail}${option}}]`);
    vSent++;
    vPending++;
  });
  vFirstSentAt = r.firstAt;
  return r;
}

function voteStats(): VoteStatsReply {
  let seen = 0;
  let updated = 0;
  for (let i = 0; i < conns.length; i++) {
    if (joined[i] !== 1) continue;
    if (openSeen[i] === 1) seen++;
    if (lastUpdateTotal[i] === vAcked) updated++;
  }
  return { sent: vSent, acked: vAcked, refused: vRefused, pending: vPending, openSeen: seen, updatedToAcked: updated, live };
}

function voteReport(): VoteReportReply {
  return {
    ...voteStats(),
    ackedPerOption: vAckedPerOption,
    refusals: vRefusals,
    strayReplies: vStray,
    ack: vAckHist.toJson(),
    firstSentAt: vFirstSentAt,
    lastAckAt: vLastAckAt,
    updates,
    maxUpdateTotal,
    closed: closedSinceArm,
    closeReasons,
    frames,
  };
}

// ---- command loop ----

serveCommands<ReactionsCommand>(async (cmd: ReactionsCommand): Promise<unknown> => {
  switch (cmd.cmd) {
    case "connect":
      return connectMany(cmd);
    case "arm":
      arm();
      return null;
    case "react":
      return react(cmd);
    case "stats":
      return stats();
    case "report":
      return report();
    case "vote":
      return vote(cmd);
    case "vote-stats":
      return voteStats();
    case "vote-report":
      return voteReport();
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}, MAX_LIFETIME_MS);
