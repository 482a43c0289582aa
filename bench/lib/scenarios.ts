// The three measurements. Each runs against a fresh server process with fresh generators and
// tears both down before returning (also on failure).

import type { Options, Variant } from "./args.ts";
import { Generator, shares, spawnGenerators } from "./generators.ts";
import { LogHistogram, type HistogramJson } from "./histogram.ts";
import { cpuSeconds, cpuTimes, machineBusySeconds, rssKb } from "./proc.ts";
import type { ConnectReply, DriveReply, ReportReply, StatsReply } from "./protocol.ts";
import { startServer, type ServerHandle, type ServerKind } from "./servers.ts";

export interface MemoryResult {
  server: ServerKind;
  variant: Variant;
  n: number;
  joined: number;
  failed: number;
  errors: Record<string, number>;
  beforeKb: number;
  afterKb: number;
  settled: boolean;
  kbPerViewer: number;
  /** A second reading after `lateIdleS` more seconds idle: the server's GC has usually run by then. */
  lateKb: number;
  lateKbPerViewer: number;
  lateIdleS: number;
  generatorRssKb: number;
  frames: Record<string, number>;
}

export interface StormResult {
  server: ServerKind;
  variant: Variant;
  n: number;
  concurrency: number;
  joined: number;
  failed: number;
  errors: Record<string, number>;
  elapsedMs: number;
  joinsPerSec: number;
  serverCpuS: number;
  generatorCpuS: number;
  /** CPU used by other processes on the machine during the run (noise indicator). */
  otherCpuS: number;
  frames: Record<string, number>;
  /** Connect+join time per viewer, ms. */
  joinMs: { p50: number; p99: number; max: number };
}

export interface FanoutResult {
  server: ServerKind;
  n: number;
  live: number;
  rate: number;
  broadcastsPerSec: number;
  drive: Omit<DriveReply, "post"> & { postP50Ms: number; postP99Ms: number };
  delivered: number;
  expected: number;
  socketsShort: number;
  socketsOver: number;
  closed: number;
  closeReasons: Record<string, number>;
  windowS: number;
  serverCpuS: number;
  serverUserS: number;
  generatorCpuS: number;
  otherCpuS: number;
  serverCpuPerM: number;
  serverUserPerM: number;
  generatorCpuPerM: number;
  latency: { samples: number; p50: number; p90: number; p99: number; max: number };
  slowPath: number;
  frames: Record<string, number>;
}

