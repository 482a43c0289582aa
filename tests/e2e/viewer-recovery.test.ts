// The server restarts under an open watch page: the page says it is reconnecting, comes back by
// itself, and its rejoin asks for exactly what it missed ({last_seq, epoch}): every message is shown
// exactly once, in order, with no gap, and the rejoin's reply is a recovery (not the last 50 again).
// The page is kept offline across the restart so that messages are sent while it is away.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser } from "../support/browser.ts";
import { startChatServer, viewer, type ChatServer, type Viewer } from "../support/chat.ts";
import { openPage, screenshot, shownMessages, waitLive, waitMessage } from "../support/viewer.ts";
import { waitFor } from "../support/wait.ts";

setDefaultTimeout(90_000);
const SLUG = "recover";
let s: ChatServer;
let browser: Browser;
const bots: Viewer[] = [];

beforeAll(async () => {
  s = await startChatServer();
  await s.createStream(SLUG);
  browser = await launchBrowser();
});
afterAll(async () => {
  for (const b of bots) b.close();
  await browser?.close();
  await s?.dispose();
});

async function botJoin(): Promise<ReturnType<Viewer["join"]>> {
  const b = viewer(s.ws, await s.token("bot", { name: "Bot" }));
  bots.push(b);
  return b.join(`stream:${SLUG}`);
}

test("a restart: reconnecting shown, missed messages recovered exactly once, no gap", async () => {
  const ctx = await browser.newContext();
  const w = await openPage(ctx, `${s.http}/watch/${SLUG}`);
  const { page } = w;
  await waitLive(page);
  const before = await botJoin();
  for (let i = 1; i <= 5; i++) await before.publish(`before ${i}`);
  await waitMessage(page, (m) => m.body === "before 5", "the first five on the page");

  // Offline, then the restart (the drain closes the page's socket with 1012): the page cannot come back yet.
  await ctx.setOffline(true);
  bots.pop()!.close();
  s = await s.restart();
  await page.locator('body[data-conn="reconnecting"]').waitFor({ timeout: 20_000 });
  expect(await page.locator(".conn").isVisible()).toBe(true);
  expect(await page.locator(".conn").textContent()).toContain("Reconnecting");
  await screenshot(page, "viewer-watch-reconnecting");

  const during = await botJoin();
  for (let i = 1; i <= 10; i++) await during.publish(`missed ${i}`);
  const socketsBefore = w.sockets.length;
  await ctx.setOffline(false);

  // Back by itself (phoenix.js reconnects with back-off), and the rejoin recovered the gap.
  await page.locator('body[data-conn="live"]').waitFor({ timeout: 30_000 });
  expect(await page.locator(".conn").isHidden()).toBe(true);
  for (let i = 1; i <= 3; i++) await during.publish(`after ${i}`);
  await waitMessage(page, (m) => m.body === "after 3", "a live message after the reconnect");

  const shown = await shownMessages(page);
  expect(shown.map((m) => m.seq)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
  expect(shown.map((m) => m.body)).toEqual([
    ...Array.from({ length: 5 }, (_, i) => `before ${i + 1}`),
    ...Array.from({ length: 10 }, (_, i) => `missed ${i + 1}`),
    ...Array.from({ length: 3 }, (_, i) => `after ${i + 1}`),
  ]);

  // The join reply of the new socket: a recovery of exactly seqs 6..15, asked for with last_seq 5.
  expect(w.sockets.length).toBeGreaterThan(socketsBefore);
  const rejoin = await waitFor("the rejoin's reply", () =>
    w.frames.find((f) => f.socket >= socketsBefore && f.event === "phx_reply" && f.topic === `stream:${SLUG}` && f.payload?.response?.history !== undefined),
  );
  expect(rejoin.payload.status).toBe("ok");
  expect(rejoin.payload.response.recovered).toBe(true);
  expect(rejoin.payload.response.history.map((m: any) => m.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 6));
  expect(w.errors.filter((e) => !/WebSocket|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED/.test(e))).toEqual([]);
  await screenshot(page, "viewer-watch-recovered");
  await ctx.close();
});

test("a deletion made while the page was away reaches it through the recovery's tombstones", async () => {
  const ctx = await browser.newContext();
  const w = await openPage(ctx, `${s.http}/watch/${SLUG}`);
  const { page } = w;
  await waitLive(page);
  const ch = await botJoin();
  const doomed = await ch.publish("deleted while you were away");
  await waitMessage(page, (m) => m.seq === doomed.seq, "the doomed message");
  await ctx.setOffline(true);
  bots.pop()!.close();
  s = await s.restart();
  // Usually the server's close reaches the page at once; when the offline switch wins that race,
  // the page finds out from its heartbeat (every 30 s; a missed reply closes the socket): up to ~60 s.
  await page.locator('body[data-conn="reconnecting"]').waitFor({ timeout: 90_000 });
  expect((await s.api("POST", `/api/v1/streams/${SLUG}/moderation`, { action: "delete", seq: doomed.seq })).status).toBe(200);
  const ch2 = await botJoin();
  const fresh = await ch2.publish("sent while you were away");
  await ctx.setOffline(false);
  await waitMessage(page, (m) => m.seq === fresh.seq, "the missed message", 30_000);
  const shown = await shownMessages(page);
  expect(shown.some((m) => m.seq === doomed.seq)).toBe(false);
  expect(shown.filter((m) => m.seq === fresh.seq)).toHaveLength(1);
  await ctx.close();
}, 150_000);
