// The analytics door's bookkeeping of joined sockets across broadcasts (src/analytics/index.ts),
// without its worker: a socket that stays joined while its stream's broadcast ends, or is replaced by
// the next one before the door heard of the end, is a viewer of the new broadcast and no longer
// holds the old one's state.
import { expect, test } from "bun:test";
import type { BroadcastRecord, StreamRecord } from "../../src/streams/index.ts";
import { bareAnalytics } from "../support/analytics.ts";
import { removeDir, tempDir } from "../support/server.ts";

const T0 = Date.now() + 60_000; // (broadcasts that began after this process started: nothing to seed)

function setup() {
  const dir = tempDir("hubbub-door-");
  let now = T0;
  const broadcasts = new Map<string, BroadcastRecord>();
  const a = bareAnalytics(dir, { clock: { now: () => now }, broadcasts: { findBroadcast: (id) => broadcasts.get(id), segmentsOf: () => [], findById: () => undefined } });
  const stream = (broadcast: string | null): StreamRecord => {
    if (broadcast && !broadcasts.has(broadcast)) broadcasts.set(broadcast, { id: broadcast, stream_id: "st", started_at: now, ended_at: null } as BroadcastRecord);
    return { id: "st", slug: "door", title: "t", owner_id: null, settings: {} as StreamRecord["settings"], status: broadcast ? "live" : "offline", current_broadcast_id: broadcast, live_since: broadcast ? now : null, epoch: "e", created_at: T0, updated_at: now } as StreamRecord;
  };
  const end = (id: string) => (broadcasts.get(id)!.ended_at = now);
  return { a, stream, end, tick: (ms: number) => (now += ms), done: () => removeDir(dir) };
}

test("a socket joined through a direct switch to the next broadcast is a viewer of it", () => {
  const { a, stream, end, tick, done } = setup();
  const tap = a.joined(stream("A"), 1, "viewer-1", "81.2.69.160");
  expect(a.trackedViewers("A")).toBe(1);
  tick(5000);
  end("A");
  a.streamChanged(stream("B")); // the end of A and the start of B seen at once
  expect(a.trackedViewers("B")).toBe(1);
  // Its events count in B, through the handle it keeps (set when B began, not looked up again).
  const handle = tap.handle;
  expect(handle).not.toBeNull();
  const before = a.pendingEvents;
  a.reaction(stream("B"), "viewer-1", "🔥", tap);
  expect(a.pendingEvents).toBe(before + 1);
  expect(tap.handle).toBe(handle);
  expect(a.trackedViewers("B")).toBe(1); // (the same viewer, not a second one)
  done();
});

test("a socket still joined after the broadcast ended holds none of its state", () => {
  const { a, stream, end, tick, done } = setup();
  const tap = a.joined(stream("A"), 1, "viewer-1", "81.2.69.160");
  expect(tap.handle).not.toBeNull();
  tick(5000);
  end("A");
  a.streamChanged(stream(null));
  expect(tap.handle).toBeNull();
  // Live again: the socket is a viewer of the new broadcast.
  tick(5000);
  a.streamChanged(stream("C"));
  expect(tap.handle).not.toBeNull();
  expect(a.trackedViewers("C")).toBe(1);
  done();
});
