// Moderation of chat end to end with the official phoenix client on a real port: moderator actions
// through the API and through `mod:*` events of a linked moderator's viewer socket, what each one
// broadcasts or notifies (with each socket's current join_ref), bans and timeouts that refuse chat at
// once while the viewer keeps watching, the audit row of every action, held messages and the review
// queue, blocked terms and link policy, and a viewer's erasure.
// The server runs on a hand-driven clock so that a timeout ends exactly when the test says.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { auditRows, chatHistory, closeAll, csvObjects, linkedAccount, startChatServer, viewer, type ChatServer, type Viewer } from "../support/chat.ts";
import { ManualClock } from "../support/identity.ts";
import { push } from "../support/phoenix.ts";
import { readSqlite } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

const GENEROUS = { messages: 10000, per_s: 1 };
const ADMIN_ACTOR = { type: "api_key", id: "env:HUBBUB_ADMIN_API_KEY" };

let s: ChatServer;
let clock: ManualClock;
const open: Viewer[] = [];
beforeAll(async () => {
  clock = new ManualClock();
  s = await startChatServer({ clock });
});
afterAll(async () => {
  closeAll(...open);
  await s.dispose();
});

async function person(sub: string | null, claims: Record<string, unknown> = {}): Promise<Viewer> {
  const v = viewer(s.ws, sub ? await s.token(sub, claims) : null);
  open.push(v);
  return v;
}

async function moderate(slug: string, body: Record<string, unknown>) {
  return s.api("POST", `/api/v1/streams/${slug}/moderation`, body);
}

/** Notices this socket received on a topic, each with the join_ref its frame carried. */
function notices(v: Viewer, topic: string) {
  return v.frames.filter((f) => f.event === "notice" && f.topic === topic);
}

