// The creator and moderator dashboard: server-rendered pages (views/), htmx 4, pushed live over SSE.
// Owns its sessions (SQLite) and the SSE feeds; every change goes through the domain doors. Started
// after the hub (it taps its broadcasts) and stopped before the HTTP server drains, so SSE clients
// see their stream end and reconnect elsewhere.
import type { Database } from "bun:sqlite";
import { Elysia } from "elysia";
import type { Config } from "../../config.ts";
import type { Logger } from "../../runtime/logger.ts";
import type { Clock } from "../../runtime/time.ts";
import type { ApiSessions } from "../api/index.ts";
import type { Hub } from "../socket/hub.ts";
import { Assets } from "./assets.ts";
import { DashboardAuth } from "./auth.ts";
import type { DashboardContext, DomainDoors } from "./context.ts";
import { DashboardFeeds } from "./feed.ts";
import { LiveData } from "./live-data.ts";
import { accountRoutes } from "./routes-accounts.ts";
import { apiKeyRoutes } from "./routes-api-keys.ts";
import { analyticsRoutes } from "./routes-analytics.ts";
import { liveRoutes } from "./routes-live.ts";
import { loginRoutes } from "./routes-login.ts";
import { streamRoutes } from "./routes-streams.ts";
import { Sessions } from "./sessions.ts";

export interface DashboardDeps extends DomainDoors {
  db: Database;
  config: Readonly<Config>;
  clock: Clock;
  logger: Logger;
  hub: Hub;
  /** How long an erasure waits for its analytics part before saying it is pending (as the API). */
  eraseWaitMs?: number;
}

export class Dashboard {
  readonly feeds: DashboardFeeds;
  readonly sessions: Sessions;
  /** The JSON API's view of dashboard sessions (cookie, and CSRF on state changes). */
  readonly apiSessions: ApiSessions;
  private c: DashboardContext;
  private assets = new Assets();
  private sweeper: ReturnType<typeof setInterval> | null = null;

  constructor(d: DashboardDeps) {
    this.sessions = new Sessions(d.db, d.clock, d.accounts);
    const data = new LiveData({ accounts: d.accounts, streams: d.streams, chat: d.chat, polls: d.polls, analytics: d.analytics, audit: d.audit, viewers: d.viewers, clock: d.clock });
    this.feeds = new DashboardFeeds({ hub: d.hub, chat: d.chat, streams: d.streams, analytics: d.analytics, data, clock: d.clock, logger: d.logger });
    const auth = new DashboardAuth(this.sessions, d.streams, d.config.publicUrl);
    this.c = { ...d, sessions: this.sessions, auth, feeds: this.feeds, data };
    this.apiSessions = { authenticate: (req, mutating) => auth.apiSession(req, mutating) };
  }

  start(): void {
    this.feeds.start();
    this.sweeper = setInterval(() => {
      try {
        this.sessions.sweep();
      } catch (e) {
        this.c.logger.error("session sweep failed", { error: e });
      }
    }, 3_600_000);
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    this.feeds.stop();
  }

  routes() {
    return new Elysia()
      .get("/dashboard/assets/*", ({ params, request }) => this.assets.serve((params as Record<string, string>)["*"] ?? "", request))
      .use(loginRoutes(this.c))
      .use(streamRoutes(this.c))
      .use(liveRoutes(this.c))
      .use(analyticsRoutes(this.c))
      .use(accountRoutes(this.c))
      .use(apiKeyRoutes(this.c));
  }
}
