// Analytics SQL, built from small pieces (the segment timeline, a bucket grid, rollup rows of one
// kind, filters) rather than one string per report. The presence numbers (concurrency, watch time,
// retention, peak, unique viewers) come from rollups the collector keeps (collector.ts). Pure: returns SQL
// text and named parameters for DuckDB. Times are ms since the epoch (BIGINT).

export const METRICS = ["concurrent_viewers", "joins", "leaves", "chat_messages", "unique_chatters", "reactions", "votes", "sentiment", "watch_time_s"] as const;
export type Metric = (typeof METRICS)[number];

export interface Scope {
  broadcastId: string;
  start: number; // broadcast start
  end: number; // broadcast end, or now while live
  segments: Array<{ label: string; started_at: number }>; // in order
}

export interface SeriesQuery extends Scope {
  metric: Metric;
  bucketMs: number;
  from: number;
  to: number;
  /** Upper bound (exclusive) for counted events: the end itself when the range is the whole broadcast. */
  eventsTo: number;
  country: string | null;
  segment: string | null;
  groupBy: "country" | "segment" | null;
}

export type Params = Record<string, string | number>;
export interface Sql {
  sql: string;
  params: Params;
}

const AGG_KIND: Partial<Record<Metric, string>> = { joins: "join", leaves: "leave", chat_messages: "chat", reactions: "reaction", votes: "vote" };

// ---- pieces ----

/** The segment timeline as a relation (label, seg_start, seg_end): "" until the first mark. */
export function segmentsCte(scope: Scope, p: Params): string {
  const marks = scope.segments.filter((m) => m.started_at >= scope.start && m.started_at <= scope.end);
  const timeline = (marks.length && marks[0]!.started_at === scope.start ? [] : [{ label: "", started_at: scope.start }]).concat(marks);
  // Two marks at the same instant: the later one is the segment.
  const segs = timeline.filter((m, i) => timeline[i + 1]?.started_at !== m.started_at);
  const rows = segs.map((m, i) => {
    p[`seg_l${i}`] = m.label;
    p[`seg_s${i}`] = m.started_at;
    p[`seg_e${i}`] = segs[i + 1]?.started_at ?? scope.end;
    return `($seg_l${i}, $seg_s${i}::BIGINT, $seg_e${i}::BIGINT)`;
  });
  return `segs(label, seg_start, seg_end) AS (VALUES ${rows.join(", ")})`;
}

/** A broadcast's sessions clipped to it; an open session ends at its last flush (or the end). */
export function sessionsCte(p: Params): string {
  p.b = p.b ?? "";
  return `s AS (
    SELECT session_id, viewer_key, country, GREATEST(joined_at, $start::BIGINT) AS a, LEAST(COALESCE(left_at, last_seen), $end::BIGINT) AS b
    FROM sessions WHERE broadcast_id = $b)`;
}

/** Bucket starts from the one holding `from` up to `to`, each with the segment in force at its start. */
function gridCte(): string {
  return `g AS (SELECT r.range AS t, (SELECT label FROM segs WHERE seg_start <= r.range ORDER BY seg_start DESC LIMIT 1) AS segment
            FROM range($from::BIGINT - ($from::BIGINT % $bucket::BIGINT), $to::BIGINT, $bucket::BIGINT) r)`;
}

/** Rollup rows of one kind in the asked range, summed per series bucket (and country, segment). */
function rollupCte(name: string, kind: string, value: string, cols: string[], q: SeriesQuery, p: Params, more: string[] = []): string {
  p[`${name}_kind`] = kind;
  const conds = [
    "broadcast_id = $b", `kind = $${name}_kind`, "bucket >= $from::BIGINT - ($from::BIGINT % $bucket::BIGINT)", "bucket < $to::BIGINT",
    ...(q.country !== null ? ["country = $country"] : []), ...more,
  ];
  const extra = cols.map((c) => `, ${c}`).join("");
  return `${name} AS (SELECT bucket - (bucket % $bucket::BIGINT) AS t${extra}, ${value} AS v FROM agg ${where(conds)} GROUP BY ALL)`;
}

