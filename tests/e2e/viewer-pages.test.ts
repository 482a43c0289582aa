// The viewer pages as HTTP resources and in a browser: strict CSP with a fresh nonce per response
// (no inline handlers, no inline scripts), frame-ancestors 'none' for /watch and the embed origins
// for /embed and /overlay, nosniff; content-hashed script and stylesheet with a year-long immutable
// cache and gzip; the vendored hls.js equal to the installed package; unknown streams 404; text from
// the stream escaped; ?parts picks the embed's parts; the video plays MP4 natively and HLS through
// hls.js (loaded only then, from our own origin), with a placeholder when there is no playback URL;
// a phone-sized page fits its width; reactions and chat work from the keyboard; a token the
// server refuses or revokes leaves the page a guest instead of locked out.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "bun";
import type { Browser } from "playwright-core";
import { mintViewerToken } from "../../src/identity/viewer-token.ts";
import { launchBrowser } from "../support/browser.ts";
import { startChatServer, viewer, type ChatServer, type Viewer } from "../support/chat.ts";
import { REPO } from "../support/process-server.ts";
import { freePortCandidate } from "../support/server.ts";
import { openPage, screenshot, waitLive, waitMessage } from "../support/viewer.ts";
import { waitFor } from "../support/wait.ts";

setDefaultTimeout(60_000);
const EMBED_ORIGINS = "https://platform.example,https://other.example:8443";
let s: ChatServer;
let browser: Browser;
let media: Server<unknown>;
const mediaHits: Array<{ path: string; origin: string | null }> = [];
const bots: Viewer[] = [];

beforeAll(async () => {
  s = await startChatServer({ env: { HUBBUB_EMBED_ORIGINS: EMBED_ORIGINS } });
  await s.createStream("pages");
  await s.createStream("vid");
  for (let attempt = 0; !media; attempt++) {
    try {
      // A stand-in video origin: an MP4 (any bytes) and an HLS playlist with one segment.
      media = Bun.serve({
        hostname: "127.0.0.1",
        port: freePortCandidate(),
        fetch(req) {
          const path = new URL(req.url).pathname;
          mediaHits.push({ path, origin: req.headers.get("origin") });
          const cors = { "access-control-allow-origin": "*" };
          if (path === "/live.m3u8") {
            return new Response("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:4.0,\nseg0.ts\n", { headers: { ...cors, "content-type": "application/vnd.apple.mpegurl" } });
          }
          return new Response(new Uint8Array(188), { headers: { ...cors, "content-type": path.endsWith(".mp4") ? "video/mp4" : "video/mp2t" } });
        },
      });
    } catch (e) {
      if (attempt > 20) throw e;
    }
  }
  browser = await launchBrowser();
});
afterAll(async () => {
  for (const b of bots) b.close();
  await browser?.close();
  await s?.dispose();
  media?.stop(true);
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(s.http + path, { headers });
  return { res, text: await res.text() };
}

test("strict CSP with a fresh nonce, no inline handlers, framing rules, nosniff, no caching of pages", async () => {
  const a = await get("/watch/pages");
  const b = await get("/watch/pages");
  expect(a.res.status).toBe(200);
  const policy = a.res.headers.get("content-security-policy")!;
  const nonce = /'nonce-([^']+)'/.exec(policy)![1]!;
  expect(policy).toContain(`script-src 'nonce-${nonce}' 'strict-dynamic'`);
  expect(policy).toContain("default-src 'none'");
  expect(policy).toContain("style-src 'self'");
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).not.toContain("unsafe-inline");
  expect(policy).not.toContain("unsafe-eval");
  expect(b.res.headers.get("content-security-policy")).not.toContain(nonce);
  expect(a.res.headers.get("x-frame-options")).toBe("DENY");
  expect(a.res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(a.res.headers.get("cache-control")).toBe("no-store");
  // Every script carries the nonce and a src; no inline event handler anywhere.
  const scripts = [...a.text.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
  expect(scripts.length).toBe(1);
  for (const tag of scripts) {
    expect(tag).toContain(`nonce="${nonce}"`);
    expect(tag).toMatch(/\ssrc="\/viewer\/assets\/viewer-[\w-]{12}\.js"/);
  }
  expect(a.text).not.toMatch(/\son[a-z]+\s*=/i);
  expect(a.text).not.toMatch(/\sstyle\s*=/i);

  for (const path of ["/embed/pages", "/overlay/pages"]) {
    const r = await get(path);
    expect(r.res.status).toBe(200);
    expect(r.res.headers.get("content-security-policy")).toContain("frame-ancestors https://platform.example https://other.example:8443");
    expect(r.res.headers.get("x-frame-options")).toBeNull();
    expect(r.res.headers.get("x-content-type-options")).toBe("nosniff");
  }
  // The embed page learns the origins it may take tokens from.
  expect((await get("/embed/pages")).text).toContain('data-embed-origins="https://platform.example https://other.example:8443"');
});

