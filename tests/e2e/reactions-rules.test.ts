// Reactions' rules end to end with the official phoenix client (PRODUCT.md `reaction:send`,
// `reactions`, settings `reactions`, `reaction_rate`, `reaction_window_ms`, `guests`; issue 4;
// RELIABILITY.md T2 and T3): the per-viewer rate shared by a viewer's sockets, guests, bans and
// timeouts (refused reactions are never counted), a thousand reactions from many sockets arriving as
// a few exact `reactions` events, the window length, settings validation, the SQLite rollup, the
// shutdown flush (also with a hung worker) and /healthz under a crash loop.
//
// Most tests run on a server with a hand-driven clock: rate buckets never refill unless the test says
// so and a window closes only when the test moves the clock past its end, so counts and event numbers
// are exact without depending on timing. One test runs on the real clock.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join as joinPath } from "node:path";
import { startChatServer, type ChatServer } from "../support/chat.ts";
import { ManualClock } from "../support/identity.ts";
import { connect, join, push, record, type Channel, type Socket } from "../support/phoenix.ts";
import { waitFor } from "../support/wait.ts";

// Starting servers and 50-socket crowds on a busy 2-core machine; every wait has its own deadline.
setDefaultTimeout(60_000);

const DEFAULT_SET = ["❤️", "🔥", "😂", "👏", "😮", "🎉"];
type Seen = Array<{ event: string; payload: any }>;

const total = (events: Seen, emoji?: string) => events.reduce((n, e) => n + (emoji ? (e.payload.counts[emoji] ?? 0) : e.payload.total), 0);

interface Member {
  socket: Socket;
  ch: Channel;
  reply: any;
}

const sockets: Socket[] = [];

/** A socket joined to `stream:<slug>`, signed in as `viewerId` or a guest (null). */
async function member(s: ChatServer, slug: string, viewerId: string | null): Promise<Member> {
  const socket = connect(s.ws, viewerId ? { token: await s.token(viewerId) } : {});
  sockets.push(socket);
  const ch = socket.channel(`stream:${slug}`, {});
  const reply = await join(ch);
  return { socket, ch, reply };
}

/** A guest socket that records the stream's `reactions` events. */
async function watcher(s: ChatServer, slug: string): Promise<{ m: Member; seen: Seen }> {
  const socket = connect(s.ws, {});
  sockets.push(socket);
  const ch = socket.channel(`stream:${slug}`, {});
  const seen = record(ch, ["reactions"]);
  const reply = await join(ch);
  return { m: { socket, ch, reply }, seen };
}

const react = (m: Member, emoji: string) => push(m.ch, "reaction:send", { emoji });

/** Per-emoji sums of the SQLite rollup for one stream, read through a separate read-only connection. */
function rollup(dataDir: string, slug: string): { byEmoji: Record<string, number>; total: number; windows: number; misaligned: number } {
  const db = new Database(joinPath(dataDir, "hubbub.sqlite"), { readonly: true });
  try {
    const rows = db
      .query(
        `SELECT rw.emoji AS emoji, SUM(rw.count) AS n FROM reaction_windows rw JOIN streams s ON s.id = rw.stream_id
         WHERE s.slug = ? GROUP BY rw.emoji`,
      )
      .all(slug) as Array<{ emoji: string; n: number }>;
    const w = db
      .query(
        `SELECT COUNT(DISTINCT rw.window_start) AS windows, SUM(rw.window_start % rw.window_ms != 0) AS misaligned
         FROM reaction_windows rw JOIN streams s ON s.id = rw.stream_id WHERE s.slug = ?`,
      )
      .get(slug) as { windows: number; misaligned: number | null };
    const byEmoji = Object.fromEntries(rows.map((r) => [r.emoji, r.n]));
    return { byEmoji, total: rows.reduce((n, r) => n + r.n, 0), windows: w.windows, misaligned: w.misaligned ?? 0 };
  } finally {
    db.close();
  }
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`metric ${name} not found`);
  return Number(line.slice(name.length + 1));
}

afterAll(() => {
  for (const sock of sockets.splice(0)) sock.disconnect();
});

// ---- rules, on a hand-driven clock ----