function where(conds: string[]): string {
  return conds.length ? `WHERE ${conds.join(" AND ")}` : "";
}

// ---- series ----

export function seriesSql(q: SeriesQuery): Sql {
  const p: Params = { b: q.broadcastId, start: q.start, end: q.end, from: q.from, to: q.to, events_to: q.eventsTo, bucket: q.bucketMs };
  if (q.country !== null) p.country = q.country;
  if (q.segment !== null) p.segment = q.segment;
  const group = q.groupBy ? `, ${q.groupBy}` : "";
  const kind = AGG_KIND[q.metric];
  const t = (col: string) => `(${col} - (${col} % $bucket::BIGINT))`;
  // Like the grid and the rollups, the range starts at the bucket holding `from` (a `from` inside a
  // bucket, such as the broadcast's exact start, keeps that bucket's events).
  const rowFilters = (alias: string) => [
    `${alias}.broadcast_id = $b`, `${alias}.bucket >= $from::BIGINT - ($from::BIGINT % $bucket::BIGINT)`, `${alias}.bucket < $events_to::BIGINT`,
    ...(q.country !== null ? [`${alias}.country = $country`] : []), ...(q.segment !== null ? [`${alias}.segment = $segment`] : []),
  ];
  let sql: string;
  if (kind || q.metric === "sentiment") {
    const value = q.metric === "sentiment" ? "SUM(total) / NULLIF(SUM(n), 0)" : "SUM(n)::DOUBLE";
    p.kind = kind ?? "chat";
    sql = `SELECT ${t("bucket")} AS t${group}, ${value} AS value FROM agg r ${where([...rowFilters("r"), "r.kind = $kind"])} GROUP BY ALL ORDER BY ALL`;
  } else if (q.metric === "unique_chatters") {
    sql = `SELECT ${t("bucket")} AS t${group}, COUNT(DISTINCT viewer_key)::DOUBLE AS value FROM chatters r ${where(rowFilters("r"))} GROUP BY ALL ORDER BY ALL`;
  } else if (q.metric === "concurrent_viewers") {
    // The presence sampled at every window start (the value at each bucket's start); per country
    // (a viewer's tabs in two countries count in each) where a country is asked for.
    const perCountry = q.country !== null || q.groupBy === "country";
    // (samples at bucket starts only: those taken inside a bucket are not its value)
    const c = rollupCte("c", perCountry ? "conc" : "conc_all", "SUM(n)", perCountry ? ["country"] : [], q, p, ["bucket % $bucket::BIGINT = 0"]);
    const segFilter = q.segment !== null ? "WHERE g.segment = $segment" : "";
    sql = q.groupBy === "country"
      ? `WITH ${segmentsCte(q, p)}, ${gridCte()}, ${c}
      SELECT g.t AS t, c.country AS country, c.v::DOUBLE AS value FROM g JOIN c ON c.t = g.t ${segFilter} ORDER BY ALL`
      : `WITH ${segmentsCte(q, p)}, ${gridCte()}, ${c}
      SELECT g.t AS t${q.groupBy === "segment" ? ", g.segment AS segment" : ""}, COALESCE(c.v, 0)::DOUBLE AS value FROM g LEFT JOIN c ON c.t = g.t ${segFilter} ORDER BY ALL`;
  } else {
    // Watch time per window, split at segment marks, summed per bucket: every bucket of the range is
    // listed (0 where nobody of the filter watched); with a segment, the buckets it overlaps.
    const perCountry = q.country !== null || q.groupBy === "country";
    const bySegment = q.segment !== null || q.groupBy === "segment";
    const cols = [...(perCountry && q.groupBy === "country" ? ["country"] : []), ...(bySegment ? ["segment"] : [])];
    const w = rollupCte("w", perCountry ? "watch" : "watch_all", "SUM(total) / 1000.0", cols, q, p);
    const segOverlap = "JOIN segs ON segs.seg_start < g.t + $bucket::BIGINT AND segs.seg_end > g.t AND segs.seg_end > segs.seg_start";
    if (q.groupBy === "country") {
      sql = `WITH ${w} SELECT t, country, SUM(v)::DOUBLE AS value FROM w ${q.segment !== null ? "WHERE segment = $segment" : ""} GROUP BY ALL ORDER BY ALL`;
    } else if (bySegment) {
      sql = `WITH ${segmentsCte(q, p)}, ${gridCte()}, ${w},
      gs AS (SELECT DISTINCT g.t, segs.label AS segment FROM g ${segOverlap} ${q.segment !== null ? "WHERE segs.label = $segment" : ""})
      SELECT gs.t AS t${q.groupBy === "segment" ? ", gs.segment AS segment" : ""}, COALESCE(w.v, 0)::DOUBLE AS value
      FROM gs LEFT JOIN w ON w.t = gs.t AND w.segment = gs.segment ORDER BY ALL`;
    } else {
      sql = `WITH ${segmentsCte(q, p)}, ${gridCte()}, ${w}
      SELECT g.t AS t, COALESCE(w.v, 0)::DOUBLE AS value FROM g LEFT JOIN w ON w.t = g.t ORDER BY ALL`;
    }
  }
  return { sql, params: p };
}

