// The viewer pages: /watch/:slug (video, chat, reactions, poll, viewer count), /embed/:slug (the
// interaction parts for an iframe beside a platform's own player; `?parts=` picks them) and
// /overlay/:slug (a transparent page for OBS: reaction bursts and poll results), plus their static
// files. The pages are shells: the page script joins `stream:<slug>` and renders everything live.
// Each page gets a fresh CSP nonce; /embed and /overlay may be framed only by HUBBUB_EMBED_ORIGINS.
import { Elysia } from "elysia";
import type { Config } from "../../config.ts";
import { publicView, SLUG, type Streams } from "../../streams/index.ts";
import { randomToken } from "../../runtime/ids.ts";
import { notFoundPage, PARTS, renderViewerPage, type Mode, type Part } from "../../../views/viewer/pages.ts";
import type { Asset, ViewerAssets } from "./assets.ts";

export interface ViewerDeps {
  config: Readonly<Config>;
  streams: Streams;
  assets: ViewerAssets;
}

const DEFAULT_PARTS: Record<Mode, Part[]> = {
  watch: ["video", "chat", "reactions", "poll", "viewers"],
  embed: ["chat", "reactions", "poll", "viewers"],
  overlay: ["reactions", "poll"],
};
/** The parts each page may show: the embed never plays video (the platform's player does). */
const ALLOWED_PARTS: Record<Mode, readonly Part[]> = {
  watch: DEFAULT_PARTS.watch,
  embed: DEFAULT_PARTS.embed,
  overlay: ["reactions", "poll", "viewers"],
};

export function viewerRoutes(d: ViewerDeps) {
  const page = (mode: Mode) => ({ params, query }: { params: { slug: string }; query: Record<string, string | undefined> }) => {
    const stream = SLUG.test(params.slug) ? d.streams.findBySlug(params.slug) : undefined;
    const nonce = randomToken(18);
    if (!stream) return html(notFoundPage(nonce, d.assets), 404, csp(nonce, mode, d.config, null));
    const view = publicView(stream);
    const mediaOrigin = mode === "watch" ? originOf(view.playback_url) : null;
    const body = renderViewerPage({
      mode, nonce, stream: view, parts: parseParts(mode, query.parts), theme: query.theme === "light" ? "light" : query.theme === "dark" ? "dark" : null,
      embedOrigins: mode === "embed" ? d.config.embedOrigins : [], mediaOrigin, assets: d.assets,
    });
    return html(body, 200, csp(nonce, mode, d.config, mediaOrigin));
  };
  return new Elysia()
    .get("/watch/:slug", page("watch"))
    .get("/embed/:slug", page("embed"))
    .get("/overlay/:slug", page("overlay"))
    .get("/viewer/assets/:name", ({ request }) => {
      const a = d.assets.byPath.get(new URL(request.url).pathname);
      return a ? serveAsset(a, request) : new Response("not found", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
    });
}

/** `?parts=chat,poll`: the known parts for that page, in page order; none known: the defaults. */
export function parseParts(mode: Mode, raw: string | undefined): Part[] {
  if (!raw) return DEFAULT_PARTS[mode];
  const asked = new Set(raw.split(",").map((s) => s.trim()));
  const parts = ALLOWED_PARTS[mode].filter((p) => asked.has(p));
  return parts.length ? parts : DEFAULT_PARTS[mode];
}

function originOf(url: string | null): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? u.origin : null;
  } catch {
    return null;
  }
}

/**
 * Scripts only by this response's nonce ('strict-dynamic' lets the page script add the HLS player
 * it serves itself); styles only from our own stylesheet (the script sets positions through the
 * CSSOM, which CSP does not block); sockets to our own origin; media and fetches to the stream's
 * playback origin (the page reloads when that origin changes).
 */
export function csp(nonce: string, mode: Mode, config: Readonly<Config>, mediaOrigin: string | null): string {
  const media = mediaOrigin ? ` ${mediaOrigin}` : "";
  const ancestors = mode === "watch" || config.embedOrigins.length === 0 ? "'none'" : config.embedOrigins.join(" ");
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}' 'strict-dynamic'`,
    "style-src 'self'",
    "img-src 'self' data:",
    `media-src 'self' blob:${media}`,
    `connect-src 'self'${media}`,
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${ancestors}`,
  ].join("; ");
}

function html(body: string, status: number, policy: string): Response {
  const headers: Record<string, string> = {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": policy,
    "cache-control": "no-store", // every response has its own nonce
  };
  if (policy.includes("frame-ancestors 'none'")) headers["x-frame-options"] = "DENY";
  return new Response(body, { status, headers });
}

function serveAsset(a: Asset, req: Request): Response {
  const gz = /\bgzip\b/.test(req.headers.get("accept-encoding") ?? "");
  const headers: Record<string, string> = {
    "content-type": a.type,
    "cache-control": "public, max-age=31536000, immutable",
    vary: "accept-encoding",
  };
  if (gz) headers["content-encoding"] = "gzip";
  return new Response(gz ? a.gzip() : a.body, { headers });
}

export { PARTS };
