// Error pages and fragments: safe to swap (htmx 4 swaps error responses by default).
import { html, type Html } from "./html.ts";
import { layout, type Viewer } from "./layout.ts";

export function errorPage(o: { nonce: string; user: Viewer | null; csrf: string | null; status: number; title: string; message: string }): Html {
  return layout(
    { title: o.title, nonce: o.nonce, user: o.user, csrf: o.csrf },
    html`<section class="card error-page">
  <p class="error-code">${o.status}</p>
  <h1>${o.title}</h1>
  <p>${o.message}</p>
  <p><a class="btn" href="/dashboard">Back to your streams</a></p>
</section>`,
  );
}
