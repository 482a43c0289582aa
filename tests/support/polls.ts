// Helpers for the poll tests: opening and reading polls through the API, voting over the official
// phoenix client, and the poll events a recording viewer (tests/support/chat.ts `viewer`) received.
import type { ChatServer, Joined, Viewer } from "./chat.ts";
import { push } from "./phoenix.ts";
import { waitFor } from "./wait.ts";

export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Opens a poll and returns the poll object, or throws with the refusal. */
export async function openPoll(s: ChatServer, slug: string, options: string[] = ["Yes", "No"], duration_s = 1800, question = `Question on ${slug}?`): Promise<any> {
  const r = await s.api("POST", `/api/v1/streams/${slug}/polls`, { question, options, duration_s });
  if (r.status !== 201) throw new Error(`open poll on ${slug}: ${r.status} ${r.text}`);
  return r.body;
}

export async function getPoll(s: ChatServer, id: string): Promise<any> {
  const r = await s.api("GET", `/api/v1/polls/${id}`);
  if (r.status !== 200) throw new Error(`GET poll ${id}: ${r.status} ${r.text}`);
  return r.body;
}

export async function closePoll(s: ChatServer, id: string): Promise<any> {
  const r = await s.api("POST", `/api/v1/polls/${id}/close`);
  if (r.status !== 200) throw new Error(`close poll ${id}: ${r.status} ${r.text}`);
  return r.body;
}

/** `poll:vote`: `{status, response}`; an error response carries `reason`. */
export function vote(j: Joined, pollId: string, option: number | unknown, extra: Record<string, unknown> = {}) {
  return push(j.ch, "poll:vote", { poll_id: pollId, option, ...extra });
}

/** The payloads of one poll event (poll:open, poll:update, poll:close) a viewer received on a topic. */
export function pollEvents(v: Viewer, event: "poll:open" | "poll:update" | "poll:close", topic: string, pollId?: string): any[] {
  return v.frames.filter((f) => f.topic === topic && f.event === event && (pollId === undefined || f.payload?.id === pollId)).map((f) => f.payload);
}

/** Waits for a poll event of that poll matching `pred`, and returns its payload. */
export function waitPollEvent(v: Viewer, event: "poll:open" | "poll:update" | "poll:close", topic: string, pollId: string | undefined, pred: (p: any) => boolean, what: string, timeoutMs = 15_000): Promise<any> {
  return waitFor(what, () => pollEvents(v, event, topic, pollId).find(pred), timeoutMs);
}
