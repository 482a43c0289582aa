// The reactions worker: folds batches of accepted reactions into per-stream windows and, on each
// tick, hands back the windows that have ended. It holds no other state: after a crash the main
// thread resends every batch whose windows were not yet published.
import { serveWorker } from "../runtime/worker-side.ts";
import { WindowFold, type ClosedWindow, type ReactionBatch } from "./windows.ts";

export type ToWorker =
  | { type: "batch"; batch: ReactionBatch }
  | { type: "restore"; emittedThrough: number; batches: ReactionBatch[] }
  | { type: "tick"; tick: number; now: number; final: boolean };
export type FromWorker = { type: "windows"; tick: number; now: number; windows: ClosedWindow[] };

const fold = new WindowFold();

serveWorker<ToWorker>((m, post) => {
  switch (m.type) {
    case "batch":
      fold.add(m.batch);
      return;
    case "restore":
      for (const b of m.batches) fold.add(b, m.emittedThrough);
      return;
    case "tick":
      post({ type: "windows", tick: m.tick, now: m.now, windows: fold.close(m.now, m.final) } satisfies FromWorker);
      return;
  }
});