describe("moderator actions through the API", () => {
  test("delete and clear leave tombstones and tell every client", async () => {
    await s.createStream("mod-api-del", { rate_limit: GENEROUS });
    const obs = await (await person("del-observer")).join("stream:mod-api-del");
    const troll = await (await person("del-troll")).join("stream:mod-api-del");
    const other = await (await person("del-other")).join("stream:mod-api-del");
    const t1 = await troll.publish("spoiler!");
    const t2 = await troll.publish("more spam");
    const t3 = await troll.publish("and more");
    const o1 = await other.publish("a fine message");
    await obs.waitNew((m) => m.seq === o1.seq, "all four");

    const del = await moderate("mod-api-del", { action: "delete", seq: t1.seq, reason: "spoiler" });
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ seq: t1.seq, deleted: true });
    expect((await obs.waitEvent("chat:delete", (p) => p.seqs.includes(t1.seq), "chat:delete")).payload).toEqual({ seqs: [t1.seq] });
    expect((await moderate("mod-api-del", { action: "delete", seq: 999 })).body.error.code).toBe("not_found");

    const clear = await moderate("mod-api-del", { action: "clear", user_id: "del-troll", reason: "spamming" });
    expect(clear.status).toBe(200);
    expect(clear.body).toMatchObject({ user_id: "del-troll", cleared: 2 });
    expect((await obs.waitEvent("chat:clear", () => true, "chat:clear")).payload).toEqual({ user_id: "del-troll" });

    const stored = await chatHistory(s, "mod-api-del");
    expect(stored.map(({ visible_at, ...m }) => (m.deleted ? m : { seq: m.seq, body: m.body }))).toEqual([
      { seq: t1.seq, deleted: true },
      { seq: t2.seq, deleted: true },
      { seq: t3.seq, deleted: true },
      { seq: o1.seq, body: "a fine message" },
    ]);
    const late = await (await person(null)).join("stream:mod-api-del");
    expect(late.replies[0].history).toEqual([
      { seq: t1.seq, deleted: true },
      { seq: t2.seq, deleted: true },
      { seq: t3.seq, deleted: true },
      expect.objectContaining({ seq: o1.seq, body: "a fine message" }),
    ]);

    const audit = await auditRows(s, "mod-api-del");
    expect(audit.find((r) => r.action === "moderation.delete")).toMatchObject({ actor: ADMIN_ACTOR, target: { type: "message", id: String(t1.seq) }, reason: "spoiler" });
    expect(audit.find((r) => r.action === "moderation.clear")).toMatchObject({ actor: ADMIN_ACTOR, target: { type: "viewer", id: "del-troll" }, reason: "spamming" });
  });

  test("timeout and ban refuse chat at once, the viewer keeps watching, every socket gets a notice with its current join_ref; unban restores chat", async () => {
    await s.createStream("mod-api-ban", { rate_limit: GENEROUS });
    await s.createStream("mod-api-elsewhere", { rate_limit: GENEROUS });
    const topic = "stream:mod-api-ban";
    const t1 = await person("ban-troll");
    const t2 = await person("ban-troll");
    const c1 = await t1.join(topic);
    await t1.join("stream:mod-api-elsewhere"); // the same socket in another stream: no notice there
    const first = await t2.join(topic);
    // t2 joins the topic again on the same socket: its join_ref changes; notices must carry the new one.
    const c2 = await t2.join(topic);
    expect(c2.joinRef()).not.toBe(first.joinRef());
    const bystander = await (await person("ban-bystander")).join(topic);
    await c1.publish("before the timeout");

    const to = await moderate("mod-api-ban", { action: "timeout", user_id: "ban-troll", duration_s: 60, reason: "cool off" });
    expect(to.status).toBe(200);
    const until = new Date(clock.now() + 60_000).toISOString();
    expect(to.body).toMatchObject({ user_id: "ban-troll", until });
    await waitFor("both sockets get timed_out", () => notices(t1, topic).length === 1 && notices(t2, topic).length === 1);
    expect(notices(t1, topic)[0]).toMatchObject({ joinRef: c1.joinRef(), payload: { kind: "timed_out", until, reason: "cool off" } });
    expect(notices(t2, topic)[0]).toMatchObject({ joinRef: c2.joinRef(), payload: { kind: "timed_out", until, reason: "cool off" } });
    const timedOut = await c1.send({ body: "let me talk" });
    expect(timedOut.response).toMatchObject({ reason: "timed_out" });
    expect(timedOut.response.retry_after_ms).toBeGreaterThan(0);
    expect(timedOut.response.retry_after_ms).toBeLessThanOrEqual(60_000);
    expect((await c2.send({ body: "other tab" })).response.reason).toBe("timed_out");
    // Still watching: the bystander's message reaches both sockets.
    const b1 = await bystander.publish("while you wait");
    await c1.waitNew((m) => m.seq === b1.seq, "t1 still receives chat");
    await c2.waitNew((m) => m.seq === b1.seq, "t2 still receives chat");
    // A fresh join while timed out says so.
    const t3 = await person("ban-troll");
    expect((await t3.join(topic)).replies[0].me.can.chat).toBe(false);
    // The timeout ends on its own.
    clock.advance(60_000);
    await c1.publish("back after the timeout");

    const ban = await moderate("mod-api-ban", { action: "ban", user_id: "ban-troll", reason: "repeat offender" });
    expect(ban.status).toBe(200);
    await waitFor("both sockets get banned", () => notices(t1, topic).length === 2 && notices(t2, topic).length === 2);
    expect(notices(t1, topic)[1]).toMatchObject({ joinRef: c1.joinRef(), payload: { kind: "banned", reason: "repeat offender" } });
    expect(notices(t2, topic)[1]).toMatchObject({ joinRef: c2.joinRef(), payload: { kind: "banned", reason: "repeat offender" } });
    expect((await c1.send({ body: "hello?" })).response.reason).toBe("banned");
    clock.advance(30 * 86_400_000); // a ban does not run out
    expect((await c2.send({ body: "hello??" })).response.reason).toBe("banned");
    const b2 = await bystander.publish("banned but watching");
    await c1.waitNew((m) => m.seq === b2.seq, "t1 still receives chat while banned");
    expect(t1.socket.isConnected()).toBe(true);

    const unban = await moderate("mod-api-ban", { action: "unban", user_id: "ban-troll", reason: "appeal granted" });
    expect(unban.status).toBe(200);
    await waitFor("both sockets get unbanned", () => notices(t1, topic).length === 3 && notices(t2, topic).length === 3);
    expect(notices(t1, topic)[2]).toMatchObject({ joinRef: c1.joinRef(), payload: { kind: "unbanned" } });
    await c1.publish("thank you");
    expect(notices(t1, "stream:mod-api-elsewhere")).toEqual([]);
    expect(t1.frames.filter((f) => f.event === "notice").every((f) => f.topic === topic)).toBe(true);

    // Nothing refused was stored.
    expect((await chatHistory(s, "mod-api-ban")).map((m) => m.body)).toEqual(["before the timeout", "while you wait", "back after the timeout", "banned but watching", "thank you"]);

    // Every action has its audit row with actor and reason, in JSON and in CSV.
    const audit = await auditRows(s, "mod-api-ban");
    const actions = audit.filter((r) => r.action.startsWith("moderation."));
    expect(actions.map((r) => [r.action, r.actor, r.target, r.reason])).toEqual([
      ["moderation.timeout", ADMIN_ACTOR, { type: "viewer", id: "ban-troll" }, "cool off"],
      ["moderation.ban", ADMIN_ACTOR, { type: "viewer", id: "ban-troll" }, "repeat offender"],
      ["moderation.unban", ADMIN_ACTOR, { type: "viewer", id: "ban-troll" }, "appeal granted"],
    ]);
    expect(actions[0].data).toMatchObject({ duration_s: 60, until });
    const csv = await s.api("GET", "/api/v1/streams/mod-api-ban/audit?format=csv");
    expect(csv.status).toBe(200);
    const rows = csvObjects(csv.text).filter((r) => r.action!.startsWith("moderation."));
    expect(rows.map((r) => [r.action, r.actor_type, r.actor_id, r.target_id, r.reason])).toEqual([
      ["moderation.timeout", "api_key", ADMIN_ACTOR.id, "ban-troll", "cool off"],
      ["moderation.ban", "api_key", ADMIN_ACTOR.id, "ban-troll", "repeat offender"],
      ["moderation.unban", "api_key", ADMIN_ACTOR.id, "ban-troll", "appeal granted"],
    ]);
  });

  test("invalid actions are refused with invalid_payload and change nothing", async () => {
    await s.createStream("mod-api-bad");
    const before = (await auditRows(s, "mod-api-bad")).length;
    const bad: Array<Record<string, unknown>> = [
      { action: "timeout", user_id: "x", duration_s: 0 },
      { action: "timeout", user_id: "x", duration_s: 14 * 86_400 + 1 },
      { action: "timeout", user_id: "x", duration_s: 1.5 },
      { action: "timeout", user_id: "x" },
      { action: "ban" },
      { action: "ban", user_id: "x", extra: true },
      { action: "delete", seq: "1" },
      { action: "explode", user_id: "x" },
      { user_id: "x" },
      { action: "ban", user_id: "x", reason: "bad\u202ereason" },
    ];
    for (const body of bad) {
      const r = await moderate("mod-api-bad", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code, JSON.stringify(body)).toBe("invalid_payload");
    }
    expect(await auditRows(s, "mod-api-bad")).toHaveLength(before);
    // The bounds themselves are accepted: 1 s and 14 days.
    expect((await moderate("mod-api-bad", { action: "timeout", user_id: "x", duration_s: 1 })).status).toBe(200);
    expect((await moderate("mod-api-bad", { action: "timeout", user_id: "x", duration_s: 14 * 86_400 })).status).toBe(200);
  });
});

