// The kill loop of RELIABILITY T1, shared by tests/e2e/chat-kill.test.ts (behaviour) and
// bench/reliability-kill.ts (the same loop, longer, with figures): a child-process server, N signed-in
// senders chatting with the official phoenix client (each awaits its ack before its next message), a
// SIGKILL after a seeded random number of acks, a restart on the same port and data folder, sends
// whose ack never came retried with the SAME nonce, and at the end an audit of the SQLite file.
// Also exports spawnOwnServer (a child server proven to own its port), used by chat-contention too.
import { Database } from "bun:sqlite";
import { join as joinPath } from "node:path";
import type { Channel, Socket } from "phoenix";
import { connect, join } from "./phoenix.ts";
import { prng } from "./prng.ts";
import { spawnServer, type ServerProcess } from "./process-server.ts";
import { removeDir, tempDir } from "./server.ts";
import { waitFor } from "./wait.ts";

export interface KillLoopOptions {
  rounds: number; // SIGKILL + restart cycles
  senders: number;
  seed: number;
  /** Each round kills after 1..maxAcksPerRound acks (seeded, skewed toward small counts). */
  maxAcksPerRound: number;
  log?: (line: string) => void;
}

export interface RoundFigures {
  round: number;
  killAfterAcks: number;
  ackedInRound: number;
  inFlightAtKill: number; // sends whose ack had not arrived when the server died
  restartToReadyMs: number; // spawn of the new process -> GET /readyz 200
  restartToFirstOpenMs: number; // spawn of the new process -> first client socket open (accepted connection)
}

export interface Ack {
  sender: number;
  nonce: string;
  body: string;
  seq: number;
  attempts: number; // 1 = acked first time; more = retried with the same nonce after a loss
  round: number; // round in which the first attempt was made (0-based: before kill #1 is round 0)
}

export interface KillLoopResult {
  seed: number;
  rounds: RoundFigures[];
  acks: Ack[];
  stored: number;
  /** Bodies stored more than once. */
  duplicates: string[];
  /** Positions where seq is not 1..N in order (first few). */
  gaps: Array<{ index: number; seq: number }>;
  /** Acknowledged messages not stored with their acked seq and body. */
  lost: Ack[];
  /** Stored rows that no ack accounts for (an unacked or doubled write). */
  unaccounted: Array<{ seq: number; body: string | null }>;
  /** Ack seqs given to two different messages. */
  seqClashes: number[];
  integrity: string;
  /** Rows of chat_nonces for the stream, and nonces whose stored answer disagrees with the ack. */
  nonceRows: number;
  nonceMismatches: string[];
  /** Messages acked only after a retry, and of those how many the FIRST attempt had stored (the retry got the first answer). */
  retried: number;
  retriedStoredByFirstAttempt: number;
  /** After each restart every sender re-sends its last acked nonce: the answer must be the first one. */
  probes: number;
  probeMismatches: string[];
  /** Error replies to chat:send (none expected: the rate limit is raised, links allowed). */
  errorReplies: Array<{ nonce: string; response: unknown }>;
  /** Pushes that got no reply while the socket stayed open (a lost reply). */
  timeouts: number;
  joinErrors: unknown[];
  finalExitCode: number;
  serverStderr: string;
}

const SLUG = "kill-chat";
const PUSH_TIMEOUT_MS = 30_000;
const MAX_ATTEMPTS = 50; // a message retried this often means the loop is broken, not unlucky

/**
 * spawnServer, plus proof that the answering server IS the child: spawnServer's readiness probe
 * (GET /readyz) can be answered by another process already listening on that port (another test's
 * server), in which case the child dies with EADDRINUSE a moment later. The child prints
 * "Hubbub listening on" only after it bound the port, so wait for that line, and retry otherwise.
 */
export async function spawnOwnServer(o: Parameters<typeof spawnServer>[0] = {}): Promise<ServerProcess> {
  let last = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const p = await spawnServer(o);
    let exited = false;
    void p.exitCode.then(() => (exited = true));
    await waitFor("the child's own listening line (or its exit)", () => exited || p.stderr().includes("Hubbub listening on"), 20_000);
    if (!exited) return p;
    last = p.stderr().slice(-500);
    if (o.port !== undefined) await Bun.sleep(250 * (attempt + 1)); // a fixed port someone else holds: back off
  }
  throw new Error(`the spawned server never owned its port:\n${last}`);
}


