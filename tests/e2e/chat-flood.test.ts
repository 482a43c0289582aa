// RELIABILITY T10, floods. The server runs on a hand-driven clock, so no bucket refills while a slow
// machine runs the test: the policy's numbers are then exact. Guards:
// - one client pipelining 1000 chat:send gets at most the stream's rate_limit accepted (20 per 30 s by
//   default), every other answer is rate_limited with retry_after_ms, nothing refused is stored or
//   broadcast, and the repeat offender is closed with 1008 and refused (429 rate_limited) on
//   reconnect until the cool-down ends; other viewers keep chatting and receive every accepted message;
// - many sockets of one viewer share ONE chat budget (the limit is per viewer, not per socket), and
//   the socket over HUBBUB_MAX_SOCKETS_PER_VIEWER is refused;
// - a join flood on one socket gets exactly the per-socket join burst, then rate_limited with
//   retry_after_ms, and the budget refills with the clock.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mintViewerToken } from "../../src/identity/viewer-token.ts";
import { JOIN_BURST, JOIN_RATE_PER_S } from "../../src/web/socket/conn.ts";
import { FLOOD_COOLDOWN_MS, GUEST_FLOODS_PER_ADDRESS } from "../../src/web/socket/hub.ts";
import { refuseUpgrade, startClockedServer, type ClockedServer } from "../support/identity.ts";
import { connect, join, push, record } from "../support/phoenix.ts";
import { rawConnect, type RawClient } from "../support/raw-ws.ts";
import { ADMIN_KEY, TOKEN_SECRET } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

const POLICY = { messages: 20, per_s: 30 }; // the default rate_limit of PRODUCT.md's settings
const FLOOD_REFUSALS = 40; // src/web/socket/hub.ts: refusals per socket per window before the 1008 close
const MAX_SOCKETS = 10; // HUBBUB_MAX_SOCKETS_PER_VIEWER default

let s: ClockedServer;
let http: string;
const raws: RawClient[] = [];
const sockets: ReturnType<typeof connect>[] = [];

