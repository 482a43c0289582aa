// Chat history with the official phoenix client on a real port: recovery after a reconnect (exactly
// the gap, no duplicate, no gap; or recovered: false and the latest 50), tombstones, retried nonces,
// the chat delay (a message deleted inside the delay is never broadcast), and the chat API's paging.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chatHistory, closeAll, joinTracked, linkedAccount, recoveringClient, startChatServer, viewer, type ChatServer, type Joined, type Viewer } from "../support/chat.ts";
import { waitFor } from "../support/wait.ts";

const GENEROUS = { messages: 10000, per_s: 1 };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

let s: ChatServer;
const open: Viewer[] = [];
beforeAll(async () => {
  s = await startChatServer();
  await linkedAccount(s, "hist-mod", "moderator", "hist-mod-v");
});
afterAll(async () => {
  closeAll(...open);
  await s.dispose();
});

async function writer(slug: string, sub = `w-${slug}`): Promise<Joined> {
  const v = viewer(s.ws, await s.token(sub));
  open.push(v);
  return v.join(`stream:${slug}`);
}

async function publishMany(w: Joined, n: number, prefix = "m"): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) seqs.push((await w.publish(`${prefix} ${i}`)).seq);
  return seqs;
}

function reconnect(v: Viewer): void {
  v.socket.connect();
}

