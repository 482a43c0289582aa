// Analytics SQL, built from small pieces (sessions of a broadcast, a viewer's merged presence, the
// segment timeline, filters, a bucket grid) rather than one string per report. Pure: returns SQL
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
    SELECT viewer_key, country, GREATEST(joined_at, $start::BIGINT) AS a, LEAST(COALESCE(left_at, last_seen), $end::BIGINT) AS b
    FROM sessions WHERE broadcast_id = $b)`;
}

/**
 * Each viewer's presence as non-overlapping intervals: two tabs or a quick rejoin count once. Per
 * viewer (relation m) for totals; per viewer and country (relation m, byCountry) where a country
 * filter or breakdown is asked for (a viewer whose tabs come from two countries counts in each).
 */
export function mergedCte(byCountry = false): string {
  const part = byCountry ? "viewer_key, country" : "viewer_key";
  const country = byCountry ? "country" : "ANY_VALUE(country) AS country";
  return `m AS (
    SELECT viewer_key, ${country}, MIN(a) AS a, MAX(b) AS b FROM (
      SELECT *, SUM(new_island) OVER (PARTITION BY ${part} ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS island FROM (
        SELECT viewer_key, country, a, b,
          CASE WHEN a <= MAX(b) OVER (PARTITION BY ${part} ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS new_island
        FROM s WHERE b > a))
    GROUP BY ${part}, island)`;
}

/**
 * Viewers present over time from the merged intervals: +1 at each start, -1 at each end, a running
 * sum, and per instant the value after all of its events (tl1). "Present at t" is then one ASOF
 * lookup instead of a join of every interval with every grid point.
 */
export function timelineCtes(): string {
  return `ev AS (SELECT a AS t, 1 AS d FROM m UNION ALL SELECT b AS t, -1 AS d FROM m),
    tl AS (SELECT t, SUM(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS c, ROW_NUMBER() OVER (ORDER BY t, d) AS rn FROM ev),
    tl1 AS (SELECT t, arg_max(c, rn) AS c FROM tl GROUP BY t)`;
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
  const rowFilters = (alias: string) => [
    `${alias}.broadcast_id = $b`, `${alias}.bucket >= $from::BIGINT`, `${alias}.bucket < $events_to::BIGINT`,
    ...(q.country !== null ? [`${alias}.country = $country`] : []), ...(q.segment !== null ? [`${alias}.segment = $segment`] : []),
  ];
  let sql: string;
  if (kind || q.metric === "sentiment") {
    const value = q.metric === "sentiment" ? "SUM(total) / NULLIF(SUM(n), 0)" : "SUM(n)::DOUBLE";
    p.kind = kind ?? "chat";
    sql = `SELECT ${t("bucket")} AS t${group}, ${value} AS value FROM agg r ${where([...rowFilters("r"), "r.kind = $kind"])} GROUP BY ALL ORDER BY ALL`;
  } else if (q.metric === "unique_chatters") {
    sql = `SELECT ${t("bucket")} AS t${group}, COUNT(DISTINCT viewer_key)::DOUBLE AS value FROM chatters r ${where(rowFilters("r"))} GROUP BY ALL ORDER BY ALL`;
  } else if (q.metric === "concurrent_viewers" && q.country === null && q.groupBy !== "country") {
    // Viewers present at each bucket's start, from the running timeline (one lookup per bucket).
    const segCol = q.groupBy === "segment" ? ", g.segment AS segment" : "";
    sql = `WITH ${segmentsCte(q, p)}, ${sessionsCte(p)}, ${mergedCte()}, ${timelineCtes()},
      g AS (SELECT r.range AS t, (SELECT label FROM segs WHERE seg_start <= r.range ORDER BY seg_start DESC LIMIT 1) AS segment
            FROM range($from::BIGINT - ($from::BIGINT % $bucket::BIGINT), $to::BIGINT, $bucket::BIGINT) r)
      SELECT g.t AS t${segCol}, COALESCE(tl1.c, 0)::DOUBLE AS value
      FROM g ASOF LEFT JOIN tl1 ON g.t >= tl1.t
      ${q.segment !== null ? "WHERE g.segment = $segment" : ""}
      ORDER BY ALL`;
  } else {
    // Session metrics on a grid of bucket starts; the segment is the one in force at each bucket.
    const value = q.metric === "concurrent_viewers"
      ? "COUNT(DISTINCT m.viewer_key) FILTER (WHERE m.a <= g.t AND m.b > g.t)::DOUBLE"
      : "COALESCE(SUM(GREATEST(0, LEAST(m.b, g.t + $bucket::BIGINT, $end::BIGINT) - GREATEST(m.a, g.t))) FILTER (WHERE m.viewer_key IS NOT NULL), 0) / 1000.0";
    const conds = [...(q.country !== null ? ["m.country = $country"] : []), ...(q.segment !== null ? ["g.segment = $segment"] : [])];
    const groupCol = q.groupBy === "country" ? ", m.country AS country" : q.groupBy === "segment" ? ", g.segment AS segment" : "";
    sql = `WITH ${segmentsCte(q, p)}, ${sessionsCte(p)}, ${mergedCte(q.country !== null || q.groupBy === "country")},
      g AS (SELECT r.range AS t, (SELECT label FROM segs WHERE seg_start <= r.range ORDER BY seg_start DESC LIMIT 1) AS segment
            FROM range($from::BIGINT - ($from::BIGINT % $bucket::BIGINT), $to::BIGINT, $bucket::BIGINT) r)
      SELECT g.t AS t${groupCol}, ${value} AS value
      FROM g ${q.groupBy === "country" ? "JOIN" : "LEFT JOIN"} m ON m.a < g.t + $bucket::BIGINT AND m.b > g.t ${conds.length ? `AND ${conds.join(" AND ")}` : ""}
      ${q.groupBy !== "country" && q.segment !== null ? "WHERE g.segment = $segment" : ""}
      GROUP BY ALL ORDER BY ALL`;
  }
  return { sql, params: p };
}

// ---- the post-broadcast report ----

export function reportSql(scope: Scope): Record<string, Sql> {
  const base = (): Params => ({ b: scope.broadcastId, start: scope.start, end: scope.end });
  const out: Record<string, Sql> = {};
  let p = base();
  // Concurrency: +1/-1 at each merged interval's ends; at equal times leaves before joins.
  out.audience = {
    sql: `WITH ${sessionsCte(p)}, ${mergedCte()},
      ev AS (SELECT a AS t, 1 AS d FROM m UNION ALL SELECT b AS t, -1 AS d FROM m),
      tl AS (SELECT t, SUM(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS c FROM ev)
      SELECT (SELECT COALESCE(MAX(c), 0) FROM tl)::DOUBLE AS peak,
             (SELECT COUNT(DISTINCT viewer_key) FROM m)::DOUBLE AS unique_viewers,
             (SELECT COALESCE(SUM(b - a), 0) FROM m)::DOUBLE / 1000.0 AS watch_time_s`,
    params: p,
  };
  p = base();
  out.retention = {
    sql: `WITH ${sessionsCte(p)}, ${mergedCte()}, ${timelineCtes()},
      g AS (SELECT range AS t FROM range($start::BIGINT, $end::BIGINT, 60000))
      SELECT ((g.t - $start::BIGINT) / 60000)::DOUBLE AS minute, COALESCE(tl1.c, 0)::DOUBLE AS present
      FROM g ASOF LEFT JOIN tl1 ON g.t >= tl1.t ORDER BY g.t`,
    params: p,
  };
  p = base();
  out.chat = {
    sql: `SELECT COUNT(DISTINCT viewer_key)::DOUBLE AS unique_chatters, COALESCE(SUM(messages), 0)::DOUBLE AS messages,
      COALESCE(SUM(sentiment_sum) / NULLIF(SUM(messages), 0), 0) AS sentiment FROM chatters WHERE broadcast_id = $b`,
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
  p = base();
  out.byCountry = {
    sql: `WITH ${sessionsCte(p)}, ${mergedCte(true)},
      v AS (SELECT country, COUNT(DISTINCT viewer_key)::DOUBLE AS unique_viewers, SUM(b - a)::DOUBLE / 1000.0 AS watch_time_s FROM m GROUP BY country),
      a AS (SELECT country, (SUM(n) FILTER (WHERE kind = 'chat'))::DOUBLE AS messages, (SUM(n) FILTER (WHERE kind = 'reaction'))::DOUBLE AS reactions FROM agg WHERE broadcast_id = $b GROUP BY country),
      c AS (SELECT country, COUNT(DISTINCT viewer_key)::DOUBLE AS unique_chatters FROM chatters WHERE broadcast_id = $b GROUP BY country)
      SELECT COALESCE(v.country, a.country, c.country) AS country, COALESCE(unique_viewers, 0) AS unique_viewers, COALESCE(watch_time_s, 0) AS watch_time_s,
        COALESCE(messages, 0) AS messages, COALESCE(reactions, 0) AS reactions, COALESCE(unique_chatters, 0) AS unique_chatters
      FROM v FULL JOIN a ON a.country = v.country FULL JOIN c ON c.country = COALESCE(v.country, a.country) ORDER BY unique_viewers DESC, country`,
    params: p,
  };
  p = base();
  out.bySegment = {
    sql: `WITH ${segmentsCte(scope, p)}, ${sessionsCte(p)}, ${mergedCte()},
      v AS (SELECT segs.label AS segment, COUNT(DISTINCT m.viewer_key) FILTER (WHERE LEAST(m.b, seg_end) > GREATEST(m.a, seg_start))::DOUBLE AS unique_viewers,
              COALESCE(SUM(GREATEST(0, LEAST(m.b, seg_end) - GREATEST(m.a, seg_start))) FILTER (WHERE m.viewer_key IS NOT NULL), 0)::DOUBLE / 1000.0 AS watch_time_s
            FROM segs LEFT JOIN m ON TRUE GROUP BY segs.label),
      a AS (SELECT segment, (SUM(n) FILTER (WHERE kind = 'chat'))::DOUBLE AS messages, (SUM(n) FILTER (WHERE kind = 'reaction'))::DOUBLE AS reactions FROM agg WHERE broadcast_id = $b GROUP BY segment),
      c AS (SELECT segment, COUNT(DISTINCT viewer_key)::DOUBLE AS unique_chatters FROM chatters WHERE broadcast_id = $b GROUP BY segment)
      SELECT COALESCE(v.segment, a.segment, c.segment) AS segment, COALESCE(unique_viewers, 0) AS unique_viewers, COALESCE(watch_time_s, 0) AS watch_time_s,
        COALESCE(messages, 0) AS messages, COALESCE(reactions, 0) AS reactions, COALESCE(unique_chatters, 0) AS unique_chatters
      FROM v FULL JOIN a ON a.segment = v.segment FULL JOIN c ON c.segment = COALESCE(v.segment, a.segment)`,
    params: p,
  };
  return out;
}
