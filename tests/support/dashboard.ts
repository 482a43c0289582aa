// Helpers for the dashboard tests: a server with fast analytics flushes, accounts, logging in from
// a real browser or over plain HTTP (cookie + CSRF token), and a page guard that records console
// errors, CSP violations, dialogs and page errors so a test can assert that none happened.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { mkdirSync } from "node:fs";
import { launchBrowser } from "./browser.ts";
import { ADMIN_PASSWORD, startTestServer, type TestServer } from "./server.ts";
import { waitFor } from "./wait.ts";

export { ADMIN_PASSWORD };
export const PASSWORD = "correct horse battery";
export const ARTIFACTS = "tests/artifacts";

export async function startDashboardServer(env: Record<string, string> = {}): Promise<TestServer> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return startTestServer({ HUBBUB_CONNECT_RATE_PER_IP: "0", HUBBUB_ANALYTICS_WINDOW_S: "1", HUBBUB_ANALYTICS_FLUSH_S: "1", ...env });
}

export async function createAccount(s: TestServer, username: string, role: "admin" | "creator" | "moderator", viewerId?: string): Promise<string> {
  const r = await s.api("POST", "/api/v1/accounts", { username, password: PASSWORD, role, ...(viewerId ? { viewer_id: viewerId } : {}) });
  if (r.status !== 201) throw new Error(`account ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

export async function assignModerator(s: TestServer, slug: string, username: string): Promise<void> {
  const r = await s.api("PUT", `/api/v1/streams/${slug}/moderators/${username}`);
  if (r.status !== 200) throw new Error(`moderator ${username} of ${slug}: ${r.status} ${JSON.stringify(r.body)}`);
}

/** What went wrong in a page: console errors, CSP violations, uncaught errors, dialogs (alert()). */
export interface PageProblems {
  console: string[];
  csp: string[];
  errors: string[];
  dialogs: string[];
}

export function watch(page: Page): PageProblems {
  const p: PageProblems = { console: [], csp: [], errors: [], dialogs: [] };
  page.on("console", (m) => {
    if (m.type() === "error") p.console.push(m.text());
  });
  page.on("pageerror", (e) => p.errors.push(String(e)));
  page.on("dialog", (d) => {
    p.dialogs.push(`${d.type()}: ${d.message()}`);
    // hx-confirm asks with confirm(): the tests accept; anything else (alert) is a finding.
    if (d.type() === "confirm") void d.accept();
    else void d.dismiss();
  });
  // CSP violations are reported to the page as events; collect them from the start.
  void page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      ((window as any).__csp ??= []).push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber} ${(e.target as Element)?.outerHTML?.slice(0, 150)}`);
    });
  });
  return p;
}

/** Console errors other than the browser's note on 4xx answers (validation errors are answers, not bugs). */
export function consoleErrors(p: PageProblems): string[] {
  return p.console.filter((m) => !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m));
}

export async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => ((window as any).__csp ?? []) as string[]);
}

/** Logs in through the login form and waits for the streams page. */
export async function loginInBrowser(page: Page, base: string, username: string, password: string): Promise<void> {
  await page.goto(`${base}/dashboard/login`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await Promise.all([page.waitForURL(`${base}/dashboard`), page.getByRole("button", { name: "Log in" }).click()]);
}

export interface HttpSession {
  cookie: string;
  csrf: string;
  /** A same-origin request as the dashboard's htmx would send it. */
  post(path: string, form: Record<string, string>, headers?: Record<string, string>): Promise<Response>;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
}

/** Logs in over HTTP (as the browser's login form would) and reads the CSRF token off a page. */
export async function loginOverHttp(s: TestServer, username: string, password: string): Promise<HttpSession> {
  const r = await fetch(`${s.http}/dashboard/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: s.http, "sec-fetch-site": "same-origin" },
    body: new URLSearchParams({ username, password }).toString(),
  });
  if (r.status !== 303) throw new Error(`login ${username}: ${r.status}`);
  const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
  const page = await (await fetch(`${s.http}/dashboard`, { headers: { cookie } })).text();
  const csrf = /X-CSRF-Token&quot;:&quot;([^&]+)&quot;/.exec(page)?.[1];
  if (!csrf) throw new Error("no CSRF token on the streams page");
  return {
    cookie,
    csrf,
    post: (path, form, headers = {}) =>
      fetch(`${s.http}${path}`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: s.http, "sec-fetch-site": "same-origin", "hx-request": "true", "x-csrf-token": csrf, cookie, ...headers },
        body: new URLSearchParams(form).toString(),
      }),
    get: (path, headers = {}) => fetch(`${s.http}${path}`, { redirect: "manual", headers: { cookie, ...headers } }),
  };
}

/** A browser plus a fresh context per account (separate cookie jars). */
export async function browserWith(): Promise<{ browser: Browser; context(opts?: Parameters<Browser["newContext"]>[0]): Promise<BrowserContext> }> {
  const browser = await launchBrowser();
  return { browser, context: (opts) => browser.newContext({ viewport: { width: 1440, height: 1000 }, ...opts }) };
}

/** Waits until the live page's SSE feed says it is connected. */
export async function feedConnected(page: Page): Promise<void> {
  await page.locator('#feed-state[data-state="live"]').waitFor({ timeout: 20_000 });
}

/** Reads an SSE response as text; `until` waits (with a deadline) for the text so far to match. */
export function sseReader(res: Response) {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let pending: ReturnType<typeof reader.read> | null = null;
  const r = {
    text: "",
    async until(pred: (text: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (!pred(r.text)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${what}; got: ${r.text.slice(-500)}`);
        pending ??= reader.read();
        const chunk = await Promise.race([pending, new Promise<null>((res) => setTimeout(() => res(null), left))]);
        if (chunk === null) continue;
        pending = null;
        if (chunk.done) throw new Error(`stream ended before ${what}`);
        r.text += dec.decode(chunk.value, { stream: true });
      }
      return r.text;
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
  return r;
}

export { waitFor };
