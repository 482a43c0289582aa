// Analytics (issue 6, PRODUCT.md "Analytics"): a scripted broadcast played with the official phoenix
// client on a hand-driven clock, viewers coming from three countries (X-Forwarded-For from a trusted
// proxy), two tabs of one viewer, a leave and rejoin, guests, chat, reactions, a poll and two
// content segments. Every number of the post-broadcast report and of the series is computed by hand
// from the script (comments below) and compared exactly; the live numbers must agree with the
// report. Also: the series query's validation and scope, the segments API, a broadcast nobody
// watched, a viewer staying joined across two broadcasts, one viewer's tabs in two countries, two
// segment marks in one millisecond, and a viewer's erasure (checked inside analytics.duckdb once the
// server stopped).
//
// tests/e2e/analytics-basic.test.ts covers a minimal broadcast; this file does not repeat it.
import { DuckDBInstance } from "@duckdb/node-api";
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErasureLog } from "../../src/analytics/erasures.ts";
import { sentimentOf } from "../../src/analytics/sentiment.ts";
import { IP, findInDuck, ipTransport } from "../support/analytics.ts";
import { auditRows, closeAll, csvObjects, startChatServer, viewer, type ChatServer, type Joined, type Viewer } from "../support/chat.ts";
import { ManualClock } from "../support/identity.ts";
import { push } from "../support/phoenix.ts";
import { ADMIN_KEY, apiCall, readSqlite } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

// Streams in these tests: chat and reactions never rate-limited (the clock does not move by itself),
// automod off (nothing held), guests may chat and react (voting stays members-only: the default).
const SETTINGS = {
  rate_limit: { messages: 1000, per_s: 1 },
  reaction_rate: 1000,
  automod_level: 0,
  guests: { react: true, chat: true, vote: false },
};
const TRUSTED = { HUBBUB_TRUSTED_PROXIES: "127.0.0.1/32" };

// ---- helpers shared by every describe ----

interface Tab {
  v: Viewer;
  j: Joined;
}

function tabOpener(server: () => ChatServer, open: Viewer[]) {
  /** A socket (signed in as `sub`, or a guest) from `ip` (null: loopback, no known country) joined to the stream. */
  return async (slug: string, sub: string | null, ip: string | null): Promise<Tab> => {
    const s = server();
    const v = viewer(s.ws, sub ? await s.token(sub) : null, ip ? { transport: ipTransport(ip) } : {});
    open.push(v);
    return { v, j: await v.join(`stream:${slug}`) };
  };
}

/**
 * Leaves the channel (the socket stays open). phoenix.js reports a leave "ok" at once, without
 * waiting for the server, so this waits for the server's phx_close of that join: the server ends
 * the session before it sends it.
 */
async function leave(t: Tab): Promise<void> {
  const jr = t.j.joinRef();
  t.j.ch.leave(15_000);
  await waitFor(`phx_close of ${t.j.topic} (join ${jr})`, () => t.v.frames.find((f) => f.event === "phx_close" && f.topic === t.j.topic && f.joinRef === jr));
}

async function react(t: Tab, emoji: string, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) {
    const r = await push(t.j.ch, "reaction:send", { emoji });
    if (r.status !== "ok") throw new Error(`reaction ${emoji} refused: ${JSON.stringify(r.response)}`);
  }
}

async function castVote(t: Tab, pollId: string, option: number): Promise<void> {
  const r = await push(t.j.ch, "poll:vote", { poll_id: pollId, option });
  if (r.status !== "ok") throw new Error(`vote refused: ${JSON.stringify(r.response)}`);
}

const byKey = (k: string) => (a: any, b: any) => String(a[k] ?? "").localeCompare(String(b[k] ?? ""));