describe("recovery after a reconnect", () => {
  test("the rejoin asks with last_seq and epoch and gets exactly the missed messages (tombstones included): no duplicate, no gap", async () => {
    await s.createStream("hist-recover", { rate_limit: GENEROUS });
    const w = await writer("hist-recover");
    const a = await recoveringClient(s.ws, "stream:hist-recover", await s.token("a-recover"));
    open.push(a.viewer);
    expect(a.joined.replies[0].recovered).toBe(false); // a first join asks for nothing
    await publishMany(w, 3);
    await waitFor("a sees 1..3", () => a.seen.length === 3);
    a.viewer.socket.disconnect();
    const missed = await publishMany(w, 5, "while away");
    // Deleted while a was away: it comes back as a tombstone, so the client can tell it from a loss.
    expect((await s.api("POST", "/api/v1/streams/hist-recover/moderation", { action: "delete", seq: missed[2] })).status).toBe(200);
    reconnect(a.viewer);
    await waitFor("a's rejoin reply", () => a.joined.replies.length === 2);
    const rejoin = a.joined.replies[1];
    expect(rejoin.recovered).toBe(true);
    expect(rejoin.seq).toBe(8);
    expect(rejoin.history.map((m: any) => m.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(rejoin.history[2]).toEqual({ seq: 6, deleted: true });
    expect(rejoin.history[0]).toMatchObject({ seq: 4, body: "while away 0", user: { id: "w-hist-recover" } });
    await w.publish("after the return");
    await waitFor("a sees 9", () => a.seen.includes(9));
    expect(a.seen).toEqual(range(1, 9));
  });

  test("a gap beyond recovery_window gives recovered: false and the latest 50; a gap of exactly the window is recovered", async () => {
    await s.createStream("hist-window", { rate_limit: GENEROUS, recovery_window: 10 });
    const w = await writer("hist-window");
    const a = await recoveringClient(s.ws, "stream:hist-window", await s.token("a-window"));
    open.push(a.viewer);
    await publishMany(w, 5);
    await waitFor("a sees 1..5", () => a.seen.length === 5);
    a.viewer.socket.disconnect();
    await publishMany(w, 60, "flood");
    reconnect(a.viewer);
    await waitFor("a's rejoin reply", () => a.joined.replies.length === 2);
    const lost = a.joined.replies[1];
    expect(lost.recovered).toBe(false);
    expect(lost.seq).toBe(65);
    expect(lost.history.map((m: any) => m.seq)).toEqual(range(16, 65));
    // Exactly recovery_window messages missed: still recovered.
    a.viewer.socket.disconnect();
    await publishMany(w, 10, "window");
    reconnect(a.viewer);
    await waitFor("a's second rejoin reply", () => a.joined.replies.length === 3);
    expect(a.joined.replies[2].recovered).toBe(true);
    expect(a.joined.replies[2].history.map((m: any) => m.seq)).toEqual(range(66, 75));
  });

  test("a wrong or missing epoch, or a last_seq ahead of the stream, gives recovered: false and the latest 50", async () => {
    await s.createStream("hist-epoch", { rate_limit: GENEROUS });
    const w = await writer("hist-epoch");
    await publishMany(w, 55);
    const epoch = w.replies[0].epoch;
    const v = viewer(s.ws);
    open.push(v);
    const ask = async (params: Record<string, unknown>) => (await joinTracked(v.socket, "stream:hist-epoch", params)).replies[0];
    const latest50 = range(6, 55);
    for (const params of [{ last_seq: 50, epoch: "not-the-epoch" }, { last_seq: 50 }, { last_seq: 56, epoch }, { last_seq: 500, epoch }]) {
      const r = await ask(params);
      expect(r.recovered, JSON.stringify(params)).toBe(false);
      expect(r.history.map((m: any) => m.seq), JSON.stringify(params)).toEqual(latest50);
    }
    const upToDate = await ask({ last_seq: 55, epoch });
    expect(upToDate).toMatchObject({ recovered: true, history: [], seq: 55, epoch });
    const fromZero = await ask({ last_seq: 0, epoch });
    expect(fromZero.recovered).toBe(true);
    expect(fromZero.history.map((m: any) => m.seq)).toEqual(range(1, 55));
  });

  test("a gap too large for the reply's byte budget gives recovered: false and the latest 50", async () => {
    await s.createStream("hist-budget", { rate_limit: GENEROUS, automod_level: 0 }); // long repeated bodies are not spam here
    const w = await writer("hist-budget");
    const big = "x".repeat(496); // 500 characters with the counter: ~650 B per message in JSON; 600 of them are far over 256 KiB
    for (let i = 0; i < 600; i++) await w.publish(`${String(i).padStart(3, "0")} ${big}`);
    const v = viewer(s.ws);
    open.push(v);
    const all = (await joinTracked(v.socket, "stream:hist-budget", { last_seq: 0, epoch: w.replies[0].epoch })).replies[0];
    expect(all.recovered).toBe(false);
    expect(all.history.map((m: any) => m.seq)).toEqual(range(551, 600));
    expect(JSON.stringify(all).length).toBeLessThan(1024 * 1024);
  });
});

describe("retried nonces", () => {
  test("a repeated nonce returns the first answer and stores nothing new, also when both sends race", async () => {
    await s.createStream("hist-nonce", { rate_limit: GENEROUS });
    const obs = await writer("hist-nonce", "nonce-observer");
    const v = await writer("hist-nonce", "nonce-v");
    const first = await v.send({ body: "once", nonce: "n-1" });
    expect(first).toEqual({ status: "ok", response: { status: "published", seq: 1 } });
    const again = await v.send({ body: "once", nonce: "n-1" });
    expect(again).toEqual(first);
    // Even with another body: the nonce names the message.
    expect(await v.send({ body: "changed my mind", nonce: "n-1" })).toEqual(first);
    // Two sends with one nonce in flight together (a client retrying before the first ack).
    const [x, y] = await Promise.all([v.send({ body: "racing", nonce: "n-2" }), v.send({ body: "racing", nonce: "n-2" })]);
    expect(x).toEqual({ status: "ok", response: { status: "published", seq: 2 } });
    expect(y).toEqual(x);
    // Nonces belong to their viewer: someone else's n-1 is a new message.
    const other = await obs.send({ body: "my own n-1", nonce: "n-1" });
    expect(other.response).toEqual({ status: "published", seq: 3 });
    await obs.waitNew((m) => m.seq === 3, "seq 3");
    expect(obs.news().map((m) => m.seq)).toEqual([1, 2, 3]);
    expect((await chatHistory(s, "hist-nonce")).map((m) => [m.seq, m.body])).toEqual([[1, "once"], [2, "racing"], [3, "my own n-1"]]);
  });

  test("a nonce used again in another stream never acknowledges a message that is not in that stream", async () => {
    await s.createStream("hist-nonce-a", { rate_limit: GENEROUS });
    await s.createStream("hist-nonce-b", { rate_limit: GENEROUS });
    const v = viewer(s.ws, await s.token("nonce-two-streams"));
    open.push(v);
    const a = await v.join("stream:hist-nonce-a");
    const b = await v.join("stream:hist-nonce-b");
    await a.publish("filler in a");
    expect((await a.send({ body: "in a", nonce: "per-stream-1" })).response).toEqual({ status: "published", seq: 2 });
    const r = await b.send({ body: "in b", nonce: "per-stream-1" });
    // Storing it in b, or refusing it, would both be honest; an ack of a's seq 2 for b is not.
    if (r.status === "ok") {
      const stored = await chatHistory(s, "hist-nonce-b");
      expect(stored.find((m) => m.seq === r.response.seq)?.body).toBe("in b");
    }
  });

  test("a held message's retried nonce returns the same held_id and queues nothing new", async () => {
    await s.createStream("hist-nonce-held", { rate_limit: GENEROUS });
    const v = await writer("hist-nonce-held");
    const held = await v.send({ body: "look at example.com", nonce: "h-1" });
    expect(held.response).toMatchObject({ status: "held" });
    const [a, b] = await Promise.all([v.send({ body: "look at example.com", nonce: "h-1" }), v.send({ body: "look at example.com", nonce: "h-1" })]);
    expect(a).toEqual(held);
    expect(b).toEqual(held);
    const q = await s.api("GET", "/api/v1/streams/hist-nonce-held/review-queue?status=all");
    expect(q.body.data.map((i: any) => i.id)).toEqual([held.response.held_id]);
  });
});

describe("chat delay", () => {
  test("the sender's ack carries visible_at; everyone gets chat:new only from then on; a message deleted inside the delay is never broadcast and stays a tombstone", async () => {
    await s.createStream("hist-delay", { rate_limit: GENEROUS, chat_delay_s: 2 });
    expect((await s.api("PUT", "/api/v1/streams/hist-delay/moderators/hist-mod")).status).toBe(200);
    const obs = await writer("hist-delay", "delay-observer");
    const v = await writer("hist-delay", "delay-sender");
    const modV = viewer(s.ws, await s.token("hist-mod-v"));
    open.push(modV);
    const mod = await modV.join("stream:hist-delay");
    expect(obs.replies[0].stream.modes.chat_delay_s).toBe(2);

    const doomed = await v.publish("deleted inside the delay");
    expect(doomed).toMatchObject({ status: "published", seq: 1 });
    expect(doomed.visible_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const del = await s.api("POST", "/api/v1/streams/hist-delay/moderation", { action: "delete", seq: doomed.seq, reason: "caught in time" });
    expect(del.status).toBe(200);
    // The premise of this test: the deletion landed before the message became visible.
    expect(Date.now()).toBeLessThan(Date.parse(doomed.visible_at));

    const kept = await v.publish("kept");
    expect(kept.seq).toBe(2);
    const visibleAt = Date.parse(kept.visible_at);
    expect(visibleAt).toBeGreaterThanOrEqual(Date.parse(doomed.visible_at));
    // Someone joining inside the delay: history stops before the delayed messages.
    const late = viewer(s.ws, await s.token("delay-late"));
    open.push(late);
    const lateCh = await late.join("stream:hist-delay");
    const joinedBeforeVisible = Date.now() < visibleAt;
    if (joinedBeforeVisible) expect(lateCh.replies[0].history.map((m: any) => m.seq)).toEqual([]);

    const got = await obs.waitNew((m) => m.seq === kept.seq, "the kept message after its delay");
    expect(got.body).toBe("kept");
    const receivedAt = obs.events.find((e) => e.event === "chat:new" && e.payload.seq === kept.seq)!.at;
    expect(receivedAt).toBeGreaterThanOrEqual(visibleAt);
    // The sender is shown nothing early either.
    await v.waitNew((m) => m.seq === kept.seq, "the sender's own chat:new");
    expect(v.events.find((e) => e.event === "chat:new" && e.payload.seq === kept.seq)!.at).toBeGreaterThanOrEqual(visibleAt);
    // The late joiner sees it exactly once, by history or by broadcast.
    await waitFor("the late joiner sees kept", () => lateCh.news().some((m) => m.seq === kept.seq) || lateCh.replies[0].history.some((m: any) => m.seq === kept.seq));
    expect([...lateCh.replies[0].history, ...lateCh.news()].filter((m: any) => m.seq === kept.seq)).toHaveLength(1);

    // A moderator's message skips the delay (no visible_at) and comes after kept: once it is here,
    // everything before it was broadcast, and the deleted one never was.
    const modAck = await mod.publish("moderator, no delay");
    expect(modAck.visible_at).toBeUndefined();
    await obs.waitNew((m) => m.seq === modAck.seq, "the moderator's message");
    expect(obs.news().map((m) => m.seq)).toEqual([kept.seq, modAck.seq]);
    expect(obs.events.some((e) => JSON.stringify(e.payload).includes("deleted inside the delay"))).toBe(false);

    const stored = await chatHistory(s, "hist-delay");
    expect(stored.map(({ visible_at, ...m }) => (m.deleted ? m : { seq: m.seq, body: m.body }))).toEqual([
      { seq: 1, deleted: true },
      { seq: 2, body: "kept" },
      { seq: 3, body: "moderator, no delay" },
    ]);
    const fresh = viewer(s.ws);
    open.push(fresh);
    const freshCh = await fresh.join("stream:hist-delay");
    expect(freshCh.replies[0].history[0]).toEqual({ seq: 1, deleted: true });
    expect(freshCh.replies[0].history.map((m: any) => m.seq)).toEqual([1, 2, 3]);
  });
});

describe("the chat API", () => {
  test("pages forward with next_cursor (opaque) until null", async () => {
    await s.createStream("hist-pages", { rate_limit: GENEROUS });
    const w = await writer("hist-pages");
    await publishMany(w, 5);
    const seqs: number[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 5; i++) {
      const r: { status: number; body: any } = await s.api("GET", `/api/v1/streams/hist-pages/chat?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(r.status).toBe(200);
      seqs.push(...r.body.data.map((m: any) => m.seq));
      cursor = r.body.next_cursor;
      if (!cursor) break;
    }
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(cursor).toBeNull();
  });

  test("after_seq and before_seq select a range", async () => {
    await s.createStream("hist-range", { rate_limit: GENEROUS });
    const w = await writer("hist-range");
    await publishMany(w, 6);
    const after = await s.api("GET", "/api/v1/streams/hist-range/chat?after_seq=2&limit=2");
    expect(after.body.data.map((m: any) => m.seq)).toEqual([3, 4]);
    const before = await s.api("GET", "/api/v1/streams/hist-range/chat?before_seq=5&limit=2");
    expect(before.body.data.map((m: any) => m.seq)).toEqual([3, 4]);
    // Both bounds: the newest between them, and the next pages (backwards) stop at after_seq.
    const seqs: number[] = [];
    let r = await s.api("GET", "/api/v1/streams/hist-range/chat?after_seq=1&before_seq=6&limit=2");
    for (let pages = 0; ; pages++) {
      expect(r.status).toBe(200);
      seqs.unshift(...r.body.data.map((m: any) => m.seq));
      if (!r.body.next_cursor || pages > 5) break;
      r = await s.api("GET", `/api/v1/streams/hist-range/chat?cursor=${r.body.next_cursor}&limit=2`);
    }
    expect(seqs).toEqual([2, 3, 4, 5]);
    const bad = await s.api("GET", "/api/v1/streams/hist-range/chat?limit=0");
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_payload");
  });
});

