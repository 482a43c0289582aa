// The live dashboard page: the layout plus the named fragments of views/live/*. The hidden
// #live-feed element holds the SSE connection; its messages are <hx-partial>s aimed at the same
// fragment ids, rendered by the same functions.
import type { AuditRow } from "../../src/audit/index.ts";
import type { LiveMetrics } from "../../src/analytics/index.ts";
import type { MessageView } from "../../src/chat/index.ts";
import type { PollView } from "../../src/polls/index.ts";
import { html, type Html } from "../html.ts";
import { layout, type Viewer } from "../layout.ts";
import { auditList, type ActorName } from "./audit.ts";
import { announceForm, chatLines } from "./chat.ts";
import { bansPanel, type RestrictedRow } from "./bans.ts";
import { newPoll, pollPanel, reactionsPanel, segmentForm, segmentList, type ReactionRates, type SegmentItem } from "./panels.ts";
import { queuePanel, type QueueItem } from "./queue.ts";
import { broadcastControls, metricsPanel, streamStatus, type Sample, type StreamHead } from "./stream.ts";
import { emptyViewerCard } from "./viewer-card.ts";

export interface LiveView {
  stream: StreamHead;
  metrics: LiveMetrics;
  samples: Sample[];
  messages: Array<MessageView | { seq: number; deleted: true }>;
  reactions: ReactionRates;
  poll: PollView | null;
  queue: QueueItem[];
  bans: RestrictedRow[];
  segments: SegmentItem[];
  audit: AuditRow[];
  /** The feed position this page was rendered at: the SSE stream resumes right after it. */
  feedId: string;
}

/** A CSV export from the JSON API, which this dashboard session may call (PRODUCT.md). */
function download(href: string, label: string): Html {
  return html`<a class="btn btn-ghost btn-sm" href="${href}" download aria-label="${label}" title="${label}">CSV</a>`;
}

function panel(id: string, title: string, body: Html, extra?: Html): Html {
  return html`<section class="card panel" aria-labelledby="${`${id}-h`}">
  <header class="panel-head"><h2 id="${`${id}-h`}">${title}</h2>${extra ?? null}</header>
  ${body}
</section>`;
}

export function livePage(o: { nonce: string; user: Viewer; csrf: string; canManage: boolean; v: LiveView; name: ActorName }): Html {
  const { v } = o;
  const s = v.stream;
  const live = s.status === "live";
  const bodyClass = [o.user.role === "admin" ? "is-admin" : "", o.canManage ? "can-manage" : ""].filter(Boolean).join(" ");
  return layout(
    { title: `Live · ${s.title}`, nonce: o.nonce, user: o.user, csrf: o.csrf, nav: "streams", charts: true, wide: true, bodyClass },
    html`<div id="live-feed" hidden hx-sse:connect="${`/dashboard/streams/${s.slug}/events?after=${encodeURIComponent(v.feedId)}`}" hx-swap="none"></div>
<div class="page-head live-head">
  <div>
    <p class="crumbs"><a href="/dashboard">Streams</a> / ${s.slug}</p>
    <h1>${s.title}</h1>
  </div>
  <div class="live-head-right">
    ${streamStatus(s)}
    <span id="feed-state" class="feed-state" data-state="connecting" role="status">Connecting…</span>
    ${o.canManage ? broadcastControls(s) : null}
  </div>
  ${o.canManage
    ? html`<nav class="tabs" aria-label="Stream pages">
    <a href="${`/dashboard/streams/${s.slug}`}" aria-current="page">Live</a>
    <a href="${`/dashboard/streams/${s.slug}/settings`}">Settings</a>
    <a href="${`/dashboard/streams/${s.slug}/analytics`}">Analytics</a>
  </nav>`
    : null}
</div>
<div class="live-grid">
  <div class="col col-a">
    ${panel("audience", "Audience", html`${metricsPanel(v.metrics, v.samples)}
      <figure class="chart" data-chart="live" data-source="viewer-series" aria-label="Viewers over the last minutes"><figcaption class="muted small">Viewers, last 5 minutes</figcaption></figure>`)}
    ${panel("chat", "Chat", html`<div class="chat-scroll" tabindex="0" aria-label="Chat messages">${chatLines(s.slug, v.messages)}</div>${announceForm(s.slug)}`, download(`/api/v1/streams/${s.slug}/chat?format=csv`, "Chat history as CSV"))}
  </div>
  <div class="col col-b">
    ${panel("queue", "Review queue", html`${queuePanel(s.slug, v.queue)}`)}
    ${panel("viewer", "Viewer", emptyViewerCard(s.slug))}
    ${panel("bans-p", "Banned and timed out", bansPanel(s.slug, v.bans))}
    ${panel("reactions-p", "Reactions", reactionsPanel(v.reactions))}
  </div>
  <div class="col col-c">
    ${panel("polls", "Poll", html`${pollPanel(s.slug, v.poll)}${newPoll(s.slug, v.poll?.status !== "open")}`)}
    ${panel("segments", "Segments", html`${segmentList(v.segments)}${o.canManage ? segmentForm(s.slug, live) : null}`)}
    ${panel("audit", "Audit trail", auditList(v.audit, o.name), download(`/api/v1/streams/${s.slug}/audit?format=csv`, "The whole audit trail as CSV"))}
  </div>
</div>`,
  );
}
