// The viewer socket's Phoenix V2 wire protocol, frame by frame (PHOENIX-PROTOCOL.md): heartbeats,
// the vsn check, ref echoing, duplicate joins, stale join_refs, unmatched topics, leave, the channel
// limit and presence_state after every join. Exact frames need a raw WebSocket; the official client
// is used where its own behaviour is the point.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, join } from "../support/phoenix.ts";
import { rawConnect, upgradeRefusal, type RawClient } from "../support/raw-ws.ts";
import { removeDir, startTestServer, type TestServer } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

let s: TestServer;
let url: string;
const open: Array<{ close(): void }> = [];

beforeAll(async () => {
  // No per-IP connect limit: this file opens many sockets in a burst.
  s = await startTestServer({ HUBBUB_CONNECT_RATE_PER_IP: "0" });
  url = `${s.ws}/websocket?vsn=2.0.0`;
  await s.createStream("proto-1");
  await s.createStream("proto-2");
});
afterAll(async () => {
  for (const c of open) c.close();
  await s.stop();
  removeDir(s.dataDir);
});

async function raw(query = ""): Promise<RawClient> {
  const c = await rawConnect(url + query);
  open.push(c);
  return c;
}

const ok = (joinRef: string | null, ref: string | null, topic: string, response: unknown = {}) => [joinRef, ref, topic, "phx_reply", { status: "ok", response }];
const unmatched = (ref: string | null, topic: string) => [null, ref, topic, "phx_reply", { status: "error", response: { reason: "unmatched topic" } }];
const isReplyTo = (ref: string) => (f: any) => Array.isArray(f) && f[1] === ref && f[3] === "phx_reply";

/** Sends a heartbeat and waits for its reply: every frame the server sent before it has arrived. */
async function sync(c: RawClient, ref: string): Promise<number> {
  c.send([null, ref, "phoenix", "heartbeat", {}]);
  const r = await c.next(isReplyTo(ref), `heartbeat reply ${ref}`);
  return c.frames.indexOf(r);
}

describe("heartbeat", () => {
  test("a heartbeat gets exactly [null, ref, 'phoenix', 'phx_reply', {status: ok, response: {}}]", async () => {
    const c = await raw();
    c.send([null, "hb-1", "phoenix", "heartbeat", {}]);
    expect(await c.next(isReplyTo("hb-1"))).toEqual(ok(null, "hb-1", "phoenix"));
    // The ref is echoed as given (any string up to the ref limit), and a null ref stays null.
    const odd = "héartbeat ✓ 💓 \"quoted\" \\ ".padEnd(60, "~");
    c.send([null, odd, "phoenix", "heartbeat", {}]);
    expect(await c.next(isReplyTo(odd))).toEqual(ok(null, odd, "phoenix"));
    c.send([null, null, "phoenix", "heartbeat", {}]);
    expect(await c.next((f) => Array.isArray(f) && f[1] === null && f[3] === "phx_reply")).toEqual(ok(null, null, "phoenix"));
    expect(c.texts[0]).toBe(`[null,"hb-1","phoenix","phx_reply",{"status":"ok","response":{}}]`);
    expect(c.closed).toBeNull();
  });

  test("the official client's heartbeats are answered: it stays connected across several of them", async () => {
    // 1 s: the client closes itself if a reply is later than one interval, so keep slack for a slow box.
    const socket = connect(s.ws, {}, { heartbeatIntervalMs: 1000 });
    open.push({ close: () => socket.disconnect() });
    let replies = 0;
    let closes = 0;
    socket.onMessage((m: any) => {
      if (m.topic === "phoenix" && m.event === "phx_reply" && m.payload.status === "ok") replies++;
    });
    socket.onClose(() => void closes++);
    await waitFor("two heartbeat replies", () => replies >= 2);
    expect(closes).toBe(0);
    expect(socket.isConnected()).toBe(true);
    socket.disconnect();
  });
});

