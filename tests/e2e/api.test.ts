// The JSON API v1 (PRODUCT.md "JSON API v1", "Identity"): API keys and scopes, streams, broadcasts,
// moderators, accounts and their viewer links, announcement validation, error shapes, and the audit
// row that every state change writes in the same transaction (append-only, refused UPDATE/DELETE).
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join as joinPath } from "node:path";
import { connect, join, type Socket } from "../support/phoenix.ts";
import { ADMIN_KEY, removeDir, startTestServer, type TestServer } from "../support/server.ts";

const ENV_ACTOR = "env:HUBBUB_ADMIN_API_KEY";
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let s: TestServer;
let db: Database; // read-only view of the server's SQLite file
const sockets: Socket[] = [];

beforeAll(async () => {
  s = await startTestServer();
  db = new Database(joinPath(s.dataDir, "hubbub.sqlite"), { readonly: true });
});
afterAll(async () => {
  for (const so of sockets) so.disconnect();
  db.close();
  await s.stop();
  removeDir(s.dataDir);
});

interface AuditRow {
  id: number;
  actor_type: string;
  actor_id: string | null;
  action: string;
  stream_id: string | null;
  target_type: string | null;
  target_id: string | null;
  data: string | null;
}
const maxAuditId = () => db.query<{ m: number | null }, []>("SELECT max(id) AS m FROM audit_log").get()?.m ?? 0;
const auditSince = (id: number) => db.query<AuditRow, [number]>("SELECT * FROM audit_log WHERE id > ? ORDER BY id").all(id);

/** Runs a state change and returns the audit rows it wrote. */
async function audited<T>(fn: () => Promise<T>): Promise<{ result: T; rows: AuditRow[] }> {
  const before = maxAuditId();
  const result = await fn();
  return { result, rows: auditSince(before) };
}

