// Moderation: the only door to the pipeline. Chat calls `check` for every message before it is
// stored. The stages run in a pool of supervised worker threads; a stream always goes to the same
// worker (its copy-paste detector sees all of that stream's chat). Items in flight when a worker
// dies are sent again to its successor; an item that has now been in flight through two crashes is
// held for a human ("pipeline_failed") rather than tried a third time. While a stream's worker is
// down, the pattern stage runs inline on this thread and health says degraded: chat never stops.
import type { Logger } from "../runtime/logger.ts";
import { Supervisor, type FaultKind } from "../runtime/supervisor.ts";
import type { Settings } from "../streams/settings.ts";
import type { ModerationHook } from "../chat/moderation-hook.ts";
import type { FromModeration, ToModeration } from "./moderation.worker.ts";
import type { ModerationSettings } from "./patterns.ts";
import { Pipeline, type CheckedDecision, type CheckItem } from "./pipeline.ts";
import type { ClassifierStats } from "./scorers.ts";

export type { Decision } from "./decide.ts";

export interface ModerationOptions {
  logger: Logger;
  workers: number;
  classifierUrl: string | null;
  classifierTimeoutMs: number;
  classifierMaxInFlight?: number;
  faults?: boolean;
}

interface InFlight {
  item: CheckItem & { key: number };
  settings: ModerationSettings;
  worker: number;
  attempts: number;
  resolve: (d: CheckedDecision) => void;
  deadline: number;
}

const MAX_ATTEMPTS = 2;

interface Slot {
  sup: Supervisor<ToModeration, FromModeration>;
  sentKeys: Set<number>; // settings this incarnation has
  queue: Array<CheckItem & { key: number }>;
  scheduled: boolean;
  classifier: ClassifierStats | null;
  skippedBase: number; // skips counted by earlier incarnations (a restarted worker counts from 0)
}

export class Moderation implements ModerationHook {
  private slots: Slot[] = [];
  private inflight = new Map<number, InFlight>();
  private nextId = 1;
  private keys = new WeakMap<Settings, { key: number; settings: ModerationSettings }>();
  private nextKey = 1;
  private inline = new Pipeline(null);
  private watchdog: ReturnType<typeof setInterval> | null = null;
  readonly counts = { checked: 0, inline: 0, retried: 0, failed: 0, published: 0, held: 0, blocked: 0 };

  constructor(private o: ModerationOptions) {
    for (let i = 0; i < Math.max(1, o.workers); i++) {
      const slot: Slot = {
        sentKeys: new Set(), queue: [], scheduled: false, classifier: null, skippedBase: 0,
        sup: new Supervisor<ToModeration, FromModeration>({
          name: `moderation-${i}`,
          entry: new URL("./moderation.worker.ts", import.meta.url),
          data: { classifierUrl: o.classifierUrl, classifierTimeoutMs: o.classifierTimeoutMs, classifierMaxInFlight: o.classifierMaxInFlight ?? 64 },
          logger: o.logger,
          faults: o.faults,
          onMessage: (m) => this.onMessage(i, m),
          onStart: (restarted) => this.onStart(i, restarted),
        }),
      };
      this.slots.push(slot);
    }
  }

  start(): void {
    for (const s of this.slots) s.sup.start();
    // A worker that is alive but has not answered an item in time: a human looks at that item.
    // Not decided inline: whatever stalled the worker (a pathological message) would stall us too.
    this.watchdog = setInterval(() => {
      const now = performance.now();
      for (const [id, f] of this.inflight) {
        if (now < f.deadline) continue;
        this.inflight.delete(id);
        this.counts.failed++;
        f.resolve({ action: "hold", reasons: ["pipeline_timeout"], scores: {} });
      }
    }, 100);
  }

  async stop(): Promise<void> {
    if (this.watchdog) clearInterval(this.watchdog);
    // Whatever is still in flight is decided here so no sender waits forever.
    for (const [id, f] of this.inflight) {
      this.inflight.delete(id);
      f.resolve(this.inline.checkPatterns(f.item, f.settings));
    }
    await Promise.all(this.slots.map((s) => s.sup.stop()));
  }

  injectFault(kind: FaultKind, worker = 0): void {
    this.slots[worker]?.sup.injectFault(kind);
  }

