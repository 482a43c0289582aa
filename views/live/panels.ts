// Live dashboard, side panels: reaction rates (#reactions), the poll with live tallies (#poll) and
// its form (#poll-form, never re-rendered by SSE so typing is never lost), and segment markers
// (#segment-list, #segment-form).
import type { PollView } from "../../src/polls/index.ts";
import { formNotice, input, number, time, type Errors } from "../components.ts";
import { html, type Html } from "../html.ts";

export interface ReactionRates {
  emojis: string[];
  perSecond: Record<string, number>;
  perMinute: Record<string, number>;
}

export function reactionsPanel(r: ReactionRates): Html {
  const max = Math.max(1, ...r.emojis.map((e) => r.perMinute[e] ?? 0));
  const total = r.emojis.reduce((n, e) => n + (r.perMinute[e] ?? 0), 0);
  return html`<div id="reactions" class="reactions">
  <p class="muted small">${number(total)} in the last minute</p>
  <ul class="rate-list">
    ${r.emojis.map((e) => {
      const minute = r.perMinute[e] ?? 0;
      return html`<li>
      <span class="emoji" aria-hidden="true">${e}</span>
      <meter min="0" max="${max}" value="${minute}" aria-label="${`${e} reactions in the last minute`}"></meter>
      <span class="rate"><strong>${number(r.perSecond[e] ?? 0, 1)}</strong>/s · ${number(minute)}/min</span>
    </li>`;
    })}
  </ul>
</div>`;
}

export function pollPanel(slug: string, poll: PollView | null): Html {
  if (!poll) return html`<div id="poll" class="poll"><p class="muted">No poll is open.</p></div>`;
  const open = poll.status === "open";
  return html`<div id="poll" class="${open ? "poll poll-open" : "poll poll-closed"}" data-poll-id="${poll.id}">
  <p class="poll-q"><strong>${poll.question}</strong> <span class="${open ? "pill pill-live-soft" : "pill pill-offline"}">${open ? "Open" : "Closed"}</span></p>
  <ol class="tallies">
    ${poll.options.map((o, i) => {
      const n = poll.tallies[i] ?? 0;
      const pct = poll.total ? Math.round((n / poll.total) * 100) : 0;
      const won = !open && poll.winner === i;
      return html`<li class="${won ? "tally winner" : "tally"}">
      <span class="tally-label">${o}${won ? html` <span class="badge badge-ok">winner</span>` : null}</span>
      <meter min="0" max="${Math.max(1, poll.total)}" value="${n}" aria-label="${`${o}: ${n} votes`}"></meter>
      <span class="tally-n" data-option="${i}">${number(n)} · ${pct}%</span>
    </li>`;
    })}
  </ol>
  <p class="muted small"><span class="poll-total">${number(poll.total)}</span> votes · ${open ? html`closes ${time(poll.closes_at)}` : html`closed`}</p>
  ${open ? html`<button type="button" id="poll-close" class="btn btn-sm" hx-post="${`/dashboard/streams/${slug}/polls/close`}" hx-vals="${JSON.stringify({ poll_id: poll.id })}" hx-swap="none">Close poll</button>` : null}
</div>`;
}

/** The new-poll form inside its <details> (#poll-new): open while no poll runs, or to show errors. */
export function newPoll(slug: string, open: boolean, o: { values?: Record<string, string>; errors?: Errors; error?: string | null } = {}): Html {
  return html`<details id="poll-new" class="poll-new"${open ? html` open` : null}><summary>New poll</summary>${pollForm(slug, o)}</details>`;
}

export function pollForm(slug: string, o: { values?: Record<string, string>; errors?: Errors; error?: string | null } = {}): Html {
  const v = o.values ?? {};
  const e = o.errors ?? {};
  const optErr = (i: number) => e[`option${i}`] ?? (i === 0 ? e.options : undefined);
  return html`<form id="poll-form" class="stack poll-form" hx-post="${`/dashboard/streams/${slug}/polls`}" hx-target="#poll-new" hx-swap="outerHTML">
  ${formNotice("error", o.error ?? null)}
  ${input({ name: "question", label: "Question", value: v.question, errors: e, attrs: html` maxlength="60"` })}
  <fieldset class="options">
    <legend>Options (2 to 5)</legend>
    ${[0, 1, 2, 3, 4].map((i) => {
      const err = optErr(i);
      return html`<div class="${err ? "field has-error" : "field"}">
      <label class="sr-only" for="${`f-option${i}`}">Option ${i + 1}</label>
      <input id="${`f-option${i}`}" name="${`option${i}`}" type="text" maxlength="25" placeholder="${`Option ${i + 1}${i < 2 ? "" : " (optional)"}`}" value="${v[`option${i}`] ?? ""}"${err ? html` aria-invalid="true" aria-describedby="${`f-option${i}-error`}"` : null}>
      ${err ? html`<p class="field-error" id="${`f-option${i}-error`}">${err}</p>` : null}
    </div>`;
    })}
  </fieldset>
  ${input({ name: "duration_s", label: "Duration (seconds)", value: v.duration_s ?? "60", errors: e, hint: "15 to 1800", attrs: html` inputmode="numeric"` })}
  <button type="submit" class="btn btn-primary">Open poll</button>
</form>`;
}

export interface SegmentItem {
  label: string;
  started_at: string;
}

export function segmentList(segments: SegmentItem[]): Html {
  return html`<ol id="segment-list" class="segments">
  ${segments.length === 0 ? html`<li class="muted">No segment marked in this broadcast.</li>` : null}
  ${segments.map((s, i) => html`<li class="${i === segments.length - 1 ? "segment current" : "segment"}">${time(s.started_at)} <strong>${s.label}</strong>${i === segments.length - 1 ? html` <span class="badge">now</span>` : null}</li>`)}
</ol>`;
}

export function segmentForm(slug: string, live: boolean, error?: string | null): Html {
  return html`<form id="segment-form" class="inline-form" hx-post="${`/dashboard/streams/${slug}/segments`}" hx-target="this" hx-swap="outerHTML">
  <div class="${error ? "field has-error grow" : "field grow"}">
    <label for="f-segment">Mark a segment</label>
    <input id="f-segment" name="label" type="text" maxlength="40" placeholder="Q&amp;A, halftime…"${live ? null : html` disabled`}${error ? html` aria-invalid="true" aria-describedby="f-segment-error"` : null}>
    ${error ? html`<p class="field-error" id="f-segment-error">${error}</p>` : null}
  </div>
  <button type="submit" class="btn"${live ? null : html` disabled`}>Mark</button>
</form>`;
}
