// Chat benchmark load generator (child of bench/chat.ts; one per <= 19,000 sockets, a process may
// hold at most 20,000 files). Driven over stdin/stdout JSON lines. It holds signed-in viewer
// sockets for whole streams (a stream's 100 viewers always live in ONE generator, so the sender's
// and the receivers' clocks are the same clock), joins them, sends phoenix.js-style heartbeats,
// sends every viewer's chat message on an even schedule, times every acknowledgement, counts and
// checks every `chat:new` on every socket, and times deliveries on a sample of receivers.
//
// Usage (by bench/chat.ts only): BENCH_CHAT_CONFIG='<ChatClientConfig JSON>' taskset -c 1 bun bench/chat-load-client.ts

import { serveCommands } from "./lib/child.ts";
import { LogHistogram, type HistogramJson } from "./lib/histogram.ts";
import { viewerToken } from "./lib/jwt.ts";
import { Heartbeats, inLanes, joinOutcome, PendingJoins, startsWith } from "./lib/viewer-pool.ts";
import { connectWs, type WsConn, type WsEvents } from "./lib/ws-client.ts";

// ---- protocol with the orchestrator (types only are imported by bench/chat.ts) ----

export interface ChatClientConfig {
  host: string;
  port: number;
  origin: string;
  tokenSecret: string;
  heartbeatMs: number;
  /** Stream slugs are `${slugPrefix}${index padded to 3 digits}`. */
  slugPrefix: string;
  streams: number;
  viewersPerStream: number;
}

export type ChatCommand =
  | { id: number; cmd: "connect"; firstStream: number; streamCount: number; concurrency: number; timeoutMs: number }
  | { id: number; cmd: "run"; phase: "warm" | "measure"; durationMs: number; periodMs: number; bodyBytes: number; sampleEvery: number }
  | { id: number; cmd: "stats" }
  | { id: number; cmd: "report" }
  | { id: number; cmd: "quit" };

export interface ChatConnectReply {
  joined: number;
  failed: number;
  elapsedMs: number;
  errors: Record<string, number>;
  joinLatency: HistogramJson;
}

export interface ChatRunReply {
  sent: number;
  elapsedMs: number;
  /** Worst delay of a send behind its schedule (a busy generator shows here). */
  maxLagMs: number;
  lagP99Ms: number;
}

export interface ChatStatsReply {
  sent: number;
  acked: number;
  refused: number;
  pendingAcks: number;
  delivered: number;
  /** Deliveries owed for the messages acked so far: acked of each stream x its joined viewers. */
  expected: number;
  live: number;
}

export interface ChatReportReply extends ChatStatsReply {
  refusals: Record<string, number>;
  /** Replies that were neither `published` nor a refusal (e.g. `held`). */
  otherReplies: number;
  ack: HistogramJson;
  delivery: HistogramJson;
  /** Joined sockets that got fewer / more `chat:new` than their stream acked, or the right count of
   * the wrong messages (sum of seqs differs). */
  socketsShort: number;
  socketsOver: number;
  socketsWrongSet: number;
  /** `chat:new` whose seq was not above the previous one on that socket (duplicate or out of order). */
  disorder: number;
  /** Missing seqs between the lowest and highest acked seq of each stream (seqs must have no gaps). */
  seqGaps: number;
  closed: number;
  closeReasons: Record<string, number>;
  /** Frames other than chat:new and replies while measuring, by event. */
  frames: Record<string, number>;
}

export type { ChildReply as ChatReply } from "./lib/child.ts";

// ---- state ----

const MAX_SOCKETS = 19_000;
const JOIN_TIMEOUT_MS = 30_000;
const MAX_LIFETIME_MS = 2 * 3600_000; // a forgotten child must not live forever

const cfgJson = process.env.BENCH_CHAT_CONFIG;
if (cfgJson === undefined) {
  console.error("chat-load-client is started by bench/chat.ts (BENCH_CHAT_CONFIG missing)");
  process.exit(2);
}
const cfg: ChatClientConfig = JSON.parse(cfgJson) as ChatClientConfig;
if (cfg.streams > 1000) throw new Error("at most 1000 streams (3-digit slugs)");

const slugOf = (s: number): string => `${cfg.slugPrefix}${String(s).padStart(3, "0")}`;

