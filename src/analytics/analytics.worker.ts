// The analytics worker: the only owner of the DuckDB file. It appends flushed batches (one
// transaction each, remembered by id so a resent batch is never counted twice) and answers queries.
// DuckDB gets a bounded thread count so it cannot starve the socket thread. It is never terminated
// mid-query: on "stop" it interrupts what runs, closes the database and exits.
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BackgroundThreads } from "../runtime/thread-priority.ts";
import { serveWorker, workerConfig } from "../runtime/worker-side.ts";
import { appendBatch, SCHEMA, STAGING } from "./append.ts";
import { unpost, type PostedBatch, type WireBatch } from "./batch.ts";
import { reportSql, seedSql, seriesExportSql, seriesSql, type Scope, type SeriesQuery, type Sql } from "./queries.ts";

export type ToAnalytics =
  | { type: "flush"; batch: PostedBatch }
  | { type: "report"; id: number; scope: Scope }
  | { type: "series"; id: number; query: SeriesQuery; format: "rows" | "parquet" }
  | { type: "anonymise"; id: number; viewerKey: string; replacement: string }
  | { type: "seed"; id: number; scope: Scope; beforeFlush: number; sessionPrefix: string }
  | { type: "probe"; id: number };
export type FromAnalytics =
  | { type: "flushed"; batchId: number; events: number }
  | { type: "flush_failed"; batchId: number; error: string }
  | { type: "result"; id: number; ok: true; value: unknown }
  | { type: "result"; id: number; ok: false; error: string };

const cfg = workerConfig<{ path: string; threads: number }>();

let conn: DuckDBConnection | null = null;
let instance: DuckDBInstance | null = null;
let chain: Promise<unknown> = Promise.resolve(); // one statement sequence at a time on the connection

async function open(): Promise<DuckDBConnection> {
  instance = await DuckDBInstance.create(cfg.path, { threads: String(cfg.threads) });
  const c = await instance.connect();
  for (const stmt of (SCHEMA + STAGING).split(";").map((x) => x.trim()).filter(Boolean)) await c.run(stmt);
  return c;
}

const ready = open().then((c) => (conn = c));
// A file that cannot be opened is a crash: the supervisor restarts with backoff and health says so.
ready.catch((e) => {
  console.error(`analytics: cannot open ${cfg.path}: ${(e as Error)?.message ?? e}`);
  process.exit(2);
});

// This thread and the pool threads DuckDB's statements run on yield to the socket thread when they
// share a core (runtime/thread-priority.ts). The pool threads start lazily: looked for again before
// statements, at most once a second.
const background = new BackgroundThreads(["Bun Pool"]);
background.lowerSelf();
let lastLowered = 0;

let stopping = false;
let running: Kind | null = null;
/** "store" changes the file (a flush, an erasure): run to the end even when stopping. "query" reads. */
type Kind = "store" | "query";

function serial<T>(fn: (c: DuckDBConnection) => Promise<T>, kind: Kind = "query"): Promise<T> {
  const next = chain.then(async () => {
    // Stopping: queries still queued are refused (their callers get an error), so the worker exits
    // soon after the last store instead of running reports nobody will read.
    if (stopping && kind === "query") throw new Error("the analytics worker is stopping");
    if (Date.now() - lastLowered > 1000) {
      lastLowered = Date.now();
      background.refresh();
    }
    running = kind;
    try {
      return await fn(conn ?? (await ready));
    } finally {
      running = null;
    }
  });
  chain = next.catch(() => {});
  return next;
}

async function flush(c: DuckDBConnection, b: WireBatch): Promise<void> {
  await c.run("BEGIN TRANSACTION");
  try {
    const seen = await c.runAndReadAll("SELECT 1 FROM flushes WHERE flush_id = $id", { id: b.id });
    if (seen.getRows().length > 0) {
      await c.run("ROLLBACK");
      return; // already stored: a resend after a crash counts nothing twice
    }
    await appendBatch(c, b);
    if (b.touch) {
      // This run's open sessions were still open at the flush (a crash then loses at most one interval).
      await c.run("UPDATE sessions SET last_seen = $now WHERE left_at IS NULL AND last_seen < $now AND starts_with(session_id, $prefix)", { now: b.touch.now, prefix: b.touch.prefix });
    }
    await c.run("INSERT INTO flushes VALUES ($id, $at, $n)", { id: b.id, at: Date.now(), n: b.events });
    await c.run("COMMIT");
  } catch (e) {
    await c.run("ROLLBACK").catch(() => {});
    throw e;
  }
}

