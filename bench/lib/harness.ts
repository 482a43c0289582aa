// Orchestrator helpers shared by the per-issue benchmarks (bench/chat.ts, bench/reactions.ts):
// flags, logging, waiting for a quiet machine, latency quantiles, table formatting, server logs.

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { LogHistogram, type HistogramJson } from "./histogram.ts";
import { cpuSeconds, machineBusySeconds } from "./proc.ts";

export type Log = (msg: string) => void;

/** `[tag hh:mm:ss] msg` on stderr (stdout carries the report). */
export function makeLog(tag: string): Log {
  return (msg: string): void => console.error(`[${tag} ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

/**
 * Reads `--name=value` (or a bare `--name`, which reads as "true") from argv, else the environment
 * variable `<envPrefix><NAME>` (dashes become underscores), else undefined.
 */
export function flagReader(argv: string[], envPrefix: string): (name: string) => string | undefined {
  return (name: string): string | undefined => {
    const flag = argv.find((a: string) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (flag !== undefined) return flag.includes("=") ? flag.slice(flag.indexOf("=") + 1) : "true";
    return process.env[`${envPrefix}${name.toUpperCase().replaceAll("-", "_")}`];
  };
}

/** Numeric flags: `num(name, full, small, min, max)` is the value given, else `full` (`small` with
 * --quick); a value outside [min, max] or not a number is refused. */
export function numberFlags(flag: (name: string) => string | undefined, quick: boolean): (name: string, full: number, small: number, min: number, max: number) => number {
  return (name: string, full: number, small: number, min: number, max: number): number => {
    const v = flag(name);
    if (v === undefined) return quick ? small : full;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in [${min}, ${max}], got "${v}"`);
    return n;
  };
}

/** Throws on any argument that is not `--<known>[=value]`. */
export function checkFlags(argv: string[], known: Set<string>, usage: string): void {
  for (const a of argv) {
    const name = a.replace(/^--/, "").split("=")[0] ?? "";
    if (!a.startsWith("--") || !known.has(name)) throw new Error(`unknown argument "${a}"\n${usage}`);
  }
}

export function sum(xs: number[]): number {
  return xs.reduce((a: number, b: number) => a + b, 0);
}

export function mergeCounts(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
}

/** A fresh random secret (43 characters): admin keys, token secrets. */
export function secret(): string {
  return randomBytes(32).toString("base64url");
}

/** The last `lines` lines of a file (a server log), or "(no log)". */
export function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Other work on the box skews every number: wait (at most `maxS` s) until other processes used
 * < 10% of a core for 3 s in a row. Returns the seconds waited. */
export async function waitForQuietMachine(maxS: number, log: Log): Promise<number> {
  let quiet = 0;
  let lastLog = -60;
  let i = 0;
  for (; i < maxS && quiet < 3; i++) {
    const a = machineBusySeconds();
    await Bun.sleep(1000);
    const busy = machineBusySeconds() - a;
    quiet = busy < 0.1 ? quiet + 1 : 0;
    if (quiet === 0 && i - lastLog >= 60) {
      lastLog = i;
      log(`other processes use ${Math.round(busy * 100)}% of a core: waiting for a quiet machine (at most ${Math.round(maxS - i)} s more)`);
    }
  }
  if (quiet < 3 && maxS > 0) log("machine still busy: measuring anyway (see 'rest of machine' in the table)");
  return i;
}

/** Waits until `pids` burn < 5% of a core each over 1 s (leftover work must not pollute the next
 * window); gives up after `maxS` seconds. */
export async function quiesce(pids: number[], log: Log, maxS = 30): Promise<void> {
  for (let i = 0; i < maxS; i++) {
    const a = sum(pids.map(cpuSeconds));
    await Bun.sleep(1000);
    if (sum(pids.map(cpuSeconds)) - a < 0.05 * pids.length) return;
  }
  log(`processes ${pids.join(",")} still busy after ${maxS} s; going on`);
}

export interface Quantiles {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

/** Merges histograms from several generators and reads p50, p99 and max. */
export function quantiles(hists: HistogramJson[]): Quantiles {
  const h = new LogHistogram();
  for (const x of hists) h.merge(x);
  return { samples: h.total, p50: h.quantileMs(0.5), p99: h.quantileMs(0.99), max: h.total > 0 ? h.maxMs : NaN };
}

/** Server log lines worth a reader's eye (the banner and blank lines dropped). */
export function interestingLogLines(path: string): string[] {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l: string) => l.trim() !== "" && !/listening on/.test(l))
    .slice(0, 2000);
}

export function fmt(v: number, digits = 1): string {
  if (!Number.isFinite(v)) return "n/a";
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function int(v: number): string {
  return Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "n/a";
}

/** CPU seconds over wall seconds as a percentage of one core. */
export function pct(cpuS: number, wallS: number): string {
  return wallS > 0 ? `${Math.round((cpuS / wallS) * 100)}%` : "n/a";
}

export function yes(ok: boolean): string {
  return ok ? "yes" : "**no**";
}

let hzCache = 0;
/** Kernel clock ticks per second (USER_HZ), the unit of /proc/stat. */
function userHz(): number {
  if (hzCache === 0) {
    try {
      hzCache = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      hzCache = 100;
    }
  }
  return hzCache;
}

export interface MachineCpu {
  /** Busy CPU seconds in process context (user, nice, system), all cores, since boot. */
  tasks: number;
  /** Interrupt and softirq seconds (on loopback, mostly the benchmark's own TCP traffic). */
  irq: number;
  /** Seconds the hypervisor ran something else while a vCPU wanted to run. */
  steal: number;
}

/** Machine CPU since boot from /proc/stat, split so that the kernel's packet processing (irq and
 * softirq, caused by the benchmark's own traffic) is not mistaken for other processes' work. */
export function machineCpu(): MachineCpu {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const hz = userHz();
  const at = (i: number): number => v[i] ?? 0;
  // user nice system idle iowait irq softirq steal guest guest_nice; guest is inside user already
  return { tasks: (at(0) + at(1) + at(2) - at(8) - at(9)) / hz, irq: (at(5) + at(6)) / hz, steal: at(7) / hz };
}

/** Busy seconds of one core since boot (everything but idle and iowait: processes, irq, softirq,
 * steal), from its `cpuN` line in /proc/stat; NaN if there is no such core. */
export function coreBusySeconds(core: number): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l: string) => l.startsWith(`cpu${core} `));
  if (line === undefined) return NaN;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const at = (i: number): number => v[i] ?? 0;
  const all = v.reduce((a: number, b: number) => a + b, 0) - at(8) - at(9); // guest is inside user
  return (all - at(3) - at(4)) / userHz();
}
