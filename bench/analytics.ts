// Analytics benchmark (issue 6, "Speed"), three parts:
//
// 1. Ingest: the real Analytics class (src/analytics/index.ts) driven in-process at maximum speed
//    with synthetic events (joins, leaves, chat, reactions, votes over many live streams, viewers,
//    countries and segments: bench/analytics-sim.ts), on the real clock with the default window
//    (10 s) and flush interval (5 s), so the in-memory Collector drains every 5 s to the real
//    analytics worker, which appends to DuckDB. An event counts once the worker says it is stored
//    (Analytics.eventsFlushed). Also: main-thread time per event (the generator's own cost measured
//    with a no-op sink and subtracted), per-flush sizes and times, CPU by thread, cost per call.
// 2. Report latency: one 2-hour broadcast with 1M viewer sessions, 3M chat messages, 6M reactions
//    and a poll, generated THROUGH THE SAME PATH (Analytics on a simulated clock, flushed every
//    simulated 10 min) into the data folder of a real Hubbub install; then Analytics.report() (what
//    GET /api/v1/broadcasts/:id/report calls) and several series queries, timed over several runs.
//    Each SQL piece of the report is timed on its own too, and the slowest are profiled (DuckDB's
//    operator profile), to name what costs.
// 3. Chat under a long query: a real Hubbub server on that data folder, a fixed chat load
//    (bench/chat-load-client.ts, 20 streams x 50 signed-in viewers, 200 messages/s, every delivery
//    timed), windows without and with a back-to-back loop of GET /api/v1/broadcasts/:id/report
//    requests, alternated (ABBA); delivery p99 with / without. Once with the server alone on core 0
//    (as the other benchmarks pin it: DuckDB's thread shares that core), once on both cores.
//
//   node_modules/.bin/bun bench/analytics.ts                 full size (~10 minutes)
//   node_modules/.bin/bun bench/analytics.ts --quick         small sizes: a smoke run (~1 minute)
//   node_modules/.bin/bun bench/analytics.ts --help          all flags

import { Database } from "bun:sqlite";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { ChatClientConfig, ChatCommand, ChatConnectReply, ChatReportReply, ChatRunReply, ChatStatsReply } from "./chat-load-client.ts";
import { CHAT_LINES, CHAT_SENTIMENT, MIX_SHARE, MixedLoad, NULL_SINK, Rng, liveStream, segmentMarks, simClock, simulateBroadcast, type BroadcastPlan, type SimResult } from "./analytics-sim.ts";
import { createStreams, hubbubApi, startBenchServer, type BenchServer } from "./lib/bench-servers.ts";
import { LoadChild } from "./lib/child.ts";
import { removeDir, runMain, tempDir } from "./lib/cleanup.ts";
import { checkFlags, coreBusySeconds, flagReader, numberFlags, fmt, int, interestingLogLines, makeLog, quantiles, quiesce, waitForQuietMachine, yes, type Quantiles } from "./lib/harness.ts";
import { cpuTimes, machineBusySeconds, machineInfo, threadCpuDiff, threadCpuSeconds } from "./lib/proc.ts";
import { HUBBUB_FIXED_ENV, REPO_ROOT } from "./lib/servers.ts";

type AnalyticsModule = typeof import("../src/analytics/index.ts");
type QueriesModule = typeof import("../src/analytics/queries.ts");
type Analytics = InstanceType<AnalyticsModule["Analytics"]>;
type Part = "ingest" | "report" | "chat";
type Sql = { sql: string; params: Record<string, string | number> };

// ---------------------------------------------------------------- options

interface Options {
  only: Part[];
  ingestS: number;
  ingestStreams: number;
  ingestViewers: number;
  ingestOpen: number[];
  sessions: number;
  viewers: number;
  chats: number;
  reactions: number;
  votes: number;
  durationMin: number;
  simFlushS: number;
  runs: number;
  chatStreams: number;
  chatViewers: number;
  chatRate: number;
  windowS: number;
  pairs: number;
  serverCpus: string[];
  generatorCpu: string;
  quietWait: number;
  json: string | null;
  hubbubRoot: string;
  keepTmp: boolean;
}

const USAGE = `Usage: node_modules/.bin/bun bench/analytics.ts [flags]   (each flag also reads env BENCH_ANALYTICS_<NAME>)
  --quick                 small sizes (smoke run): --ingest-s=3 --ingest-open=100000 --sessions=50000 --viewers=40000
                          --chats=150000 --reactions=300000 --votes=5000 --duration-min=30 --sim-flush-s=300 --runs=3
                          --window=5 --pairs=1 --quiet-wait=0
  --only=ingest,report,chat   parts (chat needs the big broadcast, so it builds it even without "report")
  --ingest-s=10           seconds of max-speed ingest (part 1)
  --ingest-streams=100    live streams in part 1
  --ingest-viewers=200000 distinct viewers in part 1
  --ingest-open=100000,10000   open sessions kept in part 1, one ingest run each (trees before 680e61f
                          re-send every open session on each flush); the first is the judged one
  --sessions=1000000      viewer sessions of the big broadcast (part 2)
  --viewers=800000        distinct viewers among them (the rest come back, or open a second tab)
  --chats=3000000         chat messages of the big broadcast
  --reactions=6000000     reactions of the big broadcast
  --votes=100000          poll votes of the big broadcast
  --duration-min=120      length of the big broadcast (simulated)
  --sim-flush-s=600       simulated seconds between flushes while building it
  --runs=5                timed runs of the report and of each series query after a first (cold) one; a
                          query slower than 10 s stops after 3 runs (the whole run must fit in ~10 minutes)
  --chat-streams=20 --chat-viewers=50 --chat-rate=200   chat load of part 3 (messages/s in total)
  --window=15             seconds per measured chat window
  --pairs=3               window pairs (without / with the report loop) per server placement, ABBA order
  --server-cpus=0         server CPU placements for part 3 (taskset -c lists, ';'-separated, e.g. "0;0,1"):
                          0 is the benchmarks' usual one (server alone on core 0, generator on core 1). With
                          "0,1" the query's thread also takes the generator's core, so the latency measured
                          there includes the generator's own delays
  --generator-cpu=1
  --quiet-wait=60         max seconds to wait for other processes to go quiet before each part
  --json=PATH             also write the raw results as JSON
  --hubbub-root=DIR       measure another checkout (e.g. a clean export of HEAD with node_modules linked)
  --keep-tmp              keep the temp dir (data folders, server logs)`;

const KNOWN = new Set([
  "quick", "only", "ingest-s", "ingest-streams", "ingest-viewers", "ingest-open", "sessions", "viewers", "chats", "reactions", "votes",
  "duration-min", "sim-flush-s", "runs", "chat-streams", "chat-viewers", "chat-rate", "window", "pairs", "server-cpus", "generator-cpu",
  "quiet-wait", "json", "hubbub-root", "keep-tmp", "help",
]);

function parseOptions(argv: string[]): Options {
  checkFlags(argv, KNOWN, USAGE);
  const flag = flagReader(argv, "BENCH_ANALYTICS_");
  const quick = flag("quick") !== undefined && flag("quick") !== "0";
  const num = numberFlags(flag, quick);
  const only = (flag("only") ?? "ingest,report,chat").split(",").map((s: string) => s.trim()).filter((s: string) => s !== "");
  for (const p of only) if (!["ingest", "report", "chat"].includes(p)) throw new Error(`--only: unknown part "${p}"`);
  const o: Options = {
    only: only as Part[],
    ingestS: num("ingest-s", 10, 3, 1, 600),
    ingestStreams: Math.round(num("ingest-streams", 100, 100, 1, 10_000)),
    ingestViewers: Math.round(num("ingest-viewers", 200_000, 200_000, 1, 10_000_000)),
    ingestOpen: (flag("ingest-open") ?? (quick ? "100000" : "100000,10000")).split(",").map((x: string) => Math.round(Number(x.trim()))),
    sessions: Math.round(num("sessions", 1_000_000, 50_000, 100, 20_000_000)),
    viewers: Math.round(num("viewers", 800_000, 40_000, 100, 20_000_000)),
    chats: Math.round(num("chats", 3_000_000, 150_000, 0, 100_000_000)),
    reactions: Math.round(num("reactions", 6_000_000, 300_000, 0, 100_000_000)),
    votes: Math.round(num("votes", 100_000, 5000, 0, 10_000_000)),
    durationMin: num("duration-min", 120, 30, 10, 24 * 60),
    simFlushS: Math.round(num("sim-flush-s", 600, 300, 5, 3600)),
    runs: Math.round(num("runs", 5, 3, 1, 100)),
    chatStreams: Math.round(num("chat-streams", 20, 20, 1, 999)),
    chatViewers: Math.round(num("chat-viewers", 50, 50, 1, 1000)),
    chatRate: num("chat-rate", 200, 200, 1, 20_000),
    windowS: num("window", 15, 5, 1, 600),
    pairs: Math.round(num("pairs", 3, 1, 1, 20)),
    serverCpus: (flag("server-cpus") ?? "0").split(";").map((s: string) => s.trim()).filter((s: string) => s !== ""),
    generatorCpu: flag("generator-cpu") ?? "1",
    quietWait: num("quiet-wait", 60, 0, 0, 3600),
    json: flag("json") ?? null,
    hubbubRoot: flag("hubbub-root") ?? REPO_ROOT,
    keepTmp: flag("keep-tmp") !== undefined && flag("keep-tmp") !== "0",
  };
  if (o.viewers > o.sessions) o.viewers = o.sessions;
  if (o.ingestOpen.length === 0 || o.ingestOpen.some((n: number) => !Number.isInteger(n) || n < 1 || n > 5_000_000)) throw new Error("--ingest-open: integers in [1, 5000000]");
  if (!existsSync(join(o.hubbubRoot, "src", "analytics", "index.ts"))) throw new Error(`--hubbub-root: no src/analytics/index.ts in ${o.hubbubRoot}`);
  if (o.chatStreams * o.chatViewers >= 19_000) throw new Error("one generator holds at most ~19,000 sockets");
  return o;
}

