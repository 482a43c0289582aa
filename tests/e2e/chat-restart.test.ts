// Chat across a server restart (in-process: stop, then start again on the same port and data
// folder), with the official phoenix client reconnecting and rejoining by itself: the rejoin recovers
// exactly what was missed, a retried nonce returns its first answer, a nonce never leaks between
// viewers, and messages waiting out their chat delay are all broadcast in order afterwards.
import { afterAll, describe, expect, test } from "bun:test";
import { chatHistory, closeAll, linkedAccount, recoveringClient, startChatServer, viewer, type ChatServer, type Viewer } from "../support/chat.ts";
import { ManualClock } from "../support/identity.ts";
import { waitFor } from "../support/wait.ts";

const GENEROUS = { messages: 10000, per_s: 1 };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const servers: ChatServer[] = [];
const open: Viewer[] = [];
afterAll(async () => {
  closeAll(...open);
  for (const s of servers) await s.dispose();
});

async function restart(s: ChatServer): Promise<ChatServer> {
  const next = await s.restart();
  servers[servers.indexOf(s)] = next;
  return next;
}

async function fresh(clock?: ManualClock): Promise<ChatServer> {
  const s = await startChatServer(clock ? { clock } : {});
  servers.push(s);
  return s;
}

describe("restart", () => {
  test("the client's automatic rejoin recovers exactly what it missed; a retried nonce returns its first answer", async () => {
    let s = await fresh();
    await s.createStream("restart-1", { rate_limit: GENEROUS });
    const epoch = (await s.api("GET", "/api/v1/streams/restart-1")).body.epoch;
    // A client that retries its reconnects slowly, so that messages sent right after the restart
    // are likely to reach it through recovery; either way it must see each seq exactly once.
    const a = await recoveringClient(s.ws, "stream:restart-1", await s.token("a-restart"), { reconnectAfterMs: () => 300 });
    open.push(a.viewer);
    const senderV = viewer(s.ws, await s.token("sender"));
    open.push(senderV);
    const sender = await senderV.join("stream:restart-1");
    const acked = await sender.send({ body: "before the restart", nonce: "keep-1" });
    expect(acked.response).toEqual({ status: "published", seq: 1 });
    for (let i = 2; i <= 3; i++) await sender.publish(`before ${i}`);
    await waitFor("a sees 1..3", () => a.seen.length === 3);

    s = await restart(s);
    // Someone new writes as soon as the server is back, before or after a's rejoin.
    const lateV = viewer(s.ws, await s.token("late-writer"));
    open.push(lateV);
    const late = await lateV.join("stream:restart-1");
    for (let i = 4; i <= 6; i++) await late.publish(`after ${i}`);

    await waitFor("a rejoins and sees 1..6", () => a.joined.replies.length >= 2 && a.seen.includes(6), 30_000);
    const rejoin = a.joined.replies.at(-1);
    expect(rejoin.recovered).toBe(true);
    expect(rejoin.epoch).toBe(epoch);
    expect(a.seen).toEqual(range(1, 6));

    // The sender's socket came back too; its retried nonce gets the first answer, nothing new.
    await waitFor("the sender rejoins", () => sender.replies.length >= 2, 30_000);
    expect(await sender.send({ body: "before the restart", nonce: "keep-1" })).toEqual(acked);
    const stored = await chatHistory(s, "restart-1");
    expect(stored.map((m) => m.seq)).toEqual(range(1, 6));
    expect(stored.filter((m) => m.body === "before the restart")).toHaveLength(1);
  }, 60_000);

  test("a guest's nonce is not another guest's after a restart (a guest is one viewer per socket)", async () => {
    let s = await fresh();
    await s.createStream("restart-guests", { rate_limit: GENEROUS, guests: { react: true, chat: true, vote: false } });
    // The first socket of each process: both guests get the same per-process socket number.
    const g1 = viewer(s.ws);
    const ch1 = await g1.join("stream:restart-guests");
    expect((await ch1.send({ body: "first guest", nonce: "1" })).response).toEqual({ status: "published", seq: 1 });
    g1.close();
    s = await restart(s);
    const g2 = viewer(s.ws);
    open.push(g2);
    const ch2 = await g2.join("stream:restart-guests");
    const r = await ch2.send({ body: "second guest", nonce: "1" });
    expect(r.response).toEqual({ status: "published", seq: 2 });
    expect((await chatHistory(s, "restart-guests")).map((m) => m.body)).toEqual(["first guest", "second guest"]);
  }, 60_000);

  test("messages waiting out the chat delay at a restart are all broadcast afterwards, in seq order, without a gap", async () => {
    const clock = new ManualClock();
    let s = await fresh(clock);
    await s.createStream("restart-delay", { rate_limit: GENEROUS, chat_delay_s: 6 });
    await linkedAccount(s, "restart-mod", "moderator", "restart-mod-v", ["restart-delay"]);
    const o = await recoveringClient(s.ws, "stream:restart-delay", await s.token("observer"));
    open.push(o.viewer);
    const vV = viewer(s.ws, await s.token("delayed-viewer"));
    open.push(vV);
    const v = await vV.join("stream:restart-delay");
    const modV = viewer(s.ws, await s.token("restart-mod-v"));
    open.push(modV);
    const mod = await modV.join("stream:restart-delay");

    // The clock stands still: the viewer's message waits for its visible_at; the moderator's
    // (no delay of its own) waits behind it, as broadcasts go out in seq order.
    const delayed = await v.publish("delayed by 6 s");
    expect(delayed.visible_at).toBeDefined();
    const undelayed = await mod.publish("moderator right after");
    expect([delayed.seq, undelayed.seq]).toEqual([1, 2]);

    s = await restart(s);
    await waitFor("the observer and the moderator rejoin", () => o.joined.replies.length >= 2 && mod.replies.length >= 2, 30_000);
    expect(o.seen).toEqual([]);
    clock.advance(7_000); // past visible_at
    const after = await mod.publish("after the delay");
    await waitFor("the observer gets the later message", () => o.seen.includes(after.seq));
    expect(o.seen).toEqual([1, 2, 3]);
    // A newcomer's history agrees.
    const n = viewer(s.ws);
    open.push(n);
    expect((await n.join("stream:restart-delay")).replies[0].history.map((m: any) => m.seq)).toEqual([1, 2, 3]);
  }, 60_000);
});
