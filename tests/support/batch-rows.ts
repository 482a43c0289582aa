// A flush batch's columns read back as rows, for tests that compare what the collector hands over.
import type { WireBatch } from "../../src/analytics/batch.ts";
import type { AggRow, ChatterRow, Kind, SessionRow } from "../../src/analytics/collector.ts";

/** The rows of a batch's columns (the worker joins the same ids to the same strings in DuckDB). */
export function* aggRows(w: WireBatch): Generator<AggRow> {
  const { str, num } = w.agg;
  const s = w.strings;
  for (let i = 0; i < w.agg.rows; i++) {
    yield {
      broadcast_id: s[str[i * 6]!]!, stream_id: s[str[i * 6 + 1]!]!, country: s[str[i * 6 + 2]!]!, segment: s[str[i * 6 + 3]!]!, kind: s[str[i * 6 + 4]!]! as Kind, key: s[str[i * 6 + 5]!]!,
      bucket: num[i * 3]!, n: num[i * 3 + 1]!, total: num[i * 3 + 2]!,
    };
  }
}

export function* chatterRows(w: WireBatch): Generator<ChatterRow> {
  const { str, num } = w.chatters;
  for (let i = 0; i < w.chatters.rows; i++) {
    yield {
      broadcast_id: w.strings[str[i * 4]!]!, viewer_key: w.viewers[str[i * 4 + 1]!]!, country: w.strings[str[i * 4 + 2]!]!, segment: w.strings[str[i * 4 + 3]!]!,
      bucket: num[i * 3]!, messages: num[i * 3 + 1]!, sentiment_sum: num[i * 3 + 2]!,
    };
  }
}

export function* sessionRows(w: WireBatch): Generator<SessionRow> {
  const { str, num } = w.sessions;
  for (let i = 0; i < w.sessions.rows; i++) {
    const left = num[i * 3 + 1]!;
    yield {
      session_id: w.sessionIds[i]!, broadcast_id: w.strings[str[i * 5]!]!, stream_id: w.strings[str[i * 5 + 1]!]!, viewer_key: w.viewers[str[i * 5 + 2]!]!,
      country: w.strings[str[i * 5 + 3]!]!, segment: w.strings[str[i * 5 + 4]!]!, joined_at: num[i * 3]!, left_at: Number.isNaN(left) ? null : left, last_seen: num[i * 3 + 2]!,
    };
  }
}
