// Operations endpoints: liveness, readiness, Prometheus metrics.
import { Elysia } from "elysia";
import type { Metrics } from "../runtime/metrics.ts";
import { json } from "./http-util.ts";

export interface OpsDeps {
  metrics: Metrics;
  isReady: () => boolean;
  health: () => Promise<{ status: "ok" | "degraded"; checks: Record<string, string> }>;
}

export function opsRoutes(d: OpsDeps) {
  return new Elysia()
    .get("/healthz", async () => {
      const h = await d.health();
      return json(200, h);
    })
    .get("/readyz", () => (d.isReady() ? json(200, { ready: true }) : json(503, { ready: false })))
    .get("/metrics", () => new Response(d.metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } }));
}
