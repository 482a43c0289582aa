// Small runtime pieces: token buckets, trusted proxies, text rules, stream settings.
import { describe, expect, test } from "bun:test";
import { hopAddress, TrustedProxies, parseCidrList, type Cidr } from "../../src/runtime/ip.ts";
import { KeyedBuckets, take } from "../../src/runtime/token-bucket.ts";
import { applySettingsPatch, defaultSettings } from "../../src/streams/settings.ts";
import { cleanText, graphemeCount, isEmoji, LIMITS } from "../../src/text.ts";

describe("token bucket", () => {
  test("burst, then refusals with the wait until the next token", () => {
    const b = { tokens: 3, at: 0 };
    expect([take(b, 0, 1, 3), take(b, 0, 1, 3), take(b, 0, 1, 3)]).toEqual([0, 0, 0]);
    expect(take(b, 0, 1, 3)).toBe(1000);
    expect(take(b, 500, 1, 3)).toBe(500);
    expect(take(b, 1000, 1, 3)).toBe(0);
  });
  test("keyed buckets are independent and full ones are swept", () => {
    const k = new KeyedBuckets(10, 1);
    expect(k.take("a", 0)).toBe(0);
    expect(k.take("a", 0)).toBeGreaterThan(0);
    expect(k.take("b", 0)).toBe(0);
    k.sweep(10_000);
    expect(k.size).toBe(0);
  });
});

describe("trusted proxies", () => {
  test("X-Forwarded-For is believed only from a trusted peer, walking from the right", () => {
    const parsed = parseCidrList("10.0.0.0/8, ::1");
    expect(parsed.ok).toBe(true);
    const p = new TrustedProxies(parsed.ok ? parsed.value : []);
    expect(p.clientIp("10.1.1.1", "203.0.113.9, 10.2.2.2")).toBe("203.0.113.9");
    expect(p.clientIp("198.51.100.1", "203.0.113.9")).toBe("198.51.100.1");
    expect(p.clientIp("::ffff:10.1.1.1", "spoof, 203.0.113.7")).toBe("203.0.113.7");
    expect(p.clientIp("::1", null)).toBe("::1");
  });
  test("X-Forwarded-For entries with a port or brackets are read; one that is no address ends the walk", () => {
    const p = new TrustedProxies((parseCidrList("10.0.0.0/8") as { ok: true; value: Cidr[] }).value);
    // A proxy that appends the client's port: the client's own left-hand entry does not win.
    expect(p.clientIp("10.1.1.1", "8.8.8.8, 203.0.113.9:5555")).toBe("203.0.113.9");
    expect(p.clientIp("10.1.1.1", "8.8.8.8, [2001:db8::7]:443, 10.2.2.2:80")).toBe("2001:db8::7");
    expect(p.clientIp("10.1.1.1", "[2001:db8::8]")).toBe("2001:db8::8");
    expect(p.clientIp("10.1.1.1", " ::ffff:203.0.113.4 ")).toBe("203.0.113.4");
    // Our proxy could not tell the client (`unknown`): not the spoofable entry left of it, but the
    // last trusted hop.
    expect(p.clientIp("10.1.1.1", "8.8.8.8, unknown")).toBe("10.1.1.1");
    expect(p.clientIp("10.1.1.1", "8.8.8.8, unknown, 10.2.2.2")).toBe("10.2.2.2");
    expect(p.clientIp("10.1.1.1", "8.8.8.8, 1.2.3.4:99999")).toBe("10.1.1.1");
    // Empty entries are no entries.
    expect(p.clientIp("10.1.1.1", "203.0.113.9, ")).toBe("203.0.113.9");
    expect(p.clientIp("10.1.1.1", " , 203.0.113.9,,")).toBe("203.0.113.9");
    expect(p.clientIp("10.1.1.1", "")).toBe("10.1.1.1");
    // Every entry one of ours: the leftmost.
    expect(p.clientIp("10.1.1.1", "10.3.3.3, 10.2.2.2")).toBe("10.3.3.3");
    expect(hopAddress("2001:db8::1")).toBe("2001:db8::1");
    expect(hopAddress("1.2.3.4:80:90")).toBe(null);
  });
  test("bad CIDRs are reported", () => {
    expect(parseCidrList("10.0.0.0/33")).toEqual({ ok: false, bad: "10.0.0.0/33" });
    expect(parseCidrList("nope")).toEqual({ ok: false, bad: "nope" });
  });
});

describe("text", () => {
  test("graphemes, NFC and refusals", () => {
    expect(graphemeCount("👍🏽e\u0301")).toBe(2);
    const r = cleanText("  e\u0301 ", "t", LIMITS.title);
    expect(r).toEqual({ ok: true, value: "\u00e9" });
    expect(cleanText("a\u202Eb", "t", LIMITS.title)).toMatchObject({ ok: false, code: "invalid_text" });
    expect(cleanText("\ud800", "t", LIMITS.title)).toMatchObject({ ok: false, code: "invalid_text" });
    expect(cleanText("   ", "t", LIMITS.title)).toMatchObject({ ok: false, code: "empty" });
    expect(cleanText("x".repeat(141), "t", LIMITS.title)).toMatchObject({ ok: false, code: "too_long" });
    expect(cleanText("a\u200Bb", "name", LIMITS.displayName)).toMatchObject({ ok: false, code: "invalid_text" });
    expect(isEmoji("🔥") && isEmoji("👍🏽") && !isEmoji("a") && !isEmoji("🔥🔥")).toBe(true);
  });
});

describe("stream settings", () => {
  test("valid patches apply, every bad field is named", () => {
    const ok = applySettingsPatch(defaultSettings(), { slow_mode_s: 30, guests: { react: false, chat: true, vote: false }, reactions: ["🔥"] });
    expect(ok.ok && ok.value.slow_mode_s === 30 && ok.value.reactions[0] === "🔥").toBe(true);
    const bad = applySettingsPatch(defaultSettings(), {
      slow_mode_s: 2, chat_delay_s: 3, reactions: ["x"], rate_limit: { messages: 0, per_s: 1 }, nope: 1,
      blocked_terms: ["a*b"], playback_url: "ftp://x", presence_list_max: 20001,
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(Object.keys(bad.fields ?? {}).sort()).toEqual([
        "settings.blocked_terms", "settings.chat_delay_s", "settings.nope", "settings.playback_url",
        "settings.presence_list_max", "settings.rate_limit", "settings.reactions", "settings.slow_mode_s",
      ]);
    }
  });
});
