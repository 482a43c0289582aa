// JSON API v1. Routes authenticate, check the scope, call one domain verb and map its result; they
// never touch SQL. PRODUCT.md lists the routes; the error shape is `{error: {code, message, fields?}}`.
import { Elysia } from "elysia";
import type { AccountRecord, Accounts, Role } from "../../accounts/index.ts";
import { accountView, actorOf } from "../../accounts/index.ts";
import { SCOPES, type Actor, type Scope } from "../../actor.ts";
import type { Result } from "../../errors.ts";
import type { StreamRecord, Streams } from "../../streams/index.ts";
import type { Viewers } from "../../viewers/index.ts";
import { Chat } from "../../chat/index.ts";
import type { AuditLog } from "../../audit/index.ts";
import type { Polls } from "../../polls/index.ts";
import type { Analytics } from "../../analytics/index.ts";
import { csvRow, streamPages } from "../export.ts";
import { apiError, json, page, parsePaging, refusalResponse } from "../http-util.ts";
import { parseRfc3339 } from "../../runtime/time.ts";
import { canManage, canModerate, streamsVisibleTo } from "../rights.ts";

export interface ApiDeps {
  chat: Chat;
  polls: Polls;
  analytics: Analytics;
  audit: AuditLog;
  accounts: Accounts;
  streams: Streams;
  viewers: Viewers;
  /** How long an erasure waits for its analytics part before answering 202 (it is applied later). */
  eraseWaitMs?: number;
  /** Dashboard sessions (PRODUCT.md: "A dashboard session may call the same routes"); none without it. */
  sessions?: ApiSessions;
}

type Ctx = { request: Request; params: Record<string, string>; query: Record<string, string | undefined>; body: unknown };

/** A dashboard session calling the API: its account, why not, or null when the request has none. */
export interface ApiSessions {
  authenticate(req: Request, mutating: boolean): { account: AccountRecord } | { status: 401 | 403; message: string } | null;
}

/**
 * The stream a route acts on, from its path: a stream's slug, or the broadcast, poll or review item
 * it names. Null: the route names no stream (lists, creation, admin routes). Undefined: no such
 * stream (the route answers 404 itself).
 */
function streamOf(d: ApiDeps, ctx: Ctx): StreamRecord | undefined | null {
  const byId = (id: string | undefined) => (id === undefined ? undefined : d.streams.findById(id));
  const params = ctx.params ?? {}; // (routes without path parameters have none)
  if (params.slug !== undefined) return d.streams.findBySlug(params.slug);
  const [, kind] = /^\/api\/v1\/(broadcasts|polls|review-queue)\//.exec(new URL(ctx.request.url).pathname) ?? [];
  const id = params.id ?? "";
  if (kind === "broadcasts") return byId(d.streams.findBroadcast(id)?.stream_id);
  if (kind === "polls") return byId(d.polls.find(id)?.stream_id);
  if (kind === "review-queue") return byId(d.chat.queueItem(id)?.stream_id);
  return null;
}

/** What a session may reach by role; non-admins also only on their streams (rights.ts). */
const ROLE_SCOPES: Record<Role, readonly Scope[]> = { admin: SCOPES, creator: ["streams", "moderation", "analytics"], moderator: ["moderation"] };

/**
 * How a creator's or moderator's session may use a route whose key scope says otherwise, as the
 * dashboard allows: "manage" (the stream's owner: moderator assignment), "creators" (creating a
 * stream, which they then own), "list" (the streams they may see; the handler filters).
 */
type SessionRule = "manage" | "creators" | "list";

/**
 * Resolves the caller, an API key (bearer) or a dashboard session (cookie; CSRF on state changes),
 * checks the scope, and for a session of a creator or moderator the stream the route acts on (routes
 * that name none are for keys and admins), then runs the handler with the actor.
 */
