// Admin only: the accounts list and creating an account (argon2id through the accounts door).
import { Elysia } from "elysia";
import { accountView, type AccountView } from "../../accounts/index.ts";
import { accountCreated, accountsPage, createAccountForm } from "../../../views/accounts.ts";
import type { DashboardContext } from "./context.ts";
import { formOf } from "./form.ts";
import { htmlResponse, newNonce } from "./respond.ts";

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
    }));
}
