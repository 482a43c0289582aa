// Chat benchmark (issue 3, "Speed"): S streams x V joined, signed-in viewers (one socket each),
// every viewer sending one chat message per period (3 s), spread evenly. Measures, for Hubbub and
// for a raw Bun echo server speaking the same Phoenix V2 frames (bench/chat-echo-server.ts) in the
// same run: acknowledgement latency (push sent -> `published` reply), delivery latency (send time
// in the body -> `chat:new` received, timed on a sample of receivers), every delivery counted and
// checked on every socket, server and generator CPU from /proc.
//
// Servers are pinned with `taskset -c 0`, generators (bench/chat-load-client.ts) with `taskset -c 1`.
//   node_modules/.bin/bun bench/chat.ts                 full size (100 x 100, 20 s measured)
//   node_modules/.bin/bun bench/chat.ts --quick         10 x 20 viewers, 5 s: a smoke run
//   node_modules/.bin/bun bench/chat.ts --help          all flags

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createStreams, startBenchServer, type BenchServer, type Kind } from "./lib/bench-servers.ts";
import { LoadChild } from "./lib/child.ts";
import { shares } from "./lib/generators.ts";
import { removeDir, runMain, tempDir } from "./lib/cleanup.ts";
import {
  checkFlags, flagReader, numberFlags, fmt, int, interestingLogLines, makeLog, mergeCounts, pct, quantiles, quiesce, sum,
  waitForQuietMachine, yes, type Quantiles,
} from "./lib/harness.ts";
import { cpuTimes, machineBusySeconds, machineInfo, rssKb } from "./lib/proc.ts";
import { HUBBUB_FIXED_ENV, hubbubSnapshot, REPO_ROOT } from "./lib/servers.ts";
import type {
  ChatClientConfig,
  ChatCommand,
  ChatConnectReply,
  ChatReportReply,
  ChatRunReply,
  ChatStatsReply,
} from "./chat-load-client.ts";

// ---------------------------------------------------------------- options

interface Options {
  servers: Kind[];
  streams: number;
  viewers: number;
  periodS: number;
  warmupS: number;
  durationS: number;
  bodyBytes: number;
  sampleEvery: number;
  generators: number;
  concurrency: number;
  repeat: number;
  quietWait: number;
  json: string | null;
  profileDir: string | null;
  hubbubRoot: string;
  keepTmp: boolean;
  serverCpu: string;
  generatorCpu: string;
}

const USAGE = `Usage: node_modules/.bin/bun bench/chat.ts [flags]   (each flag also reads env BENCH_CHAT_<NAME>)
  --quick                 smoke-test sizes: --streams=10 --viewers=20 --warmup=2 --duration=5
                          --sample-every=5 --concurrency=50 --quiet-wait=0 (other flags still apply)
  --servers=raw,hubbub    servers, in this order (one or both)
  --streams=100           streams
  --viewers=100           signed-in viewers joined per stream, one socket each
  --period=3              seconds between two messages of one viewer
  --warmup=5              seconds of chat before the measured window (not counted)
  --duration=20           measured seconds
  --body-bytes=64         chat body length (30..500)
  --sample-every=10       time deliveries on every k-th viewer of each stream (all are counted)
  --generators=1          generator processes (each holds whole streams, < 19,000 sockets)
  --concurrency=200       in-flight connect+join attempts during the join phase
  --repeat=1              runs per server, interleaved (raw hubbub raw hubbub ...)
  --quiet-wait=300        max seconds to wait for other processes to go quiet before each side
  --json=PATH             also write the raw results as JSON
  --hubbub-root=DIR       run Hubbub from another checkout (A/B a change; default: this repository)
  --profile=DIR           run Hubbub under Bun's sampling profiler (--cpu-prof-md) and write the
                          markdown profile into DIR (whole process life; skews the numbers a little)
  --keep-tmp              keep the temp dir (server logs, hubbub data)
  --server-cpu=0 --generator-cpu=1`;

const KNOWN = new Set([
  "quick", "servers", "streams", "viewers", "period", "warmup", "duration", "body-bytes", "sample-every", "generators",
  "concurrency", "repeat", "quiet-wait", "json", "profile", "hubbub-root", "keep-tmp", "server-cpu", "generator-cpu", "help",
]);

