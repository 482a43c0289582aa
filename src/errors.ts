// The error codes shared by socket replies (`reason`) and API errors (`error.code`), PRODUCT.md.
// Expected refusals travel as values (Refusal); only bugs throw.
export type ErrorCode =
  | "invalid_payload" | "unknown_event" | "not_found" | "unauthenticated" | "forbidden"
  | "invalid_token" | "token_expired" | "origin_not_allowed" | "banned" | "timed_out"
  | "rate_limited" | "slow_mode" | "too_long" | "empty" | "invalid_text" | "invalid_reply"
  | "members_only" | "emote_only" | "duplicate" | "chat_closed" | "blocked" | "not_allowed"
  | "closed" | "already_voted" | "invalid_option" | "conflict" | "too_large" | "too_many_sockets"
  // Beyond PRODUCT.md's table: storage failed (disk full, I/O); nothing was stored or sent.
  | "unavailable";

export interface Refusal {
  ok: false;
  code: ErrorCode;
  message: string;
  fields?: Record<string, string>;
  retryAfterMs?: number;
}
export type Result<T> = { ok: true; value: T } | Refusal;

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function refuse(code: ErrorCode, message: string, extra?: Partial<Omit<Refusal, "ok" | "code" | "message">>): Refusal {
  return { ok: false, code, message, ...extra };
}

export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_payload: 400, unknown_event: 400, not_found: 404, unauthenticated: 401, forbidden: 403,
  invalid_token: 403, token_expired: 403, origin_not_allowed: 403, banned: 403, timed_out: 403,
  rate_limited: 429, slow_mode: 429, too_long: 400, empty: 400, invalid_text: 400, invalid_reply: 400,
  members_only: 403, emote_only: 400, duplicate: 409, chat_closed: 403, blocked: 403, not_allowed: 400,
  closed: 409, already_voted: 409, invalid_option: 400, conflict: 409, too_large: 413, too_many_sockets: 429,
  unavailable: 503,
};
