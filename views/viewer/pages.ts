// The viewer page shells. The server renders the static frame (title, reaction buttons, video or its
// placeholder) so the first paint is right; src/client fills in everything live. Every piece of text
// from the stream goes through esc(); settings for the script travel in data attributes.
import type { PublicStream } from "../../src/streams/index.ts";
import type { ViewerAssets } from "../../src/web/viewer/assets.ts";

export type Mode = "watch" | "embed" | "overlay";
export const PARTS = ["video", "chat", "reactions", "poll", "viewers"] as const;
export type Part = (typeof PARTS)[number];

const esc = (s: string) => Bun.escapeHTML(s);

export interface PageModel {
  mode: Mode;
  nonce: string;
  stream: PublicStream;
  parts: Part[];
  theme: "light" | "dark" | null;
  embedOrigins: string[];
  mediaOrigin: string | null;
  assets: ViewerAssets;
}

export function renderViewerPage(m: PageModel): string {
  const has = (p: Part) => m.parts.includes(p);
  const s = m.stream;
  const data = [
    `data-mode="${m.mode}"`,
    `data-slug="${esc(s.slug)}"`,
    `data-parts="${m.parts.join(" ")}"`,
    `data-hls="${esc(m.assets.hls.path)}"`,
    m.mode === "embed" ? `data-embed-origins="${esc(m.embedOrigins.join(" "))}"` : "",
    m.mediaOrigin ? `data-media-origin="${esc(m.mediaOrigin)}"` : "",
  ].filter(Boolean).join(" ");
  const classes = ["viewer", `mode-${m.mode}`, ...m.parts.map((p) => `has-${p}`), m.theme ? `theme-${m.theme}` : ""].filter(Boolean).join(" ");
  const title = m.mode === "overlay" ? `${s.title} · overlay` : s.title;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,viewport-fit=cover">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<title>${esc(title)} · Hubbub</title>
<link rel="stylesheet" href="${m.assets.style.path}">
<script defer nonce="${m.nonce}" src="${m.assets.script.path}"></script>
</head>
<body class="${classes}" ${data}>
${m.mode === "overlay" ? overlayBody(m, has) : interactiveBody(m, has)}
</body></html>`;
}

function interactiveBody(m: PageModel, has: (p: Part) => boolean): string {
  const s = m.stream;
  const header = m.mode === "watch" || has("viewers")
    ? `<header class="topbar">
${m.mode === "watch" ? `<h1 class="title">${esc(s.title)}</h1>` : ""}
<span class="status" data-status="${s.status}">${s.status === "live" ? "Live" : "Offline"}</span>
${has("viewers") ? `<span class="viewers"><span class="n">–</span> watching</span>` : ""}
</header>`
    : "";
  return `${has("chat") ? `<a class="skip" href="#chat-input">Skip to chat</a>` : ""}
<div class="conn" role="status" aria-live="polite">Connecting…</div>
<div class="layout">
${header}
${has("video") ? stage(s) : ""}
${m.mode === "watch" && has("reactions") ? reactions(s) : ""}
${has("poll") ? `<section class="poll" aria-label="Poll" hidden></section>` : ""}
${has("chat") ? chat() : ""}
${m.mode === "embed" && has("reactions") ? reactions(s) : ""}
</div>
${has("reactions") && !has("video") ? `<div class="burst" aria-hidden="true"></div>` : ""}`;
}

function overlayBody(m: PageModel, has: (p: Part) => boolean): string {
  return `<div class="conn" role="status">Connecting…</div>
${has("reactions") ? `<div class="burst" aria-hidden="true"></div>` : ""}
${has("viewers") ? `<div class="topbar"><span class="viewers"><span class="n">–</span> watching</span></div>` : ""}
${has("poll") ? `<section class="poll" aria-label="Poll" hidden></section>` : ""}`;
}

function stage(s: PublicStream): string {
  return `<section class="stage" aria-label="Video">
<div class="player">${placeholder(s)}</div>
<div class="burst" aria-hidden="true"></div>
</section>`;
}

/** What shows until (or instead of) a playable video; the script swaps in the player. */
function placeholder(s: PublicStream): string {
  const text = s.playback_url ? "Loading the video…" : s.status === "live" ? "The stream is live, but its video is not available here." : "No video right now. Chat and reactions are open.";
  return `<div class="placeholder"><span class="placeholder-icon" aria-hidden="true">▶</span><p>${esc(text)}</p></div>`;
}

function reactions(s: PublicStream): string {
  const buttons = s.reactions
    .map((e) => `<button type="button" class="react" data-emoji="${esc(e)}" aria-label="React with ${esc(e)}"><span class="e" aria-hidden="true">${esc(e)}</span><span class="count" data-count="0">0</span></button>`)
    .join("");
  return `<section class="reactions" aria-label="Reactions"><div class="react-buttons">${buttons}</div><p class="react-note" role="status"></p></section>`;
}

function chat(): string {
  return `<section class="chat" aria-label="Chat">
<h2 class="sr">Chat</h2>
<div class="log-wrap">
<ol class="log" role="log" aria-label="Chat messages" tabindex="0"></ol>
<button type="button" class="more" hidden>New messages ↓</button>
</div>
<p class="modes" hidden></p>
<p class="identity"></p>
<form class="composer" autocomplete="off">
<div class="replying" hidden><span class="replying-text"></span><button type="button" class="cancel-reply" aria-label="Cancel the reply">✕</button></div>
<div class="compose-row">
<label for="chat-input" class="sr">Message</label>
<input id="chat-input" name="body" maxlength="2000" placeholder="Say something…" enterkeyhint="send" disabled>
<button type="submit" class="send" disabled>Send</button>
</div>
</form>
<p class="chat-status" role="status" aria-live="polite"></p>
</section>`;
}

export function notFoundPage(_nonce: string, assets: ViewerAssets): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>No such stream · Hubbub</title>
<link rel="stylesheet" href="${assets.style.path}">
</head><body class="viewer not-found"><main class="missing"><h1>No such stream</h1><p>Check the address: this stream does not exist or was removed.</p></main></body></html>`;
}
