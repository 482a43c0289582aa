// Baseline for the chat benchmark (bench/chat.ts): the plain Bun server a careful engineer would
// write for the same chat wire protocol (Phoenix Channels V2 JSON frames) with NO storage, NO rules
// and NO moderation. Hubbub is compared against it, so it stays minimal but honest:
//   - the upgrade verifies the viewer's HS256 token (signature and expiry) like Hubbub does,
//   - every frame is parsed, joins and heartbeats are answered properly (bench/lib/raw-phoenix.ts),
//   - `chat:send` gets a per-topic seq, the `chat:new` broadcast is encoded once (same fields and
//     key order as Hubbub's: seq, id, user, body, reply_to, mentions, at) and handed to the native
//     `server.publish` (every subscriber, the sender included), then the sender gets
//     `{status: "ok", response: {status: "published", seq}}`, the order Hubbub uses too.
// What it does not do (Hubbub's extra work, which is what the comparison prices): durable storage
// with group commit, nonce de-duplication, text validation (graphemes, NFC, control characters),
// rate limits and chat modes, the moderation hook, mentions, presence, history in the join reply.
//
// Usage: CHAT_ECHO_TOKEN_SECRET=<secret> bun bench/chat-echo-server.ts <port>   (binds 127.0.0.1)

import type { Server } from "bun";
import { portArg, reply, secretEnv, serveRawPhoenix, type RawSocketData } from "./lib/raw-phoenix.ts";

const port = portArg("usage: CHAT_ECHO_TOKEN_SECRET=<secret> bun bench/chat-echo-server.ts <port below 32768>");
const secret = secretEnv("CHAT_ECHO_TOKEN_SECRET");

const MAX_BODY = 500;
const j = JSON.stringify;

// Per-topic message counter (the "seq" a client orders by); lives in memory only.
const seqs = new Map<string, number>();
let idCounter = 0;

const server: Server<RawSocketData> = serveRawPhoenix({
  name: "Chat echo",
  port,
  secret,
  joinResponse: (topic: string) => ({ seq: seqs.get(topic) ?? 0, history: [] }),
  onEvent(ws, joinRef, ref, topic, event, payload): boolean {
    if (event !== "chat:send") return false;
    const body = payload.body;
    const text = typeof body === "string" ? body.trim() : "";
    if (text === "" || text.length > MAX_BODY) {
      ws.send(reply(joinRef, ref, topic, "error", { reason: "invalid_payload", message: "body: 1-500 characters" }));
      return true;
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
    return true;
  },
});
