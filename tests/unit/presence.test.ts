// The pure presence core (src/presence/presence.ts) against a simple model, checked through the
// official phoenix client's own Presence.syncState / syncDiff: whatever flush() returns, a client
// that applies it (from the start, or from `joinState()` taken at any moment, as a joiner gets it)
// ends up with exactly the model's viewers and metas while the list is on, and with {} while off.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Presence as PhxPresence } from "phoenix";
import { Presence, type FlushOutput, type Meta, type PresenceMap } from "../../src/presence/presence.ts";

// Small key pool so that keys collide (several sockets per viewer) and leave/rejoin often.
const KEYS = ["alice", "bob", "carol", "dave", "erin", "frank"];

type Op =
  | { t: "track"; key: number }
  | { t: "untrack"; pick: number }
  | { t: "untrackUnknown"; key: number }
  | { t: "trackGuest" }
  | { t: "untrackGuest" }
  | { t: "flush" }
  | { t: "setListMax"; n: number }
  | { t: "lateJoin" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant("track" as const), key: fc.nat(KEYS.length - 1) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant("untrack" as const), pick: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("untrackUnknown" as const), key: fc.nat(KEYS.length - 1) }) },
  { weight: 2, arbitrary: fc.constant({ t: "trackGuest" as const }) },
  { weight: 2, arbitrary: fc.constant({ t: "untrackGuest" as const }) },
  { weight: 4, arbitrary: fc.constant({ t: "flush" as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("setListMax" as const), n: fc.nat(8) }) },
  { weight: 2, arbitrary: fc.constant({ t: "lateJoin" as const }) },
);

/** The model: which (key, meta) pairs are tracked, and how many guests. */
class Model {
  metas = new Map<string, Meta>(); // phx_ref -> meta
  keyOf = new Map<string, string>(); // phx_ref -> key
  guests = 0;
  constructor(public listMax: number) {}
  get count(): number {
    return new Set(this.keyOf.values()).size + this.guests;
  }
  get shouldList(): boolean {
    return this.count <= this.listMax;
  }
  /** What a synced client must hold: the full list while listing, {} otherwise. */
  expected(): Norm {
    const out: Norm = dict();
    if (!this.shouldList) return out;
    for (const [ref, meta] of this.metas) (out[this.keyOf.get(ref)!] ??= []).push(meta);
    return sortNorm(out);
  }
}

type Norm = Record<string, Meta[]>;

/** Keys are viewer ids (any printable string, "__proto__" included): never index a plain object by them. */
function dict<T>(): Record<string, T> {
  return Object.create(null);
}

function sortNorm(n: Norm): Norm {
  const out: Norm = dict();
  for (const k of Object.keys(n).sort()) out[k] = [...n[k]!].sort((a, b) => (a.phx_ref < b.phx_ref ? -1 : 1));
  return out;
}

/** A phoenix client state (null-prototype object of {metas}) as a plain, sorted record. */
function norm(state: Record<string, { metas: Meta[] }>): Norm {
  const out: Norm = dict();
  for (const k of Object.getOwnPropertyNames(state)) out[k] = state[k]!.metas.map((m) => ({ ...m }));
  return sortNorm(out);
}

function pairs(n: Norm): Set<string> {
  const s = new Set<string>();
  for (const [k, metas] of Object.entries(n)) for (const m of metas) s.add(`${k}\u0000${m.phx_ref}`);
  return s;
}

function pairsOfMap(m: PresenceMap): Set<string> {
  return pairs(norm(m as any));
}

function minus(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x)).sort();
}

/** What phoenix.js's Presence does with a broadcast: presence_state -> syncState, presence_diff -> syncDiff. */
function apply(state: any, out: FlushOutput): any {
  // Every broadcast crosses the wire as JSON: the client sees the parsed text, never our objects.
  if (out.kind === "state") return PhxPresence.syncState(state, JSON.parse(JSON.stringify(out.state)));
  if (out.kind === "diff") return PhxPresence.syncDiff(state, JSON.parse(JSON.stringify(out.diff)));
  return state;
}

