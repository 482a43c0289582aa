// RELIABILITY T1: kill -9 at random moments while 50 senders chat, 20 rounds, restart each time.
// Guards: an acknowledged chat message is stored exactly once with the seq it was acked with; seq is
// gap-free; a retried nonce (same viewer, same nonce, after the server died) returns the first answer
// and stores nothing new; the SQLite file passes integrity_check; every client gets back in.
// The kill moment is seeded (HUBBUB_KILL_SEED=<n> repeats a run); the seed is in every failure.
// Figures (restart to first accepted connection, ms) belong to bench/reliability-kill.ts.
import { expect, test } from "bun:test";
import { runKillLoop } from "../support/chat-kill-loop.ts";

const SEED = Number(process.env.HUBBUB_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));

test(`every acknowledged message survives 20 kill -9 rounds exactly once, seq gap-free (seed ${SEED})`, async () => {
  let r: Awaited<ReturnType<typeof runKillLoop>>;
  try {
    r = await runKillLoop({ rounds: 20, senders: 50, seed: SEED, maxAcksPerRound: 400 });
  } catch (e) {
    throw new Error(`kill loop failed (seed ${SEED}; rerun with HUBBUB_KILL_SEED=${SEED}): ${(e as Error).stack ?? e}`);
  }
  const seen = {
    finalExitCode: r.finalExitCode,
    integrity: r.integrity,
    errorReplies: r.errorReplies.slice(0, 5),
    timeouts: r.timeouts,
    joinErrors: r.joinErrors.slice(0, 5),
    lost: r.lost.slice(0, 5),
    duplicates: r.duplicates.slice(0, 5),
    gaps: r.gaps,
    unaccounted: r.unaccounted.slice(0, 5),
    seqClashes: r.seqClashes.slice(0, 5),
    nonceMismatches: r.nonceMismatches.slice(0, 5),
    probeMismatches: r.probeMismatches.slice(0, 5),
    storedEqualsAcked: r.stored === r.acks.length,
    noncesEqualStored: r.nonceRows === r.stored,
  };
  const want = {
    finalExitCode: 0, // the last server stops cleanly (SIGTERM) before the file is read
    integrity: "ok",
    errorReplies: [], // nothing refused, nothing "unavailable"
    timeouts: 0, // every push on a live connection is answered
    joinErrors: [],
    lost: [], // every ack is stored, with its body at its seq
    duplicates: [], // no body twice: retried nonces stored once
    gaps: [], // seq is 1..N
    unaccounted: [], // every stored row is some ack's (each send was retried until acked)
    seqClashes: [],
    nonceMismatches: [], // the stored nonce answer is the acked answer
    probeMismatches: [], // a nonce re-sent after a restart gets the first answer
    storedEqualsAcked: true,
    noncesEqualStored: true,
  };
  if (JSON.stringify(seen) !== JSON.stringify(want)) {
    console.error(`chat-kill failed with seed ${SEED} (rerun: HUBBUB_KILL_SEED=${SEED}); server stderr tail:\n${r.serverStderr.slice(-2000)}`);
  }
  expect(seen, `seed ${SEED}`).toEqual(want);
  // The loop really exercised what it claims to: 20 restarts, retries, and nonce probes after restarts.
  expect(r.rounds.length).toBe(20);
  expect(r.acks.length).toBeGreaterThanOrEqual(20 + 50);
  expect(r.probes, `seed ${SEED}: no nonce was re-sent after a restart`).toBeGreaterThan(0);
  expect(r.retried, `seed ${SEED}: no send was ever interrupted by a kill`).toBeGreaterThan(0);
}, 180_000);
