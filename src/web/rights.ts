// The role rules for accounts, shared by the dashboard and the API's dashboard sessions: admins may
// do everything; a creator manages the streams they own; a moderator moderates the streams they are
// assigned to (and a stream's manager moderates it too).
import type { AccountRecord } from "../accounts/index.ts";
import type { StreamRecord, Streams } from "../streams/index.ts";

export function canManage(a: AccountRecord, s: StreamRecord): boolean {
  return a.role === "admin" || (a.role === "creator" && s.owner_id === a.id);
}

export function canModerate(streams: Streams, a: AccountRecord, s: StreamRecord): boolean {
  return canManage(a, s) || streams.isModerator(s.id, a.id);
}
