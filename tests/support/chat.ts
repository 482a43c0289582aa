// Helpers for the chat tests: a server that can restart in place (same port, same data folder,
// optionally a hand-driven clock), viewers on the official phoenix client that record what they
// receive with each frame's join_ref, linked moderator/creator accounts, the chat API read back in
// every export format, and a small RFC 4180 CSV parser.
import { startApp, type App, type StartOptions } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { mintViewerToken } from "../../src/identity/viewer-token.ts";
import { silentLogger } from "../../src/runtime/logger.ts";
import type { ManualClock } from "./identity.ts";
import { connect, push, type Channel, type Socket } from "./phoenix.ts";
import { ADMIN_KEY, ADMIN_PASSWORD, apiCall, freePortCandidate, removeDir, tempDir, testEnv, TOKEN_SECRET } from "./server.ts";
import { deferred, waitFor } from "./wait.ts";

export interface ChatServer {
  app: App;
  port: number;
  http: string;
  ws: string;
  dataDir: string;
  clock: ManualClock | null;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers; text: string }>;
  token(sub: string, extra?: Record<string, unknown>): Promise<string>;
  createStream(slug: string, settings?: Record<string, unknown>, owner?: string): Promise<any>;
  settings(slug: string, settings: Record<string, unknown>): Promise<void>;
  /** Stops (drain: sockets closed with 1012) and starts again on the same port and data folder. */
  restart(): Promise<ChatServer>;
  stop(): Promise<void>;
  /** Stops and removes the data folder. */
  dispose(): Promise<void>;
}

export interface ChatServerOptions {
  env?: Record<string, string>;
  clock?: ManualClock;
  dataDir?: string;
  port?: number;
  /** Workers obey injected faults (tests of supervision). */
  faultInjection?: boolean;
  /** The app's other test-only start options (StartOptions). */
  start?: Pick<StartOptions, "analyticsUnresponsiveMs" | "eraseWaitMs">;
}

