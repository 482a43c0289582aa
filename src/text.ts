// Text rules shared by every domain: lengths in grapheme clusters and UTF-8 bytes, well-formed
// Unicode, NFC, and no control, bidi-override or zero-width characters where they would deceive.
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
// Names additionally refuse newlines, tabs and invisible characters (zero-width, word joiner, BOM).
const NAME_EXTRA = /[\t\n\r\u200B-\u200F\u2060-\u2064\uFEFF\u00AD\u034F\u115F\u1160\u3164]/;

export interface TextLimits {
  graphemes: number;
  bytes: number;
  allowEmpty?: boolean;
  singleLine?: boolean;
}

/** Trims, checks well-formedness, normalizes to NFC and checks limits. */
export function cleanText(raw: unknown, field: string, limits: TextLimits): { ok: true; value: string } | Refusal {
  if (typeof raw !== "string") return refuse("invalid_payload", `${field} must be a string`, { fields: { [field]: "must be a string" } });
  if (!raw.isWellFormed()) return refuse("invalid_text", `${field} is not well-formed Unicode`, { fields: { [field]: "malformed Unicode" } });
  const value = raw.trim().normalize("NFC");
  if (CONTROL.test(value) || (limits.singleLine && NAME_EXTRA.test(value))) {
    return refuse("invalid_text", `${field} contains control, bidi-override or invisible characters`, { fields: { [field]: "contains control characters" } });
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
  displayName: { graphemes: 30, bytes: 120, singleLine: true },
  title: { graphemes: 140, bytes: 560, singleLine: true },
  reason: { graphemes: 500, bytes: 2048, allowEmpty: true },
  announcement: { graphemes: 500, bytes: 2048 },
} satisfies Record<string, TextLimits>;

const RGI_EMOJI = /^\p{RGI_Emoji}$/v;
/** One RGI emoji (Unicode's own emoji data, built into the regex engine). */
export function isEmoji(s: string): boolean {
  return RGI_EMOJI.test(s);
}
