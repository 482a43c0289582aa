// Analytics end to end on a scripted broadcast with a hand-driven clock: viewers join and leave at
// known times, chat and react; the report and series equal what the script implies.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { closeAll, startChatServer, viewer, type ChatServer, type Viewer } from "../support/chat.ts";
import { ManualClock } from "../support/identity.ts";
import { waitFor } from "../support/wait.ts";

let s: ChatServer;
const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const clock = new ManualClock(T0);
const open: Viewer[] = [];

beforeAll(async () => {
  s = await startChatServer({ clock });
});
afterAll(async () => {
  closeAll(...open);
  await s.dispose();
});

async function watcher(sub: string) {
  const v = viewer(s.ws, await s.token(sub));
  open.push(v);
  const j = await v.join("stream:an-1");
  return { v, j };
}

test("a scripted broadcast: peak, average, watch time, retention, chat and reactions", async () => {
  await s.createStream("an-1", { rate_limit: { messages: 1000, per_s: 1 }, reaction_rate: 1000, automod_level: 0 });
  const live = await s.api("POST", "/api/v1/streams/an-1/live");
  expect(live.status).toBe(201);
  const bid = live.body.id;
  // t=0: a and b join. t=60s: c joins. t=120s: a leaves. t=180s: end (b, c still there).
  const a = await watcher("an-a");
  const b = await watcher("an-b");
  await a.j.publish("hello everyone, great show");
  await b.j.publish("this is awful");
  for (let i = 0; i < 5; i++) expect((await a.j.ch.push("reaction:send", { emoji: "🔥" }), true)).toBe(true);
  clock.advance(60_000);
  const c = await watcher("an-c");
  expect((await s.api("POST", `/api/v1/broadcasts/${bid}/segments`, { label: "Q&A" })).status).toBe(201);
  await c.j.publish("hi");
  clock.advance(60_000);
  a.v.close();
  await waitFor("a's session ended", () => s.app.hub.countOf("an-1") === 2);
  clock.advance(60_000);
  const live2 = await s.api("GET", "/api/v1/streams/an-1/analytics/live");
  expect(live2.body).toMatchObject({ live: true, concurrent_viewers: 2, unique_chatters: 3, messages: 3, segment: "Q&A" });
  await waitFor("reactions counted live", async () => (await s.api("GET", "/api/v1/streams/an-1/analytics/live")).body.reactions === 5);
  expect((await s.api("POST", "/api/v1/streams/an-1/end")).status).toBe(200);
  await s.app.analytics.flush();
  const r = await s.api("GET", `/api/v1/broadcasts/${bid}/report`);
  expect(r.status).toBe(200);
  const rep = r.body;
  expect(rep.peak_concurrent_viewers).toBe(3);
  expect(rep.unique_viewers).toBe(3);
  // a: 120 s, b: 180 s, c: 120 s.
  expect(rep.total_watch_time_s).toBe(420);
  expect(rep.average_concurrent_viewers).toBeCloseTo(420 / 180, 2);
  expect(rep.average_view_duration_s).toBe(140);
  expect(rep.retention.map((x: any) => x.present)).toEqual([2, 3, 2]);
  expect(rep.unique_chatters).toBe(3);
  expect(rep.messages).toBe(3);
  expect(rep.reactions).toEqual({ total: 5, by_emoji: { "🔥": 5 } });
  // Q&A from t=60 s to the end: a 60 s, b 120 s, c 120 s.
  expect(rep.by_segment.find((x: any) => x.segment === "Q&A")).toMatchObject({ messages: 1, unique_chatters: 1, watch_time_s: 300, unique_viewers: 3 });
  expect(rep.by_segment.find((x: any) => x.segment === null)).toMatchObject({ messages: 2, unique_chatters: 2, watch_time_s: 120, reactions: 5 });
  const series = await s.api("GET", `/api/v1/broadcasts/${bid}/series?metric=concurrent_viewers&bucket_s=60`);
  expect(series.status).toBe(200);
  expect(series.body.data.map((x: any) => x.value)).toEqual([2, 3, 2]);
  const csv = await fetch(`${s.http}/api/v1/broadcasts/${bid}/series?metric=chat_messages&bucket_s=60&format=csv`, { headers: { authorization: "Bearer test-admin-key-0123456789abcdef" } });
  expect(await csv.text()).toContain("value");
  const pq = await fetch(`${s.http}/api/v1/broadcasts/${bid}/series?metric=watch_time_s&bucket_s=60&format=parquet`, { headers: { authorization: "Bearer test-admin-key-0123456789abcdef" } });
  const bytes = new Uint8Array(await pq.arrayBuffer());
  expect(new TextDecoder().decode(bytes.slice(0, 4))).toBe("PAR1");
  expect((await s.api("GET", `/api/v1/broadcasts/${bid}/series?metric=joins&bucket_s=7`)).status).toBe(400);
});
