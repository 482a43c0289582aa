// The worker supervisor (src/runtime/supervisor.ts) with a tiny real worker
// (tests/support/echo.worker.ts, served by src/runtime/worker-side.ts): every way a worker thread dies
// (a thrown error, an unhandled rejection, which Bun reports as exit code 0, process.exit, and a
// hang that only the heartbeat notices) leads to a restart and to onStart(restarted = true); what a
// dead incarnation says afterwards is ignored; three quick crashes make health "degraded"; stop() is
// clean and nothing restarts after it; injected faults are ignored unless enabled. (RELIABILITY.md T3.)
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Logger } from "../../src/runtime/logger.ts";
import { Supervisor, type FaultKind, type SupervisorOptions } from "../../src/runtime/supervisor.ts";
import { waitFor } from "../support/wait.ts";

// Worker threads start slower on a busy machine; every wait below has its own deadline anyway.
setDefaultTimeout(30_000);

const ENTRY = new URL("../support/echo.worker.ts", import.meta.url);

type In = { type: "echo"; n: number } | { type: "whoami" } | { type: "zombie" };
type Out = { type: string; n?: number; k?: number; incarnation: string; data?: Record<string, unknown> };

interface LogLine {
  level: "warn" | "error";
  msg: string;
  fields: Record<string, unknown>;
}

interface Harness {
  sup: Supervisor<In, Out>;
  /** Every message onMessage got, with the crash count at the moment it was delivered. */
  got: Array<{ m: Out; crashesThen: number }>;
  starts: boolean[];
  logs: LogLine[];
  /** The Worker object of the current incarnation (to watch its events or to play a late one). */
  current(): Worker;
  /** Round trip through the current incarnation: resolves with its reply. */
  echo(): Promise<Out>;
  whoami(): Promise<string>;
}

const live: Array<Supervisor<In, Out>> = [];
afterEach(async () => {
  for (const s of live.splice(0)) await s.stop();
});

let echoN = 0;

function harness(opts: Partial<SupervisorOptions<Out>> = {}, onLog?: (l: LogLine) => void): Harness {
  const got: Harness["got"] = [];
  const starts: boolean[] = [];
  const logs: LogLine[] = [];
  const log = (level: LogLine["level"]) => (msg: string, fields: Record<string, unknown> = {}) => {
    const l = { level, msg, fields };
    logs.push(l);
    onLog?.(l);
  };
  const logger: Logger = { debug() {}, info() {}, warn: log("warn"), error: log("error") };
  const sup: Supervisor<In, Out> = new Supervisor<In, Out>({
    name: "echo",
    entry: ENTRY,
    data: { role: "test" },
    logger,
    faults: true,
    // Generous by default, so a busy machine never makes a healthy worker look hung; the hang tests
    // lower it.
    unresponsiveMs: 5_000,
    onMessage: (m) => void got.push({ m, crashesThen: sup.crashes }),
    onStart: (restarted) => void starts.push(restarted),
    ...opts,
  });
  live.push(sup);
  const h: Harness = {
    sup,
    got,
    starts,
    logs,
    current: () => (sup as unknown as { worker: Worker | null }).worker!,
    async echo() {
      const n = ++echoN;
      sup.post({ type: "echo", n });
      return (await waitFor(`echo ${n}`, () => got.find((x) => x.m.type === "echo" && x.m.n === n))).m;
    },
    async whoami() {
      return (await h.echo()).incarnation;
    },
  };
  return h;
}

const upAgain = (h: Harness, restarts: number, what: string) =>
  waitFor(what, () => h.sup.restarts >= restarts && h.sup.up, 20_000);

describe("start", () => {
  test("onStart(false) once the worker is ready; messages posted while it starts are delivered then", async () => {
    const h = harness();
    h.sup.start();
    // Posted before the worker said ready: queued, not lost.
    h.sup.post({ type: "whoami" });
    const who = await waitFor("whoami reply", () => h.got.find((x) => x.m.type === "whoami"));
    expect(who.m.data).toEqual({ role: "test", faults: true });
    expect(h.starts).toEqual([false]);
    expect(h.sup.up).toBe(true);
    expect(h.sup.health()).toBe("ok");
    expect((await h.echo()).incarnation).toBe(who.m.incarnation);
  });
});

