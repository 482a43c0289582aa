// Chat's names: socket events on `stream:<slug>`, personal notice kinds, and audit actions.
export const CHAT_NEW = "chat:new";
export const CHAT_DELETE = "chat:delete";
export const CHAT_CLEAR = "chat:clear";
export const NOTICE = "notice";

export const AUDIT = {
  delete: "moderation.delete",
  clear: "moderation.clear",
  timeout: "moderation.timeout",
  ban: "moderation.ban",
  unban: "moderation.unban",
  hold: "moderation.hold",
  block: "moderation.block",
  approve: "review.approve",
  deny: "review.deny",
  escalate: "review.escalate",
  report: "review.report",
  expire: "review.expire",
  erase: "viewer.erase",
  purge: "chat.purge",
} as const;