async function createKey(name: string, scopes: string[]): Promise<{ id: string; key: string }> {
  const r = await s.api("POST", "/api/v1/api-keys", { name, scopes });
  if (r.status !== 201) throw new Error(`createKey: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.id, key: r.body.key };
}

async function createAccount(username: string, role: string, extra: Record<string, unknown> = {}) {
  const r = await s.api("POST", "/api/v1/accounts", { username, password: "correct-horse-1", role, ...extra });
  if (r.status !== 201) throw new Error(`createAccount: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

describe("authentication and scopes", () => {
  test("no key or a bad key: 401 unauthenticated", async () => {
    const none = await fetch(`${s.http}/api/v1/streams`);
    expect(none.status).toBe(401);
    expect((await none.json()).error.code).toBe("unauthenticated");
    for (const auth of ["Bearer nope", "Basic dXNlcjpwYXNz", `Bearer ${ADMIN_KEY}x`, "Bearer"]) {
      const r = await fetch(`${s.http}/api/v1/streams`, { headers: { authorization: auth } });
      expect({ auth, status: r.status, code: ((await r.json()) as any).error.code }).toEqual({ auth, status: 401, code: "unauthenticated" });
    }
  });

  test("a key is shown once, is stored hashed, works for its scope and gets 403 forbidden outside it", async () => {
    const { result: created, rows } = await audited(() => s.api("POST", "/api/v1/api-keys", { name: "streams only", scopes: ["streams"] }));
    expect(created.status).toBe(201);
    const { id, key } = created.body;
    expect(created.body).toMatchObject({ name: "streams only", scopes: ["streams"], revoked_at: null });
    expect(created.body.created_at).toMatch(ISO);
    expect(key).toMatch(/^hbk_/);
    expect(rows.map((r) => [r.action, r.actor_type, r.actor_id, r.target_id])).toEqual([["api_key.create", "api_key", ENV_ACTOR, id]]);
    expect(rows[0]!.data ?? "").not.toContain(key);

    // Listed without the key; at rest only a hash.
    const list = await s.api("GET", "/api/v1/api-keys");
    const listed = list.body.data.find((k: any) => k.id === id);
    expect(listed).toEqual({ id, name: "streams only", scopes: ["streams"], created_at: created.body.created_at, revoked_at: null });
    const stored = db.query<Record<string, unknown>, [string]>("SELECT * FROM api_keys WHERE id = ?").get(id)!;
    expect(JSON.stringify(stored)).not.toContain(key);

    expect((await s.api("GET", "/api/v1/streams", undefined, key)).status).toBe(200);
    for (const [method, path, body] of [
      ["POST", "/api/v1/accounts", { username: "nobody", password: "12345678", role: "creator" }],
      ["GET", "/api/v1/api-keys", undefined],
      ["POST", "/api/v1/viewers/v1/revoke", undefined],
      ["POST", "/api/v1/streams/any-stream/moderation", { action: "announce", body: "hi" }],
    ] as const) {
      const r = await s.api(method, path, body, key);
      expect({ path, status: r.status, code: r.body?.error?.code }).toEqual({ path, status: 403, code: "forbidden" });
    }
  });

  test("a revoked key is refused with 401", async () => {
    const { id, key } = await createKey("short-lived", ["streams", "moderation"]);
    expect((await s.api("GET", "/api/v1/streams", undefined, key)).status).toBe(200);
    const { result: del, rows } = await audited(() => s.api("DELETE", `/api/v1/api-keys/${id}`));
    expect(del.status).toBe(200);
    expect(del.body.revoked_at).toMatch(ISO);
    expect(rows.map((r) => [r.action, r.actor_type, r.actor_id, r.target_id])).toEqual([["api_key.revoke", "api_key", ENV_ACTOR, id]]);
    const r = await s.api("GET", "/api/v1/streams", undefined, key);
    expect([r.status, r.body.error.code]).toEqual([401, "unauthenticated"]);
    expect((await s.api("DELETE", "/api/v1/api-keys/no-such-key")).status).toBe(404);
  });

  test("invalid API key requests name each bad field", async () => {
    const r = await s.api("POST", "/api/v1/api-keys", { name: "", scopes: ["streams", "root"], color: "red" });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid_payload");
    expect(Object.keys(r.body.error.fields).sort()).toEqual(["color", "name", "scopes"]);
    // Names are shown to admins: no bidi override, zero-width or control characters.
    for (const name of ["ops\u202Egnp.exe", "zero\u200Bwidth", "nul\u0000", "x".repeat(101)]) {
      const bad = await s.api("POST", "/api/v1/api-keys", { name, scopes: ["streams"] });
      expect({ name, status: bad.status, field: !!bad.body.error?.fields?.name }).toEqual({ name, status: 400, field: true });
    }
    const ok = await s.api("POST", "/api/v1/api-keys", { name: "  OBS bot 🤖  ", scopes: ["streams"] });
    expect([ok.status, ok.body.name]).toEqual([201, "OBS bot 🤖"]);
  });
});

describe("input the API refuses rather than guesses at", () => {
  const raw = (method: string, path: string, body: string, type: string) =>
    fetch(`${s.http}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": type }, body });

  test("cursors that no list page gave: 400, not an empty or first page", async () => {
    await s.createStream("api-cursors");
    const b64 = (t: string) => Buffer.from(t).toString("base64url");
    for (const path of [`/api/v1/streams?cursor=${b64("zzzz")}`, `/api/v1/streams/api-cursors/polls?cursor=${b64("zz")}`, `/api/v1/streams/api-cursors/audit?cursor=${b64("garbage")}`, `/api/v1/accounts?cursor=${b64("1")}`]) {
      const r = await s.api("GET", path);
      expect({ path, status: r.status, field: r.body.error?.fields?.cursor !== undefined }).toEqual({ path, status: 400, field: true });
    }
    // A cursor a page gave still works (the audit pages by row number).
    const first = await s.api("GET", "/api/v1/streams/api-cursors/audit?limit=1");
    expect(first.status).toBe(200);
  });

  test("audit time ranges take RFC 3339 with an offset, and real dates only", async () => {
    await s.createStream("api-audit-range");
    for (const from of ["1", "2026", "Jan%201%202020", "2026-01-01", "2026-02-30T00:00:00Z", "2026-01-01T10:00:00"]) {
      const r = await s.api("GET", `/api/v1/streams/api-audit-range/audit?from=${from}`);
      expect({ from, status: r.status, field: r.body.error?.fields?.from !== undefined }).toEqual({ from, status: 400, field: true });
    }
    const r = await s.api("GET", `/api/v1/streams/api-audit-range/audit?from=${encodeURIComponent("2020-01-01T00:00:00.000+02:00")}&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    expect(r.status).toBe(200);
    expect(r.body.data.length).toBeGreaterThan(0); // (the stream's creation)
  });

  test("a body that is not a JSON object is refused on review decisions and segment marks; no body is fine where it is optional", async () => {
    const notJson = await raw("POST", "/api/v1/review-queue/00000000-0000-7000-8000-000000000000/approve", "reason=whatever", "text/plain");
    expect([notJson.status, (await notJson.json()).error.code]).toEqual([400, "invalid_payload"]);
    const none = await fetch(`${s.http}/api/v1/review-queue/00000000-0000-7000-8000-000000000000/deny`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(none.status).toBe(404); // (read as {}: then the unknown item)
    const seg = await raw("POST", "/api/v1/broadcasts/no-such/segments", "label=Q&A", "text/plain");
    expect([seg.status, (await seg.json()).error.code]).toEqual([400, "invalid_payload"]);
  });
});

describe("streams", () => {
  test("create answers 201 with the full view, audited with the acting key's id", async () => {
    const { id: keyId, key } = await createKey("streams bot", ["streams"]);
    const { result: r, rows } = await audited(() => s.api("POST", "/api/v1/streams", { slug: "api-one", title: "  API One  " }, key));
    expect(r.status).toBe(201);
    const v = r.body;
    expect(typeof v.id).toBe("string");
    expect(v).toMatchObject({
      slug: "api-one",
      title: "API One",
      owner: null,
      status: "offline",
      live_since: null,
      current_broadcast_id: null,
      moderators: [],
      public: { slug: "api-one", title: "API One", status: "offline", live_since: null, playback_url: null },
    });
    expect(typeof v.epoch).toBe("string");
    expect(v.settings).toMatchObject({ slow_mode_s: 0, chat_delay_s: 0, automod_level: 2, link_policy: "hold", reactions: ["❤️", "🔥", "😂", "👏", "😮", "🎉"] });
    expect(v.created_at).toMatch(ISO);
    expect(v.updated_at).toMatch(ISO);
    expect(rows.map((x) => [x.action, x.actor_type, x.actor_id, x.stream_id])).toEqual([["stream.create", "api_key", keyId, v.id]]);

    const got = await s.api("GET", "/api/v1/streams/api-one", undefined, key);
    expect(got.status).toBe(200);
    expect(got.body.id).toBe(v.id);
    expect((await s.api("GET", "/api/v1/streams/no-such")).body.error.code).toBe("not_found");
  });

  test("a duplicate slug is 409 conflict and writes nothing", async () => {
    await s.createStream("api-dup");
    const { result: r, rows } = await audited(() => s.api("POST", "/api/v1/streams", { slug: "api-dup", title: "Again" }));
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("conflict");
    expect(rows).toEqual([]);
  });

  test("invalid slug, title and settings: 400 invalid_payload naming each bad field, nothing written", async () => {
    const { result: r, rows } = await audited(() =>
      s.api("POST", "/api/v1/streams", {
        slug: "Bad Slug!",
        title: "",
        color: "red",
        settings: { slow_mode_s: 2, chat_delay_s: 3, reactions: ["🔥", "abc"], teleport: true },
      }),
    );
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid_payload");
    expect(Object.keys(r.body.error.fields).sort()).toEqual(
      ["color", "settings.chat_delay_s", "settings.reactions", "settings.slow_mode_s", "settings.teleport", "slug", "title"].sort(),
    );
    expect(rows).toEqual([]);
    for (const slug of ["ab", "a".repeat(65), "under_score", "UPPER"]) {
      const x = await s.api("POST", "/api/v1/streams", { slug, title: "T" });
      expect({ slug, status: x.status, fields: Object.keys(x.body.error?.fields ?? {}) }).toEqual({ slug, status: 400, fields: ["slug"] });
    }
    const long = await s.api("POST", "/api/v1/streams", { slug: "long-title", title: "x".repeat(141) });
    expect([long.status, long.body.error.code, Object.keys(long.body.error.fields)]).toEqual([400, "invalid_payload", ["title"]]);
  });

  test("settings that are not an object are refused on create as on update", async () => {
    await s.createStream("api-settings");
    const upd = await s.api("PATCH", "/api/v1/streams/api-settings", { settings: "fast" });
    expect([upd.status, upd.body.error.code]).toEqual([400, "invalid_payload"]);
    expect(Object.keys(upd.body.error.fields)).toEqual(["settings"]);
    const { result: r, rows } = await audited(() => s.api("POST", "/api/v1/streams", { slug: "api-settings-str", title: "T", settings: "fast" }));
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid_payload");
    expect(Object.keys(r.body.error.fields ?? {})).toContain("settings");
    expect(rows).toEqual([]);
  });

  test("list pages with limit and cursor: every stream once, none missing", async () => {
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await s.createStream(`page-${i}`)).slug);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `?limit=3&cursor=${encodeURIComponent(cursor)}` : "?limit=3";
      const r = await s.api("GET", `/api/v1/streams${q}`);
      expect(r.status).toBe(200);
      expect(r.body.data.length).toBeLessThanOrEqual(3);
      seen.push(...r.body.data.map((x: any) => x.slug));
      cursor = r.body.next_cursor;
      if (cursor !== null) expect(r.body.data.length).toBe(3);
      pages++;
    } while (cursor !== null && pages < 100);
    expect(cursor).toBeNull();
    expect(new Set(seen).size).toBe(seen.length);
    for (const slug of made) expect(seen).toContain(slug);
    const all = await s.api("GET", "/api/v1/streams?limit=1000");
    expect(all.body.next_cursor).toBeNull();
    expect(seen.sort()).toEqual(all.body.data.map((x: any) => x.slug).sort());
    for (const q of ["?limit=0", "?limit=1001", "?limit=abc", "?cursor=!!!"]) {
      const r = await s.api("GET", `/api/v1/streams${q}`);
      expect({ q, status: r.status, code: r.body?.error?.code }).toEqual({ q, status: 400, code: "invalid_payload" });
    }
  });

  test("PATCH changes title and settings, audited with the changed settings; a bad value changes nothing", async () => {
    await s.createStream("api-patch");
    const { result: r, rows } = await audited(() => s.api("PATCH", "/api/v1/streams/api-patch", { title: "Patched", settings: { slow_mode_s: 30, reactions: ["🔥", "🎸"] } }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ title: "Patched", settings: { slow_mode_s: 30, reactions: ["🔥", "🎸"] }, public: { modes: { slow_mode_s: 30 } } });
    expect(rows.map((x) => [x.action, x.actor_type, x.actor_id])).toEqual([["stream.update", "api_key", ENV_ACTOR]]);
    expect(JSON.parse(rows[0]!.data!)).toMatchObject({ title: "Patched", settings: { slow_mode_s: 30, reactions: ["🔥", "🎸"] } });

    const { result: bad, rows: none } = await audited(() => s.api("PATCH", "/api/v1/streams/api-patch", { title: "Nope", settings: { slow_mode_s: 30, automod_level: 9 } }));
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body.error.fields)).toEqual(["settings.automod_level"]);
    expect(none).toEqual([]);
    expect((await s.api("GET", "/api/v1/streams/api-patch")).body.title).toBe("Patched");
    expect((await s.api("PATCH", "/api/v1/streams/no-such", { title: "x" })).status).toBe(404);
  });

  test("live -> 201 {id, started_at}; live again 409; end -> 200 with ended_at; end again 409", async () => {
    const st = await s.createStream("api-live");
    const { result: live, rows: liveRows } = await audited(() => s.api("POST", "/api/v1/streams/api-live/live"));
    expect(live.status).toBe(201);
    const broadcastId: string = live.body.id;
    expect(typeof broadcastId).toBe("string");
    expect(live.body.started_at).toMatch(ISO);
    expect(liveRows.map((x) => [x.action, x.actor_id, x.stream_id, x.target_id])).toEqual([["stream.live", ENV_ACTOR, st.id, broadcastId]]);
    const view = (await s.api("GET", "/api/v1/streams/api-live")).body;
    expect(view).toMatchObject({ status: "live", current_broadcast_id: broadcastId, live_since: live.body.started_at });

    const again = await s.api("POST", "/api/v1/streams/api-live/live");
    expect([again.status, again.body.error.code]).toEqual([409, "conflict"]);

    const { result: end, rows: endRows } = await audited(() => s.api("POST", "/api/v1/streams/api-live/end"));
    expect(end.status).toBe(200);
    expect(end.body.id).toBe(broadcastId);
    expect(end.body.ended_at).toMatch(ISO);
    expect(Date.parse(end.body.ended_at)).toBeGreaterThanOrEqual(Date.parse(live.body.started_at));
    expect(endRows.map((x) => [x.action, x.actor_id, x.target_id])).toEqual([["stream.end", ENV_ACTOR, broadcastId]]);
    const endAgain = await s.api("POST", "/api/v1/streams/api-live/end");
    expect([endAgain.status, endAgain.body.error.code]).toEqual([409, "conflict"]);
    expect((await s.api("POST", "/api/v1/streams/no-such/live")).status).toBe(404);
  });
});

