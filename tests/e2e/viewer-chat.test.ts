// The watch page's chat in a real browser: two signed-in pages chat with each other (mentions and
// replies highlighted, markup shown as text, each message once), a guest cannot chat and reads why,
// a held message stays pending for its sender until approved or denied, a deleted message vanishes,
// slow mode refuses in words with a countdown, and auto-scroll pauses while the viewer reads up.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser } from "../support/browser.ts";
import { startChatServer, viewer, type ChatServer, type Joined, type Viewer } from "../support/chat.ts";
import { openPage, screenshot, shownMessages, waitLive, waitMessage, type WatchedPage } from "../support/viewer.ts";
import { waitFor } from "../support/wait.ts";

setDefaultTimeout(60_000);
const SLUG = "chatty";
let s: ChatServer;
let browser: Browser;
let alice: WatchedPage;
let bob: WatchedPage;
let guest: WatchedPage;
let bot: Viewer;
let botCh: Joined;

beforeAll(async () => {
  s = await startChatServer();
  // A generous message budget: the auto-scroll test sends a screenful of bot messages.
  await s.createStream(SLUG, { rate_limit: { messages: 1000, per_s: 1 } });
  browser = await launchBrowser();
  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  alice = await openPage(ctxA, `${s.http}/watch/${SLUG}#token=${await s.token("alice", { name: "Alice" })}`);
  bob = await openPage(ctxB, `${s.http}/watch/${SLUG}#token=${await s.token("bob", { name: "Bob" })}`);
  guest = await openPage(browser, `${s.http}/watch/${SLUG}`);
  await Promise.all([waitLive(alice.page), waitLive(bob.page), waitLive(guest.page)]);
  bot = viewer(s.ws, await s.token("bot", { name: "Bot" }));
  botCh = await bot.join(`stream:${SLUG}`);
}, 60_000);

afterAll(async () => {
  bot?.close();
  await browser?.close();
  await s?.dispose();
});

test("the token leaves the address bar; signed-in pages say who they are", async () => {
  expect(alice.page.url()).not.toContain("token=");
  expect(await alice.page.locator("body").getAttribute("data-identity")).toBe("viewer");
  expect(await alice.page.locator(".identity").textContent()).toContain("Chatting as Alice");
  expect(await alice.page.locator("#chat-input").isEnabled()).toBe(true);
});

test("two pages chat: each message once, mentions and replies highlighted, markup as text", async () => {
  const hostile = `hi @Bob <img src=x onerror="document.title='pwned'"> <b>bold</b>`;
  await alice.page.fill("#chat-input", hostile);
  await alice.page.press("#chat-input", "Enter");
  const atBob = await waitMessage(bob.page, (m) => m.who === "Alice" && m.body === hostile, "Alice's message on Bob's page");
  expect(atBob.classes).toContain("mention");
  const atAlice = await waitMessage(alice.page, (m) => m.seq === atBob.seq, "Alice's own message, published");
  expect(atAlice.classes).toContain("mine");
  // The sending placeholder is gone once the message itself arrived: shown exactly once.
  await waitFor("no pending message on Alice's page", async () => (await shownMessages(alice.page)).every((m) => m.state === null));
  for (const p of [alice.page, bob.page, guest.page]) {
    await waitMessage(p, (m) => m.seq === atBob.seq, "the message on every page");
    expect(await p.locator(".log img, .log b").count()).toBe(0);
    expect(await p.title()).not.toBe("pwned");
    expect((await shownMessages(p)).filter((m) => m.seq === atBob.seq)).toHaveLength(1);
  }

  // Bob replies through the message's reply button (keyboard: focus it and press Enter).
  await bob.page.locator(`.log li[data-seq="${atBob.seq}"] .reply-btn`).focus();
  await bob.page.keyboard.press("Enter");
  expect(await bob.page.locator(".replying-text").textContent()).toContain("Replying to Alice");
  expect(await bob.page.evaluate(() => document.activeElement?.id)).toBe("chat-input");
  await bob.page.keyboard.type("welcome, Alice!");
  await bob.page.keyboard.press("Enter");
  const reply = await waitMessage(alice.page, (m) => m.who === "Bob" && m.body === "welcome, Alice!", "Bob's reply on Alice's page");
  expect(reply.classes).toContain("reply-me");
  expect(reply.text).toContain("↪ Alice:");
  expect(await bob.page.locator(".replying").isHidden()).toBe(true);
  await screenshot(alice.page, "viewer-watch-chat");
});

test("a guest cannot chat and reads why (from the join reply's me.can)", async () => {
  const p = guest.page;
  expect(await p.locator("body").getAttribute("data-identity")).toBe("guest");
  expect(await p.locator("#chat-input").isDisabled()).toBe(true);
  expect(await p.locator("button.send").isDisabled()).toBe(true);
  const why = (await p.locator(".identity").textContent()) ?? "";
  expect(why).toContain("guest");
  expect(why).toContain("react"); // guests may react by default
  expect(why).toMatch(/chatting and voting needs? a signed-in viewer/);
  // Reacting is open to guests: the buttons work.
  expect(await p.locator("button.react").first().isEnabled()).toBe(true);
  await screenshot(p, "viewer-watch-guest");
});