// ---------------------------------------------------------------- helpers

const log = makeLog("analytics");
const WINDOW_MS = 10_000; // Hubbub's defaults (HUBBUB_ANALYTICS_WINDOW_S, HUBBUB_ANALYTICS_FLUSH_S)
const FLUSH_MS = 5000;
const TARGET_INGEST = 500_000;
const TARGET_REPORT_MS = 500;
const TARGET_SERIES_MS = 200;
const TARGET_CHAT_RATIO = 1.2;
/** Other processes' CPU in a chat window, in cores, above which the window is measured again (a
 * clean window here shows <= 0.03; 0.2 was seen to triple a p99). */
const NOISY = 0.1;

interface Mods {
  analytics: AnalyticsModule;
  queries: QueriesModule;
  silentLogger: typeof import("../src/runtime/logger.ts").silentLogger;
  sentimentOf: typeof import("../src/analytics/sentiment.ts").sentimentOf;
  countryOf: typeof import("../src/analytics/geo.ts").countryOf;
  collector: typeof import("../src/analytics/collector.ts");
  /** The live-state SQLite the door keeps erasures in (in memory here: not measured). */
  liveDb: () => import("bun:sqlite").Database;
}

async function loadModules(root: string): Promise<Mods> {
  const src = join(root, "src");
  const sqlite = (await import(join(src, "db", "sqlite.ts"))) as typeof import("../src/db/sqlite.ts");
  return {
    analytics: (await import(join(src, "analytics", "index.ts"))) as AnalyticsModule,
    queries: (await import(join(src, "analytics", "queries.ts"))) as QueriesModule,
    silentLogger: ((await import(join(src, "runtime", "logger.ts"))) as typeof import("../src/runtime/logger.ts")).silentLogger,
    sentimentOf: ((await import(join(src, "analytics", "sentiment.ts"))) as typeof import("../src/analytics/sentiment.ts")).sentimentOf,
    countryOf: ((await import(join(src, "analytics", "geo.ts"))) as typeof import("../src/analytics/geo.ts")).countryOf,
    collector: (await import(join(src, "analytics", "collector.ts"))) as typeof import("../src/analytics/collector.ts"),
    liveDb: () => {
      // (the two steps of memorySqlite, which an older tree does not have)
      const db = sqlite.openSqlite(":memory:");
      sqlite.migrate(db);
      return db;
    },
  };
}

