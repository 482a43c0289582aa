// The live dashboard end to end in headless Chromium, with viewers on the official phoenix client:
// a creator logs in, creates a stream, assigns a moderator and goes live; a viewer's message shows
// up on the dashboard by itself (SSE); a moderator deletes it from their own dashboard and the
// viewer receives chat:delete; a held message (link policy "hold") is approved from the review
// queue and published; a poll is opened on the dashboard, voted on by viewers and closed. No CSP
// violation, page error or unexpected dialog happens on the way.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { closeAll, viewer, type Joined, type Viewer } from "../support/chat.ts";
import { push } from "../support/phoenix.ts";
import { removeDir, type TestServer } from "../support/server.ts";
import {
  ADMIN_PASSWORD, ARTIFACTS, browserWith, createAccount, consoleErrors, cspViolations, feedConnected, loginInBrowser, loginOverHttp, PASSWORD, startDashboardServer, waitFor, watch, type PageProblems,
} from "../support/dashboard.ts";

const SLUG = "friday-live";
let s: TestServer;
let browser: Browser;
let creator: Page;
let creatorProblems: PageProblems;
let mod: Page;
let modProblems: PageProblems;
const viewers: Viewer[] = [];
let v1: Joined;

beforeAll(async () => {
  s = await startDashboardServer();
  await createAccount(s, "carla", "creator");
  await createAccount(s, "moana", "moderator");
  const b = await browserWith();
  browser = b.browser;
  creator = await (await b.context()).newPage();
  creatorProblems = watch(creator);
  mod = await (await b.context()).newPage();
  modProblems = watch(mod);
});

afterAll(async () => {
  closeAll(...viewers);
  await browser?.close();
  await s?.stop();
  if (s) removeDir(s.dataDir);
});

async function newViewer(sub: string): Promise<Joined> {
  const v = viewer(s.ws, await s.token(sub));
  viewers.push(v);
  return v.join(`stream:${SLUG}`);
}

test("a creator logs in, creates a stream, assigns a moderator and goes live", async () => {
  await loginInBrowser(creator, s.http, "carla", PASSWORD);
  await creator.getByLabel("Slug").fill(SLUG);
  await creator.getByLabel("Title").fill("Friday night Q&A");
  await creator.getByRole("button", { name: "Create stream" }).click();
  await creator.locator("#stream-list").getByRole("link", { name: "Friday night Q&A" }).waitFor({ timeout: 15_000 });
  await expect(creator.locator("#create-stream .notice-ok").innerText()).resolves.toContain(`Stream ${SLUG} created`);

  // The settings page: assign the moderator (the chip appears), raise the viewers' rate limit.
  await creator.goto(`${s.http}/dashboard/streams/${SLUG}/settings`);
  await creator.getByLabel("Add a moderator (username)").fill("moana");
  await creator.getByRole("button", { name: "Add", exact: true }).click();
  await creator.locator("#moderators .chip", { hasText: "moana" }).waitFor({ timeout: 15_000 });

  await creator.goto(`${s.http}/dashboard/streams/${SLUG}`);
  await feedConnected(creator);
  await creator.getByRole("button", { name: "Go live" }).click();
  await creator.locator("#stream-status .pill-live").waitFor({ timeout: 15_000 });
  await creator.getByRole("button", { name: "End broadcast" }).waitFor({ timeout: 15_000 });
  const r = await s.api("GET", `/api/v1/streams/${SLUG}`);
  expect(r.body.status).toBe("live");
  expect(r.body.moderators).toEqual(["moana"]);
});

test("a viewer's message appears on the dashboard; a moderator deletes it and the viewer receives chat:delete", async () => {
  await loginInBrowser(mod, s.http, "moana", PASSWORD);
  await mod.goto(`${s.http}/dashboard/streams/${SLUG}`);
  await feedConnected(mod);
  // A moderator's page has no broadcast controls.
  expect(await mod.locator("#broadcast-controls").count()).toBe(0);

  v1 = await newViewer("v1");
  const sent = await v1.publish("hello from the audience");
  const line = (p: Page) => p.locator(`#msg-${sent.seq}`);
  // Both dashboards get it by themselves, over SSE.
  await line(creator).getByText("hello from the audience").waitFor({ timeout: 20_000 });
  await line(mod).getByText("hello from the audience").waitFor({ timeout: 20_000 });
  expect(await line(creator).locator(".sent").count()).toBe(1); // the sentiment mark

  await line(mod).hover();
  await line(mod).getByRole("button", { name: "Delete" }).click();
  const del = await v1.waitEvent("chat:delete", (p) => p.seqs.includes(sent.seq), "chat:delete for the deleted message", 20_000);
  expect(del.payload.seqs).toContain(sent.seq);
  // The creator's dashboard shows the deletion too, and the audit trail names the moderator.
  await creator.locator(`#msg-${sent.seq}.msg-deleted`).waitFor({ timeout: 20_000 });
  await creator.locator("#audit-list").getByText(`deleted message #${sent.seq}`).waitFor({ timeout: 20_000 });
  expect(await creator.locator("#audit-list li", { hasText: `deleted message #${sent.seq}` }).innerText()).toContain("moana");
});

