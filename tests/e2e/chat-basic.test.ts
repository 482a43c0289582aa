// Chat end to end with the official client: ack after store, broadcast, history, nonce, recovery.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, join, push, record } from "../support/phoenix.ts";
import { removeDir, startTestServer, type TestServer } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await s.createStream("chat-1");
});
afterAll(async () => {
  await s.stop();
  removeDir(s.dataDir);
});

test("two viewers chat: published with seq, both receive chat:new, a joiner sees history", async () => {
  const a = connect(s.ws, { token: await s.token("ann", { name: "Ann" }) });
  const b = connect(s.ws, { token: await s.token("ben", { name: "Ben" }) });
  const chA = a.channel("stream:chat-1", {});
  const chB = b.channel("stream:chat-1", {});
  const seenB = record(chB, ["chat:new"]);
  await join(chA);
  await join(chB);
  const r1 = await push(chA, "chat:send", { body: "hello @ben", nonce: "n-1" });
  expect(r1).toEqual({ status: "ok", response: { status: "published", seq: 1 } });
  const got = await waitFor("ben gets it", () => seenB.find((e) => e.payload.seq === 1));
  expect(got.payload).toMatchObject({ seq: 1, body: "hello @ben", user: { id: "ann", name: "Ann", badges: [] }, reply_to: null, mentions: ["ben"] });
  // The same nonce again: the first answer, nothing new stored.
  const again = await push(chA, "chat:send", { body: "hello @ben", nonce: "n-1" });
  expect(again.response).toEqual({ status: "published", seq: 1 });
  const r2 = await push(chB, "chat:send", { body: "hi ann", reply_to: 1 });
  expect(r2.response.seq).toBe(2);
  const c = connect(s.ws);
  const reply = await join(c.channel("stream:chat-1", {}));
  expect(reply.history.map((m: any) => m.seq)).toEqual([1, 2]);
  expect(reply.seq).toBe(2);
  expect(reply.history[1].reply_to).toBe(1);
  // Recovery: a client that saw seq 1 gets exactly seq 2.
  const d = connect(s.ws);
  const rec = await join(d.channel("stream:chat-1", { last_seq: 1, epoch: reply.epoch }));
  expect(rec.recovered).toBe(true);
  expect(rec.history.map((m: any) => m.seq)).toEqual([2]);
  for (const x of [a, b, c, d]) x.disconnect();
});

test("refusals: guest, empty, too long, bad reply, and a link is held", async () => {
  await s.createStream("chat-2");
  const g = connect(s.ws);
  const chG = g.channel("stream:chat-2", {});
  await join(chG);
  expect((await push(chG, "chat:send", { body: "hi" })).response.reason).toBe("unauthenticated");
  const v = connect(s.ws, { token: await s.token("val") });
  const ch = v.channel("stream:chat-2", {});
  await join(ch);
  expect((await push(ch, "chat:send", { body: "   " })).response.reason).toBe("empty");
  expect((await push(ch, "chat:send", { body: "x".repeat(501) })).response.reason).toBe("too_long");
  expect((await push(ch, "chat:send", { body: "a\u202Eb" })).response.reason).toBe("invalid_text");
  expect((await push(ch, "chat:send", { body: "ok", reply_to: 99 })).response.reason).toBe("invalid_reply");
  const held = await push(ch, "chat:send", { body: "see https://example.com" });
  expect(held.response.status).toBe("held");
  const q = await s.api("GET", "/api/v1/streams/chat-2/review-queue");
  expect(q.body.data.map((x: any) => x.id)).toEqual([held.response.held_id]);
  const notices = record(ch, ["notice", "chat:new"]);
  const ap = await s.api("POST", `/api/v1/review-queue/${held.response.held_id}/approve`, {});
  expect(ap.status).toBe(200);
  await waitFor("held_approved notice and chat:new", () => notices.find((n) => n.event === "notice" && n.payload.kind === "held_approved") && notices.find((n) => n.event === "chat:new"));
  g.disconnect();
  v.disconnect();
});

test("a deletion of a message the client already had, made while it was away, comes back as a tombstone", async () => {
  await s.createStream("chat-3");
  const a = connect(s.ws, { token: await s.token("amy") });
  const ch = a.channel("stream:chat-3", {});
  const first = await join(ch);
  const m1 = await push(ch, "chat:send", { body: "one" });
  const m2 = await push(ch, "chat:send", { body: "two" });
  // The client saw both (last_seq = 2); while it is away, seq 1 is deleted and seq 3 arrives.
  a.disconnect();
  expect((await s.api("POST", "/api/v1/streams/chat-3/moderation", { action: "delete", seq: m1.response.seq })).status).toBe(200);
  const b = connect(s.ws, { token: await s.token("bea") });
  const chB = b.channel("stream:chat-3", {});
  await join(chB);
  await push(chB, "chat:send", { body: "three" });
  const c = connect(s.ws);
  const rec = await join(c.channel("stream:chat-3", { last_seq: m2.response.seq, epoch: first.epoch }));
  expect(rec.recovered).toBe(true);
  expect(rec.history.map((m: any) => (m.deleted ? `x${m.seq}` : m.body))).toEqual(["x1", "three"]);
  b.disconnect();
  c.disconnect();
});
