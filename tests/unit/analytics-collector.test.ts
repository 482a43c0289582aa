// The collector's rollups (src/analytics/collector.ts) against a brute-force computation from the
// same script: random broadcasts of joins, leaves (tabs, rejoins, viewers in two countries, events
// sharing an instant), segment marks (two in one instant too), chat, clock ticks and drains at random
// moments. Watch time per window x segment and per window x country, presence at every window start
// and every minute, the peak, and the first appearances must equal what merging each viewer's
// sessions gives (the definitions in the README); chat, reactions and votes per window x country x
// segment x key, the chatter rows and the session rows must equal the script's events.
import { describe, expect, test } from "bun:test";
import { renameViewer } from "../../src/analytics/batch.ts";
import { Collector, type AggRow, type ChatterRow, type Prior, type SessionRow } from "../../src/analytics/collector.ts";
import { aggRows, chatterRows, sessionRows } from "../support/batch-rows.ts";
import { prng } from "../support/prng.ts";

const W = 10_000;

/** An event of a viewer, as the door sends it: through the viewer's handle in broadcast "b". */
const chat = (c: Collector, viewer: string, sentiment: number, at: number) => c.chatBy(c.handle("b", viewer)!, sentiment, at);
const count = (c: Collector, viewer: string, kind: "reaction" | "vote", key: string, at: number) => c.countBy(c.handle("b", viewer)!, kind, key, at);
/** A drain's columns read back as rows (as the worker reads them). */
const drain = (c: Collector, at: number) => {
  const w = c.drain(at);
  return { agg: [...aggRows(w)], chatters: [...chatterRows(w)], sessions: [...sessionRows(w)] };
};


type Ev =
  | { k: "join"; t: number; id: string; viewer: string; country: string }
  | { k: "leave"; t: number; id: string }
  | { k: "mark"; t: number; label: string }
  | { k: "chat"; t: number; viewer: string; sentiment: number }
  | { k: "react"; t: number; viewer: string; kind: "reaction" | "vote"; key: string }
  | { k: "tick"; t: number }
  | { k: "drain"; t: number };

function script(seed: number) {
  const r = prng(seed);
  const pick = <T,>(a: T[]) => a[Math.floor(r() * a.length)]!;
  const S = 1_800_000_000_000 + Math.floor(r() * 1000) * 1000 + (r() < 0.5 ? 0 : Math.floor(r() * 999));
  const viewers = Array.from({ length: 2 + Math.floor(r() * 6) }, (_, i) => `v${i}`);
  const countries = ["US", "GB", "", "DE"];
  const events: Ev[] = [];
  const open: Array<{ id: string }> = [];
  let t = S;
  let n = 0;
  let marks = 0;
  const steps = 20 + Math.floor(r() * 60);
  for (let i = 0; i < steps; i++) {
    // Time moves by 0 (same instant), to a window boundary, or by a random amount.
    const x = r();
    t = x < 0.25 ? t : x < 0.4 ? Math.ceil((t + 1) / W) * W : t + Math.floor(r() * 40_000);
    const y = r();
    if (y < 0.35 || open.length === 0) {
      const id = `s${n++}`;
      open.push({ id });
      events.push({ k: "join", t, id, viewer: pick(viewers), country: pick(countries) });
    } else if (y < 0.65) {
      const j = Math.floor(r() * open.length);
      events.push({ k: "leave", t, id: open[j]!.id });
      open.splice(j, 1);
    } else if (y < 0.72) events.push({ k: "mark", t, label: `seg${marks++ % 3}` });
    else if (y < 0.8) events.push({ k: "chat", t, viewer: pick(viewers), sentiment: 1 + Math.floor(r() * 7) }); // (positive: sums never cancel to 0)
    else if (y < 0.87) events.push(r() < 0.7 ? { k: "react", t, viewer: pick(viewers), kind: "reaction", key: pick(["🔥", "❤️", "😂"]) } : { k: "react", t, viewer: pick(viewers), kind: "vote", key: `p1:${Math.floor(r() * 3)}` });
    else if (y < 0.93) events.push({ k: "tick", t });
    else events.push({ k: "drain", t });
  }
  const E = t + (r() < 0.5 ? 0 : Math.floor(r() * 90_000));
  return { S, E, events };
}

