// Refusals in words. `reason` values are the error table of PRODUCT.md.
import { duration } from "./dom.ts";

export type Action = "chat" | "react" | "vote";

export function refusal(action: Action, r: { reason?: string; retry_after_ms?: number } | null | undefined): string {
  const reason = r?.reason ?? "unknown";
  const wait = typeof r?.retry_after_ms === "number" ? duration(r.retry_after_ms) : null;
  switch (reason) {
    case "unauthenticated":
      return action === "chat" ? "Guests can't chat here: sign in on the site you came from." : action === "vote" ? "Guests can't vote here: sign in to vote." : "Guests can't react on this stream.";
    case "chat_closed":
      return "Chat is closed right now.";
    case "banned":
      return "You are banned from this chat. You can keep watching.";
    case "timed_out":
      return wait ? `You are timed out for another ${wait}.` : "You are timed out for now.";
    case "members_only":
      return "Only members can chat right now.";
    case "emote_only":
      return "Emote-only mode: send emoji only.";
    case "empty":
      return "Type a message first.";
    case "too_long":
      return "That message is too long (500 characters at most).";
    case "invalid_text":
      return "That message contains characters that can't be sent.";
    case "invalid_reply":
      return "The message you replied to is gone.";
    case "rate_limited":
      return action === "react" ? "Easy there: too many reactions at once." : `You're sending too fast. Try again${wait ? ` in ${wait}` : " in a moment"}.`;
    case "slow_mode":
      return `Slow mode: you can send again in ${wait ?? "a few seconds"}.`;
    case "duplicate":
      return "You just said that. Say something new.";
    case "blocked":
      return "That message was blocked by the stream's rules.";
    case "not_allowed":
      return "That reaction isn't available here.";
    case "closed":
      return "This poll has closed.";
    case "already_voted":
      return "You already voted in this poll.";
    case "invalid_option":
      return "That option is not in the poll.";
    case "not_found":
      return action === "vote" ? "That poll is gone." : "That message is gone.";
    case "forbidden":
      return "You're not allowed to do that.";
    case "unavailable":
      return "The server couldn't store that. Please try again.";
    case "timeout":
      return "No answer from the server (connection lost?).";
    default:
      return "That could not be sent.";
  }
}