type Outcome = { kind: "ok"; response: any } | { kind: "error"; response: any } | { kind: "lost" } | { kind: "timeout" };

interface Shared {
  stopping: boolean;
  round: number;
  roundAcks: number;
  killAt: number; // the ack of this round (1-based) at which the server is killed, synchronously
  kill: (() => void) | null;
  onAck(): void;
  onOpen(): void;
  acks: Ack[];
  errorReplies: Array<{ nonce: string; response: unknown }>;
  timeouts: number;
  probes: number;
  probeMismatches: string[];
  joinErrors: unknown[];
}

class Sender {
  readonly so: Socket;
  readonly ch: Channel;
  private settle: ((o: Outcome) => void) | null = null;
  opens = 0;
  private probedAtOpen = 0;
  private last: Ack | null = null;
  inFlight = false;
  done: Promise<void> | null = null;

  constructor(
    readonly idx: number,
    url: string,
    token: string,
    private shared: Shared,
    private seed: number,
  ) {
    // Short, flat reconnect and rejoin delays: the server is back within a few hundred ms, and the
    // default back-off (up to 5 s) would only make every round slower.
    this.so = connect(url, { token }, { reconnectAfterMs: () => 50, rejoinAfterMs: () => 100 });
    this.so.onOpen(() => {
      this.opens++;
      shared.onOpen();
    });
    // The connection died: whatever was in flight has no answer coming. It is retried with its nonce.
    this.so.onClose(() => {
      const s = this.settle;
      this.settle = null;
      s?.({ kind: "lost" });
    });
    this.ch = this.so.channel(`stream:${SLUG}`, {});
  }

  async joinFirst(): Promise<void> {
    await join(this.ch);
    // The same join push is replayed on every rejoin; a refused rejoin is a failure of the test.
    (this.ch as any).joinPush.receive("error", (e: unknown) => this.shared.joinErrors.push(e));
  }

  private ready(): boolean {
    return this.so.isConnected() && this.ch.state === "joined";
  }

  private attempt(payload: { body: string; nonce: string }): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      const settle = (o: Outcome) => {
        if (this.settle === settle) this.settle = null;
        resolve(o);
      };
      this.settle = settle;
      this.ch
        .push("chat:send", payload, PUSH_TIMEOUT_MS)
        .receive("ok", (r: unknown) => settle({ kind: "ok", response: r }))
        .receive("error", (r: unknown) => settle({ kind: "error", response: r }))
        .receive("timeout", () => settle({ kind: "timeout" }));
    });
  }

  private async waitReady(): Promise<void> {
    if (this.ready()) return;
    await waitFor(`sender ${this.idx} connected and joined`, () => this.ready(), 60_000);
  }

  /** Chats until told to stop; the message in hand is always finished (acked) before it returns. */
  run(): Promise<void> {
    this.done = (async () => {
      let n = 0;
      while (!this.shared.stopping) {
        // After every reconnect: re-send the last acked message with its nonce; the answer must be the first.
        if (this.last && this.probedAtOpen !== this.opens) {
          await this.waitReady();
          const opensNow = this.opens;
          const o = await this.attempt({ body: this.last.body, nonce: this.last.nonce });
          if (o.kind === "lost") continue; // died again: probe on the next connection
          this.probedAtOpen = opensNow;
          this.shared.probes++;
          const want = { status: "published", seq: this.last.seq };
          if (o.kind !== "ok" || JSON.stringify(o.response) !== JSON.stringify(want)) {
            this.shared.probeMismatches.push(`${this.last.nonce}: wanted ${JSON.stringify(want)}, got ${JSON.stringify(o)}`);
          }
        }
        n++;
        const nonce = `s${this.idx}-${n}`;
        const body = `kill ${this.seed} s${this.idx} m${n}`;
        const round = this.shared.round;
        let attempts = 0;
        this.inFlight = true;
        for (;;) {
          if (attempts >= MAX_ATTEMPTS) throw new Error(`sender ${this.idx}: ${nonce} not acked after ${attempts} attempts`);
          await this.waitReady();
          attempts++;
          const o = await this.attempt({ body, nonce });
          if (o.kind === "lost") continue;
          if (o.kind === "timeout") {
            this.shared.timeouts++;
            continue;
          }
          if (o.kind === "error") {
            this.shared.errorReplies.push({ nonce, response: o.response });
            break;
          }
          const ack: Ack = { sender: this.idx, nonce, body, seq: o.response?.seq, attempts, round };
          this.shared.acks.push(ack);
          this.last = ack;
          this.shared.onAck();
          break;
        }
        this.inFlight = false;
      }
    })();
    return this.done;
  }
}

