// Per-socket state, kept small on purpose: it lives in ws.data for every open socket, and memory per
// idle viewer is a benchmarked budget (bench/RESULTS.md).
import type { Tap } from "../../analytics/index.ts";
import type { ViewerIdentity } from "../../identity/viewer-token.ts";
import type { Room } from "./room.ts";

export interface Channel {
  topic: string;
  joinRef: string | null;
  room: Room | null; // stream channels
  phxRef: string | null; // presence meta of a signed-in viewer in that room
  session: number; // analytics session of a stream channel (0 for other topics)
  tap: Tap | null; // analytics' handle for this stay, passed back with its events
  /** Joined with `{overlay: true}` (an OBS browser source): receives everything, is no viewer, sends nothing. */
  listener: boolean;
}

/** Joins per socket: a burst for page loads with many topics, then a steady rate. */
export const JOIN_BURST = 120; // above MAX_CHANNELS: a client may join every channel it is allowed at once
export const JOIN_RATE_PER_S = 5;

export class Conn {
  channels: Channel[] = [];
  closing = false;
  // Join rate bucket, inline as two numbers rather than an object: this class is per socket.
  joinTokens = JOIN_BURST;
  joinAt = 0;
  refusals = 0; // rate-limit style refusals in the current flood window
  refusalsSince = 0;
  heardAt = 0; // when the client last sent a frame (the hub's coarse monotonic ms): the idle timeout
  constructor(
    readonly id: number,
    readonly viewer: ViewerIdentity | null,
    readonly ip: string,
  ) {}

  channel(topic: string): Channel | undefined {
    for (const c of this.channels) if (c.topic === topic) return c;
    return undefined;
  }

  get guestName(): string {
    return `guest-${this.id.toString(36)}`;
  }
}
