// Post-broadcast analytics for the stream's owner and admins: the list of broadcasts, a report page
// with charts, and CSV / Parquet downloads through the analytics door's series query.
import { Elysia } from "elysia";
import type { BroadcastRecord } from "../../streams/index.ts";
import { broadcastsPage, reportPage, type ChartData } from "../../../views/analytics.ts";
import { iso } from "../../runtime/time.ts";
import { csvRow } from "../export.ts";
import { canManage } from "../rights.ts";
import { refuse, type Ctx, type Who } from "./auth.ts";
import type { DashboardContext } from "./context.ts";
import { htmlResponse, newNonce, securityHeaders } from "./respond.ts";

type Rows = Array<Record<string, unknown>>;

/**
 * A count per bucket on the full grid from `from` to `to`: the series leaves out buckets with
 * nothing in them, which are zeros, not gaps.
 */
function timeChart(rows: Rows, label: string, from: number, to: number, bucketS: number): ChartData {
  const byT = new Map(rows.map((r) => [Math.floor(Date.parse(String(r.t)) / 1000), Number(r.value ?? 0)]));
  const x: number[] = [];
  const start = Math.floor(from / 1000);
  for (let t = start - (start % bucketS); t <= Math.floor(to / 1000) && x.length < 5000; t += bucketS) x.push(t);
  for (const t of byT.keys()) if (!x.includes(t)) x.push(t);
  x.sort((a, b) => a - b);
  return { kind: "time", x, series: [{ label, values: x.map((t) => byT.get(t) ?? 0) }] };
}

export function analyticsRoutes(c: DashboardContext) {
  const { auth } = c;
  /** About 120 points over the broadcast, in whole aggregation windows. */
  const bucketOf = (b: BroadcastRecord) => {
    const w = c.config.analyticsWindowS;
    const len = ((b.ended_at ?? c.clock.now()) - b.started_at) / 1000;
    return String(Math.max(w, Math.ceil(len / 120 / w) * w));
  };
  /** The broadcast and its stream, if the account may see its analytics. */
  const broadcastGuard = (h: (who: Who, b: BroadcastRecord, ctx: Ctx) => Response | Promise<Response>) =>
    auth.guard({}, (who, ctx) => {
      const b = c.streams.findBroadcast(ctx.params.id ?? "");
      const s = b ? c.streams.findById(b.stream_id) : undefined;
      if (!b || !s) return refuse(ctx.request, who, 404, "No such broadcast", "That broadcast does not exist.");
      if (!canManage(who.account, s)) return refuse(ctx.request, who, 403, "Not your stream", "Only the stream's owner and admins see its analytics.");
      return h(who, b, ctx);
    });

  return new Elysia()
    .get("/dashboard/streams/:slug/analytics", auth.streamGuard("manage", {}, (who, s) => {
      const nonce = newNonce();
      const broadcasts = c.data.broadcastsOf(s).map((b) => ({ id: b.id, started_at: iso(b.started_at), ended_at: b.ended_at === null ? null : iso(b.ended_at) }));
      return htmlResponse(broadcastsPage({ nonce, user: who.view, csrf: who.csrf, slug: s.slug, title: s.title, broadcasts }), { nonce });
    }))
    .get("/dashboard/broadcasts/:id", broadcastGuard(async (who, b) => {
      const s = c.streams.findById(b.stream_id)!;
      const [report, viewers, chat, reactions] = await Promise.all([
        c.analytics.report(b.id),
        c.analytics.series(b.id, { metric: "concurrent_viewers", bucket_s: bucketOf(b) }),
        c.analytics.series(b.id, { metric: "chat_messages", bucket_s: bucketOf(b) }),
        c.analytics.series(b.id, { metric: "reactions", bucket_s: bucketOf(b) }),
      ]);
      const rows = (r: typeof viewers): Rows => (r.ok ? r.value.rows : []);
      const rep = report.ok ? (report.value as Record<string, any>) : null;
      const retention = (rep?.retention ?? []) as Array<{ minute: number; share: number }>;
      const failed = [report, viewers, chat, reactions].find((r) => !r.ok);
      const [from, to, bucket] = [b.started_at, b.ended_at ?? c.clock.now(), Number(bucketOf(b))];
      const nonce = newNonce();
      return htmlResponse(
        reportPage({
          nonce, user: who.view, csrf: who.csrf, slug: s.slug, title: s.title, broadcastId: b.id, report: rep,
          error: failed && !failed.ok ? `Some numbers could not be loaded: ${failed.message}` : null,
          charts: {
            viewers: timeChart(rows(viewers), "Viewers", from, to, bucket),
            chat: timeChart(rows(chat), "Messages", from, to, bucket),
            reactions: timeChart(rows(reactions), "Reactions", from, to, bucket),
            retention: { kind: "minutes", x: retention.map((r) => r.minute), series: [{ label: "Still watching (%)", values: retention.map((r) => Math.round(r.share * 1000) / 10) }] },
          },
        }),
        { nonce },
      );
    }))
    .get("/dashboard/broadcasts/:id/series", broadcastGuard(async (_who, b, { query }) => {
      const format = query.format ?? "csv";
      if (format !== "csv" && format !== "parquet") return new Response("format: csv or parquet\n", { status: 400, headers: { ...securityHeaders(newNonce()), "content-type": "text/plain; charset=utf-8" } });
      const q: Record<string, string | undefined> = { metric: query.metric, format, bucket_s: query.bucket_s, group_by: query.group_by, country: query.country, segment: query.segment, from: query.from, to: query.to };
      for (const k of Object.keys(q)) if (q[k] === undefined || q[k] === "") delete q[k];
      const r = await c.analytics.series(b.id, q);
      const headers = securityHeaders(newNonce());
      if (!r.ok) {
        return new Response(`${r.message}${r.fields ? `: ${Object.entries(r.fields).map(([k, v]) => `${k} ${v}`).join("; ")}` : ""}\n`, { status: r.code === "unavailable" ? 503 : 400, headers: { ...headers, "content-type": "text/plain; charset=utf-8" } });
      }
      const name = `${b.id}-${String(q.metric).replace(/[^a-z_]/g, "")}${q.group_by ? `-by-${q.group_by}` : ""}`;
      if (format === "parquet") {
        return new Response(new Uint8Array(r.value.parquet!), { headers: { ...headers, "content-type": "application/vnd.apache.parquet", "content-disposition": `attachment; filename="${name}.parquet"` } });
      }
      const cols = ["t", ...(q.group_by ? [q.group_by] : []), "value"];
      const text = csvRow(cols) + r.value.rows.map((row) => csvRow(cols.map((k) => row[k] as string | number | null))).join("");
      return new Response(text, { headers: { ...headers, "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${name}.csv"` } });
    }));
}
