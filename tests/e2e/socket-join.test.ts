// Joining streams with the official phoenix client: the join reply, presence, counts, leave.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, join, joinRefused, Presence, push, record } from "../support/phoenix.ts";
import { removeDir, startTestServer, type TestServer } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await s.createStream("show-1");
});
afterAll(async () => {
  await s.stop();
  removeDir(s.dataDir);
});

describe("stream channel join", () => {
  test("a guest joins and gets the join reply of PRODUCT.md", async () => {
    const socket = connect(s.ws);
    const ch = socket.channel("stream:show-1", {});
    const reply = await join(ch);
    expect(reply.stream).toEqual({
      slug: "show-1",
      title: "Stream show-1",
      status: "offline",
      live_since: null,
      modes: { slow_mode_s: 0, members_only: false, emote_only: false, unique_chat: false, chat_delay_s: 0, chat_closed: false },
      reactions: ["❤️", "🔥", "😂", "👏", "😮", "🎉"],
      playback_url: null,
    });
    expect(reply.me.guest).toBe(true);
    expect(reply.me.id).toBeNull();
    expect(reply.me.role).toBe("viewer");
    expect(reply.me.can).toEqual({ chat: false, react: true, vote: false, moderate: false });
    expect(reply.history).toEqual([]);
    expect(reply.recovered).toBe(false);
    expect(reply.seq).toBe(0);
    expect(typeof reply.epoch).toBe("string");
    expect(reply.viewers).toBeGreaterThanOrEqual(1);
    expect(reply.poll).toBeNull();
    socket.disconnect();
  });

  test("an unknown stream is refused with not_found", async () => {
    const socket = connect(s.ws);
    const resp = await joinRefused(socket.channel("stream:no-such-stream", {}));
    expect(resp.reason).toBe("not_found");
    socket.disconnect();
  });

  test("an unknown topic gets 'unmatched topic'", async () => {
    const socket = connect(s.ws);
    const resp = await joinRefused(socket.channel("lobby:all", {}));
    expect(resp.reason).toBe("unmatched topic");
    socket.disconnect();
  });

  test("unknown join params are refused", async () => {
    const socket = connect(s.ws);
    const resp = await joinRefused(socket.channel("stream:show-1", { admin: true }));
    expect(resp.reason).toBe("invalid_payload");
    socket.disconnect();
  });

  test("signed-in viewers see each other through the client's Presence, and leave", async () => {
    await s.createStream("presence-1");
    const a = connect(s.ws, { token: await s.token("alice", { name: "Alice", badges: ["vip"] }) });
    const b = connect(s.ws, { token: await s.token("bob", { name: "Bob" }) });
    const chA = a.channel("stream:presence-1", {});
    const chB = b.channel("stream:presence-1", {});
    const pA = new Presence(chA);
    const replyA = await join(chA);
    expect(replyA.me).toMatchObject({ id: "alice", name: "Alice", guest: false, role: "viewer" });
    await join(chB);
    const keys = () => pA.list((id: string) => id).sort();
    await waitFor("alice sees alice and bob", () => JSON.stringify(keys()) === JSON.stringify(["alice", "bob"]));
    const aliceMetas = pA.list((id: string, p: any) => ({ id, metas: p.metas })).find((x: any) => x.id === "alice")!.metas;
    expect(aliceMetas[0]).toMatchObject({ name: "Alice", badges: ["vip"] });
    expect(aliceMetas[0].online_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    chB.leave();
    await waitFor("bob gone from alice's list", () => JSON.stringify(keys()) === JSON.stringify(["alice"]));
    a.disconnect();
    b.disconnect();
  });

  test("viewers {count} counts distinct signed-in viewers plus guest sockets", async () => {
    await s.createStream("count-1");
    const watcher = connect(s.ws);
    const ch = watcher.channel("stream:count-1", {});
    const counts = record(ch, ["viewers"]);
    await join(ch); // 1 guest
    const t = await s.token("carol");
    const c1 = connect(s.ws, { token: t });
    const c2 = connect(s.ws, { token: t }); // same viewer, second socket: still one viewer
    const g = connect(s.ws);
    await join(c1.channel("stream:count-1", {}));
    await join(c2.channel("stream:count-1", {}));
    await join(g.channel("stream:count-1", {}));
    // 2 guests + carol = 3
    await waitFor("count 3", () => counts.at(-1)?.payload.count === 3);
    g.disconnect();
    c1.disconnect();
    await waitFor("count 2", () => counts.at(-1)?.payload.count === 2);
    // only on change: no two consecutive equal counts
    for (let i = 1; i < counts.length; i++) expect(counts[i]!.payload.count).not.toBe(counts[i - 1]!.payload.count);
    c2.disconnect();
    watcher.disconnect();
  });

  test("an overlay joins with {overlay: true}: it hears everything, counts as nobody, and sends nothing", async () => {
    await s.createStream("overlay-1");
    const live = await s.api("POST", "/api/v1/streams/overlay-1/live");
    expect(live.status).toBe(201);
    // Signed in, a viewer may not hide from presence and the count that way.
    const signed = connect(s.ws, { token: await s.token("streamer-obs") });
    expect((await joinRefused(signed.channel("stream:overlay-1", { overlay: true }))).reason).toBe("forbidden");
    signed.disconnect();
    const o = connect(s.ws);
    const och = o.channel("stream:overlay-1", { overlay: true });
    const heard = record(och, ["viewers", "reactions"]);
    const reply = await join(och);
    expect(reply.viewers).toBe(0);
    expect(reply.me.can).toEqual({ chat: false, react: false, vote: false, moderate: false });
    expect(await push(och, "reaction:send", { emoji: "🔥" })).toMatchObject({ status: "error", response: { reason: "forbidden" } });
    expect(await push(och, "chat:send", { body: "hi" })).toMatchObject({ status: "error", response: { reason: "forbidden" } });
    // A viewer joins: they are the one viewer, and their reaction reaches the overlay.
    const v = connect(s.ws);
    const vch = v.channel("stream:overlay-1", {});
    expect((await join(vch)).viewers).toBe(1);
    await waitFor("the overlay hears count 1", () => heard.some((e) => e.event === "viewers" && e.payload.count === 1));
    expect((await push(vch, "reaction:send", { emoji: "🔥" })).status).toBe("ok");
    await waitFor("the reaction heard by the overlay", () => heard.some((e) => e.event === "reactions" && e.payload.counts["🔥"] === 1));
    // Analytics counts the one viewer, not the overlay.
    const stream = s.app.streams.findBySlug("overlay-1")!;
    expect(s.app.analytics.liveMetrics(stream).concurrent_viewers).toBe(1);
    expect(s.app.analytics.trackedViewers(live.body.id)).toBe(1);
    // Leaving as the overlay changes nothing; the viewer leaving brings the count to 0.
    await new Promise<void>((r) => och.leave().receive("ok", () => r()));
    expect(s.app.hub.countOf("overlay-1")).toBe(1);
    v.disconnect();
    await waitFor("count 0", () => s.app.hub.countOf("overlay-1") === 0);
    // The param is a boolean.
    expect((await joinRefused(o.channel("stream:overlay-1", { overlay: "yes" }))).reason).toBe("invalid_payload");
    o.disconnect();
  });

  test("presence:friends answers which ids are joined", async () => {
    await s.createStream("friends-1");
    const a = connect(s.ws, { token: await s.token("dave") });
    const b = connect(s.ws, { token: await s.token("erin") });
    const chA = a.channel("stream:friends-1", {});
    await join(chA);
    await join(b.channel("stream:friends-1", {}));
    const r = await push(chA, "presence:friends", { ids: ["erin", "frank", "dave"] });
    expect(r.status).toBe("ok");
    expect(r.response.watching.sort()).toEqual(["dave", "erin"]);
    const bad = await push(chA, "presence:friends", { ids: Array.from({ length: 201 }, (_, i) => `v${i}`) });
    expect(bad).toMatchObject({ status: "error", response: { reason: "invalid_payload" } });
    a.disconnect();
    b.disconnect();
  });

  test("an unknown event gets unknown_event", async () => {
    const socket = connect(s.ws);
    const ch = socket.channel("stream:show-1", {});
    await join(ch);
    const r = await push(ch, "teleport", {});
    expect(r).toMatchObject({ status: "error", response: { reason: "unknown_event" } });
    socket.disconnect();
  });

  test("user:<id> is joinable only by that viewer", async () => {
    const t = await s.token("gina");
    const mine = connect(s.ws, { token: t });
    await join(mine.channel("user:gina", {}));
    const other = await joinRefused(mine.channel("user:hank", {}));
    expect(other.reason).toBe("forbidden");
    const guest = connect(s.ws);
    expect((await joinRefused(guest.channel("user:gina", {}))).reason).toBe("unauthenticated");
    mine.disconnect();
    guest.disconnect();
  });

  test("stream:update goes out when the public view changes, and announcements arrive", async () => {
    await s.createStream("update-1");
    const socket = connect(s.ws);
    const ch = socket.channel("stream:update-1", {});
    const seen = record(ch, ["stream:update", "announcement"]);
    await join(ch);
    expect((await s.api("PATCH", "/api/v1/streams/update-1", { title: "New title", settings: { slow_mode_s: 10 } })).status).toBe(200);
    const upd = await waitFor("stream:update", () => seen.find((e) => e.event === "stream:update"));
    expect(upd.payload).toMatchObject({ title: "New title", modes: { slow_mode_s: 10 } });
    expect(upd.payload.settings).toBeUndefined();
    // A change outside the public view (automod level) broadcasts nothing.
    await s.api("PATCH", "/api/v1/streams/update-1", { settings: { automod_level: 3 } });
    expect((await s.api("POST", "/api/v1/streams/update-1/live")).status).toBe(201);
    const live = await waitFor("live update", () => seen.find((e) => e.event === "stream:update" && e.payload.status === "live"));
    expect(live.payload.live_since).toMatch(/Z$/);
    expect(seen.filter((e) => e.event === "stream:update").length).toBe(2);
    expect((await s.api("POST", "/api/v1/streams/update-1/moderation", { action: "announce", body: "Back in 5" })).status).toBe(200);
    const ann = await waitFor("announcement", () => seen.find((e) => e.event === "announcement"));
    expect(ann.payload.body).toBe("Back in 5");
    socket.disconnect();
  });
});
