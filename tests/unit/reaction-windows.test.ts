// The pure core of reaction counting (src/reactions/windows.ts): windows aligned to multiples of
// their length, closed only once the clock has passed their end, everything closed at the final
// flush, and `skipThrough` on a restore dropping exactly the windows already published. A
// property-based check replays the main thread's protocol (batches retained until a tick reply shows
// them published, a worker crash at a random point, the retained batches restored into a new fold)
// and proves every accepted reaction is published exactly once.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { BatchBuilder, WindowFold, windowStart, type ClosedWindow, type ReactionBatch } from "../../src/reactions/windows.ts";

/** One batch made of the given [stream, emoji, ts, w] entries. */
function batchOf(entries: Array<[number, number, number, number]>): ReactionBatch {
  const b = new BatchBuilder();
  for (const [s, e, ts, w] of entries) b.push(s, e, ts, w);
  return b.take()!;
}

/** Closed windows as plain comparable data, counts sorted by emoji index. */
const plain = (ws: ClosedWindow[]) => ws.map((w) => ({ ...w, counts: [...w.counts].sort((a, b) => a[0] - b[0]) }));

describe("windowStart", () => {
  test("is the multiple of w at or below ts", () => {
    expect(windowStart(0, 1000)).toBe(0);
    expect(windowStart(999, 1000)).toBe(0);
    expect(windowStart(1000, 1000)).toBe(1000);
    expect(windowStart(1_700_000_123_456, 1000)).toBe(1_700_000_123_000);
    expect(windowStart(1_700_000_123_456, 250)).toBe(1_700_000_123_250);
    expect(windowStart(1_700_000_123_456, 5000)).toBe(1_700_000_120_000);
    // Real timestamps are not always whole milliseconds (performance-derived or test clocks).
    expect(windowStart(1500.5, 1000)).toBe(1000);
  });

  test("property: start <= ts < start + w and start is a multiple of w", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_000_000_000_000 }), fc.integer({ min: 250, max: 5000 }), (ts, w) => {
        const s = windowStart(ts, w);
        return s % w === 0 && s <= ts && ts < s + w;
      }),
    );
  });
});

describe("BatchBuilder", () => {
  test("take() is null when empty, then hands over exactly what was pushed, with increasing ids", () => {
    const b = new BatchBuilder();
    expect(b.take()).toBeNull();
    b.push(1, 2, 10_500, 1000);
    b.push(3, 4, 11_200, 250);
    expect(b.size).toBe(2);
    const x = b.take()!;
    expect(b.size).toBe(0);
    expect(x.n).toBe(2);
    expect([...x.stream]).toEqual([1, 3]);
    expect([...x.emoji]).toEqual([2, 4]);
    expect([...x.ts]).toEqual([10_500, 11_200]);
    expect([...x.w]).toEqual([1000, 250]);
    // maxEnd: the latest window end among the entries ([10000, 11000) and [11000, 11250)).
    expect(x.maxEnd).toBe(11_250);
    expect(b.take()).toBeNull();
    b.push(0, 0, 20_000, 1000);
    const y = b.take()!;
    expect(y.id).toBeGreaterThan(x.id);
    // maxEnd starts over for each batch.
    expect(y.maxEnd).toBe(21_000);
  });

  test("maxEnd is the latest end, whichever entry carries it", () => {
    const x = batchOf([
      [0, 0, 4_900, 5000], // [0, 5000)
      [1, 0, 5_100, 250], // [5000, 5250)
      [2, 0, 1_000, 1000], // [1000, 2000)
    ]);
    expect(x.maxEnd).toBe(5_250);
  });

  test("grows past its initial capacity without losing or reordering entries", () => {
    const b = new BatchBuilder();
    const n = 5_000;
    for (let i = 0; i < n; i++) b.push(i % 7, i % 5, 1_000_000 + i, 1000);
    const x = b.take()!;
    expect(x.n).toBe(n);
    expect(x.stream.length).toBe(n);
    for (let i = 0; i < n; i++) {
      expect(x.stream[i]).toBe(i % 7);
      expect(x.emoji[i]).toBe(i % 5);
      expect(x.ts[i]).toBe(1_000_000 + i);
    }
  });

  test("a taken batch is a copy: later pushes do not change it", () => {
    const b = new BatchBuilder();
    b.push(1, 1, 1000, 1000);
    const x = b.take()!;
    b.push(9, 9, 9000, 250);
    b.take();
    expect([x.stream[0], x.emoji[0], x.ts[0], x.w[0]]).toEqual([1, 1, 1000, 1000]);
  });
});