describe("accounts, moderators and roles on the socket", () => {
  test("accounts: created without exposing the password; role validated; duplicate username 409", async () => {
    const { result: r, rows } = await audited(() => s.api("POST", "/api/v1/accounts", { username: "acc-one", password: "correct-horse-1", role: "creator" }));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ username: "acc-one", role: "creator", viewer_id: null });
    expect(r.body.password).toBeUndefined();
    expect(r.body.password_hash).toBeUndefined();
    expect(rows.map((x) => [x.action, x.actor_type, x.actor_id, x.target_id])).toEqual([["account.create", "api_key", ENV_ACTOR, r.body.id]]);
    expect(rows[0]!.data ?? "").not.toContain("correct-horse-1");

    const bad = await s.api("POST", "/api/v1/accounts", { username: "acc-two", password: "correct-horse-1", role: "superuser" });
    expect([bad.status, bad.body.error.code, Object.keys(bad.body.error.fields)]).toEqual([400, "invalid_payload", ["role"]]);
    const bad2 = await s.api("POST", "/api/v1/accounts", { username: "X", password: "short", role: "creator", extra: 1 });
    expect(Object.keys(bad2.body.error.fields).sort()).toEqual(["extra", "password", "username"]);

    const { result: dup, rows: none } = await audited(() => s.api("POST", "/api/v1/accounts", { username: "acc-one", password: "another-pass-2", role: "moderator" }));
    expect([dup.status, dup.body.error.code]).toEqual([409, "conflict"]);
    expect(none).toEqual([]);
  });

  test("PATCH links a viewer id (unique across accounts: 409) and changes the role", async () => {
    const a = await createAccount("link-a", "moderator");
    await createAccount("link-b", "moderator");
    const { result: r, rows } = await audited(() => s.api("PATCH", "/api/v1/accounts/link-a", { viewer_id: "viewer-42" }));
    expect(r.status).toBe(200);
    expect(r.body.viewer_id).toBe("viewer-42");
    expect(rows.map((x) => [x.action, x.actor_id, x.target_id, JSON.parse(x.data!)])).toEqual([["account.update", ENV_ACTOR, a.id, { viewer_id: "viewer-42" }]]);

    const taken = await s.api("PATCH", "/api/v1/accounts/link-b", { viewer_id: "viewer-42" });
    expect([taken.status, taken.body.error.code]).toEqual([409, "conflict"]);
    const takenOnCreate = await s.api("POST", "/api/v1/accounts", { username: "link-c", password: "correct-horse-1", role: "creator", viewer_id: "viewer-42" });
    expect([takenOnCreate.status, takenOnCreate.body.error.code]).toEqual([409, "conflict"]);

    const role = await s.api("PATCH", "/api/v1/accounts/link-b", { role: "creator" });
    expect([role.status, role.body.role]).toEqual([200, "creator"]);
    const badRole = await s.api("PATCH", "/api/v1/accounts/link-b", { role: "owner" });
    expect([badRole.status, Object.keys(badRole.body.error.fields)]).toEqual([400, ["role"]]);
    expect((await s.api("PATCH", "/api/v1/accounts/no-such", { role: "creator" })).status).toBe(404);

    // Unlinking frees the id for another account.
    expect((await s.api("PATCH", "/api/v1/accounts/link-a", { viewer_id: null })).body.viewer_id).toBeNull();
    expect((await s.api("PATCH", "/api/v1/accounts/link-b", { viewer_id: "viewer-42" })).status).toBe(200);
  });

  test("a linked creator joins its own stream as creator; an assigned moderator as moderator; PUT/DELETE moderators are audited", async () => {
    await createAccount("owner-1", "creator", { viewer_id: "v-owner" });
    const mod = await createAccount("mod-1", "moderator", { viewer_id: "v-mod" });
    const created = await s.api("POST", "/api/v1/streams", { slug: "roles-1", title: "Roles", owner: "owner-1" });
    expect([created.status, created.body.owner]).toEqual([201, "owner-1"]);
    const badOwner = await s.api("POST", "/api/v1/streams", { slug: "roles-2", title: "Roles", owner: "ghost" });
    expect([badOwner.status, Object.keys(badOwner.body.error.fields)]).toEqual([400, ["owner"]]);

    const { result: put, rows } = await audited(() => s.api("PUT", "/api/v1/streams/roles-1/moderators/mod-1"));
    expect(put.status).toBe(200);
    expect(put.body.moderators).toEqual(["mod-1"]);
    expect(rows.map((x) => [x.action, x.actor_id, x.stream_id, x.target_id])).toEqual([["stream.moderator_add", ENV_ACTOR, created.body.id, mod.id]]);
    // Idempotent: assigning again changes nothing and writes nothing.
    const { result: put2, rows: none } = await audited(() => s.api("PUT", "/api/v1/streams/roles-1/moderators/mod-1"));
    expect([put2.status, none]).toEqual([200, []]);
    expect((await s.api("PUT", "/api/v1/streams/roles-1/moderators/ghost")).status).toBe(404);
    expect((await s.api("GET", "/api/v1/streams/roles-1")).body.moderators).toEqual(["mod-1"]);

    const meOf = async (sub: string) => {
      const socket = connect(s.ws, { token: await s.token(sub) });
      sockets.push(socket);
      const reply = await join(socket.channel("stream:roles-1", {}));
      socket.disconnect();
      return reply.me;
    };
    expect(await meOf("v-owner")).toMatchObject({ id: "v-owner", role: "creator", can: { moderate: true, chat: true } });
    expect(await meOf("v-mod")).toMatchObject({ id: "v-mod", role: "moderator", can: { moderate: true, chat: true } });
    expect(await meOf("v-nobody")).toMatchObject({ id: "v-nobody", role: "viewer", can: { moderate: false } });

    const { result: del, rows: delRows } = await audited(() => s.api("DELETE", "/api/v1/streams/roles-1/moderators/mod-1"));
    expect([del.status, del.body.moderators]).toEqual([200, []]);
    expect(delRows.map((x) => [x.action, x.target_id])).toEqual([["stream.moderator_remove", mod.id]]);
    expect(await meOf("v-mod")).toMatchObject({ role: "viewer", can: { moderate: false } });
  });
});