/** Which code is measured: the commit (and whether src/ differs from it) or the export's name. */
function codeIdentity(root: string): string {
  try {
    const sha = execFileSync("git", ["-C", root, "rev-parse", "--short", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["-C", root, "status", "--porcelain", "--", "src"], { encoding: "utf8" }).trim();
    return `commit ${sha} in ${root}${dirty === "" ? " (src/ clean)" : " (src/ HAS UNCOMMITTED CHANGES)"}`;
  } catch {
    const m = /hubbub-head-([0-9a-f]{7,40})/.exec(basename(root));
    return m ? `a clean export of commit ${m[1]} (${root})` : `the tree in ${root} (no git)`;
  }
}

function threadText(d: Array<[string, number]>, wallS: number): string {
  return d.slice(0, 6).map(([k, v]) => `${k} ${fmt(v, 2)} s (${Math.round((v / wallS) * 100)}%)`).join(", ");
}

const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const maxOf = (xs: number[]): number => (xs.length ? Math.max(...xs) : NaN);

const yieldLoop = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

interface FlushRecord {
  /** Main-thread time inside flush(): the collector's drain plus the postMessage to the worker. */
  syncMs: number;
  /** From the flush() call until the worker said stored (queueing behind earlier flushes included). */
  storedMs: number;
  agg: number;
  chatters: number;
  sessions: number;
  events: number;
}

/** Wraps an Analytics instance's flush() (its timer calls it through the instance) and its
 * collector's drain(), to record each batch's rows, the main thread's time in flush() and the time
 * until the worker stored it. Reaches into private fields: a benchmark's probe, not an API. */
function instrumentFlush(a: Analytics): FlushRecord[] {
  const recs: FlushRecord[] = [];
  // (a drained batch is columns since session 4, row arrays before: `rows` or `length`)
  type Drained = { agg: Rows; chatters: Rows; sessions: Rows; events: number };
  type Rows = { rows: number } | { length: number };
  const inner = a as unknown as { collector: { drain(...args: unknown[]): Drained }; flush(): Promise<void> };
  const drain = inner.collector.drain.bind(inner.collector);
  let last: Drained | null = null;
  // (every argument passed on: the touch prefix makes the worker update the open sessions)
  inner.collector.drain = (...args: unknown[]): Drained => (last = drain(...args));
  const count = (r: Rows | undefined): number => (r === undefined ? 0 : "rows" in r ? r.rows : r.length);
  const flush = inner.flush.bind(a);
  inner.flush = (): Promise<void> => {
    last = null;
    const t = performance.now();
    const p = flush();
    const b = last as Drained | null;
    const rec: FlushRecord = { syncMs: performance.now() - t, storedMs: NaN, agg: count(b?.agg), chatters: count(b?.chatters), sessions: count(b?.sessions), events: b?.events ?? 0 };
    if (rec.events > 0 || rec.sessions > 0) recs.push(rec);
    void p.then(() => (rec.storedMs = performance.now() - t));
    return p;
  };
  return recs;
}

/** One more flush, then waits until every event gathered so far is stored (or `maxMs` passes).
 * Every flush re-sends every open session, so this flushes again only after a failed one. */
async function drained(a: Analytics, maxMs: number): Promise<boolean> {
  const until = performance.now() + maxMs;
  while (performance.now() < until) {
    await Promise.race([a.flush(), Bun.sleep(Math.max(0, until - performance.now()))]);
    if (a.pendingEvents === 0) return true;
    await Bun.sleep(500); // a failed flush: the next one retries it
  }
  return a.pendingEvents === 0;
}

const noBroadcasts = { findBroadcast: () => undefined, segmentsOf: () => [], findById: () => undefined };

// ---------------------------------------------------------------- part 1: ingest

interface IngestResult {
  seconds: number;
  streams: number;
  viewers: number;
  openAtStart: number;
  captured: number;
  mix: Record<string, number>;
  storedDuringDrive: number;
  pendingAtDriveEnd: number;
  stored: number;
  endToEndS: number;
  finalDrainS: number;
  eventsPerS: number;
  captureRate: number;
  driveMs: number;
  generatorNsPerEvent: number;
  flushSyncMs: number;
  mainCpuS: number;
  mainNsPerEvent: number;
  mainCpuNsPerEvent: number;
  threads: Array<[string, number]>;
  flushes: FlushRecord[];
  flushFailures: number;
  micro: Record<string, number>;
  /** Heap kept per distinct signed-in viewer of a live broadcast (bytes), measured with the micro timings. */
  bytesPerViewer: number | null;
}

async function runIngest(m: Mods, opts: Options, dir: string, openSessions: number, micro: boolean): Promise<IngestResult> {
  // The generator's own cost: the same event stream into a no-op sink.
  const cal = new MixedLoad(opts.ingestStreams, opts.ingestViewers, openSessions * 2, new Rng(11), Date.now());
  cal.prejoin(NULL_SINK, openSessions);
  cal.run(NULL_SINK, 2_000_000);
  const c0 = performance.now();
  cal.run(NULL_SINK, 4_000_000);
  const generatorNsPerEvent = ((performance.now() - c0) * 1e6) / 4_000_000;

  const dataDir = join(dir, `ingest-data-${openSessions}`);
  mkdirSync(dataDir, { recursive: true });
  const a = new m.analytics.Analytics({ dataDir, clock: { now: () => Date.now() }, db: m.liveDb(), logger: m.silentLogger, windowMs: WINDOW_MS, flushMs: FLUSH_MS, broadcasts: noBroadcasts });
  a.start(() => 0);
  try {
    if (!(await a.ping())) throw new Error("analytics worker did not answer");
    const flushes = instrumentFlush(a);
    const load = new MixedLoad(opts.ingestStreams, opts.ingestViewers, openSessions * 2, new Rng(12345), Date.now());
    // Warm-up: the open sessions, then a second of the mix (JIT), all stored before measuring.
    load.prejoin(a, openSessions);
    const w0 = performance.now();
    while (performance.now() - w0 < 1000) {
      load.run(a, 8192);
      await yieldLoop();
    }
    if (!(await drained(a, 120_000))) throw new Error("warm-up events not stored within 120 s");
    flushes.length = 0;
    const countsBefore = { ...load.counts };
    const base = a.eventsFlushed;
    const failures0 = a.flushFailures;
    log(`ingest: ${int(load.openSessions)} open sessions, ${opts.ingestStreams} streams; driving for ${opts.ingestS} s`);

    const th0 = threadCpuSeconds(process.pid);
    const t0 = performance.now();
    const CHUNK = 8192;
    let captured = 0;
    let driveMs = 0;
    while (performance.now() - t0 < opts.ingestS * 1000) {
      const s = performance.now();
      load.run(a, CHUNK);
      driveMs += performance.now() - s;
      captured += CHUNK;
      await yieldLoop();
    }
    const tDrive = performance.now();
    const storedDuringDrive = a.eventsFlushed - base;
    const pendingAtDriveEnd = a.pendingEvents;
    const flushSyncDuringDrive = flushes.reduce((n, f) => n + f.syncMs, 0);
    const thDrive = threadCpuSeconds(process.pid);
    // The last events: one more flush, then wait until everything is stored.
    const ok = await drained(a, 180_000);
    const tEnd = performance.now();
    const th1 = threadCpuSeconds(process.pid);
    const stored = a.eventsFlushed - base;
    if (!ok) log(`ingest: ${a.pendingEvents} events still not stored after 180 s`);
    const mix: Record<string, number> = {};
    for (const [k, v] of Object.entries(load.counts)) mix[k] = v - (countsBefore[k as keyof typeof countsBefore] ?? 0);
    const mainCpuS = (thDrive.get("main") ?? 0) - (th0.get("main") ?? 0);
    const driveWallS = (tDrive - t0) / 1000;
    const mainNsPerEvent = ((driveMs + flushSyncDuringDrive) * 1e6) / captured - generatorNsPerEvent;
    const r: IngestResult = {
      seconds: driveWallS,
      streams: opts.ingestStreams,
      viewers: opts.ingestViewers,
      openAtStart: openSessions,
      captured,
      mix,
      storedDuringDrive,
      pendingAtDriveEnd,
      stored,
      endToEndS: (tEnd - t0) / 1000,
      finalDrainS: (tEnd - tDrive) / 1000,
      eventsPerS: stored / ((tEnd - t0) / 1000),
      captureRate: captured / driveWallS,
      driveMs,
      generatorNsPerEvent,
      flushSyncMs: flushSyncDuringDrive,
      mainCpuS,
      mainNsPerEvent,
      mainCpuNsPerEvent: (mainCpuS * 1e9) / captured - generatorNsPerEvent,
      threads: threadCpuDiff(th0, th1),
      flushes: [...flushes],
      flushFailures: a.flushFailures - failures0,
      micro: {},
      bytesPerViewer: null,
    };
    log(`ingest: captured ${int(captured)} in ${fmt(driveWallS, 1)} s, stored ${int(stored)} by ${fmt(r.endToEndS, 1)} s: ${int(r.eventsPerS)} events/s end to end; main thread ${fmt(mainNsPerEvent / 1000, 2)} µs/event`);

    if (micro) {
      // Cost of one capture call on the main thread, per kind (same instance, one stream, 5,000 joined
      // viewers), as the hub makes it: with the socket's tap, and chat with the moderation worker's score.
      const st = load.streams[0]!;
      const keys = Array.from({ length: 5000 }, (_, i) => `v${i}`);
      const taps = keys.map((k, i) => a.joined(st, 40_000_000 + i, k, "8.8.8.8"));
      const time = (n: number, fn: (i: number) => void): number => {
        for (let i = 0; i < Math.min(n, 20_000); i++) fn(i);
        const s = performance.now();
        for (let i = 0; i < n; i++) fn(i);
        return ((performance.now() - s) * 1e3) / n; // µs
      };
      const line = (i: number) => i % CHAT_LINES.length;
      r.micro.chat = time(200_000, (i) => a.chat(st, keys[i % 5000]!, CHAT_LINES[line(i)]!, CHAT_SENTIMENT[line(i)], taps[i % 5000]));
      r.micro["sentimentOf alone (on the moderation worker)"] = time(200_000, (i) => m.sentimentOf(CHAT_LINES[line(i)]!));
      r.micro.reaction = time(200_000, (i) => a.reaction(st, keys[i % 5000]!, "🔥", taps[i % 5000]));
      r.micro.vote = time(200_000, (i) => a.vote(st, keys[i % 5000]!, "poll-x", i % 4, taps[i % 5000]));
      let sess = 50_000_000;
      r.micro["join + leave (2 events, geo lookup included)"] = time(100_000, (i) => {
        a.joined(st, sess, keys[i % 5000]!, "8.8.8.8");
        a.left(st, sess++);
      });
      r.micro["countryOf alone"] = time(200_000, (i) => m.countryOf(i % 2 ? "8.8.8.8" : "81.2.69.160"));
      r.bytesPerViewer = bytesPerViewerKept(m);
      await drained(a, 60_000);
    }
    return r;
  } finally {
    await a.stop();
  }
}

const MEM_VIEWERS = 200_000;

/**
 * Heap a live broadcast keeps per distinct signed-in viewer once their session has ended (their
 * first appearances, kept for exact distinct counts until the broadcast ends): a Collector alone,
 * MEM_VIEWERS viewers each joining and leaving, drained as the flush timer would.
 */
function bytesPerViewerKept(m: Mods): number {
  const c = new m.collector.Collector(WINDOW_MS, 1);
  const S = Date.now();
  c.begin("mem", "mem-stream", S, "", S);
  Bun.gc(true);
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < MEM_VIEWERS; i++) {
    c.startSession(`mem.${i}`, i + 1, "mem", i % 3 ? "US" : "GB", `viewer-${i}`, S + i);
    c.endSession("mem", i + 1, S + i + 1);
    if (i % 20_000 === 19_999) c.drain(S + i);
  }
  c.drain(S + MEM_VIEWERS + 1);
  Bun.gc(true);
  const bytes = (process.memoryUsage().heapUsed - before) / MEM_VIEWERS;
  if (c.trackedViewers("mem") !== MEM_VIEWERS) throw new Error("memory probe: the collector did not keep every viewer");
  return bytes;
}

// ---------------------------------------------------------------- preparing the data folder

interface Prepared {
  dataDir: string;
  bigId: string;
  bigStreamId: string;
  start: number;
  end: number;
}

/** Chat streams of placement k: their own slugs, so that a second server on the same data folder
 * never sees the generator's message nonces again (Hubbub answers a repeated nonce with the first
 * ack and delivers nothing: idempotent sends). */
const chatPrefix = (k: number): string => `an-c${k}-`;
const chatSlug = (k: number, s: number): string => `${chatPrefix(k)}${String(s).padStart(3, "0")}`;
/** What the benchmark changes on the chat streams (as bench/chat.ts does): the per-viewer rate
 * limit raised so no message is refused, links allowed. */
const CHAT_SETTINGS = { rate_limit: { messages: 10000, per_s: 1 }, link_policy: "allow", presence_list_max: 1000 };

/** A Hubbub entry point that runs the measured tree's cli.ts on a chosen data folder (the bench
 * server helper gives every server a fresh one; the big broadcast must be in this one). */