  health(): { status: "ok" | "degraded"; workers_up: number; workers: number; crashes: number; classifier: string } {
    const up = this.slots.filter((s) => s.sup.up).length;
    const degraded = this.slots.some((s) => s.sup.health() !== "ok");
    const breakers = this.slots.map((s) => s.classifier?.breaker).filter(Boolean);
    const classifier = this.o.classifierUrl ? (breakers.includes("open") ? "open" : breakers.includes("half_open") ? "half_open" : "closed") : "lexicon";
    return { status: degraded ? "degraded" : "ok", workers_up: up, workers: this.slots.length, crashes: this.slots.reduce((n, s) => n + s.sup.crashes, 0), classifier };
  }

  /** Messages that skipped the classification stage (service down, breaker open, too busy). */
  get classifierSkips(): number {
    return this.slots.reduce((n, s) => n + s.skippedBase + (s.classifier?.skipped ?? 0), 0);
  }

  check(text: string, settings: Settings, ctx: { streamId: string; sender: string }): Promise<CheckedDecision> {
    this.counts.checked++;
    const { key, settings: ms } = this.keyOf(settings);
    const item = { id: this.nextId++, streamId: ctx.streamId, sender: ctx.sender, text, now: Date.now(), key };
    const w = this.route(ctx.streamId);
    if (!this.slots[w]!.sup.up) {
      this.counts.inline++;
      return Promise.resolve(this.tally(this.inline.checkPatterns(item, ms)));
    }
    return new Promise<CheckedDecision>((resolve) => {
      const deadline = performance.now() + this.o.classifierTimeoutMs + 1000;
      this.inflight.set(item.id, { item, settings: ms, worker: w, attempts: 1, resolve: (d) => resolve(this.tally(d)), deadline });
      this.enqueue(w, item, ms);
    });
  }

  private tally(d: CheckedDecision): CheckedDecision {
    if (d.action === "publish") this.counts.published++;
    else if (d.action === "hold") this.counts.held++;
    else this.counts.blocked++;
    return d;
  }

  private keyOf(s: Settings): { key: number; settings: ModerationSettings } {
    let k = this.keys.get(s);
    if (!k) {
      k = { key: this.nextKey++, settings: { automod_level: s.automod_level, blocked_terms: s.blocked_terms, link_policy: s.link_policy, allowed_domains: s.allowed_domains } };
      this.keys.set(s, k);
    }
    return k;
  }

  private route(streamId: string): number {
    if (this.slots.length === 1) return 0;
    let h = 0;
    for (let i = 0; i < streamId.length; i++) h = (h * 31 + streamId.charCodeAt(i)) | 0;
    return Math.abs(h) % this.slots.length;
  }

  private enqueue(w: number, item: CheckItem & { key: number }, ms: ModerationSettings): void {
    const slot = this.slots[w]!;
    if (!slot.sup.up) return; // in flight; the restart sends it
    if (!slot.sentKeys.has(item.key)) {
      slot.sentKeys.add(item.key);
      slot.sup.post({ type: "settings", key: item.key, settings: ms });
    }
    slot.queue.push(item);
    if (!slot.scheduled) {
      slot.scheduled = true;
      // One post per event-loop turn for everything that arrived in it.
      setImmediate(() => {
        slot.scheduled = false;
        const items = slot.queue;
        slot.queue = [];
        // Down meanwhile: the items stay in flight and go to the restarted worker (onStart).
        if (items.length && slot.sup.up) slot.sup.post({ type: "check", items });
      });
    }
  }

  private onMessage(w: number, m: FromModeration): void {
    if (m.type === "stats") {
      this.slots[w]!.classifier = m.classifier;
      return;
    }
    for (const { id, decision } of m.items) {
      const f = this.inflight.get(id);
      if (!f) continue; // decided inline meanwhile
      this.inflight.delete(id);
      f.resolve(decision);
    }
  }

  /** A new incarnation knows no settings; a restarted one takes over its predecessor's items. */
  private onStart(w: number, restarted: boolean): void {
    const slot = this.slots[w]!;
    slot.sentKeys.clear();
    slot.queue = [];
    slot.skippedBase += slot.classifier?.skipped ?? 0;
    slot.classifier = null;
    if (!restarted) return;
    for (const [id, f] of this.inflight) {
      if (f.worker !== w) continue;
      if (f.attempts >= MAX_ATTEMPTS) {
        // Two workers died on this item: a human looks at it instead of a third worker.
        this.inflight.delete(id);
        this.counts.failed++;
        f.resolve({ action: "hold", reasons: ["pipeline_failed"], scores: {} });
        continue;
      }
      f.attempts++;
      this.counts.retried++;
      f.deadline = performance.now() + this.o.classifierTimeoutMs + 1000;
      this.enqueue(w, f.item, f.settings);
    }
  }
}
