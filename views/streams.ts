// The streams page: the list a role may see, and the create form. Named fragments: #stream-list,
// #create-stream (the form answers a POST with itself, errors next to their fields).
import { formNotice, input, statusPill, time, type Errors } from "./components.ts";
import { html, partial, type Html } from "./html.ts";
import { layout, type Viewer } from "./layout.ts";

export interface StreamRow {
  slug: string;
  title: string;
  status: "live" | "offline";
  owner: string | null;
  live_since: string | null;
  moderators: string[];
  canManage: boolean;
  /** Open review items: waiting for a moderator, and escalated to admins. */
  queue: { pending: number; escalated: number };
}

function queueBadge(s: StreamRow): Html | null {
  const { pending, escalated } = s.queue;
  if (!pending && !escalated) return null;
  const parts = [pending ? `${pending} to review` : "", escalated ? `${escalated} escalated` : ""].filter(Boolean).join(" · ");
  return html`<a class="${escalated ? "pill pill-warn queue-badge" : "pill queue-badge"}" href="${`/dashboard/streams/${s.slug}#queue-h`}">${parts}</a>`;
}

export function streamList(rows: StreamRow[]): Html {
  return html`<section id="stream-list" class="stream-grid" aria-label="Your streams">
  ${rows.length === 0 ? html`<p class="empty">No streams yet.</p>` : null}
  ${rows.map(
    (s) => html`<article class="${`card stream-card ${s.status === "live" ? "is-live" : ""}`}">
    <header class="stream-card-head">
      <h2><a href="${`/dashboard/streams/${s.slug}`}">${s.title}</a></h2>
      ${statusPill(s.status)}
    </header>
    <p class="muted mono">stream:${s.slug}</p>
    ${queueBadge(s)}
    <dl class="facts">
      <div><dt>Owner</dt><dd>${s.owner ?? "—"}</dd></div>
      <div><dt>Moderators</dt><dd>${s.moderators.length ? s.moderators.join(", ") : "—"}</dd></div>
      ${s.status === "live" ? html`<div><dt>Live since</dt><dd>${time(s.live_since)}</dd></div>` : null}
    </dl>
    <nav class="card-actions" aria-label="${`Actions for ${s.slug}`}">
      <a class="btn btn-primary btn-sm" href="${`/dashboard/streams/${s.slug}`}">Live dashboard</a>
      ${s.canManage ? html`<a class="btn btn-sm" href="${`/dashboard/streams/${s.slug}/settings`}">Settings</a>
      <a class="btn btn-sm" href="${`/dashboard/streams/${s.slug}/analytics`}">Analytics</a>` : null}
    </nav>
  </article>`,
  )}
</section>`;
}

export function createStreamForm(o: { admin: boolean; values?: Record<string, string>; errors?: Errors; notice?: string | null; error?: string | null }): Html {
  const v = o.values ?? {};
  return html`<form id="create-stream" class="card stack" hx-post="/dashboard/streams" hx-target="this" hx-swap="outerHTML">
  <h2>New stream</h2>
  ${formNotice("ok", o.notice ?? null)}${formNotice("error", o.error ?? null)}
  ${input({ name: "slug", label: "Slug", value: v.slug, errors: o.errors, required: true, hint: "3-64 of a-z, 0-9 and -; viewers join stream:<slug>", attrs: html` pattern="[a-z0-9\\-]{3,64}" autocapitalize="none" spellcheck="false"` })}
  ${input({ name: "title", label: "Title", value: v.title, errors: o.errors, required: true })}
  ${o.admin ? input({ name: "owner", label: "Owner (username)", value: v.owner, errors: o.errors, hint: "A creator account; empty: no owner" }) : null}
  <button type="submit" class="btn btn-primary">Create stream</button>
</form>`;
}

export function streamsPage(o: { nonce: string; user: Viewer; csrf: string; rows: StreamRow[]; canCreate: boolean }): Html {
  return layout(
    { title: "Streams", nonce: o.nonce, user: o.user, csrf: o.csrf, nav: "streams" },
    html`<div class="page-head">
  <h1>Streams</h1>
  <p class="muted">${o.user.role === "moderator" ? "The streams you moderate." : o.user.role === "creator" ? "Your streams and the ones you moderate." : "Every stream on this server."}</p>
</div>
<div class="${o.canCreate ? "split" : ""}">
  ${streamList(o.rows)}
  ${o.canCreate ? createStreamForm({ admin: o.user.role === "admin" }) : null}
</div>`,
  );
}

/** After a create: the fresh form, and the list with the new stream. */
export function streamCreated(o: { admin: boolean; rows: StreamRow[]; slug: string }): Html {
  return html`${createStreamForm({ admin: o.admin, notice: `Stream ${o.slug} created.` })}${partial("#stream-list", "outerHTML", streamList(o.rows))}`;
}