function parseOptions(argv: string[]): Options {
  checkFlags(argv, KNOWN, USAGE);
  const flag = flagReader(argv, "BENCH_CHAT_");
  const quick = flag("quick") !== undefined && flag("quick") !== "0";
  const num = numberFlags(flag, quick);
  const serversRaw = (flag("servers") ?? "raw,hubbub").split(",").map((s: string) => s.trim()).filter((s: string) => s !== "");
  for (const s of serversRaw) if (s !== "raw" && s !== "hubbub") throw new Error(`--servers: unknown "${s}" (raw, hubbub)`);
  if (serversRaw.length < 1 || serversRaw.length > 2) throw new Error("--servers takes one or two servers");
  const o: Options = {
    servers: serversRaw as Kind[],
    streams: Math.round(num("streams", 100, 10, 1, 1000)),
    viewers: Math.round(num("viewers", 100, 20, 1, 10_000)),
    periodS: num("period", 3, 3, 0.05, 600),
    warmupS: num("warmup", 5, 2, 0, 600),
    durationS: num("duration", 20, 5, 1, 600),
    bodyBytes: Math.round(num("body-bytes", 64, 64, 30, 500)),
    sampleEvery: Math.round(num("sample-every", 10, 5, 1, 10_000)),
    generators: Math.round(num("generators", 1, 1, 1, 8)),
    concurrency: Math.round(num("concurrency", 200, 50, 1, 5000)),
    repeat: Math.round(num("repeat", 1, 1, 1, 10)),
    quietWait: num("quiet-wait", 300, 0, 0, 3600),
    json: flag("json") ?? null,
    profileDir: flag("profile") ?? null,
    hubbubRoot: flag("hubbub-root") ?? REPO_ROOT,
    keepTmp: flag("keep-tmp") !== undefined && flag("keep-tmp") !== "0",
    serverCpu: flag("server-cpu") ?? "0",
    generatorCpu: flag("generator-cpu") ?? "1",
  };
  if (o.generators > o.streams) throw new Error("--generators: at most one per stream");
  if (!existsSync(join(o.hubbubRoot, "src", "cli.ts"))) throw new Error(`--hubbub-root: no src/cli.ts in ${o.hubbubRoot}`);
  const perGen = Math.ceil(o.streams / o.generators) * o.viewers;
  if (perGen >= 19_000) throw new Error(`${perGen} sockets per generator: use more --generators (each < 19,000)`);
  if (o.streams * o.viewers >= 19_900) throw new Error("a server process holds at most ~19,900 sockets on this machine");
  return o;
}

// ---------------------------------------------------------------- helpers

const log = makeLog("chat");

/** Bytes a process caused to be written to storage (/proc/<pid>/io write_bytes): SQLite's WAL,
 * checkpoints and logs. Socket writes are not in it. */
