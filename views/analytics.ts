// Post-broadcast analytics: a stream's broadcasts, and one broadcast's report with charts (drawn by
// dashboard.js from data-chart attributes), top moments, breakdowns by country and segment, and
// CSV / Parquet downloads of every series.
import { duration, number, time } from "./components.ts";
import { html, type Html } from "./html.ts";
import { layout, type Viewer } from "./layout.ts";

export interface ChartData {
  kind: "time" | "minutes";
  x: number[];
  series: Array<{ label: string; values: Array<number | null> }>;
}

export interface BroadcastItem {
  id: string;
  started_at: string;
  ended_at: string | null;
}

function tabs(slug: string, current: "analytics"): Html {
  return html`<nav class="tabs" aria-label="Stream pages">
    <a href="${`/dashboard/streams/${slug}`}">Live</a>
    <a href="${`/dashboard/streams/${slug}/settings`}">Settings</a>
    <a href="${`/dashboard/streams/${slug}/analytics`}"${current === "analytics" ? html` aria-current="page"` : null}>Analytics</a>
  </nav>`;
}

export function broadcastsPage(o: { nonce: string; user: Viewer; csrf: string; slug: string; title: string; broadcasts: BroadcastItem[] }): Html {
  return layout(
    { title: `Analytics · ${o.title}`, nonce: o.nonce, user: o.user, csrf: o.csrf, nav: "streams" },
    html`<div class="page-head">
  <p class="crumbs"><a href="/dashboard">Streams</a> / <a href="${`/dashboard/streams/${o.slug}`}">${o.slug}</a> / Analytics</p>
  <h1>${o.title}</h1>
  ${tabs(o.slug, "analytics")}
</div>
<section class="card">
  <h2>Broadcasts</h2>
  ${o.broadcasts.length === 0
    ? html`<p class="muted">No broadcast yet. Go live from the live dashboard; the report fills in as viewers come.</p>`
    : html`<table class="table">
    <thead><tr><th scope="col">Started</th><th scope="col">Ended</th><th scope="col">Length</th><th scope="col"><span class="sr-only">Report</span></th></tr></thead>
    <tbody>
      ${o.broadcasts.map((b) => {
        const len = ((b.ended_at ? Date.parse(b.ended_at) : Date.now()) - Date.parse(b.started_at)) / 1000;
        return html`<tr>
        <td>${time(b.started_at, "datetime")}</td>
        <td>${b.ended_at ? time(b.ended_at, "datetime") : html`<span class="pill pill-live"><span class="dot" aria-hidden="true"></span>Live</span>`}</td>
        <td>${duration(len)}</td>
        <td><a class="btn btn-sm" href="${`/dashboard/broadcasts/${b.id}`}">Report</a></td>
      </tr>`;
      })}
    </tbody>
  </table>`}
</section>`,
  );
}

export function chart(id: string, title: string, data: ChartData, downloads: Html | null): Html {
  return html`<figure class="card chart-card" aria-labelledby="${`${id}-cap`}">
  <figcaption id="${`${id}-cap`}"><span>${title}</span>${downloads}</figcaption>
  <div class="chart" id="${id}" data-chart="static" data-series="${JSON.stringify(data)}" role="img" aria-label="${`${title} chart`}"></div>
</figure>`;
}

function downloads(broadcastId: string, metric: string): Html {
  const base = `/dashboard/broadcasts/${broadcastId}/series?metric=${metric}`;
  return html`<span class="downloads"><a href="${`${base}&format=csv`}" download>CSV</a> · <a href="${`${base}&format=parquet`}" download>Parquet</a></span>`;
}

type Row = Record<string, unknown>;

const SERIES: Array<[string, string]> = [
  ["joins", "Joins"], ["leaves", "Leaves"], ["unique_chatters", "Unique chatters"], ["votes", "Poll votes"], ["sentiment", "Chat sentiment"], ["watch_time_s", "Watch time"],
];

function breakdown(title: string, key: "country" | "segment", rows: Row[], broadcastId: string): Html {
  return html`<section class="card">
  <header class="panel-head"><h2>${title}</h2>
    <span class="downloads">By ${key}, viewers over time: <a href="${`/dashboard/broadcasts/${broadcastId}/series?metric=concurrent_viewers&group_by=${key}&format=csv`}" download>CSV</a> · <a href="${`/dashboard/broadcasts/${broadcastId}/series?metric=concurrent_viewers&group_by=${key}&format=parquet`}" download>Parquet</a></span>
  </header>
  ${rows.length === 0
    ? html`<p class="muted">No data yet.</p>`
    : html`<div class="table-wrap"><table class="table">
    <thead><tr><th scope="col">${key === "country" ? "Country" : "Segment"}</th><th scope="col" class="num">Viewers</th><th scope="col" class="num">Watch time</th><th scope="col" class="num">Chatters</th><th scope="col" class="num">Messages</th><th scope="col" class="num">Reactions</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr>
      <td>${(r[key] as string | null) ?? (key === "country" ? "Unknown" : "(none)")}</td>
      <td class="num">${number(r.unique_viewers as number)}</td>
      <td class="num">${duration(Number(r.watch_time_s ?? 0))}</td>
      <td class="num">${number(r.unique_chatters as number)}</td>
      <td class="num">${number(r.messages as number)}</td>
      <td class="num">${number(r.reactions as number)}</td>
    </tr>`)}</tbody>
  </table></div>`}
