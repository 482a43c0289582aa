// Normalization: the first step of the pipeline, so that evasions meet the rules. Pure.
// - `plain`: NFKC (fullwidth and styled letters become plain ones), zero-width and invisible
//   characters removed, lower case, accents and stacked marks stripped, look-alike letters from
//   other scripts mapped to Latin, and letters spelled out with separators ("f.r.e.e", "f r e e")
//   joined. The profanity matcher reads this form (it does its own leetspeak and repeat handling).
// - `folded`: `plain` with leetspeak mapped ("fr33" -> "free") and repeated letters collapsed to one
//   ("freeee" -> "fre"). Blocked terms are folded the same way before they are compared.

// Soft hyphen, combining grapheme joiner, Arabic letter mark, Hangul fillers, Khmer vowels inherent,
// Mongolian selectors, zero-width and direction marks, word joiner.. invisible operators, variation
// selectors, BOM, halfwidth Hangul filler, tag characters.
const INVISIBLE = /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0]|\uDB40[\uDC00-\uDC7F]/g;
const MARKS = /\p{M}+/gu;

// Letters from Cyrillic, Greek and IPA/Latin extensions that look like Latin ones (lower case, after
// NFKC). A short, common list: the ones used to dodge filters in practice.
const HOMOGLYPHS: Record<string, string> = {
  "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x",
  "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ʏ": "y", "ɪ": "i", "ᴀ": "a", "ʙ": "b", "ᴄ": "c",
  "ᴅ": "d", "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s",
  "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z", "ı": "i", "ɩ": "i", "ℓ": "l", "ƒ": "f",
  "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "γ": "y", "μ": "u",
};
const HOMOGLYPH_RE = new RegExp(`[${Object.keys(HOMOGLYPHS).join("")}]`, "gu");

const LEET: Record<string, string> = { "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e", "£": "l", "¢": "c" };
// Digits anywhere in such a word; symbols only before a letter or digit ("sh!t", "$hit"), so that
// punctuation at a word's end ("badword!") stays punctuation.
const LEET_RE = /[01345789]|[@$!|+€£¢](?=[\p{L}\p{N}])/gu;
// Leetspeak only inside a word that also has letters: "room 101" stays "room 101", "fr33" is "free".
const LEET_WORD = /[\p{L}0134578@$!|+€£¢9]*\p{L}[\p{L}0134578@$!|+€£¢9]*/gu;

// Three or more single letters (or digits used as letters) each followed by one separator: "f.r.e.e".
const SPELLED = /(?<![\p{L}\p{N}])(?:[\p{L}\p{N}@$][\s.\-_*,'~^]){2,}[\p{L}\p{N}@$](?![\p{L}\p{N}])/gu;
const SEPARATORS = /[\s.\-_*,'~^]/g;
const REPEATS = /(\p{L})\1+/gu;

export interface Normalized {
  plain: string;
  /** plain with leetspeak mapped, repeated letters kept: what blocked terms are matched against. */
  leet: string;
  folded: string;
}

export function normalize(text: string): Normalized {
  let t = text.normalize("NFKC").replace(INVISIBLE, "").toLowerCase();
  t = t.normalize("NFD").replace(MARKS, "").normalize("NFC");
  t = t.replace(HOMOGLYPH_RE, (c) => HOMOGLYPHS[c] ?? c);
  t = t.replace(SPELLED, (m) => m.replace(SEPARATORS, ""));
  const plain = t;
  const leet = t.replace(LEET_WORD, (w) => w.replace(LEET_RE, (c) => LEET[c] ?? c));
  return { plain, leet, folded: leet.replace(REPEATS, "$1") };
}

/**
 * A blocked term as a pattern over the `leet` form: each run of k equal letters may be stretched
 * but never shortened ("free" -> f+r+e{2,}), so "FREE", "fr33" and "freeeee" match "free" while
 * "ass" never matches "as" and "good" never matches "god".
 */
export function termPattern(term: string): string {
  const t = normalize(term).leet;
  let out = "";
  for (const m of t.matchAll(/(.)\1*/gsu)) {
    const ch = m[1]!;
    const k = [...m[0]].length;
    const esc = ch.replace(/[.*+?^${}()|[\]\\\/]/g, "\\$&");
    out += /\p{L}/u.test(ch) ? (k === 1 ? `${esc}+` : `${esc}{${k},}`) : esc.repeat(k);
  }
  return out;
}
