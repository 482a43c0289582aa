// Edge limits of the viewer socket and the HTTP API (RELIABILITY.md T4, T8): the 64 KiB frame limit
// (over it: close 1009, other sockets untouched), the 1 MiB body limit (413), the idle timeout, and a
// client that never reads being dropped at the backpressure limit while readers keep receiving.
// Figures (memory, latency) are measured in bench/; here only behaviour is asserted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BACKPRESSURE_LIMIT, MAX_BODY_BYTES, MAX_FRAME_BYTES } from "../../src/web/http.ts";
import { connect, join, push, record, type Socket } from "../support/phoenix.ts";
import { rawConnect, type RawClient } from "../support/raw-ws.ts";
import { ADMIN_KEY, removeDir, startTestServer, type TestServer } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";
import { wireConnect, type WireClient } from "../support/ws-wire.ts";

let s: TestServer;
let url: string;
const cleanup: Array<() => void> = [];

beforeAll(async () => {
  s = await startTestServer({ HUBBUB_CONNECT_RATE_PER_IP: "0" });
  url = `${s.ws}/websocket?vsn=2.0.0`;
  await s.createStream("limits-1");
  await s.createStream("slow-1");
});
afterAll(async () => {
  for (const f of cleanup) f();
  await s.stop();
  removeDir(s.dataDir);
});

async function raw(base = url): Promise<RawClient> {
  const c = await rawConnect(base);
  cleanup.push(() => c.close());
  return c;
}

function phx(endpoint: string, opts: Record<string, unknown> = {}): { socket: Socket; closes: () => number } {
  const socket = connect(endpoint, {}, opts);
  let closes = 0;
  socket.onClose(() => void closes++);
  cleanup.push(() => socket.disconnect());
  return { socket, closes: () => closes };
}

const isReplyTo = (ref: string) => (f: any) => Array.isArray(f) && f[1] === ref && f[3] === "phx_reply";

/** A heartbeat frame of exactly `bytes` UTF-8 bytes, its padding made of `unit` (then "x" to fit). */
function heartbeatOfBytes(bytes: number, ref: string, unit = "x"): string {
  const head = `[null,${JSON.stringify(ref)},"phoenix","heartbeat",{"pad":"`;
  const tail = `"}]`;
  let room = bytes - Buffer.byteLength(head + tail);
  const unitBytes = Buffer.byteLength(unit);
  const n = Math.floor(room / unitBytes);
  room -= n * unitBytes;
  const text = head + unit.repeat(n) + "x".repeat(room) + tail;
  if (Buffer.byteLength(text) !== bytes) throw new Error("frame size arithmetic");
  return text;
}

/** A well-formed binary push (kind 0) of exactly `bytes` bytes. */
function binaryPushOfBytes(bytes: number, ref: string, topic: string): Uint8Array<ArrayBuffer> {
  const enc = new TextEncoder();
  const [jr, r, t, e] = [enc.encode("1"), enc.encode(ref), enc.encode(topic), enc.encode("blob")];
  const head = [0, jr.length, r.length, t.length, e.length, ...jr, ...r, ...t, ...e];
  const out = new Uint8Array(bytes);
  out.set(head);
  out.fill(0x61, head.length);
  return out;
}

describe("frame size limit (T8)", () => {
  test("a frame of exactly 64 KiB is answered; 64 KiB + 1, 1 MiB and 17 MiB close with 1009; others are unaffected", async () => {
    expect(MAX_FRAME_BYTES).toBe(64 * 1024);
    // Bystanders: an official client joined to a stream, and a raw socket.
    const topic = "stream:limits-1";
    const b = phx(s.ws);
    const ch = b.socket.channel(topic, {});
    const seen = record(ch, ["announcement"]);
    await join(ch);
    const bystander = await raw();
    const baseline = s.app.hub.sockets.size;

    // Exactly at the limit: accepted and answered, in ASCII and in multi-byte text.
    const at = await raw();
    at.sendText(heartbeatOfBytes(MAX_FRAME_BYTES, "at-limit"));
    expect((await at.next(isReplyTo("at-limit")))[4]).toEqual({ status: "ok", response: {} });
    at.sendText(heartbeatOfBytes(MAX_FRAME_BYTES, "at-limit-utf8", "é😀"));
    expect((await at.next(isReplyTo("at-limit-utf8")))[4]).toEqual({ status: "ok", response: {} });
    // A binary frame at the limit is read and answered too (binary payloads are refused by content).
    at.ws.send(binaryPushOfBytes(MAX_FRAME_BYTES, "bin-at-limit", topic));
    expect((await at.next(isReplyTo("bin-at-limit")))[4]).toMatchObject({ status: "error", response: { reason: "invalid_payload" } });
    expect(at.closed).toBeNull();

    // Over the limit: closed with 1009, whatever the frame holds. The limit counts bytes, not characters.
    const over: Array<[string, (c: RawClient) => void]> = [
      ["64 KiB + 1", (c) => c.sendText(heartbeatOfBytes(MAX_FRAME_BYTES + 1, "over-1"))],
      ["64 KiB + 1 of 2-byte text (fewer than 64 Ki characters)", (c) => c.sendText(heartbeatOfBytes(MAX_FRAME_BYTES + 1, "over-utf8", "é"))],
      ["64 KiB + 1 binary", (c) => c.ws.send(binaryPushOfBytes(MAX_FRAME_BYTES + 1, "over-bin", topic))],
      ["1 MiB", (c) => c.sendText(heartbeatOfBytes(1024 * 1024, "over-1m"))],
      ["17 MiB", (c) => c.sendText(heartbeatOfBytes(17 * 1024 * 1024, "over-17m"))],
    ];
    for (const [what, send] of over) {
      const c = await raw();
      send(c);
      const closed = await c.waitClosed(20_000);
      expect({ what, code: closed.code }).toEqual({ what, code: 1009 });
      expect(c.frames).toEqual([]); // never answered
    }
    at.close();
    await waitFor("server forgets the closed sockets", () => s.app.hub.sockets.size === baseline);

    // The bystanders never noticed: still open, still answered, still receiving broadcasts.
    expect(b.closes()).toBe(0);
    expect(bystander.closed).toBeNull();
    bystander.send([null, "still-here", "phoenix", "heartbeat", {}]);
    expect((await bystander.next(isReplyTo("still-here")))[4].status).toBe("ok");
    expect(await push(ch, "presence:friends", { ids: [] })).toEqual({ status: "ok", response: { watching: [] } });
    s.app.hub.broadcast(topic, "announcement", { body: "after the big frames", at: "x" });
    await waitFor("bystander gets the broadcast", () => seen.some((e) => e.payload.body === "after the big frames"));
  }, 60_000);
});

