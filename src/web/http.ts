// The HTTP server: one Bun.serve. The socket path is upgraded by our own raw handlers (Elysia's
// .ws keeps the whole request context per socket, ~2.5x the memory); everything else goes to
// Elysia. Body and frame limits are set here, at the edge.
import type { Server } from "bun";
import { Elysia } from "elysia";
import type { Logger } from "../runtime/logger.ts";
import { apiError, SECURITY_HEADERS } from "./http-util.ts";
import { isBusy, isStorageFailure } from "../runtime/group-commit.ts";
import type { Conn } from "./socket/conn.ts";
import type { Hub } from "./socket/hub.ts";
import { SOCKET_PATH, type Upgrader } from "./socket/upgrade.ts";

export const MAX_FRAME_BYTES = 64 * 1024;
export const MAX_BODY_BYTES = 1024 * 1024;
/** Bun refuses bodies above this before our handler runs (with its own plain 413). */
const BUN_BODY_CAP = 8 * 1024 * 1024;
export const BACKPRESSURE_LIMIT = 1024 * 1024;

export function buildApp(logger: Logger, parts: Elysia<any, any, any, any, any, any, any>[]) {
  let app = new Elysia()
    .onError(({ code, error }) => {
      if (code === "NOT_FOUND") return apiError("not_found", "no such route");
      if (code === "PARSE") return apiError("invalid_payload", "the body is not valid JSON");
      if (code === "VALIDATION") return apiError("invalid_payload", String((error as Error).message).slice(0, 500));
      if (isBusy(error)) return apiError("unavailable", "the database is busy; nothing was changed; try again", { retryAfterMs: 1000 });
      if (isStorageFailure(error)) {
        logger.error("storage failed", { error });
        return apiError("unavailable", "storage failed (disk full?); nothing was changed");
      }
      logger.error("http handler failed", { code: String(code), error });
      return new Response(JSON.stringify({ error: { code: "internal", message: "internal error" } }), { status: 500, headers: { "content-type": "application/json", ...SECURITY_HEADERS } });
    })
    .onAfterHandle(({ set }) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) set.headers[k] ??= v;
    });
  for (const p of parts) app = app.use(p);
  return app;
}

export interface ServeOptions {
  port: number;
  hostname: string;
  idleTimeoutS: number;
  app: { handle(req: Request): Promise<Response> };
  hub: Hub;
  upgrader: Upgrader;
  logger: Logger;
}

export function serve(o: ServeOptions): Server<Conn> {
  const { hub } = o;
  return Bun.serve<Conn>({
    port: o.port,
    hostname: o.hostname,
    maxRequestBodySize: BUN_BODY_CAP,
    // HTTP requests may wait this long for their answer (Bun's default is 10 s): an analytics answer
    // waits its turn behind the worker's flushes and other queries (one at a time), and a large CSV
    // or Parquet series is built in full before it is sent.
    idleTimeout: 120,
    fetch(req, server) {
      const path = pathOf(req.url);
      if (path === SOCKET_PATH) return o.upgrader.handle(req, server);
      // Body limit with our error shape; Bun's own cap (BUN_BODY_CAP) only backs this up. A
      // streamed body has no declared length, so it is read with the limit and handed on buffered.
      const length = req.headers.get("content-length");
      if (length !== null && Number(length) > MAX_BODY_BYTES) return tooLarge();
      if (length === null && req.body) {
        return readCapped(req.body, MAX_BODY_BYTES).then((buf) =>
          buf === null ? tooLarge() : o.app.handle(new Request(req.url, { method: req.method, headers: req.headers, body: buf })),
        );
      }
      return o.app.handle(req);
    },
    error(err) {
      o.logger.error("server error", { error: err });
      return apiError("invalid_payload", "request failed", { status: 500 });
    },
    websocket: {
      maxPayloadLength: MAX_FRAME_BYTES, // bigger frames close with 1009
      backpressureLimit: BACKPRESSURE_LIMIT,
      closeOnBackpressureLimit: true, // a client that does not read is dropped, never waited on
      idleTimeout: o.idleTimeoutS, // no frame from the client for this long: closed
      sendPings: false, // idleness means "no frame from the client"; phoenix.js heartbeats every 30 s
      perMessageDeflate: false,
      publishToSelf: true,
      open: (ws) => hub.onOpen(ws),
      message: (ws, msg) => hub.onMessage(ws, msg),
      close: (ws) => hub.onClose(ws),
    },
  });
}

function tooLarge(): Response {
  return apiError("too_large", `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
}

/** The whole body, or null as soon as it passes `cap` bytes (memory stays near the cap). */
async function readCapped(body: ReadableStream<Uint8Array>, cap: number): Promise<ArrayBuffer | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const all = Buffer.concat(chunks);
  return all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
}

function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const q = url.indexOf("?", start);
  return q === -1 ? url.slice(start) : url.slice(start, q);
}
