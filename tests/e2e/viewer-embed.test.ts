// The embed inside a platform's page on another origin (a tiny parent page served from another
// loopback port, listed in HUBBUB_EMBED_ORIGINS): the embed asks its parent for a viewer token by
// postMessage and connects signed in; before the token expires it asks again and keeps the fresh
// one for the next reconnect without dropping its healthy socket; a reconnect uses the fresh token;
// once the parent stops answering and the token expires, a reconnect comes back as a guest. A page
// on an origin not listed cannot frame the embed at all (frame-ancestors).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Server } from "bun";
import type { Browser } from "playwright-core";
import { mintViewerToken } from "../../src/identity/viewer-token.ts";
import { launchBrowser } from "../support/browser.ts";
import { startChatServer, viewer, type ChatServer } from "../support/chat.ts";
import { freePortCandidate, TOKEN_SECRET } from "../support/server.ts";
import { openPage, screenshot, shownMessages, waitMessage } from "../support/viewer.ts";
import { waitFor } from "../support/wait.ts";

setDefaultTimeout(90_000);
const SLUG = "embedded";
const TOKEN_TTL_S = 10;

let s: ChatServer;
let browser: Browser;
let parent: Server<unknown>;
let stranger: Server<unknown>;
let hubbubOrigin = "";
const minted: string[] = [];

/** The platform's page: its own player, and Hubbub's embed beside it; it hands out tokens on request. */
function parentPage(embedUrl: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>A platform</title>
<style>body{margin:0;font:15px system-ui;display:grid;grid-template-columns:1fr 360px;height:100vh;background:#f3f3f6}
.player{display:grid;place-items:center;background:#101018;color:#ddd}iframe{border:0;width:100%;height:100%;background:#fff}</style></head>
<body><div class="player">The platform's own video player</div><iframe id="chat" title="Live chat" src="${embedUrl}"></iframe>
<script>
window.requests = 0; window.sent = []; window.answering = true;
addEventListener("message", async (e) => {
  if (e.origin !== ${JSON.stringify(hubbubOrigin)} || !e.data || e.data.type !== "hubbub:token-request") return;
  window.requests++;
  if (!window.answering) return;
  const t = await (await fetch("/token")).text();
  window.sent.push(t);
  document.getElementById("chat").contentWindow.postMessage({ type: "hubbub:token", token: t }, ${JSON.stringify(hubbubOrigin)});
});
</script></body></html>`;
}

function serveOn(fetch: (req: Request) => Response | Promise<Response>): Server<unknown> {
  for (let attempt = 0; ; attempt++) {
    try {
      return Bun.serve({ hostname: "127.0.0.1", port: freePortCandidate(), fetch });
    } catch (e) {
      if (attempt > 20) throw e;
    }
  }
}

beforeAll(async () => {
  parent = serveOn(async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/token") {
      const t = await mintViewerToken(TOKEN_SECRET, { sub: "emma", name: "Emma" }, TOKEN_TTL_S);
      minted.push(t);
      return new Response(t);
    }
    return new Response(parentPage(`${hubbubOrigin}/embed/${SLUG}?parts=poll,chat,reactions,viewers`), { headers: { "content-type": "text/html; charset=utf-8" } });
  });
  stranger = serveOn(() => new Response(parentPage(`${hubbubOrigin}/embed/${SLUG}`), { headers: { "content-type": "text/html; charset=utf-8" } }));
  s = await startChatServer({ env: { HUBBUB_EMBED_ORIGINS: `http://127.0.0.1:${parent.port}` } });
  hubbubOrigin = s.http;
  await s.createStream(SLUG);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await s?.dispose();
  parent?.stop(true);
  stranger?.stop(true);
});

const expOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()).exp as number;

