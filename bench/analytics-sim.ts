// Synthetic viewer events for the analytics benchmark (bench/analytics.ts), fed to anything shaped
// like Hubbub's Analytics capture door (src/analytics/index.ts): the real class, or a no-op sink
// that measures what the generator itself costs.
//
// - MixedLoad: events at maximum speed across many live streams, viewers, countries and segments
//   (joins, leaves, chat, reactions, votes in a fixed mix), on the real clock.
// - simulateBroadcast: one long broadcast (default 2 h, 1M sessions, 3M chat messages, 6M
//   reactions, a poll) replayed in time order on a simulated clock, flushed every simulated
//   interval, so that DuckDB ends up holding what a real broadcast of that size leaves there.

import { sentimentOf } from "../src/analytics/sentiment.ts";
import type { StreamRecord } from "../src/streams/index.ts";

/** The part of Analytics the generators call (the hub's and the listeners' calls). */
export interface Sink {
  /** Returns the session's tap (Hubbub since session 3): the hub keeps it per joined socket and passes it back. */
  joined(stream: StreamRecord, session: number, viewerKey: string, ip: string): unknown;
  left(stream: StreamRecord, session: number): void;
  /** `sentiment`: as the moderation worker scores a published message (Hubbub since 2026-11-28, session 3). */
  chat(stream: StreamRecord, viewerKey: string, body: string, sentiment?: number, tap?: any): void;
  reaction(stream: StreamRecord, viewerKey: string, emoji: string, tap?: any): void;
  vote(stream: StreamRecord, viewerKey: string, pollId: string, option: number, tap?: any): void;
  segmentMarked(stream: StreamRecord, label: string): void;
}

export const NULL_SINK: Sink = {
  joined() {},
  left() {},
  chat() {},
  reaction() {},
  vote() {},
  segmentMarked() {},
};

/** Small, fast, deterministic PRNG (xorshift32); next() in [0, 1), int(n) in [0, n). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  nextU32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  next(): number {
    return this.nextU32() / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

// Chat lines of ordinary length and mixed sentiment (the sentiment library reads each one).
export const CHAT_LINES = [
  "that play was insane", "gg everyone", "what game is this?", "lol the chat is wild today", "hello from brazil",
  "can you show the settings again", "first time here, love the stream", "is the drop at 8pm?", "this is so good honestly",
  "boring part, skip it", "that was terrible lmao", "amazing comeback!!", "audio is bad on my side", "who else is watching from work",
  "best stream of the week", "I hate when that happens", "nice one, well played", "wow", "can't wait for the Q&A", "this is fine",
  "what a disaster haha", "love this community", "so sad it's almost over", "happy birthday to the mod!", "clip that!!",
  "this song is great", "ugh lag again", "thanks for the tips, really helpful", "no way", "the best part so far",
];
/**
 * Each line's score, as the moderation worker hands it over with a published message (its cost is
 * on that worker: "sentimentOf alone" in the per-call timings). Older trees score it themselves.
 */
export const CHAT_SENTIMENT = CHAT_LINES.map((l) => sentimentOf(l));
export const EMOJI = ["❤️", "🔥", "😂", "👏", "😮", "🎉"];
const EMOJI_WEIGHTS = [0.3, 0.25, 0.18, 0.12, 0.08, 0.07];
export const SEGMENTS = ["pre-show", "main", "halftime", "Q&A"];

/** `n` public IPv4 addresses spread over the address space (the geo database maps most to a country). */
export function ipPool(n: number, rng: Rng): string[] {
  const out: string[] = [];
  while (out.length < n) {
    const a = 1 + rng.int(223);
    if (a === 10 || a === 127 || a === 100 || a === 169 || a === 172 || a === 192) continue; // skip private-ish ranges
    out.push(`${a}.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`);
  }
  return out;
}

