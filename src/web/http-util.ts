// JSON responses and the API error shape `{error: {code, message, fields?}}`.
import { HTTP_STATUS, type ErrorCode, type Refusal } from "../errors.ts";

/** On every response we build, errors included (Elysia's after-handle hooks skip errors). */
export const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
};

export function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8", ...SECURITY_HEADERS, ...headers } });
}

export function apiError(code: ErrorCode, message: string, extra?: { fields?: Record<string, string>; retryAfterMs?: number; status?: number }): Response {
  const error: Record<string, unknown> = { code, message };
  if (extra?.fields) error.fields = extra.fields;
  const headers: Record<string, string> = {};
  if (extra?.retryAfterMs !== undefined) {
    error.retry_after_ms = extra.retryAfterMs;
    headers["retry-after"] = String(Math.max(1, Math.ceil(extra.retryAfterMs / 1000)));
  }
  return json(extra?.status ?? HTTP_STATUS[code], { error }, headers);
}

export function refusalResponse(r: Refusal): Response {
  return apiError(r.code, r.message, { fields: r.fields, retryAfterMs: r.retryAfterMs });
}

/** `{data, next_cursor}` pages; the cursor is the last row's id, opaque to clients. */
export function page<T>(rows: T[], limit: number, idOf: (row: T) => string, render: (row: T) => unknown = (r) => r) {
  const more = rows.length > limit;
  const slice = more ? rows.slice(0, limit) : rows;
  const last = slice[slice.length - 1];
  return { data: slice.map(render), next_cursor: more && last ? Buffer.from(idOf(last)).toString("base64url") : null };
}

const CURSOR_SHAPES = { id: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, int: /^\d{1,15}$/ } as const;

/** `cursor` decodes to the kind of key the list pages by: a row id (UUIDv7) or a row number. */
export function parsePaging(query: Record<string, string | undefined>, key: keyof typeof CURSOR_SHAPES = "id"): { after: string | null; limit: number } | Response {
  let limit = 50;
  if (query.limit !== undefined) {
    if (!/^\d+$/.test(query.limit) || Number(query.limit) < 1 || Number(query.limit) > 1000) {
      return apiError("invalid_payload", "limit: an integer from 1 to 1000", { fields: { limit: "1 to 1000" } });
    }
    limit = Number(query.limit);
  }
  let after: string | null = null;
  if (query.cursor) {
    after = Buffer.from(query.cursor, "base64url").toString();
    if (!CURSOR_SHAPES[key].test(after)) return apiError("invalid_payload", "cursor is not valid", { fields: { cursor: "not a cursor from this API" } });
  }
  return { after, limit };
}
