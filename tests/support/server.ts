// Starts a real Hubbub on a loopback port below 32768 with a fresh data folder, in this process.
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp, type App } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { mintViewerToken } from "../../src/identity/viewer-token.ts";
import { silentLogger } from "../../src/runtime/logger.ts";

export const ADMIN_KEY = "test-admin-key-0123456789abcdef";
export const TOKEN_SECRET = "test-viewer-secret-0123456789abcdef-xyz";
export const ADMIN_PASSWORD = "test-admin-password";

export interface TestServer {
  app: App;
  port: number;
  http: string;
  ws: string;
  dataDir: string;
  env: Record<string, string>;
  api(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: any; headers: Headers }>;
  token(sub: string, extra?: Record<string, unknown>, ttlS?: number): Promise<string>;
  createStream(slug: string, settings?: Record<string, unknown>): Promise<any>;
  stop(): Promise<void>;
}

/** The environment every test server starts from: loopback, known secrets, quiet logs. */
export function testEnv(port: number, dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HUBBUB_PORT: String(port),
    HUBBUB_HOST: "127.0.0.1",
    HUBBUB_DATA_DIR: dataDir,
    HUBBUB_ADMIN_API_KEY: ADMIN_KEY,
    HUBBUB_VIEWER_TOKEN_SECRET: TOKEN_SECRET,
    HUBBUB_ADMIN_PASSWORD: ADMIN_PASSWORD,
    HUBBUB_LOG_LEVEL: "error",
    ...extra,
  };
}

/** One JSON API call: status, parsed body (text when not JSON), headers and raw text. */
export async function apiCall(http: string, method: string, path: string, body?: unknown, key = ADMIN_KEY): Promise<{ status: number; body: any; headers: Headers; text: string }> {
  const res = await fetch(http + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers, text };
}

export function freePortCandidate(): number {
  return 12000 + Math.floor(Math.random() * 18000);
}

export function tempDir(prefix = "hubbub-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTestServer(env: Record<string, string> = {}, dataDir = tempDir(), opts: { faultInjection?: boolean } = {}): Promise<TestServer> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = Number(env.HUBBUB_PORT ?? freePortCandidate());
    const fullEnv = testEnv(port, dataDir, env);
    try {
      const app = await startApp(loadConfig(fullEnv), { logger: silentLogger, announce: () => {}, faultInjection: opts.faultInjection });
      return wrap(app, fullEnv, dataDir);
    } catch (e) {
      lastErr = e;
      if (env.HUBBUB_PORT || !/EADDRINUSE|in use/i.test(String(e))) throw e;
    }
  }
  throw lastErr;
}

function wrap(app: App, env: Record<string, string>, dataDir: string): TestServer {
  const http = `http://127.0.0.1:${app.port}`;
  const ts: TestServer = {
    app,
    port: app.port,
    http,
    ws: `ws://127.0.0.1:${app.port}/socket`,
    dataDir,
    env,
    api: (method, path, body, key = ADMIN_KEY) => apiCall(http, method, path, body, key),
    token: (sub, extra = {}, ttlS = 3600) => mintViewerToken(TOKEN_SECRET, { sub, name: `Viewer ${sub}`, ...extra }, ttlS),
    async createStream(slug, settings) {
      const r = await ts.api("POST", "/api/v1/streams", { slug, title: `Stream ${slug}`, ...(settings ? { settings } : {}) });
      if (r.status !== 201) throw new Error(`createStream ${slug}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    async stop() {
      await app.stop();
    },
  };
  return ts;
}

/** Rows of one query on a data folder's hubbub.sqlite, through a read-only connection of its own
 * (WAL: the running server's writes up to now are visible). */
export function readSqlite<T>(dataDir: string, sql: string): T[] {
  const db = new Database(join(dataDir, "hubbub.sqlite"), { readonly: true });
  try {
    return db.query<T, []>(sql).all();
  } finally {
    db.close();
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