test("token by postMessage, refreshed before expiry without dropping the socket, used on the next reconnect; guest once none is left", async () => {
  const w = await openPage(browser, `http://127.0.0.1:${parent.port}/`);
  const { page } = w;
  const embed = page.frameLocator("#chat");
  await embed.locator('body[data-conn="live"][data-identity="viewer"]').waitFor({ timeout: 20_000 });
  expect(await embed.locator(".identity").textContent()).toContain("Chatting as Emma");
  // One socket, opened with the token the parent sent.
  const sent = () => page.evaluate(() => (window as unknown as { sent: string[] }).sent);
  const first = (await sent())[0]!;
  expect(w.sockets).toHaveLength(1);
  expect(w.sockets[0]!.url()).toContain(`token=${first}`);

  // Signed in for real: Emma chats from the embed.
  await embed.locator("#chat-input").fill("hello from the embed");
  await embed.locator("#chat-input").press("Enter");
  await waitMessage(embed, (m) => m.who === "Emma" && m.body === "hello from the embed" && m.seq !== null, "Emma's message");
  // Someone else answers, and a poll opens: what a viewer of the platform sees beside its player.
  const other = viewer(s.ws, await s.token("sam", { name: "Sam" }));
  try {
    await (await other.join(`stream:${SLUG}`)).publish("@Emma welcome 👋");
    await waitMessage(embed, (m) => m.who === "Sam" && m.classes.includes("mention"), "Sam's mention of Emma");
  } finally {
    other.close();
  }
  expect((await s.api("POST", `/api/v1/streams/${SLUG}/polls`, { question: "Stay for the second half?", options: ["Yes", "No"], duration_s: 120 })).status).toBe(201);
  await embed.locator(".poll:not([hidden])").waitFor();
  await screenshot(page, "viewer-embed-in-parent");

  // Before the first token expires, the embed asks for a fresh one; the socket stays as it is.
  await waitFor("a second token handed over", async () => (await sent()).length >= 2, 20_000);
  expect(Date.now() / 1000).toBeLessThan(expOf(first));
  expect(w.sockets).toHaveLength(1);
  expect(w.sockets[0]!.isClosed()).toBe(false);

  // The next reconnect (the server drops every socket) uses the freshest token.
  s.app.hub.closeAll(1012, "test: reconnect");
  await waitFor("a second socket", () => w.sockets.length >= 2, 20_000);
  const latest = (await sent()).at(-1)!;
  expect(latest).not.toBe(first);
  expect(w.sockets[1]!.url()).toContain(`token=${latest}`);
  await embed.locator('body[data-conn="live"][data-identity="viewer"]').waitFor({ timeout: 20_000 });

  // The parent stops answering; once the last token has expired, a reconnect is a guest.
  await page.evaluate(() => ((window as unknown as { answering: boolean }).answering = false));
  const lastExp = expOf((await sent()).at(-1)!);
  await waitFor("the last token to expire", () => Date.now() / 1000 > lastExp + 0.5, (TOKEN_TTL_S + 5) * 1000);
  const n = w.sockets.length;
  s.app.hub.closeAll(1012, "test: reconnect");
  await waitFor("another socket", () => w.sockets.length > n, 20_000);
  expect(w.sockets.at(-1)!.url()).not.toContain("token=");
  await embed.locator('body[data-conn="live"][data-identity="guest"]').waitFor({ timeout: 20_000 });
  expect(await embed.locator(".identity").textContent()).toContain("guest");
  expect(await embed.locator("#chat-input").isDisabled()).toBe(true);
  // Emma's message is still there: the guest rejoin recovered from where the page was.
  expect((await shownMessages(embed)).filter((m) => m.body === "hello from the embed")).toHaveLength(1);
  expect(await page.evaluate(() => (window as unknown as { requests: number }).requests)).toBeGreaterThanOrEqual(3);
  expect(w.errors).toEqual([]);
  await page.close();
});

test("a page on an origin not in HUBBUB_EMBED_ORIGINS cannot frame the embed", async () => {
  const w = await openPage(browser, `http://127.0.0.1:${stranger.port}/`);
  const frame = await waitFor("the iframe", () => w.page.frames().find((f) => f !== w.page.mainFrame()));
  await waitFor("the iframe refused or loaded", async () => frame.url() !== "about:blank" && frame.url() !== "", 15_000);
  expect(await frame.locator("body[data-mode]").count()).toBe(0);
  expect(w.sockets).toHaveLength(0);
  expect(w.errors.some((e) => e.includes("frame-ancestors"))).toBe(true);
  await w.page.close();
});
