// Admin: accounts (#account-list) and the create form (#create-account). Moderators are assigned
// to streams on each stream's settings page.
import type { AccountView } from "../src/accounts/index.ts";
import { formNotice, input, roleBadge, select, time, type Errors } from "./components.ts";
import { html, partial, type Html } from "./html.ts";
import { layout, type Viewer } from "./layout.ts";

export function accountList(rows: AccountView[]): Html {
  return html`<section id="account-list" class="card">
  <h2>Accounts</h2>
  <div class="table-wrap"><table class="table">
    <thead><tr><th scope="col">Username</th><th scope="col">Role</th><th scope="col">Linked viewer id</th><th scope="col">Created</th></tr></thead>
    <tbody>${rows.map((a) => html`<tr><td>${a.username}</td><td>${roleBadge(a.role)}</td><td class="mono">${a.viewer_id ?? "—"}</td><td>${time(a.created_at, "datetime")}</td></tr>`)}</tbody>
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
  ${select({ name: "role", label: "Role", value: v.role ?? "moderator", errors: o.errors, options: [["moderator", "Moderator"], ["creator", "Creator"], ["admin", "Admin"]] })}
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
