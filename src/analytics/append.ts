// The analytics tables, and how a flush batch's columns go into them (analytics worker side). The
// Appender's per-value calls cost ~0.3 µs each here, ~3 µs per row of ten cells, so a flush at
// 500,000 events/s spent 1-1.6 s appending (one-off timings; bench/RESULTS.md, issue 6). Numbers now go in as data chunks filled from typed arrays (no native
// call per value) into temporary tables of string ids, each distinct string once, and one
// INSERT ... SELECT joins the strings back inside DuckDB.
import { DOUBLE, DuckDBDataChunk, INTEGER, VARCHAR, type DuckDBConnection, type DuckDBType } from "@duckdb/node-api";
import type { WireBatch } from "./batch.ts";

/** The analytics file's tables (session_stage, used before session 4, may remain in older files). */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS agg (broadcast_id VARCHAR, stream_id VARCHAR, bucket BIGINT, country VARCHAR, segment VARCHAR, kind VARCHAR, key VARCHAR, n BIGINT, total DOUBLE, flush_id BIGINT);
CREATE TABLE IF NOT EXISTS chatters (broadcast_id VARCHAR, bucket BIGINT, viewer_key VARCHAR, country VARCHAR, segment VARCHAR, messages BIGINT, sentiment_sum DOUBLE, flush_id BIGINT);
CREATE TABLE IF NOT EXISTS sessions (session_id VARCHAR PRIMARY KEY, broadcast_id VARCHAR, stream_id VARCHAR, viewer_key VARCHAR, country VARCHAR, segment VARCHAR, joined_at BIGINT, left_at BIGINT, last_seen BIGINT);
CREATE TABLE IF NOT EXISTS flushes (flush_id BIGINT PRIMARY KEY, flushed_at BIGINT, events BIGINT);
`;

const CHUNK = 2048; // DuckDB's vector size: a data chunk holds at most this many rows

export const STAGING = `
CREATE TEMP TABLE IF NOT EXISTS in_names (id INTEGER, v VARCHAR);
CREATE TEMP TABLE IF NOT EXISTS in_viewers (id INTEGER, v VARCHAR);
CREATE TEMP TABLE IF NOT EXISTS in_agg (b INTEGER, st INTEGER, c INTEGER, sg INTEGER, k INTEGER, ky INTEGER, bucket DOUBLE, n DOUBLE, total DOUBLE);
CREATE TEMP TABLE IF NOT EXISTS in_chat (b INTEGER, v INTEGER, c INTEGER, sg INTEGER, bucket DOUBLE, messages DOUBLE, sentiment_sum DOUBLE);
CREATE TEMP TABLE IF NOT EXISTS in_sess (id VARCHAR, b INTEGER, st INTEGER, v INTEGER, c INTEGER, sg INTEGER, joined_at DOUBLE, left_at DOUBLE, last_seen DOUBLE);
`;

/** Appends `rows` rows to `table`, cell by cell from `cell(column, row)`, a data chunk at a time. */
async function appendColumns(c: DuckDBConnection, table: string, types: DuckDBType[], rows: number, cell: (col: number, row: number) => number | string): Promise<void> {
  if (rows === 0) return;
  const a = await c.createAppender(table);
  for (let s = 0; s < rows; s += CHUNK) {
    const n = Math.min(CHUNK, rows - s);
    const chunk = DuckDBDataChunk.create(types, n);
    for (let j = 0; j < types.length; j++) {
      const values: Array<number | string> = new Array(n);
      for (let r = 0; r < n; r++) values[r] = cell(j, s + r);
      chunk.setColumnValues(j, values);
    }
    a.appendDataChunk(chunk);
  }
  a.closeSync();
}

/** The batch's rows into agg, chatters and sessions (inside the caller's transaction). */
export async function appendBatch(c: DuckDBConnection, b: WireBatch): Promise<void> {
  await appendColumns(c, "in_names", [INTEGER, VARCHAR], b.strings.length, (j, r) => (j === 0 ? r : b.strings[r]!));
  await appendColumns(c, "in_viewers", [INTEGER, VARCHAR], b.viewers.length, (j, r) => (j === 0 ? r : b.viewers[r]!));
  const { agg, chatters, sessions } = b;
  await appendColumns(c, "in_agg", [INTEGER, INTEGER, INTEGER, INTEGER, INTEGER, INTEGER, DOUBLE, DOUBLE, DOUBLE], agg.rows, (j, r) => (j < 6 ? agg.str[r * 6 + j]! : agg.num[r * 3 + j - 6]!));
  await appendColumns(c, "in_chat", [INTEGER, INTEGER, INTEGER, INTEGER, DOUBLE, DOUBLE, DOUBLE], chatters.rows, (j, r) => (j < 4 ? chatters.str[r * 4 + j]! : chatters.num[r * 3 + j - 4]!));
  await appendColumns(c, "in_sess", [VARCHAR, INTEGER, INTEGER, INTEGER, INTEGER, INTEGER, DOUBLE, DOUBLE, DOUBLE], sessions.rows, (j, r) => (j === 0 ? b.sessionIds[r]! : j < 6 ? sessions.str[r * 5 + j - 1]! : sessions.num[r * 3 + j - 6]!));
  const name = (alias: string, col: string) => `JOIN in_names ${alias} ON ${alias}.id = x.${col}`;
  await c.run(
    `INSERT INTO agg SELECT b.v, st.v, x.bucket::BIGINT, cn.v, sg.v, k.v, ky.v, x.n::BIGINT, x.total, $flush FROM in_agg x
      ${name("b", "b")} ${name("st", "st")} ${name("cn", "c")} ${name("sg", "sg")} ${name("k", "k")} ${name("ky", "ky")}`,
    { flush: b.id },
  );
  await c.run(
    `INSERT INTO chatters SELECT b.v, x.bucket::BIGINT, vw.v, cn.v, sg.v, x.messages::BIGINT, x.sentiment_sum, $flush FROM in_chat x
      ${name("b", "b")} JOIN in_viewers vw ON vw.id = x.v ${name("cn", "c")} ${name("sg", "sg")}`,
    { flush: b.id },
  );
  if (sessions.rows) {
    // A session is sent when it starts and when it ends: the later state wins.
    await c.run(`INSERT INTO sessions SELECT x.id, b.v, st.v, vw.v, cn.v, sg.v, x.joined_at::BIGINT, CASE WHEN isnan(x.left_at) THEN NULL ELSE x.left_at::BIGINT END, x.last_seen::BIGINT
      FROM in_sess x ${name("b", "b")} ${name("st", "st")} JOIN in_viewers vw ON vw.id = x.v ${name("cn", "c")} ${name("sg", "sg")}
      ON CONFLICT (session_id) DO UPDATE SET left_at = COALESCE(excluded.left_at, sessions.left_at), last_seen = GREATEST(excluded.last_seen, sessions.last_seen), viewer_key = excluded.viewer_key`);
  }
  for (const t of ["in_names", "in_viewers", "in_agg", "in_chat", "in_sess"]) await c.run(`DELETE FROM ${t}`);
}
