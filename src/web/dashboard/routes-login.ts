// Login and logout. Login is a plain form post (it works before any script loads), checked for a
// same-origin source like every state change, rate-limited per username, argon2id-verified by the
// accounts door. Logout deletes the session row and the cookie.
import { Elysia } from "elysia";
import { KeyedBuckets } from "../../runtime/token-bucket.ts";
import { loginPage } from "../../../views/login.ts";
import { refuse } from "./auth.ts";
import type { DashboardContext } from "./context.ts";
import { formOf } from "./form.ts";
import { htmlResponse, newNonce, redirect } from "./respond.ts";

/** Only our own dashboard paths: never an absolute or protocol-relative URL. */
export function safeNext(next: string | undefined): string {
  return next && /^\/dashboard(\/[^\s\\\x00-\x1f\x7f]*)?(\?[^\s\\\x00-\x1f\x7f]*)?$/.test(next) && !next.startsWith("//") ? next : "/dashboard";
}

export function loginRoutes(c: DashboardContext) {
  // 10 attempts at once, then one every 6 s, per username and client address: a stranger guessing
  // from elsewhere cannot lock the real user out (argon2id is slow on purpose as well).
  const attempts = new KeyedBuckets(1 / 6, 10);
  return new Elysia()
    .get("/dashboard/login", ({ request, query }) => {
      if (c.auth.sessionOf(request)) return redirect(safeNext(query.next), request);
      const nonce = newNonce();
      return htmlResponse(loginPage({ nonce, next: safeNext(query.next) }), { nonce });
    })
    .post("/dashboard/login", async ({ request, body, server }) => {
      if (!c.auth.sameOrigin(request)) return refuse(request, null, 403, "Refused", "This login did not come from the Hubbub login page.");
      const f = formOf(body);
      const username = (f.username ?? "").trim().slice(0, 64);
      const password = (f.password ?? "").slice(0, 256);
      const next = safeNext(f.next);
      const nonce = newNonce();
      const now = c.clock.now();
      attempts.sweep(now);
      const wait = attempts.take(`${username.toLowerCase()}\u0000${server?.requestIP(request)?.address ?? ""}`, now);
      if (wait > 0) {
        return htmlResponse(loginPage({ nonce, username, next, error: `Too many attempts. Try again in ${Math.ceil(wait / 1000)} s.` }), { nonce, status: 429, headers: { "retry-after": String(Math.ceil(wait / 1000)) } });
      }
      const acc = username && password ? await c.accounts.verifyPassword(username, password) : null;
      if (!acc) return htmlResponse(loginPage({ nonce, username, next, error: "Wrong username or password." }), { nonce, status: 401 });
      const s = c.sessions.create(acc.id);
      c.logger.info("dashboard login", { account: acc.id });
      return redirect(next, request, { "set-cookie": c.auth.cookie(s.token, s.expiresAt, now) });
    })
    .post("/dashboard/logout", c.auth.guard({ mutating: true }, (who, { request }) => {
      c.sessions.delete(who.tokenHash);
      return redirect("/dashboard/login", request, { "set-cookie": c.auth.clearCookie() });
    }));
}
