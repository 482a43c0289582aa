// Renders results as a markdown table (left server vs right server, ratio, target, met) plus the
// notes a reader needs to trust or distrust each number. With repetitions, a cell shows the
// median and [min-max]; ratios and targets use medians.

import type { Options, Variant } from "./args.ts";
import type { FanoutResult, MemoryResult, StormResult } from "./scenarios.ts";

export type Sided<T> = T & { side: number };

export interface Results {
  memory: Array<Sided<MemoryResult>>;
  storm: Array<Sided<StormResult>>;
  fanout: Array<Sided<FanoutResult>>;
  failures: Array<{ scenario: string; side: number; message: string }>;
}

export const TARGETS = {
  memoryGuestKb: 3,
  memorySignedKb: 4,
  stormRatio: 0.7,
  cpuRatio: 1.25,
  p99Ratio: 1.25,
};

interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

function stat(values: number[]): Stat | undefined {
  const v = values.filter((x: number) => Number.isFinite(x)).sort((a: number, b: number) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
  return { median, min: v[0] as number, max: v[v.length - 1] as number, n: v.length };
}

function fmt(v: number | undefined, digits = 2): string {
  if (v === undefined || !Number.isFinite(v)) return "n/a";
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function cell(s: Stat | undefined, digits: number): string {
  if (s === undefined) return "n/a";
  if (s.n === 1) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} [${fmt(s.min, digits)}-${fmt(s.max, digits)}]`;
}

function ratio(a: Stat | undefined, b: Stat | undefined): number | undefined {
  if (a === undefined || b === undefined || a.median === 0) return undefined;
  return b.median / a.median;
}

function yesNo(ok: boolean | undefined): string {
  return ok === undefined ? "n/a" : ok ? "yes" : "**no**";
}

function variantLabel(v: Variant): string {
  return v === "guest" ? "guest" : "signed-in";
}

export function serverNames(opts: Options): string[] {
  return opts.servers.map((s: "raw" | "hubbub", i: number) => (opts.servers.indexOf(s) !== i ? `${s} (#${i + 1})` : s));
}

export function renderTable(opts: Options, r: Results): string {
  const names = serverNames(opts);
  const two = names.length === 2;
  const header = two
    ? `| Scenario | Metric | ${names[0]} | ${names[1]} | ${names[1]}/${names[0]} | Target | Met |\n|---|---|---:|---:|---:|---|---|`
    : `| Scenario | Metric | ${names[0]} | Target | Met |\n|---|---|---:|---|---|`;
  const rows: string[] = [header];
  const judged = two ? 1 : 0; // targets are judged on the right-hand server
  const row = (scenario: string, metric: string, a: Stat | undefined, b: Stat | undefined, digits: number, target: string, met: boolean | undefined): void => {
    if (two) rows.push(`| ${scenario} | ${metric} | ${cell(a, digits)} | ${cell(b, digits)} | ${fmt(ratio(a, b), 2)} | ${target} | ${yesNo(met)} |`);
    else rows.push(`| ${scenario} | ${metric} | ${cell(a, digits)} | ${target} | ${yesNo(met)} |`);
  };

  for (const variant of opts.variants) {
    const of = (side: number): MemoryResult[] => r.memory.filter((m) => m.side === side && m.variant === variant);
    const a = stat(of(0).map((m) => m.kbPerViewer));
    const b = stat(of(1).map((m) => m.kbPerViewer));
    if (a === undefined && b === undefined) continue;
    const limit = variant === "guest" ? TARGETS.memoryGuestKb : TARGETS.memorySignedKb;
    const j = judged === 1 ? b : a;
    const failed = of(judged).some((m) => m.failed > 0);
    row(`Memory, idle joined viewers (${variantLabel(variant)}, n=${opts.n})`, `KB per viewer (RSS settled, ${opts.idleSeconds} s idle)`, a, b, 2, `<= ${limit} KB`, j === undefined ? undefined : !failed && j.median <= limit);
    if (opts.lateIdleSeconds > 0) {
      const la = stat(of(0).map((m) => m.lateKbPerViewer));
      const lb = stat(of(1).map((m) => m.lateKbPerViewer));
      row(`Memory, idle joined viewers (${variantLabel(variant)}, n=${opts.n})`, `KB per viewer, ${opts.lateIdleSeconds} s later`, la, lb, 2, "(info)", undefined);
    }
  }
  for (const variant of opts.variants) {
    const of = (side: number): StormResult[] => r.storm.filter((m) => m.side === side && m.variant === variant);
    const a = stat(of(0).map((m) => m.joinsPerSec));
    const b = stat(of(1).map((m) => m.joinsPerSec));
    if (a === undefined && b === undefined) continue;
    const q = ratio(a, b);
    const failed = of(0).concat(of(1)).some((m) => m.failed > 0);
    row(`Join storm (${variantLabel(variant)}, n=${opts.n}, ${opts.concurrency} in flight)`, "joins/s", a, b, 0, `>= ${TARGETS.stormRatio}x ${names[0]}`, two && q !== undefined ? q >= TARGETS.stormRatio && !failed : undefined);
  }
  for (const rate of opts.rates) {
    const of = (side: number): FanoutResult[] => r.fanout.filter((m) => m.side === side && m.rate === rate);
    const A = of(0);
    const B = of(1);
    if (A.length === 0 && B.length === 0) continue;
    const scen = `Fan-out ${fmt(rate / 1000, 0)}k/s (${fmt(rate / opts.fanoutN, 0)} broadcasts/s x ${opts.fanoutN})`;
    const lost = (xs: FanoutResult[]): Stat | undefined => stat(xs.map((m) => m.delivered / m.expected));
    const J = judged === 1 ? B : A;
    const nothingLost = J.length === 0 ? undefined : J.every((m) => m.expected > 0 && m.delivered === m.expected && m.drive.failed === 0 && m.drive.skipped === 0);
    row(scen, "delivered/expected", lost(A), lost(B), 4, "nothing lost", nothingLost);
    const cpuA = stat(A.map((m) => m.serverCpuPerM));
    const cpuB = stat(B.map((m) => m.serverCpuPerM));
    const cpuQ = ratio(cpuA, cpuB);
    row(scen, "server CPU s per 1M deliveries", cpuA, cpuB, 3, `<= ${TARGETS.cpuRatio}x ${names[0]}`, two && cpuQ !== undefined ? cpuQ <= TARGETS.cpuRatio : undefined);
    row(scen, "(of which user-space s per 1M)", stat(A.map((m) => m.serverUserPerM)), stat(B.map((m) => m.serverUserPerM)), 3, "-", undefined);
    row(scen, "latency p50 ms", stat(A.map((m) => m.latency.p50)), stat(B.map((m) => m.latency.p50)), 1, "-", undefined);
    const p99A = stat(A.map((m) => m.latency.p99));
    const p99B = stat(B.map((m) => m.latency.p99));
    const p99Q = ratio(p99A, p99B);
    row(scen, "latency p99 ms", p99A, p99B, 1, `<= ${TARGETS.p99Ratio}x ${names[0]}`, two && p99Q !== undefined ? p99Q <= TARGETS.p99Ratio : undefined);
    row(scen, "generator CPU s per 1M deliveries", stat(A.map((m) => m.generatorCpuPerM)), stat(B.map((m) => m.generatorCpuPerM)), 3, "-", undefined);
  }
  return rows.join("\n");
}

function counts(m: Record<string, number>): string {
  const e = Object.entries(m).sort((x, y) => y[1] - x[1]);
  return e.length === 0 ? "none" : e.slice(0, 6).map(([k, v]) => `${k}: ${v}`).join(", ");
}

function pct(part: number, whole: number): string {
  return `${fmt((part / whole) * 100, 0)}%`;
}

/** Per-run details: what the table compresses away (failures, extra frames, saturation). */
export function renderNotes(opts: Options, r: Results): string {
  const names = serverNames(opts);
  const name = (side: number): string => names[side] ?? "?";
  const out: string[] = [];
  for (const m of r.memory) {
    out.push(
      `- memory ${name(m.side)} ${variantLabel(m.variant)}: RSS ${m.beforeKb} -> ${m.afterKb} KB = ${fmt(m.kbPerViewer, 2)} KB x ${m.joined} joined` +
        `${Number.isFinite(m.lateKb) ? ` (${m.lateKb} KB = ${fmt(m.lateKbPerViewer, 2)} KB each ${m.lateIdleS} s later)` : ""}` +
        ` (${m.failed} failed${m.failed > 0 ? `: ${counts(m.errors)}` : ""})${m.settled ? "" : ", RSS did not settle within 1%"}; ` +
        `frames while joining: ${counts(m.frames)}`,
    );
  }
  for (const s of r.storm) {
    const wall = s.elapsedMs / 1000;
    out.push(
      `- storm ${name(s.side)} ${variantLabel(s.variant)}: ${s.joined} joined in ${fmt(wall, 2)} s = ${fmt(s.joinsPerSec, 0)}/s` +
        ` (${s.failed} failed${s.failed > 0 ? `: ${counts(s.errors)}` : ""}); server CPU ${fmt(s.serverCpuS, 2)} s (${pct(s.serverCpuS, wall)} of a core),` +
        ` generator ${fmt(s.generatorCpuS, 2)} s (${pct(s.generatorCpuS, wall)}), rest of machine ${pct(s.otherCpuS, wall)}; connect+join p50/p99/max ` +
        `${fmt(s.joinMs.p50, 1)}/${fmt(s.joinMs.p99, 1)}/${fmt(s.joinMs.max, 0)} ms; frames: ${counts(s.frames)}`,
    );
  }
  for (const f of r.fanout) {
    const genLoad = f.generatorCpuS / f.windowS;
    out.push(
      `- fan-out ${name(f.side)} ${f.rate}/s: ${f.delivered}/${f.expected} delivered to ${f.live} (${f.socketsShort} short, ${f.socketsOver} over,` +
        ` ${f.closed} closed${f.closed > 0 ? `: ${counts(f.closeReasons)}` : ""}); broadcasts ${f.drive.ok}/${f.drive.sent} ok` +
        ` (${f.drive.failed} failed${f.drive.failed > 0 ? `: ${counts(f.drive.errors)}` : ""}, ${f.drive.skipped} skipped), POST p50/p99` +
        ` ${fmt(f.drive.postP50Ms, 1)}/${fmt(f.drive.postP99Ms, 1)} ms, send lag max ${fmt(f.drive.maxLagMs, 0)} ms; server ${pct(f.serverCpuS, f.windowS)}` +
        ` of a core (user ${pct(f.serverUserS, f.windowS)}), generator ${pct(f.generatorCpuS, f.windowS)}, rest of machine (orchestrator included) ${pct(f.otherCpuS, f.windowS)} over ${fmt(f.windowS, 1)} s;` +
        ` latency p50/p90/p99/max ${fmt(f.latency.p50, 1)}/${fmt(f.latency.p90, 1)}/${fmt(f.latency.p99, 1)}/${fmt(f.latency.max, 0)} ms` +
        ` (${f.latency.samples} samples)${f.slowPath > 0 ? `; ${f.slowPath} announcements with non-canonical bytes` : ""}; other frames: ${counts(f.frames)}` +
        `${genLoad > 0.85 ? "; generator core near saturation" : ""}`,
    );
  }
  for (const e of r.failures) {
    const oneLine = e.message.split("\n").map((l: string) => l.trim()).filter((l: string) => l !== "").join(" | ");
    out.push(`- FAILED ${e.scenario} on ${name(e.side)}: ${oneLine.slice(0, 400)}`);
  }
  return out.join("\n");
}