test("with a chat delay, moderators see a message at once, marked, and may delete it before any viewer gets it", async () => {
  expect((await s.api("PATCH", `/api/v1/streams/${SLUG}`, { settings: { chat_delay_s: 6 } })).status).toBe(200);
  try {
    // What the page shows, as it happens (the marked line lasts only until the delay is over).
    await mod.evaluate(() => {
      const w = window as any;
      w.__lines = [];
      new MutationObserver((records) => {
        for (const r of records) for (const n of r.addedNodes) if (n instanceof HTMLElement && n.id.startsWith("msg-")) w.__lines.push(`${n.id} ${n.className}`);
      }).observe(document.getElementById("chat-lines")!.parentElement!, { childList: true, subtree: true });
    });
    const shown = await v1.publish("held back a moment");
    const dropped = await v1.publish("a spoiler, deleted in time");
    expect(typeof shown.visible_at).toBe("string");
    // Deleted while held back (the API acts in ms; the delay is 6 s): never broadcast.
    expect((await s.api("POST", `/api/v1/streams/${SLUG}/moderation`, { action: "delete", seq: dropped.seq })).status).toBe(200);
    const last = await v1.publish("after the spoiler");
    // Viewers get messages in seq order, each at its visible_at: once the last one arrived, the deleted one never will.
    await v1.waitNew((m) => m.seq === last.seq, "the last message, after the delay", 30_000);
    expect(v1.news().map((m: any) => m.seq)).toContain(shown.seq);
    expect(v1.news().map((m: any) => m.seq)).not.toContain(dropped.seq);

    await mod.locator(`#msg-${last.seq}:not(.msg-pending)`).waitFor({ timeout: 20_000 });
    const lines: string[] = await mod.evaluate(() => (window as any).__lines);
    expect(lines).toContain(`msg-${shown.seq} msg msg-pending`); // first marked...
    expect(await mod.locator(`#msg-${shown.seq}`).count()).toBe(1); // ...then replaced by the visible line
    expect(await mod.locator(`#msg-${shown.seq}`).getAttribute("class")).toBe("msg");
    expect(await mod.locator(`#msg-${dropped.seq}`).getAttribute("class")).toBe("msg msg-deleted");
  } finally {
    await s.api("PATCH", `/api/v1/streams/${SLUG}`, { settings: { chat_delay_s: 0 } });
  }
}, 60_000);

