// The role rules for accounts, shared by the dashboard and the API's dashboard sessions: admins may
// do everything; a creator manages the streams they own; a moderator moderates the streams they are
// assigned to (and a stream's manager moderates it too).
import type { AccountRecord } from "../accounts/index.ts";
import type { StreamRecord, Streams } from "../streams/index.ts";

/** What the rules read of an account (an account actor carries the same). */
export type Holder = Pick<AccountRecord, "id" | "role">;

export function canManage(a: Holder, s: StreamRecord): boolean {
  return a.role === "admin" || (a.role === "creator" && s.owner_id === a.id);
}

export function canModerate(streams: Streams, a: Holder, s: StreamRecord): boolean {
  return canManage(a, s) || streams.isModerator(s.id, a.id);
}

/** The streams an account may see (admins all; others those they own or moderate), in id order after `after`. */
export function* streamsVisibleTo(streams: Streams, a: Holder, after: string | null, scanCap = 100_000): Generator<StreamRecord> {
  const PAGE = 1000;
  for (let scanned = 0; scanned < scanCap; scanned += PAGE) {
    const batch = streams.list(after, PAGE);
    for (const s of batch) if (canModerate(streams, a, s)) yield s;
    if (batch.length < PAGE) return;
    after = batch[batch.length - 1]!.id;
  }
}