describe("restarts after every kind of crash", () => {
  for (const kind of ["throw", "reject", "exit"] as const) {
    test(`${kind}: the exit is seen as a crash, the worker is restarted and onStart(true) runs`, async () => {
      const h = harness();
      h.sup.start();
      await waitFor("first start", () => h.sup.up);
      const before = await h.whoami();
      h.sup.injectFault(kind);
      await upAgain(h, 1, `restart after ${kind}`);
      expect(h.sup.crashes).toBe(1);
      expect(h.starts).toEqual([false, true]);
      const after = await h.whoami();
      expect(after).not.toBe(before);
      const crash = h.logs.find((l) => l.msg === "worker crashed; restarting");
      expect(crash?.fields.worker).toBe("echo");
      // A thrown error and an unhandled rejection end the thread with exit code 0 in Bun: the
      // supervisor must count any exit it did not ask for, whatever the code.
      expect(String(crash?.fields.why)).toMatch(/^exited with code/);
    });
  }

  test("hang: only the heartbeat notices; the worker is terminated and restarted, counted once", async () => {
    const h = harness({ heartbeatMs: 50, unresponsiveMs: 600 });
    h.sup.start();
    await waitFor("first start", () => h.sup.up);
    const before = await h.whoami();
    const hung = h.current();
    let hungClosed = false;
    hung.addEventListener("close", () => void (hungClosed = true));
    h.sup.injectFault("hang");
    await upAgain(h, 1, "restart after a hang");
    expect(h.logs.find((l) => l.msg === "worker crashed; restarting")?.fields.why).toBe("unresponsive");
    expect(h.starts).toEqual([false, true]);
    expect(await h.whoami()).not.toBe(before);
    // The terminated incarnation's own close event comes later; it must not count as a second crash.
    await waitFor("the hung worker's close event", () => hungClosed);
    expect(h.sup.crashes).toBe(1);
    expect(h.sup.restarts).toBe(1);
  });

  test("a worker that crashes again and again keeps coming back", async () => {
    const h = harness();
    h.sup.start();
    const kinds: FaultKind[] = ["exit", "throw", "reject", "exit"];
    for (let i = 0; i < kinds.length; i++) {
      await waitFor(`up before fault ${i}`, () => h.sup.up);
      h.sup.injectFault(kinds[i]!);
      await upAgain(h, i + 1, `restart ${i + 1}`);
    }
    expect(h.sup.crashes).toBe(kinds.length);
    expect(h.starts).toEqual([false, true, true, true, true]);
    await h.echo();
  });
});

describe("a dead incarnation is not listened to", () => {
  test("messages a hung worker was still sending when it was declared dead never reach onMessage", async () => {
    const h = harness({ heartbeatMs: 50, unresponsiveMs: 600 });
    h.sup.start();
    await waitFor("first start", () => h.sup.up);
    const zombie = await h.whoami();
    h.sup.post({ type: "zombie" });
    await waitFor("the zombie talks", () => h.got.some((x) => x.m.type === "zombie"));
    await upAgain(h, 1, "restart after the zombie stops answering heartbeats");
    const fresh = await h.whoami();
    expect(fresh).not.toBe(zombie);
    const fromZombie = h.got.filter((x) => x.m.incarnation === zombie);
    expect(fromZombie.length).toBeGreaterThan(0);
    // Everything the zombie got through arrived while it was still the current incarnation.
    expect(fromZombie.every((x) => x.crashesThen === 0)).toBe(true);
  });

  test("a message or a 'ready' arriving from the old Worker after it was declared dead changes nothing", async () => {
    // Bun drops a worker's queued messages on terminate, so such a late arrival is rare in practice
    // (other runtimes deliver messages posted before terminate). A Worker whose terminate() first
    // delivers one last message and a 'ready' plays it deterministically: the supervisor has already
    // declared that incarnation dead when it calls terminate().
    const RealWorker = globalThis.Worker;
    globalThis.Worker = class extends RealWorker {
      override terminate(): void {
        this.dispatchEvent(new MessageEvent("message", { data: { type: "echo", n: -1, incarnation: "dead" } }));
        this.dispatchEvent(new MessageEvent("message", { data: { type: "$ready" } }));
        super.terminate();
      }
    } as typeof Worker;
    try {
      const h = harness({ heartbeatMs: 50, unresponsiveMs: 600 });
      h.sup.start();
      await waitFor("first start", () => h.sup.up);
      const old = await h.whoami();
      h.sup.injectFault("hang");
      await upAgain(h, 1, "restart after the hang");
      expect(h.got.filter((x) => x.m.incarnation === "dead")).toEqual([]);
      // A late 'ready' taken seriously would have run onStart once more (and marked a dead worker up).
      expect(h.starts).toEqual([false, true]);
      expect(h.sup.crashes).toBe(1);
      expect(await h.whoami()).not.toBe(old);
    } finally {
      globalThis.Worker = RealWorker;
    }
  });
});