/** What the collector hands over, summed over every drain (the report's SUM / MAX). */
function play(S: number, E: number, events: Ev[]) {
  const c = new Collector(W, 1);
  const rows: AggRow[] = [];
  const chatters: ChatterRow[] = [];
  const sessionRows = new Map<string, SessionRow>(); // the latest row of each session
  c.begin("b", "st", S, "", S);
  for (const e of events) {
    if (e.k === "join") c.startSession(e.id, Number(e.id.slice(1)), "b", e.country, e.viewer, e.t);
    else if (e.k === "leave") c.endSession("b", Number(e.id.slice(1)), e.t);
    else if (e.k === "mark") c.segment("b", e.label, e.t);
    else if (e.k === "chat") chat(c, e.viewer, e.sentiment, e.t);
    else if (e.k === "react") count(c, e.viewer, e.kind, e.key, e.t);
    else if (e.k === "tick") c.tick(e.t);
    else {
      const d = drain(c, e.t);
      rows.push(...d.agg);
      chatters.push(...d.chatters);
      for (const x of d.sessions) sessionRows.set(x.session_id, x);
    }
  }
  c.finish("b", E);
  const last = drain(c, E);
  rows.push(...last.agg);
  chatters.push(...last.chatters);
  for (const x of last.sessions) sessionRows.set(x.session_id, x);
  const sum = new Map<string, number>();
  let peak = 0;
  for (const x of rows) {
    if (x.kind === "peak") peak = Math.max(peak, x.n);
    else if (x.kind === "watch" || x.kind === "watch_all") add(sum, `${x.kind}|${x.bucket}|${x.kind === "watch" ? x.country : x.segment}`, x.total);
    else if (x.kind === "conc" || x.kind === "conc_all" || x.kind === "present") add(sum, `${x.kind}|${x.bucket}|${x.kind === "conc" ? x.country : x.segment}`, x.n);
    else if (x.kind.startsWith("u")) add(sum, `${x.kind}|${x.kind.endsWith("_c") ? x.country : x.kind.endsWith("_s") ? x.segment : ""}`, x.n);
    else if (x.kind === "chat" || x.kind === "reaction" || x.kind === "vote" || x.kind === "join" || x.kind === "leave") {
      add(sum, `${x.kind}|${x.bucket}|${x.country}|${x.segment}|${x.key}`, x.n);
      add(sum, `${x.kind}-total|${x.bucket}|${x.country}|${x.segment}|${x.key}`, x.total);
    }
  }
  for (const x of chatters) {
    add(sum, `chatter|${x.viewer_key}|${x.bucket}|${x.country}|${x.segment}`, x.messages);
    add(sum, `chatter-sentiment|${x.viewer_key}|${x.bucket}|${x.country}|${x.segment}`, x.sentiment_sum);
  }
  for (const x of sessionRows.values()) add(sum, `session|${x.session_id}|${x.viewer_key}|${x.country}|${x.segment}|${x.joined_at}`, x.left_at ?? -1);
  return { sum, peak };
}

function add(m: Map<string, number>, k: string, v: number) {
  if (v !== 0) m.set(k, (m.get(k) ?? 0) + v);
}

