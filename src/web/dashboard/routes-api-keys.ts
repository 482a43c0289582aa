// Admin only: API keys through the accounts door. The list never carries a key; the create
// response shows the new key exactly once (and is never cached: every dashboard response is no-store).
import { Elysia } from "elysia";
import type { ApiKeyView } from "../../accounts/index.ts";
import { SCOPES } from "../../actor.ts";
import { apiKeyCreated, apiKeyRevoked, apiKeysPage, createApiKeyForm } from "../../../views/api-keys.ts";
import type { DashboardContext } from "./context.ts";
import { checked, formOf } from "./form.ts";
import { htmlResponse, newNonce, toastResponse } from "./respond.ts";

/** Every key, newest first (bounded: 20 pages of 500). */
function allKeys(c: DashboardContext): ApiKeyView[] {
  const out: ApiKeyView[] = [];
  let after: string | null = null;
  for (let page = 0; page < 20; page++) {
    const rows = c.accounts.listApiKeys(after, 500);
    out.push(...rows);
    if (rows.length < 500) break;
    after = rows[rows.length - 1]!.id;
  }
  return out.sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
}

export function apiKeyRoutes(c: DashboardContext) {
  return new Elysia()
    .get("/dashboard/api-keys", c.auth.guard({ admin: true }, (who) => {
      const nonce = newNonce();
      return htmlResponse(apiKeysPage({ nonce, user: who.view, csrf: who.csrf, rows: allKeys(c) }), { nonce });
    }))
    .post("/dashboard/api-keys", c.auth.guard({ mutating: true, admin: true }, (who, { body }) => {
      const f = formOf(body);
      // One checkbox per scope (scope_<name>), so a repeated field never loses a value.
      const scopes = SCOPES.filter((sc) => checked(f[`scope_${sc}`]));
      const r = c.accounts.createApiKey(who.actor, { name: (f.name ?? "").trim(), scopes });
      if (!r.ok) {
        return htmlResponse(createApiKeyForm({ values: { name: f.name ?? "" }, scopes, errors: r.fields, error: r.fields ? null : r.message }), { status: 422 });
      }
      return htmlResponse(apiKeyCreated(allKeys(c), r.value.name, r.value.key), { status: 201 });
    }))
    .post("/dashboard/api-keys/:id/revoke", c.auth.guard({ mutating: true, admin: true }, (who, { params }) => {
      const r = c.accounts.revokeApiKey(who.actor, params.id ?? "");
      if (!r.ok) return toastResponse("error", r.message, r.code === "not_found" ? 404 : 422);
      return htmlResponse(apiKeyRevoked(allKeys(c), r.value.name));
    }));
}
