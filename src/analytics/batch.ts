// A flush batch as it crosses to the analytics worker: columns instead of row objects. Posting
// hundreds of thousands of row objects made the structured clone the socket thread's biggest cost
// (a 0.3-0.6 s stall per flush; bench/RESULTS.md, issue 6); typed arrays are copied as a block and
// each distinct string goes once. The collector writes its counts straight into these columns (no
// row objects on the socket thread). Viewer ids have a table of their own, so an erasure renames
// them without touching a country or a label that happens to be spelled the same. Pure.
import type { Touch } from "./collector.ts";
import { Ids } from "./counts.ts";

export interface WireBatch {
  id: number;
  events: number;
  touch: Touch;
  strings: string[]; // broadcast and stream ids, countries, segments, kinds, keys
  viewers: string[]; // viewer ids
  sessionIds: string[]; // one per session row
  agg: Columns; // str: broadcast, stream, country, segment, kind, key; num: bucket, n, total
  chatters: Columns; // str: broadcast, viewer*, country, segment; num: bucket, messages, sentiment_sum
  sessions: Columns; // str: broadcast, stream, viewer*, country, segment; num: joined_at, left_at (NaN: open), last_seen
}

interface Columns {
  rows: number;
  str: Int32Array;
  num: Float64Array;
}

/** Rows of `s` string ids and `n` numbers each, appended into typed arrays that grow by doubling. */
class Growing {
  rows = 0;
  str: Int32Array;
  num: Float64Array;

  constructor(readonly s: number, readonly n: number) {
    this.str = new Int32Array(1024 * s);
    this.num = new Float64Array(1024 * n);
  }

  /** Index of a new row (its cells are written by the caller). */
  row(): number {
    if ((this.rows + 1) * this.s > this.str.length) {
      const str = new Int32Array(this.str.length * 2);
      str.set(this.str);
      this.str = str;
      const num = new Float64Array(this.num.length * 2);
      num.set(this.num);
      this.num = num;
    }
    return this.rows++;
  }

  done(): Columns {
    return { rows: this.rows, str: this.str.slice(0, this.rows * this.s), num: this.num.slice(0, this.rows * this.n) };
  }
}

/** Builds one WireBatch. String ids: `str()` for shared strings, `viewer()` for viewer ids. */
export class BatchWriter {
  private strings = new Ids();
  private viewers: string[] = [];
  private sessionIds: string[] = [];
  private agg = new Growing(6, 3);
  private chatters = new Growing(4, 3);
  private sessions = new Growing(5, 3);

  str(s: string): number {
    return this.strings.id(s);
  }

  /** A viewer id's index (the caller keeps it to use it once per batch). */
  viewer(key: string): number {
    return this.viewers.push(key) - 1;
  }

  aggRow(broadcast: number, stream: number, country: number, segment: number, kind: number, key: number, bucket: number, n: number, total: number): void {
    const g = this.agg;
    const i = g.row();
    const o = i * 6;
    g.str[o] = broadcast;
    g.str[o + 1] = stream;
    g.str[o + 2] = country;
    g.str[o + 3] = segment;
    g.str[o + 4] = kind;
    g.str[o + 5] = key;
    g.num[i * 3] = bucket;
    g.num[i * 3 + 1] = n;
    g.num[i * 3 + 2] = total;
  }

  chatterRow(broadcast: number, viewer: number, country: number, segment: number, bucket: number, messages: number, sentimentSum: number): void {
    const g = this.chatters;
    const i = g.row();
    g.str[i * 4] = broadcast;
    g.str[i * 4 + 1] = viewer;
    g.str[i * 4 + 2] = country;
    g.str[i * 4 + 3] = segment;
    g.num[i * 3] = bucket;
    g.num[i * 3 + 1] = messages;
    g.num[i * 3 + 2] = sentimentSum;
  }

  sessionRow(sessionId: string, broadcast: number, stream: number, viewer: number, country: number, segment: number, joinedAt: number, leftAt: number | null, lastSeen: number): void {
    const g = this.sessions;
    const i = g.row();
    const o = i * 5;
    this.sessionIds.push(sessionId);
    g.str[o] = broadcast;
    g.str[o + 1] = stream;
    g.str[o + 2] = viewer;
    g.str[o + 3] = country;
    g.str[o + 4] = segment;
    g.num[i * 3] = joinedAt;
    g.num[i * 3 + 1] = leftAt ?? Number.NaN;
    g.num[i * 3 + 2] = lastSeen;
  }

  done(id: number, events: number, touch: Touch): WireBatch {
    return { id, events, touch, strings: this.strings.list, viewers: this.viewers, sessionIds: this.sessionIds, agg: this.agg.done(), chatters: this.chatters.done(), sessions: this.sessions.done() };
  }
}

/** A batch as posted: its string lists as one JSON text. A structured clone of an array of a few
 * hundred thousand short strings (viewer and session ids) held the socket thread ~0.7 µs per string
 * (~280 ms per flush at 500,000 events/s; one-off timings, bench/RESULTS.md, issue 6); one long string is copied as a block. */
export type PostedBatch = Omit<WireBatch, "strings" | "viewers" | "sessionIds"> & { names: string };

export function postable(w: WireBatch): PostedBatch {
  const { strings, viewers, sessionIds, ...rest } = w;
  return { ...rest, names: JSON.stringify([strings, viewers, sessionIds]) };
}

export function unpost(p: PostedBatch): WireBatch {
  const { names, ...rest } = p;
  const [strings, viewers, sessionIds] = JSON.parse(names) as [string[], string[], string[]];
  return { ...rest, strings, viewers, sessionIds };
}

/** An erasure while the batch waits to be stored: the viewer id is replaced in its table (where it
 * is listed more than once, once per broadcast, every time). */
export function renameViewer(w: WireBatch, from: string, to: string): void {
  for (let i = 0; i < w.viewers.length; i++) if (w.viewers[i] === from) w.viewers[i] = to;
}
