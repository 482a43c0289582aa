// The viewer pages' static files, built once at start and held in memory: the page script
// (src/client bundled with the official phoenix client by Bun's bundler), the stylesheet and the
// vendored HLS player. Names carry a content hash (or the vendored version), so they are served
// with a year-long immutable cache; a gzip copy is made on first request and kept.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const CLIENT_ENTRY = join(import.meta.dir, "../../client/main.ts");
const PUBLIC_DIR = join(import.meta.dir, "../../../public/viewer");
/** The vendored hls.js (light build): public/viewer/vendor/, the version in the file name. */
export const HLS_FILE = "hls.light-1.7.4.min.js";

export const ASSET_PREFIX = "/viewer/assets/";

export interface Asset {
  /** The URL path it is served at. */
  path: string;
  type: string;
  body: Uint8Array<ArrayBuffer>;
  /** Compressed on first use (the HLS player alone takes tens of ms), then kept. */
  gzip(): Uint8Array<ArrayBuffer>;
}

export interface ViewerAssets {
  script: Asset;
  style: Asset;
  hls: Asset;
  byPath: Map<string, Asset>;
}

function asset(name: string, ext: string, type: string, body: Uint8Array<ArrayBuffer>, hashed = true): Asset {
  const hash = hashed ? "-" + new Bun.CryptoHasher("sha256").update(body).digest("base64url").slice(0, 12) : "";
  let gz: Uint8Array<ArrayBuffer> | null = null;
  return { path: `${ASSET_PREFIX}${name}${hash}${ext}`, type, body, gzip: () => (gz ??= Bun.gzipSync(body, { level: 9 })) };
}

/** Bundles the client and reads the static files; throws (stopping the start) if the bundle fails. */
export async function buildViewerAssets(): Promise<ViewerAssets> {
  const built = await Bun.build({ entrypoints: [CLIENT_ENTRY], target: "browser", format: "iife", minify: true, sourcemap: "none" });
  if (!built.success || !built.outputs[0]) {
    throw new Error(`the viewer page script did not build: ${built.logs.map((l) => String(l)).join("; ")}`);
  }
  const script = asset("viewer", ".js", "text/javascript; charset=utf-8", new Uint8Array(await built.outputs[0].arrayBuffer()));
  const style = asset("viewer", ".css", "text/css; charset=utf-8", new Uint8Array(readFileSync(join(PUBLIC_DIR, "viewer.css"))));
  const hls = asset(HLS_FILE.replace(/\.js$/, ""), ".js", "text/javascript; charset=utf-8", new Uint8Array(readFileSync(join(PUBLIC_DIR, "vendor", HLS_FILE))), false);
  return { script, style, hls, byPath: new Map([script, style, hls].map((a) => [a.path, a])) };
}