function guarded(d: ApiDeps, scope: Scope, handler: (actor: Actor, ctx: Ctx) => Response | Promise<Response>, rule?: SessionRule) {
  return (ctx: Ctx) => {
    const auth = ctx.request.headers.get("authorization");
    if (auth !== null) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      if (!m) return apiError("unauthenticated", "send Authorization: Bearer <api key>");
      const actor = d.accounts.authenticateApiKey(m[1]!);
      if (!actor) return apiError("unauthenticated", "unknown or revoked API key");
      if (actor.type === "api_key" && !actor.scopes.includes(scope) && !actor.scopes.includes("admin")) {
        return apiError("forbidden", `this key lacks the ${scope} scope`);
      }
      return handler(actor, ctx);
    }
    const method = ctx.request.method;
    const session = d.sessions?.authenticate(ctx.request, method !== "GET" && method !== "HEAD") ?? null;
    if (session === null) return apiError("unauthenticated", "send Authorization: Bearer <api key>, or call from a logged-in dashboard session");
    if ("status" in session) return apiError(session.status === 401 ? "unauthenticated" : "forbidden", session.message);
    const a = session.account;
    if ((a.role === "creator" && rule === "creators") || rule === "list") return handler(actorOf(a), ctx);
    if (a.role !== "admin") {
      if (rule !== "manage" && !ROLE_SCOPES[a.role].includes(scope)) return apiError("forbidden", `a ${a.role}'s session cannot use ${scope} routes`);
      const st = streamOf(d, ctx);
      if (st === null) return apiError("forbidden", "this route takes an API key or an admin's session");
      if (st && !(scope === "moderation" && rule !== "manage" ? canModerate(d.streams, a, st) : canManage(a, st))) {
        return apiError("forbidden", scope === "moderation" ? "you do not moderate this stream" : "only the stream's owner and admins may do this");
      }
    }
    return handler(actorOf(a), ctx);
  };
}

function respond<T>(r: Result<T>, status = 200, render: (v: T) => unknown = (v) => v): Response {
  return r.ok ? json(status, render(r.value)) : refusalResponse(r);
}

function objectBody(body: unknown): Record<string, unknown> | Response {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return apiError("invalid_payload", "send a JSON object with content-type application/json");
  return body as Record<string, unknown>;
}

/** A body that may be left out (no body at all is `{}`), but when sent is a JSON object. */
function optionalObjectBody(body: unknown): Record<string, unknown> | Response {
  return body === undefined || body === null || body === "" ? {} : objectBody(body);
}

