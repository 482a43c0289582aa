// The OpenAPI 3.1 description of the JSON API, served at /api/openapi.json and rendered as a plain
// page at /api/docs (no CDN, no script). Hand-written next to the routes: when a route changes,
// change its entry here; tests/unit/openapi.test.ts checks that every route is documented (paths and
// methods; the query parameters are kept by hand).
import { Elysia } from "elysia";
import { SCOPES } from "../../actor.ts";
import { defaultSettings } from "../../streams/settings.ts";

type Op = {
  summary: string;
  scope: (typeof SCOPES)[number];
  body?: Record<string, unknown>;
  /** The body may be left out (all its fields are optional). */
  bodyOptional?: boolean;
  status: number;
  /** Other success statuses, with what they mean. */
  also?: Record<number, string>;
  query?: string[];
};

const str = { type: "string" };
const paging = ["cursor", "limit"];

export const ROUTES: Record<string, Partial<Record<"get" | "post" | "patch" | "put" | "delete", Op>>> = {
  "/api/v1/streams": {
    post: { summary: "Create a stream", scope: "streams", status: 201, body: { slug: { type: "string", pattern: "^[a-z0-9-]{3,64}$" }, title: str, owner: { type: "string", description: "an account username" }, settings: { $ref: "#/components/schemas/Settings" } } },
    get: { summary: "List streams", scope: "streams", status: 200, query: paging },
  },
  "/api/v1/streams/{slug}": {
    get: { summary: "Read a stream", scope: "streams", status: 200 },
    patch: { summary: "Change title and settings (partial); public changes broadcast stream:update", scope: "streams", status: 200, body: { title: str, settings: { $ref: "#/components/schemas/Settings" } } },
  },
  "/api/v1/streams/{slug}/live": { post: { summary: "Go live: starts a broadcast ({id, started_at})", scope: "streams", status: 201 } },
  "/api/v1/streams/{slug}/end": { post: { summary: "End the current broadcast", scope: "streams", status: 200 } },
  "/api/v1/streams/{slug}/moderators/{username}": {
    put: { summary: "Assign a moderator", scope: "admin", status: 200 },
    delete: { summary: "Remove a moderator", scope: "admin", status: 200 },
  },
  "/api/v1/streams/{slug}/moderation": {
    post: {
      summary: "Moderator action, audited: delete a message, clear a user's (or all) messages, timeout 1 s..14 days, ban, unban, announce",
      scope: "moderation", status: 200,
      body: { action: { type: "string", enum: ["delete", "clear", "timeout", "ban", "unban", "announce"] }, seq: { type: "integer" }, user_id: str, duration_s: { type: "integer" }, reason: str, body: str },
    },
  },
  "/api/v1/streams/{slug}/chat": {
    get: { summary: "Chat history (tombstones included), paged or exported: format=json|ndjson|csv", scope: "moderation", status: 200, query: ["after_seq", "before_seq", "cursor", "limit", "format"] },
  },
  "/api/v1/streams/{slug}/review-queue": {
    get: { summary: "Review queue items (held messages and viewers' reports); status=pending|approved|denied|escalated|expired|all", scope: "moderation", status: 200, query: ["status", ...paging] },
  },
  "/api/v1/streams/{slug}/polls": {
    post: { summary: "Open a poll (one open poll per stream, else 409 conflict); broadcasts poll:open; audited", scope: "moderation", status: 201, body: { question: { type: "string", description: "at most 60 characters" }, options: { type: "array", items: { type: "string", description: "at most 25 characters" }, minItems: 2, maxItems: 5 }, duration_s: { type: "integer", minimum: 15, maximum: 1800 } } },
    get: { summary: "A stream's polls, newest first, with tallies (final once closed)", scope: "moderation", status: 200, query: paging },
  },
  "/api/v1/polls/{id}": { get: { summary: "Read a poll: {id, question, options, tallies, total, opened_at, closes_at, status, winner}", scope: "moderation", status: 200 } },
  "/api/v1/polls/{id}/close": { post: { summary: "Close a poll early; broadcasts poll:close with final tallies and winner; audited", scope: "moderation", status: 200 } },
  "/api/v1/broadcasts/{id}/segments": { post: { summary: "Mark the content segment in force from now on (while live); audited", scope: "streams", status: 201, body: { label: { type: "string", description: "at most 40 characters" } } } },
  "/api/v1/streams/{slug}/analytics/live": { get: { summary: "Live numbers: concurrent and peak viewers, chat and reactions per minute, unique chatters, messages, reactions, average sentiment, segment", scope: "analytics", status: 200 } },
  "/api/v1/broadcasts/{id}/report": { get: { summary: "Post-broadcast report: peak/average concurrent viewers, unique viewers, watch time, average view duration, retention curve, biggest drop-offs, chat, reactions by emoji, votes, top moments, by country, by segment", scope: "analytics", status: 200 } },
  "/api/v1/broadcasts/{id}/series": { get: { summary: "One metric over time: metric (concurrent_viewers, joins, leaves, chat_messages, unique_chatters, reactions, votes, sentiment, watch_time_s), bucket_s (a multiple of the aggregation window), from, to, country, segment, group_by (country|segment), format (json|csv|parquet)", scope: "analytics", status: 200, query: ["metric", "bucket_s", "from", "to", "country", "segment", "group_by", "format"] } },
  "/api/v1/review-queue/{id}/approve": { post: { summary: "Approve: a held message is published with a new seq (sender notified held_approved); a report is upheld: the message is deleted, and with timeout_s or ban its author is timed out or banned", scope: "moderation", status: 200, body: { reason: str, timeout_s: { type: "integer", minimum: 1, maximum: 1209600, description: "reports only" }, ban: { type: "boolean", description: "reports only" } }, bodyOptional: true } },
  "/api/v1/review-queue/{id}/deny": { post: { summary: "Deny: a held message is dropped (sender notified held_denied); a report is dismissed", scope: "moderation", status: 200, body: { reason: str }, bodyOptional: true } },
  "/api/v1/review-queue/{id}/escalate": { post: { summary: "Escalate to admins", scope: "moderation", status: 200, body: { reason: str }, bodyOptional: true } },
  "/api/v1/streams/{slug}/audit": {
    get: { summary: "The stream's audit trail; filters from, to (RFC 3339), action; format=json|csv", scope: "moderation", status: 200, query: ["from", "to", "action", "format", ...paging] },
  },
  "/api/v1/accounts": {
    post: { summary: "Create a dashboard account", scope: "admin", status: 201, body: { username: str, password: str, role: { type: "string", enum: ["admin", "creator", "moderator"] }, viewer_id: str } },
    get: { summary: "List accounts", scope: "admin", status: 200, query: paging },
  },
  "/api/v1/accounts/{username}": {
    patch: { summary: "Change role or password, link (viewer_id) or unlink (null) a viewer id", scope: "admin", status: 200, body: { role: str, password: str, viewer_id: { type: ["string", "null"] } } },
  },
  "/api/v1/api-keys": {
    post: { summary: "Create an API key (the key is shown once)", scope: "admin", status: 201, body: { name: str, scopes: { type: "array", items: { type: "string", enum: [...SCOPES] } } } },
    get: { summary: "List API keys (never the keys themselves)", scope: "admin", status: 200, query: paging },
  },
  "/api/v1/api-keys/{id}": { delete: { summary: "Revoke an API key", scope: "admin", status: 200 } },
  "/api/v1/viewers/{id}/revoke": { post: { summary: "Revoke a viewer: sockets closed with 1008, older tokens refused", scope: "admin", status: 200 } },
  "/api/v1/viewers/{id}/data": { delete: { summary: "Erase a viewer's data: messages become tombstones, held items, nonces and poll votes go, analytics rows are anonymised; audited", scope: "admin", status: 200, also: { 202: "done except the analytics part (analytics: pending): the analytics store is slow or down; it is applied when it is back, or at the next start" } } },
};

