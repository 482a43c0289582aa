// The watch page under a crowd: 1,000 phoenix-client bots (two child processes) react, and the
// page's running per-emoji counts reach exactly what the server accepted (each reaction counted
// once, from the batched `reactions` events), while the burst never holds more than 40 animated
// elements at any moment, however large the counts. The viewer count follows the crowd.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser } from "../support/browser.ts";
import { startChatServer, type ChatServer } from "../support/chat.ts";
import { openPage, reactionBots, screenshot, waitLive } from "../support/viewer.ts";
import { waitFor } from "../support/wait.ts";

const MAX_PARTICLES = 40; // src/client/reactions.ts
const EMOJIS = ["❤️", "🔥", "😂", "👏", "😮", "🎉"];
const BOTS = 1000;
const PER_BOT = 5;

let s: ChatServer;
let browser: Browser;
beforeAll(async () => {
  s = await startChatServer();
  // Guests react by default; each bot may send its five at once.
  await s.createStream("crowd", { reaction_rate: 100 });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await s?.dispose();
});

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

async function pageCounts(page: import("playwright-core").Page): Promise<Record<string, number>> {
  return page.locator("button.react").evaluateAll((bs: HTMLElement[]) =>
    Object.fromEntries(bs.map((b) => [b.dataset.emoji!, Number(b.querySelector<HTMLElement>(".count")!.dataset.count)])),
  );
}

test("1,000 bots react: exact running counts, at most 40 animated elements", async () => {
  const w = await openPage(browser, `${s.http}/watch/crowd`);
  const { page } = w;
  await waitLive(page);
  // In the page: the largest number of particles the burst layer ever held (observed after every insertion).
  await page.evaluate(() => {
    const layer = document.querySelector(".burst")!;
    const g = window as unknown as { __maxParticles: number };
    g.__maxParticles = 0;
    new MutationObserver(() => {
      g.__maxParticles = Math.max(g.__maxParticles, layer.childElementCount);
    }).observe(layer, { childList: true });
  });

  const bots = await reactionBots({ ws: s.ws, slug: "crowd", total: BOTS, processes: 2, perBot: PER_BOT, emojis: EMOJIS });
  try {
    await within(bots.ready, 60_000, "1,000 bots joined");
    // Every bot is a guest socket, counted once each, plus the page itself.
    await waitFor("the page shows 1,001 viewers", async () => (await page.locator(".viewers .n").textContent())?.replace(/\D/g, "") === String(BOTS + 1), 20_000);
    bots.go();

    // From outside as well: sample the burst layer while the bots run (bounded loop).
    let sampledMax = 0;
    let sampling = true;
    let shot = false;
    const sampler = (async () => {
      for (let i = 0; sampling && i < 5000; i++) {
        const n = await page.locator(".burst .particle").count();
        sampledMax = Math.max(sampledMax, n);
        // One picture mid-burst, once many particles are in flight and visible.
        if (!shot && n >= 15) {
          const visible = await page.evaluate(() => [...document.querySelectorAll(".particle")].filter((p) => Number(getComputedStyle(p).opacity) > 0.8).length);
          if (visible >= 12) {
            shot = true;
            await screenshot(page, "viewer-reactions-burst");
          }
        }
      }
    })();

    const run = await within(bots.done, 90_000, "the bots to finish");
    expect(run.bots).toBe(BOTS);
    expect(run.refused).toEqual({});
    const total = Object.values(run.accepted).reduce((a, b) => a + b, 0);
    expect(total).toBe(BOTS * PER_BOT);

    // Once they stop, the running counts reach exactly the accepted totals (and never pass them).
    let last: Record<string, number> = {};
    await waitFor(
      `page counts to reach ${JSON.stringify(run.accepted)}`,
      async () => {
        last = await pageCounts(page);
        for (const e of EMOJIS) expect(last[e] ?? 0).toBeLessThanOrEqual(run.accepted[e] ?? 0);
        return EMOJIS.every((e) => (last[e] ?? 0) === (run.accepted[e] ?? 0));
      },
      30_000,
    );
    sampling = false;
    await sampler;
    const inPageMax = await page.evaluate(() => (window as unknown as { __maxParticles: number }).__maxParticles);
    expect(inPageMax).toBeGreaterThan(0);
    expect(inPageMax).toBeLessThanOrEqual(MAX_PARTICLES);
    console.log(`burst: at most ${inPageMax} animated elements in the page (sampled from outside: ${sampledMax})`);
    expect(sampledMax).toBeLessThanOrEqual(MAX_PARTICLES);
    // The counts are shown too (compact above 9,999): 5,000 over 6 emoji is under that.
    const shown = await page.locator("button.react .count").allTextContents();
    expect(shown.map((t) => Number(t.replace(/\D/g, ""))).reduce((a, b) => a + b, 0)).toBe(total);
    if (!shot) await screenshot(page, "viewer-reactions-burst");
    expect(w.errors).toEqual([]);
  } finally {
    bots.kill();
    await page.close();
  }
}, 180_000);
