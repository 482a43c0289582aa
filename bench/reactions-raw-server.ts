// Baseline for the reactions benchmark (bench/reactions.ts): the plain Bun server a careful engineer
// would write for the same reaction wire protocol (Phoenix Channels V2 JSON frames), with NO rate
// limits, NO bans, NO worker thread and NO storage. Hubbub is compared against it, so it stays
// minimal but honest:
//   - the upgrade verifies the viewer's HS256 token, every frame is parsed, joins and heartbeats are
//     answered properly (bench/lib/raw-phoenix.ts),
//   - `reaction:send {emoji}` is checked against the same allowed set as Hubbub's default (a Set
//     lookup), counted in memory per topic and emoji, and acknowledged with the same reply bytes as
//     Hubbub (`{"status":"ok","response":{}}`),
//   - each reaction is stamped with Date.now() on arrival and counted in its topic's window
//     (REACTIONS_WINDOW_MS, default 1000 ms, aligned to multiples of the window on the wall clock,
//     like Hubbub's); at each window boundary every topic with reactions in an ended window gets ONE
//     `reactions {window_ms, counts, total}` broadcast per window through the native
//     `server.publish`, counts largest first (Hubbub's order). So the receive side of the benchmark
//     is the same on both, and so are the exactness checks.
// What it does not do (Hubbub's extra work, which the comparison prices): per-viewer token-bucket
// rate limits, ban/timeout and guest checks, handing batches to a supervised worker thread that
// survives crashes, the SQLite rollup of window totals, metrics.
//
// Usage: REACTIONS_RAW_TOKEN_SECRET=<secret> [REACTIONS_WINDOW_MS=1000] bun bench/reactions-raw-server.ts <port>

import type { Server } from "bun";
import { broadcastFrame, portArg, reply, secretEnv, serveRawPhoenix, type RawSocketData } from "./lib/raw-phoenix.ts";

const port = portArg("usage: REACTIONS_RAW_TOKEN_SECRET=<secret> bun bench/reactions-raw-server.ts <port below 32768>");
const secret = secretEnv("REACTIONS_RAW_TOKEN_SECRET");
const windowMs = Number(process.env.REACTIONS_WINDOW_MS ?? "1000");
if (!Number.isInteger(windowMs) || windowMs < 50 || windowMs > 60_000) {
  console.error("REACTIONS_WINDOW_MS: an integer from 50 to 60000");
  process.exit(2);
}

/** Hubbub's default allowed set. */
const ALLOWED = new Set(["❤️", "🔥", "😂", "👏", "😮", "🎉"]);

interface Window {
  topic: string;
  start: number;
  counts: Map<string, number>;
  total: number;
}

// Windows not yet published, by topic; a topic has one open window, two around a boundary.
const open = new Map<string, Window[]>();

const server: Server<RawSocketData> = serveRawPhoenix({
  name: "Reactions raw",
  port,
  secret,
  joinResponse: () => ({}),
  onEvent(ws, joinRef, ref, topic, event, payload): boolean {
    if (event !== "reaction:send") return false;
    const emoji = payload.emoji;
    if (typeof emoji !== "string" || !ALLOWED.has(emoji)) {
      ws.send(reply(joinRef, ref, topic, "error", { reason: "not_allowed", message: "this stream does not allow that reaction" }));
      return true;
    }
    const now = Date.now();
    const start = now - (now % windowMs);
    let wins = open.get(topic);
    if (wins === undefined) open.set(topic, (wins = []));
    let w = wins[wins.length - 1];
    if (w === undefined || w.start !== start) wins.push((w = { topic, start, counts: new Map(), total: 0 }));
    w.counts.set(emoji, (w.counts.get(emoji) ?? 0) + 1);
    w.total++;
    ws.send(reply(joinRef, ref, topic, "ok", {}));
    return true;
  },
});

const nextBoundary = (): number => (Math.floor(Date.now() / windowMs) + 1) * windowMs;
let boundary = nextBoundary();

/** At each window boundary: publishes and forgets every ended window (one event per topic and window). */
function flush(): void {
  const now = Date.now();
  if (now < boundary) {
    setTimeout(flush, boundary - now); // a timer that fired early: not yet the boundary
    return;
  }
  for (const [topic, wins] of open) {
    while (wins.length > 0 && (wins[0] as Window).start + windowMs <= now) {
      const w = wins.shift() as Window;
      const counts: Record<string, number> = {};
      for (const [e, n] of [...w.counts].sort((a, b) => b[1] - a[1])) counts[e] = n;
      server.publish(topic, broadcastFrame(topic, "reactions", { window_ms: windowMs, counts, total: w.total }));
    }
    if (wins.length === 0) open.delete(topic);
  }
  boundary = nextBoundary();
  setTimeout(flush, boundary - Date.now());
}
setTimeout(flush, boundary - Date.now());
