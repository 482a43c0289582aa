// Polls across a server restart (in-process: stop, then start again on the same data folder) with a
// hand-driven clock: a poll whose deadline passed while the server was down is closed at start with
// every acknowledged vote counted (and audited), freeing the stream for the next poll; a poll still
// open keeps its tallies and its voters, so a repeat vote is refused, and still closes at its deadline.
import { afterAll, describe, expect, test } from "bun:test";
import { auditRows, closeAll, startChatServer, viewer, type ChatServer, type Viewer } from "../support/chat.ts";
import { ManualClock } from "../support/identity.ts";
import { closePoll, getPoll, openPoll, pollEvents, vote, waitPollEvent } from "../support/polls.ts";
import { waitFor } from "../support/wait.ts";

const servers: ChatServer[] = [];
const open: Viewer[] = [];
afterAll(async () => {
  closeAll(...open);
  // Stopped servers are stopped again harmlessly (stop is idempotent); each data folder is removed.
  for (const s of servers) await s.dispose();
});

function track(v: Viewer): Viewer {
  open.push(v);
  return v;
}

describe("polls across a restart", () => {
  test("a poll whose deadline passed while the server was stopped is closed at start, votes counted; the stream takes a new poll", async () => {
    const clock = new ManualClock();
    const first = await startChatServer({ clock });
    servers.push(first);
    await first.createStream("restart-poll");
    const voters = await Promise.all(["rv-1", "rv-2", "rv-3"].map(async (id) => ({ id, j: await track(viewer(first.ws, await first.token(id))).join("stream:restart-poll") })));
    // An earlier poll closed by hand: its results must survive the restart unchanged.
    const earlier = await openPoll(first, "restart-poll", ["Up", "Down"], 30);
    expect((await vote(voters[0]!.j, earlier.id, 1)).status).toBe("ok");
    const earlierClosed = await closePoll(first, earlier.id);
    expect(earlierClosed).toMatchObject({ tallies: [0, 1], total: 1, winner: 1, status: "closed" });
    const poll = await openPoll(first, "restart-poll", ["Left", "Right"], 60);
    for (const [i, opt] of [[0, 1], [1, 1], [2, 0]] as const) expect((await vote(voters[i]!.j, poll.id, opt)).status).toBe("ok");
    expect(await getPoll(first, poll.id)).toMatchObject({ status: "open", tallies: [1, 2], total: 3 });
    closeAll(...open.splice(0));

    await first.stop();
    clock.advance(61_000);
    const second = await startChatServer({ clock, dataDir: first.dataDir });
    servers.push(second);

    const read = await getPoll(second, poll.id);
    expect(read).toEqual({ ...poll, tallies: [1, 2], total: 3, status: "closed", winner: 1 });
    const list = await second.api("GET", "/api/v1/streams/restart-poll/polls");
    // Newest first; the earlier poll's results are unchanged.
    expect(list.body.data).toEqual([read, earlierClosed]);
    const closedRows = (await auditRows(second, "restart-poll", "poll.close")).filter((r) => r.target?.id === poll.id);
    expect(closedRows).toHaveLength(1);
    expect(closedRows[0].actor.type).toBe("system");
    expect(closedRows[0].data).toMatchObject({ tallies: [1, 2], total: 3, winner: 1 });

    // Joiners see no open poll; a vote on the old one is `closed`; the stream takes a new poll.
    const late = track(viewer(second.ws, await second.token("rv-late")));
    const lj = await late.join("stream:restart-poll");
    expect(lj.replies[0].poll).toBeNull();
    expect((await vote(lj, poll.id, 0)).response.reason).toBe("closed");
    const next = await second.api("POST", "/api/v1/streams/restart-poll/polls", { question: "Round two?", options: ["Yes", "No"], duration_s: 30 });
    expect(next.status).toBe(201);
    expect(await waitPollEvent(late, "poll:open", "stream:restart-poll", next.body.id, () => true, "poll:open of the new poll")).toEqual(next.body);
    // A viewer who voted in the old poll votes in the new one.
    const back = track(viewer(second.ws, await second.token("rv-1")));
    const bj = await back.join("stream:restart-poll");
    expect(bj.replies[0].poll).toEqual(next.body);
    expect((await vote(bj, next.body.id, 0)).status).toBe("ok");
    await closePoll(second, next.body.id);
    // The old results did not move.
    expect(await getPoll(second, poll.id)).toEqual(read);
  }, 60_000);

  test("a poll still open after a restart keeps its tallies and voters, refuses a repeat vote, and closes at its deadline", async () => {
    const clock = new ManualClock();
    let s = await startChatServer({ clock });
    servers.push(s);
    await s.createStream("restart-open");
    const poll = await openPoll(s, "restart-open", ["Tea", "Coffee", "Water"], 120);
    // These clients stay connected: the official client reconnects and rejoins by itself.
    const watcher = track(viewer(s.ws, await s.token("ro-watcher"), { reconnectAfterMs: () => 200 }));
    const wj = await watcher.join("stream:restart-open");
    const voter = track(viewer(s.ws, await s.token("ro-voter"), { reconnectAfterMs: () => 200 }));
    const vj = await voter.join("stream:restart-open");
    expect((await vote(vj, poll.id, 2)).status).toBe("ok");
    await waitPollEvent(watcher, "poll:update", wj.topic, poll.id, (p) => p.total === 1, "the first vote's update");

    const next = await s.restart();
    servers[servers.indexOf(s)] = next;
    s = next;

    await waitFor("both clients rejoin", () => wj.replies.length >= 2 && vj.replies.length >= 2, 30_000);
    const rejoined = vj.replies.at(-1);
    expect(rejoined.poll).toEqual({ ...poll, tallies: [0, 0, 1], total: 1 });
    expect(await getPoll(s, poll.id)).toEqual({ ...poll, tallies: [0, 0, 1], total: 1 });

    // The same viewer cannot vote again, on the rejoined socket or a new one.
    expect((await vote(vj, poll.id, 2)).response.reason).toBe("already_voted");
    const again = track(viewer(s.ws, await s.token("ro-voter")));
    expect((await vote(await again.join("stream:restart-open"), poll.id, 0)).response.reason).toBe("already_voted");
    // Someone new can, and the live tallies carry on from the stored ones.
    const fresh = track(viewer(s.ws, await s.token("ro-fresh")));
    expect((await vote(await fresh.join("stream:restart-open"), poll.id, 0)).status).toBe("ok");
    expect(await waitPollEvent(watcher, "poll:update", wj.topic, poll.id, (p) => p.total === 2, "the update after the restart")).toEqual({ id: poll.id, tallies: [1, 0, 1], total: 2 });

    // Still closes at its deadline, with everything counted; a tie for first place has no winner.
    clock.advance(120_001);
    const closed = await waitPollEvent(watcher, "poll:close", wj.topic, poll.id, () => true, "poll:close at the deadline", 30_000);
    expect(closed).toEqual({ ...poll, tallies: [1, 0, 1], total: 2, status: "closed", winner: null });
    expect(await getPoll(s, poll.id)).toEqual(closed);
    expect(pollEvents(watcher, "poll:close", wj.topic, poll.id)).toHaveLength(1);
  }, 60_000);
});
