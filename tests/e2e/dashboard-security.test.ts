// Dashboard security: sessions (argon2id login, HttpOnly + SameSite cookie, logout ends the
// session), CSRF (every state change needs the session's token AND a same-origin request; a
// cross-site POST from a real browser page is refused with 403 and changes nothing), roles (a
// moderator cannot open admin pages or streams they do not moderate), and the headers (a strict
// CSP whose fresh nonce is on every <script>, no framing, nosniff).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { readSqlite, removeDir, freePortCandidate, type TestServer } from "../support/server.ts";
import { viewer } from "../support/chat.ts";
import { ADMIN_PASSWORD, assignModerator, browserWith, createAccount, loginInBrowser, loginOverHttp, PASSWORD, startDashboardServer, type HttpSession } from "../support/dashboard.ts";

let s: TestServer;
let browser: Browser;
let admin: HttpSession;
let creator: HttpSession;
let mod: HttpSession;

beforeAll(async () => {
  s = await startDashboardServer();
  await createAccount(s, "carla", "creator");
  await createAccount(s, "other-creator", "creator");
  await createAccount(s, "moana", "moderator");
  await s.api("POST", "/api/v1/streams", { slug: "carla-show", title: "Carla's show", owner: "carla" });
  await s.api("POST", "/api/v1/streams", { slug: "other-show", title: "Other show", owner: "other-creator" });
  await assignModerator(s, "carla-show", "moana");
  admin = await loginOverHttp(s, "admin", ADMIN_PASSWORD);
  creator = await loginOverHttp(s, "carla", PASSWORD);
  mod = await loginOverHttp(s, "moana", PASSWORD);
  browser = (await browserWith()).browser;
});

afterAll(async () => {
  await browser?.close();
  await s?.stop();
  if (s) removeDir(s.dataDir);
});

async function streamExists(slug: string): Promise<boolean> {
  return (await s.api("GET", `/api/v1/streams/${slug}`)).status === 200;
}

test("pages need a session; a wrong password is refused; the cookie is HttpOnly and SameSite=Lax", async () => {
  const anon = await fetch(`${s.http}/dashboard/streams/carla-show`, { redirect: "manual" });
  expect(anon.status).toBe(303);
  expect(anon.headers.get("location")).toBe("/dashboard/login?next=%2Fdashboard%2Fstreams%2Fcarla-show");
  const form = { "content-type": "application/x-www-form-urlencoded", origin: s.http, "sec-fetch-site": "same-origin" };
  const wrong = await fetch(`${s.http}/dashboard/login`, { method: "POST", redirect: "manual", headers: form, body: "username=carla&password=not-the-password" });
  expect(wrong.status).toBe(401);
  expect(wrong.headers.get("set-cookie")).toBeNull();
  const ok = await fetch(`${s.http}/dashboard/login`, { method: "POST", redirect: "manual", headers: form, body: `username=carla&password=${encodeURIComponent(PASSWORD)}&next=${encodeURIComponent("https://evil.example/")}` });
  expect(ok.status).toBe(303);
  expect(ok.headers.get("location")).toBe("/dashboard"); // never an outside URL
  const cookie = ok.headers.get("set-cookie")!;
  expect(cookie).toMatch(/^hubbub_session=[A-Za-z0-9_-]{40,}; /);
  expect(cookie).toContain("HttpOnly");
  expect(cookie).toContain("SameSite=Lax");
  expect(cookie).toContain("Path=/");
  // An htmx request without a session is told to go to the login page.
  const hx = await fetch(`${s.http}/dashboard/streams/carla-show/viewer?id=x`, { headers: { "hx-request": "true" } });
  expect(hx.status).toBe(401);
  expect(hx.headers.get("hx-redirect")).toBe("/dashboard/login");
});