function shimRoot(dir: string, hubbubRoot: string, dataDir: string, name: string): string {
  const root = join(dir, `shim-${name}`);
  mkdirSync(join(root, "src"), { recursive: true });
  writeFileSync(
    join(root, "src", "cli.ts"),
    "// Generated by bench/analytics.ts: the measured Hubbub on a pre-filled data folder.\n" +
      `process.env.HUBBUB_DATA_DIR = ${JSON.stringify(dataDir)};\n` +
      `await import(${JSON.stringify(join(hubbubRoot, "src", "cli.ts"))});\n`,
  );
  return root;
}

function startHubbub(dir: string, opts: Options, dataDir: string, cpu: string, name: string, setup?: (s: BenchServer) => Promise<void>): Promise<BenchServer> {
  return startBenchServer("hubbub", dir, cpu, {
    rawScript: "",
    rawSecretEnv: "",
    rawBanner: "",
    hubbubRoot: shimRoot(dir, opts.hubbubRoot, dataDir, name),
    profileDir: null,
    ...(setup ? { setup } : {}),
  });
}

/**
 * A real Hubbub install: the big broadcast's stream goes live and ends (so its broadcast row is
 * Hubbub's own), the chat streams are created and go live (so part 3's chat is captured by
 * analytics too). Then, with the server stopped, the broadcast row's start is moved back to give
 * it the simulated length, and its segment marks (made through the API while it was live) are moved
 * to their simulated times: the simulation replays the broadcast's events into that window.
 */
async function prepare(opts: Options, dir: string): Promise<Prepared> {
  const dataDir = join(dir, "big-data");
  mkdirSync(dataDir, { recursive: true });
  const chatSlugs = opts.serverCpus.flatMap((_, k) => Array.from({ length: opts.chatStreams }, (_, s) => chatSlug(k, s)));
  let bigId = "";
  const srv = await startHubbub(dir, opts, dataDir, "0-1", "prep", async (s: BenchServer) => {
    await createStreams(s, ["an-big"], "Analytics bench", {});
    bigId = (await hubbubApi<{ id: string }>(s, "POST", "/streams/an-big/live", {})).id;
    // The segment marks through the API (Hubbub's own rows); their times are moved below.
    for (const mk of segmentMarks(Math.round(opts.durationMin * 60))) {
      await hubbubApi(s, "POST", `/broadcasts/${bigId}/segments`, { label: mk.label });
      await Bun.sleep(5); // distinct milliseconds: their order is their time order
    }
    await hubbubApi(s, "POST", "/streams/an-big/end", {});
    await createStreams(s, chatSlugs, "Analytics chat bench", CHAT_SETTINGS);
    for (const slug of chatSlugs) await hubbubApi(s, "POST", `/streams/${slug}/live`, {});
  });
  await srv.stop();
  const db = new Database(join(dataDir, "hubbub.sqlite"));
  try {
    const row = db.query<{ stream_id: string; ended_at: number }, [string]>("SELECT stream_id, ended_at FROM broadcasts WHERE id = ?").get(bigId);
    if (!row) throw new Error(`broadcast ${bigId} not in hubbub.sqlite`);
    const end = row.ended_at;
    const start = end - Math.round(opts.durationMin * 60) * 1000;
    db.query("UPDATE broadcasts SET started_at = ? WHERE id = ?").run(start, bigId);
    const marks = segmentMarks(Math.round(opts.durationMin * 60));
    const rows = db.query<{ label: string; started_at: number }, [string]>("SELECT label, started_at FROM broadcast_segments WHERE broadcast_id = ? ORDER BY started_at").all(bigId);
    if (rows.length !== marks.length || rows.some((r, i) => r.label !== marks[i]!.label)) throw new Error(`segment marks not as sent: ${JSON.stringify(rows)}`);
    for (const [i, r] of rows.entries()) {
      db.query("UPDATE broadcast_segments SET started_at = ? WHERE broadcast_id = ? AND label = ? AND started_at = ?").run(start + marks[i]!.atS * 1000, bigId, r.label, r.started_at);
    }
    return { dataDir, bigId, bigStreamId: row.stream_id, start, end };
  } finally {
    db.close();
  }
}

/** The big broadcast's stream and the `broadcasts` door Analytics needs (what SQLite holds). */
function bigBroadcasts(p: Prepared, now: () => number) {
  const marks = segmentMarks(Math.round((p.end - p.start) / 1000)).map((mk) => ({ label: mk.label, started_at: p.start + mk.atS * 1000 }));
  const stream = { ...liveStream(0, p.bigId, p.start), id: p.bigStreamId, slug: "an-big" };
  return {
    stream,
    broadcasts: {
      findBroadcast: (id: string) => (id === p.bigId ? { id, stream_id: p.bigStreamId, started_at: p.start, ended_at: p.end } : undefined),
      segmentsOf: (id: string) => (id === p.bigId ? marks.filter((mk) => mk.started_at <= now()) : []),
      findById: (id: string) => (id === p.bigStreamId ? stream : undefined),
    },
  };
}

// ---------------------------------------------------------------- part 2: the big broadcast

interface BuildResult {
  sim: SimResult;
  stored: number;
  flushFailures: number;
  flushes: FlushRecord[];
  threads: Array<[string, number]>;
  rows: Record<string, number>;
  duckdbMb: number;
}

async function buildBroadcast(m: Mods, opts: Options, p: Prepared): Promise<BuildResult> {
  const clock = simClock(p.start);
  const { stream, broadcasts } = bigBroadcasts(p, clock.now);
  const a = new m.analytics.Analytics({ dataDir: p.dataDir, clock, db: m.liveDb(), logger: m.silentLogger, windowMs: WINDOW_MS, flushMs: 1_000_000_000, broadcasts });
  a.start(() => 0);
  try {
    if (!(await a.ping())) throw new Error("analytics worker did not answer");
    const flushes = instrumentFlush(a);
    const plan: BroadcastPlan = {
      durationS: Math.round(opts.durationMin * 60), sessions: opts.sessions, viewers: opts.viewers, chats: opts.chats, reactions: opts.reactions,
      votes: opts.votes, meanStayS: Math.max(60, opts.durationMin * 60 * 0.17), flushEveryS: opts.simFlushS,
    };
    log(`big broadcast: ${int(plan.sessions)} sessions (${int(plan.viewers)} viewers), ${int(plan.chats)} chat, ${int(plan.reactions)} reactions, ${int(plan.votes)} votes over ${opts.durationMin} min (simulated), flushed every ${plan.flushEveryS} simulated s`);
    const th0 = threadCpuSeconds(process.pid);
    const sim = await simulateBroadcast(a, stream, plan, clock, p.start, {
      flush: () => a.flush(),
      end: () => a.streamChanged({ ...stream, status: "offline", current_broadcast_id: null, live_since: null }),
      progress: (s: number, r: SimResult) => {
        if (s % 1800 < opts.simFlushS) log(`  ${Math.round(s / 60)} min simulated: ${int(r.joins + r.leaves + r.chats + r.reactions + r.votes)} events, ${int(r.peakOpen)} peak open sessions`);
      },
    }, new Rng(2026));
    await drained(a, 300_000);
    const threads = threadCpuDiff(th0, threadCpuSeconds(process.pid));
    const r: BuildResult = { sim, stored: a.eventsFlushed, flushFailures: a.flushFailures, flushes: [...flushes], threads, rows: {}, duckdbMb: 0 };
    log(`big broadcast built in ${fmt(sim.wallMs / 1000, 1)} s: ${int(r.stored)} events stored, ${r.flushFailures} flush failures`);
    return r;
  } finally {
    await a.stop();
  }
}

async function duckdbCounts(dataDir: string): Promise<Record<string, number>> {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const inst = await DuckDBInstance.create(join(dataDir, "analytics.duckdb"), { threads: "1" });
  const c = await inst.connect();
  const out: Record<string, number> = {};
  try {
    for (const t of ["agg", "chatters", "sessions", "flushes"]) {
      const r = await c.runAndReadAll(`SELECT COUNT(*)::DOUBLE AS n FROM ${t}`);
      out[t] = Number((r.getRowObjectsJS()[0] as { n: number }).n);
    }
  } finally {
    c.closeSync();
    inst.closeSync();
  }
  return out;
}

interface Timed {
  name: string;
  firstMs: number;
  ms: number[];
  median: number;
  max: number;
  note: string;
}

interface QueryResult {
  report: Timed;
  series: Timed[];
  reportSummary: Record<string, unknown>;
  pieces: Array<{ name: string; ms: number }>;
  profile: Array<{ query: string; operators: string }>;
}

