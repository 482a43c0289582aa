// Composition root: starts the children in order, stops them in reverse. No module singletons:
// every service gets its dependencies here.
import type { Server } from "bun";
import type { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Accounts } from "./accounts/index.ts";
import { Analytics } from "./analytics/index.ts";
import type { PendingErasure } from "./analytics/erasures.ts";
import { AuditLog } from "./audit/index.ts";
import { Chat } from "./chat/index.ts";
import { Moderation } from "./moderation/index.ts";
import { GroupCommit } from "./runtime/group-commit.ts";
import type { Config } from "./config.ts";
import { closeSqlite, migrate, openSqlite } from "./db/sqlite.ts";
import { ViewerTokens } from "./identity/viewer-token.ts";
import { randomToken } from "./runtime/ids.ts";
import { TrustedProxies } from "./runtime/ip.ts";
import { createLogger, type Logger } from "./runtime/logger.ts";
import { Metrics } from "./runtime/metrics.ts";
import { systemClock, type Clock } from "./runtime/time.ts";
import { Streams } from "./streams/index.ts";
import { Polls } from "./polls/index.ts";
import { Reactions } from "./reactions/index.ts";
import { Viewers } from "./viewers/index.ts";
import { apiRoutes } from "./web/api/index.ts";
import { openApiRoutes } from "./web/api/openapi.ts";
import { buildApp, serve } from "./web/http.ts";
import { opsRoutes } from "./web/ops.ts";
import { pageRoutes } from "./web/pages.ts";
import { Dashboard } from "./web/dashboard/index.ts";
import type { Conn } from "./web/socket/conn.ts";
import { CLOSE, Hub } from "./web/socket/hub.ts";
import { Upgrader } from "./web/socket/upgrade.ts";
import { buildViewerAssets } from "./web/viewer/assets.ts";
import { viewerRoutes } from "./web/viewer/index.ts";

export interface App {
  config: Readonly<Config>;
  url: string;
  port: number;
  server: Server<Conn>;
  hub: Hub;
  accounts: Accounts;
  streams: Streams;
  viewers: Viewers;
  chat: Chat;
  reactions: Reactions;
  polls: Polls;
  moderation: Moderation;
  analytics: Analytics;
  viewerTokenSecret: string | null;
  generatedAdminPassword: string | null;
  /** Drain: stop accepting, close sockets with 1012, close databases. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  clock?: Clock;
  /** Where the one-time admin password is shown (stderr by default, never the JSON log). */
  announce?: (text: string) => void;
  /** Tests only: workers obey injected faults (crash, hang) so supervision can be tested. */
  faultInjection?: boolean;
  /** Tests only: how long the analytics worker may be silent before it is replaced. */
  analyticsUnresponsiveMs?: number;
  /** Tests only: how long DELETE /viewers/:id/data waits for the analytics part (default 10 s). */
  eraseWaitMs?: number;
}

