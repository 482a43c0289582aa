// Live dashboard, who is banned or timed out in this stream (#bans), each with its way back (unban,
// remove the timeout): the only place to reach a viewer who left the recent chat.
import { time } from "../components.ts";
import { html, json, type Html } from "../html.ts";

export interface RestrictedRow {
  user_id: string;
  kind: "banned" | "timed_out";
  until: string | null;
  reason: string | null;
}

export function bansPanel(slug: string, rows: RestrictedRow[]): Html {
  return html`<div id="bans" class="bans">
  ${rows.length === 0
    ? html`<p class="muted">Nobody is banned or timed out.</p>`
    : html`<ul class="ban-list">${rows.map((r) => html`<li class="ban-row">
    <button type="button" class="author mono" hx-get="${`/dashboard/streams/${slug}/viewer?id=${encodeURIComponent(r.user_id)}`}" hx-target="#viewer-card" hx-swap="outerHTML" title="Open the viewer card">${r.user_id}</button>
    <span class="small">${r.kind === "banned" ? "banned" : html`timed out until ${time(r.until)}`}${r.reason ? html` · <span class="muted">${r.reason}</span>` : null}</span>
    <button type="button" class="btn btn-sm btn-ok" hx-post="${`/dashboard/streams/${slug}/moderate`}" hx-vals="${json({ action: "unban", user_id: r.user_id })}" hx-swap="none">${r.kind === "banned" ? "Unban" : "Remove timeout"}</button>
  </li>`)}</ul>`}
</div>`;
}
