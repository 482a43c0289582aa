// Admin and settings pages in a real browser: the stream settings form shows the domain's
// validation errors next to their fields (and saves nothing), then saves a valid change; an admin
// creates an account from the accounts page (errors next to the field first) and changes one (role,
// linked viewer id, a new password that ends that account's sessions; the bootstrap admin keeps its
// role); the streams list shows a stream's state. Every form is labelled and reachable from the keyboard.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { removeDir, type TestServer } from "../support/server.ts";
import { ADMIN_PASSWORD, ARTIFACTS, browserWith, createAccount, consoleErrors, cspViolations, loginInBrowser, startDashboardServer, watch, type PageProblems } from "../support/dashboard.ts";

let s: TestServer;
let browser: Browser;
let page: Page;
let problems: PageProblems;

beforeAll(async () => {
  s = await startDashboardServer();
  await s.api("POST", "/api/v1/streams", { slug: "settings-show", title: "Settings show" });
  await s.api("POST", "/api/v1/streams", { slug: "live-show", title: "Already live" });
  await s.api("POST", "/api/v1/streams/live-show/live");
  browser = (await browserWith()).browser;
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  problems = watch(page);
  await loginInBrowser(page, s.http, "admin", ADMIN_PASSWORD);
});

afterAll(async () => {
  await browser?.close();
  await s?.stop();
  if (s) removeDir(s.dataDir);
});

test("the streams list shows each stream's state", async () => {
  const live = page.locator(".stream-card", { hasText: "Already live" });
  expect(await live.locator(".pill-live").count()).toBe(1);
  expect(await page.locator(".stream-card", { hasText: "Settings show" }).locator(".pill-offline").count()).toBe(1);
  await page.screenshot({ path: `${ARTIFACTS}/dashboard-streams.png`, fullPage: true });
});

