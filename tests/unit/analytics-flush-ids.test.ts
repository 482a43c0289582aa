// Flush ids grow from run to run even when the wall clock steps back (src/analytics/flush-ids.ts):
// the worker skips a batch whose id it has stored, so a repeated id would lose a whole flush.
import { afterEach, expect, setSystemTime, test } from "bun:test";
import { join } from "node:path";
import { reserveFlushIds, RUN_IDS } from "../../src/analytics/flush-ids.ts";
import { migrate, openSqlite } from "../../src/db/sqlite.ts";
import type { BroadcastRecord, StreamRecord } from "../../src/streams/index.ts";
import { bareAnalytics, IP } from "../support/analytics.ts";
import { removeDir, tempDir } from "../support/server.ts";

afterEach(() => setSystemTime()); // (the real clock again)

function sqliteIn(dir: string) {
  const db = openSqlite(join(dir, "hubbub.sqlite"));
  migrate(db);
  return db;
}

test("each run starts past the previous run's ids: the wall clock when it is ahead, else the previous start + RUN_IDS", () => {
  const dir = tempDir("hubbub-flush-ids-");
  const db = sqliteIn(dir);
  const T = 1_800_000_000_000;
  expect(reserveFlushIds(db, T)).toBe(T * 1000);
  expect(reserveFlushIds(db, T - 3_600_000)).toBe(T * 1000 + RUN_IDS); // the clock stepped back an hour
  expect(reserveFlushIds(db, T + 5)).toBe(T * 1000 + 2 * RUN_IDS); // a restart within RUN_IDS µs
  expect(reserveFlushIds(db, T + 86_400_000)).toBe((T + 86_400_000) * 1000); // a day later: the clock again
  db.close();
  removeDir(dir);
});

test("a run whose wall clock reads the previous run's start again stores its flushes (none skipped as seen)", async () => {
  const dir = tempDir("hubbub-flush-ids-");
  const db = sqliteIn(dir);
  const broadcasts = new Map<string, BroadcastRecord>();
  const clock = { now: () => Date.now() };
  const stream = (id: string, live: boolean): StreamRecord => {
    if (!broadcasts.has(id)) broadcasts.set(id, { id, stream_id: "st", started_at: clock.now(), ended_at: null } as BroadcastRecord);
    const b = broadcasts.get(id)!;
    return { id: "st", slug: "ids", title: "t", owner_id: null, settings: {} as StreamRecord["settings"], status: live ? "live" : "offline", current_broadcast_id: live ? id : null, live_since: live ? b.started_at : null, epoch: "e", created_at: 0, updated_at: clock.now() } as StreamRecord;
  };
  /** One run of the server: a broadcast with `messages` chat lines, ended, flushed, stopped. */
  const run = async (broadcast: string, messages: number) => {
    const a = bareAnalytics(dir, { db, clock, broadcasts: { findBroadcast: (id) => broadcasts.get(id), segmentsOf: () => [], findById: () => undefined } });
    a.start(() => 1);
    const live = stream(broadcast, true);
    const tap = a.joined(live, 1, "viewer-1", IP.US);
    for (let i = 0; i < messages; i++) a.chat(live, "viewer-1", "hello there", 0, tap);
    a.left(live, 1);
    broadcasts.get(broadcast)!.ended_at = clock.now();
    a.streamChanged(stream(broadcast, false));
    await a.flush();
    return a;
  };
  const first = await run("A", 3);
  await first.stop();
  const firstId = db.query<{ run_first_id: number }, []>("SELECT run_first_id FROM analytics_flush_ids").get()!.run_first_id;

  // The clock now reads what it read when the first run began: its ids would be the first run's.
  setSystemTime(new Date(firstId / 1000));
  const second = await run("B", 2);
  expect(db.query<{ run_first_id: number }, []>("SELECT run_first_id FROM analytics_flush_ids").get()!.run_first_id).toBe(firstId + RUN_IDS);
  const a = await second.report("A");
  const b = await second.report("B");
  expect([a.ok && a.value.messages, b.ok && b.value.messages]).toEqual([3, 2]);
  await second.stop();
  db.close();
  removeDir(dir);
}, 60_000);
