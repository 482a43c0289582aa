// Server-rendered pages. For now only the landing page; the dashboard and viewer pages arrive with
// their issues. Every piece of user text goes through Bun.escapeHTML.
import { Elysia } from "elysia";
import type { Config } from "../config.ts";
import type { Streams } from "../streams/index.ts";

const esc = (s: string) => Bun.escapeHTML(s);

export function pageRoutes(d: { config: Readonly<Config>; streams: Streams }) {
  return new Elysia().get("/", () => {
    const streams = d.streams.list(null, 20);
    const items = streams
      .map((s) => `<li><code>stream:${esc(s.slug)}</code> <a href="/watch/${esc(s.slug)}">${esc(s.title)}</a> <small>(${s.status}) · <a href="/embed/${esc(s.slug)}">embed</a> · <a href="/overlay/${esc(s.slug)}">overlay</a></small></li>`)
      .join("");
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Hubbub</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d1d27}code{background:#f1f0f6;padding:.1em .3em;border-radius:4px}</style>
</head><body>
<h1>Hubbub is running</h1>
<p>Viewers connect to <code>${esc(d.config.publicUrl.replace(/^http/, "ws"))}/socket/websocket</code> with the Phoenix Channels V2 protocol.</p>
<h2>Streams</h2><ul id="streams">${items || "<li>No streams yet.</li>"}</ul>
<p><a href="/dashboard">Dashboard</a> (creators, moderators, admins) · API: <a href="/api/docs">/api/docs</a> · Operations: <a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a> · <a href="/metrics">/metrics</a></p>
</body></html>`;
    return new Response(html, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
        "x-frame-options": "DENY",
      },
    });
  });
}
