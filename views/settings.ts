// A stream's settings page: the settings form (#settings-form, errors from the domain's Refusal
// `fields` shown next to their field) and the moderators panel (#moderators).
import type { Settings } from "../src/streams/settings.ts";
import { checkbox, formNotice, input, select, textarea, type Errors } from "./components.ts";
import { html, type Html } from "./html.ts";
import { layout, type Viewer } from "./layout.ts";

/** The form's values: the stored settings, or what was typed when it was refused. */
export type SettingsValues = Record<string, string | boolean>;

export function settingsValues(title: string, s: Settings): SettingsValues {
  return {
    title,
    slow_mode_s: String(s.slow_mode_s),
    chat_delay_s: String(s.chat_delay_s),
    members_only: s.members_only,
    emote_only: s.emote_only,
    unique_chat: s.unique_chat,
    chat_closed: s.chat_closed,
    "rate_limit.messages": String(s.rate_limit.messages),
    "rate_limit.per_s": String(s.rate_limit.per_s),
    "moderator_rate_limit.messages": String(s.moderator_rate_limit.messages),
    "moderator_rate_limit.per_s": String(s.moderator_rate_limit.per_s),
    reaction_rate: String(s.reaction_rate),
    automod_level: String(s.automod_level),
    link_policy: s.link_policy,
    allowed_domains: s.allowed_domains.join("\n"),
    blocked_terms: s.blocked_terms.join("\n"),
    reactions: s.reactions.join(" "),
    "guests.react": s.guests.react,
    "guests.chat": s.guests.chat,
    "guests.vote": s.guests.vote,
    playback_url: s.playback_url ?? "",
    reaction_window_ms: String(s.reaction_window_ms),
    recovery_window: String(s.recovery_window),
    presence_list_max: String(s.presence_list_max),
    review_expiry_s: String(s.review_expiry_s),
    chat_retention_days: String(s.chat_retention_days),
  };
}

export const AUTOMOD_LEVELS: Array<[string, string]> = [
  ["0", "0 · Off (blocked terms and links only)"],
  ["1", "1 · Relaxed"],
  ["2", "2 · Standard"],
  ["3", "3 · Strict"],
  ["4", "4 · Strictest"],
];

/** The domain's messages, in people's words ("null" is an empty field here). */
function human(errors: Errors | undefined): Errors | undefined {
  if (!errors) return errors;
  return Object.fromEntries(Object.entries(errors).map(([k, m]) => [k, m.replace(/^expected /, "Expected ").replace(/\bnull or /, "empty or ")]));
}

