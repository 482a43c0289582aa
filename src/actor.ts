// Who is acting. Every verb that changes state takes an actor, and audit rows name it.
export type Scope = "streams" | "moderation" | "analytics" | "admin";
export const SCOPES: readonly Scope[] = ["streams", "moderation", "analytics", "admin"];

export type Actor =
  | { type: "account"; id: string; username: string; role: "admin" | "creator" | "moderator" }
  | { type: "api_key"; id: string; name: string; scopes: readonly Scope[] }
  | { type: "viewer"; id: string }
  | { type: "system" };

export const SYSTEM: Actor = { type: "system" };

export function actorId(a: Actor): string | null {
  return a.type === "system" ? null : a.id;
}
