// Per-stream chat rules that need memory: the per-viewer rate limit (token bucket), slow mode and
// unique chat. Pure state (no timers, no I/O); the clock comes in as `now`.
import { refuse, type Refusal } from "../errors.ts";
import type { Settings } from "../streams/settings.ts";
import { take } from "../runtime/token-bucket.ts";

export const UNIQUE_WINDOW_MS = 30_000;
const UNIQUE_MAX = 10_000;

interface SenderState {
  tokens: number;
  at: number;
  lastAt: number; // last accepted message (slow mode)
}

export class ChatRules {
  private senders = new Map<string, SenderState>();
  private recent = new Map<string, number>(); // normalized body -> last time seen (unique chat)

  /** Admits a message (consuming rate and slow-mode budget) or says why not. */
  admit(settings: Settings, senderKey: string, privileged: boolean, body: string, now: number): Refusal | null {
    const limit = privileged ? settings.moderator_rate_limit : settings.rate_limit;
    let st = this.senders.get(senderKey);
    if (!st) {
      st = { tokens: limit.messages, at: now, lastAt: -Infinity };
      this.senders.set(senderKey, st);
    }
    if (!privileged && settings.slow_mode_s > 0) {
      const wait = st.lastAt + settings.slow_mode_s * 1000 - now;
      if (wait > 0) return refuse("slow_mode", `slow mode: one message every ${settings.slow_mode_s} s`, { retryAfterMs: Math.ceil(wait) });
    }
    const key = settings.unique_chat && !privileged ? uniqueKey(body) : null;
    if (key !== null) {
      const seen = this.recent.get(key);
      if (seen !== undefined && now - seen < UNIQUE_WINDOW_MS) return refuse("duplicate", "unique chat: this message was just sent");
    }
    // Peek at the bucket without spending, so a refusal above leaves the budget untouched.
    const trial = { tokens: st.tokens, at: st.at };
    const wait = take(trial, now, limit.messages / limit.per_s, limit.messages);
    if (wait > 0) return refuse("rate_limited", `at most ${limit.messages} messages per ${limit.per_s} s`, { retryAfterMs: wait });
    st.tokens = trial.tokens;
    st.at = trial.at;
    st.lastAt = now;
    if (key !== null) {
      this.recent.set(key, now);
      if (this.recent.size > UNIQUE_MAX) this.pruneRecent(now);
    }
    return null;
  }

  /** Forget idle senders and stale unique-chat entries, so memory follows activity. */
  sweep(now: number, settings: Settings): void {
    const fullAfter = Math.max(settings.rate_limit.per_s, settings.moderator_rate_limit.per_s, settings.slow_mode_s) * 1000;
    for (const [k, st] of this.senders) if (now - st.at > fullAfter && now - st.lastAt > fullAfter) this.senders.delete(k);
    this.pruneRecent(now);
  }

  private pruneRecent(now: number): void {
    for (const [k, at] of this.recent) if (now - at >= UNIQUE_WINDOW_MS) this.recent.delete(k);
    // Still too many inside the window: drop the oldest (Map keeps insertion order).
    while (this.recent.size > UNIQUE_MAX) this.recent.delete(this.recent.keys().next().value!);
  }

  get size(): number {
    return this.senders.size;
  }
}

/** Case- and spacing-insensitive identity of a message, for unique chat. */
export function uniqueKey(body: string): string {
  return body.toLocaleLowerCase("en-US").replace(/\s+/g, " ").trim();
}