test("unknown streams are a 404 page; stream text is escaped", async () => {
  for (const path of ["/watch/nope", "/embed/nope", "/overlay/nope", "/watch/BAD!slug"]) {
    const r = await get(path);
    expect(r.res.status).toBe(404);
    expect(r.text).toContain("No such stream");
  }
  const title = `<script>alert(1)</script> & "quotes"`;
  expect((await s.api("PATCH", "/api/v1/streams/pages", { title })).status).toBe(200);
  const r = await get("/watch/pages");
  expect(r.text).not.toContain("<script>alert(1)");
  expect(r.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;");
  const w = await openPage(browser, `${s.http}/watch/pages`);
  await waitLive(w.page);
  expect(await w.page.locator("h1.title").textContent()).toBe(title);
  expect(await w.page.title()).toBe(`${title} · Hubbub`);
  expect(w.errors).toEqual([]);
  await w.page.close();
});

test("?parts picks the embed's parts; the embed never has video", async () => {
  const only = (await get("/embed/pages?parts=chat")).text;
  expect(only).toContain('class="chat"');
  expect(only).not.toContain('class="reactions"');
  expect(only).not.toContain('class="poll"');
  expect(only).not.toContain('class="viewers"');
  const some = (await get("/embed/pages?parts=poll,reactions,video")).text;
  expect(some).toContain('class="poll"');
  expect(some).toContain('class="reactions"');
  expect(some).not.toContain('class="chat"');
  expect(some).not.toContain('class="stage"');
  const fallback = (await get("/embed/pages?parts=nonsense")).text; // nothing known: the defaults
  for (const part of ['class="chat"', 'class="reactions"', 'class="poll"', 'class="viewers"']) expect(fallback).toContain(part);
  const overlay = (await get("/overlay/pages")).text;
  expect(overlay).not.toContain('class="chat"');
  expect(overlay).toContain('class="burst"');
});

test("assets: hashed names, immutable cache, gzip; the vendored hls.js is the installed one", async () => {
  const html = (await get("/watch/pages")).text;
  const script = /src="(\/viewer\/assets\/viewer-[\w-]+\.js)"/.exec(html)![1]!;
  const style = /href="(\/viewer\/assets\/viewer-[\w-]+\.css)"/.exec(html)![1]!;
  const hls = /data-hls="([^"]+)"/.exec(html)![1]!;
  for (const path of [script, style, hls]) {
    const plain = await fetch(s.http + path, { headers: { "accept-encoding": "identity" } });
    expect(plain.status).toBe(200);
    expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(plain.headers.get("x-content-type-options")).toBe("nosniff");
    expect(plain.headers.get("content-encoding")).toBeNull();
    const raw = new Uint8Array(await plain.arrayBuffer());
    const gz = await fetch(s.http + path, { headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    const zipped = new Uint8Array(await gz.arrayBuffer());
    expect(Bun.gunzipSync(zipped)).toEqual(raw);
    if (path === script) {
      expect(plain.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
      console.log(`page script ${path}: ${raw.byteLength} bytes, ${zipped.byteLength} gzipped`);
      // Small: our code plus the phoenix client, no framework.
      expect(raw.byteLength).toBeLessThan(80 * 1024);
    }
    if (path === style) console.log(`stylesheet: ${raw.byteLength} bytes, ${zipped.byteLength} gzipped`);
  }
  expect((await fetch(`${s.http}/viewer/assets/viewer-000000000000.js`)).status).toBe(404);
  // hls.js: copied verbatim, its version in the name equal to the installed package's.
  const version = JSON.parse(readFileSync(join(REPO, "node_modules/hls.js/package.json"), "utf8")).version;
  expect(hls).toBe(`/viewer/assets/hls.light-${version}.min.js`);
  expect(JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).devDependencies["hls.js"]).toBe(version);
  const served = new Uint8Array(await (await fetch(s.http + hls)).arrayBuffer());
  expect(served).toEqual(new Uint8Array(readFileSync(join(REPO, "node_modules/hls.js/dist/hls.light.min.js"))));
});

test("video: a placeholder without a playback URL, MP4 natively, HLS through hls.js", async () => {
  const w = await openPage(browser, `${s.http}/watch/vid`);
  const { page } = w;
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  await waitLive(page);
  expect(await page.locator(".player .placeholder").textContent()).toContain("No video right now");
  expect(await page.locator("video").count()).toBe(0);

  // A playback URL on a new origin: the page reloads itself (its CSP names the media origin) and plays it.
  const origin = `http://127.0.0.1:${media.port}`;
  const mp4 = `${origin}/movie.mp4`;
  await s.settings("vid", { playback_url: mp4 });
  await page.locator(`video[src="${mp4}"]`).waitFor({ timeout: 20_000 });
  await waitFor("the browser fetching the MP4", () => mediaHits.some((h) => h.path === "/movie.mp4"));
  expect(requests.some((u) => u.includes("hls.light"))).toBe(false); // no HLS player for an MP4
  await waitLive(page);

  // HLS on the same origin: no reload; hls.js is loaded from our origin and fetches the playlist.
  const m3u8 = `${origin}/live.m3u8`;
  await s.settings("vid", { playback_url: m3u8 });
  await waitFor("the HLS player loaded from Hubbub", () => requests.find((u) => u.startsWith(`${s.http}/viewer/assets/hls.light-`)));
  await waitFor("hls.js fetching the playlist", () => mediaHits.find((h) => h.path === "/live.m3u8" && h.origin === s.http));
  await waitFor("the video attached to a media source", () => page.locator("video").evaluate((v: HTMLVideoElement) => v.src.startsWith("blob:")));

  // No playback URL again: the placeholder.
  await s.settings("vid", { playback_url: null });
  await page.locator(".player .placeholder").waitFor();
  expect(await page.locator("video").count()).toBe(0);
  expect(w.errors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
  await page.close();
});

test("a phone: the page fits its width; reactions and chat work from the keyboard", async () => {
  const b = viewer(s.ws, await s.token("host", { name: "Host" }));
  bots.push(b);
  const ch = await b.join("stream:pages");
  await s.api("POST", "/api/v1/streams/pages/polls", { question: "Pizza or pasta?", options: ["Pizza", "Pasta"], duration_s: 120 });
  for (const text of ["welcome everyone!", "the match starts in five minutes", "@Dana glad you could make it"]) await ch.publish(text);
  const w = await openPage(browser, `${s.http}/watch/pages#token=${await s.token("dana", { name: "Dana" })}`, { viewport: { width: 390, height: 844 } });
  const { page } = w;
  await waitLive(page);
  await page.locator(".poll:not([hidden])").waitFor();
  await waitMessage(page, (m) => m.body.startsWith("@Dana"), "the messages");
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);

  // The first Tab stop is the skip link; then on to the first reaction button (a bounded walk).
  await page.keyboard.press("Tab");
  let focused = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.className ?? "");
  expect(focused).toBe("skip");
  for (let i = 0; i < 40 && !focused.startsWith("react"); i++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.className ?? "");
  }
  expect(focused).toStartWith("react");
  await page.keyboard.press("Enter");
  await page.locator('button.react .count[data-count="1"]').waitFor({ timeout: 15_000 });
  // Vote with the keyboard too: Tab on to the first poll option.
  for (let i = 0; i < 40 && focused !== "opt"; i++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.className ?? "");
  }
  expect(focused).toBe("opt");
  await page.keyboard.press("Enter");
  await page.locator(".poll .opt.chosen").waitFor();
  // Then chat: the skip link jumps to the message box.
  await page.locator(".skip").focus();
  await page.keyboard.press("Enter");
  await waitFor("focus in the message box", () => page.evaluate(() => document.activeElement?.id === "chat-input"));
  await page.keyboard.type("typed on a phone");
  await page.keyboard.press("Enter");
  await waitMessage(page, (m) => m.body === "typed on a phone" && m.seq !== null, "the typed message");
  await screenshot(page, "viewer-watch-phone", { fullPage: true });
  expect(w.errors).toEqual([]);
  await page.close();
});

