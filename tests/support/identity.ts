// Helpers for the identity, API, CLI and config tests: a server with a hand-driven clock (so rate
// limits do not refill while a slow machine runs the test), socket URLs, the phoenix client's
// connection events, and running the `hubbub` CLI as a child process.
import { join } from "node:path";
import { startApp, type App } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/runtime/logger.ts";
import type { Socket } from "./phoenix.ts";
import { ADMIN_KEY, ADMIN_PASSWORD, apiCall, freePortCandidate, removeDir, tempDir, testEnv, TOKEN_SECRET } from "./server.ts";

export const REPO = join(import.meta.dir, "..", "..");
export const BUN = join(REPO, "node_modules", ".bin", "bun");

/** A clock that moves only when told to. */
export class ManualClock {
  constructor(public t = Date.now()) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface ClockedServer {
  app: App;
  port: number;
  ws: string;
  dataDir: string;
  clock: ManualClock;
  stop(): Promise<void>;
}

/** Like startTestServer, but with a ManualClock: for connect-rate tests whose buckets must not refill. */
export async function startClockedServer(env: Record<string, string>, clock = new ManualClock()): Promise<ClockedServer> {
  const dataDir = tempDir();
  let lastErr: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = freePortCandidate();
    const config = loadConfig(testEnv(port, dataDir, env));
    try {
      const app = await startApp(config, { logger: silentLogger, announce: () => {}, clock });
      return {
        app,
        port: app.port,
        ws: `ws://127.0.0.1:${app.port}/socket`,
        dataDir,
        clock,
        async stop() {
          await app.stop();
          removeDir(dataDir);
        },
      };
    } catch (e) {
      lastErr = e;
      if (!/EADDRINUSE|in use/i.test(String(e))) {
        removeDir(dataDir);
        throw e;
      }
    }
  }
  removeDir(dataDir);
  throw lastErr;
}

/** The socket endpoint URL as phoenix.js builds it, with optional query params. */
export function socketUrl(base: string, params: Record<string, string> = {}): string {
  const q = new URLSearchParams({ ...params, vsn: "2.0.0" });
  return `${base}/websocket?${q}`;
}

/** The subprotocol phoenix >= 1.8 offers for `authToken`. */
export function authTokenProtocol(token: string): string {
  return `base64url.bearer.phx.${btoa(token).replace(/=/g, "")}`;
}

/** Records the phoenix client's transport events: opens, errors and closes (with their codes). */
export function connectionEvents(socket: Socket) {
  const ev = { opens: 0, errors: 0, closes: [] as number[] };
  socket.onOpen(() => {
    ev.opens++;
  });
  socket.onError(() => {
    ev.errors++;
  });
  socket.onClose((e: CloseEvent) => {
    ev.closes.push(e?.code ?? -1);
  });
  return ev;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `bun src/cli.ts ...args` with only the given HUBBUB_* variables (none inherited). */
export async function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("HUBBUB_")) base[k] = v;
  const proc = Bun.spawn([BUN, "src/cli.ts", ...args], { cwd: REPO, env: { ...base, ...env }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** An upgrade request expected to be refused: status, JSON body and headers (Retry-After). */
export async function refuseUpgrade(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url.replace(/^ws/, "http"), {
    headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", ...headers },
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, headers: res.headers };
}
