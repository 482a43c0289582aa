// Live dashboard, top: the stream's status (#stream-status), the broadcast controls that only
// managers' pages contain (#broadcast-controls), and the live numbers with the viewer graph's data
// (#metrics). Each renders the page, the htmx answer and the SSE message alike.
import type { LiveMetrics } from "../../src/analytics/index.ts";
import { number, statusPill, time } from "../components.ts";
import { html, type Html } from "../html.ts";

export interface StreamHead {
  slug: string;
  title: string;
  status: "live" | "offline";
  live_since: string | null;
  current_broadcast_id: string | null;
}

export function streamStatus(s: StreamHead): Html {
  return html`<div id="stream-status" class="stream-status">
  ${statusPill(s.status)}
  ${s.status === "live" ? html`<span class="muted">since ${time(s.live_since)}</span>` : html`<span class="muted">Not broadcasting</span>`}
</div>`;
}

export function broadcastControls(s: StreamHead): Html {
  return html`<div id="broadcast-controls" class="broadcast-controls">
  ${s.status === "live"
    ? html`<button type="button" class="btn btn-danger" hx-post="${`/dashboard/streams/${s.slug}/end`}" hx-swap="none" hx-confirm="End the broadcast?">End broadcast</button>`
    : html`<button type="button" class="btn btn-live" hx-post="${`/dashboard/streams/${s.slug}/live`}" hx-swap="none">Go live</button>`}
</div>`;
}

/** [unix seconds, viewers, chat per minute, reactions per minute] */
export type Sample = [number, number, number, number];

function sentimentLabel(v: number | null): { text: string; cls: string } {
  if (v === null) return { text: "—", cls: "neutral" };
  if (v > 0.05) return { text: `+${v.toFixed(2)}`, cls: "pos" };
  if (v < -0.05) return { text: v.toFixed(2), cls: "neg" };
  return { text: v.toFixed(2), cls: "neutral" };
}

export function metricsPanel(m: LiveMetrics, samples: Sample[]): Html {
  const s = sentimentLabel(m.average_sentiment);
  const tile = (label: string, value: string, cls = "") => html`<div class="${`stat ${cls}`}"><dt>${label}</dt><dd>${value}</dd></div>`;
  return html`<div id="metrics" class="metrics">
  <dl class="stats">
    ${tile("Viewers now", number(m.concurrent_viewers), "stat-main")}
    ${tile("Peak", number(m.peak_concurrent_viewers))}
    ${tile("Chat / min", number(m.chat_messages_per_minute))}
    ${tile("Reactions / min", number(m.reactions_per_minute))}
    ${tile("Chatters", number(m.unique_chatters))}
    ${tile("Sentiment", s.text, `sent-${s.cls}`)}
  </dl>
  <div id="viewer-series" hidden data-series="${JSON.stringify(samples)}"></div>
</div>`;
}
