// A flush batch as it crosses to the analytics worker: columns instead of row objects. Posting
// hundreds of thousands of row objects made the structured clone the socket thread's biggest cost
// (a 0.3-0.6 s stall per flush; bench/RESULTS.md, issue 6); typed arrays are copied as a block and
// each distinct string goes once. Viewer ids have a table of their own, so an erasure renames them
// without touching a country or a label that happens to be spelled the same. Pure.
import type { AggRow, ChatterRow, FlushBatch, Kind, SessionRow } from "./collector.ts";

export interface WireBatch {
  id: number;
  events: number;
  touch: FlushBatch["touch"];
  strings: string[]; // broadcast and stream ids, countries, segments, kinds, keys
  viewers: string[]; // viewer ids
  sessionIds: string[]; // one per session row
  agg: { rows: number; str: Int32Array; num: Float64Array }; // str: broadcast, stream, country, segment, kind, key; num: bucket, n, total
  chatters: { rows: number; str: Int32Array; num: Float64Array }; // str: broadcast, viewer*, country, segment; num: bucket, messages, sentiment_sum
  sessions: { rows: number; str: Int32Array; num: Float64Array }; // str: broadcast, stream, viewer*, country, segment; num: joined_at, left_at (NaN: open), last_seen
}

class Table {
  readonly list: string[] = [];
  private ids = new Map<string, number>();
  id(s: string): number {
    let i = this.ids.get(s);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(s);
      this.ids.set(s, i);
    }
    return i;
  }
}

export function encodeBatch(b: FlushBatch): WireBatch {
  const st = new Table();
  const vt = new Table();
  const agg = { rows: b.agg.length, str: new Int32Array(b.agg.length * 6), num: new Float64Array(b.agg.length * 3) };
  b.agg.forEach((r, i) => {
    const o = i * 6;
    agg.str[o] = st.id(r.broadcast_id);
    agg.str[o + 1] = st.id(r.stream_id);
    agg.str[o + 2] = st.id(r.country);
    agg.str[o + 3] = st.id(r.segment);
    agg.str[o + 4] = st.id(r.kind);
    agg.str[o + 5] = st.id(r.key);
    agg.num[i * 3] = r.bucket;
    agg.num[i * 3 + 1] = r.n;
    agg.num[i * 3 + 2] = r.total;
  });
  const chatters = { rows: b.chatters.length, str: new Int32Array(b.chatters.length * 4), num: new Float64Array(b.chatters.length * 3) };
  b.chatters.forEach((r, i) => {
    chatters.str[i * 4] = st.id(r.broadcast_id);
    chatters.str[i * 4 + 1] = vt.id(r.viewer_key);
    chatters.str[i * 4 + 2] = st.id(r.country);
    chatters.str[i * 4 + 3] = st.id(r.segment);
    chatters.num[i * 3] = r.bucket;
    chatters.num[i * 3 + 1] = r.messages;
    chatters.num[i * 3 + 2] = r.sentiment_sum;
  });
  const sessions = { rows: b.sessions.length, str: new Int32Array(b.sessions.length * 5), num: new Float64Array(b.sessions.length * 3) };
  const sessionIds: string[] = new Array(b.sessions.length);
  b.sessions.forEach((r, i) => {
    const o = i * 5;
    sessionIds[i] = r.session_id;
    sessions.str[o] = st.id(r.broadcast_id);
    sessions.str[o + 1] = st.id(r.stream_id);
    sessions.str[o + 2] = vt.id(r.viewer_key);
    sessions.str[o + 3] = st.id(r.country);
    sessions.str[o + 4] = st.id(r.segment);
    sessions.num[i * 3] = r.joined_at;
    sessions.num[i * 3 + 1] = r.left_at ?? Number.NaN;
    sessions.num[i * 3 + 2] = r.last_seen;
  });
  return { id: b.id, events: b.events, touch: b.touch, strings: st.list, viewers: vt.list, sessionIds, agg, chatters, sessions };
}

/** The rows again (the worker appends from these; tests compare them). */
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

/** An erasure while the batch waits to be stored: the viewer id is replaced in its table. */
export function renameViewer(w: WireBatch, from: string, to: string): void {
  const i = w.viewers.indexOf(from);
  if (i >= 0) w.viewers[i] = to;
}