/**
 * The series as a file (Parquet) holds what the JSON answer holds: `t` as an instant (UTC), and no
 * country or segment (unknown, before the first mark) as null rather than "".
 */
export function seriesExportSql(q: SeriesQuery): Sql {
  const { sql, params } = seriesSql(q);
  const group = q.groupBy ? `, NULLIF(${q.groupBy}, '') AS ${q.groupBy}` : "";
  // (bucket starts are whole seconds: the window is)
  return { sql: `SELECT to_timestamp(t / 1000) AS t${group}, value FROM (${sql})`, params };
}

// ---- the post-broadcast report ----

export function reportSql(scope: Scope): Record<string, Sql> {
  const base = (): Params => ({ b: scope.broadcastId, start: scope.start, end: scope.end });
  const sum = (kind: string, col = "n") => `COALESCE(SUM(${col}) FILTER (WHERE kind = '${kind}'), 0)::DOUBLE`;
  const out: Record<string, Sql> = {};
  let p = base();
  // Every number below comes from the rollups the collector kept (collector.ts): no pass over sessions.
  out.audience = {
    sql: `SELECT COALESCE(MAX(n) FILTER (WHERE kind = 'peak'), 0)::DOUBLE AS peak, ${sum("uv")} AS unique_viewers, ${sum("watch_all", "total")} / 1000.0 AS watch_time_s
      FROM agg WHERE broadcast_id = $b AND kind IN ('peak', 'uv', 'watch_all')`,
    params: p,
  };
  p = base();
  out.retention = {
    sql: `WITH g AS (SELECT range AS t FROM range($start::BIGINT, $end::BIGINT, 60000)),
      pr AS (SELECT bucket AS t, SUM(n) AS n FROM agg WHERE broadcast_id = $b AND kind = 'present' GROUP BY bucket)
      SELECT ((g.t - $start::BIGINT) / 60000)::DOUBLE AS minute, COALESCE(pr.n, 0)::DOUBLE AS present FROM g LEFT JOIN pr ON pr.t = g.t ORDER BY g.t`,
    params: p,
  };
  p = base();
  out.chat = {
    sql: `SELECT ${sum("uc")} AS unique_chatters, ${sum("chat")} AS messages, COALESCE(SUM(total) FILTER (WHERE kind = 'chat') / NULLIF(SUM(n) FILTER (WHERE kind = 'chat'), 0), 0) AS sentiment
      FROM agg WHERE broadcast_id = $b AND kind IN ('uc', 'chat')`,
    params: p,
  };
  p = base();
  out.reactions = { sql: `SELECT key AS emoji, SUM(n)::DOUBLE AS n FROM agg WHERE broadcast_id = $b AND kind = 'reaction' GROUP BY key ORDER BY n DESC, key`, params: p };
  p = base();
  out.votes = { sql: `SELECT key, SUM(n)::DOUBLE AS n FROM agg WHERE broadcast_id = $b AND kind = 'vote' GROUP BY key ORDER BY key`, params: p };
  p = base();
  out.moments = {
    sql: `SELECT bucket::DOUBLE AS bucket, (SUM(n) FILTER (WHERE kind = 'chat'))::DOUBLE AS chat, (SUM(n) FILTER (WHERE kind = 'reaction'))::DOUBLE AS reactions
      FROM agg WHERE broadcast_id = $b AND kind IN ('chat', 'reaction') GROUP BY bucket
      ORDER BY COALESCE(chat, 0) + COALESCE(reactions, 0) DESC, bucket LIMIT 5`,
    params: p,
  };
  // Breakdowns: a country or segment is listed when anything happened in it (a segment of the
  // timeline is listed even when nothing did).
  const breakdown = (col: "country" | "segment", uv: string, watch: string, uc: string) =>
    `SELECT ${col}, ${sum(uv)} AS unique_viewers, ${sum(watch, "total")} / 1000.0 AS watch_time_s, ${sum("chat")} AS messages, ${sum("reaction")} AS reactions, ${sum(uc)} AS unique_chatters
      FROM agg WHERE broadcast_id = $b AND kind IN ('${uv}', '${watch}', '${uc}', 'chat', 'reaction', 'join', 'leave', 'vote') GROUP BY ${col}`;
  p = base();
  out.byCountry = { sql: `${breakdown("country", "uv_c", "watch", "uc_c")} ORDER BY unique_viewers DESC, country`, params: p };
  p = base();
  out.bySegment = {
    sql: `WITH ${segmentsCte(scope, p)}, a AS (${breakdown("segment", "uv_s", "watch_all", "uc_s")})
      SELECT COALESCE(a.segment, segs.label) AS segment, COALESCE(unique_viewers, 0) AS unique_viewers, COALESCE(watch_time_s, 0) AS watch_time_s,
        COALESCE(messages, 0) AS messages, COALESCE(reactions, 0) AS reactions, COALESCE(unique_chatters, 0) AS unique_chatters
      FROM a FULL JOIN (SELECT DISTINCT label FROM segs) segs ON segs.label = a.segment`,
    params: p,
  };
  return out;
}

