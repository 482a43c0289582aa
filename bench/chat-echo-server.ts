// Baseline for the chat benchmark (bench/chat.ts): the plain Bun server a careful engineer would
// write for the same chat wire protocol (Phoenix Channels V2 JSON frames) with NO storage, NO rules
// and NO moderation. Hubbub is compared against it, so it stays minimal but honest:
//   - the upgrade verifies the viewer's HS256 token (signature and expiry) like Hubbub does,
//   - every frame is parsed, joins and heartbeats are answered properly,
//   - `chat:send` gets a per-topic seq, the `chat:new` broadcast is encoded once (same fields and
//     key order as Hubbub's: seq, id, user, body, reply_to, mentions, at) and handed to the native
//     `server.publish` (every subscriber, the sender included), then the sender gets
//     `{status: "ok", response: {status: "published", seq}}`, the order Hubbub uses too.
// What it does not do (Hubbub's extra work, which is what the comparison prices): durable storage
// with group commit, nonce de-duplication, text validation (graphemes, NFC, control characters),
// rate limits and chat modes, the moderation hook, mentions, presence, history in the join reply.
//
// Usage: CHAT_ECHO_TOKEN_SECRET=<secret> bun bench/chat-echo-server.ts <port>   (binds 127.0.0.1)

import { createHmac, timingSafeEqual } from "node:crypto";

const port: number = Number(process.argv[2] ?? "0");
if (!Number.isInteger(port) || port <= 0 || port >= 32768) {
  console.error("usage: CHAT_ECHO_TOKEN_SECRET=<secret> bun bench/chat-echo-server.ts <port below 32768>");
  process.exit(2);
}
const secret = process.env.CHAT_ECHO_TOKEN_SECRET ?? "";
if (secret.length < 32) {
  console.error("CHAT_ECHO_TOKEN_SECRET: at least 32 characters");
  process.exit(2);
}

const MAX_BODY = 500;
const MAX_CHANNELS = 10;
const TOPIC = /^stream:[a-z0-9-]{3,64}$/;

interface Viewer {
  id: string;
  name: string;
}

interface SocketData {
  viewer: Viewer;
  /** topic -> join_ref of the socket's current join (a push must carry it). */
  channels: Map<string, string | null>;
}

type Frame = [string | null, string | null, string, string, Record<string, unknown>];

function isFrame(v: unknown): v is Frame {
  return (
    Array.isArray(v) &&
    v.length === 5 &&
    (v[0] === null || typeof v[0] === "string") &&
    (v[1] === null || typeof v[1] === "string") &&
    typeof v[2] === "string" &&
    typeof v[3] === "string" &&
    typeof v[4] === "object" &&
    v[4] !== null &&
    !Array.isArray(v[4])
  );
}

const j = JSON.stringify;

function reply(joinRef: string | null, ref: string | null, topic: string, status: "ok" | "error", response: unknown): string {
  return `[${j(joinRef)},${j(ref)},${j(topic)},"phx_reply",{"status":"${status}","response":${j(response)}}]`;
}

/** HS256 JWT check: signature (constant time), `exp`, and a string `sub`. */
function verifyToken(token: string): Viewer | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const [h, p, s] = parts as [string, string, string];
  const expected = createHmac("sha256", secret).update(`${h}.${p}`).digest();
  const given = Buffer.from(s, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let header: { alg?: unknown };
  let claims: { sub?: unknown; name?: unknown; exp?: unknown };
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as { alg?: unknown };
    claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as { sub?: unknown; name?: unknown; exp?: unknown };
  } catch {
    return null;
  }
  if (header.alg !== "HS256" || typeof claims.sub !== "string" || claims.sub === "") return null;
  if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) return null;
  return { id: claims.sub, name: typeof claims.name === "string" ? claims.name.slice(0, 64) : claims.sub };
}

// Per-topic message counter (the "seq" a client orders by); lives in memory only.
const seqs = new Map<string, number>();
let idCounter = 0;

