// Text rules shared by every domain: lengths in grapheme clusters and UTF-8 bytes, well-formed
// Unicode, NFC, and no control, bidi-override or zero-width characters where they would deceive.
import emojiRegex from "emoji-regex";
import { refuse, type Refusal } from "./errors.ts";

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const encoder = new TextEncoder();

export function graphemeCount(s: string): number {
  let n = 0;
  for (const _ of segmenter.segment(s)) n++;
  return n;
}

export function byteLength(s: string): number {
  return encoder.encode(s).length;
}

// C0/C1 controls except tab/newline, and the bidi embedding/override/isolate controls.
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;
const LINE_BREAKS = /[\t\n\r\u2028\u2029]/;
// Names also refuse invisible characters (zero-width space/non-joiner, marks, word joiner, BOM,
// fillers). The zero-width JOINER stays: emoji sequences such as 🏳️‍🌈 need it.
const INVISIBLE = /[\u200B\u200C\u200E\u200F\u2060-\u2064\uFEFF\u00AD\u034F\u115F\u1160\u3164]/;

export interface TextLimits {
  graphemes: number;
  bytes: number;
  allowEmpty?: boolean;
  singleLine?: boolean;
  noInvisible?: boolean;
}

/** Trims, checks well-formedness, normalizes to NFC and checks limits. */
export function cleanText(raw: unknown, field: string, limits: TextLimits): { ok: true; value: string } | Refusal {
  if (typeof raw !== "string") return refuse("invalid_payload", `${field} must be a string`, { fields: { [field]: "must be a string" } });
  if (!raw.isWellFormed()) return refuse("invalid_text", `${field} is not well-formed Unicode`, { fields: { [field]: "malformed Unicode" } });
  const value = raw.trim().normalize("NFC");
  if (CONTROL.test(value) || (limits.singleLine && LINE_BREAKS.test(value)) || (limits.noInvisible && INVISIBLE.test(value))) {
    return refuse("invalid_text", `${field} contains control, bidi-override, line-break or invisible characters`, { fields: { [field]: "contains control characters" } });
  }
  if (value.length === 0 && !limits.allowEmpty) return refuse("empty", `${field} is empty`, { fields: { [field]: "is empty" } });
  if (graphemeCount(value) > limits.graphemes || byteLength(value) > limits.bytes) {
    return refuse("too_long", `${field} is longer than ${limits.graphemes} characters or ${limits.bytes} bytes`, {
      fields: { [field]: `at most ${limits.graphemes} characters` },
    });
  }
  return { ok: true, value };
}

export const LIMITS = {
  displayName: { graphemes: 30, bytes: 120, singleLine: true, noInvisible: true },
  title: { graphemes: 140, bytes: 560, singleLine: true, noInvisible: true },
  chat: { graphemes: 500, bytes: 2048, singleLine: true },
  reason: { graphemes: 500, bytes: 2048, allowEmpty: true },
  announcement: { graphemes: 500, bytes: 2048 },
  pollQuestion: { graphemes: 60, bytes: 240, singleLine: true, noInvisible: true },
  pollOption: { graphemes: 25, bytes: 100, singleLine: true, noInvisible: true },
  segment: { graphemes: 40, bytes: 160, singleLine: true, noInvisible: true },
  apiKeyName: { graphemes: 100, bytes: 400, singleLine: true, noInvisible: true },
} satisfies Record<string, TextLimits>;

// emoji-regex is generated from Unicode's emoji data (RGI sequences) and kept current upstream.
const EMOJI_SOURCE = emojiRegex().source;
const ONE_EMOJI = new RegExp(`^(?:${EMOJI_SOURCE})$`);
const ALL_EMOJI = new RegExp(EMOJI_SOURCE, "g");

/** Exactly one RGI emoji. */
export function isEmoji(s: string): boolean {
  return ONE_EMOJI.test(s);
}

/** Only emoji and whitespace, at least one emoji (emote-only mode). */
export function isEmoteOnly(s: string): boolean {
  const rest = s.replace(ALL_EMOJI, "");
  return rest.length < s.length && /^\s*$/.test(rest);
}
