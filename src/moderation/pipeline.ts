// The pipeline as named steps: normalize -> pattern stage -> classification stage -> decision.
// Runs inside a moderation worker; the pattern-only path also runs on the main thread while no
// worker is up. Each step's time is kept for metrics.
import { decide, type Decision } from "./decide.ts";
import { normalize } from "./normalize.ts";
import { CopyPasta, patternStage, type ModerationSettings } from "./patterns.ts";
import { LexiconScorer, type Scorer } from "./scorers.ts";
import { sentimentOf } from "../analytics/sentiment.ts";

export interface CheckItem {
  id: number;
  streamId: string;
  sender: string;
  text: string;
  now: number;
}

export interface CheckedDecision extends Decision {
  /** The classification stage did not answer (service down, breaker open): patterns decided alone. */
  classifierSkipped?: boolean;
  stage_us?: { normalize: number; patterns: number; classify: number };
  /** A published message's sentiment (analytics' definition), scored here so the socket thread need not. */
  sentiment?: number;
}

export class Pipeline {
  private copyPasta = new CopyPasta();
  private lexicon = new LexiconScorer();

  constructor(private external: Scorer | null) {}

  /** Pattern stage and decision only, no classifier: the inline fallback. */
  checkPatterns(item: CheckItem, s: ModerationSettings): CheckedDecision {
    const n = normalize(item.text);
    const p = patternStage(item.text, n, s);
    return decide(s.automod_level, s.automod_level > 0 ? p : { ...p, scores: {} }, null);
  }

  async check(item: CheckItem, s: ModerationSettings): Promise<CheckedDecision> {
    const t0 = performance.now();
    const n = normalize(item.text);
    const t1 = performance.now();
    const p = patternStage(item.text, n, s);
    if (s.automod_level === 0) p.scores = {}; // level 0: only blocked terms and links
    else {
      const cp = this.copyPasta.score(item.streamId, item.sender, n.folded, item.now);
      if (cp > 0) p.scores.spam_copypasta = cp;
    }
    const t2 = performance.now();
    let classifier: Record<string, number> | null = null;
    let skipped = false;
    if (s.automod_level > 0 && p.blocked.length === 0) {
      if (this.external) {
        classifier = await this.external.score(item.text, item.streamId);
        skipped = classifier === null;
      } else classifier = this.lexicon.score(n.folded);
    }
    const t3 = performance.now();
    const d: CheckedDecision = decide(s.automod_level, p, classifier);
    if (skipped) d.classifierSkipped = true;
    if (d.action === "publish") d.sentiment = sentimentOf(item.text);
    d.stage_us = { normalize: Math.round((t1 - t0) * 1000), patterns: Math.round((t2 - t1) * 1000), classify: Math.round((t3 - t2) * 1000) };
    return d;
  }
}
