// Per-stream settings: defaults, validation of a PATCH, and the public view's `modes`. Pure.
import { ok, refuse, type Result } from "../errors.ts";
import { isRegexTerm, regexTermProblem } from "../moderation/regex-terms.ts";
import { isEmoji } from "../text.ts";

export interface RateLimit {
  messages: number;
  per_s: number;
}

export interface Settings {
  slow_mode_s: number;
  members_only: boolean;
  emote_only: boolean;
  unique_chat: boolean;
  chat_closed: boolean;
  chat_delay_s: number;
  rate_limit: RateLimit;
  moderator_rate_limit: RateLimit;
  guests: { react: boolean; chat: boolean; vote: boolean };
  reactions: string[];
  reaction_rate: number;
  reaction_window_ms: number;
  recovery_window: number;
  presence_list_max: number;
  automod_level: number;
  blocked_terms: string[];
  link_policy: "allow" | "hold" | "block";
  allowed_domains: string[];
  review_expiry_s: number;
  chat_retention_days: number;
  playback_url: string | null;
}

export function defaultSettings(): Settings {
  return {
    slow_mode_s: 0,
    members_only: false,
    emote_only: false,
    unique_chat: false,
    chat_closed: false,
    chat_delay_s: 0,
    rate_limit: { messages: 20, per_s: 30 },
    moderator_rate_limit: { messages: 100, per_s: 30 },
    guests: { react: true, chat: false, vote: false },
    reactions: ["❤️", "🔥", "😂", "👏", "😮", "🎉"],
    reaction_rate: 10,
    reaction_window_ms: 1000,
    recovery_window: 1000,
    presence_list_max: 1000,
    automod_level: 2,
    blocked_terms: [],
    link_policy: "hold",
    allowed_domains: [],
    review_expiry_s: 600,
    chat_retention_days: 90,
    playback_url: null,
  };
}

type Check = (v: unknown) => string | null; // null: valid, else what was expected

const int = (min: number, max: number, also: number[] = []): Check => (v) =>
  typeof v === "number" && Number.isInteger(v) && ((v >= min && v <= max) || also.includes(v)) ? null : `an integer from ${min} to ${max}${also.length ? ` (or ${also.join(", ")})` : ""}`;
const bool: Check = (v) => (typeof v === "boolean" ? null : "true or false");
const oneOf = (values: unknown[]): Check => (v) => (values.includes(v) ? null : `one of ${values.join(", ")}`);
const rate: Check = (v) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "{messages, per_s}";
  const r = v as Record<string, unknown>;
  if (Object.keys(r).some((k) => k !== "messages" && k !== "per_s")) return "{messages, per_s} with no other field";
  return int(1, 10000)(r.messages) === null && int(1, 3600)(r.per_s) === null ? null : "{messages: 1..10000, per_s: 1..3600}";
};
const guests: Check = (v) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "{react, chat, vote} booleans";
  const g = v as Record<string, unknown>;
  const keys = Object.keys(g);
  return keys.length === 3 && ["react", "chat", "vote"].every((k) => typeof g[k] === "boolean") ? null : "{react, chat, vote} booleans";
};
const reactions: Check = (v) =>
  Array.isArray(v) && v.length >= 1 && v.length <= 20 && v.every((e) => typeof e === "string" && isEmoji(e)) && new Set(v).size === v.length
    ? null
    : "1 to 20 distinct emoji";
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const domains: Check = (v) =>
  Array.isArray(v) && v.length <= 500 && v.every((d) => typeof d === "string" && DOMAIN.test(d)) ? null : "a list of up to 500 lower-case domain names";
const blockedTerms: Check = (v) => {
  if (!Array.isArray(v) || v.length > 1000) return "a list of up to 1000 terms";
  for (const t of v) {
    if (typeof t !== "string" || t.length < 2 || t.length > 500) return "terms of 2 to 500 characters";
    if (isRegexTerm(t)) {
      const problem = regexTermProblem(t);
      if (problem) return problem;
    } else if (/\S\*\S/.test(t)) return "`*` only at a word's start or end";
  }
  return null;
};
const playbackUrl: Check = (v) => {
  if (v === null) return null;
  if (typeof v !== "string" || v.length > 2048) return "null or an http(s) URL";
  try {
    const u = new URL(v);
    return u.protocol === "http:" || u.protocol === "https:" ? null : "null or an http(s) URL";
  } catch {
    return "null or an http(s) URL";
  }
};

const CHECKS: Record<keyof Settings, Check> = {
  slow_mode_s: int(3, 120, [0]),
  members_only: bool,
  emote_only: bool,
  unique_chat: bool,
  chat_closed: bool,
  chat_delay_s: oneOf([0, 2, 4, 6]),
  rate_limit: rate,
  moderator_rate_limit: rate,
  guests,
  reactions,
  reaction_rate: int(1, 1000),
  reaction_window_ms: int(250, 5000),
  recovery_window: int(0, 100000),
  presence_list_max: int(0, 20000),
  automod_level: int(0, 4),
  blocked_terms: blockedTerms,
  link_policy: oneOf(["allow", "hold", "block"]),
  allowed_domains: domains,
  review_expiry_s: int(60, 86400),
  chat_retention_days: int(1, 3650, [0]),
  playback_url: playbackUrl,
};

/** Applies a partial settings object; every bad field is named with what it expects. */
export function applySettingsPatch(current: Settings, patch: unknown): Result<Settings> {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return refuse("invalid_payload", "settings must be an object");
  const fields: Record<string, string> = {};
  const next = structuredClone(current) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    const check = CHECKS[k as keyof Settings];
    if (!check || !Object.hasOwn(CHECKS, k)) {
      fields[`settings.${k}`] = "unknown setting";
      continue;
    }
    const problem = check(v);
    if (problem) fields[`settings.${k}`] = `expected ${problem}`;
    else next[k] = structuredClone(v);
  }
  if (Object.keys(fields).length) return refuse("invalid_payload", "invalid settings", { fields });
  return ok(next as unknown as Settings);
}

/** Stored settings merged over defaults, so settings added by later migrations get their default. */
export function readSettings(json: string): Settings {
  return { ...defaultSettings(), ...(JSON.parse(json) as Partial<Settings>) };
}

export function modesOf(s: Settings) {
  return {
    slow_mode_s: s.slow_mode_s,
    members_only: s.members_only,
    emote_only: s.emote_only,
    unique_chat: s.unique_chat,
    chat_delay_s: s.chat_delay_s,
    chat_closed: s.chat_closed,
  };
}
