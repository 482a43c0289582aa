// The pure parts of chat's rules: ChatRules (per-viewer token bucket, slow mode, unique chat) on an
// explicit clock, and the minimal moderation hook (blocked terms with wildcards, link policy,
// allowed domains). No server, no timers.
import { describe, expect, test } from "bun:test";
import { ChatRules, uniqueKey } from "../../src/chat/rules.ts";
import { defaultSettings, type Settings } from "../../src/streams/settings.ts";

function settings(patch: Partial<Settings> = {}): Settings {
  return { ...defaultSettings(), ...patch };
}

const T0 = 1_700_000_000_000;

describe("ChatRules: rate limit", () => {
  test("a burst of rate_limit.messages, then rate_limited with the wait until the next message", () => {
    const rules = new ChatRules();
    const s = settings({ rate_limit: { messages: 3, per_s: 60 } });
    for (let i = 0; i < 3; i++) expect(rules.admit(s, "v", false, `m${i}`, T0)).toBeNull();
    const r = rules.admit(s, "v", false, "m3", T0);
    expect(r).toMatchObject({ ok: false, code: "rate_limited", retryAfterMs: 20_000 });
    expect(rules.admit(s, "v", false, "m3", T0 + 19_999)?.code).toBe("rate_limited");
    expect(rules.admit(s, "v", false, "m3", T0 + 20_000)).toBeNull();
  });

  test("each sender has its own bucket", () => {
    const rules = new ChatRules();
    const s = settings({ rate_limit: { messages: 1, per_s: 60 } });
    expect(rules.admit(s, "a", false, "x", T0)).toBeNull();
    expect(rules.admit(s, "a", false, "y", T0)?.code).toBe("rate_limited");
    expect(rules.admit(s, "b", false, "z", T0)).toBeNull();
  });

  test("privileged senders (moderators, the creator) use moderator_rate_limit", () => {
    const rules = new ChatRules();
    const s = settings({ rate_limit: { messages: 1, per_s: 60 }, moderator_rate_limit: { messages: 4, per_s: 60 } });
    for (let i = 0; i < 4; i++) expect(rules.admit(s, "mod", true, `m${i}`, T0)).toBeNull();
    expect(rules.admit(s, "mod", true, "m4", T0)).toMatchObject({ code: "rate_limited", retryAfterMs: 15_000 });
  });

  test("a smaller limit set later applies at once (the bucket never holds more than the new burst)", () => {
    const rules = new ChatRules();
    expect(rules.admit(settings(), "v", false, "first", T0)).toBeNull(); // 19 of 20 left
    const small = settings({ rate_limit: { messages: 2, per_s: 60 } });
    expect(rules.admit(small, "v", false, "a", T0)).toBeNull();
    expect(rules.admit(small, "v", false, "b", T0)).toBeNull();
    expect(rules.admit(small, "v", false, "c", T0)?.code).toBe("rate_limited");
  });
});

describe("ChatRules: slow mode", () => {
  test("one message per slow_mode_s, with retry_after_ms; privileged senders are exempt", () => {
    const rules = new ChatRules();
    const s = settings({ slow_mode_s: 10 });
    expect(rules.admit(s, "v", false, "one", T0)).toBeNull();
    expect(rules.admit(s, "v", false, "two", T0 + 4_000)).toMatchObject({ code: "slow_mode", retryAfterMs: 6_000 });
    expect(rules.admit(s, "v", false, "two", T0 + 9_999)).toMatchObject({ code: "slow_mode", retryAfterMs: 1 });
    expect(rules.admit(s, "v", false, "two", T0 + 10_000)).toBeNull();
    for (let i = 0; i < 3; i++) expect(rules.admit(s, "mod", true, `m${i}`, T0)).toBeNull();
  });

  test("a slow-mode refusal spends no rate budget", () => {
    const rules = new ChatRules();
    const s = settings({ slow_mode_s: 3, rate_limit: { messages: 2, per_s: 3600 } });
    expect(rules.admit(s, "v", false, "one", T0)).toBeNull();
    for (let i = 0; i < 10; i++) expect(rules.admit(s, "v", false, "again", T0 + 1)?.code).toBe("slow_mode");
    expect(rules.admit(s, "v", false, "two", T0 + 3_000)).toBeNull();
  });

  test("turning slow mode off lets the next message through", () => {
    const rules = new ChatRules();
    expect(rules.admit(settings({ slow_mode_s: 60 }), "v", false, "one", T0)).toBeNull();
    expect(rules.admit(settings({ slow_mode_s: 60 }), "v", false, "two", T0 + 1)?.code).toBe("slow_mode");
    expect(rules.admit(settings({ slow_mode_s: 0 }), "v", false, "two", T0 + 1)).toBeNull();
  });
});

describe("ChatRules: unique chat", () => {
  test("the same text from anyone, ignoring case and spacing, is a duplicate for a while", () => {
    const rules = new ChatRules();
    const s = settings({ unique_chat: true });
    expect(rules.admit(s, "a", false, "Hello   World", T0)).toBeNull();
    expect(rules.admit(s, "a", false, "hello world", T0 + 1)).toMatchObject({ code: "duplicate" });
    expect(rules.admit(s, "b", false, "HELLO\u3000WORLD", T0 + 2)).toMatchObject({ code: "duplicate" });
    expect(rules.admit(s, "b", false, "hello world!", T0 + 3)).toBeNull();
    expect(rules.admit(s, "b", false, "hello world", T0 + 10 * 60_000)).toBeNull();
  });

  test("privileged senders are exempt and do not block others' text", () => {
    const rules = new ChatRules();
    const s = settings({ unique_chat: true });
    expect(rules.admit(s, "mod", true, "same", T0)).toBeNull();
    expect(rules.admit(s, "mod", true, "same", T0)).toBeNull();
    expect(rules.admit(s, "v", false, "same", T0)).toBeNull();
    expect(rules.admit(s, "w", false, "same", T0)?.code).toBe("duplicate");
  });

  test("a duplicate refusal spends no rate budget, and a rate refusal records no text", () => {
    const rules = new ChatRules();
    const s = settings({ unique_chat: true, rate_limit: { messages: 1, per_s: 3600 } });
    expect(rules.admit(s, "v", false, "x", T0)).toBeNull();
    expect(rules.admit(s, "v", false, "y", T0)?.code).toBe("rate_limited");
    expect(rules.admit(s, "w", false, "y", T0)).toBeNull(); // y was never admitted before
    expect(rules.admit(s, "w2", false, "x", T0)?.code).toBe("duplicate");
  });

  test("uniqueKey folds case and runs of whitespace", () => {
    expect(uniqueKey("  A\tb \n C ")).toBe("a b c");
    expect(uniqueKey("ÉTÉ")).toBe(uniqueKey("été"));
  });
});

describe("ChatRules: memory follows activity", () => {
  test("sweep forgets senders whose bucket is full again and whose slow-mode wait is over", () => {
    const rules = new ChatRules();
    // Both limits refill completely within 10 s.
    const s = settings({ rate_limit: { messages: 5, per_s: 10 }, moderator_rate_limit: { messages: 100, per_s: 10 } });
    rules.admit(s, "a", false, "x", T0);
    rules.admit(s, "b", false, "y", T0 + 20_000);
    expect(rules.size).toBe(2);
    rules.sweep(T0 + 25_000, s);
    expect(rules.size).toBe(1);
    rules.sweep(T0 + 60_000, s);
    expect(rules.size).toBe(0);
  });
});
