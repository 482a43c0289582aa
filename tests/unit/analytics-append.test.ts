// A flush batch into a real DuckDB file (src/analytics/append.ts): every row of every table arrives
// with its strings joined back (more rows than one data chunk holds, odd characters, an open
// session's NULL end), and a session sent again when it ends keeps one row with the later state.
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { appendBatch, SCHEMA, STAGING } from "../../src/analytics/append.ts";
import { Collector } from "../../src/analytics/collector.ts";
import { aggRows, chatterRows, sessionRows } from "../support/batch-rows.ts";
import { removeDir, tempDir } from "../support/server.ts";

const dir = tempDir("hubbub-append-");
afterAll(() => removeDir(dir));

const S = 1_800_000_000_000;
const W = 10_000;

test("every row of two batches arrives, strings joined back, the later session state wins", async () => {
  const db = await DuckDBInstance.create(join(dir, "a.duckdb"), { threads: "1" });
  const c = await db.connect();
  for (const stmt of (SCHEMA + STAGING).split(";").map((x) => x.trim()).filter(Boolean)) await c.run(stmt);
  const col = new Collector(W, 1);
  col.begin("b-1", "st-1", S, "pré-show ☕", S);
  const keys = ["🔥", "❤️", "p'1:0", 'quote"d', "new\nline"];
  for (let i = 0; i < 3000; i++) {
    const v = col.startSession(`s${i}`, i, "b-1", i % 3 ? "US" : "", `viewer-${i}-ü`, S + i)!;
    col.chatBy(v, (i % 5) - 2, S + i);
    col.countBy(v, "reaction", keys[i % keys.length]!, S + i + W * (i % 4));
    col.countBy(v, "vote", `poll-${i}:${i % 4}`, S + i); // (a row each: more than one data chunk)
  }
  const first = col.drain(S + 5000);
  for (let i = 0; i < 3000; i += 2) col.endSession("b-1", i, S + 6000 + i);
  const second = col.drain(S + 20_000);
  const batches = [first, second];
  expect(first.sessions.rows).toBe(3000);
  expect(first.chatters.rows).toBe(3000);

  for (const b of batches) {
    await c.run("BEGIN TRANSACTION");
    await appendBatch(c, b);
    await c.run("COMMIT");
  }
  const read = async (sql: string) => (await c.runAndReadAll(sql)).getRowObjectsJS().map((r) => JSON.stringify(r)).sort();
  const want = (rows: object[]) => rows.map((r) => JSON.stringify(r)).sort();

  const agg = batches.flatMap((b) => [...aggRows(b)].map((r) => ({ ...r, flush_id: b.id })));
  expect(agg.length).toBeGreaterThan(2048);
  expect(await read("SELECT broadcast_id, stream_id, bucket::DOUBLE AS bucket, country, segment, kind, key, n::DOUBLE AS n, total, flush_id::DOUBLE AS flush_id FROM agg")).toEqual(
    want(agg.map((r) => ({ broadcast_id: r.broadcast_id, stream_id: r.stream_id, bucket: r.bucket, country: r.country, segment: r.segment, kind: r.kind, key: r.key, n: r.n, total: r.total, flush_id: r.flush_id }))),
  );
  const chatters = batches.flatMap((b) => [...chatterRows(b)].map((r) => ({ ...r, flush_id: b.id })));
  expect(await read("SELECT broadcast_id, bucket::DOUBLE AS bucket, viewer_key, country, segment, messages::DOUBLE AS messages, sentiment_sum, flush_id::DOUBLE AS flush_id FROM chatters")).toEqual(
    want(chatters.map((r) => ({ broadcast_id: r.broadcast_id, bucket: r.bucket, viewer_key: r.viewer_key, country: r.country, segment: r.segment, messages: r.messages, sentiment_sum: r.sentiment_sum, flush_id: r.flush_id }))),
  );
  // One row per session: the second batch's state for those that ended, the first's for the others.
  const latest = new Map<string, ReturnType<typeof sessionRows> extends Generator<infer R> ? R : never>();
  for (const b of batches) for (const r of sessionRows(b)) latest.set(r.session_id, r);
  expect(latest.size).toBe(3000);
  expect([...latest.values()].filter((r) => r.left_at !== null).length).toBe(1500);
  expect(await read("SELECT session_id, broadcast_id, stream_id, viewer_key, country, segment, joined_at::DOUBLE AS joined_at, left_at::DOUBLE AS left_at, last_seen::DOUBLE AS last_seen FROM sessions")).toEqual(
    want([...latest.values()].map((r) => ({ session_id: r.session_id, broadcast_id: r.broadcast_id, stream_id: r.stream_id, viewer_key: r.viewer_key, country: r.country, segment: r.segment, joined_at: r.joined_at, left_at: r.left_at, last_seen: r.last_seen }))),
  );
  // The staging tables are left empty for the next batch.
  for (const t of ["in_names", "in_viewers", "in_agg", "in_chat", "in_sess"]) expect(await read(`SELECT count(*)::INTEGER AS n FROM ${t}`)).toEqual(['{"n":0}']);
  c.closeSync();
  db.closeSync();
});
