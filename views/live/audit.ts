// Live dashboard, audit trail (#audit-list, newest first): who did what, when and why. New rows
// arrive over SSE as <li>s put at the top of the list.
import type { AuditRow } from "../../src/audit/index.ts";
import { time } from "../components.ts";
import { html, type Html } from "../html.ts";

/** Names an actor for people: account usernames, API key names, viewer ids, "system". */
export type ActorName = (actor: { type: string; id: string | null }) => string;

export const AUDIT_ROWS = 40;

function what(r: AuditRow): string {
  const t = r.target?.id ?? "";
  const d = (r.data ?? {}) as Record<string, unknown>;
  const who = typeof d.user_id === "string" ? d.user_id : t;
  switch (r.action) {
    case "moderation.delete": return `deleted message #${t}${typeof d.user_id === "string" ? ` by ${d.user_id}` : ""}`;
    case "moderation.clear": return `cleared ${d.count ?? ""} messages${r.target?.type === "viewer" ? ` of ${t}` : ""}`;
    case "moderation.timeout": return `timed out ${t}${typeof d.duration_s === "number" ? ` for ${d.duration_s} s` : ""}`;
    case "moderation.ban": return `banned ${t}`;
    case "moderation.unban": return `unbanned ${t}`;
    case "moderation.hold": return `held a message by ${who || "a guest"}`;
    case "moderation.block": return `blocked a message`;
    case "moderation.announce": return `announced “${String(d.body ?? "")}”`;
    case "review.approve": return `approved review item (${String(d.kind ?? "")})`;
    case "review.deny": return `denied review item (${String(d.kind ?? "")})`;
    case "review.escalate": return `escalated a review item`;
    case "review.report": return `reported message #${t}`;
    case "review.expire": return `review item expired`;
    case "poll.open": return `opened poll “${String(d.question ?? "")}”`;
    case "poll.close": return `closed a poll`;
    case "stream.create": return `created the stream`;
    case "stream.update": return `changed ${Object.keys((d.settings ?? {}) as object).concat(d.title ? ["title"] : []).join(", ") || "nothing"}`;
    case "stream.live": return `went live`;
    case "stream.end": return `ended the broadcast`;
    case "stream.moderator_add": return `added moderator ${String(d.username ?? t)}`;
    case "stream.moderator_remove": return `removed moderator ${String(d.username ?? t)}`;
    case "broadcast.segment": return `marked segment “${String(d.label ?? "")}”`;
    case "viewer.erase": return `erased viewer ${t}`;
    default: return r.action;
  }
}

export function auditRow(r: AuditRow, name: ActorName, withId = true): Html {
  return html`<li${withId ? html` id="${`audit-${r.id}`}"` : null} class="${`audit-row audit-${r.action.split(".")[0]}`}">
  <span class="audit-time">${time(r.at)}</span>
  <span class="audit-text"><strong>${name(r.actor)}</strong> ${what(r)}${r.reason ? html` <span class="muted">— ${r.reason}</span>` : null}</span>
</li>`;
}

/** Rows newest first. */
export function auditList(rows: AuditRow[], name: ActorName): Html {
  return html`<ol id="audit-list" class="audit-list" data-max="${AUDIT_ROWS}" data-trim="end">
  ${rows.length === 0 ? html`<li class="muted" id="audit-empty">Nothing yet.</li>` : null}
  ${rows.map((r) => auditRow(r, name))}
</ol>`;
}