/** The same numbers from the definitions: merged presence, checked instant by instant. */
function brute(S: number, E: number, events: Ev[]) {
  const sessions = new Map<string, { viewer: string; country: string; a: number; b: number }>();
  const marks: Array<{ t: number; label: string }> = [];
  const chats: Array<{ viewer: string; country: string; segment: string }> = [];
  const sum = new Map<string, number>();
  let label = "";
  const countryOf = new Map<string, string>(); // a chat counts in the country of the viewer's latest session
  const sessionSegment = new Map<string, string>();
  const left = new Set<string>();
  for (const e of events) {
    if (e.k === "join") {
      sessions.set(e.id, { viewer: e.viewer, country: e.country, a: e.t, b: E });
      sessionSegment.set(e.id, label);
      add(sum, `join|${e.t - (e.t % W)}|${e.country}|${label}|`, 1);
      countryOf.set(e.viewer, e.country);
    }
    else if (e.k === "leave") {
      sessions.get(e.id)!.b = e.t;
      add(sum, `leave|${e.t - (e.t % W)}|${sessions.get(e.id)!.country}|${label}|`, 1);
      left.add(e.id);
    }
    else if (e.k === "mark") {
      marks.push({ t: e.t, label: e.label });
      label = e.label;
    } else if (e.k === "chat") {
      const country = countryOf.get(e.viewer) ?? "";
      chats.push({ viewer: e.viewer, country, segment: label });
      // Per-event counts per window x country x segment (x key), and one row per chatter per window.
      add(sum, `chat|${e.t - (e.t % W)}|${country}|${label}|`, 1);
      add(sum, `chat-total|${e.t - (e.t % W)}|${country}|${label}|`, e.sentiment);
      add(sum, `chatter|${e.viewer}|${e.t - (e.t % W)}|${country}|${label}`, 1);
      add(sum, `chatter-sentiment|${e.viewer}|${e.t - (e.t % W)}|${country}|${label}`, e.sentiment);
    } else if (e.k === "react") add(sum, `${e.kind}|${e.t - (e.t % W)}|${countryOf.get(e.viewer) ?? ""}|${label}|${e.key}`, 1);
  }
  for (const [id, x] of sessions) if (!left.has(id)) add(sum, `leave|${E - (E % W)}|${x.country}|${label}|`, 1); // ended with the broadcast
  // Each session's row: who, from where, in which segment it began, when it began and ended.
  for (const [id, x] of sessions) add(sum, `session|${id}|${x.viewer}|${x.country}|${sessionSegment.get(id)}|${x.a}`, x.b);
  const all = [...sessions.values()];
  const segmentAt = (x: number) => marks.filter((m) => m.t <= x).at(-1)?.label ?? "";
  // Present at x: a session with a <= x < b (a leave and a join at one instant: the leave first).
  const present = (x: number, keep: (s: (typeof all)[number]) => boolean = () => true) => new Set(all.filter((s) => keep(s) && s.a <= x && x < s.b).map((s) => s.viewer)).size;
  const countries = [...new Set(all.map((s) => s.country))];
  const times = new Set<number>([S, E, ...events.map((e) => e.t), ...marks.map((m) => m.t)]);
  for (let b = Math.ceil(S / W) * W; b < E; b += W) times.add(b);
  const points = [...times].filter((x) => x >= S && x <= E).sort((p, q) => p - q);
  let peak = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (p < E) peak = Math.max(peak, present(p));
    const q = points[i + 1];
    if (q === undefined) continue;
    add(sum, `watch_all|${p - (p % W)}|${segmentAt(p)}`, (q - p) * present(p));
    for (const c of countries) add(sum, `watch|${p - (p % W)}|${c}`, (q - p) * present(p, (s) => s.country === c));
  }
  for (let b = Math.ceil(S / W) * W; b < E; b += W) {
    add(sum, `conc_all|${b}|${segmentAt(b)}`, present(b));
    for (const c of countries) add(sum, `conc|${b}|${c}`, present(b, (s) => s.country === c));
  }
  for (let m = S; m < E; m += 60_000) add(sum, `present|${m}|`, present(m));
  // First appearances: a viewer present for some time (overall, from a country, in a segment).
  const lasting = all.filter((s) => s.b > s.a);
  add(sum, "uv|", new Set(lasting.map((s) => s.viewer)).size);
  for (const c of countries) add(sum, `uv_c|${c}`, new Set(lasting.filter((s) => s.country === c).map((s) => s.viewer)).size);
  const timeline = [{ t: S, label: "" }, ...marks].filter((m, i, a) => a[i + 1]?.t !== m.t);
  const bySegment = new Map<string, Set<string>>(); // a label marked twice is one segment
  for (const [i, seg] of timeline.entries()) {
    const end = timeline[i + 1]?.t ?? E;
    const set = bySegment.get(seg.label) ?? new Set();
    for (const s of lasting) if (Math.min(s.b, end) > Math.max(s.a, seg.t)) set.add(s.viewer);
    bySegment.set(seg.label, set);
  }
  for (const [l, set] of bySegment) add(sum, `uv_s|${l}`, set.size);
  add(sum, "uc|", new Set(chats.map((x) => x.viewer)).size);
  for (const c of new Set(chats.map((x) => x.country))) add(sum, `uc_c|${c}`, new Set(chats.filter((x) => x.country === c).map((x) => x.viewer)).size);
  for (const g of new Set(chats.map((x) => x.segment))) add(sum, `uc_s|${g}`, new Set(chats.filter((x) => x.segment === g).map((x) => x.viewer)).size);
  return { sum, peak };
}