/** DuckDB refuses a named parameter the statement does not use: pass only those it does. */
function used(q: Sql): Record<string, string | number> {
  return Object.fromEntries(Object.entries(q.params).filter(([k]) => new RegExp(`\\$${k}\\b`).test(q.sql)));
}

async function rows(c: DuckDBConnection, q: Sql): Promise<Record<string, unknown>[]> {
  const r = await c.runAndReadAll(q.sql, used(q));
  return r.getRowObjectsJS() as Record<string, unknown>[];
}

async function report(c: DuckDBConnection, scope: Scope): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, q] of Object.entries(reportSql(scope))) out[name] = await rows(c, q);
  return out;
}

async function parquet(c: DuckDBConnection, q: Sql): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "hubbub-parquet-"));
  const file = join(dir, "series.parquet");
  try {
    // COPY takes no parameters inside the query: materialise into a temp table first.
    await c.run(`CREATE OR REPLACE TEMP TABLE series_out AS ${q.sql}`, used(q));
    await c.run(`COPY series_out TO '${file.replace(/'/g, "''")}' (FORMAT PARQUET)`);
    await c.run("DROP TABLE series_out");
    return readFileSync(file).toString("base64");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

serveWorker<ToAnalytics>(
  (m, post) => {
    const answer = (id: number, p: Promise<unknown>) =>
      p.then((value) => post({ type: "result", id, ok: true, value } satisfies FromAnalytics), (e) => post({ type: "result", id, ok: false, error: String((e as Error)?.message ?? e) } satisfies FromAnalytics));
    switch (m.type) {
      case "flush":
        serial((c) => flush(c, unpost(m.batch)), "store").then(
          () => post({ type: "flushed", batchId: m.batch.id, events: m.batch.events } satisfies FromAnalytics),
          (e) => post({ type: "flush_failed", batchId: m.batch.id, error: String((e as Error)?.message ?? e) } satisfies FromAnalytics),
        );
        return;
      case "report":
        return answer(m.id, serial((c) => report(c, m.scope)));
      case "series":
        return answer(m.id, serial<unknown>((c) => (m.format === "parquet" ? parquet(c, seriesExportSql(m.query)) : rows(c, seriesSql(m.query)))));
      case "anonymise":
        return answer(m.id, serial(async (c) => {
          await c.run("UPDATE sessions SET viewer_key = $r WHERE viewer_key = $v", { r: m.replacement, v: m.viewerKey });
          await c.run("UPDATE chatters SET viewer_key = $r WHERE viewer_key = $v", { r: m.replacement, v: m.viewerKey });
          return true;
        }, "store"));
      case "seed":
        return answer(m.id, serial(async (c) => {
          // What earlier runs of the server stored for a broadcast still live: the live counters and
          // the first appearances (who was a viewer or chatter already) start from it.
          const q = seedSql(m.scope, m.beforeFlush, m.sessionPrefix);
          const a = (await rows(c, q.counts))[0] ?? {};
          // As columns: one small array per row would cost the receiving socket thread far more.
          const found = await rows(c, q.prior);
          const prior = { dim: found.map((r) => r.dim), value: found.map((r) => r.value), viewer: found.map((r) => r.viewer_key) };
          return { ...a, prior };
        }));
      case "probe":
        return answer(m.id, serial(async (c) => (await c.runAndReadAll("SELECT 42 AS x")).getRows().length === 1));
    }
  },
  async () => {
    // Asked to stop: interrupt a running query (not a store: the last flush must land), refuse the
    // queries queued, let the stores finish, then close the file cleanly. Closing under a running
    // statement aborts the process.
    stopping = true;
    if (running === "query") conn?.interrupt();
    await ready.catch(() => {});
    await chain.catch(() => {});
    try {
      conn?.closeSync();
      instance?.closeSync();
    } catch {}
  },
);