export function liveStream(i: number, broadcastId: string, liveSince: number): StreamRecord {
  return {
    id: `st-${i}`, slug: `bench-${i}`, title: `Bench ${i}`, owner_id: null, settings: {} as StreamRecord["settings"], status: "live",
    current_broadcast_id: broadcastId, live_since: liveSince, epoch: "e", created_at: liveSince, updated_at: liveSince,
  };
}

function pickEmoji(r: number): string {
  let acc = 0;
  for (let i = 0; i < EMOJI.length; i++) {
    acc += EMOJI_WEIGHTS[i]!;
    if (r < acc) return EMOJI[i]!;
  }
  return EMOJI[0]!;
}

// ---------------------------------------------------------------- max-speed mixed load

/** Out of every 50 events: 2 joins, 2 leaves, 15 chat messages, 30 reactions, 1 vote. */
const MIX = "JLCRRCRRCRRCRRCRRJLCRRCRRCRRCRRCRRCRRCRRCRRCRRCRRV";
export const MIX_SHARE = { join: 2 / 50, leave: 2 / 50, chat: 15 / 50, reaction: 30 / 50, vote: 1 / 50 };

export interface MixedCounts {
  join: number;
  leave: number;
  chat: number;
  reaction: number;
  vote: number;
  segment: number;
}

/**
 * Many live streams, a pool of viewers (each with an IP, so a country), sessions opened and closed
 * at random, chat/reactions/votes from viewers that are present. Every call is one capture call
 * of the real path (the hub's order of arguments); segments change every `segmentEvery` events.
 */
export class MixedLoad {
  readonly streams: StreamRecord[];
  private readonly viewerKeys: string[];
  private readonly viewerIp: string[];
  private readonly openSession: Int32Array; // slot -> session number
  private readonly openViewer: Int32Array;
  private readonly openStream: Int32Array;
  private readonly openTap: unknown[]; // what joined() returned, passed back as the hub does
  private open = 0;
  private nextSession = 1;
  private mixAt = 0;
  private segAt = 0;
  private events = 0;
  readonly counts: MixedCounts = { join: 0, leave: 0, chat: 0, reaction: 0, vote: 0, segment: 0 };

  constructor(
    streamCount: number,
    viewers: number,
    maxOpen: number,
    private readonly rng: Rng,
    liveSince: number,
    private readonly segmentEvery = 65_536,
  ) {
    this.streams = Array.from({ length: streamCount }, (_, i) => liveStream(i, `bc-${i}`, liveSince));
    this.viewerKeys = Array.from({ length: viewers }, (_, i) => `v${i}`);
    const ips = ipPool(4096, rng);
    this.viewerIp = Array.from({ length: viewers }, () => ips[rng.int(ips.length)]!);
    this.openSession = new Int32Array(maxOpen);
    this.openViewer = new Int32Array(maxOpen);
    this.openStream = new Int32Array(maxOpen);
    this.openTap = new Array(maxOpen).fill(undefined);
  }

  get openSessions(): number {
    return this.open;
  }

  private join(sink: Sink): void {
    if (this.open >= this.openSession.length) return this.leave(sink);
    const v = this.rng.int(this.viewerKeys.length);
    const s = this.rng.int(this.streams.length);
    const n = this.nextSession++;
    this.openSession[this.open] = n;
    this.openViewer[this.open] = v;
    this.openStream[this.open] = s;
    this.open++;
    this.counts.join++;
    this.openTap[this.open - 1] = sink.joined(this.streams[s]!, n, this.viewerKeys[v]!, this.viewerIp[v]!);
  }

  private leave(sink: Sink): void {
    if (this.open === 0) return this.join(sink);
    const k = this.rng.int(this.open);
    const n = this.openSession[k]!;
    const s = this.openStream[k]!;
    this.open--;
    this.openSession[k] = this.openSession[this.open]!;
    this.openViewer[k] = this.openViewer[this.open]!;
    this.openStream[k] = this.openStream[this.open]!;
    this.openTap[k] = this.openTap[this.open];
    this.counts.leave++;
    sink.left(this.streams[s]!, n);
  }