describe("WindowFold", () => {
  test("windows are aligned to multiples of w and close only once now reaches their end", () => {
    const f = new WindowFold();
    f.add(batchOf([
      [0, 0, 10_000, 1000], // [10000, 11000): the first instant of the window
      [0, 1, 10_999, 1000], // the last instant of the same window
      [0, 0, 11_000, 1000], // the next window
    ]));
    expect(f.openWindows).toBe(2);
    expect(f.close(10_999)).toEqual([]);
    expect(f.close(10_999.9)).toEqual([]);
    const first = f.close(11_000);
    expect(plain(first)).toEqual([{ stream: 0, start: 10_000, w: 1000, counts: [[0, 1], [1, 1]], total: 2 }]);
    // A closed window is removed: closing again returns nothing for it.
    expect(f.close(11_000)).toEqual([]);
    expect(f.openWindows).toBe(1);
    expect(plain(f.close(12_000))).toEqual([{ stream: 0, start: 11_000, w: 1000, counts: [[0, 1]], total: 1 }]);
    expect(f.openWindows).toBe(0);
  });

  test("streams keep their own window lengths; close returns windows ordered by stream then start", () => {
    const f = new WindowFold();
    f.add(batchOf([
      [2, 0, 1_100, 250], // [1000, 1250)
      [1, 0, 1_100, 5000], // [0, 5000)
      [2, 0, 1_300, 250], // [1250, 1500)
      [0, 3, 1_100, 1000], // [1000, 2000)
      [0, 3, 1_200, 1000],
    ]));
    expect(plain(f.close(1_500))).toEqual([
      { stream: 2, start: 1_000, w: 250, counts: [[0, 1]], total: 1 },
      { stream: 2, start: 1_250, w: 250, counts: [[0, 1]], total: 1 },
    ]);
    expect(plain(f.close(2_000))).toEqual([{ stream: 0, start: 1_000, w: 1000, counts: [[3, 2]], total: 2 }]);
    expect(f.close(4_999)).toEqual([]);
    expect(plain(f.close(5_000))).toEqual([{ stream: 1, start: 0, w: 5000, counts: [[0, 1]], total: 1 }]);
  });

  test("batches fold into the same window: counts add up across batches", () => {
    const f = new WindowFold();
    f.add(batchOf([[0, 0, 100, 1000], [0, 1, 200, 1000]]));
    f.add(batchOf([[0, 0, 300, 1000]]));
    f.add(batchOf([[0, 0, 999, 1000], [0, 2, 500, 1000]]));
    expect(plain(f.close(1000))).toEqual([{ stream: 0, start: 0, w: 1000, counts: [[0, 3], [1, 1], [2, 1]], total: 5 }]);
  });

  test("the final close returns every window, ended or not, and leaves nothing open", () => {
    const f = new WindowFold();
    f.add(batchOf([[0, 0, 10_100, 1000], [0, 0, 11_100, 1000], [1, 1, 10_100, 5000]]));
    const all = f.close(10_500, true);
    expect(all.map((w) => [w.stream, w.start, w.total])).toEqual([[0, 10_000, 1], [0, 11_000, 1], [1, 10_000, 1]]);
    expect(f.openWindows).toBe(0);
    expect(f.close(Number.MAX_SAFE_INTEGER, true)).toEqual([]);
  });

  test("skipThrough drops exactly the windows that ended at or before it", () => {
    const entries: Array<[number, number, number, number]> = [
      [0, 0, 900, 1000], // [0, 1000): ended at 1000
      [0, 0, 1_500, 1000], // [1000, 2000): ends after 1000
      [1, 0, 750, 250], // [750, 1000): ended at 1000
      [1, 0, 1_000, 250], // [1000, 1250)
      [2, 0, 900, 5000], // [0, 5000)
    ];
    const f = new WindowFold();
    f.add(batchOf(entries), 1_000);
    expect(f.close(0, true).map((w) => [w.stream, w.start, w.total])).toEqual([[0, 1_000, 1], [1, 1_000, 1], [2, 0, 1]]);
    // One ms earlier, the windows ending at 1000 are not yet published: they are kept.
    const g = new WindowFold();
    g.add(batchOf(entries), 999);
    expect(g.close(0, true).length).toBe(5);
    // The default keeps everything.
    const h = new WindowFold();
    h.add(batchOf(entries));
    expect(h.close(0, true).length).toBe(5);
  });
});

// ---- the protocol, replayed ----

interface Event {
  stream: number;
  emoji: number;
  gap: number; // ms after the previous event
}
interface Step {
  events: number; // how many of the remaining events are accepted before this tick
  /** What goes wrong at this tick: nothing, the worker dies before the tick (its fold is lost), or it
   * dies after closing windows but before the main thread got the reply. */
  crash: "none" | "before" | "lostReply";
  advance: number; // ms the clock moves before the tick
}

const WINDOW_LENGTHS = [250, 1000, 2500, 5000];

/**
 * Mirrors src/reactions/index.ts: each tick takes the builder's batch into `retained` and hands it to
 * the worker, asks for the windows ended by `now`, and on the reply advances `emittedThrough` and
 * drops the batches whose windows are all published. A crash replaces the worker's fold with a new one
 * restored from `retained` with skipThrough = emittedThrough. At the end, a final close: by the worker,
 * or (worker down at shutdown) by a fresh fold on the main thread over the retained batches.
 */