test("banned and timed-out viewers are listed with their way back; a viewer who left the chat is found by id", async () => {
  await mod.goto(`${s.http}/dashboard/streams/${SLUG}`);
  await feedConnected(mod);
  await mod.locator("#bans", { hasText: "Nobody is banned or timed out." }).waitFor({ timeout: 20_000 });
  expect((await s.api("POST", `/api/v1/streams/${SLUG}/moderation`, { action: "ban", user_id: "troll-1", reason: "spam" })).status).toBe(200);
  expect((await s.api("POST", `/api/v1/streams/${SLUG}/moderation`, { action: "timeout", user_id: "hothead-2", duration_s: 600 })).status).toBe(200);
  // Both arrive on the open page by themselves.
  const row = (id: string) => mod.locator("#bans .ban-row", { hasText: id });
  await row("troll-1").getByRole("button", { name: "Unban" }).waitFor({ timeout: 20_000 });
  await row("hothead-2").getByRole("button", { name: "Remove timeout" }).waitFor({ timeout: 20_000 });
  expect(await row("troll-1").innerText()).toContain("spam");
  await mod.locator("#bans").scrollIntoViewIfNeeded();
  await mod.screenshot({ path: `${ARTIFACTS}/dashboard-live-bans.png` });

  await row("hothead-2").getByRole("button", { name: "Remove timeout" }).click();
  await row("hothead-2").waitFor({ state: "detached", timeout: 20_000 });
  // Nobody of them is in the recent chat: the card opens by id.
  await mod.getByLabel("Viewer id").fill("troll-1");
  await mod.getByRole("button", { name: "Look up" }).click();
  const card = mod.locator("#viewer-card");
  await card.locator(".notice-error", { hasText: "Banned" }).waitFor({ timeout: 20_000 });
  await card.getByRole("button", { name: "Unban" }).click();
  await mod.locator("#bans", { hasText: "Nobody is banned or timed out." }).waitFor({ timeout: 20_000 });
  const audit = (await s.api("GET", `/api/v1/streams/${SLUG}/audit?action=moderation.unban`)).body.data;
  expect(audit.map((r: any) => [r.target.id, r.actor.id])).toEqual(expect.arrayContaining([["troll-1", expect.any(String)], ["hothead-2", expect.any(String)]]));
  // The whole trail, as CSV, from the panel (the JSON API answers this moderator's session).
  const [dl] = await Promise.all([mod.waitForEvent("download", { timeout: 20_000 }), mod.getByRole("link", { name: "The whole audit trail as CSV" }).click()]);
  const csv = await Bun.file((await dl.path())!).text();
  expect(csv.split(/\r?\n/)[0]).toBe("id,at,actor_type,actor_id,action,target_type,target_id,reason,data");
  expect(csv).toContain("moderation.unban");
  expect(csv).toContain("troll-1");
}, 60_000);

test("a held message is approved from the review queue and published", async () => {
  const r = await v1.send({ body: "look at https://example.com/giveaway" });
  expect(r.status).toBe("ok");
  expect(r.response.status).toBe("held");
  const item = creator.locator(`#rq-${r.response.held_id}`);
  await item.getByText("https://example.com/giveaway").waitFor({ timeout: 20_000 });
  // The reasons that held it are shown with the item.
  expect((await item.innerText()).toLowerCase()).toContain("link");
  await creator.screenshot({ path: `${ARTIFACTS}/dashboard-live-queue.png`, fullPage: true });

  await item.getByRole("button", { name: "Approve" }).click();
  const pub = await v1.waitNew((m) => m.body === "look at https://example.com/giveaway", "the approved message on the viewer's socket", 20_000);
  await creator.locator(`#msg-${pub.seq}`).getByText("look at https://example.com/giveaway").waitFor({ timeout: 20_000 });
  await waitFor("the item to leave the queue", async () => (await creator.locator(`#rq-${r.response.held_id}`).count()) === 0, 20_000);

  // One click from the message: the viewer card, with their messages and the actions about them.
  await creator.locator(`#msg-${pub.seq}`).getByRole("button", { name: "Viewer v1" }).click();
  const card = creator.locator("#viewer-card");
  await card.getByRole("heading", { name: "Viewer v1" }).waitFor({ timeout: 15_000 });
  expect(await card.locator(".vc-messages").innerText()).toContain("look at https://example.com/giveaway");
  expect(await card.locator(".audit-list").innerText()).toContain("deleted message #");
  expect(await card.innerText()).toContain("No linked account");
  await card.screenshot({ path: `${ARTIFACTS}/dashboard-viewer-card.png` });
});

test("keyboard focus stays put while the queue re-renders, and moves to the next item after a decision", async () => {
  await mod.goto(`${s.http}/dashboard/streams/${SLUG}`);
  await feedConnected(mod);
  // One held message per viewer (three of one viewer would escalate them to admins).
  const held = async (sub: string, body: string) => {
    const r = await (await newViewer(sub)).send({ body });
    expect(r.response.status).toBe("held");
    await mod.locator(`#rq-${r.response.held_id}`).waitFor({ timeout: 20_000 });
    return r.response.held_id as string;
  };
  const a = await held("v-focus-a", "first https://example.com/a");
  const b = await held("v-focus-b", "second https://example.com/b");
  await mod.locator(`#rq-${a}-deny`).focus();
  const c = await held("v-focus-c", "third https://example.com/c"); // the queue re-renders around the focused button
  const focused = () => mod.evaluate(() => document.activeElement?.id ?? "");
  expect(await focused()).toBe(`rq-${a}-deny`);
  // The streams list says where review work waits.
  const list = await (await loginOverHttp(s, "moana", PASSWORD)).get("/dashboard");
  expect(await list.text()).toContain("3 to review");
  await mod.keyboard.press("Enter"); // deny the first, from the keyboard
  await waitFor("the first item to leave the queue", async () => (await mod.locator(`#rq-${a}`).count()) === 0, 20_000);
  await waitFor("focus on the next item's Deny", async () => (await focused()) === `rq-${b}-deny`, 20_000);
  for (const id of [b, c]) expect((await s.api("POST", `/api/v1/review-queue/${id}/deny`, {})).status).toBe(200);
}, 60_000);

