// Helpers for the moderation pipeline tests: a fake external classifier (a real HTTP server on a
// loopback port below 32768) whose behaviour is chosen per URL path, and readers for /healthz and
// /metrics.
// Contract (src/moderation/scorers.ts): POST {"text", "stream_id"} -> 200 {"scores": {category: 0..1}}.
import { freePortCandidate } from "./server.ts";
import { deferred } from "./wait.ts";

/** A word the healthy classifier scores as toxic (0.9) and that no pattern rule knows. */
export const TRIGGER = "zorblax";

export type ClassifierMode =
  | "healthy" // {toxicity: 0.9, spam: 0.02} for the trigger word, else {toxicity: 0.01}
  | "slow" // the healthy answer, after slowMs (longer than the server's timeout)
  | "hang" // never answers
  | "error500" // HTTP 500
  | "garbage" // 200 with, in turn: no JSON, an empty body, the wrong shape, a value out of range, a string score, an array
  | "gated"; // the healthy answer once release() is called (holds items in a worker's hands)

export interface ClassifierRequest {
  route: string;
  body: any;
  raw: string;
  contentType: string | null;
}

export const GARBAGE: Array<() => Response> = [
  () => new Response("this is not json {", { headers: { "content-type": "application/json" } }),
  () => new Response("", { status: 200 }),
  () => Response.json({ score: 0.99 }),
  () => Response.json({ scores: { toxicity: 1.7 } }),
  () => Response.json({ scores: { toxicity: "very" } }),
  () => Response.json({ scores: [0.5] }),
];

export interface FakeClassifier {
  port: number;
  url(route: string): string;
  mode: Map<string, ClassifierMode>;
  /** Every request that arrived, in order. */
  requests: ClassifierRequest[];
  arrivals(route: string): number;
  /** Requests of a route the server has not answered and the client has not abandoned. */
  open(route: string): number;
  /** The most such requests at once. */
  peakOpen(route: string): number;
  /** Lets every gated request of the route (held now or later) answer. */
  release(route: string): void;
  /** Stops listening and drops every connection (hung requests included). */
  stop(): void;
  /** Listens again on the same port (after stop). */
  listen(): void;
}

export function startFakeClassifier(opts: { slowMs?: number } = {}): FakeClassifier {
  const slowMs = opts.slowMs ?? 1000;
  const mode = new Map<string, ClassifierMode>();
  const requests: ClassifierRequest[] = [];
  const openCount = new Map<string, number>();
  const peak = new Map<string, number>();
  const gates = new Map<string, ReturnType<typeof deferred<void>>>();
  const garbageTurn = new Map<string, number>();
  const gate = (route: string) => {
    let g = gates.get(route);
    if (!g) gates.set(route, (g = deferred<void>()));
    return g;
  };

  const healthy = (body: any) =>
    Response.json({ scores: typeof body?.text === "string" && body.text.toLowerCase().includes(TRIGGER) ? { toxicity: 0.9, spam: 0.02 } : { toxicity: 0.01 } });

  async function handle(req: Request): Promise<Response> {
    const route = new URL(req.url).pathname;
    const raw = await req.text();
    let body: any = null;
    try {
      body = JSON.parse(raw);
    } catch {}
    requests.push({ route, body, raw, contentType: req.headers.get("content-type") });
    const n = (openCount.get(route) ?? 0) + 1;
    openCount.set(route, n);
    peak.set(route, Math.max(peak.get(route) ?? 0, n));
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      openCount.set(route, (openCount.get(route) ?? 1) - 1);
    };
    req.signal.addEventListener("abort", finish);
    try {
      switch (mode.get(route) ?? "healthy") {
        case "healthy":
          return healthy(body);
        case "slow":
          await new Promise((r) => setTimeout(r, slowMs)); // the behaviour under test: an answer that comes too late
          return healthy(body);
        case "hang":
          return await new Promise<Response>(() => {});
        case "error500":
          return new Response("internal error", { status: 500 });
        case "garbage": {
          const i = garbageTurn.get(route) ?? 0;
          garbageTurn.set(route, i + 1);
          return GARBAGE[i % GARBAGE.length]!();
        }
        case "gated":
          await gate(route).promise;
          return healthy(body);
      }
    } finally {
      finish();
    }
  }

  let server: ReturnType<typeof Bun.serve> | null = null;
  let port = 0;
  const serve = (p: number) => Bun.serve({ hostname: "127.0.0.1", port: p, idleTimeout: 0, fetch: handle });
  for (let attempt = 0; attempt < 40 && !server; attempt++) {
    try {
      port = freePortCandidate();
      server = serve(port);
    } catch (e) {
      if (!/EADDRINUSE|in use/i.test(String(e)) || attempt === 39) throw e;
    }
  }

  return {
    get port() {
      return port;
    },
    url: (route) => `http://127.0.0.1:${port}${route}`,
    mode,
    requests,
    arrivals: (route) => requests.filter((r) => r.route === route).length,
    open: (route) => openCount.get(route) ?? 0,
    peakOpen: (route) => peak.get(route) ?? 0,
    release: (route) => gate(route).resolve(),
    stop() {
      server?.stop(true);
      server = null;
    },
    listen() {
      if (!server) server = serve(port);
    },
  };
}

// ---- /healthz and /metrics ----

export async function healthz(http: string): Promise<{ status: string; checks: Record<string, string> }> {
  const r = await fetch(`${http}/healthz`);
  return (await r.json()) as { status: string; checks: Record<string, string> };
}

/** One unlabelled series of /metrics, or undefined when it is not there. */
export async function metric(http: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}
