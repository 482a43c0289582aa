// The first flush id of this run of the server (see migration 008). Ids were the wall clock in µs,
// which a clock stepped back (a VM restored, NTP correcting a bad boot time) could repeat: the worker
// would then skip a new batch as one it already stored, and a restarted broadcast would read part of
// this run as an earlier one's. Each run now starts at least RUN_IDS past the previous run's start.
import type { Database } from "bun:sqlite";

/** Ids a run may use: a flush every 5 s would need 158 years to use them up. */
export const RUN_IDS = 1e9;

/** Reserves this run's ids: the wall clock in µs when it is ahead, else the previous run's start + RUN_IDS. */
export function reserveFlushIds(db: Database, wallMs: number): number {
  return db.transaction(() => {
    const prev = db.query<{ run_first_id: number }, []>("SELECT run_first_id FROM analytics_flush_ids WHERE id = 1").get();
    const first = Math.max(Math.floor(wallMs) * 1000, prev ? prev.run_first_id + RUN_IDS : 0);
    db.query("INSERT INTO analytics_flush_ids (id, run_first_id) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET run_first_id = excluded.run_first_id").run(first);
    return first;
  }).immediate();
}