describe("rules (hand-driven clock)", () => {
  let s: ChatServer;
  let clock: ManualClock;
  beforeAll(async () => {
    clock = new ManualClock();
    s = await startChatServer({ clock });
  });
  afterAll(async () => {
    await s.dispose();
  });

  /** Moves the clock past the end of every window that holds a reaction accepted so far. */
  const closeWindows = (w = 5000) => clock.advance(w);

  test("rate limit per viewer: the 6th in a burst is rate_limited with retry_after_ms; a second socket shares the budget", async () => {
    await s.createStream("re-rate", { reaction_rate: 5 });
    const w = await watcher(s, "re-rate");
    const a1 = await member(s, "re-rate", "rate-a");
    const a2 = await member(s, "re-rate", "rate-a"); // the same viewer on a second socket
    const b = await member(s, "re-rate", "rate-b");

    // A burst of 6 on one socket: the clock stands still, so exactly 5 tokens are there.
    const burst = await Promise.all(Array.from({ length: 6 }, () => react(a1, "🔥")));
    expect(burst.slice(0, 5).map((r) => r.status)).toEqual(["ok", "ok", "ok", "ok", "ok"]);
    expect(burst[5]!.status).toBe("error");
    expect(burst[5]!.response.reason).toBe("rate_limited");
    // The next token comes after 1000/5 ms.
    expect(burst[5]!.response.retry_after_ms).toBeGreaterThan(0);
    expect(burst[5]!.response.retry_after_ms).toBeLessThanOrEqual(200);

    // The viewer's other socket draws on the same, empty budget.
    const other = await react(a2, "❤️");
    expect(other.response.reason).toBe("rate_limited");
    expect(other.response.retry_after_ms).toBeGreaterThan(0);
    // Another viewer has a budget of their own.
    expect((await react(b, "❤️")).status).toBe("ok");

    // One token comes back after 200 ms, and only one.
    clock.advance(200);
    expect((await react(a2, "❤️")).status).toBe("ok");
    expect((await react(a1, "❤️")).response.reason).toBe("rate_limited");

    // Only accepted reactions are counted: 5 + 1 (a2) + 1 (b).
    closeWindows();
    await waitFor("the accepted reactions published", () => total(w.seen) >= 7);
    expect(total(w.seen)).toBe(7);
    expect(total(w.seen, "🔥")).toBe(5);
    expect(total(w.seen, "❤️")).toBe(2);
  });

  test("guests: each guest socket has its own budget", async () => {
    await s.createStream("re-guests", { reaction_rate: 5 });
    const g1 = await member(s, "re-guests", null);
    const g2 = await member(s, "re-guests", null);
    const burst = await Promise.all(Array.from({ length: 6 }, () => react(g1, "🎉")));
    expect(burst.map((r) => r.status)).toEqual(["ok", "ok", "ok", "ok", "ok", "error"]);
    expect(burst[5]!.response.reason).toBe("rate_limited");
    expect((await react(g2, "🎉")).status).toBe("ok");
  });

  test("guests may react by default and get unauthenticated once guests.react is false", async () => {
    await s.createStream("re-guest-set");
    const w = await watcher(s, "re-guest-set");
    const guest = await member(s, "re-guest-set", null);
    expect(guest.reply.me).toMatchObject({ guest: true, can: { react: true } });
    const signed = await member(s, "re-guest-set", "rg-viewer");
    expect((await react(guest, "😂")).status).toBe("ok");
    expect((await react(signed, "😂")).status).toBe("ok");

    await s.settings("re-guest-set", { guests: { react: false, chat: false, vote: false } });
    // The guest already joined is refused from now on; a guest joining now is told up front.
    const refused = await react(guest, "😂");
    expect(refused.status).toBe("error");
    expect(refused.response.reason).toBe("unauthenticated");
    const late = await member(s, "re-guest-set", null);
    expect(late.reply.me).toMatchObject({ guest: true, can: { react: false } });
    expect((await react(late, "😂")).response.reason).toBe("unauthenticated");
    // Signed-in viewers are not affected.
    expect((await react(signed, "😂")).status).toBe("ok");

    closeWindows();
    await waitFor("the accepted reactions published", () => total(w.seen) >= 3);
    expect(total(w.seen)).toBe(3);
  });

  test("banned and timed-out viewers are refused (banned / timed_out) and their reactions are not counted", async () => {
    await s.createStream("re-ban");
    const w = await watcher(s, "re-ban");
    const banned = await member(s, "re-ban", "rb-banned");
    const timed = await member(s, "re-ban", "rb-timed");
    const good = await member(s, "re-ban", "rb-good");
    for (const m of [banned, timed, good]) expect((await react(m, "👏")).status).toBe("ok");

    const ban = await s.api("POST", "/api/v1/streams/re-ban/moderation", { action: "ban", user_id: "rb-banned", reason: "spam" });
    expect(ban.status).toBe(200);
    const to = await s.api("POST", "/api/v1/streams/re-ban/moderation", { action: "timeout", user_id: "rb-timed", duration_s: 60, reason: "cool off" });
    expect(to.status).toBe(200);

    for (let i = 0; i < 3; i++) {
      const rb = await react(banned, "👏");
      expect(rb.status).toBe("error");
      expect(rb.response.reason).toBe("banned");
      const rt = await react(timed, "👏");
      expect(rt.status).toBe("error");
      expect(rt.response.reason).toBe("timed_out");
      expect((await react(good, "👏")).status).toBe("ok");
    }
    // A socket the banned viewer opens after the ban is refused too.
    const bannedAgain = await member(s, "re-ban", "rb-banned");
    expect(bannedAgain.reply.me.can.react).toBe(false);
    expect((await react(bannedAgain, "👏")).response.reason).toBe("banned");

    // The timeout ends; the ban does not.
    clock.advance(60_001);
    expect((await react(timed, "👏")).status).toBe("ok");
    expect((await react(banned, "👏")).response.reason).toBe("banned");

    closeWindows();
    // 3 before the ban + 3 from the good viewer + 1 after the timeout.
    await waitFor("the accepted reactions published", () => total(w.seen) >= 7);
    expect(total(w.seen)).toBe(7);
    await waitFor("the rollup holds them", () => rollup(s.dataDir, "re-ban").total >= 7);
    expect(rollup(s.dataDir, "re-ban").total).toBe(7);
  });

  test("a thousand reactions from 50 sockets in one window arrive as exactly one exact reactions event", async () => {
    await s.createStream("re-thousand", { reaction_rate: 20 });
    const w = await watcher(s, "re-thousand");
    const crowd = await Promise.all(Array.from({ length: 50 }, (_, i) => member(s, "re-thousand", `rk-${i}`)));
    const expected: Record<string, number> = {};
    const pushes: Array<Promise<{ status: string; response: any }>> = [];
    crowd.forEach((m, i) => {
      for (let k = 0; k < 20; k++) {
        const e = DEFAULT_SET[(i * 20 + k) % DEFAULT_SET.length]!;
        expected[e] = (expected[e] ?? 0) + 1;
        pushes.push(react(m, e));
      }
    });
    const replies = await Promise.all(pushes);
    expect(replies.filter((r) => r.status !== "ok")).toEqual([]);
    clock.advance(1000); // the window all of them fell into (the clock stood still) has ended
    await waitFor("the window published", () => w.seen.length > 0);
    expect(w.seen.length).toBe(1);
    expect(w.seen[0]!.payload).toEqual({ window_ms: 1000, counts: expected, total: 1000 });
    // Nothing else comes for that window: the next event carries only the next window's reaction.
    expect((await react(crowd[0]!, "🔥")).status).toBe("ok");
    clock.advance(1000);
    await waitFor("the next window published", () => w.seen.length > 1);
    expect(w.seen.map((e) => e.payload.total)).toEqual([1000, 1]);
    await waitFor("the rollup holds them", () => rollup(s.dataDir, "re-thousand").total >= 1001);
    const r = rollup(s.dataDir, "re-thousand");
    expect(r.total).toBe(1001);
    expect(r.byEmoji).toEqual({ ...expected, "🔥": expected["🔥"]! + 1 });
    expect(r.windows).toBe(2);
    expect(r.misaligned).toBe(0);
    for (const m of crowd) m.socket.disconnect();
  });

  test("reaction_window_ms is honoured: payload.window_ms, and a window closes only once it has ended", async () => {
    await s.createStream("rw-long", { reaction_window_ms: 2500 });
    await s.createStream("rw-short");
    await s.settings("rw-short", { reaction_window_ms: 250 }); // changed after creation
    // One socket watches both streams: frames on one socket arrive in the order they were sent.
    const socket = connect(s.ws, {});
    sockets.push(socket);
    const longCh = socket.channel("stream:rw-long", {});
    const shortCh = socket.channel("stream:rw-short", {});
    const longSeen = record(longCh, ["reactions"]);
    const shortSeen = record(shortCh, ["reactions"]);
    await join(longCh);
    await join(shortCh);
    const v = await member(s, "rw-long", "rw-viewer");
    const vShort = await member(s, "rw-short", "rw-viewer");

    // Put the clock 100 ms into a 2500 ms window (which is also 100 ms into a 250 ms one).
    clock.advance(2500 - (clock.now() % 2500) + 100);
    for (let i = 0; i < 3; i++) expect((await react(v, "😮")).status).toBe("ok");
    for (let i = 0; i < 2; i++) expect((await react(vShort, "😮")).status).toBe("ok");

    // 1000 ms on: the 250 ms window has ended, the 2500 ms one has not.
    clock.advance(1000);
    await waitFor("the short window published", () => shortSeen.length > 0);
    expect(shortSeen.map((e) => e.payload)).toEqual([{ window_ms: 250, counts: { "😮": 2 }, total: 2 }]);
    // A round trip on the same socket: anything published together with the short window is in.
    await push(longCh, "presence:friends", { ids: [] });
    expect(longSeen).toEqual([]);

    clock.advance(1400); // exactly the end of the 2500 ms window
    await waitFor("the long window published", () => longSeen.length > 0);
    expect(longSeen.map((e) => e.payload)).toEqual([{ window_ms: 2500, counts: { "😮": 3 }, total: 3 }]);
    await waitFor("the rollup holds both", () => rollup(s.dataDir, "rw-long").total === 3 && rollup(s.dataDir, "rw-short").total === 2);
    expect(rollup(s.dataDir, "rw-long").misaligned).toBe(0);
    expect(rollup(s.dataDir, "rw-short").misaligned).toBe(0);
    socket.disconnect();
  });

  test("settings: reactions must be 1 to 20 distinct single emoji; reaction_rate and reaction_window_ms in range", async () => {
    await s.createStream("re-settings");
    const twenty = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰", "😗", "😙", "😚", "🙂", "🤗"];
    expect(new Set(twenty).size).toBe(20);
    const bad: unknown[] = [
      ["a"],
      ["🔥", "x"],
      [...twenty, "🔥"], // 21
      [],
      ["🔥", "🔥"],
      ["🔥🔥"], // two emoji in one entry
      ["🔥 "],
      ["<b>"],
      [""],
      [7],
      "🔥",
    ];
    for (const reactions of bad) {
      const r = await s.api("PATCH", "/api/v1/streams/re-settings", { settings: { reactions } });
      expect({ reactions, status: r.status }).toEqual({ reactions, status: 400 });
      expect(r.body.error.code).toBe("invalid_payload");
      expect(Object.keys(r.body.error.fields ?? {})).toContain("settings.reactions");
    }
    for (const [name, value] of [["reaction_rate", 0], ["reaction_rate", 1001], ["reaction_rate", 1.5], ["reaction_window_ms", 249], ["reaction_window_ms", 5001], ["reaction_window_ms", "1000"]] as const) {
      const r = await s.api("PATCH", "/api/v1/streams/re-settings", { settings: { [name]: value } });
      expect({ name, value, status: r.status }).toEqual({ name, value, status: 400 });
      expect(Object.keys(r.body.error.fields ?? {})).toContain(`settings.${name}`);
    }
    // Creating a stream checks the same way.
    const created = await s.api("POST", "/api/v1/streams", { slug: "re-settings-bad", title: "bad", settings: { reactions: [...twenty, "🔥"] } });
    expect(created.status).toBe(400);

    // The edges are fine, and multi-code-point emoji (skin tone, ZWJ family, flag, keycap) are emoji.
    for (const settings of [{ reactions: twenty }, { reactions: ["👍🏽", "👨‍👩‍👧", "🏳️‍🌈", "1️⃣", "🇫🇷"] }, { reaction_rate: 1 }, { reaction_rate: 1000 }, { reaction_window_ms: 250 }, { reaction_window_ms: 5000 }]) {
      const r = await s.api("PATCH", "/api/v1/streams/re-settings", { settings });
      expect({ settings, status: r.status }).toEqual({ settings, status: 200 });
    }

    // The stored set is what a joined viewer's reactions are checked against, at once.
    const m = await member(s, "re-settings", "rs-viewer");
    expect(m.reply.stream.reactions).toEqual(["👍🏽", "👨‍👩‍👧", "🏳️‍🌈", "1️⃣", "🇫🇷"]);
    expect((await react(m, "👨‍👩‍👧")).status).toBe("ok");
    expect((await react(m, "🔥")).response.reason).toBe("not_allowed");
    await s.settings("re-settings", { reactions: ["🔥"] });
    expect((await react(m, "🔥")).status).toBe("ok");
    expect((await react(m, "👨‍👩‍👧")).response.reason).toBe("not_allowed");
  });
});

