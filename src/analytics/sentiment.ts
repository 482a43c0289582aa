// Chat sentiment from the `sentiment` package (AFINN-165 word ratings): its comparative score
// (sum of word ratings per word, about -5..5) scaled to -1..1.
import Sentiment from "sentiment";

const analyzer = new Sentiment();

export function sentimentOf(text: string): number {
  const c = analyzer.analyze(text).comparative;
  return Number.isFinite(c) ? Math.max(-1, Math.min(1, c / 5)) : 0;
}
