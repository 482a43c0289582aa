// The moderation pipeline end to end, with the official phoenix client on real servers:
// - settings: a regular-expression blocked term that could backtrack catastrophically is refused
//   (400 naming the field); a safe one is accepted and blocks;
// - decisions: a profane message is held at the default level with its reasons and stage scores in
//   the review queue and the audit log, and blocked at level 4;
// - T7: the external classifier is a real HTTP server on loopback that is healthy, slow, hangs,
//   answers 500, answers garbage, or is not there. Chat keeps flowing (every message acked, patterns
//   decide), skips are counted in /metrics, the breaker opens after 5 consecutive failures (/healthz
//   says so), lets one probe through once half-open, and closes when the service is healthy again;
// - T3: a moderation worker killed while it holds a batch (throw, unhandled rejection, exit, hang):
//   every message gets exactly one reply, none lost, seq gap-free, the worker is back and health ok;
//   repeated crashes read as degraded and an item two workers died on is held for a human.
// Tests wait for what they expect with generous deadlines and assert no timings.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { auditRows, chatHistory, closeAll, startChatServer, viewer, type ChatServer, type Joined, type Viewer } from "../support/chat.ts";
import { healthz, metric, startFakeClassifier, TRIGGER, type ClassifierMode, type FakeClassifier } from "../support/moderation.ts";
import type { Channel } from "../support/phoenix.ts";
import { deferred, waitFor } from "../support/wait.ts";

const GENEROUS = { messages: 10000, per_s: 1 };

/** A signed-in viewer joined to a stream's topic. */
async function chatter(s: ChatServer, sub: string, slug: string, open: Viewer[]): Promise<Joined> {
  const v = viewer(s.ws, await s.token(sub));
  open.push(v);
  return v.join(`stream:${slug}`);
}

/** What a chat:send came back with: published, held, blocked (or another refusal). */
function outcome(r: { status: string; response: any }): "published" | "held" | "blocked" | string {
  if (r.status === "ok") return r.response.status;
  return r.response?.reason ?? JSON.stringify(r.response);
}

/**
 * Until its moderation worker is up a server decides messages inline (patterns only, no
 * classifier); the tests that look at the classification stage start once the pool is up.
 */
async function workersUp(s: ChatServer): Promise<void> {
  await waitFor("the moderation workers up", () => {
    const h = s.app.moderation.health();
    return h.workers_up === h.workers;
  });
}

async function queueItem(s: ChatServer, slug: string, heldId: string): Promise<any> {
  const r = await s.api("GET", `/api/v1/streams/${slug}/review-queue?status=all&limit=1000`);
  expect(r.status).toBe(200);
  return r.body.data.find((i: any) => i.id === heldId);
}

/**
 * Polls at a fixed pace (each round sends a chat message, so not as fast as waitFor) until
 * `probe` returns a value; bounded by the deadline.
 */
async function pollPaced<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, paceMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, paceMs));
  }
}

let fc: FakeClassifier;
beforeAll(() => {
  fc = startFakeClassifier({ slowMs: 1000 });
});
afterAll(() => {
  fc.stop();
});