export function settingsForm(o: { slug: string; values: SettingsValues; errors?: Errors; notice?: string | null; error?: string | null }): Html {
  const v = o.values;
  const e = human(o.errors);
  const str = (k: string) => String(v[k] ?? "");
  const num = (name: string, label: string, hint?: string, errorKey = `settings.${name}`) =>
    input({ name, label, type: "text", value: str(name), errors: e, errorKey, hint, attrs: html` inputmode="numeric"` });
  const box = (name: string, label: string, errorKey: string) => checkbox({ name, label, checked: v[name] === true, errors: e, errorKey });
  return html`<form id="settings-form" class="stack" hx-post="${`/dashboard/streams/${o.slug}/settings`}" hx-target="this" hx-swap="outerHTML" novalidate>
  ${formNotice("ok", o.notice ?? null)}${formNotice("error", o.error ?? null)}
  <fieldset class="card">
    <legend>Stream</legend>
    ${input({ name: "title", label: "Title", value: str("title"), errors: e, required: true })}
    ${input({ name: "playback_url", label: "Playback URL", type: "url", value: str("playback_url"), errors: e, errorKey: "settings.playback_url", hint: "HLS (.m3u8) or MP4 over http(s); empty for none", placeholder: "https://cdn.example.com/live/index.m3u8" })}
  </fieldset>
  <fieldset class="card">
    <legend>Chat modes</legend>
    <div class="grid-2">
      ${num("slow_mode_s", "Slow mode (seconds)", "0 = off, or 3 to 120")}
      ${select({ name: "chat_delay_s", label: "Chat delay", value: str("chat_delay_s"), errors: e, errorKey: "settings.chat_delay_s", options: [["0", "None"], ["2", "2 seconds"], ["4", "4 seconds"], ["6", "6 seconds"]] })}
    </div>
    <div class="checks">
      ${box("members_only", "Members only", "settings.members_only")}
      ${box("emote_only", "Emote only", "settings.emote_only")}
      ${box("unique_chat", "Unique chat (no repeats)", "settings.unique_chat")}
      ${box("chat_closed", "Chat closed", "settings.chat_closed")}
    </div>
  </fieldset>
  <fieldset class="card">
    <legend>Rate limits</legend>
    <div class="grid-2">
      ${num("rate_limit.messages", "Viewer messages", "1 to 10000", "settings.rate_limit")}
      ${num("rate_limit.per_s", "…per seconds", "1 to 3600", "settings.rate_limit")}
      ${num("moderator_rate_limit.messages", "Moderator messages", "1 to 10000", "settings.moderator_rate_limit")}
      ${num("moderator_rate_limit.per_s", "…per seconds", "1 to 3600", "settings.moderator_rate_limit")}
      ${num("reaction_rate", "Reactions per second per viewer", "1 to 1000")}
    </div>
  </fieldset>
  <fieldset class="card">
    <legend>Moderation</legend>
    <div class="grid-2">
      ${select({ name: "automod_level", label: "Automod level", value: str("automod_level"), errors: e, errorKey: "settings.automod_level", options: AUTOMOD_LEVELS })}
      ${select({ name: "link_policy", label: "Links", value: str("link_policy"), errors: e, errorKey: "settings.link_policy", options: [["allow", "Allow"], ["hold", "Hold for review"], ["block", "Block"]] })}
    </div>
    ${textarea({ name: "blocked_terms", label: "Blocked terms", value: str("blocked_terms"), errors: e, errorKey: "settings.blocked_terms", rows: 4, hint: "One per line; * at a word's start or end; /regex/ allowed if safe" })}
    ${textarea({ name: "allowed_domains", label: "Allowed link domains", value: str("allowed_domains"), errors: e, errorKey: "settings.allowed_domains", rows: 2, hint: "One per line, e.g. example.com" })}
  </fieldset>
  <fieldset class="card">
    <legend>Reactions and guests</legend>
    ${input({ name: "reactions", label: "Reaction emoji", value: str("reactions"), errors: e, errorKey: "settings.reactions", hint: "1 to 20 emoji, separated by spaces" })}
    <div class="checks">
      ${box("guests.react", "Guests may react", "settings.guests")}
      ${box("guests.chat", "Guests may chat", "settings.guests")}
      ${box("guests.vote", "Guests may vote", "settings.guests")}
    </div>
  </fieldset>
  <details class="card">
    <summary>Advanced</summary>
    <div class="grid-2">
      ${num("reaction_window_ms", "Reaction window (ms)", "250 to 5000")}
      ${num("recovery_window", "Recovery window (messages)", "0 to 100000")}
      ${num("presence_list_max", "Presence list limit", "0 to 20000")}
      ${num("review_expiry_s", "Review expiry (seconds)", "60 to 86400")}
      ${num("chat_retention_days", "Chat retention (days)", "0 = forever, or 1 to 3650")}
    </div>
  </details>
  <div class="form-actions sticky-actions">
    <button type="submit" class="btn btn-primary">Save settings</button>
  </div>
</form>`;
}

export function moderatorsPanel(o: { slug: string; moderators: string[]; error?: string | null; notice?: string | null; value?: string }): Html {
  return html`<section id="moderators" class="card stack" aria-labelledby="moderators-h">
  <h2 id="moderators-h">Moderators</h2>
  ${formNotice("ok", o.notice ?? null)}${formNotice("error", o.error ?? null)}
  <ul class="chips">
    ${o.moderators.length === 0 ? html`<li class="muted">No moderators yet.</li>` : null}
    ${o.moderators.map(
      (m) => html`<li class="chip">${m}
      <button type="button" class="chip-x" hx-post="${`/dashboard/streams/${o.slug}/moderators/remove`}" hx-vals="${JSON.stringify({ username: m })}" hx-target="#moderators" hx-swap="outerHTML" aria-label="${`Remove moderator ${m}`}">×</button></li>`,
    )}
  </ul>
  <form class="inline-form" hx-post="${`/dashboard/streams/${o.slug}/moderators`}" hx-target="#moderators" hx-swap="outerHTML">
    ${input({ name: "username", label: "Add a moderator (username)", value: o.value ?? "", attrs: html` autocapitalize="none" spellcheck="false"` })}
    <button type="submit" class="btn">Add</button>
  </form>
</section>`;
}

export function settingsPage(o: { nonce: string; user: Viewer; csrf: string; slug: string; title: string; values: SettingsValues; moderators: string[] }): Html {
  return layout(
    { title: `Settings · ${o.title}`, nonce: o.nonce, user: o.user, csrf: o.csrf, nav: "streams" },
    html`<div class="page-head">
  <p class="crumbs"><a href="/dashboard">Streams</a> / <a href="${`/dashboard/streams/${o.slug}`}">${o.slug}</a> / Settings</p>
  <h1>${o.title}</h1>
  <nav class="tabs" aria-label="Stream pages">
    <a href="${`/dashboard/streams/${o.slug}`}">Live</a>
    <a href="${`/dashboard/streams/${o.slug}/settings`}" aria-current="page">Settings</a>
    <a href="${`/dashboard/streams/${o.slug}/analytics`}">Analytics</a>
  </nav>
</div>
<div class="split">
  ${settingsForm({ slug: o.slug, values: o.values })}
  <aside class="stack">${moderatorsPanel({ slug: o.slug, moderators: o.moderators })}</aside>
</div>`,
  );
}