test("settings: errors appear next to their fields and nothing is saved; a valid change is saved", async () => {
  await page.goto(`${s.http}/dashboard/streams/settings-show/settings`);
  await page.getByLabel("Slow mode (seconds)").fill("2");
  await page.getByLabel("Reaction emoji").fill("❤️ not-an-emoji");
  await page.getByLabel("Playback URL").fill("ftp://example.com/live.m3u8");
  await page.getByRole("button", { name: "Save settings" }).click();
  const slow = page.getByLabel("Slow mode (seconds)");
  await page.locator("#f-slow_mode_s-error").waitFor({ timeout: 15_000 });
  expect(await page.locator("#f-slow_mode_s-error").innerText()).toContain("3 to 120");
  expect(await slow.getAttribute("aria-invalid")).toBe("true");
  expect(await slow.getAttribute("aria-describedby")).toContain("f-slow_mode_s-error");
  expect(await slow.inputValue()).toBe("2"); // what was typed stays
  expect(await page.locator("#f-reactions-error").innerText()).toContain("emoji");
  expect(await page.locator("#f-playback_url-error").innerText()).toContain("http");
  expect(await page.locator("#settings-form .notice-error").innerText()).toContain("Nothing was saved");
  await slow.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${ARTIFACTS}/dashboard-settings-errors.png` });
  expect((await s.api("GET", "/api/v1/streams/settings-show")).body.settings.slow_mode_s).toBe(0);

  await slow.fill("5");
  await page.getByLabel("Reaction emoji").fill("🔥 🎉");
  await page.getByLabel("Playback URL").fill("https://cdn.example.com/live/index.m3u8");
  await page.getByLabel("Emote only").check();
  await page.getByLabel("Automod level").selectOption("3");
  await page.getByLabel("Blocked terms").fill("spoiler*\nbadword");
  // Submitting from the keyboard works as well as clicking.
  await page.getByLabel("Reaction emoji").press("Enter");
  await page.locator("#settings-form .notice-ok", { hasText: "Saved." }).waitFor({ timeout: 15_000 });
  const saved = (await s.api("GET", "/api/v1/streams/settings-show")).body.settings;
  expect(saved.slow_mode_s).toBe(5);
  expect(saved.reactions).toEqual(["🔥", "🎉"]);
  expect(saved.emote_only).toBe(true);
  expect(saved.automod_level).toBe(3);
  expect(saved.blocked_terms).toEqual(["spoiler*", "badword"]);
  expect(saved.playback_url).toBe("https://cdn.example.com/live/index.m3u8");
  // Untouched settings keep their values.
  expect(saved.rate_limit).toEqual({ messages: 20, per_s: 30 });
  expect(saved.guests).toEqual({ react: true, chat: false, vote: false });
});

test("an admin creates an account from the accounts page", async () => {
  await page.goto(`${s.http}/dashboard/accounts`);
  const form = page.locator("#create-account");
  await form.getByLabel("Username").fill("Not Valid!");
  await form.getByLabel("Password").fill("short");
  await form.getByRole("button", { name: "Create account" }).click();
  await page.locator("#f-username-error").waitFor({ timeout: 15_000 });
  expect(await page.locator("#f-password-error").innerText()).toContain("8 to 256");

  await form.getByLabel("Username").fill("new-mod");
  await form.getByLabel("Password").fill("a long enough password");
  await form.getByLabel("Role").selectOption("moderator");
  await form.getByLabel("Linked viewer id (optional)").fill("platform-user-42");
  await form.getByRole("button", { name: "Create account" }).click();
  await page.locator("#account-list td", { hasText: "new-mod" }).waitFor({ timeout: 15_000 });
  expect(await page.locator("#create-account .notice-ok").innerText()).toContain("new-mod");
  const accounts = (await s.api("GET", "/api/v1/accounts")).body.data;
  expect(accounts.find((a: any) => a.username === "new-mod")).toMatchObject({ role: "moderator", viewer_id: "platform-user-42" });
  await page.screenshot({ path: `${ARTIFACTS}/dashboard-accounts.png`, fullPage: true });
  expect(await cspViolations(page)).toEqual([]);
  expect(problems.errors).toEqual([]);
  expect(consoleErrors(problems)).toEqual([]);
});

test("an admin changes an account: errors next to their fields first; a new password ends that account's sessions", async () => {
  await createAccount(s, "other-mod", "moderator", "taken-viewer");
  // new-mod (created by the test above) is logged in elsewhere.
  const theirs = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await loginInBrowser(theirs, s.http, "new-mod", "a long enough password");

  await page.goto(`${s.http}/dashboard/accounts`);
  await Promise.all([page.waitForURL(`${s.http}/dashboard/accounts/new-mod`), page.getByRole("link", { name: "Edit new-mod" }).click()]);
  const form = page.locator("#edit-account");
  expect(await form.getByLabel("Role").inputValue()).toBe("moderator");
  expect(await form.getByLabel("Linked viewer id").inputValue()).toBe("platform-user-42");

  await form.getByLabel("Linked viewer id").fill("taken-viewer");
  await form.getByLabel("New password").fill("short");
  await form.getByRole("button", { name: "Save account" }).click();
  await page.locator("#f-password-error").waitFor({ timeout: 15_000 });
  expect(await page.locator("#f-password-error").innerText()).toContain("8 to 256");
  await page.getByLabel("New password").fill("another long password");
  await page.getByRole("button", { name: "Save account" }).click();
  await page.locator("#f-viewer_id-error").waitFor({ timeout: 15_000 });
  expect(await page.locator("#f-viewer_id-error").innerText()).toContain("linked to another account");
  expect(await page.getByLabel("Linked viewer id").inputValue()).toBe("taken-viewer"); // what was typed stays
  let saved = (await s.api("GET", "/api/v1/accounts")).body.data.find((a: any) => a.username === "new-mod");
  expect(saved).toMatchObject({ role: "moderator", viewer_id: "platform-user-42" }); // nothing saved

  await page.getByLabel("Role").selectOption("creator");
  await page.getByLabel("Linked viewer id").fill(""); // unlinks
  await page.getByLabel("New password").fill("another long password");
  await page.getByLabel("New password").press("Enter");
  await page.locator("#edit-account .notice-ok").waitFor({ timeout: 15_000 });
  expect(await page.locator("#edit-account .notice-ok").innerText()).toContain("sessions have ended");
  expect(await page.getByLabel("New password").inputValue()).toBe(""); // never sent back
  expect(await page.locator("#account-summary .role").innerText()).toBe("creator"); // the page's head follows
  await page.screenshot({ path: `${ARTIFACTS}/dashboard-account-edit.png`, fullPage: true });
  saved = (await s.api("GET", "/api/v1/accounts")).body.data.find((a: any) => a.username === "new-mod");
  expect(saved).toMatchObject({ role: "creator", viewer_id: null });

  // Their open dashboard is logged out; the new password works.
  await theirs.goto(`${s.http}/dashboard`);
  await theirs.waitForURL(/\/dashboard\/login/);
  await loginInBrowser(theirs, s.http, "new-mod", "another long password");
  expect(await theirs.locator(".role-creator").count()).toBeGreaterThan(0);
  await theirs.context().close();

  // The bootstrap admin keeps its role.
  await page.goto(`${s.http}/dashboard/accounts/admin`);
  await page.getByLabel("Role").selectOption("moderator");
  await page.getByRole("button", { name: "Save account" }).click();
  await page.locator("#f-role-error").waitFor({ timeout: 15_000 });
  expect((await s.api("GET", "/api/v1/accounts")).body.data.find((a: any) => a.username === "admin").role).toBe("admin");
  expect(await cspViolations(page)).toEqual([]);
  expect(problems.errors).toEqual([]);
  expect(consoleErrors(problems)).toEqual([]);
});

test("an account page that does not exist says so", async () => {
  const r = await page.goto(`${s.http}/dashboard/accounts/nobody-here`);
  expect(r?.status()).toBe(404);
  expect(await page.locator("h1").innerText()).toContain("No such account");
});
