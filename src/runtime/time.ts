// Clock and time formats. Interfaces speak RFC 3339 UTC with milliseconds; storage keeps epoch ms.
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
export function isoOrNull(ms: number | null | undefined): string | null {
  return ms == null ? null : iso(ms);
}
