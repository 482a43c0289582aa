// Everything the benchmark starts or creates is registered here, so that a failure, Ctrl-C or a
// watchdog still kills the servers and generators and removes the temp dirs.
// Children run in their own process group (spawned detached): we signal the group, which also
// reaches anything a server might fork, and never anything by name.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const groups = new Set<number>();
const dirs = new Set<string>();
let keepDirs = false;

export function trackGroup(pid: number): void {
  groups.add(pid);
}

function trackDir(dir: string): void {
  dirs.add(dir);
}

function keepTempDirs(keep: boolean): void {
  keepDirs = keep;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polite stop: SIGTERM, then SIGKILL after `graceMs`. Bounded in time. */
export async function stopGroup(pid: number, graceMs = 3000): Promise<void> {
  signalGroup(pid, "SIGTERM");
  const until = Date.now() + graceMs;
  while (alive(pid) && Date.now() < until) await Bun.sleep(50);
  signalGroup(pid, "SIGKILL");
  groups.delete(pid);
}

export function removeDir(dir: string): void {
  if (!keepDirs) rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Synchronous last-resort cleanup (safe inside process.on("exit")). */
function cleanupNow(): void {
  for (const pid of groups) signalGroup(pid, "SIGKILL");
  groups.clear();
  if (!keepDirs) for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

/** A benchmark run's guard: cleanup at exit and on a signal, and a watchdog over the whole run. */
function guardRun(tag: string, watchdogMs: number): void {
  process.on("exit", cleanupNow);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      console.error(`\n[${tag}] ${sig}: stopping servers and generators`);
      cleanupNow();
      process.exit(130);
    });
  }
  setTimeout(() => {
    console.error(`[${tag}] watchdog: run exceeded ${watchdogMs / 60_000} min, aborting`);
    cleanupNow();
    process.exit(124);
  }, watchdogMs).unref();
}

/** A fresh temp dir, removed at cleanup (unless kept). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  trackDir(dir);
  return dir;
}

/**
 * Runs a benchmark under the guard: `--help` prints `usage`; otherwise the flags are parsed, temp
 * dirs kept if asked, and `main` runs; then cleanup, and exit with its code (1 if anything threw).
 */
export function runMain<O extends { keepTmp: boolean }>(tag: string, watchdogMs: number, usage: string, parse: (argv: string[]) => O, main: (opts: O) => Promise<number>): void {
  guardRun(tag, watchdogMs);
  const run = async (): Promise<number> => {
    if (process.argv.includes("--help")) {
      console.log(usage);
      return 0;
    }
    const opts = parse(process.argv.slice(2));
    keepTempDirs(opts.keepTmp);
    return main(opts);
  };
  run().then(
    (code: number) => {
      cleanupNow();
      process.exit(code);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      cleanupNow();
      process.exit(1);
    },
  );
}
