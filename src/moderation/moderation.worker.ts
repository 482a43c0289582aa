// A moderation worker: runs the pipeline for the items the pool hands it and answers in batches.
// State: the settings it was given (by key) and the copy-paste detector of the streams routed here.
import { serveWorker, workerConfig } from "../runtime/worker-side.ts";
import type { ModerationSettings } from "./patterns.ts";
import { Pipeline, type CheckedDecision, type CheckItem } from "./pipeline.ts";
import { HttpClassifier, type ClassifierStats } from "./scorers.ts";

export type ToModeration =
  | { type: "settings"; key: number; settings: ModerationSettings }
  | { type: "check"; items: Array<CheckItem & { key: number }> };
export type FromModeration =
  | { type: "decisions"; items: Array<{ id: number; decision: CheckedDecision }> }
  | { type: "stats"; classifier: ClassifierStats | null };

const cfg = workerConfig<{ classifierUrl: string | null; classifierTimeoutMs: number; classifierMaxInFlight: number }>();
const http = cfg.classifierUrl ? new HttpClassifier(cfg.classifierUrl, cfg.classifierTimeoutMs, cfg.classifierMaxInFlight) : null;
const pipeline = new Pipeline(http);
const settings = new Map<number, ModerationSettings>();
let outbox: Array<{ id: number; decision: CheckedDecision }> = [];
let post: ((m: unknown) => void) | null = null;

function flush(): void {
  if (!post || outbox.length === 0) return;
  const items = outbox;
  outbox = [];
  post({ type: "decisions", items } satisfies FromModeration);
}

serveWorker<ToModeration>((m, p) => {
  post = p;
  if (m.type === "settings") {
    settings.set(m.key, m.settings);
    return;
  }
  for (const item of m.items) {
    const s = settings.get(item.key);
    if (!s) throw new Error(`moderation settings ${item.key} were never sent`);
    pipeline.check(item, s).then(
      (decision) => {
        const first = outbox.length === 0;
        outbox.push({ id: item.id, decision });
        if (first) setImmediate(flush);
      },
      (e) => {
        throw e; // a bug: crash, and let the supervisor retry the batch
      },
    );
  }
});

setInterval(() => post?.({ type: "stats", classifier: http ? { ...http.stats } : null } satisfies FromModeration), 1000);