describe("HTTP body limit (T8)", () => {
  const post = (body: BodyInit) =>
    fetch(`${s.http}/api/v1/streams`, { method: "POST", body, headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" } });
  const streamed = (total: number) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        const chunk = new Uint8Array(64 * 1024).fill(0x20);
        for (let sent = 0; sent < total; sent += chunk.length) c.enqueue(chunk.subarray(0, Math.min(chunk.length, total - sent)));
        c.close();
      },
    });

  test("a body over 1 MiB gets 413, with a Content-Length or streamed without one; 1 MiB itself does not", async () => {
    expect(MAX_BODY_BYTES).toBe(1024 * 1024);
    const big = JSON.stringify({ slug: "too-big", title: "x".repeat(MAX_BODY_BYTES) });
    expect((await post(big)).status).toBe(413);
    expect((await post(" ".repeat(MAX_BODY_BYTES + 1))).status).toBe(413);
    expect((await post(streamed(MAX_BODY_BYTES + 1))).status).toBe(413);
    expect((await post(streamed(4 * MAX_BODY_BYTES))).status).toBe(413);
    // At the limit the body is read and judged on content (here: not JSON -> 400).
    const atLimit = await post(" ".repeat(MAX_BODY_BYTES - 2) + "[]");
    expect(atLimit.status).toBe(400);
    // Nothing was created, and the API still serves.
    expect((await s.api("GET", "/api/v1/streams/too-big")).status).toBe(404);
    expect((await s.api("GET", "/api/v1/streams/limits-1")).status).toBe(200);
  });

  test("the 413 carries the API error shape {error: {code: 'too_large', message}} (PRODUCT.md, Errors)", async () => {
    const res = await post(" ".repeat(MAX_BODY_BYTES + 1));
    expect(res.status).toBe(413);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    expect(body).toEqual({ error: { code: "too_large", message: expect.any(String) } });
  });
});