describe("mod:* events from a linked moderator's viewer socket", () => {
  test("a moderator (or the creator) moderates from the viewer socket, audited with the account; anyone else is forbidden", async () => {
    await linkedAccount(s, "sock-creator", "creator", "sock-creator-v");
    await s.createStream("mod-sock", { rate_limit: GENEROUS }, "sock-creator");
    await s.createStream("mod-sock-other", { rate_limit: GENEROUS });
    const modAcc = await linkedAccount(s, "sock-mod", "moderator", "sock-mod-v", ["mod-sock"]);
    await linkedAccount(s, "other-mod", "moderator", "other-mod-v", ["mod-sock-other"]);
    const topic = "stream:mod-sock";
    const modCh = await (await person("sock-mod-v")).join(topic);
    expect(modCh.replies[0].me).toMatchObject({ role: "moderator", can: { moderate: true } });
    const creatorCh = await (await person("sock-creator-v")).join(topic);
    expect(creatorCh.replies[0].me).toMatchObject({ role: "creator", can: { moderate: true } });
    const otherMod = await (await person("other-mod-v")).join(topic);
    expect(otherMod.replies[0].me).toMatchObject({ role: "viewer", can: { moderate: false } });
    const trollV = await person("sock-troll");
    const troll = await trollV.join(topic);
    const plain = await (await person("sock-plain")).join(topic);
    const guest = await (await person(null)).join(topic);

    const m1 = await troll.publish("troll 1");
    const m2 = await troll.publish("troll 2");
    for (const [who, ch] of [["a plain viewer", plain], ["a guest", guest], ["a moderator of another stream", otherMod], ["the target", troll]] as const) {
      for (const [event, payload] of [["mod:delete", { seq: m1.seq }], ["mod:ban", { user_id: "sock-plain" }], ["mod:announce", { body: "hi" }]] as const) {
        const r = await push(ch.ch, event, payload);
        expect(r, `${who} ${event}`).toEqual({ status: "error", response: expect.objectContaining({ reason: "forbidden" }) });
      }
    }
    expect((await chatHistory(s, "mod-sock")).map((m) => m.seq)).toEqual([m1.seq, m2.seq]); // nothing happened

    expect(await push(modCh.ch, "mod:delete", { seq: m1.seq, reason: "rude" })).toEqual({ status: "ok", response: expect.objectContaining({ seq: m1.seq, deleted: true }) });
    await plain.waitEvent("chat:delete", (p) => p.seqs.includes(m1.seq), "chat:delete from mod:delete");
    expect((await push(modCh.ch, "mod:clear", { user_id: "sock-troll", reason: "cleanup" })).status).toBe("ok");
    await plain.waitEvent("chat:clear", (p) => p.user_id === "sock-troll", "chat:clear from mod:clear");
    expect((await push(modCh.ch, "mod:timeout", { user_id: "sock-troll", duration_s: 30, reason: "calm down" })).status).toBe("ok");
    await waitFor("timed_out notice", () => notices(trollV, topic).some((n) => n.payload.kind === "timed_out" && n.joinRef === troll.joinRef()));
    expect((await troll.send({ body: "hi" })).response.reason).toBe("timed_out");
    expect((await push(creatorCh.ch, "mod:ban", { user_id: "sock-troll", reason: "enough" })).status).toBe("ok");
    await waitFor("banned notice", () => notices(trollV, topic).some((n) => n.payload.kind === "banned"));
    expect((await troll.send({ body: "hi" })).response.reason).toBe("banned");
    expect((await push(modCh.ch, "mod:unban", { user_id: "sock-troll" })).status).toBe("ok");
    await waitFor("unbanned notice", () => notices(trollV, topic).some((n) => n.payload.kind === "unbanned"));
    expect((await troll.send({ body: "sorry" })).status).toBe("ok");
    expect(await push(modCh.ch, "mod:announce", { body: "be nice" })).toMatchObject({ status: "ok" });
    await plain.waitEvent("announcement", (p) => p.body === "be nice", "the announcement");

    // Validated like the API.
    for (const [event, payload] of [
      ["mod:timeout", { user_id: "sock-troll", duration_s: 0 }],
      ["mod:delete", { seq: "x" }],
      ["mod:ban", { user_id: "sock-troll", extra: 1 }],
      ["mod:announce", { body: "x", extra: 1 }],
    ] as const) {
      expect((await push(modCh.ch, event, payload)).response.reason, event).toBe("invalid_payload");
    }

    const audit = (await auditRows(s, "mod-sock")).filter((r) => r.action.startsWith("moderation."));
    expect(audit.map((r) => [r.action, r.actor.type, r.reason])).toEqual([
      ["moderation.delete", "account", "rude"],
      ["moderation.clear", "account", "cleanup"],
      ["moderation.timeout", "account", "calm down"],
      ["moderation.ban", "account", "enough"],
      ["moderation.unban", "account", null],
      ["moderation.announce", "account", null],
    ]);
    expect(audit[0].actor.id).toBe(modAcc.id);

    // The role is checked on every event: unassigned, the moderator is forbidden at once.
    expect((await s.api("DELETE", "/api/v1/streams/mod-sock/moderators/sock-mod")).status).toBe(200);
    expect((await push(modCh.ch, "mod:delete", { seq: m2.seq })).response.reason).toBe("forbidden");
  });
});

