// A Bun Worker for tests/e2e/chat-contention.test.ts (RELIABILITY T13): a SECOND SQLite connection to
// the server's file, writing in a loop in its own table with BEGIN IMMEDIATE and a busy timeout, so the
// server's group commit and moderation transactions meet a real competing writer.
// Each transaction writes a few rows and keeps the write lock for holdMs (every 10th for longHoldMs,
// like a slow batch; the very first for firstHoldMs when given), then pauses gapMs. Its own volume
// stays small, so the WAL figures are about the server.
// Protocol: {type: "start", file, holdMs?, longHoldMs?, gapMs?, firstHoldMs?} -> "locked" when the
// first transaction holds the write lock, "started" after the first commit; {type: "stop"} -> the loop
// ends between transactions (never mid-query), the connection closes, {type: "done", stats} is
// posted, and the thread exits by itself.
import { Database } from "bun:sqlite";

declare const self: Worker;

export interface WorkerStart {
  type: "start";
  file: string;
  holdMs?: number;
  longHoldMs?: number;
  gapMs?: number;
  firstHoldMs?: number;
}

export interface WorkerStats {
  commits: number;
  rows: number;
  busy: number; // SQLITE_BUSY seen by this connection (after its busy timeout)
  otherErrors: string[];
  maxLockWaitMs: number; // longest BEGIN IMMEDIATE wait for the write lock
  maxHoldMs: number; // longest time this worker held the write lock
}

const ROWS_PER_TX = 20;
const KEEP_ROWS = 2000; // old rows are deleted so the table (and its pages) stay small
const PAYLOAD = "p".repeat(400);

let stopping = false;
let started = false;

self.onmessage = (e: MessageEvent) => {
  const m = e.data as WorkerStart | { type: "stop" };
  if (m.type === "stop") stopping = true;
  else if (m.type === "start" && !started) {
    started = true;
    void run(m);
  }
};

async function run(o: WorkerStart): Promise<void> {
  const holdMs = o.holdMs ?? 1;
  const longHoldMs = o.longHoldMs ?? 20;
  const gapMs = o.gapMs ?? 2;
  const stats: WorkerStats = { commits: 0, rows: 0, busy: 0, otherErrors: [], maxLockWaitMs: 0, maxHoldMs: 0 };
  const db = new Database(o.file, { strict: true });
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec("CREATE TABLE IF NOT EXISTS contention_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, payload TEXT NOT NULL)");
    const insert = db.query("INSERT INTO contention_probe (at, payload) VALUES (?, ?)");
    const prune = db.query("DELETE FROM contention_probe WHERE id <= (SELECT MAX(id) FROM contention_probe) - ?");
    for (let k = 0; !stopping; k++) {
      const t0 = performance.now();
      let inTx = false;
      try {
        db.exec("BEGIN IMMEDIATE");
        inTx = true;
        const t1 = performance.now();
        if (k === 0) self.postMessage({ type: "locked" });
        stats.maxLockWaitMs = Math.max(stats.maxLockWaitMs, t1 - t0);
        const hold = k === 0 && o.firstHoldMs !== undefined ? o.firstHoldMs : k % 10 === 9 ? longHoldMs : holdMs;
        for (let i = 0; i < ROWS_PER_TX; i++) insert.run(Date.now(), PAYLOAD);
        prune.run(KEEP_ROWS);
        while (performance.now() - t1 < hold) {
          // keep the lock: a busy transaction, as a slow batch would be
        }
        db.exec("COMMIT");
        inTx = false;
        stats.maxHoldMs = Math.max(stats.maxHoldMs, performance.now() - t1);
        stats.commits++;
        stats.rows += ROWS_PER_TX;
        if (stats.commits === 1) self.postMessage({ type: "started" });
      } catch (e) {
        const msg = String((e as Error).message ?? e);
        if (/SQLITE_BUSY|database is locked/i.test(msg)) stats.busy++;
        else if (stats.otherErrors.length < 10) stats.otherErrors.push(msg);
        if (inTx) db.exec("ROLLBACK");
      }
      // Between transactions only: the stop message can arrive, and the write lock is free.
      await new Promise((r) => setTimeout(r, gapMs));
    }
  } finally {
    db.close();
  }
  self.postMessage({ type: "done", stats });
  // Nothing left to do: drop the listener so the thread's event loop empties and the worker exits.
  self.onmessage = null;
}
