// JSON API v1. Routes authenticate, check the scope, call one domain verb and map its result; they
// never touch SQL. PRODUCT.md lists the routes; the error shape is `{error: {code, message, fields?}}`.
import { Elysia } from "elysia";
import type { Accounts } from "../../accounts/index.ts";
import { accountView } from "../../accounts/index.ts";
import type { Actor, Scope } from "../../actor.ts";
import type { Result } from "../../errors.ts";
import type { Streams } from "../../streams/index.ts";
import type { Viewers } from "../../viewers/index.ts";
import { apiError, json, page, parsePaging, refusalResponse } from "../http-util.ts";

export interface ApiDeps {
  accounts: Accounts;
  streams: Streams;
  viewers: Viewers;
}

type Ctx = { request: Request; params: Record<string, string>; query: Record<string, string | undefined>; body: unknown };

/** Resolves the bearer key, checks the scope, then runs the handler with the actor. */
function guarded(d: ApiDeps, scope: Scope, handler: (actor: Actor, ctx: Ctx) => Response | Promise<Response>) {
  return (ctx: Ctx) => {
    const auth = ctx.request.headers.get("authorization");
    const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
    if (!m) return apiError("unauthenticated", "send Authorization: Bearer <api key>");
    const actor = d.accounts.authenticateApiKey(m[1]!);
    if (!actor) return apiError("unauthenticated", "unknown or revoked API key");
    if (actor.type === "api_key" && !actor.scopes.includes(scope) && !actor.scopes.includes("admin")) {
      return apiError("forbidden", `this key lacks the ${scope} scope`);
    }
    return handler(actor, ctx);
  };
}

function respond<T>(r: Result<T>, status = 200, render: (v: T) => unknown = (v) => v): Response {
  return r.ok ? json(status, render(r.value)) : refusalResponse(r);
}

function objectBody(body: unknown): Record<string, unknown> | Response {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return apiError("invalid_payload", "send a JSON object with content-type application/json");
  return body as Record<string, unknown>;
}

export function apiRoutes(d: ApiDeps) {
  const { accounts, streams, viewers } = d;
  return (
    new Elysia({ prefix: "/api/v1" })
      // ---- streams ----
      .post("/streams", guarded(d, "streams", (actor, { body }) => {
        const b = objectBody(body);
        if (b instanceof Response) return b;
        return respond(streams.create(actor, b), 201, (s) => streams.apiView(s));
      }))
      .get("/streams", guarded(d, "streams", (_a, { query }) => {
        const p = parsePaging(query);
        if (p instanceof Response) return p;
        return json(200, page(streams.list(p.after, p.limit + 1), p.limit, (s) => s.id, (s) => streams.apiView(s)));
      }))
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
      .put("/streams/:slug/moderators/:username", guarded(d, "admin", (actor, { params }) => respond(streams.setModerator(actor, params.slug!, params.username!, true))))
      .delete("/streams/:slug/moderators/:username", guarded(d, "admin", (actor, { params }) => respond(streams.setModerator(actor, params.slug!, params.username!, false))))
      // ---- moderation (announce now; the chat issue adds delete, clear, timeout, ban, unban) ----
      .post("/streams/:slug/moderation", guarded(d, "moderation", (actor, { params, body }) => {
        const b = objectBody(body);
        if (b instanceof Response) return b;
        const extra = Object.keys(b).filter((k) => k !== "action" && k !== "body");
        if (b.action !== "announce") return apiError("invalid_payload", "action: only announce is available until chat moderation lands", { fields: { action: "announce" } });
        if (extra.length) return apiError("invalid_payload", "unknown fields", { fields: Object.fromEntries(extra.map((k) => [k, "unknown field"])) });
        return respond(streams.announce(actor, params.slug!, b.body));
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
      .post("/viewers/:id/revoke", guarded(d, "admin", (actor, { params }) => respond(viewers.revoke(actor, decodeURIComponent(params.id!)))))
  );
}
