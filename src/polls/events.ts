// Polls' names: socket events on `stream:<slug>` and audit actions.
export const POLL_OPEN = "poll:open";
export const POLL_UPDATE = "poll:update";
export const POLL_CLOSE = "poll:close";

export const AUDIT = {
  open: "poll.open",
  close: "poll.close",
} as const;