describe("announcements", () => {
  test("validation: empty body -> empty, unknown action or field -> invalid_payload; a valid one is audited", async () => {
    const st = await s.createStream("api-announce");
    const cases: Array<[unknown, number, string]> = [
      [{ action: "announce", body: "" }, 400, "empty"],
      [{ action: "announce", body: "   " }, 400, "empty"],
      [{ action: "announce" }, 400, "invalid_payload"],
      [{ action: "nuke", body: "x" }, 400, "invalid_payload"],
      [{ action: "announce", body: "x", color: "red" }, 400, "invalid_payload"],
      [["announce"], 400, "invalid_payload"],
    ];
    const before = maxAuditId();
    for (const [body, status, code] of cases) {
      const r = await s.api("POST", "/api/v1/streams/api-announce/moderation", body);
      expect({ body, status: r.status, code: r.body?.error?.code }).toEqual({ body, status, code });
    }
    expect(auditSince(before)).toEqual([]);
    expect((await s.api("POST", "/api/v1/streams/no-such/moderation", { action: "announce", body: "x" })).status).toBe(404);

    const { id: modKeyId, key } = await createKey("mod bot", ["moderation"]);
    const { result: ok, rows } = await audited(() => s.api("POST", "/api/v1/streams/api-announce/moderation", { action: "announce", body: "Back in 5" }, key));
    expect(ok.status).toBe(200);
    expect(ok.body.body).toBe("Back in 5");
    expect(rows.map((x) => [x.action, x.actor_type, x.actor_id, x.stream_id, JSON.parse(x.data!)])).toEqual([
      ["moderation.announce", "api_key", modKeyId, st.id, { body: "Back in 5" }],
    ]);
  });
});

