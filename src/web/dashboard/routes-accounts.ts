// Admin only: the accounts list, creating an account and changing one (role, linked viewer id, a
// new password), each through the accounts door (argon2id, audit rows).
import { Elysia } from "elysia";
import { accountView, BOOTSTRAP_ADMIN, type AccountView } from "../../accounts/index.ts";
import { accountCreated, accountPage, accountSaved, accountsPage, createAccountForm, editAccountForm } from "../../../views/accounts.ts";
import { refuse } from "./auth.ts";
import type { DashboardContext } from "./context.ts";
import { formOf } from "./form.ts";
import { htmlResponse, newNonce, redirect } from "./respond.ts";

function allAccounts(c: DashboardContext): AccountView[] {
  const out: AccountView[] = [];
  let after: string | null = null;
  for (let page = 0; page < 20; page++) {
    const rows = c.accounts.list(after, 500);
    out.push(...rows.map(accountView));
    if (rows.length < 500) break;
    after = rows[rows.length - 1]!.id;
  }
  return out.sort((a, b) => a.username.localeCompare(b.username));
}

export function accountRoutes(c: DashboardContext) {
  return new Elysia()
    .get("/dashboard/accounts", c.auth.guard({ admin: true }, (who) => {
      const nonce = newNonce();
      return htmlResponse(accountsPage({ nonce, user: who.view, csrf: who.csrf, rows: allAccounts(c) }), { nonce });
    }))
    .post("/dashboard/accounts", c.auth.guard({ mutating: true, admin: true }, async (who, { body }) => {
      const f = formOf(body);
      const input: Record<string, unknown> = { username: (f.username ?? "").trim(), password: f.password ?? "", role: f.role ?? "" };
      if ((f.viewer_id ?? "").trim()) input.viewer_id = f.viewer_id!.trim();
      const r = await c.accounts.create(who.actor, input);
      if (!r.ok) {
        const { password: _p, ...values } = f;
        return htmlResponse(createAccountForm({ values, errors: r.fields, error: r.fields ? null : r.message }), { status: r.code === "conflict" ? 409 : 422 });
      }
      return htmlResponse(accountCreated(allAccounts(c), r.value.username), { status: 201 });
    }))
    .get("/dashboard/accounts/:username", c.auth.guard({ admin: true }, (who, { request, params }) => {
      const a = c.accounts.findByUsername(params.username ?? "");
      if (!a) return refuse(request, who, 404, "No such account", `There is no account ${params.username ?? ""}.`);
      const nonce = newNonce();
      return htmlResponse(accountPage({ nonce, user: who.view, csrf: who.csrf, account: accountView(a), bootstrap: a.username === BOOTSTRAP_ADMIN }), { nonce });
    }))
    .post("/dashboard/accounts/:username", c.auth.guard({ mutating: true, admin: true }, async (who, { request, params, body }) => {
      const username = params.username ?? "";
      const f = formOf(body);
      // Empty viewer id unlinks; an empty password keeps the current one.
      const input: Record<string, unknown> = { role: f.role ?? "", viewer_id: (f.viewer_id ?? "").trim() || null };
      if (f.password) input.password = f.password;
      const r = await c.accounts.update(who.actor, username, input);
      if (!r.ok && r.code === "not_found") return refuse(request, who, 404, "No such account", `There is no account ${username}.`);
      const values = { role: f.role ?? "", viewer_id: f.viewer_id ?? "" };
      if (!r.ok) {
        return htmlResponse(editAccountForm({ username, bootstrap: username === BOOTSTRAP_ADMIN, values, errors: r.fields, error: r.fields ? null : r.message }), { status: r.code === "conflict" ? 409 : 422 });
      }
      // Their own account: a new password ended this session, and without the admin role these pages refuse.
      if (r.value.id === who.account.id && input.password) return redirect("/dashboard/login", request);
      if (r.value.id === who.account.id && r.value.role !== "admin") return redirect("/dashboard", request);
      return htmlResponse(accountSaved(r.value, input.password ? "Saved. Their dashboard sessions have ended." : "Saved."));
    }));
}