// =====================================================================================
// The scripted broadcast
// =====================================================================================
//
// Go-live at t=0 (T0, a whole minute), end at t=330 s. Window 10 s (default). Countries: A, B from
// the US; C and guest G1 from GB; D from DE; guest G2 from loopback (unknown country, null).
//
//   t=-60  A joins (before go-live: A's session starts at the go-live)
//   t=0    go-live; B (tab 1) and C join
//          chat: A "hello everyone", B "great stream"; reactions: A 🔥x3, C ❤️x2
//   t=30   B opens a second tab; guest G1 joins; G1 chats "hi from a guest", reacts 😂x1
//   t=60   C leaves (channel leave); D joins; D chats "guten tag"; D's 🍕 is refused (not in the set)
//   t=90   B's tab 1 leaves (tab 2 stays); segment "Q&A"; a poll opens;
//          votes A->0, B->1, D->0 (G1's vote refused: guests may not vote); reactions A 🔥x4, D 👏x2
//   t=120  C rejoins; C chats "back again", "what did I miss"      [live snapshot 1]
//   t=150  B's tab 2 leaves (B is gone)
//   t=180  guest G2 joins (unknown country)
//   t=200  G1 closes the socket
//   t=210  segment "halftime"; A chats "halftime!"; C reacts 🎉x1
//   t=240  C leaves
//   t=280  G2 leaves
//   t=300  [live snapshot 2]
//   t=330  end (A and D still there)
//
// Each viewer's presence, sessions merged (two tabs, a rejoin that does not overlap stays two):
//   A [0,330] = 330   B [0,90]∪[30,150] = [0,150] = 150   C [0,60]+[120,240] = 180
//   D [60,330] = 270  G1 [30,200] = 170                   G2 [180,280] = 100
//   unique viewers 6; total watch time 1200 s; average view duration 1200/6 = 200 s;
//   average concurrent 1200/330 = 3.636.. -> 3.64.
// Concurrency (a leave and a join at the same instant: the leave first):
//   [0,30) 3  [30,60) 4  [60,120) 4  [120,150) 5  [150,180) 4  [180,200) 5  [200,240) 4
//   [240,280) 3  [280,330) 2      -> peak 5; check: 90+120+240+150+120+100+160+120+100 = 1200.
// Retention at t = 0, 60, .., 300 (present: joined at or before t, not yet left):
//   3, 4, 5, 5, 3, 2  -> shares /6: 0.5, 0.6667, 0.8333, 0.8333, 0.5, 0.3333
//   drop-offs: minute 4 (5 -> 3, 2), minute 5 (3 -> 2, 1).
// Chat: 7 messages from 5 chatters (A 2, B 1, G1 1, D 1, C 2). Reactions 13: 🔥7 ❤️2 😂1 👏2 🎉1.
// Votes: option 0 twice, option 1 once.
// 10 s buckets with chat + reactions: 0 (2+5=7), 30 (1+1), 60 (1+0), 90 (0+6), 120 (2+0), 210 (1+1)
//   -> top moments 0, 90, then the ties of 2 by time: 30, 120, 210.
// By country:                 viewers  watch          messages  reactions  chatters
//   US (A, B)                  2        330+150=480     3         7          2
//   GB (C, G1)                 2        180+170=350     3         4          2
//   DE (D)                     1        270             1         2          1
//   null (G2)                  1        100             0         0          0
// By segment (null [0,90), Q&A [90,210), halftime [210,330)):
//   null:     A90 B90 C60 D30 G1 60        = 5 viewers, 330 s; messages 4 (A, B, G1, D), 4 chatters; reactions 6
//   Q&A:      A120 B60 C90 D120 G1 110 G2 30 = 6 viewers, 530 s; messages 2 (C), 1 chatter; reactions 6
//   halftime: A120 C30 D120 G2 70          = 4 viewers, 340 s; messages 1 (A), 1 chatter; reactions 1
describe("a scripted broadcast", () => {
  const T0 = Date.UTC(2026, 10, 28, 14, 0, 0);
  const clock = new ManualClock(T0 - 120_000);
  const at = (sec: number) => {
    const t = T0 + sec * 1000;
    if (t < clock.t) throw new Error("the script's clock only moves forward");
    clock.t = t;
  };
  const iso = (sec: number) => new Date(T0 + sec * 1000).toISOString();
  const SLUG = "rep-main";
  const BODIES = { A: ["hello everyone", "halftime!"], B: ["great stream"], G1: ["hi from a guest"], D: ["guten tag"], C: ["back again", "what did I miss"] };
  let s: ChatServer;
  const open: Viewer[] = [];
  const tab = tabOpener(() => s, open);
  let bid = "";
  let pollId = "";
  let live1: any; // at t=120
  let live2: any; // at t=300
  let rep: any;

  beforeAll(async () => {
    s = await startChatServer({ clock, env: TRUSTED });
  });
  afterAll(async () => {
    closeAll(...open);
    await s?.dispose();
  });

  const liveNow = async () => {
    const r = await s.api("GET", `/api/v1/streams/${SLUG}/analytics/live`);
    expect(r.status).toBe(200);
    return r.body;
  };
  const mark = async (label: string) => expect((await s.api("POST", `/api/v1/broadcasts/${bid}/segments`, { label })).status).toBe(201);
  const series = async (q: string) => {
    const r = await s.api("GET", `/api/v1/broadcasts/${bid}/series?${q}`);
    if (r.status !== 200) throw new Error(`series ${q}: ${r.status} ${r.text}`);
    return r.body.data as any[];
  };
  /** A series as [seconds from T0, value] pairs (plus the group column when asked). */
  const points = (rows: any[], group?: string) => rows.map((x) => [(Date.parse(x.t) - T0) / 1000, ...(group ? [x[group] ?? ""] : []), x.value]);

  test("the script plays out: sockets from three countries, tabs, rejoins, guests, chat, reactions, a poll, segments", async () => {
    await s.createStream(SLUG, SETTINGS);
    at(-60);
    const A = await tab(SLUG, "rep-a", IP.US);
    at(0);
    const live = await s.api("POST", `/api/v1/streams/${SLUG}/live`);
    expect(live.status).toBe(201);
    bid = live.body.id;
    expect(live.body.started_at).toBe(iso(0));
    const B1 = await tab(SLUG, "rep-b", IP.US);
    const C = await tab(SLUG, "rep-c", IP.GB);
    await A.j.publish(BODIES.A[0]!);
    await B1.j.publish(BODIES.B[0]!);
    await react(A, "🔥", 3);
    await react(C, "❤️", 2);

    at(30);
    const B2 = await tab(SLUG, "rep-b", IP.US);
    const G1 = await tab(SLUG, null, IP.GB);
    expect(G1.j.replies[0].me).toMatchObject({ guest: true, can: { chat: true, react: true, vote: false } });
    await G1.j.publish(BODIES.G1[0]!);
    await react(G1, "😂");

    at(60);
    await leave(C);
    const D = await tab(SLUG, "rep-d", IP.DE);
    await D.j.publish(BODIES.D[0]!);
    expect((await push(D.j.ch, "reaction:send", { emoji: "🍕" })).status).toBe("error");

    at(90);
    await leave(B1);
    await mark("Q&A");
    const poll = await s.api("POST", `/api/v1/streams/${SLUG}/polls`, { question: "Next topic?", options: ["Maps", "Gear"], duration_s: 1800 });
    expect(poll.status).toBe(201);
    pollId = poll.body.id;
    await castVote(A, pollId, 0);
    await castVote(B2, pollId, 1);
    await castVote(D, pollId, 0);
    expect((await push(G1.j.ch, "poll:vote", { poll_id: pollId, option: 1 })).status).toBe("error");
    await react(A, "🔥", 4);
    await react(D, "👏", 2);

    at(120);
    const C2 = await tab(SLUG, "rep-c", IP.GB);
    await C2.j.publish(BODIES.C[0]!);
    await C2.j.publish(BODIES.C[1]!);
    live1 = await liveNow();

    at(150);
    await leave(B2);
    at(180);
    const G2 = await tab(SLUG, null, null);
    at(200);
    const socketsBefore = s.app.hub.sockets.size;
    G1.v.close();
    await waitFor("G1's socket closed on the server", () => s.app.hub.sockets.size === socketsBefore - 1);
    at(210);
    await mark("halftime");
    await A.j.publish(BODIES.A[1]!);
    await react(C2, "🎉");
    at(240);
    await leave(C2);
    at(280);
    await leave(G2);
    at(300);
    live2 = await liveNow();
    at(330);
    expect((await s.api("POST", `/api/v1/streams/${SLUG}/end`)).status).toBe(200);
    await s.app.analytics.flush();
    const r = await s.api("GET", `/api/v1/broadcasts/${bid}/report`);
    expect(r.status).toBe(200);
    rep = r.body;
    expect(rep.broadcast).toEqual({ id: bid, stream: SLUG, started_at: iso(0), ended_at: iso(330), duration_s: 330 });
    expect(rep.segments).toEqual([{ label: "Q&A", started_at: iso(90) }, { label: "halftime", started_at: iso(210) }]);
  });

  test("live numbers during the broadcast", () => {
    // t=120: A, B (tab 2), C, D, G1 present; in the last minute (60,120]: C's 2 messages, the 6
    // reactions of t=90; so far 6 messages from 5 chatters, 12 reactions; segment Q&A.
    expect(live1).toMatchObject({
      stream: SLUG, broadcast_id: bid, live: true, concurrent_viewers: 5, peak_concurrent_viewers: 5,
      chat_messages_per_minute: 2, reactions_per_minute: 6, unique_chatters: 5, messages: 6, reactions: 12, segment: "Q&A",
    });
    // t=300: A and D present; nothing in the last minute; all 7 messages and 13 reactions.
    expect(live2).toMatchObject({
      stream: SLUG, broadcast_id: bid, live: true, concurrent_viewers: 2, peak_concurrent_viewers: 5,
      chat_messages_per_minute: 0, reactions_per_minute: 0, unique_chatters: 5, messages: 7, reactions: 13, segment: "halftime",
    });
  });

  test("audience: peak and average concurrent viewers, unique viewers, watch time, average view duration", () => {
    expect({
      peak: rep.peak_concurrent_viewers, average: rep.average_concurrent_viewers, unique: rep.unique_viewers,
      watch: rep.total_watch_time_s, view: rep.average_view_duration_s,
    }).toEqual({ peak: 5, average: 3.64, unique: 6, watch: 1200, view: 200 });
  });

  test("retention per minute and the biggest drop-offs", () => {
    expect(rep.retention).toEqual([
      { minute: 0, present: 3, share: 0.5 },
      { minute: 1, present: 4, share: 0.6667 },
      { minute: 2, present: 5, share: 0.8333 },
      { minute: 3, present: 5, share: 0.8333 },
      { minute: 4, present: 3, share: 0.5 },
      { minute: 5, present: 2, share: 0.3333 },
    ]);
    expect(rep.biggest_drop_offs).toEqual([
      { minute: 4, from: 5, to: 3, drop: 2 },
      { minute: 5, from: 3, to: 2, drop: 1 },
    ]);
  });

  test("chat, reactions by emoji, votes and top moments", () => {
    expect(rep.unique_chatters).toBe(5);
    expect(rep.messages).toBe(7);
    const all = Object.values(BODIES).flat();
    expect(rep.average_sentiment).toBeCloseTo(all.reduce((x, b) => x + sentimentOf(b), 0) / all.length, 3);
    expect(rep.reactions).toEqual({ total: 13, by_emoji: { "🔥": 7, "❤️": 2, "😂": 1, "👏": 2, "🎉": 1 } });
    // Accepted votes only (G1's refused vote is not there).
    expect(rep.votes).toEqual({ [`${pollId}:0`]: 2, [`${pollId}:1`]: 1 });
    // The poll itself, with its question and options (still open at the end: it runs 30 minutes).
    expect(rep.polls).toEqual([{ id: pollId, question: "Next topic?", status: "open", opened_at: iso(90), total: 3, winner: null, options: [{ text: "Maps", votes: 2 }, { text: "Gear", votes: 1 }] }]);
    expect(rep.top_moments).toEqual([
      { at: iso(0), chat_messages: 2, reactions: 5 },
      { at: iso(90), chat_messages: 0, reactions: 6 },
      { at: iso(30), chat_messages: 1, reactions: 1 },
      { at: iso(120), chat_messages: 2, reactions: 0 },
      { at: iso(210), chat_messages: 1, reactions: 1 },
    ]);
  });

  test("breakdown by country: viewers, watch time, reactions", () => {
    const u = rep.by_country.map((x: any) => x.unique_viewers);
    expect(u).toEqual([...u].sort((a: number, b: number) => b - a));
    const pick = ({ country, unique_viewers, watch_time_s, reactions }: any) => ({ country, unique_viewers, watch_time_s, reactions });
    expect(rep.by_country.map(pick).sort(byKey("country"))).toEqual([
      { country: null, unique_viewers: 1, watch_time_s: 100, reactions: 0 },
      { country: "DE", unique_viewers: 1, watch_time_s: 270, reactions: 2 },
      { country: "GB", unique_viewers: 2, watch_time_s: 350, reactions: 4 },
      { country: "US", unique_viewers: 2, watch_time_s: 480, reactions: 7 },
    ]);
  });

  test("a guest's chat counts in the guest's country (report by_country, series filter and group_by)", async () => {
    // G1 (a guest from GB) sent "hi from a guest" at t=30: GB has C's 2 messages and G1's 1, from 2
    // chatters; the unknown country (G2) sent nothing.
    const pick = ({ country, messages, unique_chatters }: any) => ({ country, messages, unique_chatters });
    expect(rep.by_country.map(pick).sort(byKey("country"))).toEqual([
      { country: null, messages: 0, unique_chatters: 0 },
      { country: "DE", messages: 1, unique_chatters: 1 },
      { country: "GB", messages: 3, unique_chatters: 2 },
      { country: "US", messages: 3, unique_chatters: 2 },
    ]);
    expect(points(await series("metric=chat_messages&bucket_s=60&country=GB"))).toEqual([[0, 1], [120, 2]]);
    expect(points(await series("metric=unique_chatters&bucket_s=60&country=GB"))).toEqual([[0, 1], [120, 1]]);
    expect(points(await series("metric=chat_messages&bucket_s=60&group_by=country"), "country")).toEqual([
      [0, "GB", 1], [0, "US", 2], [60, "DE", 1], [120, "GB", 2], [180, "US", 1],
    ]);
  });

  test("breakdown by segment", () => {
    expect([...rep.by_segment].sort(byKey("segment"))).toEqual([
      { segment: null, unique_viewers: 5, watch_time_s: 330, messages: 4, reactions: 6, unique_chatters: 4 },
      { segment: "halftime", unique_viewers: 4, watch_time_s: 340, messages: 1, reactions: 1, unique_chatters: 1 },
      { segment: "Q&A", unique_viewers: 6, watch_time_s: 530, messages: 2, reactions: 6, unique_chatters: 1 },
    ]);
  });

  test("the report agrees with the live numbers of the same broadcast", () => {
    expect({ chatters: rep.unique_chatters, messages: rep.messages, reactions: rep.reactions.total, peak: rep.peak_concurrent_viewers, sentiment: rep.average_sentiment })
      .toEqual({ chatters: live2.unique_chatters, messages: live2.messages, reactions: live2.reactions, peak: live2.peak_concurrent_viewers, sentiment: live2.average_sentiment });
  });

  test("series: every metric in 60 s buckets (the default) and in 10 s buckets", async () => {
    // concurrent_viewers: present at each bucket's start (the retention points).
    expect(points(await series("metric=concurrent_viewers&bucket_s=60"))).toEqual([[0, 3], [60, 4], [120, 5], [180, 5], [240, 3], [300, 2]]);
    expect(points(await series("metric=concurrent_viewers"))).toEqual([[0, 3], [60, 4], [120, 5], [180, 5], [240, 3], [300, 2]]);
    // watch_time_s per minute: [0,60) A60 B60 C60 G1 30; [60,120) A B D G1 60 each; [120,180) A60 B30
    // C60 D60 G1 60; [180,240) A C D 60, G1 20, G2 60; [240,300) A D 60, G2 40; [300,330) A D 30.
    expect(points(await series("metric=watch_time_s&bucket_s=60"))).toEqual([[0, 210], [60, 240], [120, 270], [180, 260], [240, 160], [300, 60]]);
    // joins count sessions: A (at the go-live), B1, C, B2, G1 | D | C again | G2.
    expect(points(await series("metric=joins&bucket_s=60"))).toEqual([[0, 5], [60, 1], [120, 1], [180, 1]]);
    expect(points(await series("metric=chat_messages&bucket_s=60"))).toEqual([[0, 3], [60, 1], [120, 2], [180, 1]]);
    expect(points(await series("metric=unique_chatters&bucket_s=60"))).toEqual([[0, 3], [60, 1], [120, 1], [180, 1]]);
    expect(points(await series("metric=reactions&bucket_s=60"))).toEqual([[0, 6], [60, 6], [180, 1]]);
    expect(points(await series("metric=votes&bucket_s=60"))).toEqual([[60, 3]]);
    const avg = (xs: string[]) => xs.reduce((x, b) => x + sentimentOf(b), 0) / xs.length;
    const sent = points(await series("metric=sentiment&bucket_s=60"));
    expect(sent.map((p) => p[0])).toEqual([0, 60, 120, 180]);
    const want = [avg([...BODIES.A.slice(0, 1), ...BODIES.B, ...BODIES.G1]), avg(BODIES.D), avg(BODIES.C), avg(BODIES.A.slice(1))];
    sent.forEach((p, i) => expect(p[1] as number).toBeCloseTo(want[i]!, 6));
    // The aggregation window itself as the bucket.
    expect(points(await series("metric=reactions&bucket_s=10"))).toEqual([[0, 5], [30, 1], [90, 6], [210, 1]]);
    expect(points(await series("metric=chat_messages&bucket_s=30"))).toEqual([[0, 2], [30, 1], [60, 1], [120, 2], [210, 1]]);
  });

  test("series: leaves count every session's end, those at the broadcast's end included", async () => {
    // C and B1 (60..120), B2 (120), G1 (180), C and G2 (240), A and D at the end t=330 (300):
    // 8 sessions joined, 8 left.
    expect(points(await series("metric=leaves&bucket_s=60"))).toEqual([[60, 2], [120, 1], [180, 1], [240, 2], [300, 2]]);
  });

  test("series: time range, country and segment filters", async () => {
    expect(points(await series(`metric=concurrent_viewers&bucket_s=60&from=${iso(120)}&to=${iso(240)}`))).toEqual([[120, 5], [180, 5]]);
    expect(points(await series(`metric=reactions&bucket_s=60&from=${iso(60)}&to=${iso(200)}`))).toEqual([[60, 6]]);
    // A `from` inside a bucket (a client passing the exact start time, say) keeps that bucket whole,
    // for counted events as for presence.
    expect(points(await series(`metric=chat_messages&bucket_s=60&from=${iso(5)}`))).toEqual([[0, 3], [60, 1], [120, 2], [180, 1]]);
    expect(points(await series(`metric=reactions&bucket_s=10&from=${iso(5)}&to=${iso(100)}`))).toEqual([[0, 5], [30, 1], [90, 6]]);
    expect(points(await series(`metric=concurrent_viewers&bucket_s=60&from=${iso(5)}&to=${iso(100)}`))).toEqual([[0, 3], [60, 4]]);
    // GB: C [0,60] and [120,240], G1 [30,200].
    expect(points(await series("metric=concurrent_viewers&bucket_s=60&country=GB"))).toEqual([[0, 1], [60, 1], [120, 2], [180, 2], [240, 0], [300, 0]]);
    expect(points(await series("metric=reactions&bucket_s=60&country=US"))).toEqual([[0, 3], [60, 4]]);
    expect(points(await series("metric=chat_messages&bucket_s=60&country=US"))).toEqual([[0, 2], [180, 1]]);
    expect(points(await series("metric=unique_chatters&bucket_s=60&country=US"))).toEqual([[0, 2], [180, 1]]);
    expect(points(await series("metric=chat_messages&bucket_s=60&country=DE"))).toEqual([[60, 1]]);
    expect(points(await series("metric=chat_messages&bucket_s=60&country=de"))).toEqual([[60, 1]]); // (any case)
    // An offset other than Z names the same instant: t=60 written as wall time in UTC+01:00.
    const plus1 = new Date(T0 + 60_000 + 3_600_000).toISOString().replace("Z", "+01:00");
    expect(points(await series(`metric=chat_messages&bucket_s=60&from=${encodeURIComponent(plus1)}`))).toEqual([[60, 1], [120, 2], [180, 1]]);
    // Q&A runs [90,210): in 30 s buckets, present at 90: A B D G1; 120: +C; 150: B gone; 180: +G2.
    expect(points(await series(`metric=concurrent_viewers&bucket_s=30&segment=${encodeURIComponent("Q&A")}`))).toEqual([[90, 4], [120, 5], [150, 4], [180, 5]]);
    const qa = points(await series(`metric=watch_time_s&bucket_s=30&segment=${encodeURIComponent("Q&A")}`));
    expect(qa.reduce((n, p) => n + (p[1] as number), 0)).toBe(530);
    expect(points(await series(`metric=reactions&bucket_s=60&segment=${encodeURIComponent("Q&A")}`))).toEqual([[60, 6]]);
    expect(points(await series("metric=chat_messages&bucket_s=60&segment=halftime"))).toEqual([[180, 1]]);
    expect(points(await series(`metric=reactions&bucket_s=60&country=DE&segment=${encodeURIComponent("Q&A")}`))).toEqual([[60, 2]]);
    expect(points(await series(`metric=chat_messages&bucket_s=60&country=US&segment=${encodeURIComponent("Q&A")}`))).toEqual([]);
    expect(points(await series("metric=votes&bucket_s=60&country=US"))).toEqual([[60, 2]]);
  });

  test("series: watch_time_s is 0 in buckets where nobody (of the filter) watched", async () => {
    // GB: C [0,60] and [120,240], G1 [30,200]: 90, 60, 120, 80, then nobody; in all 350 s (by_country).
    expect(points(await series("metric=watch_time_s&bucket_s=60&country=GB"))).toEqual([[0, 90], [60, 60], [120, 120], [180, 80], [240, 0], [300, 0]]);
    // Nobody from France.
    expect(points(await series("metric=watch_time_s&bucket_s=60&country=FR")).map((p) => p[1])).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test("series: group_by country and segment", async () => {
    // Reactions: t=0 A 🔥3 (US), C ❤️2 (GB), t=30 G1 😂 (GB); t=90 A 🔥4 (US), D 👏2 (DE); t=210 C 🎉 (GB).
    expect(points(await series("metric=reactions&bucket_s=60&group_by=country"), "country")).toEqual([
      [0, "GB", 3], [0, "US", 3], [60, "DE", 2], [60, "US", 4], [180, "GB", 1],
    ]);
    expect(points(await series("metric=reactions&bucket_s=60&group_by=segment"), "segment")).toEqual([[0, "", 6], [60, "Q&A", 6], [180, "halftime", 1]]);
    // Concurrency by country adds up to the total at every bucket start.
    const byCountry = points(await series("metric=concurrent_viewers&bucket_s=60&group_by=country"), "country");
    const sums = new Map<number, number>();
    for (const [t, , v] of byCountry) sums.set(t as number, (sums.get(t as number) ?? 0) + (v as number));
    expect([...sums].filter(([, v]) => v > 0).sort((a, b) => a[0] - b[0])).toEqual([[0, 3], [60, 4], [120, 5], [180, 5], [240, 3], [300, 2]]);
    expect(byCountry.filter((p) => p[1] === "GB" && (p[2] as number) > 0)).toEqual([[0, "GB", 1], [60, "GB", 1], [120, "GB", 2], [180, "GB", 2]]);
    // Watch time by segment is split at the marks, like the events: bucket 60 holds [60,90) before
    // Q&A (4 x 30) and [90,120) in it (4 x 30); bucket 180 holds Q&A's [180,210) (5 x 20 + 4 x 10)
    // and halftime's [210,240) (4 x 30). The segments' sums are the report's 330, 530 and 340.
    expect(points(await series("metric=watch_time_s&bucket_s=60&group_by=segment"), "segment")).toEqual([
      [0, "", 210], [60, "", 120], [60, "Q&A", 120], [120, "Q&A", 270], [180, "Q&A", 140], [180, "halftime", 120], [240, "halftime", 160], [300, "halftime", 60],
    ]);
    // Concurrency by segment: the segment in force at each bucket's start (an instant).
    expect(points(await series("metric=concurrent_viewers&bucket_s=60&group_by=segment"), "segment")).toEqual([
      [0, "", 3], [60, "", 4], [120, "Q&A", 5], [180, "Q&A", 5], [240, "halftime", 3], [300, "halftime", 2],
    ]);
  });

  test("series: CSV has the columns t, [group], value; Parquet starts and ends with PAR1 and holds the same rows", async () => {
    const get = (q: string) => fetch(`${s.http}/api/v1/broadcasts/${bid}/series?${q}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const json = await series("metric=chat_messages&bucket_s=60&group_by=country");
    const csv = await get("metric=chat_messages&bucket_s=60&group_by=country&format=csv");
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toStartWith("text/csv");
    const text = await csv.text();
    expect(text.split(/\r?\n/)[0]).toBe("t,country,value");
    expect(csvObjects(text)).toEqual(json.map((r) => ({ t: r.t, country: r.country ?? "", value: String(r.value) })));
    const plain = await (await get("metric=concurrent_viewers&bucket_s=60&format=csv")).text();
    expect(plain.split(/\r?\n/)[0]).toBe("t,value");
    expect(csvObjects(plain).map((r) => [r.t, r.value])).toEqual([[iso(0), "3"], [iso(60), "4"], [iso(120), "5"], [iso(180), "5"], [iso(240), "3"], [iso(300), "2"]]);
    // Numbers are written as numbers: a negative sentiment is no formula to guard against.
    const sentiment = await series("metric=sentiment&bucket_s=60");
    expect(sentiment.some((r) => r.value < 0)).toBe(true);
    expect(csvObjects(await (await get("metric=sentiment&bucket_s=60&format=csv")).text())).toEqual(sentiment.map((r) => ({ t: r.t, value: String(r.value) })));

    const pq = await get("metric=watch_time_s&bucket_s=60&format=parquet");
    expect(pq.status).toBe(200);
    const bytes = new Uint8Array(await pq.arrayBuffer());
    const dec = new TextDecoder();
    expect([dec.decode(bytes.slice(0, 4)), dec.decode(bytes.slice(-4))]).toEqual(["PAR1", "PAR1"]);
    // Read back with DuckDB: the same values as the JSON series.
    const dir = mkdtempSync(join(tmpdir(), "hubbub-pq-"));
    try {
      writeFileSync(join(dir, "s.parquet"), bytes);
      const inst = await DuckDBInstance.create(":memory:");
      const c = await inst.connect();
      const rows = (await c.runAndReadAll(`SELECT value FROM read_parquet('${join(dir, "s.parquet")}') ORDER BY t`)).getRowObjectsJson() as Array<{ value: number }>;
      c.closeSync();
      expect(rows.map((r) => Number(r.value))).toEqual([210, 240, 270, 260, 160, 60]);
      // Grouped: the same rows as the JSON answer, t an instant and no segment as null.
      const grouped = new Uint8Array(await (await get("metric=reactions&bucket_s=60&group_by=segment&format=parquet")).arrayBuffer());
      writeFileSync(join(dir, "g.parquet"), grouped);
      const g = await inst.connect();
      const back = (await g.runAndReadAll(`SELECT epoch_ms(t) AS t, segment, value FROM read_parquet('${join(dir, "g.parquet")}') ORDER BY t, segment`)).getRowObjectsJS();
      const types = (await g.runAndReadAll(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${join(dir, "g.parquet")}'))`)).getRowObjectsJS();
      g.closeSync();
      inst.closeSync();
      expect(types.find((r) => r.column_name === "t")?.column_type).toBe("TIMESTAMP WITH TIME ZONE");
      const want = await series("metric=reactions&bucket_s=60&group_by=segment");
      expect(want.some((r) => r.segment === null)).toBe(true);
      expect(back.map((r) => ({ t: new Date(Number(r.t)).toISOString(), segment: r.segment, value: r.value }))).toEqual(want.map((r) => ({ t: r.t, segment: r.segment, value: r.value })));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("series: bad queries are 400 invalid_payload naming each field; unknown broadcast 404; a key without the analytics scope 403", async () => {
    const bad = async (q: string) => {
      const r = await s.api("GET", `/api/v1/broadcasts/${bid}/series?${q}`);
      expect({ q, status: r.status, code: r.body?.error?.code }).toEqual({ q, status: 400, code: "invalid_payload" });
      return Object.keys(r.body.error.fields ?? {}).sort();
    };
    expect(await bad("metric=viewers_total&bucket_s=60")).toEqual(["metric"]);
    expect(await bad("bucket_s=60")).toEqual(["metric"]);
    expect(await bad("metric=joins&bucket_s=15")).toEqual(["bucket_s"]); // not a multiple of the 10 s window
    expect(await bad("metric=joins&bucket_s=0")).toEqual(["bucket_s"]);
    expect(await bad("metric=joins&bucket_s=-10")).toEqual(["bucket_s"]);
    expect(await bad("metric=joins&bucket_s=ten")).toEqual(["bucket_s"]);
    expect(await bad("metric=joins&bucket_s=60&group_by=viewer")).toEqual(["group_by"]);
    expect(await bad(`metric=joins&bucket_s=60&from=${iso(120)}&to=${iso(120)}`)).toEqual(["to"]);
    expect(await bad(`metric=joins&bucket_s=60&from=${iso(120)}&to=${iso(60)}`)).toEqual(["to"]);
    expect(await bad("metric=joins&bucket_s=60&from=yesterday")).toEqual(["from"]);
    // RFC 3339 only: no offset (the server's zone would decide), a date alone, epoch numbers.
    expect(await bad("metric=joins&bucket_s=60&from=2026-11-28T14:00:00")).toEqual(["from"]);
    expect(await bad("metric=joins&bucket_s=60&to=2026-11-28")).toEqual(["to"]);
    expect(await bad("metric=joins&bucket_s=60&from=1795874400000")).toEqual(["from"]);
    expect(await bad("metric=joins&bucket_s=60&from=2026-02-30T10:00:00Z")).toEqual(["from"]); // (no such day)
    expect(await bad("metric=joins&bucket_s=60&from=2026-11-28T24:00:00Z")).toEqual(["from"]);
    expect(await bad("metric=joins&bucket_s=60&__proto__=x")).toEqual(["__proto__"]);
    // A misspelt parameter is refused, not ignored; a country is a two-letter code.
    expect(await bad("metric=joins&bucket_s=60&groupby=country")).toEqual(["groupby"]);
    expect(await bad("metric=joins&bucket_s=60&country=Britain")).toEqual(["country"]);
    expect(await bad("metric=joins&bucket_s=60&format=xml")).toEqual(["format"]);
    // Several problems at once: each named.
    expect(await bad(`metric=nope&bucket_s=7&group_by=x&from=${iso(60)}&to=${iso(0)}`)).toEqual(["bucket_s", "group_by", "metric", "to"]);

    for (const path of ["/api/v1/broadcasts/no-such-broadcast/series?metric=joins&bucket_s=60", "/api/v1/broadcasts/no-such-broadcast/report"]) {
      const r = await s.api("GET", path);
      expect({ path, status: r.status, code: r.body?.error?.code }).toEqual({ path, status: 404, code: "not_found" });
    }

    const key = async (scopes: string[]) => {
      const r = await s.api("POST", "/api/v1/api-keys", { name: `k-${scopes.join("-")}`, scopes });
      expect(r.status).toBe(201);
      return r.body.key as string;
    };
    const noAnalytics = await key(["streams", "moderation"]);
    for (const path of [`/api/v1/broadcasts/${bid}/series?metric=joins&bucket_s=60`, `/api/v1/broadcasts/${bid}/report`, `/api/v1/streams/${SLUG}/analytics/live`]) {
      const r = await apiCall(s.http, "GET", path, undefined, noAnalytics);
      expect({ path, status: r.status, code: r.body?.error?.code }).toEqual({ path, status: 403, code: "forbidden" });
    }
    const analyticsOnly = await key(["analytics"]);
    expect((await apiCall(s.http, "GET", `/api/v1/broadcasts/${bid}/report`, undefined, analyticsOnly)).status).toBe(200);
    expect((await apiCall(s.http, "GET", `/api/v1/broadcasts/${bid}/series?metric=joins&bucket_s=60`, undefined, analyticsOnly)).status).toBe(200);
  });
});

// =====================================================================================
// Segments API, edge cases of sessions
// =====================================================================================
describe("segments and sessions", () => {
  const T0 = Date.UTC(2026, 11, 5, 9, 0, 0);
  const clock = new ManualClock(T0);
  const at = (sec: number) => {
    clock.t = Math.max(clock.t, T0 + sec * 1000);
  };
  let s: ChatServer;
  const open: Viewer[] = [];
  const tab = tabOpener(() => s, open);
  let segBid = "";

  beforeAll(async () => {
    s = await startChatServer({ clock, env: TRUSTED });
  });
  afterAll(async () => {
    closeAll(...open);
    await s?.dispose();
  });

  async function goLive(slug: string): Promise<string> {
    const r = await s.api("POST", `/api/v1/streams/${slug}/live`);
    expect(r.status).toBe(201);
    return r.body.id;
  }

  test("POST /broadcasts/:id/segments: label validated (empty, over 40 graphemes, unknown field) with 400; 409 once ended; each mark audited as broadcast.segment", async () => {
    await s.createStream("seg-api", SETTINGS);
    at(0);
    const bid = await goLive("seg-api");
    segBid = bid;
    const k = await s.api("POST", "/api/v1/api-keys", { name: "segments", scopes: ["streams"] });
    expect(k.status).toBe(201);
    const mark = (body: unknown, key = k.body.key as string, id = bid) => apiCall(s.http, "POST", `/api/v1/broadcasts/${id}/segments`, body, key);
    const refused = async (body: unknown, code: string, field: string) => {
      const r = await mark(body);
      expect({ body, status: r.status, code: r.body?.error?.code, field: Object.keys(r.body?.error?.fields ?? {}) }).toEqual({ body, status: 400, code, field: [field] });
    };
    await refused({ label: "" }, "empty", "label");
    await refused({ label: "   " }, "empty", "label");
    await refused({}, "invalid_payload", "label");
    await refused({ label: 42 }, "invalid_payload", "label");
    await refused({ label: "Q&A", colour: "red" }, "invalid_payload", "colour");
    // Graphemes, not code units: 41 "é" written as e + combining acute (82 code points) is too long...
    await refused({ label: "e\u0301".repeat(41) }, "too_long", "label");
    await refused({ label: "👍🏽".repeat(41) }, "too_long", "label");
    await refused({ label: "pre\nshow" }, "invalid_text", "label");
    // ...and 40 of them is fine (stored NFC).
    at(10);
    const ok40 = await mark({ label: "e\u0301".repeat(40) });
    expect(ok40.status).toBe(201);
    expect(ok40.body).toEqual({ broadcast_id: bid, label: "é".repeat(40), started_at: new Date(T0 + 10_000).toISOString() });
    at(20);
    const qa = await mark({ label: "  Q&A  " });
    expect([qa.status, qa.body.label]).toEqual([201, "Q&A"]);
    // Scope: segments belong to `streams`; an analytics-only key may not mark them.
    const an = await s.api("POST", "/api/v1/api-keys", { name: "an", scopes: ["analytics"] });
    expect((await mark({ label: "x" }, an.body.key)).status).toBe(403);
    expect((await mark({ label: "x" }, k.body.key, "no-such-broadcast")).status).toBe(404);
    at(30);
    expect((await s.api("POST", "/api/v1/streams/seg-api/end")).status).toBe(200);
    const late = await mark({ label: "after the end" });
    expect([late.status, late.body?.error?.code]).toEqual([409, "conflict"]);
    // Exactly the two accepted marks are audited, naming the key and the broadcast.
    const rows = await auditRows(s, "seg-api", "broadcast.segment");
    expect(rows.map((r) => ({ actor: r.actor, target: r.target, data: r.data, at: r.at }))).toEqual([
      { actor: { type: "api_key", id: k.body.id }, target: { type: "broadcast", id: bid }, data: { label: "é".repeat(40) }, at: new Date(T0 + 10_000).toISOString() },
      { actor: { type: "api_key", id: k.body.id }, target: { type: "broadcast", id: bid }, data: { label: "Q&A" }, at: new Date(T0 + 20_000).toISOString() },
    ]);
    await s.app.analytics.flush();
    const rep = await s.api("GET", `/api/v1/broadcasts/${bid}/report`);
    expect(rep.body.segments.map((x: any) => x.label)).toEqual(["é".repeat(40), "Q&A"]);
  });

  test("a broadcast nobody watched: zero watch time in the report, in every segment and in every bucket", async () => {
    // seg-api above: live [0,30], segments null [0,10), "é"x40 [10,20), "Q&A" [20,30), no viewer.
    const r = await s.api("GET", `/api/v1/broadcasts/${segBid}/report`);
    expect(r.status).toBe(200);
    expect({ unique: r.body.unique_viewers, watch: r.body.total_watch_time_s, peak: r.body.peak_concurrent_viewers, average: r.body.average_concurrent_viewers })
      .toEqual({ unique: 0, watch: 0, peak: 0, average: 0 });
    expect(r.body.by_segment.map((x: any) => [x.segment, x.unique_viewers, x.watch_time_s]).sort(byKey("0"))).toEqual([[null, 0, 0], ["é".repeat(40), 0, 0], ["Q&A", 0, 0]]);
    const w = await s.api("GET", `/api/v1/broadcasts/${segBid}/series?metric=watch_time_s&bucket_s=10`);
    expect(w.body.data.map((x: any) => x.value)).toEqual([0, 0, 0]);
  });

  test("a viewer who stays joined across two broadcasts of the stream is a viewer of each", async () => {
    // Broadcast 1: go-live at t=100 with V (US) already joined, V chats, end at t=160.
    // Broadcast 2: go-live at t=200, V (never left) chats, end at t=290.
    // Each report: 1 viewer, 1 chatter, 1 message; watch time 60 s and 90 s.
    await s.createStream("seg-twice", SETTINGS);
    at(90);
    const V = await tab("seg-twice", "twice-v", IP.US);
    at(100);
    const b1 = await goLive("seg-twice");
    await V.j.publish("first show");
    at(160);
    expect((await s.api("POST", "/api/v1/streams/seg-twice/end")).status).toBe(200);
    at(200);
    const b2 = await goLive("seg-twice");
    await V.j.publish("second show");
    at(290);
    expect((await s.api("POST", "/api/v1/streams/seg-twice/end")).status).toBe(200);
    await s.app.analytics.flush();
    const pick = (r: any) => ({ status: r.status, unique: r.body.unique_viewers, watch: r.body.total_watch_time_s, peak: r.body.peak_concurrent_viewers, messages: r.body.messages, chatters: r.body.unique_chatters });
    expect(pick(await s.api("GET", `/api/v1/broadcasts/${b1}/report`))).toEqual({ status: 200, unique: 1, watch: 60, peak: 1, messages: 1, chatters: 1 });
    expect(pick(await s.api("GET", `/api/v1/broadcasts/${b2}/report`))).toEqual({ status: 200, unique: 1, watch: 90, peak: 1, messages: 1, chatters: 1 });
  });

  test("a guest's socket closing frees what analytics kept for them; a signed-in viewer's stays; counts stay", async () => {
    await s.createStream("seg-guests", SETTINGS);
    at(300);
    const b = await goLive("seg-guests");
    const guest = await tab("seg-guests", null, IP.GB);
    const member = await tab("seg-guests", "guests-m", IP.US);
    await react(guest, "🔥");
    expect(s.app.analytics.trackedViewers(b)).toBe(2);
    at(320); // (both watched 20 s: a stay of no time would not make a viewer)
    guest.v.close();
    await waitFor("the guest's state dropped", () => s.app.analytics.trackedViewers(b) === 1);
    member.v.close(); // (signed in: the same viewer may come back, so their state is kept)
    await waitFor("the member's socket gone", () => s.app.hub.countOf("seg-guests") === 0);
    expect(s.app.analytics.trackedViewers(b)).toBe(1);
    at(360);
    expect((await s.api("POST", "/api/v1/streams/seg-guests/end")).status).toBe(200);
    await s.app.analytics.flush();
    const r = (await s.api("GET", `/api/v1/broadcasts/${b}/report`)).body;
    expect({ unique: r.unique_viewers, reactions: r.reactions.total }).toEqual({ unique: 2, reactions: 1 });
  });

  test("a viewer's two tabs from different countries still count once for concurrency and watch time", async () => {
    // W's tab 1 from the US [0,120], tab 2 from GB [60,180]; end at 180: one viewer, peak 1, 180 s.
    await s.createStream("seg-tabs", SETTINGS);
    at(400);
    const base = 400;
    const b = await goLive("seg-tabs");
    const t1 = await tab("seg-tabs", "tabs-w", IP.US);
    at(base + 60);
    const t2 = await tab("seg-tabs", "tabs-w", IP.GB);
    at(base + 120);
    await leave(t1);
    at(base + 180);
    expect((await s.api("POST", "/api/v1/streams/seg-tabs/end")).status).toBe(200);
    await s.app.analytics.flush();
    const r = await s.api("GET", `/api/v1/broadcasts/${b}/report`);
    expect({ unique: r.body.unique_viewers, peak: r.body.peak_concurrent_viewers, watch: r.body.total_watch_time_s, retention: r.body.retention.map((x: any) => x.present) })
      .toEqual({ unique: 1, peak: 1, watch: 180, retention: [1, 1, 1] });
    void t2;
  });
  test("two marks in the same millisecond: the later one is the segment in force, for sessions and events alike", async () => {
    // Go-live at t=1000 with V joined; "zeta" then "alpha" marked at that same instant; V chats; end at
    // t=1060. "alpha" is in force for the whole broadcast: 1 viewer, 60 s, 1 message; "zeta" lasted 0 s.
    await s.createStream("seg-same", SETTINGS);
    at(1000);
    const V = await tab("seg-same", "same-v", IP.US);
    const b = await goLive("seg-same");
    for (const label of ["zeta", "alpha"]) expect((await s.api("POST", `/api/v1/broadcasts/${b}/segments`, { label })).status).toBe(201);
    expect((await s.api("GET", "/api/v1/streams/seg-same/analytics/live")).body.segment).toBe("alpha");
    await V.j.publish("which segment is this");
    at(1060);
    expect((await s.api("POST", "/api/v1/streams/seg-same/end")).status).toBe(200);
    await s.app.analytics.flush();
    const r = await s.api("GET", `/api/v1/broadcasts/${b}/report`);
    const alpha = r.body.by_segment.find((x: any) => x.segment === "alpha");
    expect(alpha).toMatchObject({ unique_viewers: 1, watch_time_s: 60, messages: 1, unique_chatters: 1 });
    expect(r.body.by_segment.filter((x: any) => x.segment !== "alpha").every((x: any) => x.watch_time_s === 0 && x.messages === 0)).toBe(true);
  });
});

// =====================================================================================
// A clock that moves on every read
// =====================================================================================
// As a real clock does between two lines of code. The go-live, the marks and the end are stored with
// their own times, and the rollups must use those, not a later read: a viewer joined before the
// go-live is present at minute 0, watch time per segment adds up to each segment's stored length,
// and a label marked twice is one segment.
describe("a clock that moves on every read", () => {
  class TickingClock extends ManualClock {
    override now = (): number => this.t++;
  }
  const T0 = Date.UTC(2024, 1, 29, 18, 0, 0);
  const clock = new TickingClock(T0 - 5_000);
  let s: ChatServer;
  const open: Viewer[] = [];
  const tab = tabOpener(() => s, open);

  beforeAll(async () => {
    s = await startChatServer({ clock, env: TRUSTED });
  });
  afterAll(async () => {
    closeAll(...open);
    await s?.dispose();
  });

  test("go-live, marks (A, B, A again) and the end at their stored times", async () => {
    await s.createStream("tick", SETTINGS);
    await tab("tick", "tick-v", IP.US);
    const live = await s.api("POST", "/api/v1/streams/tick/live");
    expect(live.status).toBe(201);
    const bid = live.body.id as string;
    for (const label of ["A", "B", "A"]) {
      clock.advance(60_000);
      expect((await s.api("POST", `/api/v1/broadcasts/${bid}/segments`, { label })).status).toBe(201);
    }
    clock.advance(60_000);
    expect((await s.api("POST", "/api/v1/streams/tick/end")).status).toBe(200);
    await s.app.analytics.flush();
    const r = (await s.api("GET", `/api/v1/broadcasts/${bid}/report`)).body;
    const ms = (x: string) => Date.parse(x);
    const [start, end] = [ms(r.broadcast.started_at), ms(r.broadcast.ended_at)];
    const [a1, b, a2] = r.segments.map((x: any) => ms(x.started_at));
    // One viewer present from the go-live to the end.
    expect(r.retention[0]).toEqual({ minute: 0, present: 1, share: 1 });
    expect(r.total_watch_time_s).toBeCloseTo((end - start) / 1000, 3);
    const seg = Object.fromEntries(r.by_segment.map((x: any) => [x.segment ?? "", x]));
    expect(Object.keys(seg).sort()).toEqual(["", "A", "B"]); // A once, though marked twice
    expect(seg[""].watch_time_s).toBeCloseTo((a1 - start) / 1000, 3);
    expect(seg.A.watch_time_s).toBeCloseTo((b - a1 + end - a2) / 1000, 3);
    expect(seg.B.watch_time_s).toBeCloseTo((a2 - b) / 1000, 3);
    expect(r.by_segment.map((x: any) => x.unique_viewers)).toEqual([1, 1, 1]);
    // The series by segment lists each (bucket, segment) once, and adds up to the same total.
    const rows = (await s.api("GET", `/api/v1/broadcasts/${bid}/series?metric=watch_time_s&bucket_s=60&group_by=segment`)).body.data as any[];
    const pairs = rows.map((x) => `${x.t} ${x.segment}`);
    expect(new Set(pairs).size).toBe(pairs.length);
    expect(rows.reduce((n, x) => n + x.value, 0)).toBeCloseTo((end - start) / 1000, 3);
    const onlyA = (await s.api("GET", `/api/v1/broadcasts/${bid}/series?metric=watch_time_s&bucket_s=60&segment=A`)).body.data as any[];
    expect(onlyA.reduce((n, x) => n + x.value, 0)).toBeCloseTo(seg.A.watch_time_s, 3);
  });
});

// =====================================================================================
// Erasure
// =====================================================================================
// X (GB) watches [0,60], rejoins at 90 and is still connected when erased at t=120; leaves at 180.
// Y (US) watches [0,240]. Both chat once at t=0; X reacts twice. End at 240.
//   unique viewers 2; watch X 60+90 = 150, Y 240 -> 390; 2 chatters, 2 messages.
describe("erasure", () => {
  const T0 = Date.UTC(2026, 11, 12, 20, 0, 0);
  const clock = new ManualClock(T0);
  const X = "erase-me-4f9c2a";
  let s: ChatServer;
  const open: Viewer[] = [];
  const tab = tabOpener(() => s, open);
  let stopped = false;

  beforeAll(async () => {
    s = await startChatServer({ clock, env: TRUSTED });
  });
  afterAll(async () => {
    closeAll(...open);
    if (!stopped) await s?.stop();
    if (s) rmSync(s.dataDir, { recursive: true, force: true });
  });

  test("DELETE /viewers/:id/data: the id is gone from analytics.duckdb, the counts stay", async () => {
    await s.createStream("erase", SETTINGS);
    const live = await s.api("POST", "/api/v1/streams/erase/live");
    const bid = live.body.id;
    const x1 = await tab("erase", X, IP.GB);
    const y = await tab("erase", "keep-y", IP.US);
    await x1.j.publish("hello from x");
    await y.j.publish("hello from y");
    await react(x1, "🔥", 2);
    clock.advance(60_000);
    await leave(x1);
    clock.advance(30_000);
    const x2 = await tab("erase", X, IP.GB);
    clock.advance(30_000);
    // t=120: flushed (X's open session and chatter row are in DuckDB now), then erased.
    await s.app.analytics.flush();
    const pick = (r: any) => ({ status: r.status, unique: r.body.unique_viewers, watch: r.body.total_watch_time_s, chatters: r.body.unique_chatters, messages: r.body.messages, peak: r.body.peak_concurrent_viewers, by_country: r.body.by_country });
    const before = pick(await s.api("GET", `/api/v1/broadcasts/${bid}/report`));
    // As of t=120: X 60 + 30, Y 120.
    expect(before).toMatchObject({ status: 200, unique: 2, watch: 210, chatters: 2, messages: 2, peak: 2 });
    const er = await s.api("DELETE", `/api/v1/viewers/${X}/data`);
    expect(er.status).toBe(200);
    expect(er.body).toMatchObject({ viewer_id: X, messages: 1, analytics: "anonymised" });
    expect(pick(await s.api("GET", `/api/v1/broadcasts/${bid}/report`))).toEqual(before);
    clock.advance(60_000);
    await leave(x2);
    clock.advance(60_000);
    expect((await s.api("POST", "/api/v1/streams/erase/end")).status).toBe(200);
    await s.app.analytics.flush();
    const after = pick(await s.api("GET", `/api/v1/broadcasts/${bid}/report`));
    expect(after).toMatchObject({ status: 200, unique: 2, watch: 390, chatters: 2, messages: 2, peak: 2 });
    expect([...after.by_country].sort(byKey("country"))).toEqual([
      { country: "GB", unique_viewers: 1, watch_time_s: 150, messages: 1, reactions: 2, unique_chatters: 1 },
      { country: "US", unique_viewers: 1, watch_time_s: 240, messages: 1, reactions: 0, unique_chatters: 1 },
    ]);
    // The database file can be opened only once its owner is gone.
    closeAll(...open);
    await s.stop();
    stopped = true;
    expect(await findInDuck(s.dataDir, X)).toEqual([]);
    // The other viewer is still there (the scan does look at the right rows).
    expect((await findInDuck(s.dataDir, "keep-y")).map((h) => h.table).sort()).toEqual(["chatters", "sessions"]);
  });
});

// The analytics part of an erasure is a SQLite row written with the rest of the erasure, applied to
// DuckDB after: a stuck worker delays it (the API answers 202 "pending", not a hang) but does not
// lose it, and one left by a crash is applied at the next start.
describe("erasure: the analytics part is never lost", () => {
  const T0 = Date.UTC(2025, 2, 3, 10, 0, 0);
  const clock = new ManualClock(T0);
  let s: ChatServer | undefined;
  let dataDir = "";
  const open: Viewer[] = [];
  const tab = tabOpener(() => s!, open);
  const sqlite = <T,>(sql: string): T[] => readSqlite<T>(dataDir, sql);
  const pending = () => sqlite<{ viewer_id: string }>("SELECT viewer_id FROM analytics_erasures ORDER BY id");
  const chatterAndSession = async (slug: string, who: string) => {
    await s!.createStream(slug, SETTINGS);
    const bid = (await s!.api("POST", `/api/v1/streams/${slug}/live`)).body.id as string;
    const t = await tab(slug, who, IP.GB);
    await t.j.publish(`hello from ${who}`);
    clock.advance(30_000);
    await leave(t);
    expect((await s!.api("POST", `/api/v1/streams/${slug}/end`)).status).toBe(200);
    await s!.app.analytics.flush();
    return bid;
  };

  afterAll(async () => {
    closeAll(...open);
    await s?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test("a stuck worker: 202 pending, then applied once the worker is replaced, without asking again", async () => {
    s = await startChatServer({ clock, env: TRUSTED, faultInjection: true, start: { analyticsUnresponsiveMs: 12_000, eraseWaitMs: 300 } });
    dataDir = s.dataDir;
    const bid = await chatterAndSession("stuck", "stuck-x");
    const before = (await s.api("GET", `/api/v1/broadcasts/${bid}/report`)).body;
    expect(before).toMatchObject({ unique_viewers: 1, unique_chatters: 1, total_watch_time_s: 30 });
    s.app.analytics.injectFault("hang"); // (the rename, queued behind it, cannot run)
    const er = await s.api("DELETE", "/api/v1/viewers/stuck-x/data");
    expect(er.status).toBe(202);
    expect(er.body).toMatchObject({ viewer_id: "stuck-x", messages: 1, analytics: "pending" });
    expect(pending().map((r) => r.viewer_id)).toEqual(["stuck-x"]);
    // Asked again meanwhile (a retry after the 202): still one request, with the same anonymous key.
    const again = await s.api("DELETE", "/api/v1/viewers/stuck-x/data");
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ viewer_id: "stuck-x", messages: 0, analytics: "pending" });
    expect(pending().map((r) => r.viewer_id)).toEqual(["stuck-x"]);
    // The audit row says what was done, and that the analytics part was queued with it.
    const audit = sqlite<{ data: string }>("SELECT data FROM audit_log WHERE action = 'viewer.erase' AND stream_id IS NULL AND target_id = 'stuck-x' ORDER BY id");
    expect(audit.map((r) => JSON.parse(r.data))).toEqual([{ messages: 1, held: 0, votes: 0, analytics: "queued" }, { messages: 0, held: 0, votes: 0, analytics: "queued" }]);
    // The supervisor replaces the silent worker; the flush interval applies the erasure.
    await waitFor("the erasure applied", () => pending().length === 0, 60_000);
    const after = (await s.api("GET", `/api/v1/broadcasts/${bid}/report`)).body;
    expect(after).toMatchObject({ unique_viewers: 1, unique_chatters: 1, total_watch_time_s: 30 });
    await s.stop();
    s = undefined;
    expect(await findInDuck(dataDir, "stuck-x")).toEqual([]);
  }, 90_000);

  test("left by a crash between the commit and DuckDB: applied at the next start", async () => {
    s = await startChatServer({ clock, env: TRUSTED, dataDir });
    await chatterAndSession("crashed", "crash-x");
    await s.stop();
    s = undefined;
    expect((await findInDuck(dataDir, "crash-x")).map((h) => h.table).sort()).toEqual(["chatters", "sessions"]);
    // What a process killed right after the erasure's commit leaves: the request, not yet applied.
    const db = new Database(join(dataDir, "hubbub.sqlite"));
    new ErasureLog(db).add(db, "crash-x", clock.now());
    db.close();
    s = await startChatServer({ clock, env: TRUSTED, dataDir });
    await waitFor("the erasure applied at start", () => pending().length === 0, 60_000);
    await s.stop();
    s = undefined;
    expect(await findInDuck(dataDir, "crash-x")).toEqual([]);
    expect(await findInDuck(dataDir, "erased:")).not.toEqual([]);
  }, 90_000);
});