export function apiRoutes(d: ApiDeps) {
  const { accounts, streams, viewers, chat } = d;
  const stream = (slug: string) => streams.findBySlug(slug);
  const decide = (verdict: "approve" | "deny" | "escalate") => async (actor: Actor, { params, body }: Ctx) => {
    const b = optionalObjectBody(body);
    if (b instanceof Response) return b;
    return respond(await chat.decide(actor, params.id!, verdict, b));
  };
  return (
    new Elysia({ prefix: "/api/v1" })
      // ---- streams ----
      .post("/streams", guarded(d, "streams", (actor, { body }) => {
        const b = objectBody(body);
        if (b instanceof Response) return b;
        // A creator's session creates streams of their own (the domain makes them the owner).
        if (actor.type === "account" && actor.role !== "admin" && b.owner !== undefined && b.owner !== actor.username) return apiError("forbidden", "a creator creates streams they own", { fields: { owner: "only admins name another owner" } });
        return respond(streams.create(actor, b), 201, (s) => streams.apiView(s));
      }, "creators"))
      .get("/streams", guarded(d, "streams", (actor, { query }) => {
        const p = parsePaging(query);
        if (p instanceof Response) return p;
        // A creator's or moderator's session sees the streams it owns or moderates, as on the dashboard.
        if (actor.type !== "account" || actor.role === "admin") return json(200, page(streams.list(p.after, p.limit + 1), p.limit, (s) => s.id, (s) => streams.apiView(s)));
        const rows: StreamRecord[] = [];
        for (const s of streamsVisibleTo(streams, actor, p.after)) if (rows.push(s) > p.limit) break;
        return json(200, page(rows, p.limit, (s) => s.id, (s) => streams.apiView(s)));
      }, "list"))
      .get("/streams/:slug", guarded(d, "streams", (_a, { params }) => {
        const s = streams.findBySlug(params.slug!);
        return s ? json(200, streams.apiView(s)) : apiError("not_found", `no stream ${params.slug}`);
      }))
      .patch("/streams/:slug", guarded(d, "streams", (actor, { params, body }) => {
        const b = objectBody(body);
        if (b instanceof Response) return b;
        return respond(streams.update(actor, params.slug!, b), 200, (s) => streams.apiView(s));
      }))
      .post("/streams/:slug/live", guarded(d, "streams", (actor, { params }) => respond(streams.goLive(actor, params.slug!), 201)))
      .post("/streams/:slug/end", guarded(d, "streams", (actor, { params }) => respond(streams.end(actor, params.slug!))))
      .put("/streams/:slug/moderators/:username", guarded(d, "admin", (actor, { params }) => respond(streams.setModerator(actor, params.slug!, params.username!, true)), "manage"))
      .delete("/streams/:slug/moderators/:username", guarded(d, "admin", (actor, { params }) => respond(streams.setModerator(actor, params.slug!, params.username!, false)), "manage"))
      // ---- chat history and export ----
      .get("/streams/:slug/chat", guarded(d, "moderation", (_a, { params, query }) => {
        const s = stream(params.slug!);
        if (!s) return apiError("not_found", `no stream ${params.slug}`);
        const num = (k: string) => (query[k] === undefined ? undefined : /^\d+$/.test(query[k]!) ? Number(query[k]) : NaN);
        let after = num("after_seq");
        let before = num("before_seq");
        if (query.cursor !== undefined) {
          // The cursor carries the direction and position of the next page.
          let c: { after_seq?: unknown; before_seq?: unknown } | null = null;
          try {
            c = JSON.parse(Buffer.from(query.cursor, "base64url").toString());
          } catch {}
          const ok = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
          // Backward pages (before_seq) keep their lower bound (after_seq) from page to page.
          if (c && ok(c.before_seq) && (c.after_seq === undefined || ok(c.after_seq))) (before = c.before_seq as number), (after = c.after_seq as number | undefined);
          else if (c && ok(c.after_seq) && c.before_seq === undefined) (after = c.after_seq as number), (before = undefined);
          else return apiError("invalid_payload", "cursor is not valid", { fields: { cursor: "not a cursor from this API" } });
        }
        const limit = num("limit") ?? 50;
        const format = query.format ?? "json";
        if (Number.isNaN(after) || Number.isNaN(before) || Number.isNaN(limit) || limit < 1 || limit > 1000 || !["json", "ndjson", "csv"].includes(format)) {
          return apiError("invalid_payload", "after_seq, before_seq: integers; limit: 1..1000; format: json, ndjson or csv");
        }
        if (format === "json") {
          const rows = chat.list(s, { afterSeq: after, beforeSeq: before, limit: limit + 1 });
          const more = rows.length > limit;
          const data = before !== undefined && more ? rows.slice(1) : rows.slice(0, limit);
          const edge = before !== undefined ? data[0] : data[data.length - 1];
          const next_cursor = more && edge ? Buffer.from(JSON.stringify(before !== undefined ? { before_seq: edge.seq, after_seq: after } : { after_seq: edge.seq })).toString("base64url") : null;
          return json(200, { data, next_cursor });
        }
        // Exports walk the whole range forward, page by page.
        const pages = (from: number) => {
          const rows = chat.list(s, { afterSeq: from, limit: 1000 }).filter((r) => before === undefined || r.seq < before);
          return { rows, cursor: rows.length ? rows[rows.length - 1]!.seq : from };
        };
        if (format === "ndjson") {
          return new Response(streamPages(after ?? 0, pages, (r) => JSON.stringify(r) + "\n"), { headers: { "content-type": "application/x-ndjson" } });
        }
        const cols = ["seq", "id", "at", "visible_at", "user_id", "user_name", "body", "reply_to", "mentions", "deleted"];
        return new Response(
          streamPages(after ?? 0, pages, (r: any) => csvRow([r.seq, r.id, r.at, r.visible_at, r.user?.id, r.user?.name, r.body, r.reply_to, r.mentions, r.deleted === true]), csvRow(cols)),
          { headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${s.slug}-chat.csv"` } },
        );
      }))
      // ---- moderation ----
      .post("/streams/:slug/moderation", guarded(d, "moderation", async (actor, { params, body }) => {
        const b = objectBody(body);
        if (b instanceof Response) return b;
        const s = stream(params.slug!);
        if (!s) return apiError("not_found", `no stream ${params.slug}`);
        if (b.action === "announce") {
          const extra = Object.keys(b).filter((k) => k !== "action" && k !== "body");
          if (extra.length) return apiError("invalid_payload", "unknown fields", { fields: Object.fromEntries(extra.map((k) => [k, "unknown field"])) });
          return respond(await streams.announce(actor, s.slug, b.body));
        }
        if (typeof b.action !== "string") return apiError("invalid_payload", "action: delete, clear, timeout, ban, unban or announce", { fields: { action: "required" } });
        const parsed = Chat.parseAction(b.action, b);
        if (!parsed.ok) return refusalResponse(parsed);
        return respond(await chat.moderate(actor, s, parsed.value));
      }))
      .get("/streams/:slug/review-queue", guarded(d, "moderation", (_a, { params, query }) => {
        const s = stream(params.slug!);
        if (!s) return apiError("not_found", `no stream ${params.slug}`);
        const p = parsePaging(query);
        if (p instanceof Response) return p;
        const status = query.status ?? "pending";
        if (!["pending", "approved", "denied", "escalated", "expired", "all"].includes(status)) return apiError("invalid_payload", "status: pending, approved, denied, escalated, expired or all");
        return json(200, page(chat.listQueue(s, status === "all" ? null : status, p.after, p.limit + 1), p.limit, (r) => r.id, chat.queueView));
      }))
      .post("/review-queue/:id/approve", guarded(d, "moderation", decide("approve")))
      .post("/review-queue/:id/deny", guarded(d, "moderation", decide("deny")))
      .post("/review-queue/:id/escalate", guarded(d, "moderation", decide("escalate")))
      .get("/streams/:slug/audit", guarded(d, "moderation", (_a, { params, query }) => {
        const s = stream(params.slug!);
        if (!s) return apiError("not_found", `no stream ${params.slug}`);
        const p = parsePaging(query, "int");
        if (p instanceof Response) return p;
        const time = (k: string) => (query[k] === undefined ? undefined : parseRfc3339(query[k]!));
        const from = time("from");
        const to = time("to");
        if (Number.isNaN(from) || Number.isNaN(to)) {
          const fields: Record<string, string> = {};
          for (const [k, v] of [["from", from], ["to", to]] as const) if (Number.isNaN(v)) fields[k] = "an RFC 3339 timestamp with its offset, e.g. 2026-11-28T04:01:58.123Z";
          return apiError("invalid_payload", "from, to: RFC 3339 timestamps", { fields });
        }
        const format = query.format ?? "json";
        if (format !== "json" && format !== "csv") return apiError("invalid_payload", "format: json or csv");
        const q = { streamId: s.id, action: query.action, from, to };
        if (format === "csv") {
          const pages = (afterId: number) => {
            const rows = d.audit.list({ ...q, afterId, limit: 1000 });
            return { rows, cursor: rows.length ? Number(rows[rows.length - 1]!.id) : afterId };
          };
          return new Response(
            streamPages(0, pages, (r) => csvRow([r.id, r.at, r.actor.type, r.actor.id, r.action, r.target?.type, r.target?.id, r.reason, r.data]), csvRow(["id", "at", "actor_type", "actor_id", "action", "target_type", "target_id", "reason", "data"])),
            { headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${s.slug}-audit.csv"` } },
          );
        }
        const rows = d.audit.list({ ...q, afterId: p.after ? Number(p.after) : undefined, limit: p.limit + 1 });
        return json(200, page(rows, p.limit, (r) => r.id));
      }))
      // ---- polls ----
      .post("/streams/:slug/polls", guarded(d, "moderation", async (actor, { params, body }) => {
        const s = stream(params.slug!);
        if (!s) return apiError("not_found", `no stream ${params.slug}`);
        const b = objectBody(body);
        if (b instanceof Response) return b;
        return respond(await d.polls.openPoll(actor, s, b), 201);
      }))
      .get("/streams/:slug/polls", guarded(d, "moderation", (_a, { params, query }) => {
        const s = stream(params.slug!);
        if (!s) return apiError("not_found", `no stream ${params.slug}`);
        const p = parsePaging(query);
        if (p instanceof Response) return p;
        return json(200, page(d.polls.list(s, p.after, p.limit + 1), p.limit, (x) => x.id));
      }))
      .get("/polls/:id", guarded(d, "moderation", (_a, { params }) => {
        const found = d.polls.find(params.id!);
        return found ? json(200, found.poll) : apiError("not_found", `no poll ${params.id}`);
      }))
      .post("/polls/:id/close", guarded(d, "moderation", async (actor, { params }) => respond(await d.polls.closePoll(actor, params.id!))))
      // ---- broadcasts: segments and analytics ----
      .post("/broadcasts/:id/segments", guarded(d, "streams", (actor, { params, body }) => {
        const b = objectBody(body);
        return b instanceof Response ? b : respond(streams.markSegment(actor, params.id!, b), 201);
      }))
      .get("/streams/:slug/analytics/live", guarded(d, "analytics", async (_a, { params }) => {
        const s = stream(params.slug!);
        return s ? json(200, await d.analytics.liveMetricsSettled(s)) : apiError("not_found", `no stream ${params.slug}`);
      }))
      .get("/broadcasts/:id/report", guarded(d, "analytics", async (_a, { params }) => respond(await d.analytics.report(params.id!))))
      .get("/broadcasts/:id/series", guarded(d, "analytics", async (_a, { params, query }) => {
        const r = await d.analytics.series(params.id!, query);
        if (!r.ok) return refusalResponse(r);
        const format = query.format ?? "json";
        const name = `${params.id}-${query.metric}`;
        if (format === "parquet") {
          return new Response(new Uint8Array(r.value.parquet!), { headers: { "content-type": "application/vnd.apache.parquet", "content-disposition": `attachment; filename="${name}.parquet"` } });
        }
        if (format === "csv") {
          const cols = ["t", ...(query.group_by ? [query.group_by] : []), "value"];
          const text = csvRow(cols) + r.value.rows.map((row) => csvRow(cols.map((c) => row[c] as string | number | null))).join("");
          return new Response(text, { headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${name}.csv"` } });
        }
        return json(200, { metric: query.metric, data: r.value.rows });
      }))
      // ---- accounts and keys ----
      .post("/accounts", guarded(d, "admin", async (actor, { body }) => respond(await accounts.create(actor, body), 201)))
      .get("/accounts", guarded(d, "admin", (_a, { query }) => {
        const p = parsePaging(query);
        if (p instanceof Response) return p;
        return json(200, page(accounts.list(p.after, p.limit + 1), p.limit, (a) => a.id, accountView));
      }))
      .patch("/accounts/:username", guarded(d, "admin", async (actor, { params, body }) => respond(await accounts.update(actor, params.username!, body))))
      .post("/api-keys", guarded(d, "admin", (actor, { body }) => respond(accounts.createApiKey(actor, body), 201)))
      .get("/api-keys", guarded(d, "admin", (_a, { query }) => {
        const p = parsePaging(query);
        if (p instanceof Response) return p;
        return json(200, page(accounts.listApiKeys(p.after, p.limit + 1), p.limit, (k) => k.id));
      }))
      .delete("/api-keys/:id", guarded(d, "admin", (actor, { params }) => respond(accounts.revokeApiKey(actor, params.id!))))
      // ---- viewers ----
      .post("/viewers/:id/revoke", guarded(d, "admin", (actor, { params }) => respond(viewers.revoke(actor, params.id!))))
      .delete("/viewers/:id/data", guarded(d, "admin", async (actor, { params }) => {
        const id = params.id!; // (Elysia decoded it already: a second decode would turn "a%41" into "aA")
        const r = await chat.eraseViewer(actor, id);
        if (!r.ok) return refusalResponse(r);
        // Analytics rows keep their counts under an anonymous key. DuckDB is not in SQLite's
        // transaction: the request to rename them is (chat's erasers), and is applied after. A worker
        // down or slow: 202, and it is applied when the worker is back (or at the next start).
        const done = await d.analytics.erasureSettled(id, d.eraseWaitMs ?? 10_000);
        return json(done ? 200 : 202, { ...r.value, analytics: done ? "anonymised" : "pending" });
      }))
  );
}