const SERIES: Array<{ name: string; q: Record<string, string> }> = [
  { name: "concurrent_viewers, 60 s buckets", q: { metric: "concurrent_viewers", bucket_s: "60" } },
  { name: "chat_messages, 60 s buckets, by country", q: { metric: "chat_messages", bucket_s: "60", group_by: "country" } },
  { name: "reactions, 10 s buckets", q: { metric: "reactions", bucket_s: "10" } },
  { name: "unique_chatters, 60 s buckets, segment Q&A", q: { metric: "unique_chatters", bucket_s: "60", segment: "Q&A" } },
  { name: "watch_time_s, 300 s buckets, by segment", q: { metric: "watch_time_s", bucket_s: "300", group_by: "segment" } },
];

/** A first (cold) run, then `runs` timed runs; a query slower than 10 s stops after 3. */
async function timeRuns(name: string, runs: number, fn: () => Promise<string>): Promise<Timed> {
  const t = performance.now();
  let note = await fn();
  const firstMs = performance.now() - t;
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    if (i >= 3 && median(ms) > 10_000) break;
    const s = performance.now();
    note = await fn();
    ms.push(performance.now() - s);
  }
  return { name, firstMs, ms, median: median(ms), max: maxOf(ms), note };
}

function seriesSqlOf(m: Mods, scope: { broadcastId: string; start: number; end: number; segments: Array<{ label: string; started_at: number }> }, q: Record<string, string>): Sql {
  return m.queries.seriesSql({
    ...scope, metric: q.metric as never, bucketMs: Number(q.bucket_s ?? WINDOW_MS / 1000) * 1000, from: scope.start, to: scope.end,
    country: q.country ?? null, segment: q.segment ?? null, groupBy: (q.group_by ?? null) as never,
    eventsTo: scope.end, // newer trees bound counted events separately; older ones ignore it
  });
}

async function queryBroadcast(m: Mods, opts: Options, p: Prepared): Promise<QueryResult> {
  const { broadcasts } = bigBroadcasts(p, () => p.end + 60_000);
  const a = new m.analytics.Analytics({ dataDir: p.dataDir, clock: { now: () => p.end + 60_000 }, db: m.liveDb(), logger: m.silentLogger, windowMs: WINDOW_MS, flushMs: FLUSH_MS, broadcasts });
  a.start(() => 0);
  let summary: Record<string, unknown> = {};
  let stopped = false;
  try {
    if (!(await a.ping())) throw new Error("analytics worker did not answer");
    log(`report: a first run, then ${opts.runs} timed runs`);
    const report = await timeRuns("Analytics.report(broadcastId)", opts.runs, async () => {
      const r = await a.report(p.bigId);
      if (!r.ok) throw new Error(`report refused: ${r.message}`);
      const v = r.value as Record<string, any>;
      summary = {
        peak_concurrent_viewers: v.peak_concurrent_viewers, average_concurrent_viewers: v.average_concurrent_viewers, unique_viewers: v.unique_viewers,
        total_watch_time_s: v.total_watch_time_s, messages: v.messages, unique_chatters: v.unique_chatters, reactions: v.reactions?.total,
        votes: Object.values(v.votes ?? {}).reduce((x: number, y) => x + Number(y), 0), retention_points: v.retention?.length, countries: v.by_country?.length,
        segments: (v.by_segment ?? []).map((s: Record<string, unknown>) => s.segment).join(", "), top_moment: v.top_moments?.[0]?.at,
      };
      return "";
    });
    log(`report: median ${fmt(report.median, 0)} ms, max ${fmt(report.max, 0)} ms (first ${fmt(report.firstMs, 0)} ms)`);
    const series: Timed[] = [];
    for (const s of SERIES) {
      const t = await timeRuns(s.name, opts.runs, async () => {
        const r = await a.series(p.bigId, s.q);
        if (!r.ok) throw new Error(`series ${s.name} refused: ${r.message} ${JSON.stringify(r.fields ?? {})}`);
        return `${int(r.value.rows.length)} rows`;
      });
      log(`series ${s.name}: median ${fmt(t.median, 0)} ms, max ${fmt(t.max, 0)} ms (${t.note})`);
      series.push(t);
    }
    await a.stop();
    stopped = true;

    // The report's SQL pieces one by one on the same file (threads=1, as the worker): which cost what.
    const scope = { broadcastId: p.bigId, start: p.start, end: p.end, segments: broadcasts.segmentsOf(p.bigId) };
    const pieces: Array<{ name: string; ms: number }> = [];
    const profile: Array<{ query: string; operators: string }> = [];
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const inst = await DuckDBInstance.create(join(p.dataDir, "analytics.duckdb"), { threads: "1" });
    const c = await inst.connect();
    try {
      // As the worker does: DuckDB refuses a named parameter the statement does not use.
      const used = (q: Sql): Record<string, string | number> => Object.fromEntries(Object.entries(q.params).filter(([k]) => new RegExp(`\\$${k}\\b`).test(q.sql)));
      const reportPieces = m.queries.reportSql(scope);
      for (const [name, q] of Object.entries(reportPieces)) {
        const s = performance.now();
        await c.runAndReadAll(q.sql, used(q));
        pieces.push({ name, ms: performance.now() - s });
      }
      // DuckDB's operator profile of the two slowest report pieces and of every series over target.
      const targets: Array<[string, Sql]> = [...pieces].sort((x, y) => y.ms - x.ms).slice(0, 2).map((x) => [`report piece "${x.name}"`, reportPieces[x.name]!]);
      for (const [k, s] of series.entries()) if (s.median >= TARGET_SERIES_MS) targets.push([`series ${s.name}`, seriesSqlOf(m, scope, SERIES[k]!.q)]);
      for (const [name, q] of targets) {
        const file = join(p.dataDir, `profile-${profile.length}.json`);
        await c.run("PRAGMA enable_profiling = 'json'");
        await c.run(`PRAGMA profiling_output = '${file}'`);
        await c.runAndReadAll(q.sql, used(q));
        await c.run("PRAGMA disable_profiling");
        profile.push({ query: name, operators: topOperators(file) });
      }
    } finally {
      c.closeSync();
      inst.closeSync();
    }
    return { report, series, reportSummary: summary, pieces, profile };
  } finally {
    if (!stopped) await a.stop();
  }
}

/** The most expensive operators of a DuckDB JSON profile: "NAME 123 ms (rows)". */
function topOperators(file: string): string {
  try {
    const root = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    const ops: Array<{ name: string; ms: number; rows: number }> = [];
    const walk = (n: Record<string, unknown>): void => {
      const name = String(n.operator_name ?? n.operator_type ?? "");
      const t = Number(n.operator_timing ?? 0);
      if (name && t > 0) ops.push({ name: name.trim(), ms: t * 1000, rows: Number(n.operator_cardinality ?? 0) });
      for (const ch of (n.children as Array<Record<string, unknown>> | undefined) ?? []) walk(ch);
    };
    walk(root);
    const total = Number(root.latency ?? 0) * 1000;
    return `${total > 0 ? `total ${fmt(total, 0)} ms; ` : ""}${ops.sort((x, y) => y.ms - x.ms).slice(0, 5).map((o) => `${o.name} ${fmt(o.ms, 0)} ms (${int(o.rows)} rows out)`).join(", ")}`;
  } catch (e) {
    return `(no profile: ${(e as Error).message})`;
  }
}

// ---------------------------------------------------------------- part 3: chat while a report runs

interface ChatWindow {
  cond: "base" | "query";
  windowS: number;
  sent: number;
  acked: number;
  delivered: number;
  expected: number;
  refused: number;
  refusals: Record<string, number>;
  delivery: Quantiles;
  deliveryHist: ChatReportReply["delivery"];
  ack: Quantiles;
  ackHist: ChatReportReply["ack"];
  reports: number;
  reportMs: number[];
  reportErrors: number;
  /** Time until each failed report request failed (ms) and its error. */
  reportFailMs: number[];
  reportError: string;
  serverCpuS: number;
  threads: Array<[string, number]>;
  generatorCpuS: number;
  /** This process (the report loop's HTTP client). */
  selfCpuS: number;
  /** Busy share of core 0 and core 1 in the window (irq included). */
  coreBusy: number[];
  otherCpuS: number;
  lagMaxMs: number;
}

interface ChatPlacement {
  serverCpu: string;
  joined: number;
  sockets: number;
  firstReportMs: number;
  firstReportError: string;
  windows: ChatWindow[];
  base: Quantiles;
  query: Quantiles;
  ratio: number;
  baseAck: Quantiles;
  queryAck: Quantiles;
  reportMs: number[];
  logLines: string[];
  /** Windows measured again because other processes were busy (not in the figures). */
  discarded: ChatWindow[];
  /** Median of the query windows' p99 over the median of the base windows' p99. */
  medianWindowRatio: number;
}