test("a state change needs the session's CSRF token and a same-origin source, else 403 and nothing changes", async () => {
  // The same request is accepted with everything in place (the control).
  const good = await creator.post("/dashboard/streams", { slug: "csrf-ok", title: "ok" });
  expect(good.status).toBe(201);
  expect(await streamExists("csrf-ok")).toBe(true);

  const cases: Array<[string, Record<string, string>]> = [
    ["cross-site fetch metadata", { "sec-fetch-site": "cross-site", origin: "http://evil.example" }],
    ["same-site (another subdomain)", { "sec-fetch-site": "same-site", origin: "http://evil.127.0.0.1.nip.io" }],
    ["a foreign Origin without fetch metadata", { "sec-fetch-site": "", origin: "http://evil.example" }],
    ["no Origin and no fetch metadata", { "sec-fetch-site": "", origin: "" }],
    ["no CSRF token", { "x-csrf-token": "" }],
    ["another session's CSRF token", { "x-csrf-token": mod.csrf }],
  ];
  for (const [name, headers] of cases) {
    const slug = `csrf-${name.replace(/[^a-z]+/g, "-").slice(0, 40)}`;
    // fetch drops empty-valued headers from the request entirely, which is what we want here.
    const clean = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== ""));
    const res = await fetch(`${s.http}/dashboard/streams`, {
      method: "POST",
      redirect: "manual",
      headers: {
        "content-type": "application/x-www-form-urlencoded", "hx-request": "true", cookie: creator.cookie,
        ...("sec-fetch-site" in headers ? {} : { "sec-fetch-site": "same-origin" }),
        ...("origin" in headers ? {} : { origin: s.http }),
        ...("x-csrf-token" in headers ? {} : { "x-csrf-token": creator.csrf }),
        ...clean,
      },
      body: new URLSearchParams({ slug, title: name }).toString(),
    });
    expect({ name, status: res.status }).toEqual({ name, status: 403 });
    expect({ name, created: await streamExists(slug) }).toEqual({ name, created: false });
  }
  // Logout is a state change too: refused cross-site, the session still works afterwards.
  const lo = await creator.post("/dashboard/logout", {}, { "sec-fetch-site": "cross-site", origin: "http://evil.example" });
  expect(lo.status).toBe(403);
  expect((await creator.get("/dashboard")).status).toBe(200);
});

test("a cross-site form POST from a real browser page is refused with 403", async () => {
  // The attacker's page is on another site (localhost vs 127.0.0.1) and auto-submits a form.
  let evil: ReturnType<typeof Bun.serve> | null = null;
  for (let i = 0; i < 20 && !evil; i++) {
    try {
      evil = Bun.serve({
        port: freePortCandidate(),
        hostname: "127.0.0.1",
        fetch: () =>
          new Response(`<!doctype html><form id="f" method="post" action="${s.http}/dashboard/streams"><input name="slug" value="evil-stream"><input name="title" value="pwned"></form>`, { headers: { "content-type": "text/html" } }),
      });
    } catch {}
  }
  try {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await loginInBrowser(page, s.http, "carla", PASSWORD); // the victim is logged in
    await page.goto(`http://localhost:${evil!.port}/`);
    const [res] = await Promise.all([page.waitForResponse((r) => r.url() === `${s.http}/dashboard/streams`), page.evaluate(() => (document.getElementById("f") as HTMLFormElement).submit())]);
    expect(res.status()).toBe(403);
    expect(await streamExists("evil-stream")).toBe(false);
    await ctx.close();
  } finally {
    evil?.stop(true);
  }
});