describe("held messages and the review queue", () => {
  test("a link is held; approve publishes it with a seq and tells the sender; deny drops it and tells the sender; a second decision is a conflict", async () => {
    await s.createStream("mod-held", { rate_limit: GENEROUS });
    const topic = "stream:mod-held";
    const senderV = await person("held-sender");
    const sender = await senderV.join(topic);
    const obs = await (await person("held-observer")).join(topic);

    const held = await sender.publish("look at https://example.com/page");
    expect(held).toEqual({ status: "held", held_id: expect.any(String) });
    const queue = await s.api("GET", "/api/v1/streams/mod-held/review-queue");
    expect(queue.body.data).toEqual([
      expect.objectContaining({ id: held.held_id, kind: "held", status: "pending", body: "look at https://example.com/page", user: expect.objectContaining({ id: "held-sender" }) }),
    ]);
    expect(await chatHistory(s, "mod-held")).toEqual([]);

    const ok = await s.api("POST", `/api/v1/review-queue/${held.held_id}/approve`, { reason: "harmless" });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id: held.held_id, status: "approved", seq: 1 });
    const approved = await waitFor("held_approved", () => notices(senderV, topic).find((n) => n.payload.kind === "held_approved"));
    expect(approved).toMatchObject({ joinRef: sender.joinRef(), payload: { kind: "held_approved", held_id: held.held_id, seq: 1 } });
    const published = await obs.waitNew((m) => m.seq === 1, "the approved message");
    expect(published).toMatchObject({ body: "look at https://example.com/page", user: { id: "held-sender" } });
    await sender.waitNew((m) => m.seq === 1, "the sender sees it too");
    for (const verdict of ["approve", "deny"]) {
      const again = await s.api("POST", `/api/v1/review-queue/${held.held_id}/${verdict}`, {});
      expect(again.status, verdict).toBe(409);
      expect(again.body.error.code).toBe("conflict");
    }

    const held2 = await sender.publish("and www.example.org too");
    expect(held2.status).toBe("held");
    const no = await s.api("POST", `/api/v1/review-queue/${held2.held_id}/deny`, { reason: "not here" });
    expect(no.status).toBe(200);
    expect(no.body).toMatchObject({ status: "denied", seq: null });
    const denied = await waitFor("held_denied", () => notices(senderV, topic).find((n) => n.payload.kind === "held_denied"));
    expect(denied).toMatchObject({ joinRef: sender.joinRef(), payload: { kind: "held_denied", held_id: held2.held_id, reason: "not here" } });
    expect((await s.api("POST", `/api/v1/review-queue/${held2.held_id}/approve`, {})).status).toBe(409);
    expect((await s.api("POST", "/api/v1/review-queue/no-such-item/approve", {})).status).toBe(404);

    const sentinel = await sender.publish("no link here");
    await obs.waitNew((m) => m.seq === sentinel.seq, "the sentinel");
    expect(obs.news().map((m) => m.body)).toEqual(["look at https://example.com/page", "no link here"]);
    expect((await chatHistory(s, "mod-held")).map((m) => m.body)).toEqual(["look at https://example.com/page", "no link here"]);
    expect((await s.api("GET", "/api/v1/streams/mod-held/review-queue")).body.data).toEqual([]);
    expect((await s.api("GET", "/api/v1/streams/mod-held/review-queue?status=denied")).body.data.map((i: any) => i.id)).toEqual([held2.held_id]);

    const audit = await auditRows(s, "mod-held");
    expect(audit.filter((r) => r.action === "moderation.hold").map((r) => r.target.id)).toEqual([held.held_id, held2.held_id]);
    expect(audit.find((r) => r.action === "review.approve")).toMatchObject({ actor: ADMIN_ACTOR, target: { id: held.held_id }, reason: "harmless" });
    expect(audit.find((r) => r.action === "review.deny")).toMatchObject({ actor: ADMIN_ACTOR, target: { id: held2.held_id }, reason: "not here" });
  });

  test("link_policy block, blocked_terms with wildcards, and allowed_domains", async () => {
    await s.createStream("mod-terms", { rate_limit: GENEROUS, blocked_terms: ["badword", "spam*"], allowed_domains: ["example.com"] });
    const v = await (await person("terms-v")).join("stream:mod-terms");
    const obs = await (await person("terms-observer")).join("stream:mod-terms");
    const expectReply = async (body: string, want: "published" | "held" | "blocked") => {
      const r = await v.send({ body });
      if (want === "blocked") expect(r.response, body).toMatchObject({ reason: "blocked" });
      else expect(r.response.status, body).toBe(want);
    };
    for (const body of ["this is a badword", "BADWORD!", "spam", "spammer alert", "Spamming now"]) await expectReply(body, "blocked");
    for (const body of ["badwords are fine", "antispam measures", "a bad word"]) await expectReply(body, "published");
    for (const body of ["see https://example.com/x", "www.example.com", "docs at sub.example.com/a"]) await expectReply(body, "published");
    for (const body of ["go to example.com.evil.io", "notexample.com", "http://example.net"]) await expectReply(body, "held");
    await s.settings("mod-terms", { link_policy: "block" });
    await expectReply("now https://elsewhere.io is blocked", "blocked");
    await expectReply("but https://example.com is allowed", "published");
    await s.settings("mod-terms", { link_policy: "allow" });
    await expectReply("and now https://elsewhere.io is fine", "published");

    const stored = (await chatHistory(s, "mod-terms")).map((m) => m.body);
    expect(stored).toEqual([
      "badwords are fine", "antispam measures", "a bad word",
      "see https://example.com/x", "www.example.com", "docs at sub.example.com/a",
      "but https://example.com is allowed", "and now https://elsewhere.io is fine",
    ]);
    await obs.waitNew((m) => m.body === "and now https://elsewhere.io is fine", "the last one");
    expect(obs.news().map((m) => m.body)).toEqual(stored);
    const audit = await auditRows(s, "mod-terms", "moderation.block");
    expect(audit).toHaveLength(6);
    expect(audit.every((r) => r.actor.type === "system")).toBe(true);
  });
});