export async function startApp(config: Readonly<Config>, opts: StartOptions = {}): Promise<App> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  const metrics = new Metrics();
  const stops: Array<() => void | Promise<void>> = [];
  let ready = false;
  try {
    // 1. Data folder and the viewer-token secret (generated once, kept in the data folder).
    mkdirSync(config.dataDir, { recursive: true });
    const secret = config.viewerJwksUrl ? null : (config.viewerTokenSecret ?? readOrCreateSecret(config.dataDir));

    // 2. Live state: SQLite, migrated before anything reads it.
    const db = openSqlite(join(config.dataDir, "hubbub.sqlite"));
    stops.push(() => closeSqlite(db));
    const applied = migrate(db);
    if (applied.length) logger.info("migrations applied", { versions: applied });

    // 3. Domains, each with its own door.
    // Hot and moderation writes go through group commit: one transaction per event-loop turn,
    // acks after commit, and another writer's lock waited out on a timer.
    const gc = new GroupCommit(db, 2000, (e, n) => logger.error("group commit failed", { error: e, writes: n }));
    const accounts = new Accounts(db, clock, config.adminApiKey);
    const streams = new Streams(db, clock, accounts, gc);
    const viewers = new Viewers(db, clock);
    // Moderation: the pipeline's worker pool. Until a worker is ready, messages get the inline pattern stage.
    const moderation = new Moderation({
      logger, workers: config.moderationWorkers, classifierUrl: config.classifierUrl, classifierTimeoutMs: config.classifierTimeoutMs,
      classifierMaxInFlight: config.classifierMaxInFlight, faults: opts.faultInjection,
    });
    moderation.start();
    const chat = new Chat(db, clock, gc, streams, moderation);
    metrics.counterFrom("hubbub_sqlite_group_commits_total", "Group-commit transactions.", () => gc.batches);
    metrics.counterFrom("hubbub_sqlite_group_commit_writes_total", "Writes committed through group commit.", () => gc.writes);
    stops.push(() => chat.close()); // after the final flush below has acked and broadcast
    stops.push(() => gc.close());
    stops.push(() => moderation.stop()); // decides what is still in flight, before the final flush
    const restriction = (s: Parameters<Chat["restriction"]>[0], viewerId: string | null) => chat.restriction(s, viewerId);
    // Reactions: counted in a supervised worker; stopped after the sockets close, so its last
    // windows land in the rollup before group commit's final flush.
    const reactions = new Reactions({ db, clock, gc, restriction, logger, faults: opts.faultInjection });
    reactions.start();
    stops.push(() => reactions.stop());
    metrics.counterFrom("hubbub_reactions_accepted_total", "Reactions accepted (each is in exactly one published window).", () => reactions.accepted);
    metrics.counterFrom("hubbub_reaction_windows_total", "reactions events published (one per stream per window with activity).", () => reactions.windowsPublished);
    metrics.gauge("hubbub_reactions_unpublished", "Accepted reactions not yet in a published window.", () => reactions.unpublished);
    metrics.counterFrom("hubbub_reactions_worker_crashes_total", "Reactions worker exits or hangs we did not ask for.", () => reactions.supervisor.crashes);
    metrics.counterFrom("hubbub_analytics_events_flushed_total", "Viewer events stored in DuckDB (as aggregates).", () => analytics.eventsFlushed);
    metrics.gauge("hubbub_analytics_events_pending", "Viewer events gathered but not yet stored in DuckDB.", () => analytics.pendingEvents);
    metrics.counterFrom("hubbub_analytics_flush_failures_total", "Flushes DuckDB refused (kept and retried).", () => analytics.flushFailures);
    metrics.counterFrom("hubbub_moderation_checked_total", "Messages through the moderation pipeline.", () => moderation.counts.checked);
    metrics.counterFrom("hubbub_moderation_inline_total", "Messages decided by the inline pattern stage (no worker up, or too slow).", () => moderation.counts.inline);
    metrics.counterFrom("hubbub_moderation_retried_total", "Messages sent again after their worker died.", () => moderation.counts.retried);
    metrics.counterFrom("hubbub_moderation_failed_total", "Messages held for review because two workers died on them or their worker did not answer in time.", () => moderation.counts.failed);
    metrics.counterFrom("hubbub_moderation_published_total", "Pipeline decisions: publish.", () => moderation.counts.published);
    metrics.counterFrom("hubbub_moderation_held_total", "Pipeline decisions: hold.", () => moderation.counts.held);
    metrics.counterFrom("hubbub_moderation_blocked_total", "Pipeline decisions: block.", () => moderation.counts.blocked);
    metrics.counterFrom("hubbub_classifier_skipped_total", "Messages that skipped the external classifier (down, breaker open, busy).", () => moderation.classifierSkips);
    metrics.counterFrom("hubbub_moderation_worker_crashes_total", "Moderation worker exits or hangs we did not ask for.", () => moderation.health().crashes);
    // Polls: overdue polls close now, before any viewer can join.
    const polls = new Polls(db, clock, gc, streams, restriction, logger);
    polls.start();
    stops.push(() => polls.stop());
    chat.addEraser({ name: "votes", erase: (tx, id) => polls.eraseVotes(tx, id), after: (_id, erased) => polls.afterErase(erased as Parameters<Polls["afterErase"]>[0]) });
    const boot = await accounts.ensureBootstrapAdmin(config.adminPassword);
    if (boot.generatedPassword) {
      (opts.announce ?? ((t) => process.stderr.write(t)))(
        `\n  Hubbub created the account "admin" with the password:\n\n      ${boot.generatedPassword}\n\n  It is shown only this once. Change it with: hubbub account password admin\n\n`,
      );
    }
    if (config.demo) seedDemo(streams, logger);

    // 4. Analytics: events aggregated here, flushed to the worker that owns the DuckDB file. Stopped
    // after the sockets are closed (every session has ended by then), so the final flush has them all.
    const analytics = new Analytics({
      dataDir: config.dataDir, clock, logger, windowMs: config.analyticsWindowS * 1000, flushMs: config.analyticsFlushS * 1000,
      faults: opts.faultInjection, broadcasts: streams, polls, db, ...(opts.analyticsUnresponsiveMs ? { unresponsiveMs: opts.analyticsUnresponsiveMs } : {}),
    });
    stops.push(() => analytics.stop());
    // An erasure's analytics part is recorded with the rest of it, and applied to DuckDB after.
    chat.addEraser({ name: "analytics", erase: (tx, id) => ({ count: "queued", detail: analytics.queueErasure(tx, id) }), after: (_id, e) => analytics.erased(e as PendingErasure) });

    // 5. The viewer socket hub and the HTTP server.
    // phoenix.js heartbeats every 30 s: a shorter idle timeout closes quiet, healthy viewers (tests
    // use one with clients that heartbeat faster).
    if (config.socketIdleTimeoutS < 35) logger.warn("HUBBUB_SOCKET_IDLE_TIMEOUT_S is under phoenix.js's 30 s heartbeat: quiet viewers will be closed as idle", { seconds: config.socketIdleTimeoutS });
    const hub = new Hub({ chat, reactions, polls, analytics, streams, viewers, accounts, clock, logger, metrics, idleTimeoutMs: config.socketIdleTimeoutS * 1000 });
    streams.setListener(hub);
    chat.setListener(hub);
    reactions.setListener(hub);
    polls.setListener(hub);
    analytics.start((slug) => hub.countOf(slug));
    const purge = setInterval(() => {
      try {
        const n = chat.purgeExpired();
        if (n) logger.info("chat retention purge", { messages: n });
      } catch (e) {
        logger.error("chat retention purge failed", { error: e });
      }
    }, 3_600_000);
    stops.push(() => clearInterval(purge));
    // Review items nobody decided within the stream's review_expiry_s expire (audited).
    const expiry = setInterval(() => {
      chat.expireReviews().catch((e) => logger.error("review expiry failed", { error: e }));
    }, 10_000);
    stops.push(() => clearInterval(expiry));
    viewers.setRevokeListener((id) => hub.revokeViewer(id));
    const tokens = new ViewerTokens({ secret, jwksUrl: config.viewerJwksUrl, audience: config.viewerTokenAudience, issuer: config.viewerTokenIssuer });
    const upgrader = new Upgrader({ config, hub, tokens, viewers, proxies: new TrustedProxies(config.trustedProxies), clock, metrics });
    const lag = startLagMonitor(metrics);
    stops.push(() => clearInterval(lag));
    const sweeper = setInterval(() => {
      upgrader.sweep(clock.now());
      reactions.sweep(clock.now());
    }, 30_000);
    stops.push(() => clearInterval(sweeper));
    // The viewer pages' script is bundled now (a few ms), so a broken bundle stops the start.
    const viewerAssets = await buildViewerAssets();
    // The dashboard taps the hub's broadcasts and the review queue for its SSE feeds.
    const dashboard = new Dashboard({ db, config, clock, logger, hub, accounts, streams, chat, polls, analytics, viewers, audit: new AuditLog(db), eraseWaitMs: opts.eraseWaitMs });
    const app = buildApp(logger, [
      opsRoutes({ metrics, isReady: () => ready, health: () => healthOf(db, analytics, reactions, moderation) }),
      apiRoutes({ accounts, streams, viewers, chat, polls, analytics, audit: new AuditLog(db), eraseWaitMs: opts.eraseWaitMs, sessions: dashboard.apiSessions }),
      openApiRoutes(),
      pageRoutes({ config, streams }),
      dashboard.routes(),
      viewerRoutes({ config, streams, assets: viewerAssets }),
    ]);
    const server = serve({ port: config.port, hostname: config.host, idleTimeoutS: config.socketIdleTimeoutS, app, hub, upgrader, logger });
    hub.start(server);
    stops.push(async () => {
      // Drain: stop accepting, ask every client to come back later (1012), wait for the closes.
      server.stop(false);
      hub.closeAll(CLOSE.restart, "server restart");
      const deadline = Date.now() + config.drainTimeoutMs;
      while (hub.sockets.size > 0 && Date.now() < deadline) await Bun.sleep(10);
      hub.stop();
      server.stop(true);
    });
    // Stopped before the drain above: SSE streams end cleanly and their clients reconnect elsewhere.
    dashboard.start();
    stops.push(() => dashboard.stop());

    ready = true;
    const port = server.port ?? config.port;
    const url = `http://${config.host === "0.0.0.0" ? "localhost" : config.host}:${port}`;
    logger.info("hubbub started", { url, data_dir: config.dataDir });

    let stopping: Promise<void> | null = null;
    return {
      config, url, port, server, hub, accounts, streams, viewers, chat, reactions, polls, moderation, analytics,
      viewerTokenSecret: secret,
      generatedAdminPassword: boot.generatedPassword,
      stop: () => (stopping ??= (async () => {
        ready = false;
        await runStops(stops, logger);
        logger.info("hubbub stopped");
      })()),
    };
  } catch (e) {
    await runStops(stops, logger);
    throw e;
  }
}

