// Starting the servers of the per-issue benchmarks (bench/chat.ts, bench/reactions.ts): a raw Bun
// baseline script or Hubbub (`src/cli.ts serve` with a fresh data dir and fresh secrets), pinned
// with taskset, in its own process group, logging to a file; ready when /readyz answers 200 and
// the listening banner is in the log. A fresh server per measurement: no run inherits a heap.

import type { Subprocess } from "bun";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { stopGroup, trackGroup } from "./cleanup.ts";
import { secret, tail } from "./harness.ts";
import { HUBBUB_FIXED_ENV, REPO_ROOT } from "./servers.ts";

export type Kind = "raw" | "hubbub";

export interface BenchServer {
  kind: Kind;
  pid: number;
  port: number;
  logPath: string;
  /** HS256 secret for viewer tokens (both servers verify them). */
  tokenSecret: string;
  /** Hubbub's admin API key ("" for raw). */
  adminKey: string;
  stop(): Promise<void>;
}

export interface BenchServerSpec {
  /** The raw baseline: its script, the env variable it reads the token secret from, its banner. */
  rawScript: string;
  rawSecretEnv: string;
  rawBanner: string;
  /** Extra env for the raw baseline. */
  rawEnv?: Record<string, string>;
  /** Checkout to run Hubbub from (A/B a change; normally REPO_ROOT). */
  hubbubRoot: string;
  /** Run Hubbub under Bun's sampling profiler, writing the markdown profile here (null: off). */
  profileDir: string | null;
  /** Extra Hubbub env on top of HUBBUB_FIXED_ENV. */
  hubbubEnv?: Record<string, string>;
  /** After ready, before the server is handed out (Hubbub: create streams, ...). */
  setup?(srv: BenchServer): Promise<void>;
}

async function waitReady(proc: Subprocess, port: number, logPath: string, banner: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let ready = false;
  while (Date.now() < until) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`server exited (code ${proc.exitCode}, signal ${proc.signalCode}) before ready:\n${tail(logPath, 20)}`);
    }
    if (!ready) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        ready = res.status === 200;
      } catch {
        // not listening yet
      }
    }
    if (ready && readFileSync(logPath, "utf8").includes(banner)) return;
    await Bun.sleep(100);
  }
  throw new Error(`server on port ${port} not ready (/readyz 200 and "${banner}") after ${timeoutMs} ms:\n${tail(logPath, 20)}`);
}

async function spawnServer(kind: Kind, dir: string, cpu: string, port: number, spec: BenchServerSpec): Promise<BenchServer> {
  const logPath = join(dir, `${kind}-${port}.log`);
  const tokenSecret = secret();
  const adminKey = kind === "hubbub" ? secret() : "";
  let argv: string[];
  let env: Record<string, string | undefined> = { ...process.env };
  if (kind === "raw") {
    argv = [process.execPath, spec.rawScript, String(port)];
    env = { ...env, ...spec.rawEnv, [spec.rawSecretEnv]: tokenSecret };
  } else {
    const dataDir = join(dir, `hubbub-data-${port}`);
    mkdirSync(dataDir, { recursive: true });
    const prof = spec.profileDir === null ? [] : ["--cpu-prof-md", `--cpu-prof-dir=${spec.profileDir}`];
    argv = [process.execPath, ...prof, join(spec.hubbubRoot, "src", "cli.ts"), "serve"];
    env = {
      ...env,
      ...HUBBUB_FIXED_ENV,
      ...spec.hubbubEnv,
      HUBBUB_PORT: String(port),
      HUBBUB_DATA_DIR: dataDir,
      HUBBUB_ADMIN_API_KEY: adminKey,
      HUBBUB_ADMIN_PASSWORD: secret(),
      HUBBUB_VIEWER_TOKEN_SECRET: tokenSecret,
    };
  }
  // One append-mode descriptor for stdout and stderr so neither overwrites the other.
  const logFd = openSync(logPath, "a");
  const proc = Bun.spawn(["taskset", "-c", cpu, ...argv], {
    cwd: kind === "hubbub" ? spec.hubbubRoot : REPO_ROOT,
    env,
    stdin: "ignore",
    stdout: logFd,
    stderr: logFd,
    detached: true, // own process group: stop() reaches anything it forks
  });
  closeSync(logFd);
  trackGroup(proc.pid);
  // A profiled server writes its profile on exit: give it time.
  const stop = (): Promise<void> => stopGroup(proc.pid, kind === "hubbub" && spec.profileDir !== null ? 30_000 : 5000);
  const srv: BenchServer = { kind, pid: proc.pid, port, logPath, tokenSecret, adminKey, stop };
  try {
    await waitReady(proc, port, logPath, kind === "raw" ? spec.rawBanner : "Hubbub listening on", kind === "raw" ? 15_000 : 60_000);
    if (spec.setup !== undefined) await spec.setup(srv);
    return srv;
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}

/** Starts a server on a random port below the 32768 ephemeral range (retries on a port clash). */
export async function startBenchServer(kind: Kind, dir: string, cpu: string, spec: BenchServerSpec): Promise<BenchServer> {
  if (spec.profileDir !== null) mkdirSync(spec.profileDir, { recursive: true });
  let last: unknown = null;
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    try {
      return await spawnServer(kind, dir, cpu, port, spec);
    } catch (err: unknown) {
      last = err;
      if (!(err instanceof Error && /exited/.test(err.message) && /EADDRINUSE|in use/i.test(err.message))) break;
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}

/** Hubbub's JSON API with the server's admin key; throws on an unexpected status. */
export async function hubbubApi<T>(srv: BenchServer, method: string, path: string, body: unknown, okStatus: number[] = [200, 201]): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${srv.port}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${srv.adminKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (!okStatus.includes(res.status)) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return (text === "" ? null : JSON.parse(text)) as T;
}

/** Creates Hubbub streams (8 requests in flight), each with `settings`. */
export async function createStreams(srv: BenchServer, slugs: string[], title: string, settings: Record<string, unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < slugs.length) {
      const slug = slugs[next++] as string;
      await hubbubApi(srv, "POST", "/streams", { slug, title: `${title} ${slug}`, settings });
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, slugs.length) }, lane));
}
