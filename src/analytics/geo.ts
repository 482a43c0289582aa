// Country of a viewer from their IP, with an offline database shipped as an npm package
// (geoip-country, refreshed upstream from the GeoLite2 country data). Loaded on first use.
//
// IPv4 addresses are looked up here, in the package's own data file, through an index by the first
// 16 bits: the package's lookup took ~4 µs per join with a large audience (one-off timing) (a binary search with a
// cache miss per step, then a new object with the country's names, currency, languages...; bench,
// issue 6); this takes a few probes in one small range. Anything else (IPv6, odd spellings) and a
// data file that does not look as expected go to the package's lookup. A test compares the two.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";

type PackageLookup = (ip: string) => { country?: string } | null;

const RECORD = 10; // bytes per IPv4 record: first address, last address (u32 big-endian), country (2 ASCII letters)

interface V4Index {
  starts: Uint32Array;
  ends: Uint32Array;
  country: string[]; // per record
  block: Int32Array; // per /16 block: index of the first record that ends inside or after it (65,537 entries)
}

let pkg: PackageLookup | null = null;
let v4: V4Index | null | undefined; // undefined: not loaded yet; null: not usable (the package answers)

function packageLookup(): PackageLookup {
  return (pkg ??= (createRequire(import.meta.url)("geoip-country") as { lookup: PackageLookup }).lookup);
}

/** The package's IPv4 data as arrays, or null when the file is missing or not in the expected layout. */
export function loadV4(): V4Index | null {
  try {
    const req = createRequire(import.meta.url);
    // (the folder the package reads: its settings, relative to its lib/ folder)
    const setting = process.env.npm_config_geoip_datadir || process.env.GEOIP_DATADIR || process.env.npm_config_geodatadir || process.env.GEODATADIR || "../data/";
    const dir = resolve(dirname(req.resolve("geoip-country/package.json")), "lib", setting);
    const buf = readFileSync(join(dir, "geoip-country.dat"));
    if (buf.length === 0 || buf.length % RECORD !== 0) return null;
    const n = buf.length / RECORD;
    const starts = new Uint32Array(n);
    const ends = new Uint32Array(n);
    const country: string[] = new Array(n);
    const codes = new Map<number, string>();
    for (let i = 0; i < n; i++) {
      const o = i * RECORD;
      starts[i] = buf.readUInt32BE(o);
      ends[i] = buf.readUInt32BE(o + 4);
      if (ends[i]! < starts[i]! || (i > 0 && starts[i]! <= ends[i - 1]!)) return null; // not sorted, disjoint ranges
      const code = buf.readUInt16BE(o + 8);
      let s = codes.get(code);
      if (s === undefined) codes.set(code, (s = buf.toString("latin1", o + 8, o + 10)));
      country[i] = s;
    }
    const block = new Int32Array(65_537);
    for (let b = 0, i = 0; b <= 65_536; b++) {
      const blockStart = b * 65_536;
      while (i < n && ends[i]! < blockStart) i++;
      block[b] = i;
    }
    return { starts, ends, country, block };
  } catch {
    return null;
  }
}

/** A dotted quad as a number (no leading zeros, as Node's isIPv4 takes them), or -1. */
function parseV4(ip: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const ch = ip.charCodeAt(i);
    if (ch === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (ch >= 48 && ch <= 57) {
      if (digits > 0 && part === 0) return -1; // a leading zero
      part = part * 10 + (ch - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

function lookupV4(x: V4Index, ip: number): string {
  const b = Math.floor(ip / 65_536);
  let lo = x.block[b]!;
  let hi = Math.min(x.block[b + 1]!, x.starts.length - 1);
  // The last record that starts at or before ip, among those that can hold this /16 block.
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (x.starts[mid]! <= ip) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 && x.ends[found]! >= ip ? x.country[found]! : "";
}

/** ISO 3166 code, or "" when unknown (private ranges, loopback, bad input). */
export function countryOf(ip: string): string {
  if (!ip) return "";
  try {
    if (v4 === undefined) v4 = loadV4();
    // (a server listening on "::" sees IPv4 peers as mapped addresses: "::ffff:1.2.3.4")
    const n = v4 ? parseV4(ip.startsWith("::ffff:") ? ip.slice(7) : ip) : -1;
    if (n >= 0) return lookupV4(v4!, n);
    return packageLookup()(ip)?.country ?? "";
  } catch {
    return "";
  }
}