/** GET of Hubbub's JSON API with the admin key and a long client timeout (a report may take long;
 * bench-servers' hubbubApi gives up after 15 s). Throws on anything but 200. */
async function getReport(srv: BenchServer, path: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${srv.port}/api/v1${path}`, { headers: { authorization: `Bearer ${srv.adminKey}` }, signal: AbortSignal.timeout(180_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status} ${text.slice(0, 200)}`);
}

function errText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}${e.stack ? `\n${e.stack}` : ""}` : String(e);
}

async function serverMetric(srv: BenchServer, name: string): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${srv.port}/metrics`, { signal: AbortSignal.timeout(5000) });
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.e+-]+)`, "m").exec(await res.text());
    return m?.[1] !== undefined ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

async function chatUnderQuery(opts: Options, dir: string, p: Prepared, serverCpu: string, placement: number): Promise<ChatPlacement> {
  await waitForQuietMachine(opts.quietWait, log);
  log(`chat: starting Hubbub (taskset -c ${serverCpu}) on the pre-filled data folder`);
  const srv = await startHubbub(dir, opts, p.dataDir, serverCpu, `chat-${serverCpu.replace(/[^0-9]/g, "_")}`);
  let gen: LoadChild<ChatCommand> | null = null;
  try {
    const cfg: ChatClientConfig = {
      host: "127.0.0.1", port: srv.port, origin: `http://127.0.0.1:${srv.port}`, tokenSecret: srv.tokenSecret, heartbeatMs: 30_000,
      slugPrefix: chatPrefix(placement), streams: opts.chatStreams, viewersPerStream: opts.chatViewers,
    };
    gen = new LoadChild<ChatCommand>(join(import.meta.dir, "chat-load-client.ts"), opts.generatorCpu, "BENCH_CHAT_CONFIG", cfg);
    const g = gen;
    const sockets = opts.chatStreams * opts.chatViewers;
    const c = await g.request<ChatConnectReply>({ cmd: "connect", firstStream: 0, streamCount: opts.chatStreams, concurrency: 100, timeoutMs: 120_000 }, 160_000);
    log(`chat: ${c.joined}/${sockets} joined in ${fmt(c.elapsedMs / 1000, 1)} s`);
    if (c.joined === 0) throw new Error(`no viewer joined: ${JSON.stringify(c.errors)}`);
    const periodMs = (sockets / opts.chatRate) * 1000;
    const reportPath = `/broadcasts/${p.bigId}/report`;
    // One report first, alone: the server's first one reads the file cold.
    const r0 = performance.now();
    let firstReportError = "";
    try {
      await getReport(srv, reportPath);
    } catch (e) {
      firstReportError = errText(e).split("\n")[0]!.slice(0, 160);
    }
    const firstReportMs = performance.now() - r0;
    log(`chat: first report over HTTP, alone: ${firstReportError ? `FAILED after ${fmt(firstReportMs, 0)} ms (${firstReportError})` : `${fmt(firstReportMs, 0)} ms`}`);
    await quiesce([srv.pid], log, 60); // a cut request's query still runs in the worker
    const stats = (): Promise<ChatStatsReply> => g.request<ChatStatsReply>({ cmd: "stats" }, 10_000);
    const runChat = (phase: "warm" | "measure", seconds: number): Promise<ChatRunReply> =>
      g.request<ChatRunReply>({ cmd: "run", phase, durationMs: seconds * 1000, periodMs, bodyBytes: 64, sampleEvery: 1 }, seconds * 1000 + 90_000);
    const drain = async (): Promise<void> => {
      const until = performance.now() + 30_000;
      let last = "";
      let lastChange = performance.now();
      while (performance.now() < until && performance.now() - lastChange < 5000) {
        const s = await stats();
        if (s.pendingAcks === 0 && s.delivered >= s.expected) return;
        const key = `${s.pendingAcks}/${s.delivered}`;
        if (key !== last) lastChange = performance.now();
        last = key;
        await Bun.sleep(100);
      }
    };
    log("chat: warm-up 8 s");
    await runChat("warm", 8);
    await drain();
    await quiesce([srv.pid], log, 15);

    const windows: ChatWindow[] = [];
    const order: Array<"base" | "query"> = [];
    for (let k = 0; k < opts.pairs; k++) order.push(...(k % 2 === 0 ? (["base", "query"] as const) : (["query", "base"] as const)));
    const measureWindow = async (cond: "base" | "query"): Promise<ChatWindow> => {
      let stop = cond !== "query";
      const reportMs: number[] = [];
      let reportErrors = 0;
      const reportFailMs: number[] = [];
      let reportError = "";
      const loop = (async () => {
        while (!stop) {
          const s = performance.now();
          try {
            await getReport(srv, reportPath);
            reportMs.push(performance.now() - s);
          } catch (e) {
            reportErrors++;
            reportFailMs.push(performance.now() - s);
            reportError = errText(e).split("\n")[0]!.slice(0, 120);
          }
        }
      })();
      if (cond === "query") await Bun.sleep(200); // the first report is inside DuckDB when the window opens
      const m0 = machineBusySeconds();
      const me0 = cpuTimes(process.pid);
      const cores0 = [coreBusySeconds(0), coreBusySeconds(1)];
      const s0 = cpuTimes(srv.pid);
      const g0 = cpuTimes(g.pid);
      const th0 = threadCpuSeconds(srv.pid);
      const t0 = performance.now();
      await runChat("measure", opts.windowS);
      const windowS = (performance.now() - t0) / 1000;
      const s1 = cpuTimes(srv.pid);
      const g1 = cpuTimes(g.pid);
      const me1 = cpuTimes(process.pid);
      const th1 = threadCpuSeconds(srv.pid);
      const coreBusy = [coreBusySeconds(0) - cores0[0]!, coreBusySeconds(1) - cores0[1]!].map((b) => b / windowS);
      const serverCpuS = s1.user + s1.sys - s0.user - s0.sys;
      const generatorCpuS = g1.user + g1.sys - g0.user - g0.sys;
      const selfCpuS = me1.user + me1.sys - me0.user - me0.sys;
      const otherCpuS = Math.max(0, machineBusySeconds() - m0 - serverCpuS - generatorCpuS - selfCpuS);
      await drain();
      stop = true;
      await loop; // the report in flight finishes before the next window
      const lagMaxMs = (await serverMetric(srv, "hubbub_event_loop_lag_seconds")) * 1000;
      const rep = await g.request<ChatReportReply>({ cmd: "report" }, 10_000);
      const w: ChatWindow = {
        cond, windowS, sent: rep.sent, acked: rep.acked, delivered: rep.delivered, expected: rep.expected, refused: rep.refused + rep.otherReplies, refusals: { ...rep.refusals, ...(rep.pendingAcks ? { "no reply": rep.pendingAcks } : {}) },
        delivery: quantiles([rep.delivery]), deliveryHist: rep.delivery, ack: quantiles([rep.ack]), ackHist: rep.ack, reports: reportMs.length, reportMs, reportErrors, reportFailMs, reportError,
        serverCpuS, threads: threadCpuDiff(th0, th1), generatorCpuS, selfCpuS, coreBusy, otherCpuS, lagMaxMs,
      };
      log(`chat ${cond}: ${w.acked}/${w.sent} acked, ${w.delivered}/${w.expected} delivered, delivery p50 ${fmt(w.delivery.p50)} / p99 ${fmt(w.delivery.p99)} ms; ` +
        `${w.reports} reports (median ${fmt(median(reportMs), 0)} ms); server ${fmt(serverCpuS, 1)} s CPU; cores ${w.coreBusy.map((b) => `${Math.round(b * 100)}%`).join("/")}; other processes ${fmt(otherCpuS, 1)} s`);
      // Nothing of this window may run into the next: the worker finishes a report even when its
      // HTTP request was cut, and a request may have queued behind it.
      await quiesce([srv.pid], log, 60);
      return w;
    };
    // Other processes' work distorts latency: a window during which they used more than a tenth
    // of a core is measured again (at most `pairs` times per placement); the quietest attempt counts.
    let retries = opts.pairs;
    const discarded: ChatWindow[] = [];
    const noise = (w: ChatWindow): number => w.otherCpuS / w.windowS;
    for (const cond of order) {
      await waitForQuietMachine(Math.min(opts.quietWait, 20), log);
      let w = await measureWindow(cond);
      while (noise(w) > NOISY && retries > 0) {
        retries--;
        log(`chat ${cond}: other processes used ${Math.round(noise(w) * 100)}% of a core in the window: measuring it again`);
        await waitForQuietMachine(Math.min(opts.quietWait, 30), log);
        const again = await measureWindow(cond);
        const [keep, drop] = noise(again) <= noise(w) ? [again, w] : [w, again];
        discarded.push(drop);
        w = keep;
      }
      windows.push(w);
    }
    const pool = (cond: "base" | "query", pick: (w: ChatWindow) => ChatReportReply["delivery"]): Quantiles => quantiles(windows.filter((w) => w.cond === cond).map(pick));
    const base = pool("base", (w) => w.deliveryHist);
    const query = pool("query", (w) => w.deliveryHist);
    return {
      serverCpu, joined: c.joined, sockets, firstReportMs, firstReportError, windows, base, query, ratio: query.p99 / base.p99,
      baseAck: pool("base", (w) => w.ackHist), queryAck: pool("query", (w) => w.ackHist),
      reportMs: windows.flatMap((w) => w.reportMs), logLines: interestingLogLines(srv.logPath), discarded,
      medianWindowRatio: median(windows.filter((w) => w.cond === "query").map((w) => w.delivery.p99)) / median(windows.filter((w) => w.cond === "base").map((w) => w.delivery.p99)),
    };
  } finally {
    await gen?.stop();
    await srv.stop();
  }
}

