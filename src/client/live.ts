// The page's one socket and its `stream:<slug>` channel, through the official phoenix client.
// Socket params and channel params are functions, so every reconnect carries the newest token and
// every rejoin asks for exactly the chat the page missed ({last_seq, epoch}).
import { Socket, type Channel } from "phoenix";
import type { Identity } from "./identity.ts";

export type ConnState = "connecting" | "live" | "reconnecting" | "gone";

export interface PushResult {
  ok: boolean;
  timeout?: boolean;
  response: any;
}

export interface LiveHandlers {
  /** Every ok join reply: the first and each rejoin's (after the chat recovery fields are applied). */
  joined(reply: any, first: boolean): void;
  state(s: ConnState, detail?: string): void;
}

const POLICY_CLOSE = 1008;
/** Reconnect back-off with jitter: after a restart, thousands of pages should not come back in step. */
const BACKOFF_MS = [100, 250, 500, 1000, 2000, 3000];

export class Live {
  readonly socket: Socket;
  readonly channel: Channel;
  /** The chat position the page holds: sent on every rejoin to get exactly the gap. */
  lastSeq: number | null = null;
  epoch: string | null = null;
  private joinedOnce = false;
  private state: ConnState = "connecting";
  /** Failed connects in a row with a token while the server itself answers: it refuses the token. */
  private tokenFailures = 0;

  /** `listenOnly`: the OBS overlay, which is nobody watching (the server leaves it out of the count). */
  constructor(slug: string, private identity: Identity, private h: LiveHandlers, listenOnly = false) {
    this.socket = new Socket("/socket", {
      params: () => (listenOnly ? {} : identity.params()), // (the server takes an overlay only as a guest)
      heartbeatIntervalMs: 30_000,
      reconnectAfterMs: (tries: number) => (BACKOFF_MS[tries - 1] ?? 5000) * (0.5 + Math.random()),
    });
    this.channel = this.socket.channel(`stream:${slug}`, () => ({
      ...(listenOnly ? { overlay: true } : {}),
      ...(this.lastSeq === null ? {} : { last_seq: this.lastSeq, epoch: this.epoch }),
    }));
    this.socket.onOpen(() => {
      this.tokenFailures = 0;
    });
    this.socket.onClose((e: CloseEvent | undefined) => {
      if (e?.code === POLICY_CLOSE) identity.refused(); // revoked: come back as a guest (or with a fresh token)
      this.lost();
    });
    this.socket.onError(() => {
      this.lost();
      // Browsers hide why an upgrade failed. A token the server refuses (bad signature, revoked)
      // would keep the page out for good, so when the server is up but our connects keep failing,
      // the token goes and the next connect is a guest. A server that is down proves nothing.
      const t = identity.current();
      if (!t || this.socket.isConnected()) return;
      fetch("/readyz", { cache: "no-store" }).then(
        (r) => {
          if (r.ok && identity.current() === t && !this.socket.isConnected() && ++this.tokenFailures >= 2) {
            this.tokenFailures = 0;
            identity.refused();
          }
        },
        () => {},
      );
    });
    this.channel.onError(() => this.lost());
    this.channel
      .join(15_000)
      .receive("ok", (reply: any) => {
        const first = !this.joinedOnce;
        this.joinedOnce = true;
        this.h.joined(reply, first);
        this.epoch = reply.epoch;
        this.lastSeq = reply.seq;
        this.set("live");
      })
      .receive("error", (reply: any) => {
        if (reply?.reason === "not_found") {
          this.channel.leave();
          this.set("gone", "This stream does not exist any more.");
        }
      });
  }

  start(): void {
    this.socket.connect();
  }

  /** A chat:new seen: the next rejoin asks only for what came after it. */
  saw(seq: number): void {
    if (this.lastSeq === null || seq > this.lastSeq) this.lastSeq = seq;
  }

  /** The viewer changed (signed in, out, or another one): a new socket with the new identity. */
  reconnect(): void {
    this.socket.disconnect(() => this.socket.connect());
  }

  on(event: string, fn: (payload: any) => void): void {
    this.channel.on(event, fn);
  }

  push(event: string, payload: object, timeoutMs = 10_000): Promise<PushResult> {
    return new Promise((resolve) => {
      this.channel
        .push(event, payload, timeoutMs)
        .receive("ok", (response: any) => resolve({ ok: true, response }))
        .receive("error", (response: any) => resolve({ ok: false, response }))
        .receive("timeout", () => resolve({ ok: false, timeout: true, response: { reason: "timeout" } }));
    });
  }

  private lost(): void {
    if (this.state === "gone") return;
    this.set(this.joinedOnce ? "reconnecting" : "connecting");
  }

  private set(s: ConnState, detail?: string): void {
    if (this.state === s && detail === undefined) return;
    this.state = s;
    this.h.state(s, detail);
  }
}