test("a report is upheld with a timeout and a reason typed on the item, which survives the queue re-rendering", async () => {
  await mod.goto(`${s.http}/dashboard/streams/${SLUG}`);
  await feedConnected(mod);
  const rude = await newViewer("v-rude");
  const reporter = await newViewer("v-reporter");
  const msg = await rude.publish("you are all terrible");
  const r = await push(reporter.ch, "chat:report", { seq: msg.seq, reason: "insults" });
  expect(r.status).toBe("ok");
  const id = r.response.report_id as string;
  const item = mod.locator(`#rq-${id}`);
  await item.waitFor({ timeout: 20_000 });
  expect(await item.innerText()).toContain(`message #${msg.seq}`);
  await mod.locator(`#rq-${id}-reason`).fill("insulting the chat");
  // Another item arrives meanwhile: the queue re-renders, the typed reason stays.
  const other = await (await newViewer("v-linker")).send({ body: "free stuff https://example.com/free" });
  await mod.locator(`#rq-${other.response.held_id}`).waitFor({ timeout: 20_000 });
  await waitFor("the typed reason after the re-render", async () => (await mod.locator(`#rq-${id}-reason`).inputValue()) === "insulting the chat", 20_000);
  await mod.locator("#review-queue").screenshot({ path: `${ARTIFACTS}/dashboard-live-report.png` });
  await mod.locator(`#rq-${id}-timeout`).click();
  await waitFor("the report to leave the queue", async () => (await mod.locator(`#rq-${id}`).count()) === 0, 20_000);
  await rude.waitEvent("chat:delete", (p) => p.seqs.includes(msg.seq), "the upheld report's message deleted", 20_000);
  const audit = (await s.api("GET", `/api/v1/streams/${SLUG}/audit?action=moderation.timeout`)).body.data;
  expect(audit.find((a: any) => a.target.id === "v-rude")).toMatchObject({ reason: "insulting the chat", actor: { type: "account" } });
  expect((await s.api("POST", `/api/v1/review-queue/${other.response.held_id}/deny`, {})).status).toBe(200);
  expect((await s.api("POST", `/api/v1/streams/${SLUG}/moderation`, { action: "unban", user_id: "v-rude" })).status).toBe(200);
}, 60_000);

test("an admin revokes and erases a viewer from the viewer card; moderators do not get those buttons", async () => {
  const victim = await newViewer("v-erase-me");
  const said = await victim.publish("please forget me");
  const admin = await (await browser.newContext()).newPage();
  const problems = watch(admin); // (accepts the confirm dialogs)
  await loginInBrowser(admin, s.http, "admin", ADMIN_PASSWORD);
  await admin.goto(`${s.http}/dashboard/streams/${SLUG}`);
  await feedConnected(admin);
  const open = async (p: Page) => {
    await p.getByLabel("Viewer id").fill("v-erase-me");
    await p.getByRole("button", { name: "Look up" }).click();
    await p.locator("#viewer-card h3").waitFor({ timeout: 20_000 });
  };
  await open(mod);
  expect(await mod.locator("#viewer-card").getByRole("button", { name: "Erase data" }).isVisible()).toBe(false);
  await open(admin);
  let closed: number | null = null;
  (victim.ch as any).socket.onClose((e: any) => (closed ??= e.code));
  await admin.locator("#viewer-card").getByRole("button", { name: "Revoke sessions" }).click();
  await admin.locator(".toast-ok", { hasText: "Revoked" }).waitFor({ timeout: 20_000 });
  await waitFor("the viewer's socket closed with 1008", () => closed === 1008, 20_000);
  await admin.locator("#viewer-card").getByRole("button", { name: "Erase data" }).click();
  await admin.locator(".toast-ok", { hasText: "Erased v-erase-me: 1 messages" }).waitFor({ timeout: 30_000 });
  await admin.locator(`#msg-${said.seq}.msg-deleted`).waitFor({ timeout: 20_000 });
  const history = (await s.api("GET", `/api/v1/streams/${SLUG}/chat?limit=1000`)).body.data;
  expect(JSON.stringify(history)).not.toContain("please forget me");
  expect(problems.errors).toEqual([]);
  await admin.context().close();
}, 60_000);

