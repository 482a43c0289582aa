// Load generator child process (one per ~18,000 sockets: a process may hold at most 20,000 files).
// Driven by bench/run.ts over stdin/stdout JSON lines (see lib/protocol.ts). It holds viewer
// sockets, joins them, sends phoenix.js-style heartbeats, counts every announcement delivered,
// times a sample of them, and (in one child) drives the broadcasts with HTTP POSTs.
//
// Usage (by run.ts only): BENCH_CLIENT_CONFIG='<ClientConfig JSON>' taskset -c 1 bun bench/load-client.ts

import { connectWs, type WsConn, type WsEvents } from "./lib/ws-client.ts";
import { viewerToken } from "./lib/jwt.ts";
import { LogHistogram } from "./lib/histogram.ts";
import { serveCommands } from "./lib/child.ts";
import { joinOutcome, PendingJoins } from "./lib/viewer-pool.ts";
import type {
  ClientConfig,
  Command,
  ConnectReply,
  DriveReply,
  ReportReply,
  StatsReply,
} from "./lib/protocol.ts";

const MAX_SOCKETS = 19_000;
const JOIN_TIMEOUT_MS = 30_000;
const MAX_LIFETIME_MS = 3 * 3600_000; // a forgotten child must not live forever
const JOIN_FRAME = '["1","1","stream:bench","phx_join",{}]';
// Broadcasts are byte-identical for every subscriber: compare the head, decode nothing.
const ANNOUNCE_PREFIX: Buffer = Buffer.from('[null,null,"stream:bench","announcement",');
const JOIN_REPLY_PREFIX: Buffer = Buffer.from('["1","1",');
// Both servers encode the join reply status first: accept it without parsing the whole reply
// (hubbub's is ~550 bytes), so the generator spends as little as possible per join.
const JOIN_OK_PREFIX: Buffer = Buffer.from('["1","1","stream:bench","phx_reply",{"status":"ok"');
const BODY_NEEDLE: Buffer = Buffer.from('"body":"B');
const HEAD_RE = /^\[(?:null|"[^"]*"),(?:null|"[^"]*"),"([^"]*)","([^"]*)"/;

const cfgJson = process.env.BENCH_CLIENT_CONFIG;
if (cfgJson === undefined) {
  console.error("load-client is started by bench/run.ts (BENCH_CLIENT_CONFIG missing)");
  process.exit(2);
}
const cfg: ClientConfig = JSON.parse(cfgJson) as ClientConfig;

// Per-socket state in flat arrays indexed by local socket index (cheap in the hot path).
const conns: WsConn[] = [];
const globalIds = new Int32Array(MAX_SOCKETS);
const joined = new Uint8Array(MAX_SOCKETS);
const armedAtStart = new Uint8Array(MAX_SOCKETS);
const counts = new Int32Array(MAX_SOCKETS);
const joins = new PendingJoins();
let live = 0;

// Fan-out accounting, reset by "arm".
let armed = false;
let sampleEvery = 10;
let delivered = 0;
let slowPath = 0;
let closedSinceArm = 0;
let closeReasons: Record<string, number> = {};
let latency = new LogHistogram();
let frames: Record<string, number> = {};

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

function startsWith(buf: Buffer, start: number, end: number, prefix: Buffer): boolean {
  const n = prefix.length;
  if (end - start < n) return false;
  for (let k = 0; k < n; k++) if (buf[start + k] !== prefix[k]) return false;
  return true;
}

function onAnnouncement(i: number, buf: Buffer, start: number, end: number): void {
  if (!armed) {
    bump(frames, "announcement (not armed)");
    return;
  }
  counts[i] = (counts[i] as number) + 1;
  delivered++;
  if ((globalIds[i] as number) % sampleEvery !== 0) return;
  const p = buf.indexOf(BODY_NEEDLE, start);
  if (p < 0 || p >= end) return;
  const q = p + BODY_NEEDLE.length;
  const s = buf.toString("latin1", q, Math.min(end, q + 48));
  const t = s.indexOf("T");
  const z = s.indexOf("Z");
  if (t < 0 || z < t) return;
  latency.recordMs(nowEpochMs() - Number(s.slice(t + 1, z)));
}

/** Anything that is not a fast-path announcement: classify by event name, for feedback. */
function onOtherFrame(i: number, buf: Buffer, start: number, end: number): void {
  // latin1 is enough for the head (refs, topic and event are ASCII here) and cheaper than utf8.
  const head = HEAD_RE.exec(buf.toString("latin1", start, Math.min(end, start + 120)));
  if (head === null) {
    bump(frames, "unparsed");
    return;
  }
  const topic = head[1] ?? "";
  const event = head[2] ?? "";
  if (topic === "stream:bench" && event === "announcement") {
    slowPath++; // same event, different bytes than the canonical broadcast: counted, and reported
    onAnnouncement(i, buf, start, end);
    return;
  }
  bump(frames, topic === "phoenix" ? `phoenix ${event}` : event);
}

function onJoinReply(i: number, buf: Buffer, start: number, end: number): void {
  if (startsWith(buf, start, end, JOIN_OK_PREFIX)) {
    joined[i] = 1;
    live++;
    joins.settle(i, null);
    return;
  }
  const failure = joinOutcome(buf, start, end, "stream:bench");
  joins.answer(i, failure, () => {
    joined[i] = 1;
    live++;
  }, () => conns[i]?.terminate());
}

const events: WsEvents = {
  open(c: WsConn): void {
    c.sendText(JOIN_FRAME);
  },
  text(c: WsConn, buf: Buffer, start: number, end: number): void {
    const i = c.id;
    if (joined[i] === 1) {
      if (startsWith(buf, start, end, ANNOUNCE_PREFIX)) onAnnouncement(i, buf, start, end);
      else onOtherFrame(i, buf, start, end);
    } else if (startsWith(buf, start, end, JOIN_REPLY_PREFIX)) onJoinReply(i, buf, start, end);
    else onOtherFrame(i, buf, start, end);
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

function connectOne(globalId: number, auth: boolean): Promise<string | null> {
  const i = conns.length;
  globalIds[i] = globalId;
  let path = "/socket/websocket?vsn=2.0.0";
  if (auth) {
    if (cfg.tokenSecret === null) throw new Error("signed-in viewers need a token secret");
    path += `&token=${viewerToken(globalId, cfg.tokenSecret)}`;
  }
  return joins.wait(i, JOIN_TIMEOUT_MS, () => conns.push(connectWs(i, cfg.host, cfg.port, path, cfg.origin, events)), () => conns[i]?.terminate());
}

async function connectMany(cmd: Extract<Command, { cmd: "connect" }>): Promise<ConnectReply> {
  if (conns.length + cmd.count > MAX_SOCKETS) throw new Error(`more than ${MAX_SOCKETS} sockets in one process`);
  frames = {};
  const errors: Record<string, number> = {};
  const t0 = performance.now();
  const deadline = t0 + cmd.timeoutMs;
  let next = 0;
  let ok = 0;
  let failed = 0;
  const joinLatency = new LogHistogram();
  // Bounded in-flight connects: each lane runs connect+join, one socket at a time.
  const lane = async (): Promise<void> => {
    while (next < cmd.count && performance.now() < deadline) {
      const k = next++;
      const started = performance.now();
      const failure = await connectOne(cmd.firstId + k, cmd.auth);
      if (failure === null) {
        ok++;
        joinLatency.recordMs(performance.now() - started);
      } else {
        failed++;
        bump(errors, failure.slice(0, 60));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(cmd.concurrency, cmd.count)) }, lane));
  const elapsedMs = performance.now() - t0;
  failed += cmd.count - ok - failed; // never attempted: the deadline passed
  startHeartbeats();
  return { joined: ok, failed, elapsedMs, errors, frames: { ...frames }, joinLatency: joinLatency.toJson() };
}

// phoenix.js sends a heartbeat every 30 s per socket; spread them evenly over the period.
let heartbeatTimer: ReturnType<typeof setInterval> | null = null;
let heartbeatCursor = 0;
let heartbeatRef = 0;
function startHeartbeats(): void {
  if (heartbeatTimer !== null) return;
  const tickMs = 100;
  heartbeatTimer = setInterval(() => {
    const per = Math.ceil((conns.length * tickMs) / cfg.heartbeatMs);
    for (let k = 0; k < per && conns.length > 0; k++) {
      heartbeatCursor = (heartbeatCursor + 1) % conns.length;
      const c = conns[heartbeatCursor];
      if (c !== undefined && c.isOpen) c.sendText(`[null,"${++heartbeatRef}","phoenix","heartbeat",{}]`);
    }
  }, tickMs);
}

function arm(every: number): { live: number } {
  armed = true;
  sampleEvery = Math.max(1, Math.floor(every));
  delivered = 0;
  slowPath = 0;
  closedSinceArm = 0;
  closeReasons = {};
  latency = new LogHistogram();
  frames = {};
  counts.fill(0);
  armedAtStart.set(joined);
  return { live };
}

async function drive(cmd: Extract<Command, { cmd: "drive" }>): Promise<DriveReply> {
  const intervalMs = 1000 / cmd.broadcastsPerSec;
  const post = new LogHistogram();
  const errors: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  let failed = 0;
  let skipped = 0;
  let inflight = 0;
  let maxLagMs = 0;
  const headers: Record<string, string> = { ...cmd.headers, "content-type": "application/json" };
  const t0 = performance.now();
  for (let b = 0; b < cmd.count; b++) {
    const due = t0 + b * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await Bun.sleep(wait);
    maxLagMs = Math.max(maxLagMs, performance.now() - due);
    if (inflight >= cmd.maxInflight) {
      skipped++;
      continue;
    }
    // The send time rides in the body; receivers subtract it from their clock.
    let body = `B${b}T${nowEpochMs().toFixed(3)}Z`;
    if (body.length < cmd.bodyBytes) body += "x".repeat(cmd.bodyBytes - body.length);
    const started = performance.now();
    inflight++;
    sent++;
    fetch(cmd.url, { method: "POST", headers, body: JSON.stringify({ ...cmd.extra, body }) })
      .then(async (res: Response) => {
        await res.arrayBuffer();
        post.recordMs(performance.now() - started);
        if (res.status >= 200 && res.status < 300) ok++;
        else {
          failed++;
          bump(errors, `HTTP ${res.status}`);
        }
      })
      .catch((err: unknown) => {
        failed++;
        bump(errors, err instanceof Error ? err.message.slice(0, 60) : "fetch failed");
      })
      .finally(() => {
        inflight--;
      });
  }
  const elapsedMs = performance.now() - t0;
  const settleBy = performance.now() + 30_000;
  while (inflight > 0 && performance.now() < settleBy) await Bun.sleep(10);
  if (inflight > 0) {
    failed += inflight;
    bump(errors, "no response within 30 s");
  }
  return { sent, ok, failed, skipped, elapsedMs, maxLagMs, post: post.toJson(), errors };
}

function report(expectedPerSocket: number): ReportReply {
  let socketsShort = 0;
  let socketsOver = 0;
  let minPerSocket = Infinity;
  let maxPerSocket = 0;
  for (let i = 0; i < conns.length; i++) {
    if (armedAtStart[i] !== 1) continue;
    const n = counts[i] as number;
    if (n < expectedPerSocket) socketsShort++;
    if (n > expectedPerSocket) socketsOver++;
    minPerSocket = Math.min(minPerSocket, n);
    maxPerSocket = Math.max(maxPerSocket, n);
  }
  armed = false;
  return {
    delivered,
    live,
    closed: closedSinceArm,
    closeReasons,
    socketsShort,
    socketsOver,
    minPerSocket: minPerSocket === Infinity ? 0 : minPerSocket,
    maxPerSocket,
    latency: latency.toJson(),
    slowPath,
    frames,
  };
}

/** One command's result ("quit" is answered by serveCommands). */
async function handle(cmd: Command): Promise<unknown> {
  switch (cmd.cmd) {
    case "connect":
      return connectMany(cmd);
    case "arm":
      return arm(cmd.sampleEvery);
    case "drive":
      return drive(cmd);
    case "stats":
      return { delivered, live } satisfies StatsReply;
    case "report":
      return report(cmd.expectedPerSocket);
    case "quit":
      return null;
  }
}

// (stdin closing, the orchestrator gone, also ends this process)
serveCommands<Command>(handle, MAX_LIFETIME_MS);
