// The moderation hook every message passes before it is stored: publish, hold or block.
// This minimal version applies the two rules PRODUCT.md says hold at every automod level: the
// stream's blocked terms (whole words, `*` at a word's start or end) and its link policy. The
// moderation pipeline (normalization, profanity matcher, spam heuristics, classifier, workers)
// replaces it behind the same interface.
import type { Settings } from "../streams/settings.ts";

export interface Decision {
  action: "publish" | "hold" | "block";
  reasons: string[];
  scores: Record<string, number>;
}

export interface ModerationHook {
  check(text: string, settings: Settings): Decision | Promise<Decision>;
}

const LINK = /\b(?:https?:\/\/[^\s]+|www\.[^\s]+|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|tv|gg|co|me|ly|app|dev|xyz|info|biz|ru|de|uk|fr|be|link|live|stream)(?:\/[^\s]*)?)\b/gi;

export function findLinks(text: string): string[] {
  return text.match(LINK) ?? [];
}

export function hostOf(link: string): string {
  try {
    return new URL(/^https?:\/\//i.test(link) ? link : `http://${link}`).hostname.toLowerCase();
  } catch {
    return link.toLowerCase();
  }
}

function allowedHost(host: string, allowed: string[]): boolean {
  return allowed.some((d) => host === d || host.endsWith(`.${d}`));
}

const cache = new WeakMap<string[], RegExp[]>();
function termPatterns(terms: string[]): RegExp[] {
  let out = cache.get(terms);
  if (out) return out;
  out = [];
  for (const t of terms) {
    if (t.startsWith("/") && t.endsWith("/") && t.length > 2) continue; // regex terms: the pipeline's job
    const esc = t.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, (c) => (c === "*" ? "*" : `\\${c}`));
    const core = esc.replace(/^\*/, "").replace(/\*$/, "");
    const pre = esc.startsWith("*") ? "\\p{L}*" : "";
    const post = esc.endsWith("*") ? "\\p{L}*" : "";
    out.push(new RegExp(`(?<![\\p{L}\\p{N}])${pre}${core}${post}(?![\\p{L}\\p{N}])`, "iu"));
  }
  cache.set(terms, out);
  return out;
}

export const minimalHook: ModerationHook = {
  check(text, settings) {
    const lower = text.toLowerCase();
    for (const re of termPatterns(settings.blocked_terms)) {
      if (re.test(lower)) return { action: "block", reasons: ["blocked_term"], scores: {} };
    }
    const links = findLinks(text).filter((l) => !allowedHost(hostOf(l), settings.allowed_domains));
    if (links.length > 0 && settings.link_policy !== "allow") {
      return { action: settings.link_policy === "block" ? "block" : "hold", reasons: ["link"], scores: {} };
    }
    return { action: "publish", reasons: [], scores: {} };
  },
};
