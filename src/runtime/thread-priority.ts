// Background threads yield the CPU to the socket thread. DuckDB's `threads` setting bounds its own
// parallelism, but a query still runs on one of Bun's pool threads in this process, and when the
// server has one core (a container with cpus=1, or the benchmarks' taskset) that thread and the
// socket thread share it as equals: chat delivery waited behind reports (bench/RESULTS.md, issue 6).
// Linux lets a thread lower its own (or a sibling's) priority without privileges: setpriority() on
// a thread id sets that thread's nice value. Elsewhere this does nothing.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Nice value for background threads: they still get ~10% of a contended core, so flushes go on. */
export const BACKGROUND_NICE = 10;

let setpriority: ((which: number, who: number, prio: number) => number) | null | undefined;

function api(): typeof setpriority {
  if (setpriority !== undefined) return setpriority;
  setpriority = null;
  if (process.platform !== "linux") return null;
  try {
    // bun:ffi is loaded only here, on Linux; the symbol is in every glibc and musl.
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    for (const lib of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"]) {
      try {
        const { symbols } = dlopen(lib, { setpriority: { args: [FFIType.i32, FFIType.u32, FFIType.i32], returns: FFIType.i32 } });
        setpriority = (which, who, prio) => symbols.setpriority(which, who, prio) as number;
        break;
      } catch {}
    }
  } catch {}
  return setpriority;
}

const PRIO_PROCESS = 0; // with a thread id: that thread only (Linux)

/** Lowers one thread's priority; false when not possible here. */
export function lowerThread(tid: number, nice = BACKGROUND_NICE): boolean {
  const f = api();
  return f ? f(PRIO_PROCESS, tid, nice) === 0 : false;
}

/** The calling thread's id (Linux), or null. */
export function currentThreadId(): number | null {
  try {
    return Number(readlinkSync("/proc/thread-self").split("/").pop());
  } catch {
    return null;
  }
}

/** Thread ids of this process whose name starts with `prefix` (e.g. Bun's "Bun Pool" threads). */
export function threadsNamed(prefix: string): number[] {
  const out: number[] = [];
  try {
    for (const t of readdirSync("/proc/self/task")) {
      try {
        if (readFileSync(`/proc/self/task/${t}/comm`, "utf8").startsWith(prefix)) out.push(Number(t));
      } catch {} // ended meanwhile
    }
  } catch {}
  return out;
}

/**
 * Keeps a set of threads at background priority: the pool threads DuckDB's queries run on appear
 * lazily (and may be replaced), so each call lowers the ones not seen before. Cheap: one directory
 * read and a few tiny files.
 */
export class BackgroundThreads {
  private done = new Set<number>();

  constructor(private prefixes: string[], private nice = BACKGROUND_NICE) {}

  /** Lowers the calling thread too. */
  lowerSelf(): void {
    const tid = currentThreadId();
    if (tid !== null && !this.done.has(tid) && lowerThread(tid, this.nice)) this.done.add(tid);
  }

  refresh(): void {
    for (const p of this.prefixes) {
      for (const tid of threadsNamed(p)) {
        if (this.done.has(tid)) continue;
        this.done.add(tid);
        lowerThread(tid, this.nice);
      }
    }
  }
}