test("a poll is opened on the dashboard, voted on by viewers and closed", async () => {
  const v2 = await newViewer("v2");
  const polls: Array<{ event: string; payload: any }> = [];
  for (const j of [v1, v2]) for (const e of ["poll:open", "poll:update", "poll:close"]) j.ch.on(e, (payload: any) => void polls.push({ event: e, payload }));

  const form = creator.locator("#poll-form");
  await form.getByLabel("Question").fill("Best snack?");
  await form.getByLabel("Option 1", { exact: true }).fill("Popcorn");
  await form.getByLabel("Option 2", { exact: true }).fill("Nachos");
  await form.getByLabel("Duration (seconds)").fill("300");
  await form.getByRole("button", { name: "Open poll" }).click();
  await creator.locator("#poll").getByText("Best snack?").waitFor({ timeout: 15_000 });

  const opened = await waitFor("poll:open on the viewers", () => polls.find((p) => p.event === "poll:open"), 20_000);
  const id = opened.payload.id as string;
  expect((await push(v1.ch, "poll:vote", { poll_id: id, option: 0 })).status).toBe("ok");
  expect((await push(v2.ch, "poll:vote", { poll_id: id, option: 1 })).status).toBe("ok");
  // Live tallies reach the dashboard.
  await creator.locator("#poll .poll-total", { hasText: "2" }).waitFor({ timeout: 20_000 });
  await mod.locator("#poll .poll-total", { hasText: "2" }).waitFor({ timeout: 20_000 });
  await creator.screenshot({ path: `${ARTIFACTS}/dashboard-live.png`, fullPage: true });

  await creator.locator("#poll").getByRole("button", { name: "Close poll" }).click();
  const closed = await waitFor("poll:close on the viewers", () => polls.find((p) => p.event === "poll:close"), 20_000);
  expect(closed.payload.tallies).toEqual([1, 1]);
  await mod.locator("#poll.poll-closed").waitFor({ timeout: 20_000 });
});

test("the live page reads on a phone, and nothing broke on the way", async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const p = await phone.newPage();
  const problems = watch(p);
  await loginInBrowser(p, s.http, "carla", PASSWORD);
  await p.goto(`${s.http}/dashboard/streams/${SLUG}`);
  await feedConnected(p);
  // Nothing is wider than the screen.
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(1);
  await p.screenshot({ path: `${ARTIFACTS}/dashboard-phone.png`, fullPage: false });
  for (const [page, pr] of [[creator, creatorProblems], [mod, modProblems], [p, problems]] as const) {
    expect(await cspViolations(page)).toEqual([]);
    expect(pr.errors).toEqual([]);
    expect(consoleErrors(pr)).toEqual([]);
    expect(pr.dialogs.filter((d) => !d.startsWith("confirm"))).toEqual([]);
  }
  await phone.close();
});

test("an open live page whose access ends stops retrying: unassigned, it says so; logged out, it goes to the login page", async () => {
  await createAccount(s, "mika", "moderator");
  await createAccount(s, "lena", "moderator");
  for (const u of ["mika", "lena"]) expect((await s.api("PUT", `/api/v1/streams/${SLUG}/moderators/${u}`)).status).toBe(200);
  const pages: Page[] = [];
  for (const u of ["mika", "lena"]) {
    const p = await (await browser.newContext()).newPage();
    await loginInBrowser(p, s.http, u, PASSWORD);
    await p.goto(`${s.http}/dashboard/streams/${SLUG}`);
    await feedConnected(p);
    pages.push(p);
  }
  const [unassigned, loggedOut] = pages as [Page, Page];
  // The feed re-checks its subscribers every few seconds and ends theirs; the reconnect is refused.
  expect((await s.api("DELETE", `/api/v1/streams/${SLUG}/moderators/mika`)).status).toBe(200);
  expect((await s.api("PATCH", "/api/v1/accounts/lena", { password: "a different password" })).status).toBe(200);
  await unassigned.locator('#feed-state[data-state="down"]', { hasText: "no longer have access" }).waitFor({ timeout: 30_000 });
  await loggedOut.waitForURL(`${s.http}/dashboard/login?next=${encodeURIComponent(`/dashboard/streams/${SLUG}`)}`, { timeout: 30_000 });
  for (const p of pages) await p.context().close();
}, 90_000);