function diskWriteBytes(pid: number): number {
  try {
    const m = /^write_bytes:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
    return m?.[1] !== undefined ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Hubbub's group-commit counters from /metrics (Prometheus text), or null for the raw server. */
async function groupCommits(port: number): Promise<{ commits: number; writes: number } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const pick = (name: string): number => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.e+]+)`, "m").exec(text);
      return m?.[1] !== undefined ? Number(m[1]) : NaN;
    };
    const commits = pick("hubbub_sqlite_group_commits_total");
    const writes = pick("hubbub_sqlite_group_commit_writes_total");
    return Number.isFinite(commits) && Number.isFinite(writes) ? { commits, writes } : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- servers

const SLUG_PREFIX = "chat-";
const slugOf = (s: number): string => `${SLUG_PREFIX}${String(s).padStart(3, "0")}`;

/** What the benchmark changes on every Hubbub stream it creates (printed with the results). */
const STREAM_SETTINGS = { rate_limit: { messages: 10000, per_s: 1 }, link_policy: "allow", presence_list_max: 1000 };

function startServer(kind: Kind, dir: string, opts: Options): Promise<BenchServer> {
  return startBenchServer(kind, dir, opts.serverCpu, {
    rawScript: join(REPO_ROOT, "bench", "chat-echo-server.ts"),
    rawSecretEnv: "CHAT_ECHO_TOKEN_SECRET",
    rawBanner: "Chat echo listening on",
    hubbubRoot: opts.hubbubRoot,
    profileDir: kind === "hubbub" ? opts.profileDir : null,
    setup: (srv: BenchServer) =>
      srv.kind === "hubbub" ? createStreams(srv, Array.from({ length: opts.streams }, (_, s: number) => slugOf(s)), "Chat bench", STREAM_SETTINGS) : Promise.resolve(),
  });
}

// ---------------------------------------------------------------- generators

type ChatGenerator = LoadChild<ChatCommand>;
const newGenerator = (cpu: string, cfg: ChatClientConfig): ChatGenerator =>
  new LoadChild<ChatCommand>(join(import.meta.dir, "chat-load-client.ts"), cpu, "BENCH_CHAT_CONFIG", cfg);

// ---------------------------------------------------------------- one side

interface SideResult {
  kind: Kind;
  rep: number;
  sockets: number;
  joined: number;
  joinFailed: number;
  joinErrors: Record<string, number>;
  joinS: number;
  live: number;
  sent: number;
  acked: number;
  refused: number;
  refusals: Record<string, number>;
  noReply: number;
  expected: number;
  delivered: number;
  socketsShort: number;
  socketsOver: number;
  socketsWrongSet: number;
  disorder: number;
  seqGaps: number;
  closed: number;
  closeReasons: Record<string, number>;
  frames: Record<string, number>;
  ack: Quantiles;
  delivery: Quantiles;
  windowS: number;
  serverUserS: number;
  serverSysS: number;
  serverCpuS: number;
  generatorCpuS: number;
  generatorUserS: number;
  generatorSysS: number;
  otherCpuS: number;
  maxLagMs: number;
  lagP99Ms: number;
  drainS: number;
  serverRssMb: number;
  serverDiskMb: number;
  /** Hubbub's SQLite group commits and the writes they carried, in the window. */
  commits: { commits: number; writes: number } | null;
  serverLogLines: string[];
  quietWaitS: number;
}

async function runSide(kind: Kind, rep: number, opts: Options, dir: string): Promise<SideResult> {
  const quietWaitS = await waitForQuietMachine(opts.quietWait, log);
  const sockets = opts.streams * opts.viewers;
  log(`${kind}: starting the server (taskset -c ${opts.serverCpu})`);
  const srv = await startServer(kind, dir, opts);
  const gens: ChatGenerator[] = [];
  try {
    const cfg: ChatClientConfig = {
      host: "127.0.0.1",
      port: srv.port,
      origin: `http://127.0.0.1:${srv.port}`,
      tokenSecret: srv.tokenSecret,
      heartbeatMs: 30_000,
      slugPrefix: SLUG_PREFIX,
      streams: opts.streams,
      viewersPerStream: opts.viewers,
    };
    const parts = shares(opts.streams, opts.generators); // whole streams per generator: [firstStream, streamCount]
    for (let k = 0; k < opts.generators; k++) gens.push(newGenerator(opts.generatorCpu, cfg));

    // 1. Join every viewer.
    log(`${kind}: connecting ${sockets} signed-in viewers (${opts.streams} streams x ${opts.viewers}) with ${gens.length} generator(s)`);
    const connects = await Promise.all(
      gens.map((g: ChatGenerator, k: number) => {
        const [firstStream, streamCount] = parts[k] ?? [0, 0];
        const timeoutMs = 120_000 + streamCount * opts.viewers * 10;
        return g.request<ChatConnectReply>(
          { cmd: "connect", firstStream, streamCount, concurrency: Math.max(1, Math.round(opts.concurrency / gens.length)), timeoutMs },
          timeoutMs + 40_000,
        );
      }),
    );
    const joined = sum(connects.map((c: ChatConnectReply) => c.joined));
    const joinErrors: Record<string, number> = {};
    for (const c of connects) mergeCounts(joinErrors, c.errors);
    const joinS = Math.max(...connects.map((c: ChatConnectReply) => c.elapsedMs)) / 1000;
    log(`${kind}: ${joined}/${sockets} joined in ${joinS.toFixed(1)} s${joined < sockets ? ` (failures: ${JSON.stringify(joinErrors)})` : ""}`);
    if (joined === 0) throw new Error(`no viewer joined: ${JSON.stringify(joinErrors)}`);
    await quiesce([srv.pid], log);

    const periodMs = opts.periodS * 1000;
    const runCmd = (phase: "warm" | "measure", seconds: number): Promise<ChatRunReply[]> =>
      Promise.all(
        gens.map((g: ChatGenerator) =>
          g.request<ChatRunReply>(
            { cmd: "run", phase, durationMs: seconds * 1000, periodMs, bodyBytes: opts.bodyBytes, sampleEvery: opts.sampleEvery },
            seconds * 1000 + 90_000,
          ),
        ),
      );
    const statsAll = (): Promise<ChatStatsReply[]> => Promise.all(gens.map((g: ChatGenerator) => g.request<ChatStatsReply>({ cmd: "stats" }, 10_000)));

    // 2. Warm-up (JIT, SQLite pages, socket buffers): same load, not counted; then drain it so
    //    no warm-up message is in flight when the measured window starts.
    if (opts.warmupS > 0) {
      log(`${kind}: warm-up ${opts.warmupS} s`);
      const w = await runCmd("warm", opts.warmupS);
      const until = performance.now() + 30_000;
      while (performance.now() < until) {
        const st = await statsAll();
        if (sum(st.map((s: ChatStatsReply) => s.pendingAcks)) === 0) break;
        await Bun.sleep(100);
      }
      log(`${kind}: warm-up sent ${sum(w.map((r: ChatRunReply) => r.sent))} messages`);
      await quiesce([srv.pid, ...gens.map((g: ChatGenerator) => g.pid)], log);
    }

    // 3. The measured window: CPU is read around the sending schedule exactly.
    log(`${kind}: measuring ${opts.durationS} s`);
    const m0 = machineBusySeconds();
    const s0 = cpuTimes(srv.pid);
    const w0 = diskWriteBytes(srv.pid);
    const gc0 = kind === "hubbub" ? await groupCommits(srv.port) : null;
    const g0 = gens.map((g: ChatGenerator) => cpuTimes(g.pid));
    const t0 = performance.now();
    const runs = await runCmd("measure", opts.durationS);
    const windowS = (performance.now() - t0) / 1000;
    const s1 = cpuTimes(srv.pid);
    const serverDiskMb = (diskWriteBytes(srv.pid) - w0) / 1048576;
    const gc1 = gc0 === null ? null : await groupCommits(srv.port);
    const commits = gc0 !== null && gc1 !== null ? { commits: gc1.commits - gc0.commits, writes: gc1.writes - gc0.writes } : null;
    const g1 = gens.map((g: ChatGenerator) => cpuTimes(g.pid));
    const generatorUserS = sum(g1.map((t, k) => t.user - (g0[k]?.user ?? 0)));
    const generatorSysS = sum(g1.map((t, k) => t.sys - (g0[k]?.sys ?? 0)));
    const generatorCpuS = generatorUserS + generatorSysS;
    const serverUserS = s1.user - s0.user;
    const serverSysS = s1.sys - s0.sys;
    const otherCpuS = Math.max(0, machineBusySeconds() - m0 - serverUserS - serverSysS - generatorCpuS);

    // 4. Drain: until every acked message reached every viewer and every send was answered, or
    //    no progress for 3 s, at most 30 s.
    const d0 = performance.now();
    let lastProgress = performance.now();
    let prevKey = "";
    while (performance.now() - d0 < 30_000 && performance.now() - lastProgress < 3000) {
      const st = await statsAll();
      const delivered = sum(st.map((s: ChatStatsReply) => s.delivered));
      const expected = sum(st.map((s: ChatStatsReply) => s.expected));
      const pendingAcks = sum(st.map((s: ChatStatsReply) => s.pendingAcks));
      if (delivered >= expected && pendingAcks === 0) break;
      const key = `${delivered}/${pendingAcks}`;
      if (key !== prevKey) lastProgress = performance.now();
      prevKey = key;
      await Bun.sleep(100);
    }
    const drainS = (performance.now() - d0) / 1000;
    const reports = await Promise.all(gens.map((g: ChatGenerator) => g.request<ChatReportReply>({ cmd: "report" }, 10_000)));
    const serverRssMb = rssKb(srv.pid) / 1024;

    const refusals: Record<string, number> = {};
    const closeReasons: Record<string, number> = {};
    const frames: Record<string, number> = {};
    for (const r of reports) {
      mergeCounts(refusals, r.refusals);
      mergeCounts(closeReasons, r.closeReasons);
      mergeCounts(frames, r.frames);
    }
    const res: SideResult = {
      kind,
      rep,
      sockets,
      joined,
      joinFailed: sum(connects.map((c: ChatConnectReply) => c.failed)),
      joinErrors,
      joinS,
      live: sum(reports.map((r: ChatReportReply) => r.live)),
      sent: sum(reports.map((r: ChatReportReply) => r.sent)),
      acked: sum(reports.map((r: ChatReportReply) => r.acked)),
      refused: sum(reports.map((r: ChatReportReply) => r.refused + r.otherReplies)),
      refusals,
      noReply: sum(reports.map((r: ChatReportReply) => r.pendingAcks)),
      expected: sum(reports.map((r: ChatReportReply) => r.expected)),
      delivered: sum(reports.map((r: ChatReportReply) => r.delivered)),
      socketsShort: sum(reports.map((r: ChatReportReply) => r.socketsShort)),
      socketsOver: sum(reports.map((r: ChatReportReply) => r.socketsOver)),
      socketsWrongSet: sum(reports.map((r: ChatReportReply) => r.socketsWrongSet)),
      disorder: sum(reports.map((r: ChatReportReply) => r.disorder)),
      seqGaps: sum(reports.map((r: ChatReportReply) => r.seqGaps)),
      closed: sum(reports.map((r: ChatReportReply) => r.closed)),
      closeReasons,
      frames,
      ack: quantiles(reports.map((r: ChatReportReply) => r.ack)),
      delivery: quantiles(reports.map((r: ChatReportReply) => r.delivery)),
      windowS,
      serverUserS,
      serverSysS,
      serverCpuS: serverUserS + serverSysS,
      generatorCpuS,
      generatorUserS,
      generatorSysS,
      otherCpuS,
      maxLagMs: Math.max(...runs.map((r: ChatRunReply) => r.maxLagMs)),
      lagP99Ms: Math.max(...runs.map((r: ChatRunReply) => r.lagP99Ms)),
      drainS,
      serverRssMb,
      serverDiskMb,
      commits,
      serverLogLines: [],
      quietWaitS,
    };
    log(
      `${kind}: ${res.acked}/${res.sent} acked, ${res.delivered}/${res.expected} delivered, ack p99 ${res.ack.p99.toFixed(1)} ms, ` +
        `delivery p99 ${res.delivery.p99.toFixed(1)} ms, server ${res.serverCpuS.toFixed(1)} s CPU (${pct(res.serverCpuS, windowS)}), ` +
        `generators ${generatorCpuS.toFixed(1)} s (${pct(generatorCpuS, windowS)})`,
    );
    return res;
  } finally {
    // Read before the stop: shutdown messages are not findings. Attached to the result by the caller.
    lastLogLines = interestingLogLines(srv.logPath);
    await Promise.all(gens.map((g: ChatGenerator) => g.stop()));
    await srv.stop();
  }
}

