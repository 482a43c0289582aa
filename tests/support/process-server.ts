// Hubbub as a child process (`bun src/cli.ts serve`), for what an in-process server cannot show:
// signals, exit codes, restarts on the same port and data folder, and the real stdout/stderr.
import type { Subprocess } from "bun";
import { join, resolve } from "node:path";
import { mintViewerToken } from "../../src/identity/viewer-token.ts";
import { ADMIN_KEY, ADMIN_PASSWORD, apiCall, TOKEN_SECRET, freePortCandidate, tempDir, testEnv } from "./server.ts";
import { waitFor } from "./wait.ts";

export const REPO = resolve(import.meta.dir, "../..");
export const BUN = join(REPO, "node_modules/.bin/bun");

export interface ServerProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  port: number;
  http: string;
  ws: string;
  dataDir: string;
  env: Record<string, string>;
  /** Everything the process wrote so far. */
  stdout(): string;
  stderr(): string;
  exitCode: Promise<number>;
  api(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: any }>;
  token(sub: string, extra?: Record<string, unknown>, ttlS?: number): Promise<string>;
  /** SIGKILL if still running, and wait for the exit. Safe to call twice. */
  kill(): Promise<void>;
}

export interface SpawnOptions {
  env?: Record<string, string | undefined>; // undefined removes a default (e.g. HUBBUB_ADMIN_PASSWORD)
  dataDir?: string;
  port?: number; // fixed port (a restart); otherwise a free one is searched
  readyTimeoutMs?: number;
}

/** Starts `hubbub serve` and waits until GET /readyz answers 200. */
export async function spawnServer(o: SpawnOptions = {}): Promise<ServerProcess> {
  const dataDir = o.dataDir ?? tempDir("hubbub-proc-");
  let lastErr: unknown;
  // A random port may be taken; a fixed port may still be held a moment by a killed predecessor.
  for (let attempt = 0; attempt < 10; attempt++) {
    const port = o.port ?? freePortCandidate();
    const sp = start(port, dataDir, o.env ?? {});
    try {
      await waitFor(
        "GET /readyz 200 from the child server",
        async () => {
          if (sp.exited !== null) throw new Error(`server exited with ${sp.exited} before ready:\n${sp.stderr()}\n${sp.stdout()}`);
          try {
            // Our child's own listening line too: a 200 from another run's server on this port is not ours.
            const r = await fetch(`${sp.http}/readyz`);
            return r.status === 200 && sp.stderr().includes("Hubbub listening on");
          } catch {
            return false;
          }
        },
        o.readyTimeoutMs ?? 20_000,
      );
      return sp;
    } catch (e) {
      lastErr = e;
      await sp.kill();
      if (!/EADDRINUSE|in use/i.test(sp.stderr() + sp.stdout())) throw e;
      if (o.port !== undefined) await Bun.sleep(200 * (attempt + 1)); // back-off before retrying the same port
    }
  }
  throw lastErr;
}

function start(port: number, dataDir: string, extra: Record<string, string | undefined>): ServerProcess & { exited: number | null } {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/tmp",
    ...testEnv(port, dataDir, { HUBBUB_LOG_LEVEL: "info", HUBBUB_CONNECT_RATE_PER_IP: "0" }),
  };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const proc = Bun.spawn([BUN, "src/cli.ts", "serve"], { cwd: REPO, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const out: string[] = [];
  const err: string[] = [];
  const drain = async (stream: ReadableStream<Uint8Array>, into: string[]) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) into.push(dec.decode(chunk, { stream: true }));
  };
  const outDone = drain(proc.stdout, out);
  const errDone = drain(proc.stderr, err);
  const http = `http://127.0.0.1:${port}`;
  const sp: ServerProcess & { exited: number | null } = {
    proc,
    port,
    http,
    ws: `ws://127.0.0.1:${port}/socket`,
    dataDir,
    env,
    exited: null,
    stdout: () => out.join(""),
    stderr: () => err.join(""),
    // The exit code once both pipes are read to the end, so the captured output is complete.
    exitCode: proc.exited.then(async (code) => {
      await Promise.allSettled([outDone, errDone]);
      sp.exited = code;
      return code;
    }),
    api: (method, path, body, key = ADMIN_KEY) => apiCall(http, method, path, body, key),
    token: (sub, extraClaims = {}, ttlS = 3600) => mintViewerToken(env.HUBBUB_VIEWER_TOKEN_SECRET ?? TOKEN_SECRET, { sub, name: `Viewer ${sub}`, ...extraClaims }, ttlS),
    async kill() {
      if (sp.exited === null) proc.kill("SIGKILL");
      await sp.exitCode;
    },
  };
  void sp.exitCode;
  return sp;
}

export { ADMIN_KEY, ADMIN_PASSWORD, TOKEN_SECRET };