describe("slow consumer (T4)", () => {
  test("a client that never reads is dropped at the backpressure limit; a reading client gets every broadcast", async () => {
    const topic = "stream:slow-1";
    const good = phx(s.ws);
    const ch = good.socket.channel(topic, {});
    const seen = record(ch, ["announcement"]);
    await join(ch);

    // The slow client: a hand-made WebSocket that joins, then stops reading its TCP socket.
    const before = new Set(s.app.hub.sockets);
    const slow: WireClient = await wireConnect(s.port);
    cleanup.push(() => slow.destroy());
    slow.sendText(JSON.stringify(["s1", "s1", topic, "phx_join", {}]));
    expect((await slow.next(isReplyTo("s1")))[4].status).toBe("ok");
    const slowWs = [...s.app.hub.sockets].find((x) => !before.has(x))!;
    expect(slowWs).toBeDefined();
    slow.sock.pause();

    // Publish ~4 KB broadcasts in chunks; between chunks wait until the reader has caught up, so only
    // the paused client accumulates. Stop when the server has dropped it (bounded by a frame cap).
    const body = "b".repeat(4000);
    const CHUNK = 32;
    const CAP = 50_000;
    let sent = 0;
    let maxBuffered = 0;
    while (s.app.hub.sockets.has(slowWs) && sent < CAP) {
      for (let i = 0; i < CHUNK; i++) s.app.hub.broadcast(topic, "announcement", { body, at: String(sent++) });
      if (s.app.hub.sockets.has(slowWs)) maxBuffered = Math.max(maxBuffered, slowWs.getBufferedAmount());
      await waitFor("the reading client catches up", () => seen.length >= sent || !s.app.hub.sockets.has(slowWs), 30_000);
    }
    expect(s.app.hub.sockets.has(slowWs)).toBe(false);
    expect(sent).toBeLessThan(CAP);
    // The server never held much more than the limit for it (one chunk of slack).
    expect(maxBuffered).toBeLessThanOrEqual(BACKPRESSURE_LIMIT + CHUNK * 4200);

    // The reader got every broadcast, in order, and keeps getting the ones sent after the drop.
    await waitFor("every broadcast so far", () => seen.length === sent, 30_000);
    expect(seen.every((e, i) => e.payload.at === String(i))).toBe(true);
    s.app.hub.broadcast(topic, "announcement", { body: "after the drop", at: "after" });
    await waitFor("the broadcast after the drop", () => seen.at(-1)?.payload.at === "after");
    expect(good.closes()).toBe(0);
    expect(await push(ch, "presence:friends", { ids: [] })).toEqual({ status: "ok", response: { watching: [] } });
  }, 60_000);
});

describe("idle timeout", () => {
  let idle: TestServer;
  beforeAll(async () => {
    // The config minimum; Bun rounds 1..7 up to 8 s and checks in 4 s ticks, so expect ~4-12 s.
    idle = await startTestServer({ HUBBUB_SOCKET_IDLE_TIMEOUT_S: "2" });
  });
  afterAll(async () => {
    await idle.stop();
    removeDir(idle.dataDir);
  });

  test("a socket that sends nothing is closed by the server; sockets that heartbeat stay open", async () => {
    const endpoint = `${idle.ws}/websocket?vsn=2.0.0`;
    const silent = await raw(endpoint);
    const beating = await raw(endpoint);
    // The official client, heartbeating every 2 s (under the 4 s floor of Bun's idle check, and slack
    // for its own one-interval reply timeout), must never be closed or reconnect.
    const client = phx(idle.ws, { heartbeatIntervalMs: 2000 });
    let opens = 0;
    client.socket.onOpen(() => void opens++);
    await waitFor("client open", () => client.socket.isConnected());
    let n = 0;
    const beat = setInterval(() => beating.send([null, `beat-${n++}`, "phoenix", "heartbeat", {}]), 1000);
    try {
      const closed = await silent.waitClosed(30_000);
      expect(closed.code).toBeGreaterThanOrEqual(1000);
      // The heartbeating sockets outlived the idle one and still answer.
      expect(beating.closed).toBeNull();
      expect(n).toBeGreaterThanOrEqual(2);
      beating.send([null, "after-idle", "phoenix", "heartbeat", {}]);
      expect((await beating.next(isReplyTo("after-idle")))[4]).toEqual({ status: "ok", response: {} });
      expect(client.closes()).toBe(0);
      expect(opens).toBe(1);
      expect(client.socket.isConnected()).toBe(true);
      await waitFor("the server forgot the idle socket", () => idle.app.hub.sockets.size === 2);
    } finally {
      clearInterval(beat);
      client.socket.disconnect();
    }
  }, 40_000);

  test("a joined socket that only receives (its client vanished) is closed too, and stops counting as a viewer", async () => {
    await idle.createStream("idle-room");
    const topic = "stream:idle-room";
    const endpoint = `${idle.ws}/websocket?vsn=2.0.0`;
    const vanished = await raw(endpoint);
    vanished.send(["1", "1", topic, "phx_join", {}]);
    expect((await vanished.next(isReplyTo("1")))[4].status).toBe("ok");
    // A live viewer of the same stream, heartbeating.
    const client = phx(idle.ws, { heartbeatIntervalMs: 2000 });
    const ch = client.socket.channel(topic, {});
    await join(ch);
    await waitFor("two viewers", () => idle.app.hub.countOf("idle-room") === 2);
    // The stream is busy: the server sends to both sockets all the time (Bun's idle timer restarts
    // on every send, so only the server's own record of what it heard can tell the vanished one).
    let n = 0;
    const busy = setInterval(() => idle.app.hub.broadcast(topic, "announcement", { body: `busy ${n++}`, at: String(n) }), 300);
    try {
      const closed = await vanished.waitClosed(60_000);
      expect([closed.code, closed.reason]).toEqual([1001, "idle"]);
      expect(vanished.frames.filter((f) => Array.isArray(f) && f[3] === "announcement").length).toBeGreaterThan(0);
      await waitFor("one viewer left", () => idle.app.hub.countOf("idle-room") === 1);
      expect(client.closes()).toBe(0);
      expect(client.socket.isConnected()).toBe(true);
    } finally {
      clearInterval(busy);
      client.socket.disconnect();
    }
  }, 90_000);
});
