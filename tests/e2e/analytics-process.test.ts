// Analytics across process deaths (issue 6; RELIABILITY.md T2 and T14), with `hubbub serve` as a
// child process and the official phoenix client:
// - SIGTERM flushes: with a flush interval of ten minutes nothing reaches DuckDB before the signal,
//   yet after a restart the report has every message, reaction, vote and session, and every session
//   was closed by the drain;
// - kill -9 during ingest (clients chatting and reacting): the restarted server opens the DuckDB file
//   and reports; nothing is counted twice (never more than the clients saw acknowledged) and at most
//   the last flush interval is lost (everything acknowledged before a flush known to be stored is
//   there); ingest then resumes and is counted exactly once.
import { afterAll, describe, expect, test } from "bun:test";
import { duckQuery, metricValue, tally, type PushTally } from "../support/analytics.ts";
import { closeAll, viewer, type Joined, type Viewer } from "../support/chat.ts";
import { push } from "../support/phoenix.ts";
import { spawnServer, type ServerProcess } from "../support/process-server.ts";
import { removeDir } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

const SETTINGS = {
  rate_limit: { messages: 10000, per_s: 1 },
  reaction_rate: 1000,
  automod_level: 0,
  guests: { react: true, chat: false, vote: false },
};

const procs: ServerProcess[] = [];
const clients: Viewer[] = [];
const dirs = new Set<string>();

afterAll(async () => {
  closeAll(...clients);
  for (const p of procs) await p.kill();
  for (const d of dirs) removeDir(d);
});

async function start(env: Record<string, string>, dataDir?: string): Promise<ServerProcess> {
  const sp = await spawnServer({ env, dataDir, readyTimeoutMs: 30_000 });
  procs.push(sp);
  dirs.add(sp.dataDir);
  return sp;
}

/** SIGTERM and the exit code (the drain closes sockets with 1012, flushes and exits 0). */
async function terminate(sp: ServerProcess): Promise<number> {
  sp.proc.kill("SIGTERM");
  return await sp.exitCode;
}

async function join(sp: ServerProcess, slug: string, sub: string | null): Promise<{ v: Viewer; j: Joined }> {
  const v = viewer(sp.ws, sub ? await sp.token(sub) : null);
  clients.push(v);
  return { v, j: await v.join(`stream:${slug}`) };
}

async function ok(j: Joined, event: string, payload: Record<string, unknown>): Promise<void> {
  const r = await push(j.ch, event, payload);
  if (r.status !== "ok") throw new Error(`${event} refused: ${JSON.stringify(r.response)}`);
}