describe("erasure", () => {
  test("DELETE /api/v1/viewers/:id/data tombstones the viewer's messages in every stream, tells clients, drops held items, and is audited", async () => {
    await s.createStream("erase-a", { rate_limit: GENEROUS });
    await s.createStream("erase-b", { rate_limit: GENEROUS });
    const eraseV = await person("erase-me", { name: "Eve" });
    const ea = await eraseV.join("stream:erase-a");
    const eb = await eraseV.join("stream:erase-b");
    const friend = await (await person("erase-friend")).join("stream:erase-a");
    const obsA = await (await person("erase-obs")).join("stream:erase-a");
    const obsB = await (await person(null)).join("stream:erase-b");
    const a1 = await ea.publish("my first");
    const f1 = await friend.publish("hi @eve");
    const a2 = await ea.publish("my second");
    const b1 = await eb.publish("elsewhere");
    const held = await ea.publish("my link example.com");
    expect(held.status).toBe("held");
    // They report the friend's message: the report stays for the moderators, without their id.
    expect((await push(ea.ch, "chat:report", { seq: f1.seq, reason: "rude" })).status).toBe("ok");
    await obsA.waitNew((m) => m.seq === a2.seq, "erase-a messages");
    expect(obsA.news().find((m) => m.seq === f1.seq).mentions).toEqual(["erase-me"]);
    await obsB.waitNew((m) => m.seq === b1.seq, "erase-b message");

    const r = await s.api("DELETE", "/api/v1/viewers/erase-me/data");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ viewer_id: "erase-me", messages: 3, held: 1 });
    expect((await obsA.waitEvent("chat:delete", () => true, "chat:delete in erase-a")).payload.seqs.toSorted((x: number, y: number) => x - y)).toEqual([a1.seq, a2.seq]);
    expect((await obsB.waitEvent("chat:delete", () => true, "chat:delete in erase-b")).payload).toEqual({ seqs: [b1.seq] });

    const histA = await chatHistory(s, "erase-a");
    expect(histA.map(({ visible_at, ...m }) => m)).toEqual([
      { seq: a1.seq, deleted: true },
      expect.objectContaining({ seq: f1.seq, body: "hi @eve", mentions: [] }),
      { seq: a2.seq, deleted: true },
    ]);
    expect((await chatHistory(s, "erase-b")).map(({ visible_at, ...m }) => m)).toEqual([{ seq: b1.seq, deleted: true }]);
    expect(JSON.stringify(histA)).not.toContain("erase-me");
    const queue = (await s.api("GET", "/api/v1/streams/erase-a/review-queue?status=all")).body.data;
    expect(queue.map((q: any) => [q.kind, q.target_seq, q.reporter_id])).toEqual([["report", f1.seq, null]]);
    expect(JSON.stringify(queue)).not.toContain("erase-me");

    // The audit rows: one naming no stream with the totals, and one per affected stream, so each
    // stream's audit trail (the API's only audit route) shows the erasure.
    const rows = readSqlite<{ actor_type: string; actor_id: string; target_id: string; stream_id: string | null; data: string }>(s.dataDir, "SELECT actor_type, actor_id, target_id, stream_id, data FROM audit_log WHERE action = 'viewer.erase' ORDER BY id");
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r).toMatchObject({ actor_type: "api_key", actor_id: ADMIN_ACTOR.id, target_id: "erase-me" });
    expect(rows[0]!.stream_id).toBeNull();
    expect(JSON.parse(rows[0]!.data)).toMatchObject({ messages: 3, held: 1 });
    expect(rows.slice(1).map((r) => JSON.parse(r.data).messages).sort()).toEqual([1, 2]);
    const auditA = await s.api("GET", "/api/v1/streams/erase-a/audit?action=viewer.erase");
    expect(auditA.body.data.map((r: any) => r.target.id)).toEqual(["erase-me"]);
  });
});