</section>`;
}

interface PollResult {
  id: string;
  question: string;
  status: "open" | "closed";
  total: number;
  winner: number | null;
  options: Array<{ text: string; votes: number }>;
}

/** Each poll of the broadcast with its options' votes and shares; the winner marked. */
function polls(list: PollResult[]): Html | null {
  if (list.length === 0) return null;
  const share = (n: number, total: number) => (total ? `${Math.round((n / total) * 100)}%` : "0%");
  return html`<section class="card">
  <h2>Polls</h2>
  ${list.map((p) => html`<div class="poll-result">
    <h3>${p.question} <small class="muted">${number(p.total)} ${p.total === 1 ? "vote" : "votes"}${p.status === "open" ? " · still open" : p.total === 0 ? " · no votes" : p.winner === null ? " · tie" : null}</small></h3>
    <ul class="rate-list options">${p.options.map((opt, i) => html`<li>
      <span>${opt.text}${p.winner === i ? html` <span class="pill">Winner</span>` : null}</span>
      <meter min="0" max="${Math.max(1, p.total)}" value="${opt.votes}" aria-label="${`${opt.text}: ${opt.votes} votes`}"></meter>
      <span class="rate">${number(opt.votes)} · ${share(opt.votes, p.total)}</span>
    </li>`)}</ul>
  </div>`)}
</section>`;
}

export function reportPage(o: {
  nonce: string; user: Viewer; csrf: string; slug: string; title: string; broadcastId: string;
  report: Record<string, any> | null; error: string | null;
  charts: { viewers: ChartData; chat: ChartData; reactions: ChartData; retention: ChartData };
}): Html {
  const r = o.report;
  const tile = (label: string, value: string) => html`<div class="stat"><dt>${label}</dt><dd>${value}</dd></div>`;
  const b = r?.broadcast as { started_at: string; ended_at: string | null; duration_s: number } | undefined;
  return layout(
    { title: `Report · ${o.title}`, nonce: o.nonce, user: o.user, csrf: o.csrf, nav: "streams", charts: true },
    html`<div class="page-head">
  <p class="crumbs"><a href="/dashboard">Streams</a> / <a href="${`/dashboard/streams/${o.slug}`}">${o.slug}</a> / <a href="${`/dashboard/streams/${o.slug}/analytics`}">Analytics</a> / Broadcast</p>
  <h1>${o.title}</h1>
  ${b ? html`<p class="muted">${time(b.started_at, "datetime")} – ${b.ended_at ? time(b.ended_at, "datetime") : "still live"} · ${duration(b.duration_s)}</p>` : null}
  ${tabs(o.slug, "analytics")}
</div>
${o.error ? html`<p class="notice notice-error" role="alert">${o.error}</p>` : null}
${r
  ? html`<section class="card"><dl class="stats stats-wide">
  ${tile("Peak viewers", number(r.peak_concurrent_viewers))}
  ${tile("Average viewers", number(r.average_concurrent_viewers, 1))}
  ${tile("Unique viewers", number(r.unique_viewers))}
  ${tile("Watch time", duration(r.total_watch_time_s ?? 0))}
  ${tile("Average view", duration(r.average_view_duration_s ?? 0))}
  ${tile("Chatters", number(r.unique_chatters))}
  ${tile("Messages", number(r.messages))}
  ${tile("Reactions", number(r.reactions?.total))}
  ${tile("Sentiment", r.average_sentiment === null ? "—" : Number(r.average_sentiment).toFixed(2))}
</dl></section>`
  : null}
<div class="chart-grid">
  ${chart("chart-viewers", "Concurrent viewers", o.charts.viewers, downloads(o.broadcastId, "concurrent_viewers"))}
  ${chart("chart-chat", "Chat messages", o.charts.chat, downloads(o.broadcastId, "chat_messages"))}
  ${chart("chart-reactions", "Reactions", o.charts.reactions, downloads(o.broadcastId, "reactions"))}
  ${chart("chart-retention", "Retention (share still watching, by minute)", o.charts.retention, null)}
</div>
${r
  ? html`<div class="grid-2 wide-gap">
  <section class="card">
    <h2>Top moments</h2>
    ${(r.top_moments as Row[]).length === 0
      ? html`<p class="muted">No chat or reactions yet.</p>`
      : html`<ol class="moments">${(r.top_moments as Row[]).map((m) => html`<li>${time(m.at as string)} <span>${number(m.chat_messages as number)} messages · ${number(m.reactions as number)} reactions</span></li>`)}</ol>`}
    <h3>Biggest drop-offs</h3>
    ${(r.biggest_drop_offs as Row[]).length === 0
      ? html`<p class="muted">None.</p>`
      : html`<ul class="moments">${(r.biggest_drop_offs as Row[]).map((d) => html`<li>Minute ${number(d.minute as number)} <span>${number(d.from as number)} → ${number(d.to as number)} viewers</span></li>`)}</ul>`}
  </section>
  <section class="card">
    <h2>Reactions by emoji</h2>
    ${Object.keys(r.reactions?.by_emoji ?? {}).length === 0
      ? html`<p class="muted">No reactions yet.</p>`
      : html`<ul class="rate-list">${Object.entries(r.reactions.by_emoji as Record<string, number>).map(([e, n]) => html`<li><span class="emoji" aria-hidden="true">${e}</span><meter min="0" max="${Math.max(1, r.reactions.total)}" value="${n}" aria-label="${`${e}: ${n}`}"></meter><span class="rate">${number(n)}</span></li>`)}</ul>`}
    <h3 class="mt">More series</h3>
    <ul class="dl-list">${SERIES.map(([m, label]) => html`<li><span>${label}</span> ${downloads(o.broadcastId, m)}</li>`)}</ul>
  </section>
</div>
${polls((r.polls ?? []) as PollResult[])}
${breakdown("By country", "country", r.by_country as Row[], o.broadcastId)}
${breakdown("By segment", "segment", r.by_segment as Row[], o.broadcastId)}`
  : null}`,
  );
}