let lastLogLines: string[] = [];

// ---------------------------------------------------------------- report

const TARGET_ACK_P99_MS = 50;
const TARGET_DELIVERY_P99_MS = 100;

function nothingLost(r: SideResult): boolean {
  return (
    r.delivered === r.expected && r.socketsShort === 0 && r.socketsOver === 0 && r.socketsWrongSet === 0 &&
    r.disorder === 0 && r.seqGaps === 0 && r.noReply === 0 && r.refused === 0 && r.acked === r.sent && r.closed === 0
  );
}

function targetsMet(r: SideResult): { ack: boolean; delivery: boolean; lost: boolean; all: boolean } {
  const ack = r.ack.p99 < TARGET_ACK_P99_MS;
  const delivery = r.delivery.p99 < TARGET_DELIVERY_P99_MS;
  const lost = nothingLost(r);
  return { ack, delivery, lost, all: ack && delivery && lost };
}

const LABEL: Record<Kind, string> = { raw: "raw Bun echo", hubbub: "Hubbub" };

function renderTable(opts: Options, rs: SideResult[]): string {
  const head = `| | ${rs.map((r: SideResult) => `${LABEL[r.kind]}${opts.repeat > 1 ? ` #${r.rep + 1}` : ""}`).join(" | ")} | target |`;
  const sep = `|---|${rs.map(() => "---:").join("|")}|---|`;
  const row = (label: string, cell: (r: SideResult) => string, target = ""): string =>
    `| ${label} | ${rs.map(cell).join(" | ")} | ${target} |`;
  const rows = [
    head,
    sep,
    row("viewers joined", (r) => `${int(r.joined)} / ${int(r.sockets)}`),
    row("messages sent in the window", (r) => int(r.sent)),
    row("messages acked (published)", (r) => `${int(r.acked)} (${fmt(r.acked / opts.durationS, 0)}/s)`, "all sent"),
    row("refused / no reply", (r) => `${int(r.refused)} / ${int(r.noReply)}`, "0 / 0"),
    row("deliveries expected / delivered", (r) => `${int(r.expected)} / ${int(r.delivered)}`, "equal"),
    row("deliveries per second", (r) => int(r.delivered / opts.durationS)),
    row("sockets short / over / wrong set; out of order; seq gaps", (r) =>
      `${r.socketsShort} / ${r.socketsOver} / ${r.socketsWrongSet}; ${r.disorder}; ${r.seqGaps}`, "all 0"),
    row("ack latency p50 / p99 / max (ms)", (r) => `${fmt(r.ack.p50)} / ${fmt(r.ack.p99)} / ${fmt(r.ack.max)}`, `p99 < ${TARGET_ACK_P99_MS}`),
    row("delivery latency p50 / p99 / max (ms)", (r) => `${fmt(r.delivery.p50)} / ${fmt(r.delivery.p99)} / ${fmt(r.delivery.max)}`, `p99 < ${TARGET_DELIVERY_P99_MS}`),
    row("delivery samples timed", (r) => int(r.delivery.samples)),
    row("server CPU s (user + sys) / % of a core", (r) =>
      `${fmt(r.serverCpuS, 2)} (${fmt(r.serverUserS, 2)} + ${fmt(r.serverSysS, 2)}) / ${pct(r.serverCpuS, r.windowS)}`, "reported"),
    row("server CPU per message incl. its deliveries (µs)", (r) => fmt((r.serverCpuS / Math.max(1, r.acked)) * 1e6, 0)),
    row("generator CPU s (user + sys) / % of a core", (r) =>
      `${fmt(r.generatorCpuS, 2)} (${fmt(r.generatorUserS, 2)} + ${fmt(r.generatorSysS, 2)}) / ${pct(r.generatorCpuS, r.windowS)}`),
    row("rest of machine CPU s", (r) => fmt(r.otherCpuS, 2)),
    row("send schedule lag p99 / max (ms)", (r) => `${fmt(r.lagP99Ms)} / ${fmt(r.maxLagMs)}`),
    row("server RSS at the end (MB)", (r) => fmt(r.serverRssMb, 0)),
    row("server disk writes in the window (MB; KB per message)", (r) => `${fmt(r.serverDiskMb, 1)}; ${fmt((r.serverDiskMb * 1024) / Math.max(1, r.acked), 2)}`),
    row("SQLite group commits in the window (writes per commit)", (r) =>
      r.commits === null ? "-" : `${int(r.commits.commits)} (${fmt(r.commits.writes / Math.max(1, r.commits.commits), 1)})`),
    row("target met (ack p99, delivery p99, nothing lost)", (r) => {
      const t = targetsMet(r);
      return `${yes(t.all)} (${t.ack ? "yes" : "no"}, ${t.delivery ? "yes" : "no"}, ${t.lost ? "yes" : "no"})`;
    }),
  ];
  return rows.join("\n");
}