function run(listMax: number, ops: Op[], keys: string[] = KEYS): void {
  const p = new Presence(listMax);
  const model = new Model(listMax);
  let nextRef = 1;
  let replica: any = {}; // a client subscribed from the very start (its join saw stateJson "{}")
  const joiners: any[] = []; // late joiners: JSON.parse(joinState()) then only later flushes
  let clientsListing = listMax >= 0; // whether the last state clients got was a list
  let stoppedByJoin = false; // a joiner found the audience above listMax since the last flush
  const log: string[] = [];
  const fail = (what: string, got: unknown, want: unknown) => {
    throw new Error(`${what}\n  got:  ${JSON.stringify(got)}\n  want: ${JSON.stringify(want)}\n  ops: ${log.join(" ")}`);
  };

  for (const op of ops) {
    switch (op.t) {
      case "track": {
        const key = keys[op.key % keys.length]!;
        const ref = (nextRef++).toString(36);
        const meta: Meta = { phx_ref: ref, name: `Viewer ${key}`, badges: op.key % 2 ? ["vip"] : [], online_at: "2026-01-01T00:00:00.000Z" };
        p.track(key, meta);
        model.metas.set(ref, meta);
        model.keyOf.set(ref, key);
        log.push(`track(${key},${ref})`);
        break;
      }
      case "untrack": {
        const refs = [...model.metas.keys()];
        if (refs.length === 0) break;
        const ref = refs[op.pick % refs.length]!;
        const key = model.keyOf.get(ref)!;
        p.untrack(key, ref);
        model.metas.delete(ref);
        model.keyOf.delete(ref);
        log.push(`untrack(${key},${ref})`);
        break;
      }
      case "untrackUnknown": {
        // A ref that was never tracked (or already gone): a no-op, as a late close of an old join is.
        const key = keys[op.key % keys.length]!;
        p.untrack(key, "never-tracked");
        log.push(`untrack(${key},never-tracked)`);
        break;
      }
      case "trackGuest":
        p.trackGuest();
        model.guests++;
        log.push("guest+");
        break;
      case "untrackGuest":
        p.untrackGuest();
        if (model.guests > 0) model.guests--;
        log.push("guest-");
        break;
      case "setListMax":
        p.setListMax(op.n);
        model.listMax = op.n;
        log.push(`listMax=${op.n}`);
        break;
      case "lateJoin": {
        const listed = p.isListing;
        const got = JSON.parse(p.joinState());
        if (listed && !p.isListing) stoppedByJoin = true;
        // Above the limit a joiner gets {} at once, not the list of the last flush.
        if (model.count > model.listMax && Object.keys(got).length !== 0) fail("joiner above listMax", got, {});
        joiners.push(got);
        log.push("join");
        break;
      }
      case "flush": {
        const wasDirty = p.dirty;
        const before = norm(replica);
        const out = p.flush();
        log.push(`flush->${out.kind}`);
        const want = model.expected();
        // dirty is what the hub uses to drop idle rooms: a clean presence must have nothing to send.
        if (!wasDirty && out.kind !== "none") fail("flush of a clean presence sent something", out, "none");
        if (p.dirty) fail("still dirty right after a flush", true, false);
        if (p.isListing !== model.shouldList) fail("listing flag", p.isListing, model.shouldList);
        // A full state goes out exactly when the list starts or stops as clients saw it: {} on stop,
        // everything on start (a stop a joiner caused between flushes is announced here too).
        const flips = clientsListing !== model.shouldList || stoppedByJoin;
        if ((out.kind === "state") !== flips) fail("state sent iff listing flips", out.kind, flips);
        clientsListing = model.shouldList;
        stoppedByJoin = false;
        if (out.kind === "state") {
          if (model.shouldList) {
            if (JSON.stringify(norm(out.state as any)) !== JSON.stringify(want)) fail("fresh full state", norm(out.state as any), want);
          } else if (Object.keys(out.state).length !== 0) fail("state when the list stops", out.state, {});
        }
        if (out.kind === "diff") {
          // Exactly the changes since the last flush: a join and leave inside one batch appear in neither.
          const b = pairs(before);
          const w = pairs(want);
          const joins = pairsOfMap(out.diff.joins);
          const leaves = pairsOfMap(out.diff.leaves);
          if (JSON.stringify([...joins].sort()) !== JSON.stringify(minus(w, b))) fail("diff joins", [...joins].sort(), minus(w, b));
          if (JSON.stringify([...leaves].sort()) !== JSON.stringify(minus(b, w))) fail("diff leaves", [...leaves].sort(), minus(b, w));
        }
        replica = apply(replica, out);
        if (JSON.stringify(norm(replica)) !== JSON.stringify(want)) fail("client replica after flush", norm(replica), want);
        for (let i = 0; i < joiners.length; i++) {
          joiners[i] = apply(joiners[i], out);
          if (JSON.stringify(norm(joiners[i])) !== JSON.stringify(want)) fail(`late joiner #${i} after flush`, norm(joiners[i]), want);
        }
        // What a joiner would get now is the flushed state itself.
        if (JSON.stringify(norm(JSON.parse(p.joinState()))) !== JSON.stringify(want)) fail("joinState after flush", JSON.parse(p.joinState()), want);
        break;
      }
    }
    // Between flushes the count and membership are always current, whatever the list does.
    if (p.count !== model.count) fail("count = distinct keys + guests", p.count, model.count);
    const keysNow = [...new Set(model.keyOf.values())].sort();
    if (JSON.stringify([...p.keys()].sort()) !== JSON.stringify(keysNow)) fail("keys()", [...p.keys()].sort(), keysNow);
    for (const k of keys) if (p.has(k) !== keysNow.includes(k)) fail(`has(${k})`, p.has(k), keysNow.includes(k));
  }
}

