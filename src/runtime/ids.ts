// Ids are strings. UUIDv7 is time-ordered, so ids double as stable cursor keys.
import { randomBytes } from "node:crypto";

export function newId(): string {
  return Bun.randomUUIDv7();
}

/** URL-safe random text for secrets, passwords and keys. */
export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString("base64url");
}