export async function runKillLoop(o: KillLoopOptions): Promise<KillLoopResult> {
  const log = o.log ?? (() => {});
  const rnd = prng(o.seed);
  const dataDir = tempDir("hubbub-kill-");
  const senders: Sender[] = [];
  let server: ServerProcess | null = null;
  try {
    server = await spawnOwnServer({ dataDir });
    const port = server.port;
    const created = await server.api("POST", "/api/v1/streams", {
      slug: SLUG,
      title: "Kill test",
      // Nothing may be refused: the test is about storage, not rules.
      settings: { rate_limit: { messages: 10000, per_s: 1 }, link_policy: "allow" },
    });
    if (created.status !== 201) throw new Error(`create stream: ${created.status} ${JSON.stringify(created.body)}`);

    let firstOpenAt: number | null = null;
    let watchingOpens = false;
    const shared: Shared = {
      stopping: false,
      round: 0,
      roundAcks: 0,
      killAt: 0,
      kill: null,
      onAck: () => {
        // The kill lands right at the chosen ack, while the other senders' writes are at every stage.
        if (++shared.roundAcks === shared.killAt && shared.kill) {
          const k = shared.kill;
          shared.kill = null;
          k();
        }
      },
      onOpen: () => {
        if (watchingOpens && firstOpenAt === null) firstOpenAt = performance.now();
      },
      acks: [],
      errorReplies: [],
      timeouts: 0,
      probes: 0,
      probeMismatches: [],
      joinErrors: [],
    };
    const tokens = await Promise.all(Array.from({ length: o.senders }, (_, i) => server!.token(`killer-${i}`, { name: `Killer ${i}` }, 6 * 3600)));
    for (let i = 0; i < o.senders; i++) senders.push(new Sender(i, server.ws, tokens[i]!, shared, o.seed));
    await Promise.all(senders.map((s) => s.joinFirst()));
    const loops = senders.map((s) => s.run().catch((e) => e as Error));

    const rounds: RoundFigures[] = [];
    const killTimes: number[] = []; // wall clock (ms) of each kill, to date the rows
    for (let r = 1; r <= o.rounds; r++) {
      const x = rnd();
      const killAfterAcks = 1 + Math.floor(x * x * o.maxAcksPerRound);
      let inFlightAtKill = 0;
      let ackedInRound = 0;
      const victim: ServerProcess = server;
      const killed = new Promise<void>((resolve) => {
        shared.kill = () => {
          ackedInRound = shared.roundAcks;
          inFlightAtKill = senders.filter((s) => s.inFlight).length;
          killTimes.push(Date.now());
          victim.proc.kill("SIGKILL");
          resolve();
        };
      });
      shared.killAt = killAfterAcks;
      if (shared.roundAcks >= killAfterAcks) {
        // Already there (the acks of the retry wave came in a burst): kill now.
        const k = shared.kill!;
        shared.kill = null;
        k();
      }
      await Promise.race([
        killed,
        waitFor(`round ${r}: ${killAfterAcks} acks before the kill`, () => shared.kill === null, 60_000),
      ]);
      await server.exitCode;
      shared.round = r;
      shared.roundAcks = 0;
      firstOpenAt = null;
      watchingOpens = true;
      const t0 = performance.now();
      server = await spawnOwnServer({ port, dataDir });
      const restartToReadyMs = performance.now() - t0;
      await waitFor(`round ${r}: a client reconnected`, () => firstOpenAt !== null, 30_000);
      watchingOpens = false;
      const fig: RoundFigures = { round: r, killAfterAcks, ackedInRound, inFlightAtKill, restartToReadyMs, restartToFirstOpenMs: firstOpenAt! - t0 };
      rounds.push(fig);
      log(`round ${r}: killed after ${ackedInRound} acks (${inFlightAtKill} in flight); ready ${restartToReadyMs.toFixed(0)} ms, first connection ${fig.restartToFirstOpenMs.toFixed(0)} ms`);
    }
    // Chat a little on the last server so every retry from the last kill has gone through, then stop.
    await waitFor("acks after the last restart", () => shared.roundAcks >= Math.min(o.senders, 50), 60_000);
    shared.stopping = true;
    const failures = (await Promise.all(loops)).filter((e): e is Error => e instanceof Error);
    if (failures.length) throw failures[0];
    for (const s of senders) s.so.disconnect();
    server.proc.kill("SIGTERM");
    const finalExitCode = await server.exitCode;
    const serverStderr = server.stderr();

    return { ...audit(joinPath(dataDir, "hubbub.sqlite"), shared, killTimes), seed: o.seed, rounds, finalExitCode, serverStderr };
  } finally {
    for (const s of senders) s.so.disconnect();
    if (server) await server.kill();
    removeDir(dataDir);
  }
}

