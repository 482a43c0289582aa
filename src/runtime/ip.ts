// Client addresses: trusted-proxy ranges and the X-Forwarded-For walk. node:net's BlockList does
// the CIDR matching (IPv4, IPv6 and IPv4-mapped IPv6) so we do not hand-roll bit arithmetic.
import { BlockList, isIP } from "node:net";

export interface Cidr {
  address: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

export function parseCidrList(text: string): { ok: true; value: Cidr[] } | { ok: false; bad: string } {
  const out: Cidr[] = [];
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [addr = "", prefixText] = part.split("/");
    const kind = isIP(addr);
    if (kind === 0) return { ok: false, bad: part };
    const max = kind === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (prefixText !== undefined && !/^\d+$/.test(prefixText))) {
      return { ok: false, bad: part };
    }
    out.push({ address: addr, prefix, family: kind === 4 ? "ipv4" : "ipv6" });
  }
  return { ok: true, value: out };
}

export class TrustedProxies {
  private list = new BlockList();
  readonly empty: boolean;
  constructor(cidrs: Cidr[]) {
    for (const c of cidrs) this.list.addSubnet(c.address, c.prefix, c.family);
    this.empty = cidrs.length === 0;
  }

  has(ip: string): boolean {
    if (this.empty) return false;
    const kind = isIP(ip);
    if (kind === 0) return false;
    return this.list.check(ip, kind === 4 ? "ipv4" : "ipv6");
  }

  /**
   * The client IP: the peer address, unless the peer is a trusted proxy; then walk X-Forwarded-For
   * from the right (entries appended by our proxies) and take the first address that is not one.
   * An entry that is no address (`unknown`, garbage) ends the walk at the trusted hop that wrote it:
   * skipping it would let the client's own entries to its left speak for it.
   */
  clientIp(peer: string, forwardedFor: string | null): string {
    let ip = normalizeIp(peer);
    if (!this.has(ip) || !forwardedFor) return ip;
    // (empty entries, as in "a, " or a merged empty header, say nothing: skipped)
    const hops = forwardedFor.split(",").filter((h) => h.trim() !== "");
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hopAddress(hops[i]!);
      if (hop === null) return ip;
      ip = hop;
      if (!this.has(hop)) return hop;
    }
    return ip;
  }
}

/** One X-Forwarded-For entry as a bare address: some proxies add a port (`1.2.3.4:5678`,
 * `[2001:db8::1]:443`) or brackets. Null when it is no address. */
export function hopAddress(entry: string): string | null {
  let s = entry.trim();
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s) ?? /^([\d.]+):(\d{1,5})$/.exec(s);
  if (m) {
    if (m[2] !== undefined && Number(m[2]) > 65_535) return null;
    s = m[1]!;
  }
  s = normalizeIp(s);
  return isIP(s) === 0 ? null : s;
}

/** "::ffff:1.2.3.4" -> "1.2.3.4", so limits and lists see one form of an IPv4 peer. */
export function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}