/**
 * For a broadcast still live when the server restarts: what earlier runs stored (flush ids before
 * this run's first, sessions of other runs), for the live counters and the first appearances.
 */
export function seedSql(scope: Scope, beforeFlush: number, sessionPrefix: string): { counts: Sql; prior: Sql } {
  const counts: Sql = {
    sql: `SELECT COALESCE(SUM(n) FILTER (WHERE kind = 'chat'), 0)::DOUBLE AS messages, COALESCE(SUM(total) FILTER (WHERE kind = 'chat'), 0)::DOUBLE AS sentiment,
      COALESCE(SUM(n) FILTER (WHERE kind = 'reaction'), 0)::DOUBLE AS reactions, COALESCE(MAX(n) FILTER (WHERE kind = 'peak'), 0)::DOUBLE AS peak
      FROM agg WHERE broadcast_id = $b AND flush_id < $f`,
    params: { b: scope.broadcastId, f: beforeFlush },
  };
  const p: Params = { b: scope.broadcastId, start: scope.start, end: scope.end, f: beforeFlush, prefix: sessionPrefix };
  const prior: Sql = {
    sql: `WITH ${segmentsCte(scope, p)}, ${sessionsCte(p)},
      v AS (SELECT * FROM s WHERE b > a AND NOT starts_with(session_id, $prefix)),
      ch AS (SELECT viewer_key, country, segment FROM chatters WHERE broadcast_id = $b AND flush_id < $f)
      SELECT DISTINCT 'uv' AS dim, '' AS value, viewer_key FROM v
      UNION ALL SELECT DISTINCT 'uv_c', country, viewer_key FROM v
      UNION ALL SELECT DISTINCT 'uv_s', segs.label, viewer_key FROM v JOIN segs ON LEAST(v.b, seg_end) > GREATEST(v.a, seg_start)
      UNION ALL SELECT DISTINCT 'uc', '', viewer_key FROM ch
      UNION ALL SELECT DISTINCT 'uc_c', country, viewer_key FROM ch
      UNION ALL SELECT DISTINCT 'uc_s', segment, viewer_key FROM ch`,
    params: p,
  };
  return { counts, prior };
}
