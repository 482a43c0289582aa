// The pattern stage: blocked terms and the link policy (every automod level), the profanity
// matcher and spam heuristics (gated by the level in decide.ts). Pure apart from the copy-paste
// detector, which remembers recent messages per stream (see CopyPasta).
import { RegExpMatcher, englishDataset, englishRecommendedTransformers } from "obscenity";
import { parse } from "tldts";
import { isRegexTerm, regexTermProblem } from "./regex-terms.ts";
import emojiRegex from "emoji-regex";
import { termPattern, type Normalized } from "./normalize.ts";

/** The settings the pipeline reads; everything else stays on the main thread. */
export interface ModerationSettings {
  automod_level: number;
  blocked_terms: string[];
  link_policy: "allow" | "hold" | "block";
  allowed_domains: string[];
}

export interface PatternResult {
  blocked: string[]; // reasons that block at every level
  held: string[]; // reasons that hold at every level (link policy "hold")
  scores: Record<string, number>; // profanity, spam_* (0..1), gated by level later
}

// Obscenity's English dataset and its recommended transformers (leetspeak, repeats, case):
// maintained word lists, not ours.
const profanity = new RegExpMatcher({ ...englishDataset.build(), ...englishRecommendedTransformers });

export interface CompiledTerms {
  words: RegExp[]; // plain and wildcard terms, matched against the `leet` form
  regex: RegExp[];
}

const compiledCache = new Map<string, CompiledTerms>();

/** Wildcards: `*` at a word's start or end; `/.../` terms are regular expressions on the plain form. */
export function compileTerms(terms: string[]): CompiledTerms {
  const key = terms.join("\u0000");
  const hit = compiledCache.get(key);
  if (hit) return hit;
  const out: CompiledTerms = { words: [], regex: [] };
  for (const t of terms) {
    if (isRegexTerm(t)) {
      // Settings validation refuses unsafe ones; a stored one from before is skipped, not run.
      if (regexTermProblem(t) === null) out.regex.push(new RegExp(t.slice(1, -1), "iu"));
      continue;
    }
    const pre = t.startsWith("*") ? "\\p{L}*" : "";
    const post = t.endsWith("*") ? "\\p{L}*" : "";
    const core = termPattern(t.replace(/^\*|\*$/g, ""));
    if (!core) continue;
    out.words.push(new RegExp(`(?<![\\p{L}\\p{N}])${pre}${core}${post}(?![\\p{L}\\p{N}])`, "u"));
  }
  if (compiledCache.size > 1000) compiledCache.clear();
  compiledCache.set(key, out);
  return out;
}

// Links: a scheme, "www.", or a host name whose last label is a known public suffix (tldts).
const URLISH = /\b(?:https?:\/\/)?(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+[\p{L}]{2,63}\b(?::\d+)?(?:\/\S*)?/giu;

export function findLinks(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(URLISH)) {
    const host = hostOf(m[0]);
    const p = parse(host, { allowPrivateDomains: true });
    if (p.domain && (p.isIcann || p.isPrivate || /^https?:\/\//i.test(m[0]))) out.push(host);
  }
  return out;
}

function hostOf(link: string): string {
  try {
    return new URL(/^https?:\/\//i.test(link) ? link : `http://${link}`).hostname.toLowerCase();
  } catch {
    return link.toLowerCase();
  }
}

/** Allowed when the host is an allowed domain or under one ("clips.twitch.tv" under "twitch.tv"). */
export function linkAllowed(host: string, allowed: string[]): boolean {
  return allowed.some((d) => host === d || host.endsWith(`.${d}`));
}

const EMOJI = emojiRegex();

/** Spam heuristics, each 0..0.9: enough to hold at the default level, to block only at 3 and 4. */
export function spamScores(text: string): Record<string, number> {
  const scores: Record<string, number> = {};
  const letters = text.match(/\p{L}/gu)?.length ?? 0;
  const upper = text.match(/\p{Lu}/gu)?.length ?? 0;
  if (letters >= 12 && upper / letters >= 0.7) scores.spam_caps = Math.min(0.9, 0.5 + (upper / letters - 0.7) * 1.6);
  const run = longestRun(text);
  if (run >= 10) scores.spam_repeat = Math.min(0.9, 0.5 + (run - 10) / 20);
  const emoji = text.match(EMOJI)?.length ?? 0;
  if (emoji >= 15) scores.spam_emoji = Math.min(0.9, 0.5 + (emoji - 15) / 30);
  return scores;
}

function longestRun(s: string): number {
  let best = 0;
  let n = 0;
  let prev = "";
  for (const c of s) {
    if (c === prev && !/\s/.test(c)) n++;
    else n = 1;
    prev = c;
    if (n > best) best = n;
  }
  return best;
}

/**
 * Copy-paste floods: the same (folded) text from several viewers within a short time. State per
 * stream; the pool routes each stream to one worker, so one instance sees all of a stream's chat.
 */
export class CopyPasta {
  private recent = new Map<string, Map<string, { senders: Set<string>; last: number }>>();
  constructor(
    private windowMs = 60_000,
    private threshold = 3,
  ) {}

  score(streamId: string, sender: string, folded: string, now: number): number {
    if (folded.length < 12) return 0;
    let m = this.recent.get(streamId);
    if (!m) this.recent.set(streamId, (m = new Map()));
    let e = m.get(folded);
    if (!e || now - e.last > this.windowMs) m.set(folded, (e = { senders: new Set(), last: now }));
    e.senders.add(sender);
    e.last = now;
    if (m.size > 5000) for (const [k, v] of m) if (now - v.last > this.windowMs) m.delete(k);
    return e.senders.size >= this.threshold ? Math.min(0.9, 0.8 + 0.05 * (e.senders.size - this.threshold)) : 0;
  }
}

export function patternStage(text: string, n: Normalized, s: ModerationSettings): PatternResult {
  const r: PatternResult = { blocked: [], held: [], scores: {} };
  const terms = compileTerms(s.blocked_terms);
  if (terms.words.some((re) => re.test(n.leet)) || terms.regex.some((re) => re.test(n.plain))) r.blocked.push("blocked_term");
  if (s.link_policy !== "allow") {
    const bad = findLinks(text).concat(n.plain !== text.toLowerCase() ? findLinks(n.plain) : []).filter((h) => !linkAllowed(h, s.allowed_domains));
    if (bad.length) (s.link_policy === "block" ? r.blocked : r.held).push("link");
  }
  // Distinct places: the dataset has several patterns for some words, and one word is one profanity.
  // Numbers standing alone are blanked first: the matcher's leetspeak would read "viewer 455" as "ass".
  // So are timestamps and ids (a token with six digits or more, and more digits than letters:
  // "T1795856290394.455Z"); leetspeak words carry a few digits among letters ("a55h0le").
  const forMatcher = n.plain
    .replace(/\S+/gu, (t) => {
      const digits = t.replace(/\P{N}/gu, "").length;
      return digits >= 6 && digits > t.replace(/\P{L}/gu, "").length ? " ".repeat(t.length) : t;
    })
    .replace(/(?<![\p{L}\p{N}])[\p{N}.,:]+(?![\p{L}\p{N}])/gu, (m) => " ".repeat(m.length));
  const matches = new Set(profanity.getAllMatches(forMatcher).map((m) => m.startIndex)).size;
  if (matches > 0) r.scores.profanity = matches >= 2 ? 0.95 : 0.8;
  Object.assign(r.scores, spamScores(text));
  return r;
}
