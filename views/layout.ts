// The dashboard's page shell: head with nonce'd scripts, the top bar, main, the toast region.
// The CSRF token rides on <body> through hx-headers:inherited, so every htmx request sends it.
// htmx's settle step is off (defaultSettleDelay 0): it copies old `style` attributes onto swapped-in
// elements, which the strict CSP (no inline styles) refuses, and we use no swap transitions.
import { html, json, type Html } from "./html.ts";

export const ASSETS = {
  css: "/dashboard/assets/dashboard.css",
  js: "/dashboard/assets/dashboard.js",
  htmx: "/dashboard/assets/vendor/htmx-4.0.1.min.js",
  sse: "/dashboard/assets/vendor/hx-sse-4.0.1.min.js",
  uplot: "/dashboard/assets/vendor/uplot-1.6.32.iife.min.js",
  uplotCss: "/dashboard/assets/vendor/uplot-1.6.32.min.css",
} as const;

export interface Viewer {
  username: string;
  role: "admin" | "creator" | "moderator";
}

export interface LayoutOptions {
  title: string;
  nonce: string;
  user: Viewer | null;
  csrf: string | null;
  nav?: "streams" | "accounts" | "api-keys";
  charts?: boolean;
  /** Wide pages (the live dashboard) use the whole screen. */
  wide?: boolean;
  /** Role classes (is-admin, can-manage) that show or hide role-only controls in shared fragments. */
  bodyClass?: string;
}

export const CSRF_HEADER = "X-CSRF-Token";

export function layout(o: LayoutOptions, content: Html): Html {
  const n = o.nonce;
  const navLink = (href: string, key: LayoutOptions["nav"], label: string) =>
    html`<a href="${href}"${o.nav === key ? html` aria-current="page"` : null}>${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta name="htmx-config" content='{"defaultSettleDelay":0}'>
<link rel="icon" href="data:,">
<title>${o.title} · Hubbub</title>
<link rel="stylesheet" href="${ASSETS.css}">
${o.charts ? html`<link rel="stylesheet" href="${ASSETS.uplotCss}">` : null}
<script nonce="${n}" src="${ASSETS.htmx}"></script>
<script nonce="${n}" src="${ASSETS.sse}"></script>
${o.charts ? html`<script nonce="${n}" src="${ASSETS.uplot}"></script>` : null}
<script nonce="${n}" src="${ASSETS.js}" defer></script>
</head>
<body${o.bodyClass ? html` class="${o.bodyClass}"` : null}${o.csrf ? html` hx-headers:inherited="${json({ [CSRF_HEADER]: o.csrf })}"` : null}>
<a class="skip" href="#main">Skip to content</a>
<header class="topbar">
  <a class="brand" href="/dashboard"><span class="brand-mark" aria-hidden="true">◉</span> Hubbub</a>
  ${o.user
    ? html`<nav class="mainnav" aria-label="Main">
    ${navLink("/dashboard", "streams", "Streams")}
    ${o.user.role === "admin" ? navLink("/dashboard/accounts", "accounts", "Accounts") : null}
    ${o.user.role === "admin" ? navLink("/dashboard/api-keys", "api-keys", "API keys") : null}
  </nav>
  <div class="who">
    <span class="who-name">${o.user.username}</span>
    <span class="role role-${o.user.role}">${o.user.role}</span>
    <button type="button" class="btn btn-ghost btn-sm" hx-post="/dashboard/logout" hx-swap="none">Log out</button>
  </div>`
    : null}
</header>
<main id="main" class="${o.wide ? "main wide" : "main"}">
${content}
</main>
<div id="toasts" class="toasts" role="status" aria-live="polite"></div>
</body>
</html>`;
}