async function api(sp: ServerProcess, method: string, path: string, body?: unknown): Promise<any> {
  const r = await sp.api(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

describe("SIGTERM", () => {
  const FLUSH_NEVER = { HUBBUB_ANALYTICS_FLUSH_S: "600" }; // only the shutdown flush can store anything
  let sp2: ServerProcess;
  let bid = "";
  let pollId = "";

  test("flushes: events gathered since the last flush are in the report after a restart, sessions closed by the drain", async () => {
    const sp = await start(FLUSH_NEVER);
    await api(sp, "POST", "/api/v1/streams", { slug: "term-an", title: "t", settings: SETTINGS });
    bid = (await api(sp, "POST", "/api/v1/streams/term-an/live")).id;
    // Three viewers (two signed in, a guest); 5 messages from 2 chatters; 9 reactions; 2 votes.
    const a = await join(sp, "term-an", "term-a");
    const b = await join(sp, "term-an", "term-b");
    const g = await join(sp, "term-an", null);
    for (const body of ["one", "two", "three"]) await a.j.publish(body);
    for (const body of ["four", "five"]) await b.j.publish(body);
    for (let i = 0; i < 4; i++) await ok(a.j, "reaction:send", { emoji: "🔥" });
    for (let i = 0; i < 2; i++) await ok(b.j, "reaction:send", { emoji: "❤️" });
    for (let i = 0; i < 3; i++) await ok(g.j, "reaction:send", { emoji: "😂" });
    pollId = (await api(sp, "POST", "/api/v1/streams/term-an/polls", { question: "Which?", options: ["x", "y"], duration_s: 600 })).id;
    await ok(a.j, "poll:vote", { poll_id: pollId, option: 0 });
    await ok(b.j, "poll:vote", { poll_id: pollId, option: 1 });
    // Nothing is stored yet: gathered in memory only.
    expect(await metricValue(sp.http, "hubbub_analytics_events_flushed_total")).toBe(0);
    expect(await metricValue(sp.http, "hubbub_analytics_events_pending")).toBeGreaterThanOrEqual(3 + 5 + 9 + 2);
    const early = await api(sp, "GET", `/api/v1/broadcasts/${bid}/report`);
    expect([early.messages, early.unique_viewers, early.reactions.total]).toEqual([0, 0, 0]);

    expect(await terminate(sp)).toBe(0);
    // The drain closed the sockets with 1012; the clients would come back to the new server and start
    // new sessions: they are gone for good instead.
    closeAll(a.v, b.v, g.v);
    sp2 = await start(FLUSH_NEVER, sp.dataDir);
    const r = await api(sp2, "GET", `/api/v1/broadcasts/${bid}/report`);
    expect({ messages: r.messages, chatters: r.unique_chatters, reactions: r.reactions, votes: r.votes, viewers: r.unique_viewers, peak: r.peak_concurrent_viewers }).toEqual({
      messages: 5, chatters: 2, reactions: { total: 9, by_emoji: { "🔥": 4, "❤️": 2, "😂": 3 } }, votes: { [`${pollId}:0`]: 1, [`${pollId}:1`]: 1 }, viewers: 3, peak: 3,
    });
    // Still live (a restart does not end a broadcast): watch time runs to the drain, not to now.
    expect(r.broadcast.ended_at).toBeNull();
    expect(r.total_watch_time_s).toBeGreaterThan(0);
    expect(r.total_watch_time_s).toBeLessThanOrEqual(3 * r.broadcast.duration_s);
  }, 60_000);

  test("after the restart, the live numbers of the broadcast agree with its report", async () => {
    const live = await api(sp2, "GET", "/api/v1/streams/term-an/analytics/live");
    const r = await api(sp2, "GET", `/api/v1/broadcasts/${bid}/report`);
    expect({ live: live.live, broadcast: live.broadcast_id, messages: live.messages, chatters: live.unique_chatters, reactions: live.reactions, peak: live.peak_concurrent_viewers })
      .toEqual({ live: true, broadcast: bid, messages: r.messages, chatters: r.unique_chatters, reactions: r.reactions.total, peak: r.peak_concurrent_viewers });
  }, 30_000);

  test("the drain ended every session: no open session rows in analytics.duckdb", async () => {
    expect(await terminate(sp2)).toBe(0);
    const rows = await duckQuery(sp2.dataDir, `SELECT COUNT(*)::INTEGER AS n, COUNT(left_at)::INTEGER AS closed FROM sessions WHERE broadcast_id = '${bid}'`);
    expect(rows).toEqual([{ n: 3, closed: 3 }]);
  }, 30_000);
});

describe("kill -9 during ingest", () => {
  test("the restarted server reports; nothing counted twice, at most the last flush interval lost; ingest resumes", async () => {
    const FLUSH = { HUBBUB_ANALYTICS_FLUSH_S: "1" };
    const sp = await start(FLUSH);
    await api(sp, "POST", "/api/v1/streams", { slug: "kill-an", title: "k", settings: SETTINGS });
    const bid = (await api(sp, "POST", "/api/v1/streams/kill-an/live")).id;
    const N = 4;
    const joined = await Promise.all(Array.from({ length: N }, (_, i) => join(sp, "kill-an", `kill-v${i}`)));
    const chat: PushTally[] = joined.map(() => tally());
    const react: PushTally[] = joined.map(() => tally());
    const sum = (ts: PushTally[], k: keyof PushTally) => ts.reduce((n, t) => n + t[k], 0);
    let stop = false;
    // Each client alternates a chat message and a reaction, each awaited; a push the dead server never
    // answers times out (lost). Paced a little so no per-viewer rate limit refuses anything.
    const loops = joined.map(async ({ j }, i) => {
      const emoji = ["🔥", "❤️", "😂", "👏"][i]!;
      for (let k = 0; k < 100_000 && !stop; k++) {
        for (const [event, payload, t] of [["chat:send", { body: `m${k} from ${i}` }, chat[i]!], ["reaction:send", { emoji }, react[i]!]] as const) {
          t.sent++;
          try {
            const r = await push(j.ch, event, payload, 3000);
            if (r.status === "ok") t.ok++;
            else t.refused++;
          } catch {
            t.lost++;
            return;
          }
        }
        await Bun.sleep(2);
      }
    });
    await waitFor("100 acknowledged messages and reactions", () => sum(chat, "ok") >= 100 && sum(react, "ok") >= 100, 30_000);
    // Checkpoint: everything sent so far (plus the N joins) has been gathered at most; once the
    // stored-event counter passes that, every event acknowledged by now is in DuckDB. The kill lands
    // right after, while the clients keep sending: only what came after the checkpoint may be lost.
    const acked1 = { chat: sum(chat, "ok"), react: sum(react, "ok") };
    const sent1 = sum(chat, "sent") + sum(react, "sent");
    await waitFor("a flush stored everything sent before the checkpoint", async () => (await metricValue(sp.http, "hubbub_analytics_events_flushed_total")) >= sent1 + N, 30_000);
    sp.proc.kill("SIGKILL");
    expect(await sp.exitCode).not.toBe(0);
    stop = true;
    closeAll(...joined.map((x) => x.v));
    await Promise.all(loops);
    const acked = { chat: sum(chat, "ok"), react: sum(react, "ok") };
    expect(sum(chat, "refused") + sum(react, "refused")).toBe(0);

    const sp2 = await start(FLUSH, sp.dataDir);
    const r = await api(sp2, "GET", `/api/v1/broadcasts/${bid}/report`);
    // Never more than acknowledged; at least what was acknowledged before the stored checkpoint.
    expect(r.messages).toBeGreaterThanOrEqual(acked1.chat);
    expect(r.messages).toBeLessThanOrEqual(acked.chat);
    expect(r.reactions.total).toBeGreaterThanOrEqual(acked1.react);
    expect(r.reactions.total).toBeLessThanOrEqual(acked.react);
    expect(Object.keys(r.reactions.by_emoji).sort()).toEqual(["❤️", "👏", "😂", "🔥"].sort());
    for (const [i, e] of ["🔥", "❤️", "😂", "👏"].entries()) expect(r.reactions.by_emoji[e]).toBeLessThanOrEqual(react[i]!.ok);
    expect([r.unique_viewers, r.unique_chatters]).toEqual([N, N]);
    expect(r.peak_concurrent_viewers).toBeLessThanOrEqual(N);

    // Ingest resumes on the restarted server and is counted once: 5 messages and 3 reactions more
    // from a new viewer, and a message from a viewer of the earlier run who comes back (the first
    // join after the restart: it arrives while the earlier run's appearances are still being read):
    // one viewer and one chatter more, not two.
    const back = await join(sp2, "kill-an", "kill-v0");
    await back.j.publish("back again");
    const late = await join(sp2, "kill-an", "kill-late");
    for (let i = 0; i < 5; i++) await late.j.publish(`late ${i}`);
    for (let i = 0; i < 3; i++) await ok(late.j, "reaction:send", { emoji: "🎉" });
    const want = { messages: r.messages + 6, reactions: r.reactions.total + 3, viewers: N + 1 };
    const seen = async () => {
      const x = await api(sp2, "GET", `/api/v1/broadcasts/${bid}/report`);
      return { messages: x.messages, reactions: x.reactions.total, viewers: x.unique_viewers, chatters: x.unique_chatters };
    };
    // The first appearances wait until the earlier run's viewers are read back, so they may land a
    // flush after the counts: wait for all of them (at least the wanted figures), then compare exactly.
    const last = await waitFor("the late events flushed", async () => {
      const x = await seen();
      return x.messages >= want.messages && x.reactions >= want.reactions && x.viewers >= want.viewers && x.chatters >= N + 1 && x;
    }, 30_000);
    expect(last).toEqual({ ...want, chatters: N + 1 });
    await api(sp2, "POST", "/api/v1/streams/kill-an/end");
    closeAll(late.v, back.v);
    expect(await terminate(sp2)).toBe(0);
    // Once more from the file itself, with nobody holding it: the same totals, each flush stored once.
    const stored = await duckQuery(sp2.dataDir, `SELECT
        (SELECT SUM(n)::INTEGER FROM agg WHERE broadcast_id = '${bid}' AND kind = 'chat') AS messages,
        (SELECT SUM(n)::INTEGER FROM agg WHERE broadcast_id = '${bid}' AND kind = 'reaction') AS reactions,
        (SELECT COUNT(DISTINCT viewer_key)::INTEGER FROM sessions WHERE broadcast_id = '${bid}') AS viewers,
        (SELECT COUNT(*)::INTEGER - COUNT(DISTINCT flush_id)::INTEGER FROM flushes) AS repeated_flushes`);
    expect(stored).toEqual([{ ...want, repeated_flushes: 0 }]);
  }, 120_000);
});