// Frames are recognised by their bytes, nothing decoded on the hot path:
//   [null,null,"stream:<prefix>NNN","chat:new",{"seq":123,...,"body":"T<send time>Z ...",...}]
const DELIVERY_HEAD: Buffer = Buffer.from(`[null,null,"stream:${cfg.slugPrefix}`);
const DELIVERY_TAIL: Buffer = Buffer.from('","chat:new",{"seq":');
const DELIVERY_SEQ_AT = DELIVERY_HEAD.length + 3 + DELIVERY_TAIL.length;
const BODY_NEEDLE: Buffer = Buffer.from('"body":"T');
const CHAT_REPLY_HEAD: Buffer = Buffer.from('["1","c'); // our chat refs are "c<n>"
const JOIN_REPLY_HEAD: Buffer = Buffer.from('["1","1",');
const HEARTBEAT_REPLY_HEAD: Buffer = Buffer.from('[null,"h'); // our heartbeat refs are "h<n>"
const HEAD_RE = /^\[(?:null|"[^"]*"),(?:null|"[^"]*"),"([^"]*)","([^"]*)"/;

// Per-socket state in flat arrays indexed by local socket index.
const conns: WsConn[] = [];
const globalIds = new Int32Array(MAX_SOCKETS);
const streamOf = new Int32Array(MAX_SOCKETS);
const sampled = new Uint8Array(MAX_SOCKETS);
const joined = new Uint8Array(MAX_SOCKETS);
const armedAtStart = new Uint8Array(MAX_SOCKETS);
const counts = new Int32Array(MAX_SOCKETS);
const seqSums = new Float64Array(MAX_SOCKETS);
const lastSeq = new Float64Array(MAX_SOCKETS);
const joins = new PendingJoins();
let live = 0;

// Per-stream accounting (global stream index).
const ackedPerStream = new Int32Array(cfg.streams);
const ackedSeqSum = new Float64Array(cfg.streams);
const minSeq = new Float64Array(cfg.streams);
const maxSeq = new Float64Array(cfg.streams);
const membersAtArm = new Int32Array(cfg.streams);

// Measurement, reset by arm().
let armed = false;
let armRef = Number.MAX_SAFE_INTEGER; // chat refs >= this belong to the measured phase
let sent = 0;
let acked = 0;
let refused = 0;
let otherReplies = 0;
let delivered = 0;
let disorder = 0;
let closedSinceArm = 0;
let refusals: Record<string, number> = {};
let closeReasons: Record<string, number> = {};
let frames: Record<string, number> = {};
let ackHist = new LogHistogram();
let deliveryHist = new LogHistogram();

let nextRef = 1;
const pending = new Map<number, number>(); // chat ref -> performance.now() at send

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

function onDelivery(i: number, buf: Buffer, start: number, end: number): void {
  if (!armed || armedAtStart[i] !== 1) return;
  let p = start + DELIVERY_SEQ_AT;
  let seq = 0;
  for (; p < end; p++) {
    const b = buf[p] as number;
    if (b < 0x30 || b > 0x39) break;
    seq = seq * 10 + (b - 0x30);
  }
  counts[i] = (counts[i] as number) + 1;
  seqSums[i] = (seqSums[i] as number) + seq;
  if (seq <= (lastSeq[i] as number)) disorder++;
  lastSeq[i] = seq;
  delivered++;
  if (sampled[i] !== 1) return;
  const q = buf.indexOf(BODY_NEEDLE, p);
  if (q < 0 || q >= end) return;
  const from = q + BODY_NEEDLE.length;
  const z = buf.indexOf(0x5a /* Z */, from);
  if (z < 0 || z >= end || z - from > 24) return;
  deliveryHist.recordMs(nowEpochMs() - Number(buf.toString("latin1", from, z)));
}

function onChatReply(i: number, buf: Buffer, start: number, end: number): void {
  const now = performance.now();
  let frame: unknown;
  try {
    frame = JSON.parse(buf.toString("utf8", start, end));
  } catch {
    bump(frames, "unparsed reply");
    return;
  }
  if (!Array.isArray(frame)) return;
  const ref = Number(String(frame[1]).slice(1));
  const t = pending.get(ref);
  if (t === undefined) return; // a warm-up reply after its drain, or unknown: not ours to count
  pending.delete(ref);
  if (ref < armRef) return; // warm-up
  const payload = frame[4] as { status?: unknown; response?: { status?: unknown; seq?: unknown; reason?: unknown } } | null;
  const resp = payload?.response;
  if (payload?.status === "ok" && resp?.status === "published" && typeof resp.seq === "number") {
    acked++;
    ackHist.recordMs(now - t);
    const s = streamOf[i] as number;
    const seq = resp.seq;
    if (ackedPerStream[s] === 0 || seq < (minSeq[s] as number)) minSeq[s] = seq;
    if (ackedPerStream[s] === 0 || seq > (maxSeq[s] as number)) maxSeq[s] = seq;
    ackedPerStream[s] = (ackedPerStream[s] as number) + 1;
    ackedSeqSum[s] = (ackedSeqSum[s] as number) + seq;
  } else if (payload?.status === "error") {
    refused++;
    bump(refusals, String(resp?.reason ?? "unknown"));
  } else {
    otherReplies++;
    bump(refusals, `reply ${String(resp?.status ?? payload?.status)}`);
  }
}

function onJoinReply(i: number, buf: Buffer, start: number, end: number): void {
  const failure = joinOutcome(buf, start, end);
  joins.answer(i, failure, () => {
    joined[i] = 1;
    live++;
  }, () => conns[i]?.terminate());
}

function onOtherFrame(buf: Buffer, start: number, end: number): void {
  if (!armed || startsWith(buf, start, end, HEARTBEAT_REPLY_HEAD)) return;
  const head = HEAD_RE.exec(buf.toString("utf8", start, Math.min(end, start + 200)));
  if (head === null) bump(frames, "unparsed");
  else bump(frames, head[1] === "phoenix" ? `phoenix ${head[2]}` : (head[2] ?? "?"));
}

const events: WsEvents = {
  open(c: WsConn): void {
    c.sendText(`["1","1","stream:${slugOf(streamOf[c.id] as number)}","phx_join",{}]`);
  },
  text(c: WsConn, buf: Buffer, start: number, end: number): void {
    const i = c.id;
    if (startsWith(buf, start, end, DELIVERY_HEAD) && startsWith(buf, start + DELIVERY_HEAD.length + 3, end, DELIVERY_TAIL)) {
      onDelivery(i, buf, start, end);
    } else if (startsWith(buf, start, end, CHAT_REPLY_HEAD)) onChatReply(i, buf, start, end);
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
  return joins.wait(i, JOIN_TIMEOUT_MS, () => conns.push(connectWs(i, cfg.host, cfg.port, path, cfg.origin, events)), () => conns[i]?.terminate());
}

async function connectMany(cmd: Extract<ChatCommand, { cmd: "connect" }>): Promise<ChatConnectReply> {
  const first = cmd.firstStream * cfg.viewersPerStream;
  const count = cmd.streamCount * cfg.viewersPerStream;
  if (conns.length + count > MAX_SOCKETS) throw new Error(`more than ${MAX_SOCKETS} sockets in one process`);
  if (cmd.firstStream + cmd.streamCount > cfg.streams) throw new Error("streams out of range");
  // Bounded in-flight connects: each lane runs connect+join, one socket at a time.
  const r = await inLanes(count, cmd.concurrency, performance.now() + cmd.timeoutMs, (k: number) => connectOne(first + k));
  heartbeats.start();
  return { joined: r.ok, failed: r.failed, elapsedMs: r.elapsedMs, errors: r.errors, joinLatency: r.joinLatency };
}

// phoenix.js sends a heartbeat every 30 s per socket; spread evenly over the period.
const heartbeats = new Heartbeats(conns, cfg.heartbeatMs);

// ---- sending ----

function arm(sampleEvery: number): void {
  armed = true;
  armRef = nextRef;
  sent = 0;
  acked = 0;
  refused = 0;
  otherReplies = 0;
  delivered = 0;
  disorder = 0;
  closedSinceArm = 0;
  refusals = {};
  closeReasons = {};
  frames = {};
  ackHist = new LogHistogram();
  deliveryHist = new LogHistogram();
  counts.fill(0);
  seqSums.fill(0);
  lastSeq.fill(0);
  ackedPerStream.fill(0);
  ackedSeqSum.fill(0);
  membersAtArm.fill(0);
  armedAtStart.set(joined);
  for (let i = 0; i < conns.length; i++) {
    const s = streamOf[i] as number;
    if (joined[i] === 1) membersAtArm[s] = (membersAtArm[s] as number) + 1;
    sampled[i] = ((globalIds[i] as number) % cfg.viewersPerStream) % sampleEvery === 0 ? 1 : 0;
  }
}

const FILLER = "nice play, what a stream today, hello from the benchmark chat everyone ";

function chatBody(g: number, bodyBytes: number): string {
  // The send time rides in the body (receivers subtract it from the same clock); plain text only.
  let body = `T${nowEpochMs().toFixed(3)}Z viewer ${g} says `;
  while (body.length < bodyBytes) body += FILLER;
  return body.slice(0, Math.max(bodyBytes, 30)).trimEnd();
}

let phaseCounter = 0;

/**
 * Every joined socket sends one message per `periodMs`, at its own fixed offset: the global slot
 * of viewer v of stream s is v * streams + s, so consecutive sends go to different streams and the
 * whole population's sends are spread evenly over the period.
 */
async function run(cmd: Extract<ChatCommand, { cmd: "run" }>): Promise<ChatRunReply> {
  if (cmd.phase === "measure") arm(cmd.sampleEvery);
  const phase = ++phaseCounter;
  const total = cfg.streams * cfg.viewersPerStream;
  const order: number[] = [];
  const offsets = new Float64Array(conns.length);
  for (let i = 0; i < conns.length; i++) {
    if (joined[i] !== 1) continue;
    const g = globalIds[i] as number;
    const slot = (g % cfg.viewersPerStream) * cfg.streams + Math.floor(g / cfg.viewersPerStream);
    offsets[i] = (slot * cmd.periodMs) / total;
    order.push(i);
  }
  order.sort((a: number, b: number) => (offsets[a] as number) - (offsets[b] as number));
  const lag = new LogHistogram();
  const t0 = performance.now() + 5;
  const end = t0 + cmd.durationMs;
  let count = 0;
  let maxLagMs = 0;
  let j = 0;
  let round = 0;
  // Bounded: each pass sends at least one message or sleeps until the next one is due; the
  // schedule ends at `end` (plus a hard stop for a wedged clock).
  const hardStop = end + 60_000;
  while (order.length > 0 && performance.now() < hardStop) {
    const i = order[j] as number;
    const due = t0 + (offsets[i] as number) + round * cmd.periodMs;
    if (due >= end) break;
    const now = performance.now();
    if (due > now) {
      await Bun.sleep(Math.max(1, due - now));
      continue;
    }
    const c = conns[i];
    if (c !== undefined && c.isOpen && joined[i] === 1) {
      const g = globalIds[i] as number;
      const ref = nextRef++;
      const payload = JSON.stringify({ body: chatBody(g, cmd.bodyBytes), nonce: `n${phase}-${g}-${round}` });
      pending.set(ref, performance.now());
      c.sendText(`["1","c${ref}","stream:${slugOf(streamOf[i] as number)}","chat:send",${payload}]`);
      count++;
      const late = performance.now() - due;
      lag.recordMs(late);
      if (late > maxLagMs) maxLagMs = late;
    }
    j++;
    if (j === order.length) {
      j = 0;
      round++;
    }
  }
  if (cmd.phase === "measure") sent = count;
  return { sent: count, elapsedMs: performance.now() - t0, maxLagMs, lagP99Ms: lag.quantileMs(0.99) };
}

function pendingMeasured(): number {
  let n = 0;
  for (const ref of pending.keys()) if (ref >= armRef) n++;
  return n;
}

function stats(): ChatStatsReply {
  let expected = 0;
  for (let s = 0; s < cfg.streams; s++) expected += (ackedPerStream[s] as number) * (membersAtArm[s] as number);
  return { sent, acked, refused, pendingAcks: armed ? pendingMeasured() : pending.size, delivered, expected, live };
}

function report(): ChatReportReply {
  let socketsShort = 0;
  let socketsOver = 0;
  let socketsWrongSet = 0;
  for (let i = 0; i < conns.length; i++) {
    if (armedAtStart[i] !== 1) continue;
    const s = streamOf[i] as number;
    const n = counts[i] as number;
    const want = ackedPerStream[s] as number;
    if (n < want) socketsShort++;
    else if (n > want) socketsOver++;
    else if (seqSums[i] !== ackedSeqSum[s]) socketsWrongSet++;
  }
  let seqGaps = 0;
  for (let s = 0; s < cfg.streams; s++) {
    const n = ackedPerStream[s] as number;
    if (n > 0) seqGaps += (maxSeq[s] as number) - (minSeq[s] as number) + 1 - n;
  }
  const base = stats();
  armed = false;
  return {
    ...base,
    refusals,
    otherReplies,
    ack: ackHist.toJson(),
    delivery: deliveryHist.toJson(),
    socketsShort,
    socketsOver,
    socketsWrongSet,
    disorder,
    seqGaps,
    closed: closedSinceArm,
    closeReasons,
    frames,
  };
}

// ---- command loop ----

serveCommands<ChatCommand>(async (cmd: ChatCommand): Promise<unknown> => {
  switch (cmd.cmd) {
    case "connect":
      return connectMany(cmd);
    case "run":
      return run(cmd);
    case "stats":
      return stats();
    case "report":
      return report();
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}, MAX_LIFETIME_MS);