// ---------------------------------------------------------------- report

function renderIngest(rs: IngestResult[]): string {
  const head = `| measurement | ${rs.map((r) => `${int(r.openAtStart)} open sessions`).join(" | ")} | target | met |`;
  const sep = `|---|${rs.map(() => "---").join("|")}|---|---|`;
  const row = (label: string, cell: (r: IngestResult) => string, target = "", met = ""): string => `| ${label} | ${rs.map(cell).join(" | ")} | ${target} | ${met} |`;
  const fl = (r: IngestResult) => r.flushes;
  const first = rs[0]!;
  return [
    head,
    sep,
    row("**events stored per second, end to end** (stored / time from the first event until the last is stored)", (r) => `**${int(r.eventsPerS)}/s** (${int(r.stored)} in ${fmt(r.endToEndS, 1)} s)`, `>= ${int(TARGET_INGEST)}/s (judged on the first column)`, yes(first.eventsPerS >= TARGET_INGEST)),
    row("events captured (Analytics calls) while driving; capture rate", (r) => `${int(r.captured)} in ${fmt(r.seconds, 1)} s; ${int(r.captureRate)}/s`),
    row("stored by the end of the drive / pending then / the last stored after", (r) => `${int(r.storedDuringDrive)} / ${int(r.pendingAtDriveEnd)} / ${fmt(r.finalDrainS, 1)} s`),
    row("main-thread time per event: capture calls + flush() (drain + postMessage), generator removed", (r) => `${fmt(r.mainNsPerEvent / 1000, 2)} µs (= ${int(1e9 / r.mainNsPerEvent)} events/s on a whole core)`, "", "info"),
    row("main-thread CPU per event (everything: calls, flushes, GC), generator removed", (r) => `${fmt(r.mainCpuNsPerEvent / 1000, 2)} µs`),
    row("generator alone (no-op sink), per event", (r) => `${fmt(r.generatorNsPerEvent / 1000, 3)} µs`),
    row("flushes; rows per flush agg / chatters / sessions (median)", (r) => `${fl(r).length}; ${int(median(fl(r).map((f) => f.agg)))} / ${int(median(fl(r).map((f) => f.chatters)))} / ${int(median(fl(r).map((f) => f.sessions)))}`),
    row("flush() on the main thread (drain + postMessage): median / max ms (the socket thread is blocked that long)", (r) => `${fmt(median(fl(r).map((f) => f.syncMs)), 0)} / ${fmt(maxOf(fl(r).map((f) => f.syncMs)), 0)}`),
    row("flush() call until stored by the worker: median / max ms (flush interval 5,000)", (r) => `${fmt(median(fl(r).map((f) => f.storedMs)), 0)} / ${fmt(maxOf(fl(r).map((f) => f.storedMs)), 0)}`),
    row("flush failures", (r) => String(r.flushFailures), "0", yes(rs.every((r) => r.flushFailures === 0))),
  ].join("\n");
}

function renderQueries(q: QueryResult): string {
  const rows = [
    "| query | median ms | max ms | first (cold) ms | timed runs | target | met |",
    "|---|---:|---:|---:|---:|---|---|",
    `| **${q.report.name}** | **${fmt(q.report.median, 0)}** | ${fmt(q.report.max, 0)} | ${fmt(q.report.firstMs, 0)} | ${q.report.ms.length} | < ${TARGET_REPORT_MS} ms | ${yes(q.report.max < TARGET_REPORT_MS)} |`,
    ...q.series.map((s) => `| series: ${s.name} (${s.note}) | ${fmt(s.median, 0)} | ${fmt(s.max, 0)} | ${fmt(s.firstMs, 0)} | ${s.ms.length} | < ${TARGET_SERIES_MS} ms | ${yes(s.max < TARGET_SERIES_MS)} |`),
  ];
  return rows.join("\n");
}

function renderChat(ps: ChatPlacement[]): string {
  const rows = [
    "| server placement | delivery p50 / p99 / max ms, without (windows pooled) | with the report loop (windows pooled) | **p99 ratio** (pooled) | median of per-window p99, ratio | target | met | ack p99 without / with | report requests in the query windows: completed (median ms) / failed |",
    "|---|---|---|---:|---:|---|---|---|---|",
    ...ps.map((p) =>
      `| taskset -c ${p.serverCpu} | ${fmt(p.base.p50)} / ${fmt(p.base.p99)} / ${fmt(p.base.max)} (${int(p.base.samples)} timed) | ${fmt(p.query.p50)} / ${fmt(p.query.p99)} / ${fmt(p.query.max)} (${int(p.query.samples)}) | **${fmt(p.ratio, 2)}x** | ${fmt(p.medianWindowRatio, 2)}x | <= ${TARGET_CHAT_RATIO}x | ${yes(p.ratio <= TARGET_CHAT_RATIO && p.medianWindowRatio <= TARGET_CHAT_RATIO)} (both) | ${fmt(p.baseAck.p99)} / ${fmt(p.queryAck.p99)} | ${p.reportMs.length} (${fmt(median(p.reportMs), 0)}) / ${p.windows.reduce((n, w) => n + w.reportErrors, 0)} |`),
  ];
  const per: string[] = [];
  for (const p of ps) {
    for (const w of [...p.windows, ...p.discarded]) {
      per.push(`| ${p.serverCpu} | ${w.cond}${p.discarded.includes(w) ? " (discarded: noisy)" : ""} | ${int(w.acked)}/${int(w.sent)}${Object.keys(w.refusals).length ? ` (${JSON.stringify(w.refusals)})` : ""} | ${int(w.delivered)}/${int(w.expected)} | ${fmt(w.delivery.p50)} / ${fmt(w.delivery.p99)} / ${fmt(w.delivery.max)} | ${fmt(w.ack.p50)} / ${fmt(w.ack.p99)} | ${w.reports}${w.reportErrors ? ` (${w.reportErrors} failed after ${w.reportFailMs.map((x) => fmt(x / 1000, 1)).join(", ")} s: ${w.reportError})` : ""} | ${fmt(w.serverCpuS, 1)} s: ${threadText(w.threads, w.windowS)} | ${w.coreBusy.map((b) => `${Math.round(b * 100)}%`).join(" / ")} | ${fmt(w.generatorCpuS, 1)} / ${fmt(w.selfCpuS, 1)} / ${fmt(w.otherCpuS, 1)} | ${fmt(w.lagMaxMs, 0)} |`);
    }
  }
  return [
    rows.join("\n"),
    "",
    "Per window:",
    "",
    "| cpus | window | acked/sent | delivered/expected | delivery p50 / p99 / max ms | ack p50 / p99 ms | reports | server CPU: by thread (% of the window) | core 0 / core 1 busy | CPU s of generator / report client / other processes | server event-loop lag, worst 5 s, ms |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...per,
  ].join("\n");
}

function header(opts: Options): string {
  const mi = machineInfo();
  return [
    `# Hubbub analytics benchmark (${new Date().toISOString()})`,
    "",
    `Machine: ${mi.nproc} cores, ${mi.cpuModel}, ${mi.ramGiB} GiB RAM, Linux ${mi.kernel}, Bun ${mi.bun}`,
    `Command: bun bench/analytics.ts ${process.argv.slice(2).join(" ")}`.trimEnd(),
    `Hubbub code: ${codeIdentity(opts.hubbubRoot)}.`,
    `Analytics config: window ${WINDOW_MS / 1000} s, flush every ${FLUSH_MS / 1000} s (the defaults); the analytics worker opens DuckDB with threads=1.`,
  ].join("\n");
}

// ---------------------------------------------------------------- main

