// The skeleton of the raw Bun baselines that speak Hubbub's socket protocol (Phoenix Channels V2
// JSON frames) to signed-in viewers: bench/chat-echo-server.ts and bench/reactions-raw-server.ts.
// What a careful engineer would write with nothing but Bun.serve, and no more:
//   - the upgrade verifies the viewer's HS256 token (signature and expiry) like Hubbub does,
//   - every frame is parsed and shape-checked, joins, leaves and heartbeats are answered properly,
//   - everything else goes to the server's own `onEvent`; what it does not take is `unknown_event`.
// Like Hubbub, it watches its event-loop lag (how late a 100 ms timer fires); GET /lag returns the
// worst since the previous GET /lag as {"max_lag_ms": n}, so a benchmark can compare stalls.
// Binds 127.0.0.1 only. The listening banner on stderr tells the orchestrator it is ready.

import type { Server, ServerWebSocket } from "bun";
import { createHmac, timingSafeEqual } from "node:crypto";

const MAX_CHANNELS = 10;
const TOPIC = /^stream:[a-z0-9-]{3,64}$/;

export interface RawViewer {
  id: string;
  name: string;
}

export interface RawSocketData {
  viewer: RawViewer;
  /** topic -> join_ref of the socket's current join (a push must carry it). */
  channels: Map<string, string | null>;
}

export type RawWs = ServerWebSocket<RawSocketData>;

export type Frame = [string | null, string | null, string, string, Record<string, unknown>];

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

/** A `phx_reply` frame, encoded the way Hubbub encodes it (same bytes for the same reply). */
export function reply(joinRef: string | null, ref: string | null, topic: string, status: "ok" | "error", response: unknown): string {
  return `[${j(joinRef)},${j(ref)},${j(topic)},"phx_reply",{"status":"${status}","response":${j(response)}}]`;
}

/** A broadcast frame `[null,null,topic,event,payload]`. */
export function broadcastFrame(topic: string, event: string, payload: unknown): string {
  return `[null,null,${j(topic)},${j(event)},${j(payload)}]`;
}

/** HS256 JWT check: signature (constant time), `exp`, and a string `sub`. */
export function verifyToken(token: string, secret: string): RawViewer | null {
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

export interface RawPhoenixOptions {
  /** Names the server in the banner: `<name> listening on http://127.0.0.1:<port> pid=<pid>`. */
  name: string;
  port: number;
  /** HS256 secret for viewer tokens (at least 32 characters). */
  secret: string;
  /** The join reply's response for `topic`. */
  joinResponse(topic: string): unknown;
  /** A frame on a joined topic that is not join, leave or heartbeat; false: answered `unknown_event`. */
  onEvent(ws: RawWs, joinRef: string | null, ref: string | null, topic: string, event: string, payload: Record<string, unknown>): boolean;
}

/** Parses `<port>` from argv (below 32768) or exits with `usage`. */
export function portArg(usage: string): number {
  const port = Number(process.argv[2] ?? "0");
  if (!Number.isInteger(port) || port <= 0 || port >= 32768) {
    console.error(usage);
    process.exit(2);
  }
  return port;
}

/** Reads the token secret from `envName` or exits. */
export function secretEnv(envName: string): string {
  const secret = process.env[envName] ?? "";
  if (secret.length < 32) {
    console.error(`${envName}: at least 32 characters`);
    process.exit(2);
  }
  return secret;
}

export function serveRawPhoenix(o: RawPhoenixOptions): Server<RawSocketData> {
  let worstLagMs = 0;
  let expected = performance.now() + 100;
  setInterval(() => {
    const now = performance.now();
    worstLagMs = Math.max(worstLagMs, now - expected);
    expected = now + 100;
  }, 100);
  const server = Bun.serve<RawSocketData>({
    hostname: "127.0.0.1",
    port: o.port,
    fetch(req: Request, srv): Response | undefined {
      const url = new URL(req.url);
      if (url.pathname === "/socket/websocket") {
        if (url.searchParams.get("vsn") !== "2.0.0") return new Response("unsupported vsn", { status: 403 });
        const token = url.searchParams.get("token");
        const viewer = token === null ? null : verifyToken(token, o.secret);
        if (viewer === null) return new Response("invalid token", { status: 403 });
        if (srv.upgrade(req, { data: { viewer, channels: new Map() } })) return undefined;
        return new Response("upgrade required", { status: 400 });
      }
      if (url.pathname === "/readyz") return new Response("ok");
      if (url.pathname === "/lag") {
        const body = JSON.stringify({ max_lag_ms: worstLagMs });
        worstLagMs = 0;
        return new Response(body, { headers: { "content-type": "application/json" } });
      }
      return new Response("not found", { status: 404 });
    },
    websocket: {
      idleTimeout: 60,
      maxPayloadLength: 64 * 1024,
      message(ws: RawWs, message: string | Buffer): void {
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
          ws.send(reply(joinRef, ref, topic, "ok", o.joinResponse(topic)));
          return;
        }
        if (!channels.has(topic)) {
          ws.send(reply(joinRef, ref, topic, "error", { reason: "unmatched topic" }));
          return;
        }
        if (event === "phx_leave") {
          channels.delete(topic);
          ws.unsubscribe(topic);
          ws.send(reply(joinRef, ref, topic, "ok", {}));
          ws.send(`[${j(joinRef)},${j(joinRef)},${j(topic)},"phx_close",{}]`);
          return;
        }
        if (o.onEvent(ws, joinRef, ref, topic, event, payload)) return;
        ws.send(reply(joinRef, ref, topic, "error", { reason: "unknown_event" }));
      },
    },
  });
  process.stderr.write(`${o.name} listening on http://127.0.0.1:${server.port} pid=${process.pid}\n`);
  const shutdown = (): void => {
    server.stop(true);
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  return server;
}