  /** Opens `n` sessions (before measuring). */
  prejoin(sink: Sink, n: number): void {
    for (let i = 0; i < n; i++) this.join(sink);
  }

  /** Sends `n` events of the mix. */
  run(sink: Sink, n: number): void {
    const rng = this.rng;
    for (let i = 0; i < n; i++) {
      const kind = MIX.charCodeAt(this.mixAt);
      this.mixAt = this.mixAt + 1 === MIX.length ? 0 : this.mixAt + 1;
      if (kind === 74 /* J */) this.join(sink);
      else if (kind === 76 /* L */) this.leave(sink);
      else if (this.open === 0) this.join(sink);
      else {
        const k = rng.int(this.open);
        const st = this.streams[this.openStream[k]!]!;
        const key = this.viewerKeys[this.openViewer[k]!]!;
        if (kind === 82 /* R */) {
          this.counts.reaction++;
          sink.reaction(st, key, pickEmoji(rng.next()), this.openTap[k]);
        } else if (kind === 67 /* C */) {
          this.counts.chat++;
          const line = rng.int(CHAT_LINES.length);
          sink.chat(st, key, CHAT_LINES[line]!, CHAT_SENTIMENT[line], this.openTap[k]);
        } else {
          this.counts.vote++;
          sink.vote(st, key, `poll-${this.openStream[k]}`, rng.int(4), this.openTap[k]);
        }
      }
      if (++this.events % this.segmentEvery === 0) {
        this.counts.segment++;
        sink.segmentMarked(this.streams[this.segAt % this.streams.length]!, SEGMENTS[Math.floor(this.segAt / this.streams.length) % SEGMENTS.length]!);
        this.segAt++;
      }
    }
  }
}

// ---------------------------------------------------------------- one big broadcast

export interface BroadcastPlan {
  durationS: number;
  sessions: number;
  viewers: number;
  chats: number;
  reactions: number;
  votes: number;
  /** Mean session length (s); lengths are exponential, cut at the broadcast's end. */
  meanStayS: number;
  /** Simulated seconds between two flushes (each flush also re-sends every open session). */
  flushEveryS: number;
}

export interface SimClock {
  now(): number;
  set(ms: number): void;
}

export function simClock(start: number): SimClock {
  let t = start;
  return { now: () => t, set: (ms: number) => void (t = ms) };
}

export interface SimResult {
  /** Capture calls made, by kind (a session is one join and, if it ends, one leave call). */
  joins: number;
  leaves: number;
  chats: number;
  reactions: number;
  votes: number;
  peakOpen: number;
  flushes: number;
  /** Main thread time spent in the capture calls and the generator (ms), and waiting on flushes. */
  driveMs: number;
  flushWaitMs: number;
  wallMs: number;
}

/** Segment marks of the simulated broadcast, ms after its start. */
export function segmentMarks(durationS: number): Array<{ label: string; atS: number }> {
  const d = durationS;
  return [
    { label: "pre-show", atS: 0 },
    { label: "main", atS: Math.round(d * 0.08) },
    { label: "halftime", atS: Math.round(d * 0.45) },
    { label: "main", atS: Math.round(d * 0.52) },
    { label: "Q&A", atS: Math.round(d * 0.85) },
  ];
}

/** Spikes (top moments): centre (fraction of the broadcast), height, width (s). */
const MOMENTS: Array<[number, number, number]> = [[0.12, 5, 40], [0.3, 3, 60], [0.5, 8, 30], [0.71, 4, 45], [0.93, 6, 50]];

/**
 * Replays one broadcast second by second on `clock`: joins and leaves at their times, then that
 * second's chat messages and reactions from viewers present (their rate follows the audience and
 * spikes at a few moments), a poll's votes in one stretch, segment marks. Every `flushEveryS`
 * simulated seconds it calls `flush()` (at most one flush in flight); at the end the stream goes
 * offline through `end()` (which ends the open sessions), then a last flush.
 */