test("a token the server refuses, or revokes later, leaves the page a guest, not locked out", async () => {
  // Signed with another secret: unexpired, so the page offers it; the server refuses every connect with it.
  const forged = await mintViewerToken("not-the-secret-0123456789abcdef-xyz", { sub: "mallory", name: "Mallory" }, 3600);
  const w = await openPage(browser, `${s.http}/watch/pages#token=${forged}`);
  await w.page.locator('body[data-conn="live"][data-identity="guest"]').waitFor({ timeout: 30_000 });
  expect(w.sockets[0]!.url()).toContain("token=");
  expect(w.sockets.at(-1)!.url()).not.toContain("token=");
  await w.page.close();

  // Revoked while connected: the server closes with 1008; the page comes back as a guest.
  const r = await openPage(browser, `${s.http}/watch/pages#token=${await s.token("rita", { name: "Rita" })}`);
  await r.page.locator('body[data-conn="live"][data-identity="viewer"]').waitFor({ timeout: 20_000 });
  expect((await s.api("POST", "/api/v1/viewers/rita/revoke")).status).toBe(200);
  await r.page.locator('body[data-conn="live"][data-identity="guest"]').waitFor({ timeout: 30_000 });
  expect(r.sockets.at(-1)!.url()).not.toContain("token=");
  expect(await r.page.locator(".identity").textContent()).toContain("guest");
  await r.page.close();
});