test("a held message is pending for its sender until approved; a denied one says so; others never see it held", async () => {
  // link_policy defaults to hold: a link goes to the review queue.
  const held = "look at https://example.com/first";
  await alice.page.fill("#chat-input", held);
  await alice.page.press("#chat-input", "Enter");
  await waitMessage(alice.page, (m) => m.state === "held" && m.body === held, "Alice's held message, pending");
  expect(await alice.page.locator('.log li[data-state="held"]').textContent()).toContain("held for review");
  const queue = await waitFor("the held item in the review queue", async () => {
    const r = await s.api("GET", `/api/v1/streams/${SLUG}/review-queue`);
    return r.body.data?.find((i: any) => i.kind === "held" && i.body === held && i.status === "pending");
  });
  expect((await s.api("POST", `/api/v1/review-queue/${queue.id}/approve`, {})).status).toBe(200);
  const approved = await waitMessage(bob.page, (m) => m.body === held, "the approved message on Bob's page");
  await waitFor("Alice's pending copy replaced by the published message", async () => {
    const ms = (await shownMessages(alice.page)).filter((m) => m.body === held);
    return ms.length === 1 && ms[0]!.seq === approved.seq && ms[0]!.state === null;
  });

  const denied = "and https://example.com/second";
  await alice.page.fill("#chat-input", denied);
  await alice.page.press("#chat-input", "Enter");
  await waitMessage(alice.page, (m) => m.state === "held" && m.body === denied, "the second held message");
  const item = await waitFor("the second item in the queue", async () => {
    const r = await s.api("GET", `/api/v1/streams/${SLUG}/review-queue`);
    return r.body.data?.find((i: any) => i.kind === "held" && i.body === denied && i.status === "pending");
  });
  expect((await s.api("POST", `/api/v1/review-queue/${item.id}/deny`, { reason: "no links please" })).status).toBe(200);
  const gone = await waitMessage(alice.page, (m) => m.state === "denied" && m.body === denied, "the denied message marked");
  expect(gone.text).toContain("not published");
  expect(gone.text).toContain("no links please");
  expect((await shownMessages(bob.page)).some((m) => m.body === denied)).toBe(false);
});

test("a deleted message vanishes from every page", async () => {
  const r = await botCh.publish("this one will be deleted");
  await Promise.all([alice.page, bob.page, guest.page].map((p) => waitMessage(p, (m) => m.seq === r.seq, "the doomed message")));
  expect((await s.api("POST", `/api/v1/streams/${SLUG}/moderation`, { action: "delete", seq: r.seq })).status).toBe(200);
  for (const p of [alice.page, bob.page, guest.page]) {
    await waitFor("the deleted message gone", async () => !(await shownMessages(p)).some((m) => m.seq === r.seq));
  }
});

test("auto-scroll pauses while reading up, with a new-messages marker", async () => {
  const p = bob.page;
  for (let i = 0; i < 30; i++) await botCh.publish(`filler ${i}`);
  await waitMessage(p, (m) => m.body === "filler 29", "the last filler");
  // At the bottom, new messages keep the view at the bottom.
  const atBottom = () => p.locator(".log").evaluate((l) => l.scrollHeight - l.scrollTop - l.clientHeight < 48);
  await waitFor("Bob's chat at the bottom", atBottom);
  await p.locator(".log").evaluate((l) => (l.scrollTop = 0));
  await p.locator(".log").dispatchEvent("scroll");
  for (let i = 0; i < 3; i++) await botCh.publish(`while reading ${i}`);
  await waitMessage(p, (m) => m.body === "while reading 2", "the messages that came while reading");
  expect(await p.locator(".log").evaluate((l) => l.scrollTop)).toBe(0);
  await p.locator(".more").waitFor({ state: "visible" });
  expect(await p.locator(".more").textContent()).toContain("3 new messages");
  await p.locator(".more").click();
  await waitFor("back at the bottom", atBottom);
  expect(await p.locator(".more").isHidden()).toBe(true);
});

test("slow mode: the second message is refused in words with a countdown, then allowed", async () => {
  await s.settings(SLUG, { slow_mode_s: 3 });
  // Carol has not chatted yet, so her first message is not within anyone's slow-mode wait.
  const carol = await openPage(browser, `${s.http}/watch/${SLUG}#token=${await s.token("carol", { name: "Carol" })}`);
  const p = carol.page;
  await waitLive(p);
  await waitFor("slow mode shown", async () => ((await p.locator(".modes").textContent()) ?? "").includes("Slow mode"));
  await p.fill("#chat-input", "first under slow mode");
  await p.press("#chat-input", "Enter");
  await waitMessage(p, (m) => m.body === "first under slow mode" && m.seq !== null, "the first message published");
  await p.fill("#chat-input", "second too soon");
  await p.press("#chat-input", "Enter");
  await waitFor("the slow-mode refusal", async () => ((await p.locator(".chat-status").textContent()) ?? "").match(/Slow mode: you can send again in \d+ s/));
  expect(await p.locator("button.send").isDisabled()).toBe(true);
  expect(await p.inputValue("#chat-input")).toBe("second too soon"); // kept for the next try
  expect((await shownMessages(p)).some((m) => m.body === "second too soon")).toBe(false);
  await screenshot(p, "viewer-watch-slow-mode");
  // The countdown ends by itself and the button comes back.
  await waitFor("the send button back", async () => p.locator("button.send").isEnabled(), 15_000);
  await p.press("#chat-input", "Enter");
  await waitMessage(p, (m) => m.body === "second too soon" && m.seq !== null, "the second message, later");
  await s.settings(SLUG, { slow_mode_s: 0 });
  expect(carol.errors).toEqual([]);
  await p.close();
});

test("no page logged an error or a CSP violation", () => {
  expect([...alice.errors, ...bob.errors, ...guest.errors]).toEqual([]);
});
