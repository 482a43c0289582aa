// Chat rules end to end with the official phoenix client on a real port: every refusal of
// PRODUCT.md with its reason (and retry_after_ms where it says so), who bypasses which mode, length
// and text rules, mentions, and the promise that nothing refused is stored or broadcast.
// The server runs on a hand-driven clock, so rate limits, slow mode and unique chat neither refill
// nor expire while a slow machine runs the test; the clock moves only when a test advances it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chatHistory, closeAll, linkedAccount, startChatServer, viewer, type ChatServer, type Joined, type Viewer } from "../support/chat.ts";
import { ManualClock } from "../support/identity.ts";
import { rawConnect } from "../support/raw-ws.ts";

const GENEROUS = { messages: 10000, per_s: 1 };

let s: ChatServer;
let clock: ManualClock;
let mod: Viewer; // viewer id mod-1, linked to account "rules-mod", moderator of every stream here
let creator: Viewer; // viewer id creator-1, linked to account "rules-creator", owner of the streams here
const open: Viewer[] = [];

beforeAll(async () => {
  clock = new ManualClock();
  s = await startChatServer({ clock });
  await linkedAccount(s, "rules-mod", "moderator", "mod-1");
  await linkedAccount(s, "rules-creator", "creator", "creator-1");
  mod = viewer(s.ws, await s.token("mod-1", { name: "Mod" }));
  creator = viewer(s.ws, await s.token("creator-1", { name: "Creator" }));
});
afterAll(async () => {
  closeAll(mod, creator, ...open);
  await s.dispose();
});

/** A stream owned by the creator account, moderated by rules-mod, with an observer joined. */
async function room(slug: string, settings: Record<string, unknown> = {}) {
  await s.createStream(slug, { rate_limit: GENEROUS, ...settings }, "rules-creator");
  const m = await s.api("PUT", `/api/v1/streams/${slug}/moderators/rules-mod`);
  expect(m.status).toBe(200);
  const obs = await join(null, slug);
  const modCh = await mod.join(`stream:${slug}`);
  expect(modCh.replies[0].me.role).toBe("moderator");
  const creatorCh = await creator.join(`stream:${slug}`);
  expect(creatorCh.replies[0].me.role).toBe("creator");
  return { obs, mod: modCh, creator: creatorCh };
}

async function join(sub: string | null, slug: string, claims: Record<string, unknown> = {}): Promise<Joined> {
  const v = viewer(s.ws, sub ? await s.token(sub, claims) : null);
  open.push(v);
  return v.join(`stream:${slug}`);
}

function refusal(r: { status: string; response: any }) {
  expect(r.status).toBe("error");
  return r.response;
}

/**
 * Nothing refused is stored or broadcast: a moderator's sentinel goes out last; once the observer
 * has it, everything the server broadcast before it has arrived too. The observer's chat:new list
 * and the stored history must then be exactly the published messages, seq 1..n without gaps.
 */
async function expectOnly(slug: string, obs: Joined, modCh: Joined, published: Array<{ seq: number; body: string }>) {
  const sentinel = await modCh.publish(`sentinel ${published.length}`);
  await obs.waitNew((m) => m.seq === sentinel.seq, `the sentinel of ${slug}`);
  const all = [...published, { seq: sentinel.seq, body: `sentinel ${published.length}` }];
  expect(obs.news().map((m) => ({ seq: m.seq, body: m.body }))).toEqual(all);
  const stored = await chatHistory(s, slug);
  expect(stored.map((m) => ({ seq: m.seq, body: m.body }))).toEqual(all);
  expect(stored.map((m) => m.seq)).toEqual(all.map((_, i) => i + 1));
}