describe("viewer revoke", () => {
  test("is audited with the acting key, and a bad id is refused", async () => {
    const { result: r, rows } = await audited(() => s.api("POST", "/api/v1/viewers/api-viewer-1/revoke"));
    expect(r.status).toBe(200);
    expect(rows.map((x) => [x.action, x.actor_type, x.actor_id, x.target_type, x.target_id])).toEqual([["viewer.revoke", "api_key", ENV_ACTOR, "viewer", "api-viewer-1"]]);
    const bad = await s.api("POST", `/api/v1/viewers/${encodeURIComponent("has space")}/revoke`);
    expect([bad.status, bad.body.error.code]).toEqual([400, "invalid_payload"]);
  });

  test("an id with % in it names that viewer, not a decoded other one (revoke and erase)", async () => {
    for (const id of ["a%41", "50%off"]) {
      const { result: r, rows } = await audited(() => s.api("POST", `/api/v1/viewers/${encodeURIComponent(id)}/revoke`));
      expect([r.status, r.body.viewer_id]).toEqual([200, id]);
      expect(rows.map((x) => x.target_id)).toEqual([id]);
      const e = await s.api("DELETE", `/api/v1/viewers/${encodeURIComponent(id)}/data`);
      expect([e.status === 200 || e.status === 202, e.body.viewer_id]).toEqual([true, id]);
    }
  });
});

