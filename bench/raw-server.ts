// Baseline for the socket benchmark: the plain Bun pub/sub server a careful engineer would write
// for the same wire protocol (Phoenix Channels V2 JSON frames), and nothing more. Hubbub is
// compared against it, so it must stay minimal but honest: parse every frame, answer joins and
// heartbeats properly, encode each broadcast once and hand it to the native `server.publish`.
//
// Usage: bun bench/raw-server.ts <port>   (binds 127.0.0.1 only)

const TOPIC = "stream:bench";
const port: number = Number(process.argv[2] ?? process.env.PORT ?? "0");
if (!Number.isInteger(port) || port <= 0 || port >= 32768) {
  console.error("usage: bun bench/raw-server.ts <port below 32768>");
  process.exit(2);
}

// Per-socket state kept deliberately tiny: the join ref is the only thing the protocol needs
// (a push to one socket must carry its current join_ref).
interface SocketData {
  joinRef: string | null;
}

type Frame = [string | null, string | null, string, string, Record<string, unknown>];

function isFrame(v: unknown): v is Frame {
  return (
    Array.isArray(v) &&
    v.length === 5 &&
    typeof v[2] === "string" &&
    typeof v[3] === "string" &&
    typeof v[4] === "object" &&
    v[4] !== null
  );
}

function reply(
  joinRef: string | null,
  ref: string | null,
  topic: string,
  status: "ok" | "error",
  response: Record<string, unknown>,
): string {
  return JSON.stringify([joinRef, ref, topic, "phx_reply", { status, response }]);
}

const server = Bun.serve<SocketData>({
  hostname: "127.0.0.1",
  port,
  async fetch(req: Request, srv): Promise<Response | undefined> {
    const url = new URL(req.url);
    if (url.pathname === "/socket/websocket") {
      if (url.searchParams.get("vsn") !== "2.0.0") return new Response("unsupported vsn", { status: 403 });
      if (srv.upgrade(req, { data: { joinRef: null } })) return undefined;
      return new Response("upgrade required", { status: 400 });
    }
    if (url.pathname === "/publish" && req.method === "POST") {
      let body: unknown;
      try {
        body = ((await req.json()) as { body?: unknown }).body;
      } catch {
        return new Response("bad json", { status: 400 });
      }
      if (typeof body !== "string" || body.length > 500) return new Response("bad body", { status: 400 });
      // Encode once; the same bytes go to every subscriber.
      const frame = JSON.stringify([null, null, TOPIC, "announcement", { body, at: new Date().toISOString() }]);
      srv.publish(TOPIC, frame);
      return Response.json({ ok: true });
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
      const [joinRef, ref, topic, event] = frame;
      if (topic === "phoenix" && event === "heartbeat") {
        ws.send(reply(null, ref, "phoenix", "ok", {}));
      } else if (event === "phx_join") {
        if (topic !== TOPIC) {
          ws.send(reply(null, ref, topic, "error", { reason: "unmatched topic" }));
          return;
        }
        ws.data.joinRef = joinRef;
        ws.subscribe(TOPIC);
        ws.send(reply(joinRef, ref, topic, "ok", {}));
      } else if (event === "phx_leave" && topic === TOPIC && ws.data.joinRef !== null) {
        ws.unsubscribe(TOPIC);
        ws.send(reply(joinRef, ref, topic, "ok", {}));
        ws.send(JSON.stringify([joinRef, joinRef, topic, "phx_close", {}]));
        ws.data.joinRef = null;
      } else {
        ws.send(reply(null, ref, topic, "error", { reason: "unmatched topic" }));
      }
    },
  },
});

console.log(`raw-server listening on http://127.0.0.1:${server.port} pid=${process.pid}`);

function shutdown(): void {
  server.stop(true);
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
