// Dashboard API keys (admin only), over plain HTTP: an admin creates a key and the response shows it
// exactly once (with a "copy it now" note), and that key then authenticates the JSON API; the list
// page never carries a key; field errors come back next to their fields and create nothing; names
// are escaped; revoking a key makes the API answer 401 at once. A creator is refused (403) on the page
// and on both POSTs, and a cross-site or CSRF-less POST from the admin's session is refused too.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { removeDir, type TestServer } from "../support/server.ts";
import { ADMIN_PASSWORD, createAccount, loginOverHttp, PASSWORD, startDashboardServer, type HttpSession } from "../support/dashboard.ts";

let s: TestServer;
let admin: HttpSession;
let creator: HttpSession;

const KEY = /hbk_[A-Za-z0-9_-]+/g;

beforeAll(async () => {
  s = await startDashboardServer();
  await createAccount(s, "carla", "creator");
  admin = await loginOverHttp(s, "admin", ADMIN_PASSWORD);
  creator = await loginOverHttp(s, "carla", PASSWORD);
});

afterAll(async () => {
  await s?.stop();
  if (s) removeDir(s.dataDir);
});

/** Every stored key, through the JSON API (the env admin key). */
async function storedKeys(): Promise<Array<{ id: string; name: string; scopes: string[]; revoked_at: string | null }>> {
  const r = await s.api("GET", "/api/v1/api-keys?limit=100");
  expect(r.status).toBe(200);
  expect(Array.isArray(r.body.data)).toBe(true);
  return r.body.data;
}

async function createKey(name: string, scopes: string[]): Promise<{ res: Response; text: string }> {
  const form: Record<string, string> = { name };
  for (const sc of scopes) form[`scope_${sc}`] = "on";
  const res = await admin.post("/dashboard/api-keys", form);
  return { res, text: await res.text() };
}

const bearer = (key: string, path = "/api/v1/streams") => fetch(`${s.http}${path}`, { headers: { authorization: `Bearer ${key}` } });

test("admins see the API keys link next to Accounts; creators do not", async () => {
  const adminPage = await (await admin.get("/dashboard")).text();
  expect(adminPage).toContain('href="/dashboard/accounts"');
  expect(adminPage).toContain('href="/dashboard/api-keys"');
  const creatorPage = await (await creator.get("/dashboard")).text();
  expect(creatorPage).not.toContain('href="/dashboard/api-keys"');
});

test("an admin creates a key: shown exactly once, it authenticates the API, and the list never shows it", async () => {
  const { res, text } = await createKey("stream bot", ["streams", "analytics"]);
  expect(res.status).toBe(201);
  expect(res.headers.get("cache-control")).toBe("no-store");
  const keys = text.match(KEY) ?? [];
  expect(keys.length).toBe(1);
  const key = keys[0]!;
  expect(text).toContain("Copy it now");
  expect(text).toContain('hx-target="#api-key-list"'); // the list is refreshed in the same response
  expect(text).toContain("stream bot");

  // The key works with its scope, and only with its scope.
  expect((await bearer(key)).status).toBe(200);
  expect((await bearer(key, "/api/v1/accounts")).status).toBe(403);

  // The page lists the key's name, scopes and state, never the key.
  const page = await admin.get("/dashboard/api-keys");
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain("stream bot");
  expect(html).toContain("streams, analytics");
  expect(html).toContain("Active");
  expect(html).not.toContain(key);
  expect(html.match(KEY)).toBeNull();
  expect(html).toContain('aria-current="page"');
});

test("field errors come back next to their fields and nothing is created", async () => {
  const before = (await storedKeys()).length;
  const { res, text } = await createKey("   ", []);
  expect(res.status).toBe(422);
  expect(text).toContain('id="f-name-error"');
  expect(text).toContain('id="f-scopes-error"');
  expect(text.match(KEY)).toBeNull();
  // A scope choice survives a name error.
  const again = await createKey("", ["moderation"]);
  expect(again.res.status).toBe(422);
  expect(again.text).toMatch(/id="f-scope-moderation"[^>]*checked/);
  expect((await storedKeys()).length).toBe(before);
});