test("roles: a moderator cannot open admin pages, settings, or streams they do not moderate", async () => {
  // In a real browser: the accounts page answers 403 to a moderator, 200 to an admin.
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await loginInBrowser(page, s.http, "moana", PASSWORD);
  const res = await page.goto(`${s.http}/dashboard/accounts`);
  expect(res?.status()).toBe(403);
  expect(await page.locator("h1").innerText()).toBe("Admins only");
  expect(await page.locator(".mainnav").innerText()).not.toContain("Accounts");
  await ctx.close();
  expect((await admin.get("/dashboard/accounts")).status).toBe(200);

  const code = async (sess: HttpSession, path: string) => (await sess.get(path)).status;
  expect(await code(mod, "/dashboard/streams/carla-show")).toBe(200); // assigned
  expect(await code(mod, "/dashboard/streams/carla-show/settings")).toBe(403); // owner's page
  expect(await code(mod, "/dashboard/streams/carla-show/analytics")).toBe(403);
  expect(await code(mod, "/dashboard/streams/other-show")).toBe(403); // not assigned
  expect(await code(mod, "/dashboard/streams/other-show/events")).toBe(403);
  expect(await code(creator, "/dashboard/streams/other-show")).toBe(403); // another creator's
  expect(await code(creator, "/dashboard/streams/carla-show/settings")).toBe(200);
  expect(await code(admin, "/dashboard/streams/other-show/settings")).toBe(200);
  // State changes follow the same rules.
  expect((await mod.post("/dashboard/accounts", { username: "sneaky", password: "long enough pw", role: "admin" })).status).toBe(403);
  expect(await code(mod, "/dashboard/accounts/moana")).toBe(403); // not even their own
  expect(await code(creator, "/dashboard/accounts/carla")).toBe(403);
  expect((await mod.post("/dashboard/accounts/moana", { role: "admin", viewer_id: "" })).status).toBe(403);
  // Revoking and erasing a viewer (every stream): admins only, with the CSRF token.
  for (const path of ["/dashboard/viewers/revoke", "/dashboard/viewers/erase"]) {
    for (const sess of [mod, creator]) expect({ path, status: (await sess.post(path, { id: "sec-target" })).status }).toEqual({ path, status: 403 });
    expect({ path, status: (await admin.post(path, { id: "sec-target" }, { "x-csrf-token": "not-the-token" })).status }).toEqual({ path, status: 403 });
  }
  expect(readSqlite<{ n: number }>(s.dataDir, "SELECT count(*) AS n FROM audit_log WHERE target_id = 'sec-target'")[0]!.n).toBe(0);
  expect((await creator.post("/dashboard/accounts/carla", { role: "admin", viewer_id: "" })).status).toBe(403);
  expect((await mod.post("/dashboard/streams", { slug: "mod-stream", title: "x" })).status).toBe(403);
  expect((await mod.post("/dashboard/streams/carla-show/live", {})).status).toBe(403);
  expect((await mod.post("/dashboard/streams/other-show/moderate", { action: "ban", user_id: "v1" })).status).toBe(403);
  expect((await creator.post("/dashboard/streams/other-show/settings", { title: "mine now" })).status).toBe(403);
  const accounts = (await s.api("GET", "/api/v1/accounts?limit=1000")).body.data;
  expect(accounts.map((a: any) => a.username)).not.toContain("sneaky");
  expect(accounts.filter((a: any) => a.role === "admin").map((a: any) => a.username)).toEqual(["admin"]);
  // The moderator's list holds only the stream they moderate.
  const list = await (await mod.get("/dashboard")).text();
  expect(list).toContain("carla-show");
  expect(list).not.toContain("other-show");
});

test("every page sends a strict CSP with a fresh nonce, and every <script> carries it", async () => {
  const nonces = new Set<string>();
  for (const [sess, path] of [[null, "/dashboard/login"], [admin, "/dashboard"], [admin, "/dashboard/streams/carla-show"], [admin, "/dashboard/streams/carla-show/settings"], [admin, "/dashboard/accounts"]] as const) {
    const res = sess ? await sess.get(path) : await fetch(`${s.http}${path}`);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy")!;
    const nonce = /script-src 'nonce-([A-Za-z0-9_-]{20,})'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
    nonces.add(nonce!);
  }
  expect(nonces.size).toBe(5);
});

test("logout deletes the session: the old cookie no longer opens anything", async () => {
  const sess = await loginOverHttp(s, "carla", PASSWORD);
  expect((await sess.get("/dashboard")).status).toBe(200);
  const out = await sess.post("/dashboard/logout", {});
  expect(out.status).toBe(200);
  expect(out.headers.get("hx-redirect")).toBe("/dashboard/login");
  expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
  const after = await sess.get("/dashboard");
  expect(after.status).toBe(303);
  expect(after.headers.get("location")).toContain("/dashboard/login");
  // The other sessions of the same account are untouched.
  expect((await creator.get("/dashboard")).status).toBe(200);
});

