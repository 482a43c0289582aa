// Admin: API keys (#api-key-list) and the create form (#create-api-key). The key itself is shown
// once, in the create form's response, and never again: the list shows name, scopes and state only.
import type { ApiKeyView } from "../src/accounts/index.ts";
import { SCOPES } from "../src/actor.ts";
import { formNotice, input, time, toast, type Errors } from "./components.ts";
import { html, partial, type Html } from "./html.ts";
import { layout, type Viewer } from "./layout.ts";

const SCOPE_HINTS: Record<string, string> = {
  streams: "Create, change and run streams",
  moderation: "Moderate chat and review queues",
  analytics: "Read analytics and reports",
  admin: "Everything, including accounts and keys",
};

export function apiKeyList(rows: ApiKeyView[]): Html {
  return html`<section id="api-key-list" class="card">
  <h2>API keys</h2>
  ${rows.length === 0
    ? html`<p class="muted">No API keys yet.</p>`
    : html`<div class="table-wrap"><table class="table">
    <thead><tr><th scope="col">Name</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
    <tbody>${rows.map((k) => html`<tr id="${`api-key-${k.id}`}" class="${k.revoked_at ? "api-key revoked" : "api-key"}"><td>${k.name}</td><td class="mono">${k.scopes.join(", ")}</td><td>${time(k.created_at, "datetime")}</td><td>${k.revoked_at ? html`<span class="pill pill-offline">Revoked</span> ${time(k.revoked_at, "datetime")}` : html`<span class="pill pill-live">Active</span>`}</td><td>${k.revoked_at
      ? null
      : html`<button type="button" class="btn btn-danger btn-sm" hx-post="${`/dashboard/api-keys/${encodeURIComponent(k.id)}/revoke`}" hx-swap="none" hx-confirm="${`Revoke the API key ${k.name}? Anything using it stops working at once.`}">Revoke</button>`}</td></tr>`)}</tbody>
  </table></div>`}
</section>`;
}

/** The freshly created key: the only place it is ever shown. */
function newKey(name: string, key: string): Html {
  return html`<div id="new-api-key" class="notice notice-ok" role="status">
  <p><strong>API key ${name} created.</strong> Copy it now: it is shown only this once and cannot be shown again.</p>
  <p><code id="new-api-key-value" class="mono">${key}</code></p>
</div>`;
}

export function createApiKeyForm(o: { values?: Record<string, string>; scopes?: string[]; errors?: Errors; error?: string | null; created?: { name: string; key: string } | null } = {}): Html {
  const v = o.values ?? {};
  const chosen = new Set(o.scopes ?? []);
  const scopeErr = o.errors?.scopes;
  return html`<form id="create-api-key" class="card stack" hx-post="/dashboard/api-keys" hx-target="this" hx-swap="outerHTML">
  <h2>New API key</h2>
  ${o.created ? newKey(o.created.name, o.created.key) : null}${formNotice("error", o.error ?? null)}
  ${input({ name: "name", label: "Name", value: v.name, errors: o.errors, required: true, hint: "What uses this key, e.g. the streaming bot", attrs: html` maxlength="100" autocomplete="off"` })}
  <fieldset class="${scopeErr ? "scopes has-error" : "scopes"}"${scopeErr ? html` aria-invalid="true" aria-describedby="f-scopes-error"` : null}>
    <legend>Scopes</legend>
    ${SCOPES.map((sc) => html`<div class="field check">
      <input id="${`f-scope-${sc}`}" name="${`scope_${sc}`}" type="checkbox" value="on"${chosen.has(sc) ? html` checked` : null} aria-describedby="${`f-scope-${sc}-hint`}">
      <label for="${`f-scope-${sc}`}">${sc}</label>
      <p class="hint" id="${`f-scope-${sc}-hint`}">${SCOPE_HINTS[sc] ?? ""}</p>
    </div>`)}
    ${scopeErr ? html`<p class="field-error" id="f-scopes-error">${scopeErr}</p>` : null}
  </fieldset>
  <button type="submit" class="btn btn-primary">Create API key</button>
</form>`;
}

export function apiKeysPage(o: { nonce: string; user: Viewer; csrf: string; rows: ApiKeyView[] }): Html {
  return layout(
    { title: "API keys", nonce: o.nonce, user: o.user, csrf: o.csrf, nav: "api-keys" },
    html`<div class="page-head"><h1>API keys</h1><p class="muted">Bearer keys for the JSON API. A key is shown once, when it is created; revoking one stops it at once.</p></div>
<div class="split">${apiKeyList(o.rows)}${createApiKeyForm()}</div>`,
  );
}

export function apiKeyCreated(rows: ApiKeyView[], name: string, key: string): Html {
  return html`${createApiKeyForm({ created: { name, key } })}${partial("#api-key-list", "outerHTML", apiKeyList(rows))}`;
}

export function apiKeyRevoked(rows: ApiKeyView[], name: string): Html {
  return html`${partial("#api-key-list", "outerHTML", apiKeyList(rows))}${toast("ok", `API key ${name} revoked.`)}`;
}
