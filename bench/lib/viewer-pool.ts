// Generator-side pieces every viewer-socket load client needs: joining many sockets with a bounded
// number in flight (each waiting for its join reply), and phoenix.js-style heartbeats spread evenly
// over their period.

import { LogHistogram, type HistogramJson } from "./histogram.ts";
import type { WsConn } from "./ws-client.ts";

export interface LanesResult {
  ok: number;
  failed: number;
  elapsedMs: number;
  /** Failure reasons (first 80 characters) with counts. */
  errors: Record<string, number>;
  /** Connect+join time of each successful socket. */
  joinLatency: HistogramJson;
}

/**
 * Runs `attempt(k)` for k = 0..count-1, at most `concurrency` at a time; `attempt` resolves with
 * null on success or a failure reason. Attempts not started by `deadline` (performance.now()) count
 * as failed.
 */
export async function inLanes(count: number, concurrency: number, deadline: number, attempt: (k: number) => Promise<string | null>): Promise<LanesResult> {
  const errors: Record<string, number> = {};
  const joinLatency = new LogHistogram();
  const t0 = performance.now();
  let next = 0;
  let ok = 0;
  let failed = 0;
  const lane = async (): Promise<void> => {
    while (next < count && performance.now() < deadline) {
      const k = next++;
      const started = performance.now();
      const failure = await attempt(k);
      if (failure === null) {
        ok++;
        joinLatency.recordMs(performance.now() - started);
      } else {
        failed++;
        const key = failure.slice(0, 80);
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, lane));
  failed += count - ok - failed; // never attempted: the deadline passed
  return { ok, failed, elapsedMs: performance.now() - t0, errors, joinLatency: joinLatency.toJson() };
}

/** Sockets waiting for their join: each settles once, with null (joined) or a failure reason. */
export class PendingJoins {
  private waiting = new Map<number, (failure: string | null) => void>();

  /** Registers socket `i`, then `open()`s it; after `timeoutMs` without a settle it fails and `onTimeout()` runs. */
  wait(i: number, timeoutMs: number, open: () => void, onTimeout: () => void): Promise<string | null> {
    return new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => {
        this.settle(i, "join timeout");
        onTimeout();
      }, timeoutMs);
      this.waiting.set(i, (failure: string | null) => {
        clearTimeout(timer);
        resolve(failure);
      });
      open();
    });
  }

  /**
   * A join reply for socket `i`, its outcome from `joinOutcome` (undefined: not a join reply, nothing
   * happens): `joined()` runs before the join settles, `failed()` (close the socket) after.
   */
  answer(i: number, failure: string | null | undefined, joined: () => void, failed: () => void): void {
    if (failure === undefined) return;
    if (failure === null) joined();
    this.settle(i, failure);
    if (failure !== null) failed();
  }

  /** The join of socket `i` ended (a reply, a close); later calls for it do nothing. */
  settle(i: number, failure: string | null): void {
    const done = this.waiting.get(i);
    if (done === undefined) return;
    this.waiting.delete(i);
    done(failure);
  }
}

/** A join reply's outcome: null when joined, the failure reason otherwise, undefined when the
 * frame is not a phx_reply (to `topic`, when given). */
export function joinOutcome(buf: Buffer, start: number, end: number, topic: string | null = null): string | null | undefined {
  let frame: unknown;
  try {
    frame = JSON.parse(buf.toString("utf8", start, end));
  } catch {
    return undefined;
  }
  if (!Array.isArray(frame) || frame[3] !== "phx_reply" || (topic !== null && frame[2] !== topic)) return undefined;
  const payload = frame[4] as { status?: unknown; response?: { reason?: unknown } } | null;
  return payload?.status === "ok" ? null : `join ${String(payload?.status)}: ${String(payload?.response?.reason ?? "")}`;
}

/** phoenix.js sends a heartbeat every 30 s per socket; this spreads them evenly over the period.
 * Heartbeat refs are `h<n>`, so replies are recognisable by their `[null,"h` head. Idempotent. */
export class Heartbeats {
  private timer: ReturnType<typeof setInterval> | null = null;
  private cursor = 0;
  private ref = 0;

  constructor(
    private readonly conns: WsConn[],
    private readonly periodMs: number,
  ) {}

  start(): void {
    if (this.timer !== null) return;
    const tickMs = 100;
    this.timer = setInterval(() => {
      const conns = this.conns;
      const per = Math.ceil((conns.length * tickMs) / this.periodMs);
      for (let k = 0; k < per && conns.length > 0; k++) {
        this.cursor = (this.cursor + 1) % conns.length;
        const c = conns[this.cursor];
        if (c !== undefined && c.isOpen) c.sendText(`[null,"h${++this.ref}","phoenix","heartbeat",{}]`);
      }
    }, tickMs);
  }
}

/** `buf[at, end)` starts with `prefix` (byte comparison, nothing decoded). */
export function startsWith(buf: Buffer, at: number, end: number, prefix: Buffer): boolean {
  const n = prefix.length;
  if (end - at < n) return false;
  for (let k = 0; k < n; k++) if (buf[at + k] !== prefix[k]) return false;
  return true;
}

/** The unsigned decimal integer at `buf[at...]` (stops at the first non-digit or `end`); -1 if none. */
export function readUint(buf: Buffer, at: number, end: number): number {
  let v = 0;
  let p = at;
  for (; p < end; p++) {
    const b = buf[p] as number;
    if (b < 0x30 || b > 0x39) break;
    v = v * 10 + (b - 0x30);
  }
  return p === at ? -1 : v;
}
