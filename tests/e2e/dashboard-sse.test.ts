// The dashboard's SSE feed over plain HTTP: frames are our own (one `data:` per line, so multi-line
// HTML survives; an `id:` on every message), a reconnect with Last-Event-ID gets exactly what it
// missed, a position the server does not hold gets a full re-render, a moderator's action reaches
// every open dashboard of the stream, and the feed refuses those who may not see the stream.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { closeAll, viewer, type Joined, type Viewer } from "../support/chat.ts";
import { removeDir, type TestServer } from "../support/server.ts";
import { assignModerator, createAccount, loginOverHttp, PASSWORD, sseReader, startDashboardServer, type HttpSession } from "../support/dashboard.ts";

const SLUG = "sse-show";
let s: TestServer;
let creator: HttpSession;
let mod: HttpSession;
let outsider: HttpSession;
let chat: Joined;
const open: Viewer[] = [];

beforeAll(async () => {
  s = await startDashboardServer();
  await createAccount(s, "carla", "creator");
  await createAccount(s, "moana", "moderator");
  await createAccount(s, "olivia", "moderator");
  await s.api("POST", "/api/v1/streams", { slug: SLUG, title: "SSE show", owner: "carla" });
  await assignModerator(s, SLUG, "moana");
  await s.api("POST", `/api/v1/streams/${SLUG}/live`);
  creator = await loginOverHttp(s, "carla", PASSWORD);
  mod = await loginOverHttp(s, "moana", PASSWORD);
  outsider = await loginOverHttp(s, "olivia", PASSWORD);
  const v = viewer(s.ws, await s.token("sse-viewer"));
  open.push(v);
  chat = await v.join(`stream:${SLUG}`);
});

afterAll(async () => {
  closeAll(...open);
  await s?.stop();
  if (s) removeDir(s.dataDir);
});