// ---- the real clock ----

describe("a thousand reactions on the real clock", () => {
  let s: ChatServer;
  beforeAll(async () => {
    s = await startChatServer();
  });
  afterAll(async () => {
    await s.dispose();
  });

  test("50 sockets x 20 reactions arrive as a few exact reactions events, at most one per window, and the rollup matches", async () => {
    await s.createStream("re-real", { reaction_rate: 1000 });
    const w = await watcher(s, "re-real");
    const crowd = await Promise.all(Array.from({ length: 50 }, (_, i) => member(s, "re-real", `rt-${i}`)));
    const expected: Record<string, number> = {};
    const pushes: Array<Promise<{ status: string; response: any }>> = [];
    // The server's clock is this process's Date.now(): every reaction is accepted within [t0, t1].
    const t0 = Date.now();
    crowd.forEach((m, i) => {
      for (let k = 0; k < 20; k++) {
        const e = DEFAULT_SET[(i * 7 + k) % DEFAULT_SET.length]!;
        expected[e] = (expected[e] ?? 0) + 1;
        pushes.push(react(m, e));
      }
    });
    const replies = await Promise.all(pushes);
    const t1 = Date.now();
    expect(replies.filter((r) => r.status !== "ok")).toEqual([]);

    await waitFor("all 1000 published", () => total(w.seen) >= 1000 && s.app.reactions.unpublished === 0);
    expect(total(w.seen)).toBe(1000);
    for (const e of DEFAULT_SET) expect({ e, n: total(w.seen, e) }).toEqual({ e, n: expected[e]! });
    for (const ev of w.seen) {
      expect(ev.payload.window_ms).toBe(1000);
      expect(Object.values(ev.payload.counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(ev.payload.total);
      expect(ev.payload.total).toBeGreaterThan(0); // only when something happened
    }
    // At most one event per window: no more events than 1000 ms windows overlapping [t0, t1].
    const windowsSpanned = Math.floor(t1 / 1000) - Math.floor(t0 / 1000) + 1;
    expect(w.seen.length).toBeLessThanOrEqual(windowsSpanned);
    expect(w.seen.length).toBeLessThan(1000 / 10);

    // The rollup: the same totals, one window_start per published event, aligned to the window.
    await waitFor("the rollup holds all 1000", () => rollup(s.dataDir, "re-real").total >= 1000);
    const r = rollup(s.dataDir, "re-real");
    expect(r.total).toBe(1000);
    expect(r.byEmoji).toEqual(expected);
    expect(r.windows).toBe(w.seen.length);
    expect(r.misaligned).toBe(0);

    const metrics = await (await fetch(`${s.http}/metrics`)).text();
    expect(metric(metrics, "hubbub_reactions_accepted_total")).toBe(1000);
    expect(metric(metrics, "hubbub_reaction_windows_total")).toBe(w.seen.length);
    expect(metric(metrics, "hubbub_reactions_unpublished")).toBe(0);
    for (const m of crowd) m.socket.disconnect();
  });
});

// ---- shutdown and crashes ----

describe("shutdown flush", () => {
  /**
   * Accepts reactions on a stopped clock (no window can end, so nothing is published before the
   * stop), optionally hangs the worker, stops the server at once, and reads the rollup.
   */
  async function acceptThenStop(hangWorker: boolean) {
    const clock = new ManualClock();
    const s = await startChatServer({ clock, faultInjection: true });
    try {
      await s.createStream("re-flush", { reaction_rate: 1000, reaction_window_ms: 5000 });
      const ms = await Promise.all([0, 1, 2, 3].map((i) => member(s, "re-flush", `rf-${i}`)));
      const expected: Record<string, number> = {};
      const pushes: Array<Promise<{ status: string; response: any }>> = [];
      ms.forEach((m, i) => {
        for (let k = 0; k < 50; k++) {
          const e = DEFAULT_SET[(i + k) % 3]!;
          expected[e] = (expected[e] ?? 0) + 1;
          pushes.push(react(m, e));
        }
      });
      const replies = await Promise.all(pushes);
      expect(replies.filter((r) => r.status !== "ok")).toEqual([]);
      expect(s.app.reactions.unpublished).toBe(200);
      // The worker holds the batches (or gets them at the stop) and, hung, never answers the final
      // tick: after its timeout the main thread folds the batches it kept.
      if (hangWorker) s.app.reactions.injectFault("hang");
      await s.app.stop();
      for (const m of ms) m.socket.disconnect();
      const r = rollup(s.dataDir, "re-flush");
      expect(r.total).toBe(200);
      expect(r.byEmoji).toEqual(expected);
    } finally {
      await s.dispose();
    }
  }

  test("reactions accepted right before a stop are all in the rollup (counted by the worker's final flush)", async () => {
    await acceptThenStop(false);
  });

  test("with the worker hung at shutdown, the main thread counts what it held: still all in the rollup", async () => {
    await acceptThenStop(true);
  });
});

describe("health under a crash loop", () => {
  let s: ChatServer;
  beforeAll(async () => {
    s = await startChatServer({ faultInjection: true });
  });
  afterAll(async () => {
    await s.dispose();
  });

  test("/healthz shows reactions_worker ok, then degraded after three crashes in a row; reactions sent meanwhile all count", async () => {
    const h0 = await fetch(`${s.http}/healthz`);
    expect(h0.status).toBe(200);
    const b0 = (await h0.json()) as any;
    expect(b0.checks.reactions_worker).toBe("ok");
    expect(b0.status).toBe("ok");

    await s.createStream("re-health", { reaction_rate: 1000 });
    const w = await watcher(s, "re-health");
    const m = await member(s, "re-health", "rh-viewer");
    let sent = 0;
    const sup = s.app.reactions.supervisor;
    for (let i = 1; i <= 3; i++) {
      await waitFor(`worker up before crash ${i}`, () => sup.up);
      s.app.reactions.injectFault("exit");
      // Sent while the worker dies and restarts: kept on the main thread and handed to the next one.
      const replies = await Promise.all(Array.from({ length: 20 }, () => react(m, "🔥")));
      expect(replies.every((r) => r.status === "ok")).toBe(true);
      sent += 20;
      await waitFor(`restart ${i}`, () => sup.restarts >= i && sup.up, 20_000);
    }
    const h1 = (await (await fetch(`${s.http}/healthz`)).json()) as any;
    expect(h1.status).toBe("degraded");
    expect(h1.checks.reactions_worker).toMatch(/^degraded/);
    expect(h1.checks.sqlite).toBe("ok");
    const metrics = await (await fetch(`${s.http}/metrics`)).text();
    expect(metric(metrics, "hubbub_reactions_worker_crashes_total")).toBe(3);

    await waitFor("every reaction counted", () => total(w.seen) >= sent && s.app.reactions.unpublished === 0);
    expect(total(w.seen)).toBe(sent);
    await waitFor("the rollup holds them", () => rollup(s.dataDir, "re-health").total >= sent);
    expect(rollup(s.dataDir, "re-health").total).toBe(sent);
  });
});