/** Reads the SQLite file after the final clean stop and checks it against every acknowledgement. */
function audit(file: string, shared: Shared, killTimes: number[]) {
  const db = new Database(file, { readonly: true });
  try {
    const integrity = db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all().map((r) => r.integrity_check).join("; ");
    const streamId = db.query<{ id: string }, [string]>("SELECT id FROM streams WHERE slug = ?").get(SLUG)!.id;
    const rows = db.query<{ seq: number; body: string | null; created_at: number }, [string]>("SELECT seq, body, created_at FROM messages WHERE stream_id = ? ORDER BY seq").all(streamId);
    const gaps: Array<{ index: number; seq: number }> = [];
    rows.forEach((r, i) => {
      if (r.seq !== i + 1 && gaps.length < 10) gaps.push({ index: i, seq: r.seq });
    });
    const count = new Map<string | null, number>();
    for (const r of rows) count.set(r.body, (count.get(r.body) ?? 0) + 1);
    const duplicates = [...count].filter(([, n]) => n > 1).map(([b]) => String(b));
    const bySeq = new Map(rows.map((r) => [r.seq, r]));
    const lost = shared.acks.filter((a) => bySeq.get(a.seq)?.body !== a.body);
    const ackedSeqs = new Map<number, number>();
    for (const a of shared.acks) ackedSeqs.set(a.seq, (ackedSeqs.get(a.seq) ?? 0) + 1);
    const seqClashes = [...ackedSeqs].filter(([, n]) => n > 1).map(([s]) => s);
    const unaccounted = rows.filter((r) => !ackedSeqs.has(r.seq)).slice(0, 20).map((r) => ({ seq: r.seq, body: r.body }));
    const nonces = db.query<{ viewer_key: string; nonce: string; answer: string }, [string]>("SELECT viewer_key, nonce, answer FROM chat_nonces WHERE stream_id = ?").all(streamId);
    const ackByNonce = new Map(shared.acks.map((a) => [`killer-${a.sender}\u0000${a.nonce}`, a]));
    const nonceMismatches: string[] = [];
    for (const n of nonces) {
      const a = ackByNonce.get(`${n.viewer_key}\u0000${n.nonce}`);
      const answer = JSON.parse(n.answer);
      if (!a || answer.status !== "published" || answer.seq !== a.seq) nonceMismatches.push(`${n.viewer_key}/${n.nonce}: stored ${n.answer}, acked ${a ? a.seq : "never"}`);
    }
    const retriedAcks = shared.acks.filter((a) => a.attempts > 1);
    // A retried message whose row is older than the kill that interrupted it was stored by its first
    // attempt: the retry then received the first answer from the nonce, and stored nothing.
    const retriedStoredByFirstAttempt = retriedAcks.filter((a) => {
      const row = bySeq.get(a.seq);
      const kill = killTimes[a.round];
      return row !== undefined && kill !== undefined && row.created_at < kill;
    }).length;
    return {
      acks: shared.acks,
      stored: rows.length,
      duplicates,
      gaps,
      lost,
      unaccounted,
      seqClashes,
      integrity,
      nonceRows: nonces.length,
      nonceMismatches,
      retried: retriedAcks.length,
      retriedStoredByFirstAttempt,
      probes: shared.probes,
      probeMismatches: shared.probeMismatches,
      errorReplies: shared.errorReplies,
      timeouts: shared.timeouts,
      joinErrors: shared.joinErrors,
    };
  } finally {
    db.close();
  }
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