/** Liveness with real probes: a read on SQLite and a query on DuckDB. */
async function healthOf(db: Database, analytics: Analytics, reactions: Reactions, moderation: Moderation): Promise<{ status: "ok" | "degraded"; checks: Record<string, string> }> {
  const checks: Record<string, string> = {};
  // Degraded: no worker up (the pattern stage runs inline) or crash-looping; chat keeps flowing.
  const mh = moderation.health();
  checks.moderation_workers = mh.status === "ok" ? "ok" : `degraded (${mh.workers_up}/${mh.workers} up, ${mh.crashes} crashes)`;
  // The external classifier: an open breaker means messages skip the stage (counted in /metrics).
  if (mh.classifier !== "lexicon") checks.classifier = mh.classifier === "closed" ? "ok" : `degraded (breaker ${mh.classifier}, ${moderation.classifierSkips} skipped)`;
  // A crash-looping or absent worker: reactions are kept and counted once it is back.
  checks.reactions_worker = reactions.supervisor.health() === "ok" ? "ok" : `degraded (${reactions.supervisor.crashes} crashes)`;
  try {
    db.query("SELECT 1").get();
    checks.sqlite = "ok";
  } catch (e) {
    checks.sqlite = `failing: ${(e as Error).message}`;
  }
  try {
    checks.analytics = (await Promise.race([analytics.ping(), Bun.sleep(2000).then(() => false)])) ? "ok" : "failing (no answer from the analytics worker)";
  } catch (e) {
    checks.analytics = `failing: ${(e as Error).message}`;
  }
  return { status: Object.values(checks).every((c) => c === "ok") ? "ok" : "degraded", checks };
}

