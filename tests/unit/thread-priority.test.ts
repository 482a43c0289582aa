// Background threads at a lower priority (src/runtime/thread-priority.ts): the analytics worker's
// own thread and the Bun pool threads its DuckDB statements run on end up at nice 10, so that on a
// shared core the socket thread goes first. Read back from /proc (Linux only; skipped elsewhere).
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Analytics } from "../../src/analytics/index.ts";
import { memorySqlite } from "../../src/db/sqlite.ts";
import { silentLogger } from "../../src/runtime/logger.ts";
import { BACKGROUND_NICE, lowerThread } from "../../src/runtime/thread-priority.ts";
import { waitFor } from "../support/wait.ts";

const linux = process.platform === "linux";

/** Name and nice value of each thread of this process. */
function threads(): Array<{ tid: number; name: string; nice: number }> {
  return readdirSync("/proc/self/task").flatMap((t) => {
    try {
      const name = readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim();
      const stat = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
      const nice = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]); // field 19
      return [{ tid: Number(t), name, nice }];
    } catch {
      return [];
    }
  });
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test.skipIf(!linux)("the analytics worker's thread and DuckDB's pool threads run at background priority; the main thread does not", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "hubbub-prio-"));
  dirs.push(dataDir);
  const main = threads().find((t) => t.tid === process.pid)!;
  const noBroadcasts = { findBroadcast: () => undefined, segmentsOf: () => [], findById: () => undefined };
  const a = new Analytics({ dataDir, clock: { now: () => Date.now() }, db: memorySqlite(), logger: silentLogger, windowMs: 10_000, flushMs: 60_000, broadcasts: noBroadcasts });
  a.start(() => 0);
  try {
    // Each statement lets the worker look for pool threads again (at most once a second).
    const lowered = await waitFor("pool threads at nice 10", async () => {
      expect(await a.ping()).toBe(true);
      const pool = threads().filter((t) => t.name.startsWith("Bun Pool"));
      return pool.length > 0 && pool.every((t) => t.nice === BACKGROUND_NICE) && pool;
    }, 30_000);
    expect(lowered.length).toBeGreaterThan(0);
    // The worker thread itself (named "Worker" by Bun) lowered itself at start.
    expect(threads().some((t) => t.name === "Worker" && t.nice === BACKGROUND_NICE)).toBe(true);
    // The socket thread keeps its priority.
    expect(threads().find((t) => t.tid === process.pid)!.nice).toBe(main.nice);
  } finally {
    await a.stop();
  }
});

test.skipIf(!linux)("lowerThread says false for a thread that does not exist", () => {
  expect(lowerThread(2 ** 31 - 2)).toBe(false); // no such thread
});