function renderNotes(opts: Options, rs: SideResult[]): string {
  const notes: string[] = [];
  for (const r of rs) {
    const name = `${LABEL[r.kind]}${opts.repeat > 1 ? ` #${r.rep + 1}` : ""}`;
    const server = r.serverCpuS / r.windowS;
    const gen = r.generatorCpuS / r.windowS;
    let limit: string;
    if (server >= 0.9 && gen >= 0.9) limit = "both cores saturated (server and generator): latencies include queueing on both sides";
    else if (server >= 0.9) limit = "the server core is saturated: the server limits";
    else if (gen >= 0.9) limit = "the generator core is saturated: the generator limits (latencies include its queueing)";
    else limit = `neither core saturated (server ${Math.round(server * 100)}%, generator ${Math.round(gen * 100)}%)`;
    notes.push(`- ${name}: ${limit}; drained in ${fmt(r.drainS, 1)} s after the window; joins took ${fmt(r.joinS, 1)} s.`);
    if (r.joinFailed > 0) notes.push(`  - join failures: ${JSON.stringify(r.joinErrors)}`);
    if (r.refused > 0) notes.push(`  - refusals: ${JSON.stringify(r.refusals)}`);
    if (r.closed > 0) notes.push(`  - sockets closed during the window: ${JSON.stringify(r.closeReasons)}`);
    if (Object.keys(r.frames).length > 0) notes.push(`  - other frames received during the window: ${JSON.stringify(r.frames)}`);
    if (r.otherCpuS / r.windowS > 0.25) notes.push(`  - other processes used ${pct(r.otherCpuS, r.windowS)} of a core during the window: numbers are noisy`);
    if (r.quietWaitS >= opts.quietWait && opts.quietWait > 0) notes.push("  - the machine never went quiet before this side started");
    if (r.serverLogLines.length > 0) {
      notes.push(`  - server log (${r.serverLogLines.length} line(s) at warn or above), first ones:`);
      for (const l of r.serverLogLines.slice(0, 5)) notes.push(`    \`${l.slice(0, 300)}\``);
    }
  }
  return notes.join("\n");
}