describe("protocol version", () => {
  test("a missing or wrong vsn is refused at the upgrade with 403 and a JSON error body", async () => {
    for (const q of ["", "?vsn=1.0.0", "?vsn=2.0", "?vsn=2.0.0x", "?vsn="]) {
      const r = await upgradeRefusal(`${s.ws}/websocket${q}`);
      expect(r.status).toBe(403);
      expect(r.body).toEqual({ error: { code: "invalid_payload", message: expect.any(String) } });
    }
    // ... and vsn=2.0.0 is accepted.
    const c = await raw();
    expect(c.closed).toBeNull();
  });
});

describe("join", () => {
  test("the join reply echoes join_ref and ref exactly, even when they differ", async () => {
    const c = await raw();
    const jr = "join-ref-Ω-" + "x".repeat(40);
    c.send([jr, "the-ref", "stream:proto-1", "phx_join", {}]);
    const reply = await c.next(isReplyTo("the-ref"));
    expect(reply.slice(0, 4)).toEqual([jr, "the-ref", "stream:proto-1", "phx_reply"]);
    expect(reply[4].status).toBe("ok");
    expect(reply[4].response.stream.slug).toBe("proto-1");
  });

  test("a refused join echoes the refs too; an unknown topic answers with a null join_ref", async () => {
    const c = await raw();
    c.send(["jr-404", "r-404", "stream:no-such-stream", "phx_join", {}]);
    const r = await c.next(isReplyTo("r-404"));
    expect(r.slice(0, 4)).toEqual(["jr-404", "r-404", "stream:no-such-stream", "phx_reply"]);
    expect(r[4]).toMatchObject({ status: "error", response: { reason: "not_found" } });
    c.send(["jr-x", "r-x", "lobby:all", "phx_join", {}]);
    expect(await c.next(isReplyTo("r-x"))).toEqual(unmatched("r-x", "lobby:all"));
  });

  test("a duplicate join closes the old channel with the OLD join_ref, then answers the new join", async () => {
    const c = await raw();
    const topic = "stream:proto-1";
    c.send(["1", "1", topic, "phx_join", {}]);
    await c.next(isReplyTo("1"));
    c.send(["2", "2", topic, "phx_join", {}]);
    const reply2 = await c.next(isReplyTo("2"));
    const close = c.frames.findIndex((f) => f[3] === "phx_close");
    expect(close).toBeGreaterThan(-1);
    expect(c.frames[close]).toEqual(["1", "1", topic, "phx_close", {}]);
    expect(close).toBeLessThan(c.frames.indexOf(reply2));
    expect(reply2.slice(0, 4)).toEqual(["2", "2", topic, "phx_reply"]);
    expect(reply2[4].status).toBe("ok");
    // Exactly one phx_close, and the socket is still joined (with the new join_ref).
    await sync(c, "hb-dup");
    expect(c.frames.filter((f) => f[3] === "phx_close")).toHaveLength(1);
    c.send(["2", "p-new", topic, "presence:friends", { ids: [] }]);
    expect(await c.next(isReplyTo("p-new"))).toEqual(ok("2", "p-new", topic, { watching: [] }));
  });

  test("a refused rejoin leaves the socket out of the topic: no broadcasts reach the closed channel", async () => {
    const token = await s.token("rejoin-viewer");
    for (const [topic, badParams] of [["user:rejoin-viewer", { x: 1 }], ["stream:proto-1", { bogus: true }]] as const) {
      const c = await raw(`&token=${encodeURIComponent(token)}`);
      c.send(["r1", "r1", topic, "phx_join", {}]);
      expect((await c.next(isReplyTo("r1")))[4].status).toBe("ok");
      c.send(["r2", "r2", topic, "phx_join", badParams]);
      expect(await c.next(isReplyTo("r2"))).toMatchObject(["r2", "r2", topic, "phx_reply", { status: "error", response: { reason: "invalid_payload" } }]);
      expect(c.frames.find((f) => f[3] === "phx_close")).toEqual(["r1", "r1", topic, "phx_close", {}]);
      s.app.hub.broadcast(topic, "notice", { kind: "after-refused-rejoin" });
      const end = await sync(c, `hb-${topic}`);
      expect(c.frames.slice(0, end).filter((f) => f[3] === "notice")).toEqual([]);
      c.close();
    }
  });

  test("a push carrying a stale join_ref gets 'unmatched topic'", async () => {
    const c = await raw();
    const topic = "stream:proto-2";
    c.send(["old", "old", topic, "phx_join", {}]);
    await c.next(isReplyTo("old"));
    c.send(["new", "new", topic, "phx_join", {}]);
    await c.next(isReplyTo("new"));
    c.send(["old", "p-stale", topic, "presence:friends", { ids: [] }]);
    expect(await c.next(isReplyTo("p-stale"))).toEqual(unmatched("p-stale", topic));
    c.send(["never-issued", "p-bogus", topic, "presence:friends", { ids: [] }]);
    expect(await c.next(isReplyTo("p-bogus"))).toEqual(unmatched("p-bogus", topic));
    // The current join_ref still works: the stale push did not disturb the channel.
    c.send(["new", "p-cur", topic, "presence:friends", { ids: [] }]);
    expect(await c.next(isReplyTo("p-cur"))).toEqual(ok("new", "p-cur", topic, { watching: [] }));
  });

  test("a push to a topic the socket has not joined gets [null, ref, topic, phx_reply, unmatched topic]", async () => {
    const c = await raw();
    c.send(["5", "6", "stream:proto-1", "presence:friends", { ids: [] }]);
    expect(await c.next(isReplyTo("6"))).toEqual(unmatched("6", "stream:proto-1"));
    c.send([null, "7", "stream:proto-1", "chat:send", { body: "hi" }]);
    expect(await c.next(isReplyTo("7"))).toEqual(unmatched("7", "stream:proto-1"));
    c.send([null, "8", "nowhere", "anything", {}]);
    expect(await c.next(isReplyTo("8"))).toEqual(unmatched("8", "nowhere"));
    // "phoenix" carries heartbeats only.
    c.send([null, "9", "phoenix", "not-a-heartbeat", {}]);
    expect(await c.next(isReplyTo("9"))).toEqual(unmatched("9", "phoenix"));
    expect(c.closed).toBeNull();
  });
});

