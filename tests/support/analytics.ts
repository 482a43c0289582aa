// Helpers for the analytics tests: phoenix clients that come from a chosen public IP (the way a
// trusted proxy reports it, in X-Forwarded-For), the analytics counters on /metrics, and a look
// inside analytics.duckdb once the server that owns it has stopped (DuckDB lets one process hold
// the file; a second one cannot open it, not even read-only).
import { DuckDBInstance } from "@duckdb/node-api";
import { join } from "node:path";
import { Analytics, type AnalyticsOptions } from "../../src/analytics/index.ts";
import { memorySqlite } from "../../src/db/sqlite.ts";
import { silentLogger } from "../../src/runtime/logger.ts";

/** Public addresses whose country the offline database knows (checked with src/analytics/geo.ts). */
export const IP = { US: "8.8.8.8", GB: "81.2.69.160", DE: "217.160.0.1" } as const;

/**
 * A WebSocket class for phoenix's `transport` option whose upgrade request carries
 * `X-Forwarded-For: <ip>` (Bun's WebSocket accepts headers). The server honours it only when the
 * peer (127.0.0.1 here) is in HUBBUB_TRUSTED_PROXIES.
 */
export function ipTransport(ip: string): typeof WebSocket {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, { headers: { "x-forwarded-for": ip }, ...(protocols ? { protocols } : {}) } as any);
    }
  } as typeof WebSocket;
}

/** One sample of a Prometheus metric without labels from GET /metrics. */
export async function metricValue(http: string, name: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const m = new RegExp(`^${name} ([0-9.eE+-]+)$`, "m").exec(text);
  if (!m) throw new Error(`no metric ${name} on /metrics`);
  return Number(m[1]);
}

/** Rows of a query on a (closed) analytics.duckdb, BIGINTs as strings. */
export async function duckQuery(dataDir: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const inst = await DuckDBInstance.create(join(dataDir, "analytics.duckdb"));
  try {
    const c = await inst.connect();
    try {
      return (await c.runAndReadAll(sql)).getRowObjectsJson() as Array<Record<string, unknown>>;
    } finally {
      c.closeSync();
    }
  } finally {
    inst.closeSync();
  }
}

/** Every (table, column, count) in analytics.duckdb whose text contains `needle` (any VARCHAR column). */
export async function findInDuck(dataDir: string, needle: string): Promise<Array<{ table: string; column: string; n: number }>> {
  const inst = await DuckDBInstance.create(join(dataDir, "analytics.duckdb"));
  try {
    const c = await inst.connect();
    try {
      const cols = (await c.runAndReadAll("SELECT table_name, column_name FROM information_schema.columns WHERE data_type = 'VARCHAR' ORDER BY ALL")).getRowObjectsJson() as Array<{ table_name: string; column_name: string }>;
      if (cols.length === 0) throw new Error("analytics.duckdb has no text columns: wrong file?");
      const hits: Array<{ table: string; column: string; n: number }> = [];
      for (const { table_name, column_name } of cols) {
        const r = await c.runAndReadAll(`SELECT COUNT(*)::INTEGER AS n FROM "${table_name}" WHERE contains("${column_name}", $needle)`, { needle });
        const n = (r.getRowObjectsJson()[0] as { n: number }).n;
        if (n > 0) hits.push({ table: table_name, column: column_name, n });
      }
      return hits;
    } finally {
      c.closeSync();
    }
  } finally {
    inst.closeSync();
  }
}

/** What a client saw of its own pushes: sent, answered ok, answered with an error, timed out. */
export interface PushTally {
  sent: number;
  ok: number;
  refused: number;
  lost: number;
}

export function tally(): PushTally {
  return { sent: 0, ok: 0, refused: 0, lost: 0 };
}

/** The analytics door alone (no server): its own worker and DuckDB file in `dataDir`, an in-memory
 * SQLite, a 10 s window and no timed flush within a test; no broadcasts unless given. */
export function bareAnalytics(dataDir: string, o: Partial<Pick<AnalyticsOptions, "clock" | "broadcasts" | "db">> = {}): Analytics {
  return new Analytics({
    dataDir, clock: o.clock ?? { now: () => Date.now() }, db: o.db ?? memorySqlite(), logger: silentLogger, windowMs: 10_000, flushMs: 60_000,
    broadcasts: o.broadcasts ?? { findBroadcast: () => undefined, segmentsOf: () => [], findById: () => undefined },
  });
}