function replay(start: number, wOf: number[], events: Event[], steps: Step[], finalOnMainThread = false) {
  const builder = new BatchBuilder();
  let fold = new WindowFold();
  let retained: ReactionBatch[] = [];
  let emittedThrough = -Infinity;
  let now = start;
  let next = 0;
  const accepted = new Map<string, number>(); // stream:emoji -> n
  const published = new Map<string, number>();
  const windowsSeen = new Set<string>(); // stream:start
  let duplicateWindow = false;
  const publish = (ws: ClosedWindow[]) => {
    for (const w of ws) {
      const key = `${w.stream}:${w.start}`;
      if (windowsSeen.has(key)) duplicateWindow = true;
      windowsSeen.add(key);
      let sum = 0;
      for (const [e, n] of w.counts) {
        published.set(`${w.stream}:${e}`, (published.get(`${w.stream}:${e}`) ?? 0) + n);
        sum += n;
      }
      if (sum !== w.total) throw new Error(`window ${key}: counts ${sum} != total ${w.total}`);
    }
  };
  const restore = () => {
    fold = new WindowFold();
    for (const b of retained) fold.add(b, emittedThrough);
  };
  const accept = (k: number) => {
    for (let i = 0; i < k && next < events.length; i++, next++) {
      const ev = events[next]!;
      now += ev.gap;
      builder.push(ev.stream, ev.emoji, now, wOf[ev.stream]!);
      accepted.set(`${ev.stream}:${ev.emoji}`, (accepted.get(`${ev.stream}:${ev.emoji}`) ?? 0) + 1);
    }
  };
  for (const step of steps) {
    accept(step.events);
    now += step.advance;
    const b = builder.take();
    if (b) retained.push(b);
    if (step.crash === "before") {
      restore(); // the batch just posted died with the worker: the restore carries it
      continue;
    }
    if (b) fold.add(b);
    const closed = fold.close(now);
    if (step.crash === "lostReply") {
      restore(); // the worker closed those windows but its reply never arrived
      continue;
    }
    emittedThrough = Math.max(emittedThrough, now);
    retained = retained.filter((x) => x.maxEnd > now);
    publish(closed);
  }
  accept(events.length);
  const last = builder.take();
  if (last) retained.push(last);
  if (finalOnMainThread) {
    // stop() with the worker down (or silent): the main thread folds the retained batches itself.
    const f = new WindowFold();
    for (const x of retained) f.add(x, emittedThrough);
    publish(f.close(0, true));
  } else {
    if (last) fold.add(last);
    publish(fold.close(now, true));
  }
  return { accepted, published, duplicateWindow, retainedLeft: retained.length };
}

const eventArb = fc.record({ stream: fc.integer({ min: 0, max: 3 }), emoji: fc.integer({ min: 0, max: 5 }), gap: fc.integer({ min: 0, max: 700 }) });
const stepArb = fc.record({
  events: fc.integer({ min: 0, max: 40 }),
  crash: fc.constantFrom<Step["crash"]>("none", "none", "none", "before", "lostReply"),
  advance: fc.integer({ min: 0, max: 3000 }),
});

describe("exactly once across crashes (property)", () => {
  test("random events in random batches with random crashes: every reaction is published exactly once", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
        fc.array(fc.constantFrom(...WINDOW_LENGTHS), { minLength: 4, maxLength: 4 }),
        fc.array(eventArb, { minLength: 0, maxLength: 400 }),
        fc.array(stepArb, { minLength: 0, maxLength: 40 }),
        fc.boolean(),
        (start, wOf, events, steps, finalOnMainThread) => {
          const r = replay(start, wOf, events, steps, finalOnMainThread);
          expect(r.duplicateWindow).toBe(false);
          expect(Object.fromEntries(r.published)).toEqual(Object.fromEntries(r.accepted));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a crash that loses a tick reply re-publishes nothing already published (hand-made case)", () => {
    // Window [0, 1000) is published at tick 1000. Window [1000, 2000) is closed by the worker at tick
    // 2000 but the reply is lost; the restore must bring back [1000, 2000) and not [0, 1000).
    const r = replay(
      0,
      [1000, 1000, 1000, 1000],
      [
        { stream: 0, emoji: 0, gap: 100 }, // ts 100
        { stream: 0, emoji: 0, gap: 1000 }, // ts 1100
        { stream: 0, emoji: 1, gap: 200 }, // ts 1300
      ],
      [
        { events: 2, crash: "none", advance: 0 }, // tick at 1100: [0, 1000) published
        { events: 1, crash: "none", advance: 0 }, // tick at 1300
        { events: 0, crash: "lostReply", advance: 700 }, // tick at 2000: [1000, 2000) closed, reply lost
        { events: 0, crash: "none", advance: 0 }, // tick at 2000 again, on the restored worker
      ],
    );
    expect(r.duplicateWindow).toBe(false);
    expect(Object.fromEntries(r.published)).toEqual({ "0:0": 2, "0:1": 1 });
    expect(r.retainedLeft).toBe(0);
  });
});