const WATCHDOG_MS = 30 * 60_000;

async function main(opts: Options): Promise<number> {
  const started = performance.now();
  const m = await loadModules(opts.hubbubRoot);
  const dir = tempDir("hubbub-analytics-bench-");
  console.log(header(opts));
  console.log("");
  const failures: string[] = [];
  const ingest: IngestResult[] = [];
  let build: BuildResult | null = null;
  let queries: QueryResult | null = null;
  const chat: ChatPlacement[] = [];
  try {
    if (opts.only.includes("ingest")) {
      for (const [k, open] of opts.ingestOpen.entries()) {
        try {
          await waitForQuietMachine(opts.quietWait, log);
          ingest.push(await runIngest(m, opts, dir, open, k === 0));
        } catch (e) {
          failures.push(`ingest (${open} open sessions): ${errText(e)}`);
        }
      }
    }
    if (opts.only.includes("report") || opts.only.includes("chat")) {
      let prepared: Prepared | null = null;
      try {
        prepared = await prepare(opts, dir);
        await waitForQuietMachine(opts.quietWait, log);
        build = await buildBroadcast(m, opts, prepared);
        build.rows = await duckdbCounts(prepared.dataDir);
        build.duckdbMb = statSync(join(prepared.dataDir, "analytics.duckdb")).size / 1048576;
      } catch (e) {
        failures.push(`building the big broadcast: ${errText(e)}`);
        prepared = null;
      }
      if (prepared !== null && opts.only.includes("report")) {
        try {
          await waitForQuietMachine(opts.quietWait, log);
          queries = await queryBroadcast(m, opts, prepared);
        } catch (e) {
          failures.push(`report queries: ${errText(e)}`);
        }
      }
      if (prepared !== null && opts.only.includes("chat")) {
        for (const [k, cpu] of opts.serverCpus.entries()) {
          try {
            chat.push(await chatUnderQuery(opts, dir, prepared, cpu, k));
          } catch (e) {
            failures.push(`chat (server on ${cpu}): ${errText(e)}`);
          }
        }
      }
    }
  } finally {
    if (opts.keepTmp) log(`temp dir kept: ${dir}`);
    removeDir(dir);
  }

  if (ingest.length > 0) {
    const i0 = ingest[0]!;
    console.log("## 1. Ingest: max-speed synthetic events through Analytics into DuckDB");
    console.log("");
    console.log(
      "The real Analytics class in-process (main thread: capture calls, Collector, flush timer; the analytics worker thread: DuckDB appends), " +
        `${i0.streams} live streams, ${int(i0.viewers)} viewers with IPs from 4,096 public addresses (a geo lookup per join); ` +
        `mix ${Object.entries(MIX_SHARE).map(([k, v]) => `${k} ${Math.round(v * 100)}%`).join(", ")}; the segment of one stream changes every 65,536 events; ` +
        `driven for ${opts.ingestS} s in chunks of 8,192 events with a yield to the event loop between chunks, then one last flush; not pinned (both cores). ` +
        `Events by kind (first column): ${JSON.stringify(i0.mix)}.`,
    );
    console.log("");
    console.log(renderIngest(ingest));
    console.log("");
    console.log(`Per call on the main thread (one stream, 5,000 viewers, warm): ${Object.entries(i0.micro).map(([k, v]) => `${k} ${fmt(v, 2)} µs`).join("; ")}.`);
    if (i0.bytesPerViewer !== null) console.log(`Memory a live broadcast keeps per distinct signed-in viewer (${int(MEM_VIEWERS)} viewers joined and left, heap after a full GC): ${int(i0.bytesPerViewer)} bytes.`);
    for (const r of ingest) {
      console.log(`- ${int(r.openAtStart)} open sessions: CPU by thread over the run (drive + last flush, ${fmt(r.endToEndS, 1)} s): ${threadText(r.threads, r.endToEndS)}.`);
      console.log(`  Flushes (rows agg/chatters/sessions; main-thread ms; stored after ms): ${r.flushes.map((f) => `${int(f.agg)}/${int(f.chatters)}/${int(f.sessions)}; ${fmt(f.syncMs, 0)}; ${fmt(f.storedMs, 0)}`).join(" | ")}.`);
    }
    console.log("");
  }
  if (build !== null) {
    const s = build.sim;
    console.log("## 2. Report latency on a broadcast of ~10 million events");
    console.log("");
    console.log(
      `Generated through the same path (the real Analytics class and worker on a simulated clock, a flush every ${opts.simFlushS} simulated s = ${s.flushes} flushes instead of one every 5 s; the collector sends sessions as it does live): ` +
        `${int(s.joins)} sessions (joins), ${int(s.leaves)} leaves (the rest end with the broadcast), ${int(s.chats)} chat messages, ${int(s.reactions)} reactions, ${int(s.votes)} votes over ${opts.durationMin} simulated minutes; ` +
        `peak ${int(s.peakOpen)} open sessions. Capture calls ${int(s.joins + s.leaves + s.chats + s.reactions + s.votes)}; events stored (Analytics.eventsFlushed, session ends included) ${int(build.stored)}; flush failures ${build.flushFailures}. ` +
        `Built in ${fmt(s.wallMs / 1000, 1)} s (main thread driving ${fmt(s.driveMs / 1000, 1)} s, waiting on the worker ${fmt(s.flushWaitMs / 1000, 1)} s). ` +
        `DuckDB file ${fmt(build.duckdbMb, 0)} MB; rows: ${Object.entries(build.rows).map(([k, v]) => `${k} ${int(v)}`).join(", ")}.`,
    );
    console.log(`Flushes while building (rows agg/chatters/sessions; main-thread ms; stored after ms): ${build.flushes.map((f) => `${int(f.agg)}/${int(f.chatters)}/${int(f.sessions)}; ${fmt(f.syncMs, 0)}; ${fmt(f.storedMs, 0)}`).join(" | ")}.`);
    console.log(`CPU by thread while building: ${threadText(build.threads, s.wallMs / 1000)}.`);
    console.log("");
  }
  if (queries !== null) {
    console.log(renderQueries(queries));
    console.log("");
    console.log(`Report contents (sanity): ${JSON.stringify(queries.reportSummary)}.`);
    console.log(`The report's SQL pieces run one by one on the same file (threads=1, once each, ms): ${queries.pieces.map((x) => `${x.name} ${fmt(x.ms, 0)}`).join(", ")}.`);
    for (const pr of queries.profile) console.log(`- DuckDB profile of ${pr.query}: ${pr.operators}.`);
    console.log("");
  }
  if (chat.length > 0) {
    console.log(`## 3. Chat delivery while the report runs (${opts.chatStreams} streams x ${opts.chatViewers} signed-in viewers, ${opts.chatRate} msg/s, every delivery timed)`);
    console.log("");
    console.log(
      `A real Hubbub server on the data folder holding the big broadcast; the chat streams are live (analytics captures the chat too); the generator (bench/chat-load-client.ts) on taskset -c ${opts.generatorCpu}; ` +
        `${opts.pairs * 2} windows of ${opts.windowS} s per placement, alternating without / with a back-to-back loop of GET /api/v1/broadcasts/:id/report (one in flight, from this process), ABBA order; p99 pooled over the windows of each kind. ` +
        `Hubbub env: ${Object.entries(HUBBUB_FIXED_ENV).map(([k, v]) => `${k}=${v}`).join(" ")}; chat streams created with ${JSON.stringify(CHAT_SETTINGS)}. ` +
        `First report over HTTP, alone: ${chat.map((p) => `${p.firstReportError ? `FAILED after ${fmt(p.firstReportMs, 0)} ms (${p.firstReportError})` : `${fmt(p.firstReportMs, 0)} ms`} (cpus ${p.serverCpu})`).join(", ")}.`,
    );
    console.log("");
    console.log(renderChat(chat));
    console.log("");
    for (const p of chat) {
      if (p.logLines.length > 0) console.log(`Server log (taskset -c ${p.serverCpu}), first lines: ${p.logLines.slice(0, 5).map((l) => `\`${l.slice(0, 200)}\``).join(" ")}`);
    }
  }
  for (const f of failures) console.log(`- FAILED: ${f.split("\n").slice(0, 4).join(" | ")}`);
  console.log("");
  console.log(`Run took ${fmt((performance.now() - started) / 1000, 0)} s.`);
  if (opts.json !== null) writeFileSync(opts.json, `${JSON.stringify({ options: opts, machine: machineInfo(), ingest, build, queries, chat, failures }, null, 2)}\n`);
  return failures.length > 0 ? 1 : 0;
}

runMain("analytics", WATCHDOG_MS, USAGE, parseOptions, main);