// ---------------------------------------------------------------------------------------------
describe("settings and decisions (built-in lexicon scorer)", () => {
  let s: ChatServer;
  const open: Viewer[] = [];
  beforeAll(async () => {
    s = await startChatServer();
    await workersUp(s);
  });
  afterAll(async () => {
    closeAll(...open);
    await s.dispose();
  });

  test("a catastrophic regular expression is refused as a blocked term; a safe one is accepted and blocks", async () => {
    const created = await s.api("POST", "/api/v1/streams", { slug: "mp-regex-new", title: "x", settings: { blocked_terms: ["/(a+)+$/"] } });
    expect(created.status).toBe(400);
    expect(created.body.error).toMatchObject({ code: "invalid_payload", fields: { "settings.blocked_terms": expect.stringContaining("backtrack catastrophically") } });

    await s.createStream("mp-regex", { rate_limit: GENEROUS });
    for (const evil of ["/(a+)+$/", "/(x+x+)+y/"]) {
      const r = await s.api("PATCH", "/api/v1/streams/mp-regex", { settings: { blocked_terms: ["fine", evil] } });
      expect(r.status, evil).toBe(400);
      expect(r.body.error.fields["settings.blocked_terms"], evil).toContain(evil);
    }
    const bad = await s.api("PATCH", "/api/v1/streams/mp-regex", { settings: { blocked_terms: ["/[unclosed/"] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields["settings.blocked_terms"]).toContain("valid regular expression");
    // Nothing of a refused patch was kept.
    expect((await s.api("GET", "/api/v1/streams/mp-regex")).body.settings.blocked_terms).toEqual([]);

    const safe = "/^buy\\s+now$/";
    const ok = await s.api("PATCH", "/api/v1/streams/mp-regex", { settings: { blocked_terms: [safe] } });
    expect(ok.status).toBe(200);
    expect(ok.body.settings.blocked_terms).toEqual([safe]);

    const v = await chatter(s, "regex-sender", "mp-regex", open);
    for (const body of ["BUY   now", "buy now", "Ｂｕｙ ｎｏｗ", "b.u.y now"]) expect(outcome(await v.send({ body })), body).toBe("blocked");
    for (const body of ["buy now please", "do not buy now", "buying now"]) expect(outcome(await v.send({ body })), body).toBe("published");
    const blocks = await auditRows(s, "mp-regex", "moderation.block");
    expect(blocks).toHaveLength(4);
    expect(blocks.every((r) => r.reason === "blocked_term" && r.actor.type === "system")).toBe(true);
  });

  test("a profane message is held at the default level, with reasons and scores in the review queue and the audit log", async () => {
    const stream = await s.createStream("mp-hold", { rate_limit: GENEROUS });
    expect(stream.settings.automod_level).toBe(2);
    const obs = await chatter(s, "hold-observer", "mp-hold", open);
    const v = await chatter(s, "hold-sender", "mp-hold", open);

    const heldIds: string[] = [];
    for (const body of ["what the fuck was that", "that was sh1t", "ｆｕｃｋ this"]) {
      const r = await v.send({ body });
      expect(r, body).toEqual({ status: "ok", response: { status: "held", held_id: expect.any(String) } });
      heldIds.push(r.response.held_id);
    }
    const marker = await v.publish("a perfectly fine message");
    await obs.waitNew((m) => m.seq === marker.seq, "the marker");
    // Held messages are neither stored as chat nor broadcast.
    expect(obs.news().map((m) => m.body)).toEqual(["a perfectly fine message"]);
    expect((await chatHistory(s, "mp-hold")).map((m) => m.body)).toEqual(["a perfectly fine message"]);

    const first = await queueItem(s, "mp-hold", heldIds[0]!);
    // (Three held messages of one viewer in a short time escalate them automatically.)
    expect(["pending", "escalated"]).toContain(first.status);
    expect(first).toMatchObject({ kind: "held", body: "what the fuck was that", user: { id: "hold-sender" }, reasons: ["profanity"] });
    expect(first.scores.profanity).toBeGreaterThanOrEqual(0.75);
    expect(first.scores.profanity).toBeLessThan(0.97);
    // The built-in scorer's verdict is kept too (named for what it is: a lexicon).
    expect(typeof first.scores.classifier_negativity).toBe("number");
    for (const id of heldIds.slice(1)) expect((await queueItem(s, "mp-hold", id)).reasons).toContain("profanity");

    const holds = await auditRows(s, "mp-hold", "moderation.hold");
    expect(holds.map((r) => r.target.id).sort()).toEqual([...heldIds].sort());
    const row = holds.find((r) => r.target.id === heldIds[0]);
    expect(row).toMatchObject({ actor: { type: "system" }, action: "moderation.hold", target: { type: "review_item", id: heldIds[0] }, reason: "profanity" });
    expect(row.data.scores).toEqual(first.scores);
    expect(row.data.user_id).toBe("hold-sender");
  });

  test("at level 4 the same message is blocked and audited; at level 0 it is published", async () => {
    await s.createStream("mp-levels", { rate_limit: GENEROUS, automod_level: 4 });
    const v = await chatter(s, "levels-sender", "mp-levels", open);
    const r = await v.send({ body: "what the fuck was that" });
    expect(r.status).toBe("error");
    expect(r.response).toMatchObject({ reason: "blocked" });
    const blocks = await auditRows(s, "mp-levels", "moderation.block");
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toMatchObject({ actor: { type: "system" }, reason: "profanity", target: { type: "viewer", id: "levels-sender" } });
    expect(blocks[0].data.scores.profanity).toBeGreaterThanOrEqual(0.8);
    expect((await s.api("GET", "/api/v1/streams/mp-levels/review-queue?status=all")).body.data).toEqual([]);

    await s.settings("mp-levels", { automod_level: 0 });
    expect(outcome(await v.send({ body: "what the fuck was that" }))).toBe("published");
    // Blocked terms still apply at level 0.
    await s.settings("mp-levels", { blocked_terms: ["badword"] });
    expect(outcome(await v.send({ body: "a B4DW0RD here" }))).toBe("blocked");
  });
});

// ---------------------------------------------------------------------------------------------
// T7. One server per behaviour of the classifier, run side by side (each breaker stays open 5 s).
describe("T7: the external classifier", () => {
  test("healthy: its scores hold a message, under the documented contract; level 0 and blocked terms never call it", async () => {
    const route = "/t7-healthy";
    fc.mode.set(route, "healthy");
    const s = await startChatServer({ env: { HUBBUB_CLASSIFIER_URL: fc.url(route) } });
    const open: Viewer[] = [];
    await workersUp(s);
    try {
      const stream = await s.createStream("t7-healthy", { rate_limit: GENEROUS, blocked_terms: ["badword"] });
      const v = await chatter(s, "healthy-sender", "t7-healthy", open);

      const held = await v.send({ body: `${TRIGGER} says hi` });
      expect(outcome(held)).toBe("held");
      const item = await queueItem(s, "t7-healthy", held.response.held_id);
      expect(item.reasons).toEqual(["classifier_toxicity"]);
      expect(item.scores).toEqual({ classifier_toxicity: 0.9, classifier_spam: 0.02 });
      expect(outcome(await v.send({ body: "hello everyone" }))).toBe("published");

      const reqs = fc.requests.filter((r) => r.route === route);
      expect(reqs.map((r) => r.body)).toEqual([
        { text: `${TRIGGER} says hi`, stream_id: stream.id },
        { text: "hello everyone", stream_id: stream.id },
      ]);
      expect(reqs.every((r) => r.contentType?.startsWith("application/json"))).toBe(true);

      const before = fc.arrivals(route);
      expect(outcome(await v.send({ body: "badword and zorblax" }))).toBe("blocked");
      await s.settings("t7-healthy", { automod_level: 0 });
      expect(outcome(await v.send({ body: `${TRIGGER} at level 0` }))).toBe("published");
      expect(fc.arrivals(route)).toBe(before);

      expect((await healthz(s.http)).checks.classifier).toBe("ok");
      expect(await metric(s.http, "hubbub_classifier_skipped_total")).toBe(0);
    } finally {
      closeAll(...open);
      await s.dispose();
    }
  });
});

type Failure = Exclude<ClassifierMode, "healthy" | "gated"> | "absent";

describe.concurrent("T7: the external classifier fails; chat keeps flowing, the breaker opens and closes again", () => {
  const failures: Failure[] = ["slow", "hang", "error500", "garbage", "absent"];

  test.each(failures)("%s", async (failure) => {
    // "absent": a port where nothing listens (the fake service is stopped, and started again to recover).
    const svc = failure === "absent" ? startFakeClassifier() : fc;
    const route = `/t7-${failure}`;
    if (failure === "absent") svc.stop();
    else svc.mode.set(route, failure);
    const env: Record<string, string> = { HUBBUB_CLASSIFIER_URL: svc.url(route) };
    if (failure === "slow") env.HUBBUB_CLASSIFIER_MAX_IN_FLIGHT = "2";
    const s = await startChatServer({ env });
    const open: Viewer[] = [];
    await workersUp(s);
    const slug = `t7-${failure}`;
    try {
      await s.createStream(slug, { rate_limit: GENEROUS });
      const v = await chatter(s, `${failure}-sender`, slug, open);
      const obs = await chatter(s, `${failure}-observer`, slug, open);
      let sent = 0;
      const send = async (body: string) => {
        sent++;
        return outcome(await v.send({ body }));
      };

      if (failure === "slow") {
        // A burst while calls are slow: never more than HUBBUB_CLASSIFIER_MAX_IN_FLIGHT at once.
        const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => send(`${TRIGGER} burst ${i}`)));
        expect(burst).toEqual(Array(6).fill("published"));
        expect(svc.peakOpen(route)).toBeGreaterThanOrEqual(1);
        expect(svc.peakOpen(route)).toBeLessThanOrEqual(2);
      }
      // Every message is acked and decided by the patterns alone: the trigger word is not a pattern.
      for (let i = 0; i < 8; i++) expect(await send(`${TRIGGER} message ${i}`), `message ${i}`).toBe("published");
      if (failure !== "absent") {
        // Five consecutive failures open the breaker: no more calls (one half-open probe at most,
        // should this machine be slow enough for the 5 s open period to pass meanwhile).
        expect(svc.arrivals(route)).toBeGreaterThanOrEqual(5);
        expect(svc.arrivals(route)).toBeLessThanOrEqual(6);
      }

      // The patterns still decide: a profane message is held, with no classifier score.
      const held = await v.send({ body: "this is shit" });
      sent++;
      expect(outcome(held)).toBe("held");
      const item = await queueItem(s, slug, held.response.held_id);
      expect(item.reasons).toEqual(["profanity"]);
      expect(Object.keys(item.scores).filter((k) => k.startsWith("classifier_"))).toEqual([]);
      const audit = (await auditRows(s, slug, "moderation.hold")).find((r) => r.target.id === held.response.held_id);
      expect(audit.data.scores).toEqual(item.scores);

      // Health and metrics show it (the worker reports its counts about once a second).
      const h = await waitFor(`/healthz classifier degraded (${failure})`, async () => {
        const x = await healthz(s.http);
        return /^degraded \(breaker (open|half_open)/.test(x.checks.classifier ?? "") ? x : null;
      });
      expect(h.status).toBe("degraded");
      await waitFor(`every message counted as a skip (${failure})`, async () => ((await metric(s.http, "hubbub_classifier_skipped_total")) ?? 0) >= sent);

      if (failure === "hang") {
        // Hung calls are abandoned at the timeout.
        await waitFor("hung calls abandoned", () => svc.open(route) === 0);
        // Half-open lets one probe through: once the open period is over, the next message calls
        // the service; a burst right behind it does not (the probe is in flight, or it failed and
        // the breaker is open again).
        const base = svc.arrivals(route);
        const pending: Array<Promise<string>> = [];
        await pollPaced("the half-open probe", async () => {
          pending.push(send(`probe ${pending.length}`));
          return svc.arrivals(route) > base;
        });
        for (let i = 0; i < 5; i++) pending.push(send(`behind the probe ${i}`));
        expect(new Set(await Promise.all(pending))).toEqual(new Set(["published"]));
        expect(svc.arrivals(route)).toBe(base + 1);
        expect((await healthz(s.http)).checks.classifier).toMatch(/^degraded/);
      }

      // The service is healthy again: after the open period a probe succeeds, the breaker closes,
      // and classifier scores are back.
      if (failure === "absent") svc.listen();
      svc.mode.set(route, "healthy");
      let n = 0;
      const back = await pollPaced(`classifier scores back (${failure})`, async () => {
        const r = await v.send({ body: `${TRIGGER} is back ${n++}` });
        sent++;
        const o = outcome(r);
        if (o === "held") return r.response.held_id as string;
        expect(o).toBe("published");
        return null;
      });
      const again = await queueItem(s, slug, back);
      expect(again.reasons).toEqual(["classifier_toxicity"]);
      expect(again.scores.classifier_toxicity).toBe(0.9);
      await waitFor(`/healthz classifier ok again (${failure})`, async () => (await healthz(s.http)).checks.classifier === "ok");
      const last = await v.publish("and chat goes on");
      await obs.waitNew((m) => m.seq === last.seq, "the last message");
      // Seq gap-free through it all.
      const seqs = (await chatHistory(s, slug)).map((m) => m.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    } finally {
      closeAll(...open);
      await s.dispose();
      if (svc !== fc) svc.stop();
    }
  }, 90_000);
});

// ---------------------------------------------------------------------------------------------
// T3. The classifier is gated so that every item sits in the worker's hands when it is killed.

interface Sent {
  body: string;
  want: "published" | "held" | "blocked";
  ref: string;
  reply: Promise<{ status: string; response: any }>;
}

/** chat:send through the phoenix client, keeping the push's ref to count its replies. */
function sendTracked(ch: Channel, body: string, want: Sent["want"]): Sent {
  const d = deferred<{ status: string; response: any }>();
  const push = ch.push("chat:send", { body }, 60_000);
  push
    .receive("ok", (response: unknown) => d.resolve({ status: "ok", response }))
    .receive("error", (response: unknown) => d.resolve({ status: "error", response }))
    .receive("timeout", () => d.reject(new Error(`chat:send ${body} timed out`)));
  return { body, want, ref: (push as any).ref as string, reply: d.promise };
}

/** Counts phx_reply frames per ref on a socket. */
function countReplies(v: Viewer): Map<string, number> {
  const counts = new Map<string, number>();
  v.socket.onMessage((m: any) => {
    if (m.event === "phx_reply" && m.ref) counts.set(m.ref, (counts.get(m.ref) ?? 0) + 1);
  });
  return counts;
}

describe("T3: a moderation worker dies mid-batch", () => {
  const kinds = ["throw", "reject", "exit", "hang"] as const;

  test.each(kinds)("%s: every message gets exactly one reply, none lost, seq gap-free, the worker comes back", async (kind) => {
    const route = `/t3-${kind}`;
    fc.mode.set(route, "gated");
    const s = await startChatServer({ faultInjection: true, env: { HUBBUB_CLASSIFIER_URL: fc.url(route), HUBBUB_CLASSIFIER_TIMEOUT_MS: "5000" } });
    const open: Viewer[] = [];
    await workersUp(s);
    const slug = `t3-${kind}`;
    try {
      await s.createStream(slug, { rate_limit: GENEROUS, blocked_terms: ["badword"] });
      const obs = await chatter(s, `${kind}-observer`, slug, open);
      const senders: Joined[] = [];
      const counts: Array<Map<string, number>> = [];
      for (let i = 0; i < 3; i++) {
        senders.push(await chatter(s, `${kind}-sender-${i}`, slug, open));
        counts.push(countReplies(open[open.length - 1]!));
      }
      const kindsOf: Array<[string, Sent["want"]]> = [
        ["hello number %", "published"],
        ["what the fuck % was that", "held"],
        ["badword number %", "blocked"],
        ["see example.com/page%", "held"],
      ];
      const sent: Array<Sent & { sender: number }> = [];
      for (let i = 0; i < 24; i++) {
        const [tpl, want] = kindsOf[i % kindsOf.length]!;
        sent.push({ ...sendTracked(senders[i % 3]!.ch, tpl.replace("%", String(i)), want), sender: i % 3 });
      }
      // Blocked terms are decided before the classification stage; everything else waits at the gate.
      const classified = sent.filter((m) => m.want !== "blocked").length;
      await waitFor("every item in the worker's hands", () => fc.arrivals(route) >= classified);
      expect(s.app.moderation.health().crashes).toBe(0);

      s.app.moderation.injectFault(kind, 0);
      await waitFor(`the ${kind} crash noticed`, () => s.app.moderation.health().crashes >= 1);
      // The restarted worker takes the items over (unless they were decided inline meanwhile).
      let settled = 0;
      for (const m of sent) void m.reply.then(() => settled++);
      await waitFor("the items retried on the new worker", () => fc.arrivals(route) >= 2 * classified || settled === sent.length, 30_000);
      const allRetried = fc.arrivals(route) >= 2 * classified;
      fc.release(route);

      const replies = await Promise.all(sent.map((m) => m.reply));
      expect(replies.map((r, i) => [sent[i]!.body, outcome(r)])).toEqual(sent.map((m) => [m.body, m.want]));
      // Exactly one reply per message: one more round trip on each socket, then count.
      for (const j of senders) await j.publish("barrier");
      for (const m of sent) expect(counts[m.sender]!.get(m.ref), m.body).toBe(1);

      // Nothing lost, nothing twice, seq gap-free; what was held is in the queue, once.
      const published = replies.filter((r) => outcome(r) === "published").map((r) => r.response.seq as number);
      const history = await chatHistory(s, slug);
      const seqs = history.map((m) => m.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect(history.filter((m) => m.body !== "barrier").map((m) => m.seq).sort((a, b) => a - b)).toEqual([...published].sort((a, b) => a - b));
      expect(history.filter((m) => m.body !== "barrier").map((m) => m.body).sort()).toEqual(sent.filter((m) => m.want === "published").map((m) => m.body).sort());
      await obs.waitNew((m) => m.seq === seqs[seqs.length - 1], "every message broadcast");
      expect(obs.news().map((m) => m.seq)).toEqual(seqs);
      const heldIds = replies.filter((r) => outcome(r) === "held").map((r) => r.response.held_id as string);
      const queue = (await s.api("GET", `/api/v1/streams/${slug}/review-queue?status=all&limit=1000`)).body.data;
      expect(queue.map((q: any) => q.id).sort()).toEqual([...heldIds].sort());
      expect(queue.every((q: any) => q.reasons.length > 0 && !q.reasons.includes("pipeline_failed"))).toBe(true);

      // Back to health: the worker restarted, one crash is not a crash loop.
      await waitFor("moderation_workers ok again", async () => (await healthz(s.http)).checks.moderation_workers === "ok");
      expect(await metric(s.http, "hubbub_moderation_worker_crashes_total")).toBe(1);
      const retried = (await metric(s.http, "hubbub_moderation_retried_total")) ?? 0;
      const inline = (await metric(s.http, "hubbub_moderation_inline_total")) ?? 0;
      // Every item in the dead worker's hands was sent again (or, on a very slow machine, decided inline).
      // Items whose answer was still on its way when the worker died are retried too (a dead worker's
      // messages are ignored), so the count is at least the classified ones and at most all that were sent.
      if (allRetried) {
        expect(retried).toBeGreaterThanOrEqual(classified);
        expect(retried).toBeLessThanOrEqual(sent.length);
      } else expect(retried + inline).toBeGreaterThanOrEqual(classified);
      expect(await metric(s.http, "hubbub_moderation_failed_total")).toBe(0);
    } finally {
      closeAll(...open);
      await s.dispose();
    }
  }, 60_000);

  test("repeated crashes: an item two workers died on is held for a human; health says degraded; chat goes on", async () => {
    const route = "/t3-repeat";
    fc.mode.set(route, "gated");
    const s = await startChatServer({ faultInjection: true, env: { HUBBUB_CLASSIFIER_URL: fc.url(route), HUBBUB_CLASSIFIER_TIMEOUT_MS: "5000" } });
    const open: Viewer[] = [];
    const mod = s.app.moderation;
    const upAfter = (crashes: number) => waitFor(`worker up after crash ${crashes}`, () => mod.health().crashes === crashes && mod.health().workers_up === 1);
    try {
      await s.createStream("t3-repeat", { rate_limit: GENEROUS });
      const v = await chatter(s, "repeat-sender", "t3-repeat", open);
      await upAfter(0);
      const doomed = sendTracked(v.ch, "hello through two crashes", "held");
      await waitFor("the item in the first worker's hands", () => fc.arrivals(route) >= 1);
      mod.injectFault("exit", 0);
      await upAfter(1);
      await waitFor("the item in the second worker's hands", () => fc.arrivals(route) >= 2);
      mod.injectFault("exit", 0);

      const r = await doomed.reply;
      expect(outcome(r)).toBe("held");
      expect((await queueItem(s, "t3-repeat", r.response.held_id)).reasons).toEqual(["pipeline_failed"]);
      const audit = (await auditRows(s, "t3-repeat", "moderation.hold")).find((x) => x.target.id === r.response.held_id);
      expect(audit.reason).toBe("pipeline_failed");
      expect(await metric(s.http, "hubbub_moderation_failed_total")).toBe(1);

      fc.release(route);
      await upAfter(2);
      mod.injectFault("throw", 0);
      await upAfter(3);
      // Three crashes in a short time: a crash loop, even with the worker up.
      const h = await healthz(s.http);
      expect(h.status).toBe("degraded");
      expect(h.checks.moderation_workers).toMatch(/^degraded \(1\/1 up, 3 crashes\)/);
      expect(await metric(s.http, "hubbub_moderation_worker_crashes_total")).toBe(3);
      // ...and chat goes on, through the worker.
      expect(outcome(await v.send({ body: "still here" }))).toBe("published");
      expect(outcome(await v.send({ body: "what the fuck" }))).toBe("held");
    } finally {
      closeAll(...open);
      await s.dispose();
    }
  }, 60_000);
});
