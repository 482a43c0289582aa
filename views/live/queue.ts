// Live dashboard, review queue (#review-queue): held messages with the stage scores that held them,
// viewer reports and escalations, each with approve / deny / escalate. Escalated items wait for an
// admin: their buttons carry .admin-only (shown only on admins' pages; the server checks anyway).
import type { QueueEvent } from "../../src/chat/index.ts";
import { time } from "../components.ts";
import { html, json, type Html } from "../html.ts";
import { viewerLink } from "./chat.ts";

export type QueueItem = QueueEvent["item"];

const KIND_LABEL: Record<string, string> = { held: "Held", report: "Report" };

function scores(item: QueueItem): Html | null {
  const entries = Object.entries((item.scores ?? {}) as Record<string, number>).filter(([, v]) => typeof v === "number" && v > 0).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return null;
  return html`<ul class="scores" aria-label="Stage scores">
    ${entries.slice(0, 6).map(([k, v]) => html`<li class="${`score ${v >= 0.75 ? "score-high" : v >= 0.45 ? "score-mid" : "score-low"}`}"><span>${k.replace(/_/g, " ")}</span> <strong>${v.toFixed(2)}</strong></li>`)}
  </ul>`;
}

// Stable ids: htmx gives focus back to the element with the focused one's id after a swap, so a
// keyboard user keeps their place while the queue re-renders around them.
// Each decision sends the item's reason field along (hx-include); an upheld report may also time out
// or ban its author.
function decideButton(slug: string, item: QueueItem, verdict: "approve" | "deny" | "escalate", label: string, cls: string, o: { penalty?: "timeout" | "ban"; confirm?: string } = {}): Html {
  const id = `rq-${item.id}-${o.penalty ?? verdict}`;
  const vals = { id: item.id, ...(o.penalty === "timeout" ? { timeout_s: 600 } : o.penalty === "ban" ? { ban: "true" } : {}) };
  return html`<button type="button" id="${id}" data-verdict="${verdict}" class="${`btn btn-sm ${cls}`}" hx-post="${`/dashboard/streams/${slug}/review/${verdict}`}" hx-vals="${json(vals)}" hx-include="${`#rq-${item.id}-reason`}" hx-swap="none"${o.confirm ? html` hx-confirm="${o.confirm}"` : null}>${label}</button>`;
}

export function queueItem(slug: string, item: QueueItem): Html {
  const escalated = item.status === "escalated";
  const approveLabel = item.kind === "report" ? "Uphold (delete)" : "Approve";
  const denyLabel = item.kind === "report" ? "Dismiss" : "Deny";
  return html`<li id="${`rq-${item.id}`}" class="${`rq-item ${escalated ? "rq-escalated" : ""}`}">
  <div class="rq-head">
    <span class="${`badge badge-${item.kind}`}">${KIND_LABEL[item.kind] ?? item.kind}</span>
    ${escalated ? html`<span class="badge badge-warn">Escalated</span>` : null}
    ${viewerLink(slug, item.user)}
    <span class="muted small">${time(item.created_at)}</span>
  </div>
  <p class="rq-body">${item.body ?? "(message gone)"}</p>
  ${item.kind === "report"
    ? html`<p class="reasons small"><span class="muted">Reported${item.reporter_id ? html` by <span class="mono">${item.reporter_id}</span>` : null} · message #${item.target_seq ?? "?"}${item.reasons.length ? ":" : ""}</span> ${(item.reasons as string[]).join(" ")}</p>`
    : item.reasons.length ? html`<p class="reasons small"><span class="muted">Held for</span> ${(item.reasons as string[]).map((r) => html`<span class="chip chip-sm">${r.replace(/_/g, " ")}</span>`)}</p>` : null}
  ${scores(item)}
  <div class="${escalated ? "rq-actions admin-only" : "rq-actions"}" role="group" aria-label="Decide">
    <label class="sr-only" for="${`rq-${item.id}-reason`}">Reason (optional)</label>
    <input id="${`rq-${item.id}-reason`}" class="rq-reason" name="reason" type="text" maxlength="500" placeholder="Reason (optional)" autocomplete="off">
    ${decideButton(slug, item, "approve", approveLabel, "btn-ok")}
    ${item.kind === "report" && item.user.id ? decideButton(slug, item, "approve", "Uphold + timeout 10m", "", { penalty: "timeout" }) : null}
    ${item.kind === "report" && item.user.id ? decideButton(slug, item, "approve", "Uphold + ban", "btn-danger", { penalty: "ban", confirm: `Delete the message and ban ${item.user.name} from this stream?` }) : null}
    ${decideButton(slug, item, "deny", denyLabel, "")}
    ${escalated ? null : decideButton(slug, item, "escalate", "Escalate", "btn-ghost")}
  </div>
  ${escalated ? html`<p class="muted small not-admin-only">Waiting for an admin.</p>` : null}
</li>`;
}

export function queuePanel(slug: string, items: QueueItem[]): Html {
  const pending = items.filter((i) => i.status === "pending").length;
  return html`<div id="review-queue" class="queue">
  <p class="muted small"><strong class="queue-count">${items.length}</strong> waiting${items.length !== pending ? ` (${items.length - pending} escalated)` : ""}</p>
  <ol class="rq-list">
    ${items.length === 0 ? html`<li class="empty">Nothing to review.</li>` : null}
    ${items.map((i) => queueItem(slug, i))}
  </ol>
</div>`;
}
