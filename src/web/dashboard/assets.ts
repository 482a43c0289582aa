// The dashboard's static files (public/dashboard/**), read once at start and served from memory:
// only the files listed there exist, so no path can reach outside. Vendored files carry their
// version in the name and are cached for a year; our own CSS and JS are revalidated by ETag.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

export const ASSET_DIR = resolve(import.meta.dir, "../../../public/dashboard");

interface Asset {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
  immutable: boolean;
}

export class Assets {
  private files = new Map<string, Asset>();

  constructor(dir = ASSET_DIR) {
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else {
          const ext = name.slice(name.lastIndexOf("."));
          const type = TYPES[ext];
          if (!type) continue;
          const body = new Uint8Array(readFileSync(p)) as Uint8Array<ArrayBuffer>;
          const rel = relative(dir, p).split("\\").join("/");
          this.files.set(rel, { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"`, immutable: rel.startsWith("vendor/") });
        }
      }
    };
    walk(dir);
    for (const need of ["dashboard.css", "dashboard.js", "vendor/htmx-4.0.1.min.js", "vendor/hx-sse-4.0.1.min.js", "vendor/uplot-1.6.32.iife.min.js"]) {
      if (!this.files.has(need)) throw new Error(`dashboard asset missing: public/dashboard/${need}`);
    }
  }

  serve(path: string, req: Request): Response {
    const a = this.files.get(path);
    if (!a) return new Response("not found", { status: 404, headers: { "content-type": "text/plain", "x-content-type-options": "nosniff" } });
    const headers: Record<string, string> = {
      "content-type": a.type,
      etag: a.etag,
      "cache-control": a.immutable ? "public, max-age=31536000, immutable" : "no-cache",
      "x-content-type-options": "nosniff",
      "cross-origin-resource-policy": "same-origin",
    };
    if (req.headers.get("if-none-match") === a.etag) return new Response(null, { status: 304, headers });
    return new Response(a.body, { headers });
  }
}
