// RELIABILITY T13, SQLite contention: a Bun Worker holds a SECOND connection to the server's SQLite
// file and writes in a loop (BEGIN IMMEDIATE, busy timeout) while viewers chat as fast as their acks
// come back and moderation actions run through the API. Guards: no SQLITE_BUSY reaches a user (every
// chat:send acknowledged, no error reply, every moderation call answered 200), nothing acknowledged is
// missing afterwards, and the WAL file stays bounded. The worker is always stopped by a message and
// ends between transactions, never terminated mid-query.
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join as joinPath } from "node:path";
import type { Channel, Socket } from "phoenix";
import { spawnOwnServer } from "../support/chat-kill-loop.ts";
import { connect, join } from "../support/phoenix.ts";
import type { ServerProcess } from "../support/process-server.ts";
import { removeDir, tempDir } from "../support/server.ts";
import type { WorkerStart, WorkerStats } from "../support/sqlite-contention-worker.ts";
import { deferred } from "../support/wait.ts";

const SLUG = "contention";
const WAL_BOUND = 64 * 1024 * 1024;
/** Far past the server connection's busy_timeout (src/db/sqlite.ts: 200 ms now, 5000 ms before). */
const LONG_HOLD_MS = 6500;

const servers: ServerProcess[] = [];
const dirs: string[] = [];
const sockets: Socket[] = [];
const workers: Array<{ stop(): Promise<WorkerStats> }> = [];

afterAll(async () => {
  for (const so of sockets) so.disconnect();
  // Only after a failure half-way: stop leftover workers between transactions, then the servers.
  for (const w of workers) await Promise.race([w.stop().catch(() => {}), Bun.sleep(15_000)]);
  for (const p of servers) await p.kill();
  for (const d of dirs) removeDir(d);
});

async function server(): Promise<{ p: ServerProcess; file: string }> {
  const dataDir = tempDir("hubbub-contention-");
  dirs.push(dataDir);
  const p = await spawnOwnServer({ dataDir });
  servers.push(p);
  const created = await p.api("POST", "/api/v1/streams", {
    slug: SLUG,
    title: "Contention",
    // Nothing may be refused by the rules: only storage can fail here.
    settings: { rate_limit: { messages: 10000, per_s: 1 }, link_policy: "allow" },
  });
  expect(created.status).toBe(201);
  return { p, file: joinPath(dataDir, "hubbub.sqlite") };
}

/** Starts the competing writer; stop() asks it to finish its transaction and waits for the thread to end. */
function startWorker(o: WorkerStart) {
  const w = new Worker(new URL("../support/sqlite-contention-worker.ts", import.meta.url).href);
  const locked = deferred<void>();
  const started = deferred<void>();
  const done = deferred<WorkerStats>();
  const closed = new Promise<void>((r) => w.addEventListener("close", () => r()));
  w.onmessage = (e: MessageEvent) => {
    if (e.data.type === "locked") locked.resolve();
    if (e.data.type === "started") started.resolve();
    if (e.data.type === "done") done.resolve(e.data.stats);
  };
  w.onerror = (e) => {
    const err = new Error(`contention worker failed: ${e.message}`);
    locked.reject(err);
    started.reject(err);
    done.reject(err);
  };
  w.postMessage(o);
  let stopping: Promise<WorkerStats> | null = null;
  const handle = {
    locked: locked.promise,
    started: started.promise,
    stop: () =>
      (stopping ??= (async () => {
        w.postMessage({ type: "stop" });
        const stats = await done.promise;
        await closed;
        workers.splice(workers.indexOf(handle), 1);
        return stats;
      })()),
  };
  workers.push(handle);
  return handle;
}

async function chatters(p: ServerProcess, n: number): Promise<Array<{ ch: Channel; id: string }>> {
  const out: Array<{ ch: Channel; id: string }> = [];
  for (let i = 0; i < n; i++) {
    const id = `chatter-${i}`;
    const so = connect(p.ws, { token: await p.token(id) });
    sockets.push(so);
    out.push({ ch: so.channel(`stream:${SLUG}`, {}), id });
  }
  await Promise.all(out.map((c) => join(c.ch)));
  return out;
}

