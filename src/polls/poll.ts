// The pure parts of a poll: what a valid new poll is, what a vote needs, and who won.
import { ok, refuse, type Result } from "../errors.ts";
import { cleanText, LIMITS } from "../text.ts";

export const MIN_OPTIONS = 2;
export const MAX_OPTIONS = 5;
export const MIN_DURATION_S = 15;
export const MAX_DURATION_S = 1800;

export interface NewPoll {
  question: string;
  options: string[];
  duration_s: number;
}

export function parseNewPoll(input: unknown): Result<NewPoll> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return refuse("invalid_payload", "send {question, options, duration_s}");
  const b = input as Record<string, unknown>;
  const fields: Record<string, string> = {};
  for (const k of Object.keys(b)) if (k !== "question" && k !== "options" && k !== "duration_s") fields[k] = "unknown field";
  const q = cleanText(b.question, "question", LIMITS.pollQuestion);
  if (!q.ok) fields.question = q.fields?.question ?? q.message;
  const options: string[] = [];
  if (!Array.isArray(b.options) || b.options.length < MIN_OPTIONS || b.options.length > MAX_OPTIONS) {
    fields.options = `${MIN_OPTIONS} to ${MAX_OPTIONS} options`;
  } else {
    b.options.forEach((o, i) => {
      const r = cleanText(o, `options[${i}]`, LIMITS.pollOption);
      if (!r.ok) fields[`options[${i}]`] = `${r.message}`;
      else options.push(r.value);
    });
    if (options.length === b.options.length && new Set(options.map((o) => o.toLocaleLowerCase("en-US"))).size !== options.length) fields.options = "options must differ";
  }
  const d = b.duration_s;
  if (typeof d !== "number" || !Number.isInteger(d) || d < MIN_DURATION_S || d > MAX_DURATION_S) fields.duration_s = `${MIN_DURATION_S} to ${MAX_DURATION_S} seconds`;
  if (Object.keys(fields).length) return refuse("invalid_payload", "invalid poll", { fields });
  return ok({ question: q.ok ? q.value : "", options, duration_s: d as number });
}

/** `poll:vote {poll_id, option}`: shape only; the poll decides the rest. */
export function parseVote(p: Record<string, unknown>): Result<{ pollId: string; option: number }> {
  for (const k of Object.keys(p)) if (k !== "poll_id" && k !== "option") return refuse("invalid_payload", `unknown field ${k.slice(0, 64)}`);
  if (typeof p.poll_id !== "string" || p.poll_id.length === 0 || p.poll_id.length > 64) return refuse("invalid_payload", "poll_id: the poll's id");
  if (typeof p.option !== "number") return refuse("invalid_payload", "option: the 0-based index of an option");
  if (!Number.isInteger(p.option)) return refuse("invalid_option", "option: the 0-based index of an option");
  return ok({ pollId: p.poll_id, option: p.option });
}

/** The option with the most votes; null on a tie for first place (also when nobody voted). */
export function winnerOf(tallies: number[]): number | null {
  let best = -1;
  let at: number | null = null;
  for (let i = 0; i < tallies.length; i++) {
    if (tallies[i]! > best) {
      best = tallies[i]!;
      at = i;
    } else if (tallies[i] === best) at = null;
  }
  return at;
}
