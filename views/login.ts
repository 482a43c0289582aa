// The login page: a plain form (works before any script loads), posted to the same origin.
import { formNotice, input } from "./components.ts";
import { html, type Html } from "./html.ts";
import { layout } from "./layout.ts";

export function loginPage(o: { nonce: string; error?: string | null; username?: string; next?: string }): Html {
  return layout(
    { title: "Log in", nonce: o.nonce, user: null, csrf: null },
    html`<section class="login card">
  <h1>Log in to Hubbub</h1>
  <p class="muted">Creators, moderators and admins manage their streams here.</p>
  ${formNotice("error", o.error ?? null)}
  <form method="post" action="/dashboard/login" class="stack">
    <input type="hidden" name="next" value="${o.next ?? "/dashboard"}">
    ${input({ name: "username", label: "Username", value: o.username ?? "", required: true, autocomplete: "username", attrs: html` autofocus autocapitalize="none" spellcheck="false"` })}
    ${input({ name: "password", label: "Password", type: "password", required: true, autocomplete: "current-password" })}
    <button type="submit" class="btn btn-primary">Log in</button>
  </form>
</section>`,
  );
}