test("a key's name is escaped wherever it is shown", async () => {
  const name = `<img src=x onerror=alert(1)>"'`;
  const { res, text } = await createKey(name, ["analytics"]);
  expect(res.status).toBe(201);
  expect(text).not.toContain("<img src=x");
  expect(text).toContain("&lt;img src=x onerror=alert(1)&gt;");
  const html = await (await admin.get("/dashboard/api-keys")).text();
  expect(html).not.toContain("<img src=x");
});

test("revoking a key stops it at once; the list shows it revoked; an unknown id is 404", async () => {
  const { text } = await createKey("to revoke", ["streams"]);
  const key = text.match(KEY)![0]!;
  expect((await bearer(key)).status).toBe(200);
  const rec = (await storedKeys()).find((k) => k.name === "to revoke")!;
  expect(rec).toBeDefined();
  expect(await (await admin.get("/dashboard/api-keys")).text()).toContain(`/dashboard/api-keys/${rec.id}/revoke`);

  const r = await admin.post(`/dashboard/api-keys/${rec.id}/revoke`, {});
  expect(r.status).toBe(200);
  const body = await r.text();
  expect(body).toContain("to revoke revoked.");
  expect(body).toContain('hx-target="#api-key-list"');
  expect((await bearer(key)).status).toBe(401);
  expect((await storedKeys()).find((k) => k.id === rec.id)!.revoked_at).not.toBeNull();
  const html = await (await admin.get("/dashboard/api-keys")).text();
  expect(html).toContain("Revoked");
  expect(html).not.toContain(`/dashboard/api-keys/${rec.id}/revoke`); // no revoke button for a revoked key

  const missing = await admin.post("/dashboard/api-keys/no-such-key/revoke", {});
  expect(missing.status).toBe(404);
});

test("a creator is refused on the page and on both POSTs, and nothing changes", async () => {
  const { text } = await createKey("admin's key", ["streams"]);
  const key = text.match(KEY)![0]!;
  const rec = (await storedKeys()).find((k) => k.name === "admin's key")!;
  const before = (await storedKeys()).length;

  const page = await creator.get("/dashboard/api-keys");
  expect(page.status).toBe(403);
  expect(await page.text()).not.toContain("admin&#x27;s key");
  const create = await creator.post("/dashboard/api-keys", { name: "sneaky", scope_admin: "on" });
  expect(create.status).toBe(403);
  expect((await create.text()).match(KEY)).toBeNull();
  const revoke = await creator.post(`/dashboard/api-keys/${rec.id}/revoke`, {});
  expect(revoke.status).toBe(403);

  expect((await storedKeys()).length).toBe(before);
  expect((await bearer(key)).status).toBe(200);
});

test("a cross-site POST or one without the CSRF token is refused, even from an admin session", async () => {
  const before = (await storedKeys()).length;
  const cross = await admin.post("/dashboard/api-keys", { name: "csrf", scope_admin: "on" }, { origin: "https://evil.example", "sec-fetch-site": "cross-site" });
  expect(cross.status).toBe(403);
  const noToken = await admin.post("/dashboard/api-keys", { name: "csrf", scope_admin: "on" }, { "x-csrf-token": "" });
  expect(noToken.status).toBe(403);
  expect((await storedKeys()).length).toBe(before);

  const { text } = await createKey("survivor", ["streams"]);
  const key = text.match(KEY)![0]!;
  const rec = (await storedKeys()).find((k) => k.name === "survivor")!;
  const crossRevoke = await admin.post(`/dashboard/api-keys/${rec.id}/revoke`, {}, { origin: "https://evil.example", "sec-fetch-site": "cross-site" });
  expect(crossRevoke.status).toBe(403);
  expect((await bearer(key)).status).toBe(200);
});