export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, ops] of Object.entries(ROUTES)) {
    paths[path] = {};
    for (const [method, op] of Object.entries(ops)) {
      const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: str }));
      for (const q of op.query ?? []) params.push({ name: q, in: "query", required: false, schema: str });
      paths[path]![method] = {
        summary: op.summary,
        description: `Scope: \`${op.scope}\`.`,
        security: [{ bearer: [] }, { session: [] }],
        parameters: params,
        ...(op.body ? { requestBody: { required: !op.bodyOptional, content: { "application/json": { schema: { type: "object", properties: op.body, additionalProperties: false } } } } } : {}),
        responses: {
          [op.status]: { description: "success" },
          ...Object.fromEntries(Object.entries(op.also ?? {}).map(([code, description]) => [code, { description }])),
          default: { description: "error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
        },
      };
    }
  }
  return {
    openapi: "3.1.0",
    info: { title: "Hubbub JSON API", version: "1", description: "The host platform's API. Viewer sockets are described in docs/SOCKET.md." },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "an API key (or HUBBUB_ADMIN_API_KEY)" },
        session: { type: "apiKey", in: "cookie", name: "hubbub_session", description: "a dashboard session (`__Host-hubbub_session` behind TLS); state changes also send its X-CSRF-Token; creators and moderators reach only their streams" },
      },
      schemas: {
        Error: {
          type: "object",
          properties: { error: { type: "object", properties: { code: str, message: str, fields: { type: "object", additionalProperties: str }, retry_after_ms: { type: "integer" } }, required: ["code", "message"] } },
        },
        Settings: { type: "object", description: "Any subset of the stream settings; defaults shown.", example: defaultSettings() },
      },
    },
  };
}

export function openApiRoutes() {
  const doc = openApiDocument();
  const esc = (s: string) => Bun.escapeHTML(s);
  const rows = Object.entries(ROUTES)
    .flatMap(([path, ops]) =>
      Object.entries(ops).map(
        ([method, op]) =>
          `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${esc(path)}</code></td><td>${esc(op.summary)}</td><td>${op.scope}</td><td>${op.body ? `<code>${esc(Object.keys(op.body).join(", "))}</code>` : ""}</td><td>${[op.status, ...Object.keys(op.also ?? {})].join(", ")}</td></tr>`,
      ),
    )
    .join("\n");
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Hubbub API</title><style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;color:#1d1d27}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.4rem .6rem;text-align:left;vertical-align:top}code{background:#f1f0f6;padding:.1em .3em;border-radius:4px}</style></head>
<body><h1>Hubbub JSON API v1</h1>
<p>Send <code>Authorization: Bearer &lt;api key&gt;</code>. Errors: <code>{"error": {"code", "message", "fields"?}}</code>. Lists: <code>{"data": [...], "next_cursor"}</code> with <code>cursor</code> and <code>limit</code> (1..1000). Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a>.</p>
<table><thead><tr><th>method</th><th>path</th><th>what</th><th>scope</th><th>body</th><th>status</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>`;
  return new Elysia()
    .get("/api/openapi.json", () => new Response(JSON.stringify(doc), { headers: { "content-type": "application/json" } }))
    .get("/api/docs", () => new Response(html, { headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'" } }));
}