async function runStops(stops: Array<() => void | Promise<void>>, logger: Logger): Promise<void> {
  for (const stop of stops.reverse()) {
    try {
      await stop();
    } catch (e) {
      logger.error("stop step failed", { error: e });
    }
  }
  stops.length = 0;
}

function readOrCreateSecret(dataDir: string): string {
  const path = join(dataDir, "viewer-token-secret");
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const secret = randomToken(32);
  writeFileSync(path, secret + "\n", { mode: 0o600 });
  chmodSync(path, 0o600);
  return secret;
}

function seedDemo(streams: Streams, logger: Logger): void {
  if (streams.findBySlug("demo")) return;
  const r = streams.create({ type: "system" }, { slug: "demo", title: "Hubbub demo stream", owner: "admin" });
  if (r.ok) logger.info("demo stream created", { slug: "demo" });
}

/** Event-loop lag: how late a 100 ms timer fires. The max of each 5 s window is exported. */
function startLagMonitor(metrics: Metrics): ReturnType<typeof setInterval> {
  let worst = 0;
  let shown = 0;
  let windowStart = performance.now();
  let expected = performance.now() + 100;
  metrics.gauge("hubbub_event_loop_lag_seconds", "Worst event-loop delay in the last 5 s window (or the current one, if worse).", () => Math.max(shown, worst));
  return setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, Math.max(0, now - expected) / 1000);
    expected = now + 100;
    if (now - windowStart >= 5000) {
      shown = worst;
      worst = 0;
      windowStart = now;
    }
  }, 100);
}
