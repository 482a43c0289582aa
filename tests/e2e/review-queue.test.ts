// The review queue beyond held messages: viewer reports (uphold with a timeout or ban, dismiss),
// automatic escalation of a viewer with several held messages, expiry after review_expiry_s, and
// the queue's change events that a live dashboard subscribes to.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { QueueEvent } from "../../src/chat/index.ts";
import { auditRows, closeAll, startChatServer, viewer, type ChatServer, type Viewer } from "../support/chat.ts";
import { ManualClock } from "../support/identity.ts";
import { waitFor } from "../support/wait.ts";

let s: ChatServer;
const clock = new ManualClock();
const events: QueueEvent[] = [];
const open: Viewer[] = [];
const GENEROUS = { messages: 1000, per_s: 1 };

beforeAll(async () => {
  s = await startChatServer({ clock });
  s.app.chat.onQueue((e) => events.push(e));
});
afterAll(async () => {
  closeAll(...open);
  await s.dispose();
});

async function join(slug: string, sub: string | null) {
  const v = viewer(s.ws, sub ? await s.token(sub) : null);
  open.push(v);
  return v.join(`stream:${slug}`);
}

test("a report: signed-in only, one per viewer and message, queued with a snapshot, audited", async () => {
  await s.createStream("rq-report", { rate_limit: GENEROUS });
  const author = await join("rq-report", "rq-author");
  const reporter = await join("rq-report", "rq-reporter");
  const guest = await join("rq-report", null);
  const m = await author.publish("you are all terrible");
  const asGuest = await new Promise<any>((resolve) => guest.ch.push("chat:report", { seq: m.seq }).receive("error", resolve).receive("ok", resolve));
  expect(asGuest.reason).toBe("unauthenticated");
  const report = (p: Record<string, unknown>) =>
    new Promise<{ status: string; response: any }>((resolve) => reporter.ch.push("chat:report", p).receive("ok", (r: any) => resolve({ status: "ok", response: r })).receive("error", (r: any) => resolve({ status: "error", response: r })));
  expect((await report({ seq: 999 })).response.reason).toBe("not_found");
  expect((await report({ seq: "1" })).response.reason).toBe("invalid_payload");
  expect((await report({ seq: m.seq, extra: 1 })).response.reason).toBe("invalid_payload");
  const r1 = await report({ seq: m.seq, reason: "rude" });
  expect(r1.status).toBe("ok");
  const again = await report({ seq: m.seq, reason: "still rude" });
  expect(again.response.report_id).toBe(r1.response.report_id);
  const q = await s.api("GET", "/api/v1/streams/rq-report/review-queue");
  const item = q.body.data.find((x: any) => x.id === r1.response.report_id);
  expect(item).toMatchObject({ kind: "report", status: "pending", body: "you are all terrible", target_seq: m.seq, reporter_id: "rq-reporter", reasons: ["rude"], user: { id: "rq-author" } });
  expect(q.body.data.filter((x: any) => x.kind === "report")).toHaveLength(1);
  expect(events.some((e) => e.change === "added" && e.item.id === r1.response.report_id)).toBe(true);
  expect((await auditRows(s, "rq-report", "review.report")).length).toBe(1);
});

test("upholding a report deletes the message and, with timeout_s, times its author out; dismissing changes nothing", async () => {
  await s.createStream("rq-uphold", { rate_limit: GENEROUS });
  const author = await join("rq-uphold", "up-author");
  const reporter = await join("rq-uphold", "up-reporter");
  const m1 = await author.publish("first bad thing");
  const m2 = await author.publish("second thing");
  const rep = (seq: number) => new Promise<any>((resolve) => reporter.ch.push("chat:report", { seq }).receive("ok", resolve).receive("error", resolve));
  const a = await rep(m1.seq);
  const b = await rep(m2.seq);
  // Penalties only with reports, and never both.
  expect((await s.api("POST", `/api/v1/review-queue/${a.report_id}/approve`, { ban: true, timeout_s: 60 })).status).toBe(400);
  expect((await s.api("POST", `/api/v1/review-queue/${a.report_id}/approve`, { timeout_s: 0 })).status).toBe(400);
  const up = await s.api("POST", `/api/v1/review-queue/${a.report_id}/approve`, { reason: "harassment", timeout_s: 600 });
  expect(up.status).toBe(200);
  expect(up.body.status).toBe("approved");
  await reporter.waitEvent("chat:delete", (p) => p.seqs.includes(m1.seq), "the upheld message is deleted for everyone");
  await author.waitEvent("notice", (p) => p.kind === "timed_out", "the author is told of the timeout");
  const refused = await author.send({ body: "can I talk?" });
  expect(refused.response.reason).toBe("timed_out");
  const dismissed = await s.api("POST", `/api/v1/review-queue/${b.report_id}/deny`, { reason: "fine" });
  expect(dismissed.body.status).toBe("denied");
  const hist = await s.api("GET", "/api/v1/streams/rq-uphold/chat");
  expect(hist.body.data.find((x: any) => x.seq === m2.seq).body).toBe("second thing");
  expect(hist.body.data.find((x: any) => x.seq === m1.seq).deleted).toBe(true);
  expect((await auditRows(s, "rq-uphold", "moderation.timeout")).length).toBe(1);
  expect((await auditRows(s, "rq-uphold", "moderation.delete")).length).toBe(1);
});

test("a viewer with several held messages in a short time is escalated automatically", async () => {
  await s.createStream("rq-escalate", { rate_limit: GENEROUS, link_policy: "hold" });
  const v = await join("rq-escalate", "linky");
  const held: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await v.send({ body: `buy at https://shop${i}.example.net` });
    expect(r.response.status).toBe("held");
    held.push(r.response.held_id);
  }
  const q = await s.api("GET", "/api/v1/streams/rq-escalate/review-queue?status=escalated");
  expect(q.body.data.map((x: any) => x.id).sort()).toEqual([...held].sort());
  expect(events.filter((e) => e.change === "escalated" && held.includes(e.item.id))).toHaveLength(3);
  const audit = await auditRows(s, "rq-escalate", "review.escalate");
  expect(audit).toHaveLength(3);
  expect(audit.every((a: any) => a.actor.type === "system")).toBe(true);
  // Escalated items are still decidable (by an admin).
  expect((await s.api("POST", `/api/v1/review-queue/${held[0]}/approve`, {})).body.status).toBe("approved");
});

test("pending items expire after review_expiry_s: a held message is denied (its sender told), audited", async () => {
  await s.createStream("rq-expire", { rate_limit: GENEROUS, link_policy: "hold", review_expiry_s: 60 });
  const v = await join("rq-expire", "patient");
  const r = await v.send({ body: "see https://example.org/page" });
  expect(r.response.status).toBe("held");
  clock.advance(59_000);
  expect(await s.app.chat.expireReviews()).toBe(0);
  clock.advance(2_000);
  expect(await s.app.chat.expireReviews()).toBeGreaterThanOrEqual(1);
  await v.waitEvent("notice", (p) => p.kind === "held_denied" && p.held_id === r.response.held_id && p.reason === "expired", "expiry notice");
  const q = await s.api("GET", "/api/v1/streams/rq-expire/review-queue?status=expired");
  expect(q.body.data.map((x: any) => x.id)).toContain(r.response.held_id);
  expect((await auditRows(s, "rq-expire", "review.expire")).length).toBe(1);
  expect((await s.api("POST", `/api/v1/review-queue/${r.response.held_id}/approve`, {})).status).toBe(409);
  await waitFor("expired event", () => events.find((e) => e.change === "expired" && e.item.id === r.response.held_id));
});
