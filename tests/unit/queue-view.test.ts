// The review queue's items as moderators read them (views/live/queue.ts): a held message says what
// held it; a viewer's report says who reported which message and why (it was labelled "Held for").
import { expect, test } from "bun:test";
import { queueItem, type QueueItem } from "../../views/live/queue.ts";

const base = {
  id: "0190a4b2-0000-7000-8000-000000000001", stream_id: "s", status: "pending", user: { id: "v-author", name: "Author", badges: [] },
  body: "some message", reply_to: null, mentions: [], scores: null, created_at: "2026-11-28T10:00:00.000Z", decided_at: null, decided_by: null, decision_reason: null, seq: null,
} as unknown as QueueItem;
const text = (h: { s: string }) => h.s.replace(/<[^>]+>/g, "").replace(/\s+/g, " ");

test("a report names its reporter, the reported message and the reason", () => {
  const t = text(queueItem("show", { ...base, kind: "report", reasons: ["spam links"], target_seq: 42, reporter_id: "v-reporter" } as QueueItem));
  expect(t).toContain("Reported by v-reporter · message #42: spam links");
  expect(t).not.toContain("Held for");
  expect(t).toContain("Uphold (delete)");
  // A report whose reporter was erased: no id.
  expect(text(queueItem("show", { ...base, kind: "report", reasons: [], target_seq: 7, reporter_id: null } as QueueItem))).toContain("Reported · message #7");
});

test("a held message says what held it", () => {
  const t = text(queueItem("show", { ...base, kind: "held", reasons: ["link_policy"], target_seq: null, reporter_id: null } as QueueItem));
  expect(t).toContain("Held for link policy");
  expect(t).toContain("Approve");
});