beforeAll(async () => {
  s = await startClockedServer({ HUBBUB_CONNECT_RATE_PER_IP: "0" });
  http = `http://127.0.0.1:${s.port}`;
});
afterAll(async () => {
  for (const r of raws) r.close();
  for (const so of sockets) so.disconnect();
  await s.stop();
});

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(http + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const token = (sub: string) => mintViewerToken(TOKEN_SECRET, { sub, name: `Viewer ${sub}` }, 3600);
const wsUrl = (t?: string) => `${s.ws}/websocket?vsn=2.0.0${t ? `&token=${t}` : ""}`;

async function createStream(slug: string): Promise<void> {
  const r = await api("POST", "/api/v1/streams", { slug, title: slug });
  expect(r.status).toBe(201);
  // The default policy, as the brief of T10 states it.
  expect(r.body.settings.rate_limit).toEqual(POLICY);
}

/** Every stored message of a stream (tombstones included), oldest first. */
async function stored(slug: string): Promise<Array<{ seq: number; body?: string; user?: { id: string | null } }>> {
  const r = await api("GET", `/api/v1/streams/${slug}/chat?limit=1000`);
  expect(r.status).toBe(200);
  return r.body.data;
}

async function raw(t?: string): Promise<RawClient> {
  const c = await rawConnect(wsUrl(t));
  raws.push(c);
  return c;
}

async function rawJoin(c: RawClient, topic: string, ref: string): Promise<void> {
  c.send([ref, ref, topic, "phx_join", {}]);
  const r = await c.next((f) => f[1] === ref && f[3] === "phx_reply", `join reply ${ref}`);
  expect(r[4].status).toBe("ok");
}

const replies = (c: RawClient, refPrefix: string) => c.frames.filter((f) => Array.isArray(f) && f[3] === "phx_reply" && typeof f[1] === "string" && f[1].startsWith(refPrefix));

describe("chat flood (T10)", () => {
  test("1000 pipelined sends: at most the policy is accepted, the rest refused and never stored; the flooder is closed 1008 and cooled down; others are unaffected", async () => {
    const slug = "flood-1";
    await createStream(slug);

    // A watcher records every broadcast; a bystander chats through the flood with the phoenix client.
    const watcher = connect(s.ws, { token: await token("watcher") });
    const bystander = connect(s.ws, { token: await token("bystander") });
    sockets.push(watcher, bystander);
    const chW = watcher.channel(`stream:${slug}`, {});
    const chB = bystander.channel(`stream:${slug}`, {});
    const seen = record(chW, ["chat:new"]);
    await join(chW);
    await join(chB);

    const flooderToken = await token("flooder");
    const f = await raw(flooderToken);
    await rawJoin(f, `stream:${slug}`, "j");
    const N = 1000;
    for (let i = 0; i < N; i++) f.send(["j", `m${i}`, `stream:${slug}`, "chat:send", { body: `flood ${i}` }]);
    // The bystander's own budget is untouched by the flood.
    const bystanderReplies: Array<{ status: string; response: any }> = [];
    for (let i = 0; i < 5; i++) bystanderReplies.push(await push(chB, "chat:send", { body: `still here ${i}` }));

    const closed = await f.waitClosed(30_000);
    expect(closed).toEqual({ code: 1008, reason: "flooding" });

    const answers = replies(f, "m");
    const oks = answers.filter((a) => a[4].status === "ok");
    const refusals = answers.filter((a) => a[4].status === "error");
    // Every refusal is the cheap rate_limited reply with a positive wait of at most one token's refill.
    const refusalShapes = new Set(refusals.map((a) => `${a[4].response.reason}:${a[4].response.retry_after_ms > 0 && a[4].response.retry_after_ms <= (POLICY.per_s * 1000) / POLICY.messages}`));
    expect([...refusalShapes]).toEqual(["rate_limited:true"]);
    // The close came with the refusal that crossed the flood threshold, not before it.
    expect(refusals.length).toBeGreaterThanOrEqual(FLOOD_REFUSALS + 1);
    expect(oks.length).toBeLessThanOrEqual(POLICY.messages);

    // What is stored from the flooder is exactly the accepted budget (the clock does not move).
    const rows = await stored(slug);
    const fromFlooder = rows.filter((r) => r.user?.id === "flooder");
    expect(fromFlooder.length).toBe(POLICY.messages);
    // Only bodies of frames sent in order: the first 20 were the accepted ones.
    expect(fromFlooder.map((r) => r.body)).toEqual(Array.from({ length: POLICY.messages }, (_, i) => `flood ${i}`));
    // Every ok reply the flooder did get names a stored seq.
    const storedSeqs = new Set(rows.map((r) => r.seq));
    expect(oks.every((a) => a[4].response.status === "published" && storedSeqs.has(a[4].response.seq))).toBe(true);

    // The bystander was served throughout.
    expect(bystanderReplies.map((r) => `${r.status}:${r.response.status}`)).toEqual(Array(5).fill("ok:published"));
    expect(rows.filter((r) => r.user?.id === "bystander").length).toBe(5);
    // The watcher received every accepted message, once each, and nothing that was refused.
    await waitFor("the watcher has every stored message", () => seen.length >= rows.length);
    expect(seen.map((e) => e.payload.seq).sort((a: number, b: number) => a - b)).toEqual(rows.map((r) => r.seq));

    // Cool-down: the flooder's reconnect is refused with 429 rate_limited and a Retry-After.
    const again = await refuseUpgrade(wsUrl(flooderToken));
    expect(again.status).toBe(429);
    expect(again.body.error.code).toBe("rate_limited");
    expect(again.body.error.retry_after_ms).toBeGreaterThan(0);
    expect(again.body.error.retry_after_ms).toBeLessThanOrEqual(FLOOD_COOLDOWN_MS);
    expect(Number(again.headers.get("retry-after"))).toBeGreaterThan(0);
    // ...but only the flooder: another viewer from the same address connects and chats.
    const other = await raw(await token("other"));
    await rawJoin(other, `stream:${slug}`, "j");
    other.send(["j", "o1", `stream:${slug}`, "chat:send", { body: "hello" }]);
    expect((await other.next((x) => x[1] === "o1", "other's ack"))[4].status).toBe("ok");

    // After the cool-down the flooder is let back in, and its bucket has refilled.
    s.clock.advance(FLOOD_COOLDOWN_MS + 1);
    const back = await raw(flooderToken);
    await rawJoin(back, `stream:${slug}`, "j");
    back.send(["j", "b1", `stream:${slug}`, "chat:send", { body: "sorry" }]);
    expect((await back.next((x) => x[1] === "b1", "the returning flooder's ack"))[4]).toMatchObject({ status: "ok", response: { status: "published" } });
  }, 60_000);

  test("many sockets of one viewer share one chat budget; the socket over the per-viewer cap is refused", async () => {
    const slug = "flood-2";
    await createStream(slug);
    const t = await token("multi");
    const socks: RawClient[] = [];
    for (let i = 0; i < MAX_SOCKETS; i++) socks.push(await raw(t));
    const over = await refuseUpgrade(wsUrl(t));
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe("too_many_sockets");
    for (const c of socks) await rawJoin(c, `stream:${slug}`, "j");

    // 3 sends per socket, 30 in all, interleaved across the sockets: only the viewer's 20 pass.
    const PER = 3;
    for (let k = 0; k < PER; k++) socks.forEach((c, i) => c.send(["j", `m${i}-${k}`, `stream:${slug}`, "chat:send", { body: `multi ${i} ${k}` }]));
    await waitFor("every send answered", () => socks.every((c) => replies(c, "m").length === PER));
    const all = socks.flatMap((c) => replies(c, "m"));
    const oks = all.filter((a) => a[4].status === "ok");
    const refused = all.filter((a) => a[4].status === "error");
    expect(oks.length).toBe(POLICY.messages);
    expect(refused.length).toBe(MAX_SOCKETS * PER - POLICY.messages);
    expect(new Set(refused.map((a) => a[4].response.reason))).toEqual(new Set(["rate_limited"]));
    expect(refused.every((a) => a[4].response.retry_after_ms > 0)).toBe(true);
    expect((await stored(slug)).filter((r) => r.user?.id === "multi").length).toBe(POLICY.messages);
    // A few refusals per socket are no flood: every socket is still open and answers.
    for (const [i, c] of socks.entries()) {
      expect(c.closed).toBeNull();
      c.send([null, `hb${i}`, "phoenix", "heartbeat", {}]);
      await c.next((x) => x[1] === `hb${i}` && x[4]?.status === "ok", "heartbeat reply");
    }
  }, 60_000);

  test("flooding guests: each closes only its own socket; the address is cooled down once guests from it flooded three times (NATs share addresses)", async () => {
    const slug = "flood-guests";
    await createStream(slug);
    const topic = `stream:${slug}`;
    for (let round = 1; round <= GUEST_FLOODS_PER_ADDRESS; round++) {
      // A guest connect from this address is let in until the last round's flood.
      const g = await raw();
      await rawJoin(g, topic, "j");
      for (let i = 0; i <= FLOOD_REFUSALS + 10; i++) g.send(["j", `r${i}`, topic, "reaction:send", { emoji: "❤️" }]);
      expect(await g.waitClosed(30_000)).toMatchObject({ code: 1008, reason: "flooding" });
    }
    const refused = await refuseUpgrade(wsUrl());
    expect([refused.status, refused.body.error.code]).toEqual([429, "rate_limited"]);
    expect(refused.body.error.retry_after_ms).toBeLessThanOrEqual(FLOOD_COOLDOWN_MS);
    // Signed-in viewers from the address are not guests: they connect.
    const viewer = await raw(await token("nat-neighbour"));
    await rawJoin(viewer, topic, "j");
    // After the cool-down guests are let back in.
    s.clock.advance(FLOOD_COOLDOWN_MS + 1);
    const back = await raw();
    await rawJoin(back, topic, "j");
  }, 60_000);
});

describe("join flood (T10)", () => {
  test("one socket gets its join burst, then rate_limited with retry_after_ms; the clock refills it", async () => {
    const slug = "flood-3";
    await createStream(slug);
    const watcher = connect(s.ws, { token: await token("join-watcher") });
    sockets.push(watcher);
    const chW = watcher.channel(`stream:${slug}`, {});
    await join(chW);

    const c = await raw(await token("spinner"));
    const PAIRS = JOIN_BURST + 80;
    for (let i = 0; i < PAIRS; i++) {
      c.send([`j${i}`, `j${i}`, `stream:${slug}`, "phx_join", {}]);
      c.send([`j${i}`, `l${i}`, `stream:${slug}`, "phx_leave", {}]);
    }
    await waitFor("every join answered", () => replies(c, "j").length === PAIRS && replies(c, "l").length === PAIRS);
    const joins = replies(c, "j");
    const ok = joins.filter((a) => a[4].status === "ok");
    const refused = joins.filter((a) => a[4].status === "error");
    expect(ok.length).toBe(JOIN_BURST); // the clock is still: no refill
    expect(ok.map((a) => a[1])).toEqual(Array.from({ length: JOIN_BURST }, (_, i) => `j${i}`));
    expect(new Set(refused.map((a) => a[4].response.reason))).toEqual(new Set(["rate_limited"]));
    expect(refused.every((a) => a[4].response.retry_after_ms > 0 && a[4].response.retry_after_ms <= 1000 / JOIN_RATE_PER_S)).toBe(true);

    // One second later: exactly JOIN_RATE_PER_S more joins.
    s.clock.advance(1000);
    for (let i = 0; i < JOIN_RATE_PER_S + 3; i++) {
      c.send([`k${i}`, `k${i}`, `stream:${slug}`, "phx_join", {}]);
      c.send([`k${i}`, `x${i}`, `stream:${slug}`, "phx_leave", {}]);
    }
    await waitFor("the second wave answered", () => replies(c, "k").length === JOIN_RATE_PER_S + 3 && replies(c, "x").length === JOIN_RATE_PER_S + 3);
    expect(replies(c, "k").filter((a) => a[4].status === "ok").length).toBe(JOIN_RATE_PER_S);
    // The flood did not disturb the watcher's channel; its chat still flows.
    expect(chW.state).toBe("joined");
    const r = await push(chW, "chat:send", { body: "quiet now" });
    expect(r.status).toBe("ok");
  }, 60_000);
});
