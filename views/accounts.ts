// Admin: accounts (#account-list), the create form (#create-account) and one account's edit page
// (#edit-account: role, linked viewer id, a new password). Moderators are assigned to streams on
// each stream's settings page.
import { BOOTSTRAP_ADMIN, type AccountView } from "../src/accounts/index.ts";
import { formNotice, input, roleBadge, select, time, type Errors } from "./components.ts";
import { html, partial, type Html } from "./html.ts";
import { layout, type Viewer } from "./layout.ts";

const ROLE_OPTIONS: Array<[string, string]> = [["moderator", "Moderator"], ["creator", "Creator"], ["admin", "Admin"]];

export const accountHref = (username: string) => `/dashboard/accounts/${encodeURIComponent(username)}`;

export function accountList(rows: AccountView[]): Html {
  return html`<section id="account-list" class="card">
  <h2>Accounts</h2>
  <div class="table-wrap"><table class="table">
    <thead><tr><th scope="col">Username</th><th scope="col">Role</th><th scope="col">Linked viewer id</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
    <tbody>${rows.map((a) => html`<tr><td>${a.username}</td><td>${roleBadge(a.role)}</td><td class="mono">${a.viewer_id ?? "—"}</td><td>${time(a.created_at, "datetime")}</td><td><a class="btn btn-sm" href="${accountHref(a.username)}" aria-label="${`Edit ${a.username}`}">Edit</a></td></tr>`)}</tbody>
  </table></div>
</section>`;
}

export function createAccountForm(o: { values?: Record<string, string>; errors?: Errors; notice?: string | null; error?: string | null } = {}): Html {
  const v = o.values ?? {};
  return html`<form id="create-account" class="card stack" hx-post="/dashboard/accounts" hx-target="this" hx-swap="outerHTML">
  <h2>New account</h2>
  ${formNotice("ok", o.notice ?? null)}${formNotice("error", o.error ?? null)}
  ${input({ name: "username", label: "Username", value: v.username, errors: o.errors, required: true, attrs: html` autocapitalize="none" spellcheck="false" autocomplete="off"` })}
  ${input({ name: "password", label: "Password", type: "password", errors: o.errors, required: true, hint: "8 to 256 characters", autocomplete: "new-password" })}
  ${select({ name: "role", label: "Role", value: v.role ?? "moderator", errors: o.errors, options: ROLE_OPTIONS })}
  ${input({ name: "viewer_id", label: "Linked viewer id (optional)", value: v.viewer_id, errors: o.errors, hint: "The host platform's user id, so their chat carries badges and their socket may moderate" })}
  <button type="submit" class="btn btn-primary">Create account</button>
</form>`;
}

export function accountsPage(o: { nonce: string; user: Viewer; csrf: string; rows: AccountView[] }): Html {
  return layout(
    { title: "Accounts", nonce: o.nonce, user: o.user, csrf: o.csrf, nav: "accounts" },
    html`<div class="page-head"><h1>Accounts</h1><p class="muted">Dashboard logins. Assign moderators on a stream's settings page.</p></div>
<div class="split">${accountList(o.rows)}${createAccountForm()}</div>`,
  );
}

export function accountCreated(rows: AccountView[], username: string): Html {
  return html`${createAccountForm({ notice: `Account ${username} created.` })}${partial("#account-list", "outerHTML", accountList(rows))}`;
}

/** The edit form's values: role and viewer id as saved (or as typed, after an error); never a password. */
export interface AccountEditValues {
  role: string;
  viewer_id: string;
}

export function editAccountForm(o: { username: string; bootstrap: boolean; values: AccountEditValues; errors?: Errors; notice?: string | null; error?: string | null }): Html {
  const v = o.values;
  return html`<form id="edit-account" class="card stack" hx-post="${accountHref(o.username)}" hx-target="this" hx-swap="outerHTML">
  <h2>Edit ${o.username}</h2>
  ${formNotice("ok", o.notice ?? null)}${formNotice("error", o.error ?? null)}
  ${select({ name: "role", label: "Role", value: v.role, errors: o.errors, options: ROLE_OPTIONS, hint: o.bootstrap ? "The bootstrap admin keeps the admin role, so that one admin always remains" : "Takes effect at their next click; moderators also need streams assigned" })}
  ${input({ name: "viewer_id", label: "Linked viewer id", value: v.viewer_id, errors: o.errors, hint: "The host platform's user id; empty to unlink", attrs: html` autocapitalize="none" spellcheck="false" autocomplete="off"` })}
  ${input({ name: "password", label: "New password", type: "password", errors: o.errors, hint: "Empty to keep the current one. A new password ends their dashboard sessions.", autocomplete: "new-password" })}
  <button type="submit" class="btn btn-primary">Save account</button>
</form>`;
}

function accountSummary(a: AccountView): Html {
  return html`<p id="account-summary" class="muted">${roleBadge(a.role)} · created ${time(a.created_at, "datetime")} · changed ${time(a.updated_at, "datetime")}</p>`;
}

/** After a save: the form with its notice, and the page's summary line as it is now. */
export function accountSaved(a: AccountView, notice: string): Html {
  return html`${editAccountForm({ username: a.username, bootstrap: a.username === BOOTSTRAP_ADMIN, values: { role: a.role, viewer_id: a.viewer_id ?? "" }, notice })}${partial("#account-summary", "outerHTML", accountSummary(a))}`;
}

export function accountPage(o: { nonce: string; user: Viewer; csrf: string; account: AccountView; bootstrap: boolean }): Html {
  const a = o.account;
  return layout(
    { title: `Account · ${a.username}`, nonce: o.nonce, user: o.user, csrf: o.csrf, nav: "accounts" },
    html`<div class="page-head">
  <p class="crumbs"><a href="/dashboard/accounts">Accounts</a> / ${a.username}</p>
  <h1>${a.username}</h1>
  ${accountSummary(a)}
</div>
<div class="split">${editAccountForm({ username: a.username, bootstrap: o.bootstrap, values: { role: a.role, viewer_id: a.viewer_id ?? "" } })}</div>`,
  );
}
