// A tiny worker for the supervisor tests (tests/unit/supervisor.test.ts), served by the real
// worker half of the protocol (src/runtime/worker-side.ts). Each incarnation draws a random id, so a
// test can tell which incarnation said what.
//   {type: "echo", n}  -> {type: "echo", n, incarnation}
//   {type: "whoami"}   -> {type: "whoami", incarnation, data}
//   {type: "zombie"}   -> never returns to the event loop (so heartbeats go unanswered) while it keeps
//                         posting {type: "zombie", incarnation, k} about every millisecond: a hung
//                         incarnation whose messages are still arriving when it is declared dead.
import { serveWorker, workerConfig } from "../../src/runtime/worker-side.ts";

const incarnation = crypto.randomUUID();

type In = { type: "echo"; n: number } | { type: "whoami" } | { type: "zombie" };

serveWorker<In>((m, post) => {
  switch (m.type) {
    case "echo":
      return post({ type: "echo", n: m.n, incarnation });
    case "whoami":
      return post({ type: "whoami", incarnation, data: workerConfig<Record<string, unknown>>() });
    case "zombie": {
      // Bounded, though far longer than any test waits for the supervisor to give up on it.
      const until = performance.now() + 60_000;
      for (let k = 0; performance.now() < until; k++) {
        post({ type: "zombie", incarnation, k });
        const t = performance.now() + 1;
        while (performance.now() < t) {
          // busy: this incarnation never yields
        }
      }
      return;
    }
  }
});
