// Live dashboard, chat: the feed (#chat-lines), one line per message (#msg-<seq>) with its
// sentiment mark and inline actions, and the tombstone that replaces a deleted line. The author's
// name opens the viewer card.
import type { MessageView } from "../../src/chat/index.ts";
import { sentimentOf } from "../../src/analytics/sentiment.ts";
import { time } from "../components.ts";
import { html, json, type Html } from "../html.ts";

/** Lines kept on the page; dashboard.js trims older ones as new ones arrive. */
export const CHAT_LINES = 150;

function mark(body: string): Html {
  const v = sentimentOf(body);
  const [cls, label] = v > 0.05 ? ["pos", "positive"] : v < -0.05 ? ["neg", "negative"] : ["neu", "neutral"];
  return html`<span class="${`sent sent-${cls}`}" title="${`${label} sentiment ${v.toFixed(2)}`}" role="img" aria-label="${`${label} sentiment`}"></span>`;
}

export function viewerLink(slug: string, user: { id: string | null; name: string }): Html {
  if (!user.id) return html`<span class="author guest" title="guest">${user.name}</span>`;
  return html`<button type="button" class="author" hx-get="${`/dashboard/streams/${slug}/viewer?id=${encodeURIComponent(user.id)}`}" hx-target="#viewer-card" hx-swap="outerHTML" title="${`Viewer ${user.id}`}">${user.name}</button>`;
}

function modButton(slug: string, label: string, vals: Record<string, unknown>, cls = "", confirm?: string): Html {
  return html`<button type="button" class="${`act ${cls}`}" hx-post="${`/dashboard/streams/${slug}/moderate`}" hx-vals="${json(vals)}" hx-swap="none"${confirm ? html` hx-confirm="${confirm}"` : null}>${label}</button>`;
}

/**
 * A message as the dashboard shows it: `pending_until` while the chat delay holds it back from
 * viewers, and `pending_ms`, how long that was when rendered (the page drops the mark then, in case
 * its visible copy was among lines skipped under a flood).
 */
export type DashboardMessage = MessageView & { pending_until?: string; pending_ms?: number };

export function chatLine(slug: string, m: DashboardMessage): Html {
  const uid = m.user.id;
  return html`<li id="${`msg-${m.seq}`}" class="${m.pending_until ? "msg msg-pending" : "msg"}" data-seq="${m.seq}"${m.pending_until ? html` data-pending-ms="${Math.max(0, Math.round(m.pending_ms ?? 0))}"` : null}>
  <span class="msg-meta">${time(m.at)}${mark(m.body)}${m.pending_until ? html`<span class="pending-note">viewers see it at ${time(m.pending_until)}</span>` : null}</span>
  <span class="msg-who">${viewerLink(slug, m.user)}${m.user.badges.map((b) => html`<span class="badge">${b}</span>`)}</span>
  <span class="msg-body">${m.body}</span>
  <span class="msg-actions" role="group" aria-label="${`Actions for message ${m.seq}`}">
    ${modButton(slug, "Delete", { action: "delete", seq: m.seq })}
    ${uid ? modButton(slug, "Timeout 10m", { action: "timeout", user_id: uid, duration_s: 600 }) : null}
    ${uid ? modButton(slug, "Ban", { action: "ban", user_id: uid }, "act-danger", `Ban ${m.user.name} from this stream?`) : null}
  </span>
</li>`;
}

export function tombstone(seq: number): Html {
  return html`<li id="${`msg-${seq}`}" class="msg msg-deleted" data-seq="${seq}"><span class="msg-body">Message #${seq} deleted</span></li>`;
}

export function chatLines(slug: string, items: Array<DashboardMessage | { seq: number; deleted: true }>): Html {
  return html`<ol id="chat-lines" class="chat-lines" data-max="${CHAT_LINES}">
  ${items.length === 0 ? html`<li class="empty" id="chat-empty">No messages yet.</li>` : null}
  ${items.map((m) => ("deleted" in m ? tombstone(m.seq) : chatLine(slug, m)))}
</ol>`;
}

export function announceForm(slug: string, error?: string | null, notice?: string | null): Html {
  return html`<form id="announce-form" class="inline-form" hx-post="${`/dashboard/streams/${slug}/announce`}" hx-target="this" hx-swap="outerHTML">
  <div class="${error ? "field has-error grow" : "field grow"}">
    <label for="f-announce">Announcement to every viewer</label>
    <input id="f-announce" name="body" type="text" maxlength="500"${error ? html` aria-invalid="true" aria-describedby="f-announce-error"` : null}>
    ${error ? html`<p class="field-error" id="f-announce-error">${error}</p>` : null}
    ${notice ? html`<p class="hint" role="status">${notice}</p>` : null}
  </div>
  <button type="submit" class="btn">Announce</button>
</form>`;
}