// Regressions from the security review.
test("a new password ends every dashboard session of that account at once", async () => {
  await createAccount(s, "pat", "creator");
  const one = await loginOverHttp(s, "pat", PASSWORD);
  const two = await loginOverHttp(s, "pat", PASSWORD);
  expect((await one.get("/dashboard")).status).toBe(200);
  expect((await s.api("PATCH", "/api/v1/accounts/pat", { password: "a brand new password" })).status).toBe(200);
  for (const sess of [one, two]) {
    const r = await sess.get("/dashboard");
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toContain("/dashboard/login");
  }
  const fresh = await loginOverHttp(s, "pat", "a brand new password");
  expect((await fresh.get("/dashboard")).status).toBe(200);
});

test("a control character in `next` is ignored, never a 500", async () => {
  const sess = await loginOverHttp(s, "carla", PASSWORD);
  const r = await sess.get("/dashboard/login?next=/dashboard/%00x");
  expect(r.status).toBe(303);
  expect(r.headers.get("location")).toContain("/dashboard");
  expect(r.headers.get("location")).not.toContain("\u0000");
});

test("an admin changing their own account: a new password logs them out; without the admin role the admin pages refuse", async () => {
  await createAccount(s, "ada", "admin");
  const sess = await loginOverHttp(s, "ada", PASSWORD);
  const out = await sess.post("/dashboard/accounts/ada", { role: "admin", viewer_id: "", password: "ada's new password" });
  expect(out.status).toBe(200);
  expect(out.headers.get("hx-redirect")).toBe("/dashboard/login");
  expect((await sess.get("/dashboard")).status).toBe(303); // that session ended
  const again = await loginOverHttp(s, "ada", "ada's new password");
  const demoted = await again.post("/dashboard/accounts/ada", { role: "creator", viewer_id: "" });
  expect(demoted.headers.get("hx-redirect")).toBe("/dashboard");
  expect((await again.get("/dashboard")).status).toBe(200); // still logged in, as a creator
  expect((await again.get("/dashboard/accounts")).status).toBe(403);
});