export async function simulateBroadcast(
  sink: Sink,
  stream: StreamRecord,
  plan: BroadcastPlan,
  clock: SimClock,
  start: number,
  hooks: { flush(): Promise<void>; end(): void; progress?(s: number, r: SimResult): void },
  rng: Rng,
): Promise<SimResult> {
  const t0 = performance.now();
  const D = plan.durationS;
  const N = plan.sessions;
  // Sessions: a quarter arrive in the first tenth of the broadcast, the rest at any time.
  const joinMs = new Float64Array(N);
  const leaveMs = new Float64Array(N); // -1: still there at the end
  const viewer = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const j = rng.next() < 0.25 ? rng.next() * D * 100 : rng.next() * D * 1000;
    const stay = -Math.log(1 - rng.next()) * plan.meanStayS * 1000;
    joinMs[i] = Math.floor(j);
    leaveMs[i] = j + stay < D * 1000 ? Math.floor(j + stay) : -1;
    viewer[i] = i < plan.viewers ? i : rng.int(plan.viewers); // the rest: viewers coming back (or a second tab)
  }
  // Per-second order of joins and leaves (counting sort).
  const bySecond = (ms: Float64Array): { first: Int32Array; order: Int32Array } => {
    const first = new Int32Array(D + 1);
    for (let i = 0; i < N; i++) if (ms[i]! >= 0) first[Math.floor(ms[i]! / 1000) + 1]!++;
    for (let s = 1; s <= D; s++) first[s] = first[s]! + first[s - 1]!;
    const fill = first.slice();
    const order = new Int32Array(first[D]!);
    for (let i = 0; i < N; i++) if (ms[i]! >= 0) order[fill[Math.floor(ms[i]! / 1000)]!++] = i;
    // Within a second, in time order: a live server stamps events with a clock that moves forward,
    // and the collector's rollups take events in that order (a step back counts as no time).
    for (let s = 0; s < D; s++) order.subarray(first[s]!, first[s + 1]!).sort((x, y) => ms[x]! - ms[y]! || x - y);
    return { first, order };
  };
  const joins = bySecond(joinMs);
  const leaves = bySecond(leaveMs);
  // Expected audience per second, for the chat and reaction rates.
  const conc = new Float64Array(D);
  {
    const delta = new Float64Array(D + 1);
    for (let i = 0; i < N; i++) {
      delta[Math.floor(joinMs[i]! / 1000)]! += 1;
      if (leaveMs[i]! >= 0) delta[Math.floor(leaveMs[i]! / 1000)]! -= 1;
    }
    let c = 0;
    for (let s = 0; s < D; s++) conc[s] = c += delta[s]!;
  }
  const spike = (s: number, shift: number): number => {
    let f = 1;
    for (const [at, h, w] of MOMENTS) f += h * Math.exp(-(((s - (at + shift) * D) / w) ** 2));
    return f;
  };
  const rateOf = (total: number, shift: number): Float64Array => {
    const w = new Float64Array(D);
    let sum = 0;
    for (let s = 0; s < D; s++) sum += w[s] = conc[s]! * spike(s, shift);
    for (let s = 0; s < D; s++) w[s] = (w[s]! / sum) * total;
    return w;
  };
  const chatRate = rateOf(plan.chats, 0);
  const reactRate = rateOf(plan.reactions, 0.004);
  const voteFrom = Math.floor(D * 0.6);
  const voteTo = Math.min(D, voteFrom + 300);
  const pollId = "poll-big";

  const viewerKeys = Array.from({ length: plan.viewers }, (_, i) => `v${i}`);
  const ips = ipPool(8192, rng);
  const viewerIp = Int32Array.from({ length: plan.viewers }, () => rng.int(ips.length));
  const slotOf = new Int32Array(N).fill(-1);
  const open = new Int32Array(N);
  const taps: unknown[] = new Array(N); // per session, what joined() returned (the hub keeps it per socket)
  let openN = 0;
  const marks = segmentMarks(D);
  let nextMark = 0;
  const r: SimResult = { joins: 0, leaves: 0, chats: 0, reactions: 0, votes: 0, peakOpen: 0, flushes: 0, driveMs: 0, flushWaitMs: 0, wallMs: 0 };
  let chatDebt = 0;
  let reactDebt = 0;
  let voteDebt = 0;
  let inFlight: Promise<void> | null = null;
  let lastFlushS = 0;
  let driveStart = performance.now();

  for (let s = 0; s < D; s++) {
    const base = start + s * 1000;
    while (nextMark < marks.length && marks[nextMark]!.atS <= s) {
      clock.set(start + marks[nextMark]!.atS * 1000);
      sink.segmentMarked(stream, marks[nextMark]!.label);
      nextMark++;
    }
    // Joins and leaves of this second merged in time order (a session's join before its own leave).
    let kj = joins.first[s]!;
    let kl = leaves.first[s]!;
    const ej = joins.first[s + 1]!;
    const el = leaves.first[s + 1]!;
    while (kj < ej || kl < el) {
      const leaveAt = kl < el ? leaveMs[leaves.order[kl]!]! : Infinity;
      if (kj < ej && joinMs[joins.order[kj]!]! <= leaveAt) {
        const i = joins.order[kj++]!;
        clock.set(start + joinMs[i]!);
        slotOf[i] = openN;
        open[openN++] = i;
        r.joins++;
        taps[i] = sink.joined(stream, i + 1, viewerKeys[viewer[i]!]!, ips[viewerIp[viewer[i]!]!]!);
        if (openN > r.peakOpen) r.peakOpen = openN;
        continue;
      }
      const i = leaves.order[kl++]!;
      const slot = slotOf[i]!;
      if (slot < 0) continue;
      clock.set(start + Math.max(leaveMs[i]!, joinMs[i]!));
      const last = open[--openN]!;
      open[slot] = last;
      slotOf[last] = slot;
      slotOf[i] = -1;
      r.leaves++;
      sink.left(stream, i + 1);
    }
    clock.set(base + 500);
    if (openN > 0) {
      chatDebt += chatRate[s]!;
      for (; chatDebt >= 1; chatDebt--) {
        const i = open[rng.int(openN)]!;
        r.chats++;
        const line = rng.int(CHAT_LINES.length);
        sink.chat(stream, viewerKeys[viewer[i]!]!, CHAT_LINES[line]!, CHAT_SENTIMENT[line], taps[i]);
      }
      reactDebt += reactRate[s]!;
      for (; reactDebt >= 1; reactDebt--) {
        const i = open[rng.int(openN)]!;
        r.reactions++;
        sink.reaction(stream, viewerKeys[viewer[i]!]!, pickEmoji(rng.next()), taps[i]);
      }
      if (s >= voteFrom && s < voteTo) {
        voteDebt += plan.votes / (voteTo - voteFrom);
        for (; voteDebt >= 1; voteDebt--) {
          const i = open[rng.int(openN)]!;
          r.votes++;
          sink.vote(stream, viewerKeys[viewer[i]!]!, pollId, rng.int(10) < 5 ? 0 : rng.int(4), taps[i]);
        }
      }
    }
    if (s + 1 - lastFlushS >= plan.flushEveryS) {
      lastFlushS = s + 1;
      clock.set(start + (s + 1) * 1000);
      r.driveMs += performance.now() - driveStart;
      const w0 = performance.now();
      if (inFlight !== null) await inFlight;
      inFlight = hooks.flush();
      r.flushes++;
      r.flushWaitMs += performance.now() - w0;
      hooks.progress?.(s + 1, r);
      driveStart = performance.now();
    }
  }
  r.driveMs += performance.now() - driveStart;
  clock.set(start + D * 1000);
  const w0 = performance.now();
  if (inFlight !== null) await inFlight;
  hooks.end();
  await hooks.flush();
  r.flushes++;
  r.flushWaitMs += performance.now() - w0;
  r.wallMs = performance.now() - t0;
  return r;
}