function header(opts: Options): string {
  const m = machineInfo();
  const total = opts.streams * opts.viewers;
  const rateIn = total / opts.periodS;
  return [
    `# Hubbub chat benchmark (${new Date().toISOString()})`,
    "",
    `Machine: ${m.nproc} cores, ${m.cpuModel}, ${m.ramGiB} GiB RAM, Linux ${m.kernel}, Bun ${m.bun}`,
    `Command: bun bench/chat.ts ${process.argv.slice(2).join(" ")}`.trimEnd(),
    `Scenario: ${opts.streams} streams x ${opts.viewers} signed-in viewers (HS256 tokens, one socket each, ${int(total)} sockets), ` +
      `every viewer sends one ${opts.bodyBytes}-character chat message every ${opts.periodS} s, spread evenly ` +
      `(~${int(rateIn)} messages/s in, ~${int(rateIn * opts.viewers)} deliveries/s out); ${opts.warmupS} s warm-up, then ${opts.durationS} s measured. ` +
      `Heartbeats every 30 s per socket. Delivery latency timed on every ${opts.sampleEvery}th viewer of each stream; every delivery counted and checked on every socket.`,
    `Servers pinned with taskset -c ${opts.serverCpu}, ${opts.generators} generator process(es) with taskset -c ${opts.generatorCpu}.`,
    `Hubbub env: ${Object.entries(HUBBUB_FIXED_ENV).map(([k, v]) => `${k}=${v}`).join(" ")} (connect rate limit off: every socket comes from 127.0.0.1).`,
    `Hubbub streams are created with settings ${JSON.stringify(STREAM_SETTINGS)}: the benchmark RAISES the per-viewer chat rate limit ` +
      "(default 20 messages / 30 s) so it can never refuse the load, and allows links.",
    opts.hubbubRoot === REPO_ROOT ? `Hubbub code: ${hubbubSnapshot()}.` : `Hubbub code: the checkout in ${opts.hubbubRoot} (NOT this repository).`,
    ...(opts.profileDir === null ? [] : [`PROFILED RUN: Hubbub ran under --cpu-prof-md (profile in ${opts.profileDir}); its numbers are skewed by the profiler.`]),
  ].join("\n");
}

