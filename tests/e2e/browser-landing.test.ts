// The landing page renders in a real browser, escapes stream titles, and a page served by Hubbub
// can open a viewer socket (same-origin) while the page's CSP forbids framing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchBrowser } from "../support/browser.ts";
import { removeDir, startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;
let browser: Browser;
beforeAll(async () => {
  s = await startTestServer();
  await s.createStream("browser-1");
  await s.api("PATCH", "/api/v1/streams/browser-1", { title: "<img src=x onerror=alert(1)>" });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await s.stop();
  removeDir(s.dataDir);
});

test("the landing page lists streams as text and a same-origin socket joins", async () => {
  const page = await browser.newPage();
  const res = await page.goto(s.http + "/");
  expect(res?.status()).toBe(200);
  expect(res?.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
  const text = await page.locator("#streams").innerText();
  expect(text).toContain("<img src=x onerror=alert(1)>");
  expect(await page.locator("#streams img").count()).toBe(0);
  // A raw WebSocket from the page's own origin is accepted (Origin = the Host it was served from).
  const joined = await page.evaluate(async (wsUrl) => {
    return await new Promise<string>((resolve) => {
      const ws = new WebSocket(wsUrl);
      ws.onopen = () => ws.send(JSON.stringify(["1", "1", "stream:browser-1", "phx_join", {}]));
      ws.onmessage = (e) => resolve(JSON.parse(e.data)[4].status);
      ws.onerror = () => resolve("error");
    });
  }, s.ws.replace("/socket", "/socket/websocket?vsn=2.0.0"));
  expect(joined).toBe("ok");
  await page.screenshot({ path: "tests/artifacts/landing.png" }).catch(() => {});
  await page.close();
});