export async function startChatServer(opts: ChatServerOptions = {}): Promise<ChatServer> {
  const dataDir = opts.dataDir ?? tempDir("hubbub-chat-");
  let lastErr: unknown;
  // A fixed port (a restart) may take a moment to be free again; a random one may be taken.
  for (let attempt = 0; attempt < 40; attempt++) {
    const port = opts.port ?? freePortCandidate();
    // Many sockets from 127.0.0.1 in a short time: the per-IP connect rate is not under test here.
    const env = testEnv(port, dataDir, { HUBBUB_CONNECT_RATE_PER_IP: "0", ...opts.env });
    try {
      const app = await startApp(loadConfig(env), { logger: silentLogger, announce: () => {}, faultInjection: opts.faultInjection, ...opts.start, ...(opts.clock ? { clock: opts.clock } : {}) });
      return wrap(app, { ...opts, dataDir, port: app.port });
    } catch (e) {
      lastErr = e;
      if (!/EADDRINUSE|in use/i.test(String(e))) break;
      // Waiting for the port, not for the server: a retry interval, at most 40 of them.
      if (opts.port !== undefined) await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (opts.dataDir === undefined) removeDir(dataDir);
  throw lastErr;
}

function wrap(app: App, opts: ChatServerOptions & { dataDir: string; port: number }): ChatServer {
  const http = `http://127.0.0.1:${app.port}`;
  const s: ChatServer = {
    app,
    port: app.port,
    http,
    ws: `ws://127.0.0.1:${app.port}/socket`,
    dataDir: opts.dataDir,
    clock: opts.clock ?? null,
    api: (method, path, body) => apiCall(http, method, path, body),
    token: (sub, extra = {}) => mintViewerToken(TOKEN_SECRET, { sub, name: sub, ...extra }, 3600),
    async createStream(slug, settings, owner) {
      const r = await s.api("POST", "/api/v1/streams", { slug, title: `Stream ${slug}`, ...(settings ? { settings } : {}), ...(owner ? { owner } : {}) });
      if (r.status !== 201) throw new Error(`createStream ${slug}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    async settings(slug, settings) {
      const r = await s.api("PATCH", `/api/v1/streams/${slug}`, { settings });
      if (r.status !== 200) throw new Error(`PATCH ${slug} settings: ${r.status} ${JSON.stringify(r.body)}`);
    },
    async restart() {
      await app.stop();
      return startChatServer({ ...opts, port: app.port });
    },
    stop: () => app.stop(),
    async dispose() {
      await app.stop();
      removeDir(opts.dataDir);
    },
  };
  return s;
}

// ---- accounts linked to viewer ids ----

/** An account linked to a viewer id; a moderator is also assigned to the given streams. */
export async function linkedAccount(s: ChatServer, username: string, role: "moderator" | "creator" | "admin", viewerId: string, moderates: string[] = []): Promise<{ id: string; username: string }> {
  const r = await s.api("POST", "/api/v1/accounts", { username, password: "correct horse battery", role, viewer_id: viewerId });
  if (r.status !== 201) throw new Error(`account ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  for (const slug of moderates) {
    const m = await s.api("PUT", `/api/v1/streams/${slug}/moderators/${username}`);
    if (m.status !== 200) throw new Error(`moderator ${username} of ${slug}: ${m.status} ${JSON.stringify(m.body)}`);
  }
  return { id: r.body.id, username };
}

// ---- viewers ----

export interface Received {
  topic: string;
  event: string;
  payload: any;
  joinRef: string | null;
  at: number; // Date.now() when the client got it
}

/** A phoenix socket that records every frame it receives (with the frame's own join_ref). */
export interface Viewer {
  socket: Socket;
  frames: Received[];
  /** Joins a topic; `params` may be a function (re-evaluated on every rejoin). */
  join(topic: string, params?: Record<string, unknown> | (() => Record<string, unknown>)): Promise<Joined>;
  close(): void;
}

export interface Joined {
  ch: Channel;
  topic: string;
  /** Every join reply, the first and each automatic rejoin's. */
  replies: any[];
  /** chat:new, chat:delete, chat:clear, notice, announcement, stream:update on this topic, in order. */
  events: Received[];
  news(): any[];
  send(payload: Record<string, unknown>): Promise<{ status: string; response: any }>;
  /** The ok response of a chat:send, or throws with the refusal. */
  publish(body: string, extra?: Record<string, unknown>): Promise<any>;
  waitNew(pred: (m: any) => boolean, what: string, timeoutMs?: number): Promise<any>;
  waitEvent(event: string, pred: (p: any) => boolean, what: string, timeoutMs?: number): Promise<Received>;
  joinRef(): string;
}

const CHAT_EVENTS = ["chat:new", "chat:delete", "chat:clear", "notice", "announcement", "stream:update"];

export function viewer(url: string, token?: string | null, socketOpts: Record<string, unknown> = {}): Viewer {
  const socket = connect(url, token ? { token } : {}, socketOpts);
  const frames: Received[] = [];
  socket.onMessage((m: any) => void frames.push({ topic: m.topic, event: m.event, payload: m.payload, joinRef: m.join_ref ?? null, at: Date.now() }));
  return {
    socket,
    frames,
    join: (topic, params = {}) => joinTracked(socket, topic, params),
    close: () => socket.disconnect(),
  };
}

export function joinTracked(socket: Socket, topic: string, params: Record<string, unknown> | (() => Record<string, unknown>) = {}, setup?: (ch: Channel) => void): Promise<Joined> {
  const ch = socket.channel(topic, params as any);
  setup?.(ch);
  const replies: any[] = [];
  const events: Received[] = [];
  for (const e of CHAT_EVENTS) ch.on(e, (payload: any) => void events.push({ topic, event: e, payload, joinRef: null, at: Date.now() }));
  const first = deferred<Joined>();
  const j: Joined = {
    ch,
    topic,
    replies,
    events,
    news: () => events.filter((e) => e.event === "chat:new").map((e) => e.payload),
    send: (payload) => push(ch, "chat:send", payload),
    async publish(body, extra = {}) {
      const r = await push(ch, "chat:send", { body, ...extra });
      if (r.status !== "ok") throw new Error(`chat:send ${JSON.stringify(body).slice(0, 80)} refused: ${JSON.stringify(r.response)}`);
      return r.response;
    },
    waitNew: (pred, what, timeoutMs) => waitFor(what, () => j.news().find(pred), timeoutMs),
    waitEvent: (event, pred, what, timeoutMs) => waitFor(what, () => events.find((e) => e.event === event && pred(e.payload)), timeoutMs),
    joinRef: () => (ch as any).joinRef() as string,
  };
  ch.join(15_000)
    .receive("ok", (resp: any) => {
      replies.push(resp);
      first.resolve(j);
    })
    .receive("error", (resp: unknown) => first.reject(new Error(`join ${topic} refused: ${JSON.stringify(resp)}`)))
    .receive("timeout", () => first.reject(new Error(`join ${topic} timed out`)));
  return first.promise;
}

/**
 * A client that keeps what it saw and asks for exactly the gap on every rejoin, as PRODUCT.md tells
 * platform developers to: `params: () => ({last_seq, epoch})`, updated from join replies and chat:new.
 */
export interface RecoveringClient {
  viewer: Viewer;
  joined: Joined;
  /** Every seq seen, from join histories and chat:new, in arrival order (duplicates kept). */
  seen: number[];
  state: { last_seq: number | null; epoch: string | null };
}

export async function recoveringClient(url: string, topic: string, token?: string | null, socketOpts: Record<string, unknown> = {}): Promise<RecoveringClient> {
  const v = viewer(url, token, socketOpts);
  const state: { last_seq: number | null; epoch: string | null } = { last_seq: null, epoch: null };
  const seen: number[] = [];
  const params = () => (state.last_seq === null ? {} : { last_seq: state.last_seq, epoch: state.epoch });
  const joined = await joinTracked(v.socket, topic, params, (ch) => {
    // Every join reply (the first and each automatic rejoin's) answers the same join push.
    (ch as any).joinPush.receive("ok", (reply: any) => {
      for (const m of reply.history) seen.push(m.seq);
      state.last_seq = reply.seq;
      state.epoch = reply.epoch;
    });
    ch.on("chat:new", (m: any) => {
      seen.push(m.seq);
      state.last_seq = Math.max(state.last_seq ?? 0, m.seq);
    });
  });
  return { viewer: v, joined, seen, state };
}

export function closeAll(...vs: Array<Viewer | RecoveringClient | undefined>): void {
  for (const v of vs) {
    if (!v) continue;
    ("socket" in v ? v : v.viewer).socket.disconnect();
  }
}

// ---- the chat API ----

/** Every stored message (tombstones included) through the JSON API, oldest first. */
export async function chatHistory(s: ChatServer, slug: string): Promise<any[]> {
  const r = await s.api("GET", `/api/v1/streams/${slug}/chat?limit=1000`);
  if (r.status !== 200) throw new Error(`chat history ${slug}: ${r.status} ${r.text}`);
  if (r.body.next_cursor !== null) throw new Error("more than 1000 messages: page through them");
  return r.body.data;
}

export async function auditRows(s: ChatServer, slug: string, action?: string): Promise<any[]> {
  const r = await s.api("GET", `/api/v1/streams/${slug}/audit?limit=1000${action ? `&action=${encodeURIComponent(action)}` : ""}`);
  if (r.status !== 200) throw new Error(`audit ${slug}: ${r.status} ${r.text}`);
  return r.body.data;
}

/** RFC 4180: quoted fields with "" escapes, CRLF (or LF) row ends; returns rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      cell += c;
      i++;
      continue;
    }
    if (c === '"' && cell === "") {
      quoted = true;
      i++;
    } else if (c === ",") {
      row.push(cell);
      cell = "";
      i++;
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i += 2;
    } else if (c === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else {
      cell += c;
      i++;
    }
  }
  if (cell !== "" || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** CSV rows as objects keyed by the header row. */
export function csvObjects(text: string): Array<Record<string, string>> {
  const [header, ...rows] = parseCsv(text);
  if (!header) return [];
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ""])));
}

/** What the text rules of PRODUCT.md make of a body: trimmed and NFC. */
export function normalizedBody(s: string): string {
  return s.trim().normalize("NFC");
}