/** fc.assert, but the failure shows our own message (what differed, and the op log) next to the seed. */
function assertProperty<T>(prop: fc.IProperty<T>, params: fc.Parameters<T>): void {
  const out = fc.check(prop, params);
  if (out.failed) throw new Error(`${fc.defaultReportMessage(out)}\n\n${(out.errorInstance as Error | undefined)?.message ?? ""}`);
}

describe("presence core (model-based, checked with phoenix's own Presence sync)", () => {
  test("random track/untrack/guest/flush sequences: clients always converge on the model", () => {
    assertProperty(
      fc.property(fc.nat(8), fc.array(opArb, { maxLength: 150 }), (listMax, ops) => {
        run(listMax, [...ops, { t: "flush" }]);
      }),
      { numRuns: 400 },
    );
  });

  test("keys that collide with Object.prototype (viewer ids are the host's, any string) survive the wire", () => {
    // A viewer id such as "__proto__" must not vanish from presence_state/presence_diff: the stock
    // client keeps keys in null-prototype objects precisely for this.
    assertProperty(
      fc.property(fc.nat(8), fc.array(opArb, { maxLength: 80 }), (listMax, ops) => {
        run(listMax, [...ops, { t: "flush" }], ["__proto__", "constructor", "toString", "alice"]);
      }),
      { numRuns: 200 },
    );
  });
});

describe("presence core examples", () => {
  const meta = (ref: string, name = "V"): Meta => ({ phx_ref: ref, name, badges: [], online_at: "2026-01-01T00:00:00.000Z" });

  test("a join and a leave within one batch produce no diff at all", () => {
    const p = new Presence(10);
    p.track("a", meta("1"));
    p.untrack("a", "1");
    expect(p.flush()).toEqual({ kind: "none" });
    expect(p.count).toBe(0);
  });

  test("a second socket of a present viewer joins and leaves as metas of one key", () => {
    const p = new Presence(10);
    p.track("a", meta("1"));
    expect(p.flush()).toMatchObject({ kind: "diff", diff: { joins: { a: { metas: [{ phx_ref: "1" }] } }, leaves: {} } });
    p.track("a", meta("2"));
    expect(p.count).toBe(1);
    expect(p.flush()).toMatchObject({ kind: "diff", diff: { joins: { a: { metas: [{ phx_ref: "2" }] } }, leaves: {} } });
    p.untrack("a", "1");
    expect(p.flush()).toMatchObject({ kind: "diff", diff: { joins: {}, leaves: { a: { metas: [{ phx_ref: "1" }] } } } });
    expect(p.has("a")).toBe(true);
  });

  test("crossing listMax up sends state {}, no diffs while above, crossing back sends the full state", () => {
    const p = new Presence(2);
    p.track("a", meta("1"));
    p.trackGuest();
    expect(p.flush().kind).toBe("diff");
    p.track("b", meta("2")); // 3 > 2
    expect(p.flush()).toEqual({ kind: "state", state: {} });
    expect(p.stateJson).toBe("{}");
    p.track("c", meta("3"));
    p.untrack("a", "1");
    expect(p.flush()).toEqual({ kind: "none" }); // still 3 (b, c, guest): silent
    p.untrackGuest(); // 2 <= 2
    const out = p.flush();
    expect(out.kind).toBe("state");
    expect(out.kind === "state" && Object.keys(out.state).sort()).toEqual(["b", "c"]);
    expect(JSON.parse(p.stateJson)).toEqual((out as any).state);
  });

  test("a count that crosses up and back down between two flushes sends only the net diff", () => {
    const p = new Presence(1);
    p.track("a", meta("1"));
    expect(p.flush().kind).toBe("diff");
    p.track("b", meta("2"));
    p.untrack("b", "2");
    expect(p.flush()).toEqual({ kind: "none" });
  });

  test("guests are counted, never listed", () => {
    const p = new Presence(5);
    p.trackGuest();
    p.trackGuest();
    p.untrackGuest();
    p.untrackGuest();
    p.untrackGuest(); // never below zero
    expect(p.count).toBe(0);
    p.trackGuest();
    expect(p.count).toBe(1);
    expect(p.flush()).toEqual({ kind: "none" });
    expect(p.stateJson).toBe("{}");
  });
});
