// Reactions end to end with the official client: many reactions become a few exact `reactions`
// events; refusals; a worker crash loses and doubles nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, join, push, record } from "../support/phoenix.ts";
import { removeDir, startTestServer, type TestServer } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({}, undefined, { faultInjection: true });
  await s.createStream("react-1", { reaction_rate: 1000 });
});
afterAll(async () => {
  await s.stop();
  removeDir(s.dataDir);
});

const sum = (events: Array<{ payload: any }>, emoji?: string) =>
  events.reduce((n, e) => n + (emoji ? (e.payload.counts[emoji] ?? 0) : e.payload.total), 0);

test("reactions from several sockets arrive as a few windows whose counts add up exactly", async () => {
  const watcher = connect(s.ws);
  const wch = watcher.channel("stream:react-1", {});
  const seen = record(wch, ["reactions"]);
  await join(wch);
  const senders = await Promise.all(
    [0, 1, 2, 3].map(async (i) => {
      const sock = connect(s.ws, { token: await s.token(`r${i}`) });
      const ch = sock.channel("stream:react-1", {});
      await join(ch);
      return { sock, ch };
    }),
  );
  const pushes: Promise<{ status: string }>[] = [];
  for (let k = 0; k < 100; k++) for (const { ch } of senders) pushes.push(push(ch, "reaction:send", { emoji: k % 3 === 0 ? "🔥" : "❤️" }));
  const replies = await Promise.all(pushes);
  expect(replies.every((r) => r.status === "ok")).toBe(true);
  await waitFor("all 400 counted", () => sum(seen) === 400);
  expect(sum(seen, "🔥")).toBe(4 * 34);
  expect(sum(seen, "❤️")).toBe(4 * 66);
  for (const e of seen) {
    expect(e.payload.window_ms).toBe(1000);
    expect(Object.values(e.payload.counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(e.payload.total);
  }
  expect(seen.length).toBeLessThan(20);
  for (const x of senders) x.sock.disconnect();
  watcher.disconnect();
});

test("a disallowed emoji and a bad payload are refused", async () => {
  const sock = connect(s.ws, { token: await s.token("picky") });
  const ch = sock.channel("stream:react-1", {});
  await join(ch);
  expect((await push(ch, "reaction:send", { emoji: "🍕" })).response.reason).toBe("not_allowed");
  expect((await push(ch, "reaction:send", { emoji: 7 })).response.reason).toBe("invalid_payload");
  expect((await push(ch, "reaction:send", { emoji: "🔥", extra: 1 })).response.reason).toBe("invalid_payload");
  sock.disconnect();
});

test("a worker crash mid-window loses and doubles nothing", async () => {
  const watcher = connect(s.ws);
  const wch = watcher.channel("stream:react-1", {});
  const seen = record(wch, ["reactions"]);
  await join(wch);
  const sock = connect(s.ws, { token: await s.token("crashy") });
  const ch = sock.channel("stream:react-1", {});
  await join(ch);
  const before = s.app.reactions.supervisor.restarts;
  let sent = 0;
  for (const kind of ["throw", "reject", "exit", "hang"] as const) {
    const batch = [];
    for (let k = 0; k < 50; k++) batch.push(push(ch, "reaction:send", { emoji: "👏" }));
    expect((await Promise.all(batch)).every((r) => r.status === "ok")).toBe(true);
    sent += 50;
    s.app.reactions.injectFault(kind);
    const more = [];
    for (let k = 0; k < 50; k++) more.push(push(ch, "reaction:send", { emoji: "👏" }));
    expect((await Promise.all(more)).every((r) => r.status === "ok")).toBe(true);
    sent += 50;
    await waitFor(`restart after ${kind}`, () => s.app.reactions.supervisor.restarts > before + ["throw", "reject", "exit", "hang"].indexOf(kind) && s.app.reactions.supervisor.up);
  }
  await waitFor("every reaction counted", () => sum(seen, "👏") >= sent && s.app.reactions.unpublished === 0);
  expect(sum(seen, "👏")).toBe(sent);
  sock.disconnect();
  watcher.disconnect();
});