const server = Bun.serve<SocketData>({
  hostname: "127.0.0.1",
  port,
  fetch(req: Request, srv): Response | undefined {
    const url = new URL(req.url);
    if (url.pathname === "/socket/websocket") {
      if (url.searchParams.get("vsn") !== "2.0.0") return new Response("unsupported vsn", { status: 403 });
      const token = url.searchParams.get("token");
      const viewer = token === null ? null : verifyToken(token);
      if (viewer === null) return new Response("invalid token", { status: 403 });
      if (srv.upgrade(req, { data: { viewer, channels: new Map() } })) return undefined;
      return new Response("upgrade required", { status: 400 });
    }
    if (url.pathname === "/readyz") return new Response("ok");
    return new Response("not found", { status: 404 });
  },
  websocket: {
    idleTimeout: 60,
    maxPayloadLength: 64 * 1024,
    message(ws, message): void {
      if (typeof message !== "string") return; // V2 JSON only; binary frames are ignored
      let frame: unknown;
      try {
        frame = JSON.parse(message);
      } catch {
        ws.close(1003, "bad frame");
        return;
      }
      if (!isFrame(frame)) {
        ws.close(1003, "bad frame");
        return;
      }
      const [joinRef, ref, topic, event, payload] = frame;
      const channels = ws.data.channels;
      if (topic === "phoenix" && event === "heartbeat") {
        ws.send(reply(null, ref, "phoenix", "ok", {}));
        return;
      }
      if (event === "phx_join") {
        if (!TOPIC.test(topic)) {
          ws.send(reply(joinRef, ref, topic, "error", { reason: "unmatched topic" }));
          return;
        }
        if (!channels.has(topic) && channels.size >= MAX_CHANNELS) {
          ws.send(reply(joinRef, ref, topic, "error", { reason: "too many channels joined" }));
          return;
        }
        channels.set(topic, joinRef);
        ws.subscribe(topic);
        ws.send(reply(joinRef, ref, topic, "ok", { seq: seqs.get(topic) ?? 0, history: [] }));
        return;
      }
      if (!channels.has(topic)) {
        ws.send(reply(joinRef, ref, topic, "error", { reason: "unmatched topic" }));
        return;
      }
      if (event === "chat:send") {
        const body = payload.body;
        const text = typeof body === "string" ? body.trim() : "";
        if (text === "" || text.length > MAX_BODY) {
          ws.send(reply(joinRef, ref, topic, "error", { reason: "invalid_payload", message: "body: 1-500 characters" }));
          return;
        }
        const seq = (seqs.get(topic) ?? 0) + 1;
        seqs.set(topic, seq);
        const v = ws.data.viewer;
        const msg = {
          seq,
          id: `m${(++idCounter).toString(36).padStart(35, "0")}`, // 36 characters, like a UUID
          user: { id: v.id, name: v.name, badges: [] as string[] },
          body: text,
          reply_to: null,
          mentions: [] as string[],
          at: new Date().toISOString(),
        };
        // Encoded once; the same bytes go to every subscriber (the sender included).
        server.publish(topic, `[null,null,${j(topic)},"chat:new",${j(msg)}]`);
        ws.send(reply(joinRef, ref, topic, "ok", { status: "published", seq }));
        return;
      }
      if (event === "phx_leave") {
        channels.delete(topic);
        ws.unsubscribe(topic);
        ws.send(reply(joinRef, ref, topic, "ok", {}));
        ws.send(`[${j(joinRef)},${j(joinRef)},${j(topic)},"phx_close",{}]`);
        return;
      }
      ws.send(reply(joinRef, ref, topic, "error", { reason: "unknown_event" }));
    },
  },
});

process.stderr.write(`Chat echo listening on http://127.0.0.1:${server.port} pid=${process.pid}\n`);

function shutdown(): void {
  server.stop(true);
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