function log(msg: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

function sum(xs: number[]): number {
  return xs.reduce((a: number, b: number) => a + b, 0);
}

function mergeCounts(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
}

/** RSS once two readings 1 s apart differ by at most 1% (at most `maxReadings` readings). */
async function settledRss(pid: number, maxReadings = 30): Promise<{ kb: number; settled: boolean }> {
  let prev = rssKb(pid);
  for (let i = 1; i < maxReadings; i++) {
    await Bun.sleep(1000);
    const cur = rssKb(pid);
    if (Math.abs(cur - prev) <= prev * 0.01) return { kb: cur, settled: true };
    prev = cur;
  }
  return { kb: prev, settled: false };
}

/** Waits until the server burns < 5% of a core over 1 s (leftover join work must not pollute the
 * next measurement); gives up after `maxS` seconds. */
async function quiesce(pid: number, maxS = 20): Promise<void> {
  for (let i = 0; i < maxS; i++) {
    const a = cpuSeconds(pid);
    await Bun.sleep(1000);
    if (cpuSeconds(pid) - a < 0.05) return;
  }
  log(`server ${pid} still busy after ${maxS} s; measuring anyway`);
}

interface Rig {
  srv: ServerHandle;
  gens: Generator[];
}

/** All waits together may not exceed this: a machine that never goes quiet must not stall the
 * run for hours (the notes then show how busy the rest of the machine was). */
const QUIET_BUDGET_S = 30 * 60;
let quietSpentS = 0;

/** Other work on the box (a test suite, say) skews every number: wait (at most `maxS` seconds)
 * until other processes used < 10% of a core for 3 seconds in a row. */
async function waitForQuietMachine(maxS: number): Promise<void> {
  let quiet = 0;
  let lastLog = 0;
  maxS = Math.min(maxS, Math.max(0, QUIET_BUDGET_S - quietSpentS));
  for (let i = 0; i < maxS && quiet < 3; i++, quietSpentS++) {
    const a = machineBusySeconds();
    await Bun.sleep(1000);
    const busy = machineBusySeconds() - a;
    quiet = busy < 0.1 ? quiet + 1 : 0;
    if (quiet === 0 && (i === 0 || i - lastLog >= 60)) {
      lastLog = i;
      log(`other processes use ${Math.round(busy * 100)}% of a core: waiting for a quiet machine (at most ${maxS - i} s more)`);
    }
  }
  if (quiet < 3 && maxS > 0) log("machine still busy: measuring anyway (see 'rest of machine' in the notes)");
}

async function withRig<T>(kind: ServerKind, sockets: number, opts: Options, dir: string, fn: (rig: Rig) => Promise<T>): Promise<T> {
  await waitForQuietMachine(opts.quietWait);
  const srv = await startServer(kind, dir, opts.serverCpu);
  let gens: Generator[] = [];
  try {
    gens = spawnGenerators(sockets, opts.generatorCpu, {
      host: "127.0.0.1",
      port: srv.port,
      origin: `http://127.0.0.1:${srv.port}`,
      tokenSecret: srv.tokenSecret,
      heartbeatMs: 30_000,
    });
    return await fn({ srv, gens });
  } finally {
    await Promise.all(gens.map((g: Generator) => g.stop()));
    await srv.stop();
  }
}

async function connectAll(gens: Generator[], n: number, auth: boolean, concurrency: number): Promise<ConnectReply> {
  const parts = shares(n, gens.length);
  const replies = await Promise.all(
    gens.map((g: Generator, k: number) => {
      const [firstId, count] = parts[k] ?? [0, 0];
      const timeoutMs = 120_000 + count * 10; // generous but bounded
      return g.request<ConnectReply>(
        { cmd: "connect", count, firstId, concurrency: Math.max(1, Math.round(concurrency / gens.length)), auth, timeoutMs },
        timeoutMs + 40_000,
      );
    }),
  );
  const errors: Record<string, number> = {};
  const frames: Record<string, number> = {};
  const joinLatency = new LogHistogram();
  for (const r of replies) {
    mergeCounts(errors, r.errors);
    mergeCounts(frames, r.frames);
    joinLatency.merge(r.joinLatency);
  }
  return {
    joined: sum(replies.map((r: ConnectReply) => r.joined)),
    failed: sum(replies.map((r: ConnectReply) => r.failed)),
    elapsedMs: Math.max(...replies.map((r: ConnectReply) => r.elapsedMs)),
    errors,
    frames,
    joinLatency: joinLatency.toJson(),
  };
}

export async function runMemory(kind: ServerKind, variant: Variant, opts: Options, dir: string): Promise<MemoryResult> {
  return withRig(kind, opts.n, opts, dir, async ({ srv, gens }: Rig): Promise<MemoryResult> => {
    await Bun.sleep(1000);
    const before = await settledRss(srv.pid);
    log(`${kind} memory/${variant}: RSS before ${before.kb} KB; connecting ${opts.n}`);
    const c = await connectAll(gens, opts.n, variant === "signed", opts.concurrency);
    log(`${kind} memory/${variant}: ${c.joined} joined, ${c.failed} failed; idle ${opts.idleSeconds} s`);
    await Bun.sleep(opts.idleSeconds * 1000);
    const after = await settledRss(srv.pid);
    const kbPerViewer = c.joined > 0 ? (after.kb - before.kb) / c.joined : NaN;
    log(`${kind} memory/${variant}: RSS after ${after.kb} KB -> ${kbPerViewer.toFixed(2)} KB/viewer`);
    let lateKb = NaN;
    if (opts.lateIdleSeconds > 0) {
      await Bun.sleep(opts.lateIdleSeconds * 1000);
      lateKb = rssKb(srv.pid);
      log(`${kind} memory/${variant}: RSS after ${opts.lateIdleSeconds} s more idle ${lateKb} KB`);
    }
    return {
      server: kind,
      variant,
      n: opts.n,
      joined: c.joined,
      failed: c.failed,
      errors: c.errors,
      beforeKb: before.kb,
      afterKb: after.kb,
      settled: before.settled && after.settled,
      kbPerViewer,
      lateKb,
      lateKbPerViewer: c.joined > 0 ? (lateKb - before.kb) / c.joined : NaN,
      lateIdleS: opts.lateIdleSeconds,
      generatorRssKb: sum(gens.map((g: Generator) => rssKb(g.pid))),
      frames: c.frames,
    };
  });
}

export async function runStorm(kind: ServerKind, variant: Variant, opts: Options, dir: string): Promise<StormResult> {
  return withRig(kind, opts.n, opts, dir, async ({ srv, gens }: Rig): Promise<StormResult> => {
    await Bun.sleep(500);
    const m0 = machineBusySeconds();
    const s0 = cpuSeconds(srv.pid);
    const g0 = sum(gens.map((g: Generator) => cpuSeconds(g.pid)));
    const c = await connectAll(gens, opts.n, variant === "signed", opts.concurrency);
    const serverCpuS = cpuSeconds(srv.pid) - s0;
    const generatorCpuS = sum(gens.map((g: Generator) => cpuSeconds(g.pid))) - g0;
    const otherCpuS = Math.max(0, machineBusySeconds() - m0 - serverCpuS - generatorCpuS);
    const joinsPerSec = c.joined / (c.elapsedMs / 1000);
    log(`${kind} storm/${variant}: ${c.joined} joined (${c.failed} failed) in ${c.elapsedMs.toFixed(0)} ms = ${joinsPerSec.toFixed(0)}/s`);
    return {
      server: kind,
      variant,
      n: opts.n,
      concurrency: opts.concurrency,
      joined: c.joined,
      failed: c.failed,
      errors: c.errors,
      elapsedMs: c.elapsedMs,
      joinsPerSec,
      serverCpuS,
      generatorCpuS,
      otherCpuS,
      frames: c.frames,
      joinMs: summarize(c.joinLatency),
    };
  });
}

function summarize(h: HistogramJson): { p50: number; p99: number; max: number } {
  const l = new LogHistogram();
  l.merge(h);
  return { p50: l.quantileMs(0.5), p99: l.quantileMs(0.99), max: l.maxMs };
}

async function measureRate(rig: Rig, opts: Options, rate: number): Promise<FanoutResult> {
  const { srv, gens } = rig;
  const driver = gens[0] as Generator;
  const broadcastsPerSec = rate / opts.fanoutN;
  const count = Math.max(1, Math.round(broadcastsPerSec * opts.duration));
  await quiesce(srv.pid);
  const armed = await Promise.all(gens.map((g: Generator) => g.request<{ live: number }>({ cmd: "arm", sampleEvery: opts.sampleEvery }, 10_000)));
  const live = sum(armed.map((a: { live: number }) => a.live));
  const m0 = machineBusySeconds();
  const s0 = cpuTimes(srv.pid);
  const g0 = sum(gens.map((g: Generator) => cpuSeconds(g.pid)));
  const t0 = performance.now();
  const drive = await driver.request<DriveReply>(
    {
      cmd: "drive",
      url: srv.publish.url,
      headers: srv.publish.headers,
      extra: srv.publish.extra,
      broadcastsPerSec,
      count,
      maxInflight: 64,
      bodyBytes: opts.bodyBytes,
    },
    opts.duration * 1000 + 60_000,
  );
  // Drain: until everything expected arrived, or no progress for 3 s, at most 30 s.
  const expected = drive.ok * live;
  let delivered = 0;
  let lastProgress = performance.now();
  const drainUntil = performance.now() + 30_000;
  while (performance.now() < drainUntil && performance.now() - lastProgress < 3000) {
    const stats = await Promise.all(gens.map((g: Generator) => g.request<StatsReply>({ cmd: "stats" }, 10_000)));
    const now = sum(stats.map((s: StatsReply) => s.delivered));
    if (now !== delivered) lastProgress = performance.now();
    delivered = now;
    if (delivered >= expected) break;
    await Bun.sleep(100);
  }
  const windowS = (performance.now() - t0) / 1000;
  const s1 = cpuTimes(srv.pid);
  const serverUserS = s1.user - s0.user;
  const serverCpuS = serverUserS + s1.sys - s0.sys;
  const generatorCpuS = sum(gens.map((g: Generator) => cpuSeconds(g.pid))) - g0;
  const otherCpuS = Math.max(0, machineBusySeconds() - m0 - serverCpuS - generatorCpuS);
  const reports = await Promise.all(
    gens.map((g: Generator) => g.request<ReportReply>({ cmd: "report", expectedPerSocket: drive.ok }, 10_000)),
  );
  const lat = new LogHistogram();
  const closeReasons: Record<string, number> = {};
  const frames: Record<string, number> = {};
  for (const r of reports) {
    lat.merge(r.latency);
    mergeCounts(closeReasons, r.closeReasons);
    mergeCounts(frames, r.frames);
  }
  delivered = sum(reports.map((r: ReportReply) => r.delivered));
  const post = new LogHistogram();
  post.merge(drive.post);
  const millions = delivered / 1e6;
  const result: FanoutResult = {
    server: srv.kind,
    n: opts.fanoutN,
    live,
    rate,
    broadcastsPerSec,
    drive: {
      sent: drive.sent,
      ok: drive.ok,
      failed: drive.failed,
      skipped: drive.skipped,
      elapsedMs: drive.elapsedMs,
      maxLagMs: drive.maxLagMs,
      errors: drive.errors,
      postP50Ms: post.quantileMs(0.5),
      postP99Ms: post.quantileMs(0.99),
    },
    delivered,
    expected,
    socketsShort: sum(reports.map((r: ReportReply) => r.socketsShort)),
    socketsOver: sum(reports.map((r: ReportReply) => r.socketsOver)),
    closed: sum(reports.map((r: ReportReply) => r.closed)),
    closeReasons,
    windowS,
    serverCpuS,
    serverUserS,
    generatorCpuS,
    otherCpuS,
    serverCpuPerM: millions > 0 ? serverCpuS / millions : NaN,
    serverUserPerM: millions > 0 ? serverUserS / millions : NaN,
    generatorCpuPerM: millions > 0 ? generatorCpuS / millions : NaN,
    latency: { samples: lat.total, p50: lat.quantileMs(0.5), p90: lat.quantileMs(0.9), p99: lat.quantileMs(0.99), max: lat.maxMs },
    slowPath: sum(reports.map((r: ReportReply) => r.slowPath)),
    frames,
  };
  log(
    `${srv.kind} fanout ${rate}/s: ${delivered}/${expected} delivered, server ${serverCpuS.toFixed(2)} s CPU ` +
      `(${result.serverCpuPerM.toFixed(3)} s/M, user ${result.serverUserPerM.toFixed(3)} s/M), generator ${generatorCpuS.toFixed(2)} s, ` +
      `p50 ${result.latency.p50.toFixed(2)} ms p99 ${result.latency.p99.toFixed(2)} ms`,
  );
  return result;
}

export async function runFanout(kind: ServerKind, opts: Options, dir: string): Promise<FanoutResult[]> {
  return withRig(kind, opts.fanoutN, opts, dir, async (rig: Rig): Promise<FanoutResult[]> => {
    await Bun.sleep(500);
    const c = await connectAll(rig.gens, opts.fanoutN, false, opts.concurrency);
    log(`${kind} fanout: ${c.joined} joined, ${c.failed} failed`);
    if (c.joined === 0) throw new Error(`no viewer joined: ${JSON.stringify(c.errors)}`);
    const out: FanoutResult[] = [];
    for (const rate of opts.rates) out.push(await measureRate(rig, opts, rate));
    return out;
  });
}
