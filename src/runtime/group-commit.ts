// Group commit: writes queued during one event-loop turn run in ONE SQLite transaction, and each
// caller's promise settles only after that transaction committed (or failed). Ack-after-commit
// then costs one commit per batch instead of one per message.
import type { Database } from "bun:sqlite";

interface Pending<R> {
  op: (db: Database) => R;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

/** SQLITE_BUSY: another connection holds the write lock. Worth waiting for, never worth a user error. */
export function isBusy(e: unknown): boolean {
  return e instanceof Error && (/SQLITE_BUSY|database is locked/i.test(e.message) || (e as { code?: string }).code === "SQLITE_BUSY");
}

/** The disk is full or failing: the write did not happen, and retrying at once will not help. */
export function isStorageFailure(e: unknown): boolean {
  return e instanceof Error && /SQLITE_FULL|SQLITE_IOERR|database or disk is full|disk I\/O error/i.test(`${(e as { code?: string }).code ?? ""} ${e.message}`);
}

const BUSY_RETRY_MS = 25;
/** The connection's normal busy timeout (db/sqlite.ts sets the same). */
export const BUSY_TIMEOUT_MS = 200;
const BUSY_GIVE_UP_MS = 30_000;

export class GroupCommit {
  private queue: Pending<any>[] = [];
  private scheduled = false;
  private closed = false;
  private busySince: number | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  busyRetries = 0;
  batches = 0;
  writes = 0;

  constructor(
    private db: Database,
    private maxBatch = 2000,
    private onError: (e: unknown, size: number) => void = () => {},
    private windowMs = 2,
  ) {}

  /** Queues a write; resolves with its result once its transaction has committed. */
  run<R>(op: (db: Database) => R): Promise<R> {
    if (this.closed) return Promise.reject(new Error("store is closed"));
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (this.retryTimer) return; // waiting out another writer's lock: the retry takes it along
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // A short window gathers the writes of several event-loop turns into one commit: each
        // commit rewrites whole B-tree pages into the WAL, so fewer commits mean far fewer bytes.
        if (this.windowMs > 0) setTimeout(() => this.flush(), this.windowMs);
        else setImmediate(() => this.flush());
      }
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  /**
   * Runs everything queued now, in one transaction. Each op runs inside a savepoint, so an op that
   * throws is rolled back and rejected alone; a failed COMMIT (disk full, I/O error) rejects all.
   */
  flush(): void {
    this.scheduled = false;
    this.retryTimer = null;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const results: Array<{ ok: true; v: unknown } | { ok: false; e: unknown }> = [];
    try {
      this.db.transaction(() => {
        for (const p of batch) {
          this.db.exec("SAVEPOINT gc_op");
          try {
            results.push({ ok: true, v: p.op(this.db) });
            this.db.exec("RELEASE gc_op");
          } catch (e) {
            this.db.exec("ROLLBACK TO gc_op");
            this.db.exec("RELEASE gc_op");
            results.push({ ok: false, e });
          }
        }
      }).immediate();
    } catch (e) {
      // Another connection holds the write lock past the short busy timeout: keep the batch and
      // try again on a timer, so the event loop keeps serving while we wait. Nothing was written.
      if (isBusy(e) && !this.closed) {
        const now = Date.now();
        this.busySince ??= now;
        if (now - this.busySince < BUSY_GIVE_UP_MS) {
          this.busyRetries++;
          this.queue = batch.concat(this.queue);
          this.retryTimer = setTimeout(() => this.retry(), BUSY_RETRY_MS + Math.random() * BUSY_RETRY_MS);
          return;
        }
      }
      this.busySince = null;
      this.onError(e, batch.length);
      for (const p of batch) p.reject(e);
      return;
    }
    this.busySince = null;
    this.batches++;
    this.writes += batch.length;
    for (let i = 0; i < batch.length; i++) {
      const r = results[i]!;
      if (r.ok) batch[i]!.resolve(r.v);
      else batch[i]!.reject(r.e);
    }
  }

  /** A retry must not sleep inside SQLite (that would block the event loop): no busy wait at all. */
  private retry(): void {
    this.db.exec("PRAGMA busy_timeout = 0");
    try {
      this.flush();
    } finally {
      this.db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  /** Flushes what is queued and refuses new writes (shutdown). */
  close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.closed = true;
    this.flush();
  }
}
