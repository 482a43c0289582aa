// The upgrade path of /socket/websocket, cheap on purpose (phoenix.js reconnects without jitter):
// protocol version, Origin, per-IP connect rate, token, revocation and the per-viewer socket limit
// are all checked BEFORE server.upgrade, and refusals answer with a JSON reason.
import type { Server } from "bun";
import type { Config } from "../../config.ts";
import type { ErrorCode } from "../../errors.ts";
import type { TokenResult, ViewerIdentity, ViewerTokens } from "../../identity/viewer-token.ts";
import type { TrustedProxies } from "../../runtime/ip.ts";
import type { Counter, Metrics } from "../../runtime/metrics.ts";
import { KeyedBuckets } from "../../runtime/token-bucket.ts";
import type { Clock } from "../../runtime/time.ts";
import type { Viewers } from "../../viewers/index.ts";
import { SECURITY_HEADERS } from "../http-util.ts";
import type { Conn } from "./conn.ts";
import type { Hub } from "./hub.ts";

export const SOCKET_PATH = "/socket/websocket";
const SUBPROTOCOL_TOKEN = "base64url.bearer.phx.";

export interface UpgradeDeps {
  config: Readonly<Config>;
  hub: Hub;
  tokens: ViewerTokens;
  viewers: Viewers;
  proxies: TrustedProxies;
  clock: Clock;
  metrics: Metrics;
}

export class Upgrader {
  private buckets: KeyedBuckets | null;
  private refused: Counter;
  private allowed: Set<string>;

  constructor(private d: UpgradeDeps) {
    const { config } = d;
    this.buckets = config.connectRatePerIp > 0 ? new KeyedBuckets(config.connectRatePerIp, Math.max(1, config.connectBurstPerIp)) : null;
    this.refused = d.metrics.counter("hubbub_connects_refused_total", "Socket upgrades refused, by reason.");
    this.allowed = new Set([config.publicOrigin, ...config.allowedOrigins, ...config.embedOrigins]);
  }

  sweep(now: number): void {
    this.buckets?.sweep(now);
    this.d.hub.sweepCooldowns(now);
  }

  /** Synchronous for guests (the common storm case); only token verification awaits. */
  handle(req: Request, server: Server<Conn>): Response | undefined | Promise<Response | undefined> {
    const url = new URL(req.url);
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return this.refuse(400, "invalid_payload", "this endpoint speaks WebSocket only");
    }
    if (url.searchParams.get("vsn") !== "2.0.0") return this.refuse(403, "invalid_payload", "unsupported protocol version: use vsn=2.0.0");

    const origin = req.headers.get("origin");
    if (origin !== null && !this.originAllowed(origin, req)) return this.refuse(403, "origin_not_allowed", "this origin may not open viewer sockets");

    const peer = server.requestIP(req)?.address ?? "0.0.0.0";
    const ip = this.d.proxies.clientIp(peer, req.headers.get("x-forwarded-for"));
    if (this.buckets) {
      const wait = this.buckets.take(ip, this.d.clock.now());
      if (wait > 0) return this.refuse(429, "rate_limited", "too many connects from this address", wait);
    }

    const offered = req.headers.get("sec-websocket-protocol");
    const token = url.searchParams.get("token") || tokenFromSubprotocol(offered);
    if (!token) {
      const cool = this.d.hub.cooldownLeft(ip, this.d.clock.now());
      if (cool > 0) return this.refuse(429, "rate_limited", "this address was closed for flooding; wait", cool);
      return this.upgrade(req, server, null, ip, offered);
    }
    const checked = (r: TokenResult): Response | undefined => {
      if (!r.ok) return this.refuse(403, r.code, r.message);
      if (this.d.viewers.isRevoked(r.viewer.id, r.viewer.iat)) return this.refuse(403, "invalid_token", "this token was revoked");
      const cool = this.d.hub.cooldownLeft(r.viewer.id, this.d.clock.now());
      if (cool > 0) return this.refuse(429, "rate_limited", "this viewer was closed for flooding; wait", cool);
      return this.upgrade(req, server, r.viewer, ip, offered);
    };
    const verified = this.d.tokens.verify(token);
    return verified instanceof Promise ? verified.then(checked) : checked(verified);
  }

  private upgrade(req: Request, server: Server<Conn>, viewer: ViewerIdentity | null, ip: string, offered: string | null): Response | undefined {
    if (viewer) {
      const have = this.d.hub.reserve(viewer.id);
      if (have >= this.d.config.maxSocketsPerViewer) {
        this.d.hub.release(viewer.id);
        return this.refuse(429, "too_many_sockets", `at most ${this.d.config.maxSocketsPerViewer} sockets per viewer`);
      }
    }
    const conn = this.d.hub.newConn(viewer, ip);
    // Browsers abort unless we pick a subprotocol they offered; phoenix.js offers "phoenix".
    const headers = offered?.split(",").some((p) => p.trim() === "phoenix") ? { "Sec-WebSocket-Protocol": "phoenix" } : undefined;
    if (server.upgrade(req, { data: conn, headers })) return undefined;
    if (viewer) this.d.hub.release(viewer.id);
    return this.refuse(400, "invalid_payload", "WebSocket upgrade failed");
  }

  /** Configured origins, plus same-origin requests (the page Hubbub itself served). */
  private originAllowed(origin: string, req: Request): boolean {
    if (this.allowed.has(origin)) return true;
    const host = req.headers.get("host");
    if (!host) return false;
    try {
      return new URL(origin).host === host;
    } catch {
      return false;
    }
  }

  private refuse(status: number, code: ErrorCode, message: string, retryAfterMs?: number): Response {
    this.refused.inc(1, { reason: code });
    const headers: Record<string, string> = { "content-type": "application/json", ...SECURITY_HEADERS };
    if (retryAfterMs !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
    const error: Record<string, unknown> = { code, message };
    if (retryAfterMs !== undefined) error.retry_after_ms = retryAfterMs;
    return new Response(JSON.stringify({ error }), { status, headers });
  }
}

/** phoenix >= 1.8 `authToken`: `base64url.bearer.phx.<base64 of the token without '='>`. */
export function tokenFromSubprotocol(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(",")) {
    const p = part.trim();
    if (!p.startsWith(SUBPROTOCOL_TOKEN)) continue;
    try {
      const b64 = p.slice(SUBPROTOCOL_TOKEN.length);
      return atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    } catch {
      return null;
    }
  }
  return null;
}