describe("who may chat", () => {
  test("guests are refused (unauthenticated) unless settings.guests.chat; then they chat as a guest", async () => {
    const r = await room("rules-guests");
    const guest = await join(null, "rules-guests");
    expect(guest.replies[0].me.can.chat).toBe(false);
    expect(refusal(await guest.send({ body: "hello" }))).toMatchObject({ reason: "unauthenticated" });
    await s.settings("rules-guests", { guests: { react: true, chat: true, vote: false } });
    const g1 = await guest.publish("hello from a guest");
    const seen = await r.obs.waitNew((m) => m.seq === g1.seq, "the guest's message");
    expect(seen.user.id).toBeNull();
    expect(seen.user.name).toMatch(/^guest-/);
    // Members-only applies to guests as well (a guest is never a member).
    await s.settings("rules-guests", { members_only: true });
    expect(refusal(await guest.send({ body: "still here?" })).reason).toBe("members_only");
    await expectOnly("rules-guests", r.obs, r.mod, [{ seq: g1.seq, body: "hello from a guest" }]);
  });

  test("chat_closed refuses viewers; moderators and the creator still chat", async () => {
    const r = await room("rules-closed", { chat_closed: true });
    const v = await join("closed-v", "rules-closed");
    expect(v.replies[0].me.can.chat).toBe(false);
    expect(refusal(await v.send({ body: "let me in" }))).toMatchObject({ reason: "chat_closed" });
    const m1 = await r.mod.publish("moderator speaking");
    const c1 = await r.creator.publish("creator speaking");
    await s.settings("rules-closed", { chat_closed: false });
    const v1 = await v.publish("open again");
    await expectOnly("rules-closed", r.obs, r.mod, [
      { seq: m1.seq, body: "moderator speaking" },
      { seq: c1.seq, body: "creator speaking" },
      { seq: v1.seq, body: "open again" },
    ]);
  });

  test("members_only: the token claim member: true passes, others are refused; moderators and the creator pass", async () => {
    const r = await room("rules-members", { members_only: true });
    const plain = await join("plain-v", "rules-members");
    const member = await join("member-v", "rules-members", { member: true });
    expect(plain.replies[0].me.can.chat).toBe(false);
    expect(member.replies[0].me.can.chat).toBe(true);
    expect(refusal(await plain.send({ body: "am I in?" }))).toMatchObject({ reason: "members_only" });
    const a = await member.publish("members chat");
    const b = await r.mod.publish("mods chat");
    const c = await r.creator.publish("creator chats");
    await expectOnly("rules-members", r.obs, r.mod, [
      { seq: a.seq, body: "members chat" },
      { seq: b.seq, body: "mods chat" },
      { seq: c.seq, body: "creator chats" },
    ]);
  });

  test("emote_only: only emoji and whitespace; moderators and the creator may write text", async () => {
    const r = await room("rules-emote", { emote_only: true });
    const v = await join("emote-v", "rules-emote");
    const ok = ["🔥", "🔥 🔥  🎉", "❤️", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷 🇯🇵", "  😂  "];
    const refused = ["hi", "🔥 hi", "🔥hi", ":)", "1", "🔥 #", "<3"];
    const published: Array<{ seq: number; body: string }> = [];
    for (const body of ok) published.push({ seq: (await v.publish(body)).seq, body: body.trim() });
    for (const body of refused) expect(refusal(await v.send({ body })), body).toMatchObject({ reason: "emote_only" });
    published.push({ seq: (await r.mod.publish("text from a moderator")).seq, body: "text from a moderator" });
    published.push({ seq: (await r.creator.publish("text from the creator")).seq, body: "text from the creator" });
    await expectOnly("rules-emote", r.obs, r.mod, published);
  });
});

describe("rate limit, slow mode, unique chat", () => {
  test("rate_limit: the bucket's refusal says when to retry; waiting that long is enough; each viewer has their own", async () => {
    const r = await room("rules-rate");
    await s.settings("rules-rate", { rate_limit: { messages: 3, per_s: 60 } });
    const v = await join("rate-v", "rules-rate");
    const published: Array<{ seq: number; body: string }> = [];
    for (let i = 1; i <= 3; i++) published.push({ seq: (await v.publish(`burst ${i}`)).seq, body: `burst ${i}` });
    const limited = refusal(await v.send({ body: "one too many" }));
    expect(limited.reason).toBe("rate_limited");
    expect(limited.retry_after_ms).toBeGreaterThan(0);
    expect(limited.retry_after_ms).toBeLessThanOrEqual(20_000); // one message's share of 60 s
    // The limit is per viewer, not per socket: a second socket of the same viewer is limited too.
    const v2 = await join("rate-v", "rules-rate");
    expect(refusal(await v2.send({ body: "other tab" })).reason).toBe("rate_limited");
    // ... and another viewer is not.
    const other = await join("rate-w", "rules-rate");
    published.push({ seq: (await other.publish("someone else")).seq, body: "someone else" });
    // A refusal spends nothing: just short of retry_after_ms it is still refused, at it, accepted.
    clock.advance(limited.retry_after_ms - 1);
    expect(refusal(await v.send({ body: "almost" })).reason).toBe("rate_limited");
    clock.advance(1);
    published.push({ seq: (await v.publish("after the wait")).seq, body: "after the wait" });
    await expectOnly("rules-rate", r.obs, r.mod, published);
  });

  test("moderators and the creator get moderator_rate_limit instead of rate_limit", async () => {
    const r = await room("rules-modrate");
    await s.settings("rules-modrate", { rate_limit: { messages: 3, per_s: 60 }, moderator_rate_limit: { messages: 5, per_s: 60 } });
    const published: Array<{ seq: number; body: string }> = [];
    for (let i = 1; i <= 5; i++) published.push({ seq: (await r.creator.publish(`creator ${i}`)).seq, body: `creator ${i}` });
    const limited = refusal(await r.creator.send({ body: "creator 6" }));
    expect(limited.reason).toBe("rate_limited");
    expect(limited.retry_after_ms).toBeGreaterThan(0);
    // The sentinel below is the moderator's 1st of 5.
    await expectOnly("rules-modrate", r.obs, r.mod, published);
  });

  test("slow_mode: one message per interval with retry_after_ms; moderators and the creator are exempt", async () => {
    const r = await room("rules-slow", { slow_mode_s: 5 });
    expect(r.obs.replies[0].stream.modes.slow_mode_s).toBe(5);
    const v = await join("slow-v", "rules-slow");
    const w = await join("slow-w", "rules-slow");
    const published: Array<{ seq: number; body: string }> = [];
    published.push({ seq: (await v.publish("first")).seq, body: "first" });
    const slow = refusal(await v.send({ body: "second" }));
    expect(slow.reason).toBe("slow_mode");
    expect(slow.retry_after_ms).toBeGreaterThan(0);
    expect(slow.retry_after_ms).toBeLessThanOrEqual(5000);
    published.push({ seq: (await w.publish("another viewer is not slowed by v")).seq, body: "another viewer is not slowed by v" });
    for (let i = 1; i <= 3; i++) published.push({ seq: (await r.mod.publish(`mod ${i}`)).seq, body: `mod ${i}` });
    for (let i = 1; i <= 3; i++) published.push({ seq: (await r.creator.publish(`creator ${i}`)).seq, body: `creator ${i}` });
    clock.advance(slow.retry_after_ms - 1);
    expect(refusal(await v.send({ body: "too early" })).reason).toBe("slow_mode");
    clock.advance(1);
    published.push({ seq: (await v.publish("second, in time")).seq, body: "second, in time" });
    await expectOnly("rules-slow", r.obs, r.mod, published);
  });

  test("unique_chat: the same text again (any case or spacing, any sender) is a duplicate for a while; moderators are exempt", async () => {
    const r = await room("rules-unique", { unique_chat: true });
    const v = await join("uniq-v", "rules-unique");
    const w = await join("uniq-w", "rules-unique");
    const published: Array<{ seq: number; body: string }> = [];
    published.push({ seq: (await v.publish("Hello  World")).seq, body: "Hello  World" });
    expect(refusal(await v.send({ body: "hello world" })).reason).toBe("duplicate");
    expect(refusal(await w.send({ body: "  HELLO WORLD " })).reason).toBe("duplicate");
    published.push({ seq: (await w.publish("hello world!")).seq, body: "hello world!" });
    published.push({ seq: (await r.mod.publish("Hello World")).seq, body: "Hello World" });
    clock.advance(10 * 60_000); // not forever
    published.push({ seq: (await w.publish("hello world")).seq, body: "hello world" });
    await expectOnly("rules-unique", r.obs, r.mod, published);
  });
});

describe("the text of a message", () => {
  test("lengths: 500 graphemes and 2 KiB after trimming, counted in grapheme clusters and UTF-8 bytes", async () => {
    // Spam heuristics would hold 500 repeated letters: the length rule alone is under test here.
    const r = await room("rules-length", { automod_level: 0 });
    const v = await join("len-v", "rules-length");
    const thumbs = "👍🏽"; // 1 grapheme, 8 bytes
    const family = "👨‍👩‍👧‍👦"; // 1 grapheme, 25 bytes
    const stroke = "x" + "\u0336".repeat(100); // 1 grapheme, 201 bytes (no precomposed form: NFC keeps it)
    const cases: Array<[string, string, boolean]> = [
      ["500 ASCII", "x".repeat(500), true],
      ["501 ASCII", "x".repeat(501), false],
      ["500 ASCII inside spaces (trimmed first)", "   " + "y".repeat(500) + "   ", true],
      ["500 two-byte letters", "é".repeat(500), true],
      ["500 decomposed é (NFC: 500 graphemes)", "e\u0301".repeat(500), true],
      ["500 x + combining acute (1000 UTF-16 units)", "x\u0301".repeat(500), true],
      ["501 x + combining acute", "x\u0301".repeat(501), false],
      ["500 four-byte emoji = 2000 B", "😀".repeat(500), true],
      ["256 skin-tone thumbs = 2048 B", thumbs.repeat(256), true],
      ["257 skin-tone thumbs = 2056 B", thumbs.repeat(257), false],
      ["500 skin-tone thumbs: 500 graphemes but 4000 B", thumbs.repeat(500), false],
      ["81 families = 2025 B", family.repeat(81), true],
      ["82 families = 2050 B", family.repeat(82), false],
      ["10 zalgo-ish graphemes = 2010 B", stroke.repeat(10), true],
      ["11 zalgo-ish graphemes = 2211 B", stroke.repeat(11), false],
    ];
    const published: Array<{ seq: number; body: string }> = [];
    for (const [what, body, ok] of cases) {
      const res = await v.send({ body });
      if (ok) {
        expect(res.status, what).toBe("ok");
        published.push({ seq: res.response.seq, body: body.trim().normalize("NFC") });
      } else expect(res.response, what).toMatchObject({ reason: "too_long" });
    }
    // Stored and broadcast trimmed and NFC (expectOnly compares with body.trim().normalize("NFC")):
    // the decomposed é arrive composed.
    expect("e\u0301".normalize("NFC")).toBe("é");
    await expectOnly("rules-length", r.obs, r.mod, published);
  });

  test("empty, invalid_text (malformed Unicode, control, bidi override, line breaks) and invalid_payload", async () => {
    const r = await room("rules-text");
    const v = await join("text-v", "rules-text");
    for (const body of ["", "   ", "\u3000", " \u00a0 "]) expect(refusal(await v.send({ body })), JSON.stringify(body)).toMatchObject({ reason: "empty" });
    const bad = [
      "a\ud800b", "a\udc00b", "end\ud83d", // lone surrogates (JSON.stringify escapes them: the server sees them)
      "a\u0000b", "a\u0007b", "a\u001bb", "a\u007fb", "a\u0085b", "a\u009bb", // C0, DEL, C1
      "a\u202eb", "a\u202ab", "a\u202db", "a\u2066b", "a\u2067b", "a\u2068b", "a\u2069b", // bidi overrides and isolates
      "a\nb", "a\rb", "a\r\nb", "a\u2028b", "a\u2029b", "a\tb", // line breaks and tabs inside
    ];
    for (const body of bad) expect(refusal(await v.send({ body })), JSON.stringify(body)).toMatchObject({ reason: "invalid_text" });
    const payloads: Array<Record<string, unknown>> = [
      {}, { body: null }, { body: 5 }, { body: ["hi"] }, { body: { text: "hi" } },
      { body: "hi", extra: 1 }, { body: "hi", user_id: "someone-else" }, { body: "hi", __proto__x: 1 },
      { body: "hi", nonce: "" }, { body: "hi", nonce: "has space" }, { body: "hi", nonce: "n".repeat(65) }, { body: "hi", nonce: 7 },
    ];
    for (const p of payloads) expect(refusal(await v.send(p)), JSON.stringify(p)).toMatchObject({ reason: "invalid_payload" });
    // Line breaks and spaces at the ends are trimmed away, not refused.
    const trimmed = await v.publish("\n  fine  \r\n");
    await expectOnly("rules-text", r.obs, r.mod, [{ seq: trimmed.seq, body: "fine" }]);
  });

  test("a lone surrogate written by hand into a raw frame is invalid_text too", async () => {
    const r = await room("rules-raw");
    const token = await s.token("raw-v");
    const c = await rawConnect(`${s.ws}/websocket?vsn=2.0.0&token=${token}`);
    try {
      c.sendText(`["1","1","stream:rules-raw","phx_join",{}]`);
      await c.next((f) => f[1] === "1" && f[3] === "phx_reply", "the join reply");
      // The JSON text carries the escape itself: the decoded string holds an unpaired surrogate.
      c.sendText(`["1","2","stream:rules-raw","chat:send",{"body":"x\\udfffy"}]`);
      c.sendText(`["1","3","stream:rules-raw","chat:send",{"body":"\\ud83d\\ud83d"}]`);
      c.sendText(`["1","4","stream:rules-raw","chat:send",{"body":"ok \\ud83d\\udd25"}]`); // a proper pair: 🔥
      const r2 = await c.next((f) => f[1] === "2" && f[3] === "phx_reply", "reply 2");
      const r3 = await c.next((f) => f[1] === "3" && f[3] === "phx_reply", "reply 3");
      const r4 = await c.next((f) => f[1] === "4" && f[3] === "phx_reply", "reply 4");
      expect(r2[4]).toMatchObject({ status: "error", response: { reason: "invalid_text" } });
      expect(r3[4]).toMatchObject({ status: "error", response: { reason: "invalid_text" } });
      expect(r4[4]).toMatchObject({ status: "ok", response: { status: "published" } });
      await expectOnly("rules-raw", r.obs, r.mod, [{ seq: r4[4].response.seq, body: "ok 🔥" }]);
    } finally {
      c.close();
    }
  });

  test("reply_to: the seq of a message in this chat; missing, deleted or malformed is invalid_reply", async () => {
    const r = await room("rules-reply");
    const v = await join("reply-v", "rules-reply");
    const first = await v.publish("first");
    const doomed = await v.publish("to be deleted");
    const del = await s.api("POST", "/api/v1/streams/rules-reply/moderation", { action: "delete", seq: doomed.seq });
    expect(del.status).toBe(200);
    const reply = await v.publish("answering first", { reply_to: first.seq });
    const none = await v.publish("reply_to null is no reply", { reply_to: null });
    for (const rt of [999, 0, -1, 1.5, "1", true, doomed.seq]) {
      expect(refusal(await v.send({ body: "bad reply", reply_to: rt })), JSON.stringify(rt)).toMatchObject({ reason: "invalid_reply" });
    }
    const seen = await r.obs.waitNew((m) => m.seq === reply.seq, "the reply");
    expect(seen.reply_to).toBe(first.seq);
    expect((await r.obs.waitNew((m) => m.seq === none.seq, "the non-reply")).reply_to).toBeNull();
    const sentinel = await r.mod.publish("sentinel");
    await r.obs.waitNew((m) => m.seq === sentinel.seq, "the sentinel");
    expect(r.obs.news().map((m) => m.seq)).toEqual([first.seq, doomed.seq, reply.seq, none.seq, sentinel.seq]);
    expect((await chatHistory(s, "rules-reply")).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe("mentions", () => {
  async function mentionRoom(slug: string) {
    const r = await room(slug, { guests: { react: true, chat: true, vote: false } });
    const ann = await join(`ann-${slug}`, slug, { name: "Ann" });
    const mentions = async (body: string): Promise<string[]> => {
      const ack = await ann.publish(body);
      return (await r.obs.waitNew((m) => m.seq === ack.seq, body)).mentions;
    };
    return { r, mentions };
  }

  test("@name resolves case-insensitively to a signed-in viewer present now; unknown, ambiguous, absent or guest names do not", async () => {
    const { mentions } = await mentionRoom("rules-mention");
    expect(await mentions("hi @bob")).toEqual([]); // bob has not joined yet
    const bob = await join("bob-1", "rules-mention", { name: "Bob" });
    expect(await mentions("hi @bob")).toEqual(["bob-1"]);
    expect(await mentions("HI @BOB and @Bob again")).toEqual(["bob-1"]);
    expect(await mentions("hi @nobody")).toEqual([]);
    expect(await mentions("mail bob@bob please")).toEqual([]); // part of a word: not a mention
    // Two different viewers called Sam: ambiguous, no mention. The same viewer twice is one viewer.
    await join("sam-1", "rules-mention", { name: "Sam" });
    expect(await mentions("hey @sam")).toEqual(["sam-1"]);
    await join("sam-1", "rules-mention", { name: "Sam" });
    expect(await mentions("hey @sam")).toEqual(["sam-1"]);
    await join("sam-2", "rules-mention", { name: "Sam" });
    expect(await mentions("hey @sam and @bob")).toEqual(["bob-1"]);
    // Guests are not among the names.
    const guest = await join(null, "rules-mention");
    expect(await mentions(`hey @${guest.replies[0].me.name}`)).toEqual([]);
    // Bob leaves: no longer present, no longer mentioned.
    const left = await new Promise<string>((resolve) => bob.ch.leave().receive("ok", () => resolve("ok")).receive("timeout", () => resolve("timeout")));
    expect(left).toBe("ok");
    expect(await mentions("bye @bob")).toEqual([]);
  });

  test("a mention followed by punctuation that ends a sentence still resolves", async () => {
    const { mentions } = await mentionRoom("rules-mention-punct");
    await join("bob-2", "rules-mention-punct", { name: "Bob" });
    expect(await mentions("thanks @bob, see you")).toEqual(["bob-2"]);
    expect(await mentions("thanks @bob!")).toEqual(["bob-2"]);
    expect(await mentions("see you tomorrow @bob.")).toEqual(["bob-2"]);
    expect(await mentions("is that you @bob?")).toEqual(["bob-2"]);
    expect(await mentions("hi @bobby")).toEqual([]); // a longer word is not bob
  });

  test("display names with spaces are mentioned whole; the longest name present wins", async () => {
    const { mentions } = await mentionRoom("rules-mention-spaces");
    await join("ada-1", "rules-mention-spaces", { name: "Ada Lovelace" });
    expect(await mentions("hey @Ada Lovelace, welcome")).toEqual(["ada-1"]);
    expect(await mentions("hey @ada lovelace")).toEqual(["ada-1"]);
    expect(await mentions("hey @Ada")).toEqual([]); // nobody is called just Ada
    await join("ada-2", "rules-mention-spaces", { name: "Ada" });
    expect(await mentions("hey @Ada Lovelace and @Ada!")).toEqual(["ada-1", "ada-2"]);
    expect(await mentions("hey @Ada Lovelaces")).toEqual(["ada-2"]); // "Ada Lovelace" goes on: only Ada fits
    await join("eve-1", "rules-mention-spaces", { name: "Ève Über" });
    expect(await mentions("salut @ève über 👋")).toEqual(["eve-1"]);
  });
});