describe("leave", () => {
  test("leave answers ok, then phx_close with the join_ref; the channel then gets nothing", async () => {
    const c = await raw();
    const topic = "stream:proto-1";
    c.send(["L1", "L1", topic, "phx_join", {}]);
    await c.next(isReplyTo("L1"));
    c.send(["L1", "L2", topic, "phx_leave", {}]);
    const reply = await c.next(isReplyTo("L2"));
    expect(reply).toEqual(ok("L1", "L2", topic));
    const close = await c.next((f) => f[3] === "phx_close", "phx_close");
    expect(close).toEqual(["L1", "L1", topic, "phx_close", {}]);
    expect(c.frames.indexOf(reply)).toBeLessThan(c.frames.indexOf(close));
    // No longer subscribed: a broadcast published before the next heartbeat never reaches it.
    s.app.hub.broadcast(topic, "announcement", { body: "after leave", at: "x" });
    const end = await sync(c, "hb-leave");
    expect(c.frames.slice(0, end).some((f) => f[3] === "announcement")).toBe(false);
    // ... and pushes are now unmatched.
    c.send(["L1", "L3", topic, "presence:friends", { ids: [] }]);
    expect(await c.next(isReplyTo("L3"))).toEqual(unmatched("L3", topic));
  });

  test("the official client's leave() is answered ok", async () => {
    const socket = connect(s.ws);
    open.push({ close: () => socket.disconnect() });
    const wire: any[] = [];
    socket.onMessage((m: any) => void wire.push(m));
    const ch = socket.channel("stream:proto-2", {});
    await join(ch);
    const status = await new Promise<string>((resolve) => ch.leave(15_000).receive("ok", () => resolve("ok")).receive("timeout", () => resolve("timeout")));
    expect(status).toBe("ok");
    // The server itself answered (the client also says "ok" locally when it cannot push), then closed.
    await waitFor("phx_close", () => wire.some((m) => m.topic === "stream:proto-2" && m.event === "phx_close"));
    const leaveReply = wire.find((m) => m.topic === "stream:proto-2" && m.event === "phx_reply" && m.ref !== m.join_ref);
    expect(leaveReply?.payload).toEqual({ status: "ok", response: {} });
    socket.disconnect();
  });
});

