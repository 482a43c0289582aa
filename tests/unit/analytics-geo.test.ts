// countryOf's own IPv4 index (src/analytics/geo.ts) against the geoip-country package's lookup, on
// the package's data: random addresses over the whole space, every record's first and last address
// and their neighbours, and spellings that only the package handles (IPv6, mapped IPv4, bad input).
import { expect, test } from "bun:test";
import { createRequire } from "node:module";
import { countryOf, loadV4 } from "../../src/analytics/geo.ts";
import { prng } from "../support/prng.ts";

const pkg = (createRequire(import.meta.url)("geoip-country") as { lookup: (ip: string) => { country?: string } | null }).lookup;
const theirs = (ip: string) => pkg(ip)?.country ?? "";
const dotted = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

test("the package's IPv4 data loads into the index (else every lookup would go to the package)", () => {
  const x = loadV4();
  expect(x).not.toBeNull();
  expect(x!.starts.length).toBeGreaterThan(100_000);
});

test("countryOf equals the package on 200,000 random addresses and at every 50th record's edges", () => {
  const r = prng(99);
  const diffs: string[] = [];
  for (let i = 0; i < 200_000; i++) {
    const ip = dotted(Math.floor(r() * 4294967296));
    if (countryOf(ip) !== theirs(ip)) diffs.push(ip);
  }
  const x = loadV4()!;
  for (let i = 0; i < x.starts.length; i += 50) {
    for (const n of [x.starts[i]! - 1, x.starts[i]!, x.ends[i]!, x.ends[i]! + 1]) {
      if (n < 0 || n > 4294967295) continue;
      const ip = dotted(n);
      if (countryOf(ip) !== theirs(ip)) diffs.push(ip);
    }
  }
  expect(diffs.slice(0, 10)).toEqual([]);
  expect(["8.8.8.8", "81.2.69.160", "::ffff:81.2.69.160"].map(countryOf)).toEqual(["US", "GB", "GB"]);
  // Mapped IPv4 as a server listening on "::" sees it: the same answers as the package.
  for (let i = 0; i < 2000; i++) {
    const ip = `::ffff:${dotted(Math.floor(r() * 4294967296))}`;
    if (countryOf(ip) !== theirs(ip)) diffs.push(ip);
  }
  expect(diffs.slice(0, 10)).toEqual([]);
});

test("other spellings: what the package says, and '' for nonsense", () => {
  for (const ip of ["2001:4860:4860::8888", "::FFFF:81.2.69.160", "::ffff:1.2.3", "2a00:1450:4001:81b::200e", "::1", "127.0.0.1", "10.1.2.3", "0.0.0.0", "255.255.255.255"]) {
    expect([ip, countryOf(ip)]).toEqual([ip, theirs(ip)]);
  }
  // And what that is, for the addresses handed to the package (Google's IPv6 ranges, loopback, a
  // malformed mapped address): a lookup that gave up would say "" for all of them.
  expect(["2001:4860:4860::8888", "2a00:1450:4001:81b::200e", "::FFFF:81.2.69.160", "::1", "::ffff:1.2.3"].map(countryOf)).toEqual(["US", "DE", "GB", "", ""]);
  for (const bad of ["", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "1..2.3", "a.b.c.d", " 1.2.3.4", "1.2.3.4 ", "::gg"]) expect([bad, countryOf(bad)]).toEqual([bad, ""]);
});
