// RELIABILITY T1 as a scripted run with figures: the kill loop of tests/e2e/chat-kill.test.ts,
// longer, printing per round and in total: acked, stored, duplicates, gaps, integrity, retries, and
// "restart to first accepted connection" (spawn of the new process -> first client socket open).
//
//   node_modules/.bin/bun bench/reliability-kill.ts --rounds=20 [--senders=50] [--max-acks=400] [--seed=N] [--json=out.json]
//
// Exit code 0 when every promise held (nothing lost, no duplicate, no gap, integrity ok, first
// connection p50/max < 2 s as RELIABILITY T1 asks), 1 otherwise.
import { writeFileSync } from "node:fs";
import { percentile, runKillLoop } from "../tests/support/chat-kill-loop.ts";

function flag(name: string): string | undefined {
  const pre = `--${name}=`;
  const hit = process.argv.slice(2).find((a) => a.startsWith(pre));
  return hit === undefined ? undefined : hit.slice(pre.length);
}
function intFlag(name: string, fallback: number, min: number): number {
  const v = flag(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log("usage: bun bench/reliability-kill.ts [--rounds=20] [--senders=50] [--max-acks=400] [--seed=N] [--json=FILE]");
  process.exit(0);
}
const rounds = intFlag("rounds", 20, 1);
const senders = intFlag("senders", 50, 1);
const maxAcks = intFlag("max-acks", 400, 1);
const seed = intFlag("seed", Math.floor(Math.random() * 2 ** 31), 0);
const jsonOut = flag("json");

console.log(`reliability-kill: ${rounds} rounds, ${senders} senders, kill after 1..${maxAcks} acks per round, seed ${seed}`);
const t0 = performance.now();
const r = await runKillLoop({ rounds, senders, seed, maxAcksPerRound: maxAcks, log: (l) => console.log(`  ${l}`) });
const wallS = (performance.now() - t0) / 1000;

const firstOpen = r.rounds.map((x) => x.restartToFirstOpenMs);
const ready = r.rounds.map((x) => x.restartToReadyMs);
const fmt = (x: number) => `${x.toFixed(0)} ms`;
const ok = {
  lost: r.lost.length === 0,
  duplicates: r.duplicates.length === 0,
  gaps: r.gaps.length === 0,
  integrity: r.integrity === "ok",
  unaccounted: r.unaccounted.length === 0,
  nonces: r.nonceMismatches.length === 0 && r.probeMismatches.length === 0,
  errors: r.errorReplies.length === 0 && r.timeouts === 0 && r.joinErrors.length === 0,
  cleanStop: r.finalExitCode === 0,
  firstConnectionUnder2s: Math.max(...firstOpen) < 2000,
};
const figures = {
  seed,
  rounds: r.rounds.length,
  senders,
  acked: r.acks.length,
  stored: r.stored,
  duplicates: r.duplicates.length,
  gaps: r.gaps.length,
  lost_acks: r.lost.length,
  unaccounted_rows: r.unaccounted.length,
  integrity: r.integrity,
  retried_messages: r.retried,
  retried_stored_by_first_attempt: r.retriedStoredByFirstAttempt,
  nonce_probes_after_restart: r.probes,
  nonce_mismatches: r.nonceMismatches.length + r.probeMismatches.length,
  error_replies: r.errorReplies.length,
  push_timeouts: r.timeouts,
  restart_to_ready_ms: { p50: percentile(ready, 50), max: Math.max(...ready) },
  restart_to_first_accepted_connection_ms: { p50: percentile(firstOpen, 50), p90: percentile(firstOpen, 90), max: Math.max(...firstOpen), per_round: firstOpen.map((x) => Math.round(x)) },
  wall_s: Number(wallS.toFixed(1)),
};

console.log("");
console.log(`rounds                     ${figures.rounds}`);
console.log(`acked                      ${figures.acked}`);
console.log(`stored                     ${figures.stored}`);
console.log(`duplicates                 ${figures.duplicates}`);
console.log(`gaps                       ${figures.gaps}`);
console.log(`acked but lost             ${figures.lost_acks}`);
console.log(`stored but never acked     ${figures.unaccounted_rows}`);
console.log(`integrity_check            ${figures.integrity}`);
console.log(`retried messages           ${figures.retried_messages} (first attempt had stored it: ${figures.retried_stored_by_first_attempt})`);
console.log(`nonce probes after restart ${figures.nonce_probes_after_restart}, mismatches ${figures.nonce_mismatches}`);
console.log(`error replies / timeouts   ${figures.error_replies} / ${figures.push_timeouts}`);
console.log(`restart -> ready           p50 ${fmt(figures.restart_to_ready_ms.p50)}, max ${fmt(figures.restart_to_ready_ms.max)}`);
console.log(`restart -> first accepted connection, per round (ms): ${figures.restart_to_first_accepted_connection_ms.per_round.join(" ")}`);
console.log(`restart -> first accepted connection  p50 ${fmt(figures.restart_to_first_accepted_connection_ms.p50)}, p90 ${fmt(figures.restart_to_first_accepted_connection_ms.p90)}, max ${fmt(figures.restart_to_first_accepted_connection_ms.max)} (T1 asks < 2000 ms)`);
console.log(`wall time                  ${figures.wall_s} s`);
const failed = Object.entries(ok).filter(([, v]) => !v).map(([k]) => k);
console.log(failed.length ? `FAILED: ${failed.join(", ")} (seed ${seed})` : "all T1 promises held");
if (failed.length) {
  if (r.lost.length) console.log("lost (first 5):", JSON.stringify(r.lost.slice(0, 5)));
  if (r.duplicates.length) console.log("duplicates (first 5):", JSON.stringify(r.duplicates.slice(0, 5)));
  if (r.gaps.length) console.log("gaps:", JSON.stringify(r.gaps));
  if (r.errorReplies.length) console.log("error replies (first 5):", JSON.stringify(r.errorReplies.slice(0, 5)));
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ figures, ok }, null, 2) + "\n");
process.exit(failed.length ? 1 : 0);
