// Live dashboard, viewer card (#viewer-card): one click from any author name. Recent messages in
// this stream, past moderator actions about them, the linked account, and quick actions.
import type { AuditRow } from "../../src/audit/index.ts";
import type { MessageView } from "../../src/chat/index.ts";
import { roleBadge, time } from "../components.ts";
import { html, json, type Html } from "../html.ts";
import { auditRow, type ActorName } from "./audit.ts";

export interface ViewerCardData {
  id: string;
  name: string | null;
  linked: { username: string; role: string } | null;
  restriction: { kind: "banned" | "timed_out"; until: string | null; reason: string | null } | null;
  messages: MessageView[];
  actions: AuditRow[];
}

/** The card before a viewer is chosen: pick a name, or look a viewer up by id (one who left the chat). */
export function emptyViewerCard(slug: string): Html {
  return html`<div id="viewer-card" class="viewer-card empty-card"><p class="muted">Select a name in the chat or the queue to see that viewer, or look one up by id.</p>
  <form id="viewer-lookup" class="inline-form" hx-get="${`/dashboard/streams/${slug}/viewer`}" hx-target="#viewer-card" hx-swap="outerHTML">
    <div class="field grow"><label for="f-viewer-lookup">Viewer id</label><input id="f-viewer-lookup" name="id" type="text" required maxlength="128" autocomplete="off" spellcheck="false"></div>
    <button type="submit" class="btn">Look up</button>
  </form>
</div>`;
}

function act(slug: string, label: string, vals: Record<string, unknown>, cls = "", confirm?: string): Html {
  return html`<button type="button" class="${`btn btn-sm ${cls}`}" hx-post="${`/dashboard/streams/${slug}/moderate`}" hx-vals="${json(vals)}" hx-swap="none"${confirm ? html` hx-confirm="${confirm}"` : null}>${label}</button>`;
}

export function viewerCard(slug: string, v: ViewerCardData, name: ActorName): Html {
  const r = v.restriction;
  return html`<div id="viewer-card" class="viewer-card" tabindex="-1" aria-labelledby="viewer-card-h">
  <div class="vc-head">
    <h3 id="viewer-card-h">${v.name ?? v.id}</h3>
    <button type="button" class="chip-x" hx-get="${`/dashboard/streams/${slug}/viewer`}" hx-target="#viewer-card" hx-swap="outerHTML" aria-label="Close the viewer card">×</button>
  </div>
  <p class="muted mono small">id ${v.id}</p>
  <p>${v.linked ? html`Linked account <strong>${v.linked.username}</strong> ${roleBadge(v.linked.role)}` : html`<span class="muted">No linked account</span>`}</p>
  ${r ? html`<p class="${r.kind === "banned" ? "notice notice-error" : "notice notice-warn"}">${r.kind === "banned" ? "Banned" : html`Timed out until ${time(r.until)}`}${r.reason ? ` — ${r.reason}` : ""}</p>` : null}
  <div class="vc-actions" role="group" aria-label="Actions on this viewer">
    ${act(slug, "Timeout 1m", { action: "timeout", user_id: v.id, duration_s: 60 })}
    ${act(slug, "Timeout 10m", { action: "timeout", user_id: v.id, duration_s: 600 })}
    ${act(slug, "Timeout 1h", { action: "timeout", user_id: v.id, duration_s: 3600 })}
    ${r?.kind === "timed_out" ? act(slug, "Remove timeout", { action: "unban", user_id: v.id }, "btn-ok") : null}
    ${r?.kind === "banned" ? act(slug, "Unban", { action: "unban", user_id: v.id }, "btn-ok") : act(slug, "Ban", { action: "ban", user_id: v.id }, "btn-danger", `Ban ${v.name ?? v.id} from this stream?`)}
    ${act(slug, "Clear messages", { action: "clear", user_id: v.id }, "btn-ghost", "Delete every message of this viewer in this stream?")}
  </div>
  <div class="vc-actions admin-only" role="group" aria-label="Admin actions on this viewer (every stream)">
    <button type="button" class="btn btn-sm" hx-post="/dashboard/viewers/revoke" hx-vals="${json({ id: v.id })}" hx-swap="none" hx-confirm="${`Close every socket of ${v.name ?? v.id} and refuse their current tokens?`}">Revoke sessions</button>
    <button type="button" class="btn btn-sm btn-danger" hx-post="/dashboard/viewers/erase" hx-vals="${json({ id: v.id })}" hx-swap="none" hx-confirm="${`Erase ${v.name ?? v.id}'s data in every stream (messages, votes, analytics)? This cannot be undone.`}">Erase data</button>
  </div>
  <h4>Recent messages</h4>
  <ol class="vc-messages">
    ${v.messages.length === 0 ? html`<li class="muted">None in this stream.</li>` : null}
    ${v.messages.map((m) => html`<li>${time(m.at)} <span>${m.body}</span></li>`)}
  </ol>
  <h4>Past actions</h4>
  <ol class="audit-list">
    ${v.actions.length === 0 ? html`<li class="muted">None.</li>` : null}
    ${v.actions.map((a) => auditRow(a, name, false))}
  </ol>
</div>`;
}
