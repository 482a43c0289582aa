// The classification stage: a pluggable scorer returning category scores 0..1.
// - LexiconScorer (default): word-list scoring, no machine learning. It uses the AFINN-165 word
//   ratings shipped with the `sentiment` package: the share of strongly negative words (rated -3 or
//   worse) gives `negativity`. Crude on purpose and named for what it is.
// - HttpClassifier: an external classifier service (contract in README): a timeout, a cap on calls
//   in flight and a circuit breaker. When it cannot answer, the message skips this stage (null) and
//   the pattern stage alone decides; every skip is counted.
import { createRequire } from "node:module";

// Loaded through require, not as a JSON module: the `sentiment` package itself extends this same
// object at load time, which a (read-only) JSON module import would forbid.
const afinn = createRequire(import.meta.url)("sentiment/languages/en/labels.json") as Record<string, number>;

export interface Scorer {
  readonly name: string;
  score(text: string, streamId: string): Promise<Record<string, number> | null> | Record<string, number> | null;
}

const WORD = /[\p{L}']+/gu;

export class LexiconScorer implements Scorer {
  readonly name = "lexicon";
  score(folded: string): Record<string, number> {
    const words = folded.match(WORD) ?? [];
    if (words.length === 0) return { negativity: 0 };
    let strong = 0;
    let sum = 0;
    for (const w of words) {
      const v = afinn[w];
      if (v === undefined) continue;
      if (v <= -3) strong++;
      if (v < 0) sum += -v;
    }
    // Two strongly negative words in a short message reach 0.6; scaled by length so long messages
    // with one harsh word stay low.
    const density = strong / Math.max(3, words.length);
    return { negativity: Math.min(1, Math.round((density * 1.8 + Math.min(sum, 10) / 40) * 100) / 100) };
  }
}

export type BreakerState = "closed" | "open" | "half_open";

export interface ClassifierStats {
  calls: number;
  failures: number;
  skipped: number;
  breaker: BreakerState;
}

/**
 * Request: POST <url> `{"text": "...", "stream_id": "..."}` (JSON). Response: 200 with
 * `{"scores": {"<category>": 0..1, ...}}`. Anything else (status, shape, a value outside 0..1, the
 * timeout) is a failure.
 */
export class HttpClassifier implements Scorer {
  readonly name = "http";
  private inFlight = 0;
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probing = false;
  state: BreakerState = "closed";
  stats: ClassifierStats = { calls: 0, failures: 0, skipped: 0, breaker: "closed" };

  constructor(
    private url: string,
    private timeoutMs = 150,
    private maxInFlight = 64,
    private failuresToOpen = 5,
    private openMs = 5000,
    private now: () => number = () => performance.now(),
  ) {}

  async score(text: string, streamId: string): Promise<Record<string, number> | null> {
    if (this.state === "open") {
      if (this.now() - this.openedAt < this.openMs) return this.skip();
      this.setState("half_open");
    }
    if (this.state === "half_open") {
      if (this.probing) return this.skip(); // one probe at a time decides whether to close again
      this.probing = true;
    }
    if (this.inFlight >= this.maxInFlight) return this.skip();
    this.inFlight++;
    this.stats.calls++;
    try {
      const res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text, stream_id: streamId }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!res.ok) throw new Error(`status ${res.status}`);
      const body = (await res.json()) as { scores?: unknown };
      const scores = validScores(body?.scores);
      if (!scores) throw new Error("malformed response");
      this.consecutiveFailures = 0;
      if (this.state !== "closed") this.setState("closed");
      return scores;
    } catch {
      this.stats.failures++;
      this.consecutiveFailures++;
      if (this.state === "half_open" || this.consecutiveFailures >= this.failuresToOpen) {
        this.openedAt = this.now();
        this.setState("open");
      }
      return this.skip();
    } finally {
      this.inFlight--;
      this.probing = false;
    }
  }

  /** Every message this stage could not score is a skip: breaker open, too many in flight, or a failed call. */
  private skip(): null {
    this.stats.skipped++;
    return null;
  }

  private setState(s: BreakerState): void {
    this.state = s;
    this.stats.breaker = s;
  }
}

function validScores(v: unknown): Record<string, number> | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const out: Record<string, number> = {};
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0 || entries.length > 32) return null;
  for (const [k, x] of entries) {
    if (!/^[a-z0-9_]{1,32}$/.test(k) || typeof x !== "number" || !(x >= 0 && x <= 1)) return null;
    out[k] = x;
  }
  return out;
}
