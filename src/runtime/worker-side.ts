// The worker half of the supervisor's protocol: answers heartbeats, exits when asked, says "ready"
// once its handler is in place (messages posted before that would be dropped), and obeys test
// fault injection only when the supervisor enabled it.
import { workerData } from "node:worker_threads";
import type { ControlIn } from "./supervisor.ts";

declare const self: Worker;

export function serveWorker<In>(handle: (msg: In, post: (m: unknown, transfer?: Transferable[]) => void) => void, onStop?: () => void | Promise<void>): void {
  const faults = (workerData as { faults?: boolean } | null)?.faults === true;
  const post = (m: unknown, transfer?: Transferable[]) => self.postMessage(m, transfer ?? []);
  self.onmessage = (ev: MessageEvent) => {
    const m = ev.data as ControlIn | In;
    const t = (m as { type?: unknown })?.type;
    if (t === "$ping") return post({ type: "$pong", n: (m as { n: number }).n });
    if (t === "$stop") {
      // Exit only once the owner's cleanup has finished (a database must be closed, not abandoned).
      Promise.resolve()
        .then(() => onStop?.())
        .catch(() => {})
        .finally(() => process.exit(0));
      return;
    }
    if (t === "$fault") {
      if (!faults) return;
      const kind = (m as { kind: string }).kind;
      if (kind === "throw") setTimeout(() => { throw new Error("injected fault"); });
      else if (kind === "reject") void Promise.reject(new Error("injected rejection"));
      else if (kind === "exit") process.exit(3);
      else if (kind === "hang") for (;;) {} // eslint-disable-line no-empty
      return;
    }
    handle(m as In, post);
  };
  post({ type: "$ready" });
}

export function workerConfig<T>(): T {
  return workerData as T;
}