function send(ch: Channel, body: string): Promise<{ status: string; response: any }> {
  return new Promise((resolve) => {
    ch.push("chat:send", { body, nonce: body.replace(/\s/g, "_") }, 60_000)
      .receive("ok", (r: unknown) => resolve({ status: "ok", response: r }))
      .receive("error", (r: unknown) => resolve({ status: "error", response: r }))
      .receive("timeout", () => resolve({ status: "timeout", response: null }));
  });
}

/** After a clean stop: integrity ok, seq 1..N, and every ack stored with its seq and sender. */
function checkFile(file: string, acks: Array<{ id: string; seq: number }>): void {
  const db = new Database(file, { readonly: true });
  try {
    expect(db.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
    const id = db.query<{ id: string }, [string]>("SELECT id FROM streams WHERE slug = ?").get(SLUG)!.id;
    const rows = db.query<{ seq: number; user_id: string | null }, [string]>("SELECT seq, user_id FROM messages WHERE stream_id = ? ORDER BY seq").all(id);
    expect(rows.length).toBe(acks.length);
    expect(rows.every((r, i) => r.seq === i + 1)).toBe(true);
    const bySeq = new Map(rows.map((r) => [r.seq, r.user_id]));
    expect(acks.filter((a) => bySeq.get(a.seq) !== a.id)).toEqual([]);
    expect(db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM contention_probe").get()!.n).toBeGreaterThan(0);
  } finally {
    db.close();
  }
}

test("a second writer in a loop and moderation actions during peak chat: every send acked, no error reply, WAL bounded", async () => {
  const CHATTERS = 30;
  const PER_CHATTER = 150;
  const { p, file } = await server();

  // WAL size, sampled while everything runs (a measurement, not a wait).
  let walMax = 0;
  const walSize = () => (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
  const sampler = setInterval(() => (walMax = Math.max(walMax, walSize())), 20);

  // The competing writer: short transactions, every 10th a slow one, a short pause between.
  const worker = startWorker({ type: "start", file, holdMs: 1, longHoldMs: 20, gapMs: 2 });
  await worker.started;

  const cs = await chatters(p, CHATTERS);
  const acks: Array<{ id: string; body: string; seq: number }> = [];
  const bad: unknown[] = [];
  let chatting = true;
  const chat = Promise.all(
    cs.map(async (c, i) => {
      for (let n = 0; n < PER_CHATTER; n++) {
        const body = `c${i} m${n}`;
        const r = await send(c.ch, body);
        if (r.status === "ok" && r.response?.status === "published") acks.push({ id: c.id, body, seq: r.response.seq });
        else bad.push({ body, ...r });
      }
    }),
  ).finally(() => (chatting = false));

  // Moderation through the API at the same time, on viewers who are not chatting.
  const modResults: Array<{ action: string; status: number; body: unknown }> = [];
  const moderation = (async () => {
    const actions = [
      () => ({ action: "timeout", user_id: "victim-1", duration_s: 60, reason: "contention" }),
      () => ({ action: "unban", user_id: "victim-1" }),
      () => ({ action: "ban", user_id: "victim-2", reason: "contention" }),
      () => ({ action: "unban", user_id: "victim-2" }),
      () => ({ action: "clear", user_id: "victim-3" }),
      () => ({ action: "announce", body: "moderation under load" }),
      // Deleting a chatter's message turns it into a tombstone; it does not stop anyone chatting.
      () => (acks.length ? { action: "delete", seq: acks[acks.length - 1]!.seq, reason: "contention" } : { action: "clear", user_id: "victim-3" }),
    ];
    for (let k = 0; chatting && k < 5000; k++) {
      const body = actions[k % actions.length]!();
      const r = await p.api("POST", `/api/v1/streams/${SLUG}/moderation`, body);
      modResults.push({ action: body.action, status: r.status, body: r.body });
    }
  })();
  await Promise.all([chat, moderation]);

  const stats = await worker.stop();
  clearInterval(sampler);
  const walAtEnd = walSize();
  walMax = Math.max(walMax, walAtEnd);
  console.log(
    `T13: ${acks.length} acks, ${modResults.length} moderation calls; worker ${stats.commits} commits, busy ${stats.busy}, ` +
      `max lock wait ${stats.maxLockWaitMs.toFixed(1)} ms; WAL max ${(walMax / 1048576).toFixed(2)} MiB, at end ${(walAtEnd / 1048576).toFixed(2)} MiB`,
  );

  expect(bad.slice(0, 5)).toEqual([]);
  expect(acks.length).toBe(CHATTERS * PER_CHATTER);
  expect(modResults.filter((m) => m.status !== 200).slice(0, 5)).toEqual([]);
  expect(modResults.length).toBeGreaterThan(0);
  expect(stats.commits).toBeGreaterThan(0); // the second writer really wrote
  expect(stats.otherErrors).toEqual([]);
  expect(walMax).toBeLessThan(WAL_BOUND);

  for (const so of sockets.splice(0)) so.disconnect();
  p.proc.kill("SIGTERM");
  expect(await p.exitCode).toBe(0);
  checkFile(file, acks);
}, 120_000);

// A writer that keeps the lock far longer than the server connection's busy timeout (a slow batch, a
// big purge, a backup step) must delay acknowledgements and moderation answers, never turn into an
// error for the viewer ("unavailable"), the API caller (503/500) or the moderator's socket (a crashed
// channel): the server has to wait it out (on a timer) instead of handing SQLITE_BUSY to users.
test("a writer holding the lock for seconds delays sends and moderation, never fails them", async () => {
  const { p, file } = await server();
  const cs = await chatters(p, 5);
  // A moderator on the socket: an account linked to a viewer id, assigned to the stream.
  const acc = await p.api("POST", "/api/v1/accounts", { username: "lockmod", password: "correct horse battery", role: "moderator", viewer_id: "lock-mod" });
  expect(acc.status).toBe(201);
  expect((await p.api("PUT", `/api/v1/streams/${SLUG}/moderators/lockmod`)).status).toBe(200);
  const modSo = connect(p.ws, { token: await p.token("lock-mod") });
  sockets.push(modSo);
  const modCh = modSo.channel(`stream:${SLUG}`, {});
  const channelErrors: unknown[] = [];
  modCh.onError((e: unknown) => void channelErrors.push(e));
  expect((await join(modCh)).me.role).toBe("moderator");
  /** A mod:* push: its reply, or the channel's crash (a push on a crashed channel is never answered). */
  const modPush = (event: string, payload: object) =>
    new Promise<string>((resolve) => {
      const ref = modCh.onError(() => resolve("channel crashed"));
      modCh.push(event, payload, 60_000)
        .receive("ok", () => resolve("ok"))
        .receive("error", (r: any) => resolve(`error:${r?.reason}`))
        .receive("timeout", () => resolve("timeout"));
      void ref;
    });

  const worker = startWorker({ type: "start", file, firstHoldMs: LONG_HOLD_MS, holdMs: 1, longHoldMs: 1, gapMs: 5 });
  await worker.locked;
  // All of this arrives while the worker holds the write lock.
  const [replies, api, socket] = await Promise.all([
    Promise.all(cs.map((c, i) => send(c.ch, `while locked ${i}`))),
    Promise.all([
      p.api("POST", `/api/v1/streams/${SLUG}/moderation`, { action: "timeout", user_id: "victim-9", duration_s: 60, reason: "while locked" }),
      p.api("POST", `/api/v1/streams/${SLUG}/moderation`, { action: "announce", body: "while locked" }),
    ]),
    Promise.all([modPush("mod:ban", { user_id: "victim-8", reason: "while locked" }), modPush("mod:announce", { body: "from the socket, while locked" })]),
  ]);
  const stats = await worker.stop();
  expect(stats.maxHoldMs).toBeGreaterThanOrEqual(LONG_HOLD_MS);
  expect({
    sends: replies.map((r) => `${r.status}:${r.response?.status ?? r.response?.reason}`),
    api: api.map((r) => `${r.status} ${r.status === 200 ? "" : JSON.stringify(r.body)}`.trim()),
    socket,
    channelErrors,
  }).toEqual({
    sends: cs.map(() => "ok:published"),
    api: ["200", "200"], // timeout, announce
    socket: ["ok", "ok"], // mod:ban, mod:announce
    channelErrors: [],
  });

  for (const so of sockets.splice(0)) so.disconnect();
  p.proc.kill("SIGTERM");
  expect(await p.exitCode).toBe(0);
  checkFile(file, replies.map((r, i) => ({ id: cs[i]!.id, seq: r.response?.seq })));
}, 120_000);
