// The OBS overlay: a transparent page with no controls that shows reaction bursts and the poll with
// live tallies, then its final result and winner when the poll closes.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser } from "../support/browser.ts";
import { startChatServer, viewer, type ChatServer, type Viewer } from "../support/chat.ts";
import { push } from "../support/phoenix.ts";
import { openPage, screenshot, waitLive } from "../support/viewer.ts";
import { waitFor } from "../support/wait.ts";

setDefaultTimeout(60_000);
const SLUG = "overlaid";
let s: ChatServer;
let browser: Browser;
const voters: Viewer[] = [];

beforeAll(async () => {
  s = await startChatServer();
  await s.createStream(SLUG, { reaction_rate: 100 });
  browser = await launchBrowser();
});
afterAll(async () => {
  for (const v of voters) v.close();
  await browser?.close();
  await s?.dispose();
});

test("the overlay is transparent, bursts reactions and shows the poll live, then its result", async () => {
  const w = await openPage(browser, `${s.http}/overlay/${SLUG}`, { viewport: { width: 1280, height: 720 } });
  const { page } = w;
  await waitLive(page);
  // Joined, and nobody watching: the overlay in OBS is no viewer (not in the count, nor analytics).
  expect(s.app.hub.countOf(SLUG)).toBe(0);
  // Nothing to click, nothing opaque: OBS composites it over the video.
  expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe("rgba(0, 0, 0, 0)");
  expect(await page.locator("button, input").count()).toBe(0);
  expect(await page.locator(".conn").isVisible()).toBe(false);

  const poll = await s.api("POST", `/api/v1/streams/${SLUG}/polls`, { question: "Which map next?", options: ["Harbor", "Desert", "Glacier"], duration_s: 60 });
  expect(poll.status).toBe(201);
  await page.locator(".poll:not([hidden]) .q").waitFor();
  expect(await page.locator(".poll .q").textContent()).toBe("Which map next?");
  expect(await page.locator(".poll .opt .label").allTextContents()).toEqual(["Harbor", "Desert", "Glacier"]);

  // Five signed-in viewers vote (3 Desert, 2 Harbor) and react.
  const picks = [1, 1, 0, 1, 0];
  await Promise.all(
    picks.map(async (option, i) => {
      const v = viewer(s.ws, await s.token(`voter-${i}`, { name: `Voter ${i}` }));
      voters.push(v);
      const j = await v.join(`stream:${SLUG}`);
      expect((await push(j.ch, "poll:vote", { poll_id: poll.body.id, option })).status).toBe("ok");
      for (const emoji of ["🎉", "🔥", "🎉", "❤️", "🎉", "🎉"]) expect((await push(j.ch, "reaction:send", { emoji })).status).toBe("ok");
    }),
  );
  await waitFor("live tallies 2 / 3 / 0", async () => (await page.locator(".poll .opt .votes").allTextContents()).join(",") === "2,3,0");
  expect(await page.locator(".poll .opt .pct").allTextContents()).toEqual(["40%", "60%", "0%"]);
  expect(await page.locator(".poll .total").textContent()).toBe("5 votes");
  await waitFor("a reaction burst", async () => (await page.locator(".burst .particle").count()) > 0);
  await waitFor("particles visible", () => page.evaluate(() => [...document.querySelectorAll(".particle")].some((p) => Number(getComputedStyle(p).opacity) > 0.8)));
  await screenshot(page, "viewer-overlay-live", { omitBackground: true });

  expect((await s.api("POST", `/api/v1/polls/${poll.body.id}/close`)).status).toBe(200);
  await page.locator('.poll[data-status="closed"]').waitFor();
  expect(await page.locator(".poll-kind").textContent()).toBe("Poll results");
  expect(await page.locator(".poll .opt.winner .label").textContent()).toContain("Desert");
  expect(await page.locator(".poll .left").textContent()).toBe("final results");
  await screenshot(page, "viewer-overlay-result", { omitBackground: true });
  expect(w.errors).toEqual([]);
  await page.close();
});
