// Messages between the orchestrator (bench/run.ts) and generator children (bench/load-client.ts):
// one JSON object per line, commands on the child's stdin, replies on its stdout.

import type { HistogramJson } from "./histogram.ts";

export interface ClientConfig {
  host: string;
  port: number;
  /** Origin header sent on upgrade, as a browser on the same origin would. */
  origin: string;
  /** HS256 secret for signed-in viewers (null: guests only). */
  tokenSecret: string | null;
  /** Heartbeat period per socket, like phoenix.js (30 s). */
  heartbeatMs: number;
}

export type Command =
  | { id: number; cmd: "connect"; count: number; firstId: number; concurrency: number; auth: boolean; timeoutMs: number }
  | { id: number; cmd: "arm"; sampleEvery: number }
  | {
      id: number;
      cmd: "drive";
      url: string;
      headers: Record<string, string>;
      /** Extra JSON fields next to `body` (hubbub: {"action":"announce"}). */
      extra: Record<string, string>;
      broadcastsPerSec: number;
      count: number;
      maxInflight: number;
      bodyBytes: number;
    }
  | { id: number; cmd: "stats" }
  | { id: number; cmd: "report"; expectedPerSocket: number }
  | { id: number; cmd: "quit" };

export interface ConnectReply {
  joined: number;
  failed: number;
  elapsedMs: number;
  /** Failure reasons with counts (first words of each reason). */
  errors: Record<string, number>;
  /** Frames seen while joining, by event name (e.g. presence_diff), for feedback. */
  frames: Record<string, number>;
  /** Connect+join time of each successful viewer. */
  joinLatency: HistogramJson;
}

export interface DriveReply {
  sent: number;
  ok: number;
  failed: number;
  /** Broadcasts not sent because too many POSTs were still in flight. */
  skipped: number;
  elapsedMs: number;
  /** Worst delay of a send behind its schedule (generator overload shows here). */
  maxLagMs: number;
  post: HistogramJson;
  errors: Record<string, number>;
}

export interface StatsReply {
  delivered: number;
  live: number;
}

export interface ReportReply {
  delivered: number;
  live: number;
  closed: number;
  closeReasons: Record<string, number>;
  socketsShort: number;
  socketsOver: number;
  minPerSocket: number;
  maxPerSocket: number;
  latency: HistogramJson;
  /** Announcements that missed the byte-prefix fast path and needed a JSON parse. */
  slowPath: number;
  frames: Record<string, number>;
}

