// The decision: blocked terms and the link policy act at every level; the level (0 off .. 4
// strictest, like AutoMod) sets the score at which the profanity matcher, spam heuristics and the
// classifier hold a message for review or block it. Pure.
import type { PatternResult } from "./patterns.ts";

export interface Decision {
  action: "publish" | "hold" | "block";
  reasons: string[];
  scores: Record<string, number>;
}

// Index = automod level. A score at or above HOLD_AT holds, at or above BLOCK_AT blocks.
// Level 2 (the default) holds one profanity (0.8) and blocks only near-certain scores.
export const HOLD_AT = [Infinity, 0.9, 0.75, 0.6, 0.45] as const;
export const BLOCK_AT = [Infinity, Infinity, 0.97, 0.9, 0.8] as const;

export function decide(level: number, p: PatternResult, classifier: Record<string, number> | null): Decision {
  const scores: Record<string, number> = { ...p.scores };
  if (classifier) for (const [k, v] of Object.entries(classifier)) scores[`classifier_${k}`] = v;
  if (p.blocked.length) return { action: "block", reasons: [...p.blocked], scores };
  const lvl = Math.max(0, Math.min(4, Math.trunc(level)));
  const hold = HOLD_AT[lvl]!;
  const block = BLOCK_AT[lvl]!;
  const over = Object.entries(scores).filter(([, v]) => v >= hold).sort((a, b) => b[1] - a[1]);
  if (over.length && over[0]![1] >= block) return { action: "block", reasons: over.filter(([, v]) => v >= block).map(([k]) => k), scores };
  const reasons = [...p.held, ...over.map(([k]) => k)];
  if (reasons.length) return { action: "hold", reasons, scores };
  return { action: "publish", reasons: [], scores };
}
