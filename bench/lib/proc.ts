// Reads process figures from /proc so the orchestrator can measure servers and generators from
// outside, the same way for every process (no cooperation from the server needed).

import { readdirSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

let clockTicks = 0;

/** Kernel clock ticks per second (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
function ticksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface CpuTimes {
  user: number;
  sys: number;
}

/** User and system CPU seconds of a process, all its threads included. Split because on loopback
 * most of a socket server's CPU is kernel time (the receiver's TCP path runs in the sender's
 * context), which is the same for any server; user time is where implementations differ. */
export function cpuTimes(pid: number): CpuTimes {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may contain spaces or parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const hz = ticksPerSecond();
  return { user: Number(fields[11]) / hz, sys: Number(fields[12]) / hz }; // fields 14, 15 of stat(5)
}

/** User + system CPU seconds of a process. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}

/** Resident set size in KiB (VmRSS of /proc/<pid>/status). */
export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (m === null || m[1] === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  ramGiB: number;
  kernel: string;
  bun: string;
}

export function machineInfo(): MachineInfo {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo);
  const mem = /^MemTotal:\s+(\d+)\s+kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
  let nproc = 0;
  try {
    nproc = Number(execFileSync("nproc", [], { encoding: "utf8" }).trim());
  } catch {
    nproc = (cpuinfo.match(/^processor\s*:/gm) ?? []).length;
  }
  return {
    nproc,
    cpuModel: model?.[1]?.trim() ?? "unknown",
    ramGiB: mem?.[1] !== undefined ? Math.round((Number(mem[1]) / 1048576) * 10) / 10 : 0,
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    bun: Bun.version,
  };
}

/** CPU seconds spent busy by the whole machine (all cores) since boot, from /proc/stat. Compared
 * with the server's and generators' own CPU it shows whether anything else ran during a window. */
export function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a: number, b: number) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  // guest time is already included in user time: subtract it so it is not counted twice
  const guest = (v[8] ?? 0) + (v[9] ?? 0);
  return (total - guest - idle) / ticksPerSecond();
}

/** CPU seconds (user + sys) per thread name of a process, threads of one name summed, its main
 * thread as "main" (/proc/<pid>/task/<tid>/stat): which threads took the time. */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = tid === String(pid) ? "main" : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / ticksPerSecond());
    } catch {
      // thread gone
    }
  }
  return out;
}

/** Per-thread CPU seconds spent between two `threadCpuSeconds` snapshots, busiest first (only those that ran). */
export function threadCpuDiff(a: Map<string, number>, b: Map<string, number>): Array<[string, number]> {
  const d: Array<[string, number]> = [];
  for (const [k, v] of b) d.push([k, v - (a.get(k) ?? 0)]);
  return d.filter(([, v]) => v > 0.005).sort((x, y) => y[1] - x[1]);
}
