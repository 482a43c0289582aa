// The moderation hook every message passes before it is stored: publish, hold or block. Chat
// depends on this interface only; src/moderation implements it (the pipeline in worker threads).
import type { Settings } from "../streams/settings.ts";

export interface Decision {
  action: "publish" | "hold" | "block";
  reasons: string[];
  scores: Record<string, number>;
  /** The classification stage could not answer; the pattern stage decided alone. */
  classifierSkipped?: boolean;
  /** A published message's sentiment when the hook scored it (off the socket thread). */
  sentiment?: number;
}

export interface ModerationHook {
  /** `sender` is the viewer id or guest key (copy-paste floods count distinct senders). */
  check(text: string, settings: Settings, ctx: { streamId: string; sender: string }): Decision | Promise<Decision>;
}