const sorted = (m: Map<string, number>) => [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

describe("collector rollups equal the definitions computed from merged sessions", () => {
  test("400 random broadcasts", () => {
    for (let seed = 1; seed <= 400; seed++) {
      const { S, E, events } = script(seed);
      const got = play(S, E, events);
      const want = brute(S, E, events);
      expect({ seed, peak: got.peak, rows: sorted(got.sum) }).toEqual({ seed, peak: want.peak, rows: sorted(want.sum) });
    }
  });

  test("a segment marked twice in one instant: the later one is in force, the first lasted no time", () => {
    const S = 1_800_000_000_000;
    const events: Ev[] = [
      { k: "join", t: S, id: "a", viewer: "v", country: "US" },
      { k: "mark", t: S + 5000, label: "zeta" },
      { k: "mark", t: S + 5000, label: "alpha" },
    ];
    const got = play(S, S + 20_000, events);
    expect(got.sum.get("uv_s|zeta")).toBeUndefined();
    expect(got.sum.get("uv_s|alpha")).toBe(1);
    expect(got.sum.get("watch_all|1800000010000|alpha")).toBe(10_000);
  });

  test("earlier runs' appearances (a restart mid-broadcast) are not counted again; new ones wait for them", () => {
    const S = 1_800_000_000_000;
    const c = new Collector(W, 1);
    c.begin("b", "st", S - 600_000, "", S);
    c.awaitPrior("b");
    c.startSession("s1", 1, "b", "US", "old", S);
    c.startSession("s2", 2, "b", "US", "new", S);
    chat(c, "old", 0, S + 1);
    const early = drain(c, S + 1000).agg.filter((r) => r.kind.startsWith("u"));
    expect(early).toEqual([]); // nothing counted before the earlier runs are known
    // Earlier runs knew "old" (in two slices, as the door hands them over), and "gone" who has not come back.
    const prior = { dim: ["uv", "uv_c", "uv_s", "uc", "uc_c", "uc_s", "uv"], value: ["", "US", "", "", "US", "", ""], viewer: ["old", "old", "old", "old", "old", "old", "gone"] } as Prior;
    c.priorRows("b", prior, 0, 3);
    chat(c, "new", 0, S + 1500); // (new was joined: a first chat while the rest is still read)
    c.priorRows("b", prior, 3, 7);
    c.priorDone("b");
    const rows = drain(c, S + 2000).agg.filter((r) => r.kind.startsWith("u")).map((r) => [r.kind, r.n]).sort();
    expect(rows).toEqual([["uc", 1], ["uc_c", 1], ["uc_s", 1], ["uv", 1], ["uv_c", 1], ["uv_s", 1]]);
    expect(c.uniqueChatters("b")).toBe(2);
    // "gone" comes back: not a new viewer.
    c.startSession("s3", 3, "b", "US", "gone", S + 3000);
    expect(drain(c, S + 5000).agg.filter((r) => r.kind === "uv")).toEqual([]);
  });

  test("an erased viewer still connected stays one viewer: not counted again, and rows from then on carry the new id", () => {
    const S = 1_800_000_000_000;
    const c = new Collector(W, 1);
    c.begin("b", "st", S, "", S);
    c.startSession("s1", 1, "b", "US", "x", S);
    chat(c, "x", 0, S + 1);
    const first = drain(c, S + 2).agg.filter((r) => r.kind === "uv" || r.kind === "uc").map((r) => [r.kind, r.n]).sort();
    expect(first).toEqual([["uc", 1], ["uv", 1]]);
    c.anonymise("x", "erased:1");
    // The hub still knows the viewer by the old id: another tab and another message.
    c.startSession("s2", 2, "b", "US", "x", S + 3);
    chat(c, "x", 0, S + 4);
    const b = drain(c, S + 20_000);
    expect(b.agg.filter((r) => r.kind.startsWith("u"))).toEqual([]);
    // One viewer with two tabs: present once at the window starts that followed.
    expect(b.agg.filter((r) => r.kind === "conc_all").map((r) => [r.bucket - S, r.n])).toEqual([[10_000, 1]]);
    expect(b.chatters.map((r) => r.viewer_key)).toEqual(["erased:1"]);
    expect([...new Set(b.sessions.map((r) => r.viewer_key))]).toEqual(["erased:1"]);
    // Erased again (a second request): they keep the first anonymous key, still one viewer.
    c.anonymise("x", "erased:2");
    c.startSession("s3", 3, "b", "US", "x", S + 20_001);
    chat(c, "x", 0, S + 20_002);
    const again = drain(c, S + 40_000);
    expect(again.agg.filter((r) => r.kind.startsWith("u"))).toEqual([]);
    expect(again.chatters.map((r) => r.viewer_key)).toEqual(["erased:1"]);
    expect([...new Set(again.sessions.map((r) => r.viewer_key))]).toEqual(["erased:1"]);
  });

  test("counts stay exact with many ids (600 countries, 20,000 poll keys) and a clock far behind", () => {
    const S = 1_800_000_000_000;
    const c = new Collector(W, 1);
    c.begin("b", "st", S, "", S);
    for (let i = 0; i < 600; i++) c.startSession(`s${i}`, i, "b", `C${i}`, `v${i}`, S);
    for (let rep = 0; rep < 2; rep++) for (let i = 0; i < 600; i++) count(c, `v${i}`, "reaction", "🔥", S + 1);
    for (let k = 0; k < 20_000; k++) count(c, "v0", "vote", `poll:${k}`, S + 2);
    count(c, "v1", "reaction", "🔥", S - 20_000 * W); // a clock step far back: still counted
    const rows = drain(c, S + 3).agg;
    const reactions = new Map<string, number>();
    for (const r of rows) if (r.kind === "reaction") reactions.set(r.country, (reactions.get(r.country) ?? 0) + r.n);
    expect(reactions.size).toBe(600);
    expect([...reactions].filter(([country, n]) => n !== (country === "C1" ? 3 : 2))).toEqual([]);
    const votes = rows.filter((r) => r.kind === "vote");
    expect(new Set(votes.map((r) => r.key)).size).toBe(20_000);
    expect(votes.reduce((n, r) => n + r.n, 0)).toBe(20_000);
  });

  test("a guest gone for good is forgotten (a 24/7 broadcast does not keep every guest); counts stay", () => {
    const S = 1_800_000_000_000;
    const c = new Collector(W, 1);
    c.begin("b", "st", S, "", S);
    for (let i = 0; i < 100; i++) {
      c.startSession(`g${i}`, i, "b", "US", `guest:boot:${i}`, S + i);
      if (i % 4 === 0) chat(c, `guest:boot:${i}`, 0, S + i);
      else count(c, `guest:boot:${i}`, "reaction", "🎉", S + i);
    }
    c.startSession("v", 1000, "b", "US", "viewer-1", S + 200);
    for (let i = 0; i < 100; i++) c.endSession("b", i, S + 300 + i);
    expect(c.trackedViewers("b")).toBe(101);
    for (let i = 0; i < 100; i++) c.forget(`guest:boot:${i}`);
    c.forget("viewer-1"); // still present: kept
    // The 25 guests who chatted are kept (see the next test), the 75 others go.
    expect(c.trackedViewers("b")).toBe(26);
    const rows = drain(c, S + 10_000).agg;
    const sum = (k: string) => rows.filter((r) => r.kind === k).reduce((n, r) => n + r.n, 0);
    expect([sum("uv"), sum("uc"), sum("chat"), sum("reaction")]).toEqual([101, 25, 25, 75]);
  });

  test("a guest's held message approved after their socket closed: still one unique chatter", () => {
    const S = 1_800_000_000_000;
    const c = new Collector(W, 1);
    c.begin("b", "st", S, "", S);
    c.startSession("g", 1, "b", "US", "guest:boot:1", S);
    chat(c, "guest:boot:1", 1, S + 1);
    c.endSession("b", 1, S + 2);
    c.forget("guest:boot:1"); // the socket closed while a second message waited in the review queue
    chat(c, "guest:boot:1", 1, S + 60_000); // a moderator approves it: it comes by the guest's key
    expect(c.uniqueChatters("b")).toBe(1);
    const b = drain(c, S + 70_000);
    const sum = (k: string) => b.agg.filter((r) => r.kind === k).reduce((n, r) => n + r.n, 0);
    expect([sum("uc"), sum("uc_c"), sum("chat")]).toEqual([1, 1, 2]);
  });
});

test("a batch waiting to be stored: an erasure renames the viewer in every broadcast it lists them for", () => {
  const S = 1_800_000_000_000;
  const c = new Collector(W, 1);
  c.begin("b", "st", S, "", S);
  c.begin("b2", "st2", S, "", S);
  c.startSession("s1", 1, "b", "US", "x", S);
  c.startSession("s2", 2, "b2", "US", "x", S);
  c.chatBy(c.handle("b2", "x")!, 1, S + 1);
  const w = c.drain(S + 2);
  renameViewer(w, "x", "erased:1");
  expect([...sessionRows(w)].map((r) => [r.broadcast_id, r.viewer_key]).sort()).toEqual([["b", "erased:1"], ["b2", "erased:1"]]);
  expect([...chatterRows(w)].map((r) => r.viewer_key)).toEqual(["erased:1"]);
});

test("an erasure after a guest is forgotten still renames their rows waiting for the next drain", () => {
  const S = 1_800_000_000_000;
  const c = new Collector(W, 0); // (a first batch id of 0 lists its viewers too)
  c.begin("b", "st", S, "", S);
  c.startSession("g", 1, "b", "US", "guest:boot:1", S);
  chat(c, "guest:boot:1", 1, S + 1);
  c.endSession("b", 1, S + 2);
  c.forget("guest:boot:1"); // the socket closed
  c.anonymise("guest:boot:1", "erased:1");
  const b = drain(c, S + 3);
  expect(b.chatters.map((r) => r.viewer_key)).toEqual(["erased:1"]);
  expect(b.sessions.map((r) => [r.session_id, r.viewer_key, r.left_at])).toEqual([["g", "erased:1", S + 2]]);
});