describe("a dashboard session calls the JSON API (PRODUCT.md), with the dashboard's rules", () => {
  /** An API call with the session's cookie; state changes carry the CSRF token and come from our origin unless told. */
  const call = (sess: HttpSession, method: string, path: string, body?: unknown, o: { csrf?: boolean; site?: string } = {}) =>
    fetch(`${s.http}${path}`, {
      method,
      headers: {
        cookie: sess.cookie, "content-type": "application/json", "sec-fetch-site": o.site ?? "same-origin", origin: s.http,
        ...(o.csrf === false ? {} : { "x-csrf-token": sess.csrf }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  test("each role reaches what the dashboard lets it reach, on its own streams only", async () => {
    const status = async (sess: HttpSession, method: string, path: string, body?: unknown) => (await call(sess, method, path, body)).status;
    // Moderators: moderation routes of the streams they moderate.
    expect(await status(mod, "GET", "/api/v1/streams/carla-show/chat")).toBe(200);
    expect(await status(mod, "GET", "/api/v1/streams/other-show/chat")).toBe(403);
    expect(await status(mod, "GET", "/api/v1/streams/carla-show/analytics/live")).toBe(403); // not their scope
    expect(await status(mod, "PATCH", "/api/v1/streams/carla-show", { title: "mod title" })).toBe(403);
    // Creators: their own streams, every scope but admin.
    expect(await status(creator, "GET", "/api/v1/streams/carla-show/audit")).toBe(200);
    expect(await status(creator, "GET", "/api/v1/streams/carla-show/analytics/live")).toBe(200);
    expect(await status(creator, "GET", "/api/v1/streams/other-show/audit")).toBe(403);
    expect(await status(creator, "PATCH", "/api/v1/streams/other-show", { title: "mine now" })).toBe(403);
    expect(await status(creator, "GET", "/api/v1/streams/no-such-show/chat")).toBe(404);
    // The streams list: the ones the account may see, as on the dashboard.
    const listed = async (sess: HttpSession) => ((await (await call(sess, "GET", "/api/v1/streams?limit=1")).json()) as any);
    const first = await listed(mod);
    expect(first.data.map((x: any) => x.slug)).toEqual(["carla-show"]);
    expect(first.next_cursor).toBeNull();
    const mine = (await (await call(creator, "GET", "/api/v1/streams?limit=1000")).json()) as any;
    expect(mine.data.map((x: any) => x.slug)).not.toContain("other-show");
    expect(mine.data.map((x: any) => x.slug)).toContain("carla-show");
    // Admin routes: API keys and admins only.
    for (const [m, p] of [["GET", "/api/v1/accounts"], ["POST", "/api/v1/viewers/v1/revoke"]] as const) {
      expect({ p, status: await status(creator, m, p) }).toEqual({ p, status: 403 });
    }
    // As on the dashboard: a creator creates streams they own, and assigns their moderators.
    expect(await status(creator, "POST", "/api/v1/streams", { slug: "carla-api", title: "Made over the API" })).toBe(201);
    expect((await s.api("GET", "/api/v1/streams/carla-api")).body.owner).toBe("carla");
    expect(await status(creator, "POST", "/api/v1/streams", { slug: "carla-gift", title: "x", owner: "other-creator" })).toBe(403);
    expect(await status(mod, "POST", "/api/v1/streams", { slug: "mod-api", title: "x" })).toBe(403);
    expect(await status(creator, "PUT", "/api/v1/streams/carla-api/moderators/moana")).toBe(200);
    expect(await status(creator, "PUT", "/api/v1/streams/other-show/moderators/moana")).toBe(403);
    expect(await status(mod, "PUT", "/api/v1/streams/carla-show/moderators/moana")).toBe(403);
    expect(await status(creator, "DELETE", "/api/v1/streams/carla-api/moderators/moana")).toBe(200);
    expect(await status(admin, "GET", "/api/v1/accounts")).toBe(200);
    expect(await status(admin, "GET", "/api/v1/streams/other-show/audit")).toBe(200);
    expect((await fetch(`${s.http}/api/v1/streams/carla-show/chat`)).status).toBe(401); // no key, no session
  });

  test("a state change is audited as the account, and needs the CSRF token and our origin", async () => {
    const r = await call(creator, "PATCH", "/api/v1/streams/carla-show", { title: "Carla's show, retitled" });
    expect(r.status).toBe(200);
    const audit = (await s.api("GET", "/api/v1/streams/carla-show/audit?action=stream.update")).body.data;
    const carla = (await s.api("GET", "/api/v1/accounts?limit=1000")).body.data.find((a: any) => a.username === "carla");
    expect(audit[0].actor).toEqual({ type: "account", id: carla.id });
    const noToken = await call(creator, "PATCH", "/api/v1/streams/carla-show", { title: "no token" }, { csrf: false });
    expect([noToken.status, (await noToken.json()).error.code]).toEqual([403, "forbidden"]);
    expect((await call(creator, "PATCH", "/api/v1/streams/carla-show", { title: "cross-site" }, { site: "cross-site" })).status).toBe(403);
    expect((await s.api("GET", "/api/v1/streams/carla-show")).body.title).toBe("Carla's show, retitled");
    // Reads need no token (GET changes nothing).
    expect((await call(mod, "GET", "/api/v1/streams/carla-show/chat", undefined, { csrf: false })).status).toBe(200);
  });

  test("review items: a moderator decides their stream's, not another's, and not an escalated one", async () => {
    const v = viewer(s.ws, await s.token("sec-linker"));
    try {
      const ch = await v.join("stream:carla-show");
      const a = await ch.publish("see example.com");
      const b = await ch.publish("and example.org");
      expect([a.status, b.status]).toEqual(["held", "held"]);
      expect((await s.api("POST", `/api/v1/review-queue/${b.held_id}/escalate`, {})).status).toBe(200);
      expect((await call(mod, "POST", `/api/v1/review-queue/${b.held_id}/approve`, {})).status).toBe(403);
      expect((await call(mod, "POST", `/api/v1/review-queue/${a.held_id}/deny`, {})).status).toBe(200);
      expect((await call(admin, "POST", `/api/v1/review-queue/${b.held_id}/deny`, {})).status).toBe(200);
      const other = await createAccount(s, "otto", "moderator");
      await assignModerator(s, "other-show", "otto");
      const otto = await loginOverHttp(s, "otto", PASSWORD);
      expect(other).toBeTruthy();
      const c = await ch.publish("one more at example.net");
      expect((await call(otto, "POST", `/api/v1/review-queue/${c.held_id}/deny`, {})).status).toBe(403); // not their stream
    } finally {
      v.socket.disconnect();
    }
  });
});
