// The pattern stage's blocked terms and link policy, through the same inline path the pool falls
// back to. These rules apply at every automod level; level 0 keeps the other stages out of the way.
import { describe, expect, test } from "bun:test";
import { Pipeline } from "../../src/moderation/pipeline.ts";
import { findLinks, type ModerationSettings } from "../../src/moderation/patterns.ts";

const pipeline = new Pipeline(null);
const settings = (patch: Partial<ModerationSettings> = {}): ModerationSettings => ({ automod_level: 0, blocked_terms: [], link_policy: "hold", allowed_domains: [], ...patch });

describe("blocked terms and the link policy (every automod level; level 0 isolates them)", () => {
  const check = (text: string, patch: Partial<ModerationSettings> = {}) => pipeline.checkPatterns({ id: 1, streamId: "s", sender: "v", text, now: 0 }, settings(patch));

  test("plain text is published", () => {
    expect(check("hello there")).toEqual({ action: "publish", reasons: [], scores: {} } as any);
  });

  test("blocked terms: whole words, case-insensitive; `*` at a word's start or end widens it", () => {
    const terms = { blocked_terms: ["badword", "spam*", "*ware", "c++", "café"] };
    for (const t of ["badword", "a BadWord!", "(badword)", "spam", "spammer", "SPAMMING now", "malware", "ransomware attack", "I like c++", "CAFÉ time"]) {
      expect(check(t, terms).action, t).toBe("block");
      expect(check(t, terms).reasons, t).toEqual(["blocked_term"]);
    }
    for (const t of ["badwords", "notbadword", "antispam", "wares", "c+", "cafés", "bad word"]) expect(check(t, terms).action, t).toBe("publish");
  });

  test("regex terms match the normalized text", () => {
    expect(check("anything at all", { blocked_terms: ["/any.*/"] }).action).toBe("block");
    expect(check("Ｂuy now", { blocked_terms: ["/^buy\\s+now$/"] }).action).toBe("block");
    expect(check("nothing", { blocked_terms: ["/any.*/"] }).action).toBe("publish");
  });

  test("links follow link_policy: hold by default, block, or allow", () => {
    expect(check("see https://example.com/x")).toMatchObject({ action: "hold", reasons: ["link"] });
    expect(check("see www.example.org")).toMatchObject({ action: "hold" });
    expect(check("see bit.ly/abc")).toMatchObject({ action: "hold" });
    expect(check("see https://example.com/x", { link_policy: "block" })).toMatchObject({ action: "block", reasons: ["link"] });
    expect(check("see https://example.com/x", { link_policy: "allow" })).toMatchObject({ action: "publish" });
    expect(check("3.14 is not a link; e.g. neither is this")).toMatchObject({ action: "publish" });
  });

  test("allowed_domains let their links (and subdomains) through, and nothing that merely contains them", () => {
    const allowed = { allowed_domains: ["example.com"] };
    for (const t of ["https://example.com/x", "http://EXAMPLE.com", "www.example.com", "docs.example.com/a"]) expect(check(t, allowed).action, t).toBe("publish");
    for (const t of ["example.com.evil.io", "notexample.com", "https://example.com.attacker.net/x", "https://example.com/ok and https://other.io/bad"]) expect(check(t, allowed).action, t).toBe("hold");
  });

  test("a blocked term wins over an allowed link", () => {
    expect(check("badword at https://example.com", { blocked_terms: ["badword"], allowed_domains: ["example.com"] }).action).toBe("block");
  });

  test("findLinks returns host names, and only for real public suffixes", () => {
    expect(findLinks("a https://x.io/p b www.y.org c z.tv")).toEqual(["x.io", "www.y.org", "z.tv"]);
    expect(findLinks("HTTPS://Sub.Example.COM/path")).toEqual(["sub.example.com"]);
    expect(findLinks("file.txt and node.js, e.g. this")).toEqual([]);
  });
});

describe("the profanity matcher and numbers", () => {
  const at2 = (text: string) => pipeline.checkPatterns({ id: 1, streamId: "s", sender: "v", text, now: 0 }, settings({ automod_level: 2, link_policy: "allow" }));
  // Regression: the matcher's leetspeak read numbers standing alone as words ("455" as "ass").
  test("numbers standing alone are never read as words", () => {
    for (const t of ["viewer 455 says hi", "room 455", "at 17:45 tonight", "score 455-455", "1.455"]) expect(at2(t).action, t).toBe("publish");
  });
  test("digits inside a word still count as leetspeak", () => {
    expect(at2("you 455hole").action).toBe("hold");
    expect(at2("sh1t happens").action).toBe("hold");
  });
});
