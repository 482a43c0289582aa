// Starts the two servers under test, each pinned to the server core, and knows how to trigger a
// broadcast on each. A fresh process (and for hubbub a fresh data dir) per scenario, so no
// scenario inherits another's heap.

import type { Subprocess } from "bun";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { stopGroup, trackGroup } from "./cleanup.ts";

export type ServerKind = "raw" | "hubbub";

export const REPO_ROOT: string = join(import.meta.dir, "..", "..");

export interface PublishTarget {
  url: string;
  headers: Record<string, string>;
  extra: Record<string, string>;
}

export interface ServerHandle {
  kind: ServerKind;
  pid: number;
  port: number;
  logPath: string;
  /** HS256 secret for viewer tokens (raw ignores tokens; it gets one anyway so both sides see the same URLs). */
  tokenSecret: string;
  publish: PublishTarget;
  stop(): Promise<void>;
}

/** The env hubbub runs with; printed in the report because it changes behaviour (rate limit off). */
export const HUBBUB_FIXED_ENV: Record<string, string> = {
  HUBBUB_HOST: "127.0.0.1",
  HUBBUB_CONNECT_RATE_PER_IP: "0",
  HUBBUB_MAX_SOCKETS_PER_VIEWER: "1000",
  HUBBUB_LOG_LEVEL: "warn",
};

function secret(): string {
  return randomBytes(32).toString("base64url"); // 43 chars
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function waitReady(proc: Subprocess, port: number, logPath: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`server exited (code ${proc.exitCode}, signal ${proc.signalCode}) before ready:\n${tail(logPath, 20)}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(100);
  }
  throw new Error(`server on port ${port} not ready after ${timeoutMs} ms:\n${tail(logPath, 20)}`);
}

function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 12000); // below the 32768 ephemeral range
}

async function spawnOnce(kind: ServerKind, dir: string, cpu: string, port: number): Promise<ServerHandle> {
  const logPath = join(dir, `${kind}-${port}.log`);
  const tokenSecret = secret();
  const adminKey = secret();
  let argv: string[];
  let env: Record<string, string | undefined> = { ...process.env };
  if (kind === "raw") {
    argv = [process.execPath, join(REPO_ROOT, "bench", "raw-server.ts"), String(port)];
  } else {
    snapshotsSeen.add(hubbubSnapshot());
    const dataDir = join(dir, `hubbub-data-${port}`);
    mkdirSync(dataDir, { recursive: true });
    argv = [process.execPath, join(REPO_ROOT, "src", "cli.ts"), "serve"];
    env = {
      ...env,
      ...HUBBUB_FIXED_ENV,
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
    cwd: REPO_ROOT,
    env,
    stdin: "ignore",
    stdout: logFd,
    stderr: logFd,
    detached: true, // own process group: stop() reaches anything it forks
  });
  closeSync(logFd);
  trackGroup(proc.pid);
  const stop = (): Promise<void> => stopGroup(proc.pid);
  try {
    await waitReady(proc, port, logPath, kind === "raw" ? 15_000 : 60_000);
    let publish: PublishTarget;
    if (kind === "raw") {
      publish = { url: `http://127.0.0.1:${port}/publish`, headers: {}, extra: {} };
    } else {
      const headers = { authorization: `Bearer ${adminKey}` };
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/streams`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ slug: "bench", title: "Bench" }),
      });
      const text = await res.text();
      if (res.status !== 201 && res.status !== 200) throw new Error(`create stream: HTTP ${res.status} ${text.slice(0, 200)}`);
      publish = {
        url: `http://127.0.0.1:${port}/api/v1/streams/bench/moderation`,
        headers,
        extra: { action: "announce" },
      };
    }
    return { kind, pid: proc.pid, port, logPath, tokenSecret, publish, stop };
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}

/** Starts a server on a free port (retries a few random ports: another process may hold one). */
export async function startServer(kind: ServerKind, dir: string, cpu: string): Promise<ServerHandle> {
  let last: unknown = null;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      return await spawnOnce(kind, dir, cpu, randomPort());
    } catch (err: unknown) {
      last = err;
      // A port clash shows up as an early exit; anything else is unlikely to heal by retrying.
      if (!(err instanceof Error && /exited/.test(err.message) && /EADDRINUSE|in use/i.test(err.message))) break;
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}

/** Every Hubbub code snapshot a server was started from: more than one means src/ changed mid-run. */
export const snapshotsSeen = new Set<string>();

/** Identifies the Hubbub code measured: the repo may have no commit yet and src/ moves while we
 * benchmark, so hash every file under src/ (path + bytes) and note the newest change. */
export function hubbubSnapshot(): string {
  const root = join(REPO_ROOT, "src");
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(p);
    }
  };
  try {
    walk(root);
  } catch {
    return "src/ not found";
  }
  files.sort();
  const h = createHash("sha256");
  let newest = 0;
  for (const f of files) {
    h.update(f.slice(root.length)).update("\0").update(readFileSync(f));
    newest = Math.max(newest, statSync(f).mtimeMs);
  }
  return `sha256 ${h.digest("hex").slice(0, 16)} over ${files.length} files in src/, newest change ${new Date(newest).toISOString()}`;
}