describe("channel limit", () => {
  test("at most 100 channels per socket: the 101st join gets 'too many channels joined'", async () => {
    // 99 streams plus the viewer's own user topic = 100 distinct joinable topics.
    const slugs = Array.from({ length: 99 }, (_, i) => `limit-${i}`);
    for (let i = 0; i < slugs.length; i += 10) await Promise.all(slugs.slice(i, i + 10).map((slug) => s.createStream(slug)));
    await s.createStream("limit-extra");
    const token = await s.token("lim-viewer");
    const c = await raw(`&token=${encodeURIComponent(token)}`);
    const topics = ["user:lim-viewer", ...slugs.map((x) => `stream:${x}`)];
    topics.forEach((t, i) => c.send([`j${i}`, `j${i}`, t, "phx_join", {}]));
    for (let i = 0; i < topics.length; i++) {
      const r = await c.next(isReplyTo(`j${i}`), `join ${topics[i]}`);
      expect(r[4].status).toBe("ok");
    }
    c.send(["j100", "j100", "stream:limit-extra", "phx_join", {}]);
    expect(await c.next(isReplyTo("j100"))).toEqual(["j100", "j100", "stream:limit-extra", "phx_reply", { status: "error", response: { reason: "too many channels joined" } }]);

    // Re-joining a topic already joined replaces it and stays within the limit.
    c.send(["j5b", "j5b", topics[5], "phx_join", {}]);
    expect((await c.next(isReplyTo("j5b")))[4].status).toBe("ok");
    // Leaving one frees a slot.
    c.send(["j7", "leave-7", topics[7], "phx_leave", {}]);
    expect(await c.next(isReplyTo("leave-7"))).toEqual(ok("j7", "leave-7", topics[7]!));
    c.send(["j101", "j101", "stream:limit-extra", "phx_join", {}]);
    expect((await c.next(isReplyTo("j101")))[4].status).toBe("ok");
    c.send(["j102", "j102", topics[7], "phx_join", {}]);
    expect((await c.next(isReplyTo("j102")))[4].response.reason).toBe("too many channels joined");
    expect(c.closed).toBeNull();
  });
});

describe("presence_state", () => {
  test("presence_state follows every join and rejoin, carrying that join's join_ref", async () => {
    const token = await s.token("pres-viewer", { name: "Pres" });
    const c = await raw(`&token=${encodeURIComponent(token)}`);
    const topic = "stream:proto-2";
    const statesFor = (jr: string) => c.frames.filter((f) => f[3] === "presence_state" && f[0] === jr);
    for (const jr of ["a", "b", "c"]) {
      if (jr === "c") {
        c.send(["b", "leave-b", topic, "phx_leave", {}]);
        await c.next(isReplyTo("leave-b"));
      }
      c.send([jr, jr, topic, "phx_join", {}]);
      const reply = await c.next(isReplyTo(jr));
      expect(reply[4].status).toBe("ok");
      const st = await waitFor(`presence_state for ${jr}`, () => statesFor(jr)[0]);
      expect(st[1]).toBeNull();
      expect(st[2]).toBe(topic);
      expect(st[4]).toBeObject();
      // After the join reply, never before it: the client binds the channel on the reply.
      expect(c.frames.indexOf(st)).toBeGreaterThan(c.frames.indexOf(reply));
    }
    await sync(c, "hb-pres");
    for (const jr of ["a", "b", "c"]) expect(statesFor(jr)).toHaveLength(1);
    // The joined viewer appears in presence (through a later state or diff).
    await waitFor("own presence", () => c.frames.some((f) => f[2] === topic && (f[3] === "presence_diff" ? f[4].joins["pres-viewer"] : f[3] === "presence_state" && f[4]["pres-viewer"])));
  });
});
