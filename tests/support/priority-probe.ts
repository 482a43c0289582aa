// Run in a fresh process by tests/unit/thread-priority.test.ts: `bun test` runs every file in one
// process, where an earlier file's analytics worker may have lowered the shared pool threads
// already, so the test could not tell whether this door did it. Prints, as JSON, every thread of
// this process (id, name, nice) before the door starts and once its pool threads are all lowered
// (or after 20 s).
import { readdirSync, readFileSync } from "node:fs";
import { BACKGROUND_NICE } from "../../src/runtime/thread-priority.ts";
import { bareAnalytics } from "./analytics.ts";
import { removeDir, tempDir } from "./server.ts";

export interface ThreadInfo {
  tid: number;
  name: string;
  nice: number;
}

/** Name and nice value of each thread of this process (/proc/self/task). */
export function threads(): ThreadInfo[] {
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

if (import.meta.main) {
  const dir = tempDir("hubbub-prio-");
  const before = threads();
  const a = bareAnalytics(dir);
  a.start(() => 0);
  const deadline = Date.now() + 20_000;
  // Each statement lets the worker look for pool threads again (at most once a second).
  for (;;) {
    await a.ping();
    const pool = threads().filter((t) => t.name.startsWith("Bun Pool"));
    if ((pool.length > 0 && pool.every((t) => t.nice === BACKGROUND_NICE)) || Date.now() > deadline) break;
    await Bun.sleep(100);
  }
  const after = threads();
  await a.stop();
  removeDir(dir);
  console.log(JSON.stringify({ pid: process.pid, before, after }));
  process.exit(0);
}