describe("health", () => {
  test("three quick crashes make health degraded, even once the worker is back", async () => {
    const h = harness();
    h.sup.start();
    await waitFor("first start", () => h.sup.up);
    expect(h.sup.health()).toBe("ok");
    for (let i = 1; i <= 3; i++) {
      h.sup.injectFault("exit");
      await upAgain(h, i, `restart ${i}`);
      // One or two crashes are weathered; the third within the minute is a crash loop.
      expect(h.sup.health()).toBe(i < 3 ? "ok" : "degraded");
    }
    await h.echo(); // degraded, yet working
  });
});

describe("stop", () => {
  test("stop() asks the worker to exit and it does, with no timeout and no restart", async () => {
    const h = harness();
    h.sup.start();
    await waitFor("first start", () => h.sup.up);
    await h.echo();
    const w = h.current();
    let closed = false;
    w.addEventListener("close", () => void (closed = true));
    await h.sup.stop();
    expect(h.logs.filter((l) => l.msg.includes("did not stop in time"))).toEqual([]);
    expect(h.logs.filter((l) => l.msg === "worker crashed; restarting")).toEqual([]);
    await waitFor("the worker's close event", () => closed);
    expect(h.sup.up).toBe(false);
    expect(h.sup.crashes).toBe(0);
    expect(h.sup.restarts).toBe(0);
    expect(h.starts).toEqual([false]);
    // Posting after stop is dropped quietly; stopping twice is harmless.
    h.sup.post({ type: "echo", n: 0 });
    await h.sup.stop();
  });

  test("stop() during the restart backoff: the pending restart never happens", async () => {
    let restartInMs = -1;
    let h!: Harness;
    let stopped: Promise<void> | null = null;
    let stopCalled = false;
    h = harness({}, (l) => {
      if (l.msg !== "worker crashed; restarting") return;
      restartInMs = Number(l.fields.restart_in_ms);
      // The server shuts down right after the crash, while the restart is still waiting.
      queueMicrotask(() => {
        stopCalled = true;
        stopped = h.sup.stop();
      });
    });
    h.sup.start();
    await waitFor("first start", () => h.sup.up);
    // Count the Worker threads the supervisor creates from here on.
    const RealWorker = globalThis.Worker;
    let spawned = 0;
    globalThis.Worker = class extends RealWorker {
      constructor(...args: ConstructorParameters<typeof Worker>) {
        super(...args);
        spawned++;
      }
    } as typeof Worker;
    try {
      h.sup.injectFault("exit");
      await waitFor("the crash and the stop", () => stopCalled);
      await stopped;
      expect(restartInMs).toBeGreaterThan(0);
      // Not a wait for things to settle: timers run in deadline order, so a timer due after the
      // backoff's fires after the restart would have (restart timers spawn synchronously).
      await new Promise((r) => setTimeout(r, restartInMs + 50));
      expect(spawned).toBe(0);
      expect(h.sup.restarts).toBe(0);
      expect(h.starts).toEqual([false]);
      expect(h.sup.up).toBe(false);
    } finally {
      globalThis.Worker = RealWorker;
    }
  });

  test("a hung worker that ignores stop is terminated after the stop timeout", async () => {
    const h = harness({ stopTimeoutMs: 300 });
    h.sup.start();
    await waitFor("first start", () => h.sup.up);
    const w = h.current();
    let closed = false;
    w.addEventListener("close", () => void (closed = true));
    h.sup.injectFault("hang");
    await h.sup.stop();
    expect(h.logs.some((l) => l.level === "warn" && l.msg.includes("did not stop in time"))).toBe(true);
    await waitFor("the terminated worker's close event", () => closed);
    expect(h.sup.up).toBe(false);
    expect(h.sup.restarts).toBe(0);
    expect(h.starts).toEqual([false]);
  });
});

describe("fault injection is off unless enabled", () => {
  test("with faults=false every injected fault is ignored and the same incarnation keeps answering", async () => {
    const h = harness({ faults: false });
    h.sup.start();
    await waitFor("first start", () => h.sup.up);
    const who = await h.whoami();
    for (const kind of ["throw", "reject", "exit", "hang"] as const) {
      h.sup.injectFault(kind);
      // Messages are handled in order: the echo's reply proves the fault was read and ignored (a
      // hang would keep it from ever answering, an exit would end this incarnation).
      expect((await h.echo()).incarnation).toBe(who);
    }
    expect(h.sup.crashes).toBe(0);
    expect(h.sup.restarts).toBe(0);
    expect(h.starts).toEqual([false]);
    expect(h.sup.health()).toBe("ok");
  });
});
