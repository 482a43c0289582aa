// The post-broadcast analytics page: after a broadcast with viewers, chat, reactions and a segment
// marked from the dashboard, the report shows its numbers, draws its four charts (uPlot canvases:
// concurrent viewers, chat, reactions, retention), breaks the audience down by country and
// segment, and offers CSV and Parquet downloads through a session-authenticated route. Only the
// stream's owner and admins see it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { closeAll, viewer, type Viewer } from "../support/chat.ts";
import { push } from "../support/phoenix.ts";
import { removeDir, type TestServer } from "../support/server.ts";
import {
  ARTIFACTS, assignModerator, browserWith, createAccount, consoleErrors, cspViolations, loginInBrowser, loginOverHttp, PASSWORD, startDashboardServer, waitFor, watch, type HttpSession,
} from "../support/dashboard.ts";

const SLUG = "stats-show";
let s: TestServer;
let browser: Browser;
let creator: HttpSession;
let broadcastId: string;
const open: Viewer[] = [];

beforeAll(async () => {
  s = await startDashboardServer();
  await createAccount(s, "carla", "creator");
  await createAccount(s, "moana", "moderator");
  await s.api("POST", "/api/v1/streams", { slug: SLUG, title: "Stats show", owner: "carla" });
  await assignModerator(s, SLUG, "moana");
  creator = await loginOverHttp(s, "carla", PASSWORD);
  const live = await creator.post(`/dashboard/streams/${SLUG}/live`, {});
  expect(live.status).toBe(200);
  broadcastId = (await s.api("GET", `/api/v1/streams/${SLUG}`)).body.current_broadcast_id;
  const poll = await s.api("POST", `/api/v1/streams/${SLUG}/polls`, { question: "Which map next?", options: ["Harbor", "Canyon"], duration_s: 60 });
  expect(poll.status).toBe(201);
  for (const [i, sub] of ["a1", "a2", "a3"].entries()) {
    const v = viewer(s.ws, await s.token(sub));
    open.push(v);
    const j = await v.join(`stream:${SLUG}`);
    await j.publish(`great stream from ${sub}, love it`);
    expect((await push(j.ch, "reaction:send", { emoji: "🔥" })).status).toBe("ok");
    expect((await push(j.ch, "poll:vote", { poll_id: poll.body.id, option: i === 0 ? 0 : 1 })).status).toBe("ok");
  }
  expect((await s.api("POST", `/api/v1/polls/${poll.body.id}/close`)).status).toBe(200);
  const seg = await creator.post(`/dashboard/streams/${SLUG}/segments`, { label: "Q&A" });
  expect(seg.status).toBe(201);
  // Everything counted so far is in DuckDB before the report is read.
  await waitFor("the reactions to be counted", () => s.app.analytics.liveMetrics(s.app.streams.findBySlug(SLUG)!).reactions >= 3, 20_000);
  await s.app.analytics.flush();
  browser = (await browserWith()).browser;
});

afterAll(async () => {
  closeAll(...open);
  await browser?.close();
  await s?.stop();
  if (s) removeDir(s.dataDir);
});

test("the report page shows the numbers and draws its four charts", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const problems = watch(page);
  await loginInBrowser(page, s.http, "carla", PASSWORD);
  await page.goto(`${s.http}/dashboard/streams/${SLUG}/analytics`);
  await page.getByRole("link", { name: "Report" }).first().click();
  await page.waitForURL(`${s.http}/dashboard/broadcasts/${broadcastId}`);
  for (const id of ["chart-viewers", "chart-chat", "chart-reactions", "chart-retention"]) {
    await page.locator(`#${id} canvas`).waitFor({ timeout: 15_000 });
    const box = await page.locator(`#${id} canvas`).boundingBox();
    expect(box!.width).toBeGreaterThan(200);
    expect(box!.height).toBeGreaterThan(100);
  }
  const stats = await page.locator(".stats").innerText();
  expect(stats).toContain("Unique viewers\n3");
  expect(stats).toContain("Messages\n3");
  expect(stats).toContain("Reactions\n3");
  expect(await page.locator("section", { hasText: "By segment" }).innerText()).toContain("Q&A");
  // The poll's result: its question, each option's votes and share, the winner marked.
  const polls = page.locator("section", { has: page.locator("h2", { hasText: "Polls" }) });
  expect(await polls.locator("h3").innerText()).toContain("Which map next?");
  const options = await polls.locator("li").allInnerTexts();
  expect(options.map((t) => t.replace(/\s+/g, " ").trim().toLowerCase())).toEqual(["harbor 1 · 33%", "canyon winner 2 · 67%"]); // (the pill's case is CSS)
  expect(await page.locator("section", { hasText: "By country" }).locator("tbody tr").count()).toBeGreaterThan(0);
  await page.screenshot({ path: `${ARTIFACTS}/dashboard-analytics.png`, fullPage: true });
  expect(await cspViolations(page)).toEqual([]);
  expect(problems.errors).toEqual([]);
  expect(consoleErrors(problems)).toEqual([]);
  await ctx.close();
});

test("CSV and Parquet downloads come from a session-authenticated route", async () => {
  const csv = await creator.get(`/dashboard/broadcasts/${broadcastId}/series?metric=chat_messages&format=csv`);
  expect(csv.status).toBe(200);
  expect(csv.headers.get("content-type")).toContain("text/csv");
  expect(csv.headers.get("content-disposition")).toContain(".csv");
  const text = await csv.text();
  expect(text.split(/\r?\n/)[0]).toBe("t,value");
  const total = text.trim().split(/\r?\n/).slice(1).reduce((n, line) => n + Number(line.split(",").pop()), 0);
  expect(total).toBe(3);
  const byCountry = await (await creator.get(`/dashboard/broadcasts/${broadcastId}/series?metric=concurrent_viewers&group_by=country&format=csv`)).text();
  expect(byCountry.split(/\r?\n/)[0]).toBe("t,country,value");
  const pq = await creator.get(`/dashboard/broadcasts/${broadcastId}/series?metric=reactions&format=parquet`);
  expect(pq.status).toBe(200);
  const bytes = new Uint8Array(await pq.arrayBuffer());
  expect(new TextDecoder().decode(bytes.slice(0, 4))).toBe("PAR1");
  // Bad queries say what is wrong; strangers get nothing.
  expect((await creator.get(`/dashboard/broadcasts/${broadcastId}/series?metric=nope&format=csv`)).status).toBe(400);
  expect((await fetch(`${s.http}/dashboard/broadcasts/${broadcastId}/series?metric=reactions&format=csv`, { redirect: "manual" })).status).toBe(303);
  const mod = await loginOverHttp(s, "moana", PASSWORD);
  expect((await mod.get(`/dashboard/broadcasts/${broadcastId}/series?metric=reactions&format=csv`)).status).toBe(403);
  expect((await mod.get(`/dashboard/broadcasts/${broadcastId}`)).status).toBe(403);
});
