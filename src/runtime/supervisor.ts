// A supervised worker thread: started, watched and restarted. Any exit we did not ask for is a crash
// (Bun reports an unhandled rejection as exit code 0, so the code proves nothing), and so is a worker
// that stops answering heartbeats (an endless loop). Restarts back off; a crash loop reads as
// "degraded" in health. Messages from a dead incarnation are ignored: what it was working on is the
// owner's to resend (onStart runs after every start, first or restart).
import type { Logger } from "./logger.ts";

/** Messages the supervisor itself exchanges with a worker (see worker-side.ts). */
export type ControlIn = { type: "$ping"; n: number } | { type: "$stop" } | { type: "$fault"; kind: FaultKind };
export type ControlOut = { type: "$ready" } | { type: "$pong"; n: number };
/** Test-only fault injection; a worker honours it only when started with `faults: true`. */
export type FaultKind = "throw" | "reject" | "exit" | "hang";

export interface SupervisorOptions<Out> {
  name: string;
  entry: URL;
  /** Passed to the worker as workerData (with `faults`). */
  data?: Record<string, unknown>;
  onMessage: (msg: Out) => void;
  /** Called after every (re)start once the worker is ready: resend what the dead one held. */
  onStart?: (restarted: boolean) => void;
  logger: Logger;
  faults?: boolean;
  heartbeatMs?: number;
  /** A worker silent this long is terminated and restarted. Never use for a worker inside a DuckDB query. */
  unresponsiveMs?: number;
  stopTimeoutMs?: number;
  /** A worker that has not said "ready" this long after its start is a crash too. */
  startTimeoutMs?: number;
}

const BACKOFF_MS = [50, 100, 250, 500, 1000, 2000, 5000];
const STABLE_AFTER_MS = 10_000; // up this long: the next crash starts the backoff over
const CRASH_WINDOW_MS = 60_000;
const DEGRADED_CRASHES = 3; // crashes within the window that make health degraded

export class Supervisor<In, Out> {
  private worker: Worker | null = null;
  private generation = 0;
  private ready = false;
  private queue: In[] = []; // posted while starting: delivered once the worker says ready
  private stopping = false;
  private consecutive = 0;
  private startedAt = 0;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private lastPong = 0;
  private pingN = 0;
  private crashTimes: number[] = [];
  private stopped: (() => void) | null = null;
  crashes = 0;
  restarts = 0;

  constructor(private o: SupervisorOptions<Out>) {}

  start(): void {
    this.spawn(false);
    const every = this.o.heartbeatMs ?? 250;
    const limit = this.o.unresponsiveMs ?? 1000;
    const startLimit = this.o.startTimeoutMs ?? 15_000;
    let lastTick = performance.now();
    this.heartbeat = setInterval(() => {
      const now = performance.now();
      const late = now - lastTick > every * 2;
      lastTick = now;
      // This thread itself was stalled (a long GC, a burst of work): an unread pong may be waiting
      // in the queue, so the silence says nothing about the worker. Judge it on time we were awake.
      if (late) this.lastPong = Math.max(this.lastPong, now - every);
      if (!this.worker) return;
      if (!this.ready) {
        if (performance.now() - this.startedAt > startLimit) this.crashed(this.generation, "did not start", true);
        return;
      }
      if (performance.now() - this.lastPong > limit) return this.crashed(this.generation, "unresponsive", true);
      this.worker.postMessage({ type: "$ping", n: ++this.pingN } satisfies ControlIn);
    }, every);
  }

  get up(): boolean {
    return this.ready;
  }

  /** ok: running (or still starting for the first time) and not crash-looping; degraded: down or crashing often. */
  health(): "ok" | "degraded" {
    const now = performance.now();
    this.crashTimes = this.crashTimes.filter((t) => now - t < CRASH_WINDOW_MS);
    const firstStart = !this.ready && this.crashes === 0 && this.worker !== null;
    return (this.ready || firstStart) && this.crashTimes.length < DEGRADED_CRASHES ? "ok" : "degraded";
  }

  /** Resolves true once the worker is ready (at once if it is), false after the timeout. */
  async whenUp(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!this.ready) {
      if (performance.now() > deadline || this.stopping) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }

  post(msg: In, transfer?: Transferable[]): void {
    if (this.stopping) return;
    if (!this.worker || !this.ready) {
      this.queue.push(msg);
      return;
    }
    this.worker.postMessage(msg, transfer ?? []);
  }

  /** Test hook: make the worker fail the way a bug would. */
  injectFault(kind: FaultKind): void {
    this.worker?.postMessage({ type: "$fault", kind } satisfies ControlIn);
  }

  /** Asks the worker to finish and exit; terminates it if it does not within the timeout. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const w = this.worker;
    if (!w) return;
    const exited = new Promise<void>((resolve) => (this.stopped = resolve));
    w.postMessage({ type: "$stop" } satisfies ControlIn);
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), this.o.stopTimeoutMs ?? 2000));
    if ((await Promise.race([exited, timeout])) === "timeout") {
      this.o.logger.warn("worker did not stop in time; terminating", { worker: this.o.name });
      w.terminate();
    }
    this.worker = null;
    this.ready = false;
  }

  private spawn(restarted: boolean): void {
    const gen = ++this.generation;
    this.ready = false;
    const w = new Worker(this.o.entry, { workerData: { ...this.o.data, faults: this.o.faults === true } } as WorkerOptions);
    this.worker = w;
    this.startedAt = performance.now();
    w.addEventListener("message", (ev: MessageEvent) => {
      if (gen !== this.generation) return; // a dead incarnation's last words: its owner resends
      const m = ev.data as ControlOut | Out;
      const t = (m as { type?: unknown })?.type;
      if (t === "$pong") {
        this.lastPong = performance.now();
        return;
      }
      if (t === "$ready") {
        this.ready = true;
        this.lastPong = performance.now();
        const queued = this.queue;
        this.queue = [];
        this.o.onStart?.(restarted);
        for (const q of queued) w.postMessage(q);
        return;
      }
      this.o.onMessage(m as Out);
    });
    // Without an error listener a worker's exception vanishes silently; here it is logged.
    w.addEventListener("error", (ev: ErrorEvent) => {
      this.o.logger.error("worker error", { worker: this.o.name, error: ev.message });
    });
    w.addEventListener("close", (ev: Event) => {
      const code = (ev as unknown as { code?: number }).code;
      if (this.stopping) {
        this.stopped?.();
        return;
      }
      this.crashed(gen, `exited with code ${code ?? "?"}`, false);
    });
  }

  private crashed(gen: number, why: string, terminate: boolean): void {
    if (gen !== this.generation || this.stopping) return;
    const w = this.worker;
    this.generation++; // from now on that incarnation is ignored
    this.worker = null;
    this.ready = false;
    if (terminate) w?.terminate();
    this.crashes++;
    const now = performance.now();
    this.crashTimes.push(now);
    if (now - this.startedAt > STABLE_AFTER_MS) this.consecutive = 0;
    const delay = BACKOFF_MS[Math.min(this.consecutive, BACKOFF_MS.length - 1)]!;
    this.consecutive++;
    this.o.logger.error("worker crashed; restarting", { worker: this.o.name, why, restart_in_ms: delay });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping) return;
      this.restarts++;
      this.spawn(true);
    }, delay);
  }
}
