// Country of a viewer from their IP, with an offline database shipped as an npm package
// (geoip-country, refreshed upstream from the GeoLite2 country data). Loaded on first use.
import { createRequire } from "node:module";

let lookup: ((ip: string) => { country?: string } | null) | null = null;

/** ISO 3166 code, or "" when unknown (private ranges, loopback, bad input). */
export function countryOf(ip: string): string {
  if (!ip) return "";
  try {
    lookup ??= (createRequire(import.meta.url)("geoip-country") as { lookup: (ip: string) => { country?: string } | null }).lookup;
    return lookup(ip)?.country ?? "";
  } catch {
    return "";
  }
}