describe("errors and the audit log itself", () => {
  test("invalid JSON -> 400 invalid_payload; unknown route -> 404 not_found JSON", async () => {
    const r = await s.api("POST", "/api/v1/streams", "{not json");
    expect([r.status, r.body.error.code]).toEqual([400, "invalid_payload"]);
    const arr = await s.api("POST", "/api/v1/streams", []);
    expect([arr.status, arr.body.error.code]).toEqual([400, "invalid_payload"]);
    for (const [method, path] of [["GET", "/api/v1/nope"], ["POST", "/api/v1/streams/x/teleport"], ["GET", "/api/v2/streams"]]) {
      const x = await s.api(method!, path!);
      expect({ path, status: x.status, code: x.body?.error?.code }).toEqual({ path, status: 404, code: "not_found" });
      expect(x.headers.get("content-type")).toContain("application/json");
    }
  });

  test("the audit table refuses UPDATE and DELETE, whoever asks", () => {
    const rw = new Database(joinPath(s.dataDir, "hubbub.sqlite"));
    try {
      rw.run("PRAGMA busy_timeout = 10000");
      const n = rw.query<{ n: number }, []>("SELECT count(*) AS n FROM audit_log").get()!.n;
      expect(n).toBeGreaterThan(0);
      expect(() => rw.run("UPDATE audit_log SET action = 'forged' WHERE id = (SELECT min(id) FROM audit_log)")).toThrow(/append-only/);
      expect(() => rw.run("DELETE FROM audit_log WHERE id = (SELECT min(id) FROM audit_log)")).toThrow(/append-only/);
      expect(() => rw.run("DELETE FROM audit_log")).toThrow(/append-only/);
      expect(rw.query<{ n: number }, []>("SELECT count(*) AS n FROM audit_log").get()!.n).toBe(n);
      expect(rw.query("SELECT 1 FROM audit_log WHERE action = 'forged'").get()).toBeNull();
    } finally {
      rw.close();
    }
  });
});