function events(sess: HttpSession, lastEventId?: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${s.http}/dashboard/streams/${SLUG}/events`, { headers: { cookie: sess.cookie, accept: "text/event-stream", ...(lastEventId ? { "last-event-id": lastEventId } : {}) }, signal });
}

/** Messages (id and data joined as the browser joins them) from SSE text. */
function parse(text: string): Array<{ id: string | null; data: string }> {
  return text.split("\n\n").filter((b) => b.trim() && !b.startsWith(":")).map((block) => {
    let id: string | null = null;
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("id: ")) id = line.slice(4);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
      else throw new Error(`unexpected SSE line ${JSON.stringify(line)}`);
    }
    return { id, data: data.join("\n") };
  });
}

const RESET = `hx-target="#chat-lines" hx-swap="outerHTML"`;

test("frames carry ids and one data: line per line; Last-Event-ID resumes exactly; an unknown id gets a full re-render", async () => {
  const ac = new AbortController();
  const res = await events(creator, undefined, ac.signal);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/event-stream");
  expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  const r = sseReader(res);
  // No position: the first message re-renders every live fragment.
  await r.until((t) => t.includes("\n\n") && t.includes(RESET), "the first (full) message");
  const first = parse(r.text)[0]!;
  expect(first.id).toMatch(/^[A-Za-z0-9_-]+-\d+$/);
  expect(first.data).toContain(`<hx-partial hx-target="#review-queue"`);
  expect(first.data.split("\n").length).toBeGreaterThan(5); // multi-line HTML, intact
  ac.abort();

  // While disconnected, three messages are sent.
  const seqs: number[] = [];
  for (const body of ["missed one", "missed two", "missed three"]) seqs.push((await chat.publish(body)).seq);

  const ac2 = new AbortController();
  const r2 = sseReader(await events(creator, first.id!, ac2.signal));
  await r2.until((t) => t.includes("missed three"), "the missed messages after Last-Event-ID");
  const resumed = parse(r2.text.slice(0, r2.text.lastIndexOf("\n\n") + 2));
  const all = resumed.map((m) => m.data).join("\n");
  for (const seq of seqs) expect(all).toContain(`id="msg-${seq}"`);
  expect(all).not.toContain(RESET); // a replay, not a re-render
  const [boot, n] = [first.id!.slice(0, first.id!.lastIndexOf("-")), Number(first.id!.slice(first.id!.lastIndexOf("-") + 1))];
  expect(resumed[0]!.id).toBe(`${boot}-${n + 1}`); // the very next message
  // Ids only grow.
  const ns = resumed.map((m) => Number(m.id!.split("-").pop()));
  expect(ns).toEqual([...ns].sort((a, b) => a - b));
  ac2.abort();

  // A position this server never gave out (an old boot, say): everything is sent again.
  const ac3 = new AbortController();
  const r3 = sseReader(await events(creator, "oldboot-12", ac3.signal));
  await r3.until((t) => t.includes(RESET), "a full re-render for an unknown position");
  expect(r3.text).toContain("missed three");
  ac3.abort();
});

test("a moderator's action reaches every open dashboard of the stream", async () => {
  const a = new AbortController();
  const b = new AbortController();
  const ra = sseReader(await events(creator, undefined, a.signal));
  const rb = sseReader(await events(mod, undefined, b.signal));
  await ra.until((t) => t.includes(RESET), "the creator's first message");
  await rb.until((t) => t.includes(RESET), "the moderator's first message");
  const { seq } = await chat.publish("please delete me");
  await ra.until((t) => t.includes(`id="msg-${seq}"`), "the message on the creator's feed");
  const res = await mod.post(`/dashboard/streams/${SLUG}/moderate`, { action: "delete", seq: String(seq) });
  expect(res.status).toBe(200);
  const tomb = `<hx-partial hx-target="#msg-${seq}" hx-swap="outerHTML"><li id="msg-${seq}" class="msg msg-deleted"`;
  await ra.until((t) => t.includes(tomb), "the deletion on the creator's feed");
  await rb.until((t) => t.includes(tomb), "the deletion on the moderator's feed");
  await chat.waitEvent("chat:delete", (p) => p.seqs.includes(seq), "chat:delete on the viewer's socket");
  a.abort();
  b.abort();
});

test("a viewer's erasure takes their held messages off every open dashboard's queue", async () => {
  const a = new AbortController();
  const feed = sseReader(await events(mod, undefined, a.signal));
  await feed.until((t) => t.includes(RESET), "the first message");
  const v = viewer(s.ws, await s.token("sse-erased"));
  open.push(v);
  const held = await (await v.join(`stream:${SLUG}`)).publish("my link example.com");
  expect(held.status).toBe("held");
  await feed.until((t) => t.includes(`id="rq-${held.held_id}"`), "the held message in the queue");
  const mark = feed.text.length;
  expect((await s.api("DELETE", "/api/v1/viewers/sse-erased/data")).status).toBe(200);
  // The queue's next re-render, whole (it may arrive in several chunks).
  const queueAfter = (t: string) => {
    const at = t.indexOf(`hx-target="#review-queue"`, mark);
    const end = at < 0 ? -1 : t.indexOf("</hx-partial>", at);
    return end < 0 ? null : t.slice(at, end);
  };
  await feed.until((t) => queueAfter(t) !== null, "the queue re-rendered after the erasure");
  expect(queueAfter(feed.text)).not.toContain(`rq-${held.held_id}`);
  a.abort();
});

test("the feed refuses accounts that do not moderate the stream, and the logged out", async () => {
  expect((await events(outsider)).status).toBe(403);
  const anon = await fetch(`${s.http}/dashboard/streams/${SLUG}/events`, { headers: { accept: "text/event-stream" } });
  expect(anon.status).toBe(401);
});

test("an open feed ends when its session logs out", async () => {
  const sess = await loginOverHttp(s, "moana", PASSWORD);
  const res = await events(sess);
  const r = sseReader(res);
  await r.until((t) => t.includes(RESET), "the first message");
  expect((await sess.post("/dashboard/logout", {})).status).toBe(200);
  // The server re-checks its subscribers every few seconds; the stream then ends.
  const ended = await r.until(() => false, "the end of the stream", 20_000).then(() => false, (e: Error) => /stream ended/.test(e.message));
  expect(ended).toBe(true);
});