// ---------------------------------------------------------------- main

const WATCHDOG_MS = 60 * 60_000;

async function main(opts: Options): Promise<number> {

  const dir = tempDir("hubbub-chat-bench-");
  console.log(header(opts));
  console.log("");
  const results: SideResult[] = [];
  const failures: Array<{ kind: Kind; rep: number; message: string }> = [];
  try {
    for (let rep = 0; rep < opts.repeat; rep++) {
      for (const kind of opts.servers) {
        try {
          const r = await runSide(kind, rep, opts, dir);
          r.serverLogLines = lastLogLines;
          results.push(r);
        } catch (err: unknown) {
          const message = err instanceof Error ? err.message : String(err);
          log(`${kind} failed: ${message}`);
          failures.push({ kind, rep, message });
        }
      }
    }
  } finally {
    if (opts.keepTmp) log(`temp dir kept: ${dir}`);
    removeDir(dir);
  }
  if (results.length > 0) {
    console.log(renderTable(opts, results));
    console.log("");
    console.log("Notes:");
    console.log(renderNotes(opts, results));
  }
  for (const f of failures) console.log(`- FAILED: ${LABEL[f.kind]}${opts.repeat > 1 ? ` #${f.rep + 1}` : ""}: ${f.message.split("\n")[0]}`);
  if (opts.json !== null) writeFileSync(opts.json, `${JSON.stringify({ options: opts, machine: machineInfo(), results, failures }, null, 2)}\n`);
  return failures.length > 0 ? 1 : 0;
}

runMain("chat", WATCHDOG_MS, USAGE, parseOptions, main);
