// Background threads at a lower priority (src/runtime/thread-priority.ts): the analytics worker's
// own thread and the Bun pool threads its DuckDB statements run on end up at nice 10, so that on a
// shared core the socket thread goes first. Read back from /proc (Linux only; skipped elsewhere).
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BACKGROUND_NICE, lowerThread } from "../../src/runtime/thread-priority.ts";
import type { ThreadInfo } from "../support/priority-probe.ts";

const linux = process.platform === "linux";

test.skipIf(!linux)("the analytics worker's thread and DuckDB's pool threads run at background priority; the main thread does not", () => {
  // In a fresh process (support/priority-probe.ts): here, other files' workers share the pool threads.
  const run = spawnSync(process.execPath, [join(import.meta.dir, "../support/priority-probe.ts")], { encoding: "utf8", timeout: 50_000 });
  expect(run.status).toBe(0);
  const { pid, before, after } = JSON.parse(run.stdout.trim().split("\n").pop()!) as { pid: number; before: ThreadInfo[]; after: ThreadInfo[] };
  const main = (list: ThreadInfo[]) => list.find((t) => t.tid === pid)!;
  // Nothing was lowered before the door started.
  expect(before.filter((t) => t.nice === BACKGROUND_NICE)).toEqual([]);
  // Every pool thread DuckDB's statements run on is lowered (a pool thread existed before the
  // start or not), and so is the worker's own thread (named "Worker" by Bun), which is new.
  const pool = after.filter((t) => t.name.startsWith("Bun Pool"));
  expect(pool.length).toBeGreaterThan(0);
  expect(pool.filter((t) => t.nice !== BACKGROUND_NICE)).toEqual([]);
  const known = new Set(before.map((t) => t.tid));
  expect(after.some((t) => t.name === "Worker" && !known.has(t.tid) && t.nice === BACKGROUND_NICE)).toBe(true);
  // The socket thread keeps its priority.
  expect(main(after).nice).toBe(main(before).nice);
}, 60_000);

test.skipIf(!linux)("lowerThread says false for a thread that does not exist", () => {
  expect(lowerThread(2 ** 31 - 2)).toBe(false); // no such thread
});
